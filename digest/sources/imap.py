"""Newsletters from an IMAP folder over TLS: each message not seen before is read (without marking
it read: BODY.PEEK) and handed on as bytes. The folder is opened read-only.

Every exchange has a total deadline (three times the timeout): connecting with the greeting, login,
folder and search, then each message. A server that trickles its answers a byte at a time passes
every per-read timeout; past the deadline a watchdog shuts the connection down.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore

from digest.errors import FetchError
from digest.sources.safety import AddressPolicy, vetted_addresses, within


class Cutoff:
    """A watchdog that shuts a socket down when the current exchange runs past its deadline; re-armable."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: float | None = None
        self._sock: socket.socket | None = None
        self._closed = False
        self.fired = False
        threading.Thread(target=self._loop, name="imap-deadline", daemon=True).start()

    def arm(self, seconds: float) -> None:
        with self._cond:
            self._due = time.monotonic() + seconds
            self._cond.notify()

    def left(self) -> float:
        with self._cond:
            return max(0.0, self._due - time.monotonic()) if self._due is not None else 0.0

    def attach(self, sock: socket.socket) -> None:
        with self._cond:
            self._sock = sock
            if self.fired:
                self._shut()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _shut(self) -> None:
        if self._sock is not None:
            try:  # the plain socket's shutdown: a TLS socket's own would drop its state under a reader
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                if self._due is None:
                    self._cond.wait()
                    continue
                wait = self._due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self.fired = True
                self._due = None
                self._shut()


class GuardedIMAP(imaplib.IMAP4_SSL):
    """IMAP4 over TLS that connects only to an address the policy allows (checked after DNS), within the cutoff."""

    def __init__(self, host: str, port: int, policy: AddressPolicy, timeout: float, cutoff: Cutoff | None = None) -> None:
        self.policy = policy
        self.cutoff = cutoff
        super().__init__(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)

    def _create_socket(self, timeout: float | None) -> Any:
        error: OSError | None = None
        cutoff = self.cutoff
        lookup = cutoff.left() if cutoff is not None else timeout
        try:
            addresses = within(lookup, lambda: vetted_addresses(self.host, self.port, self.policy), self.host)
        except httpcore.ConnectTimeout as exc:
            raise TimeoutError(str(exc)) from exc
        for address in addresses:
            wait = min(timeout or cutoff.left(), cutoff.left()) if cutoff is not None else timeout
            if wait is not None and wait <= 0:
                raise TimeoutError(f"no connection to {self.host} in time")
            try:
                sock = socket.create_connection((address, self.port), wait)
            except OSError as exc:
                error = exc
                continue
            tls = self.ssl_context.wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)
            if cutoff is not None:
                cutoff.attach(tls)  # shut down past the deadline, the TLS handshake included
            tls.do_handshake()
            return tls
        assert error is not None
        raise error


def parse_imap_url(url: str) -> tuple[str, str, int, str]:
    """(user, host, port, folder) of imaps://user@host[:port]/folder."""
    parts = urlsplit(url)
    try:
        port = parts.port or 993
    except ValueError as exc:
        raise FetchError(url, f"bad port ({exc})") from exc
    if not parts.username or not parts.hostname:
        raise FetchError(url, "write the IMAP source as imaps://user@host/Folder (user and host are needed)")
    return unquote(parts.username), parts.hostname, port, unquote(parts.path.lstrip("/")) or "INBOX"


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_imap(
    url: str,
    password: str | None,
    is_known: Callable[[str], bool],
    policy: AddressPolicy,
    timeout: float,
    max_bytes: int,
) -> Iterator[tuple[str, bytes]]:
    """Yield (key, message bytes) of every message of the folder whose key `is_known` does not know.

    The key is `uid:UIDVALIDITY:UID`, so known messages are never downloaded again. Raises FetchError.
    """
    user, host, port, folder = parse_imap_url(url)
    if password is None:
        raise FetchError(url, "no password: add password = \"...\" to this [[sources]] block")
    deadline = timeout * 3
    cutoff = Cutoff()
    cutoff.arm(deadline)  # connect, greeting, login, folder and search
    late = f"no complete answer within {deadline:g} s; cut off"
    try:
        conn = GuardedIMAP(host, port, policy, timeout, cutoff)
    except (OSError, imaplib.IMAP4.error) as exc:
        cutoff.close()
        raise FetchError(url, late if cutoff.fired else f"cannot connect over TLS ({exc})") from exc
    try:
        conn.login(user, password)
        typ, _ = conn.select(_quoted(folder), readonly=True)
        if typ != "OK":
            raise FetchError(url, f"no folder {folder!r} on the server")
        validity = (conn.response("UIDVALIDITY")[1] or [b"0"])[0]
        validity = validity.decode() if isinstance(validity, bytes) else str(validity)
        typ, found = conn.uid("SEARCH", "ALL")
        uids = found[0].split() if typ == "OK" and found and found[0] else []
        for uid in uids:
            key = f"uid:{validity}:{uid.decode()}"
            if is_known(key):
                continue
            cutoff.arm(deadline)  # each message has the whole deadline to itself
            typ, data = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            message = next((part[1] for part in data if isinstance(part, tuple)), None) if typ == "OK" else None
            if message is not None and len(message) <= max_bytes:
                yield key, message
    except imaplib.IMAP4.error as exc:
        raise FetchError(url, late if cutoff.fired else f"the IMAP server said: {exc}") from exc
    except OSError as exc:
        raise FetchError(url, late if cutoff.fired else f"connection lost ({exc})") from exc
    finally:
        try:
            if cutoff.fired:
                conn.shutdown()
            else:
                cutoff.arm(timeout)  # a polite LOGOUT, but no waiting on it
                conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
        finally:
            cutoff.close()
