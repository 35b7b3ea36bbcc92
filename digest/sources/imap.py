"""Newsletters from an IMAP folder over TLS: each message not seen before is read (without marking
it read: BODY.PEEK) and handed on as bytes. The folder is opened read-only.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from digest.errors import FetchError
from digest.sources.safety import AddressPolicy, vetted_addresses


class GuardedIMAP(imaplib.IMAP4_SSL):
    """IMAP4 over TLS that connects only to an address the policy allows (checked after DNS)."""

    def __init__(self, host: str, port: int, policy: AddressPolicy, timeout: float) -> None:
        self.policy = policy
        super().__init__(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)

    def _create_socket(self, timeout: float | None) -> Any:
        error: OSError | None = None
        for address in vetted_addresses(self.host, self.port, self.policy):
            try:
                sock = socket.create_connection((address, self.port), timeout)
            except OSError as exc:
                error = exc
                continue
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
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
    try:
        conn = GuardedIMAP(host, port, policy, timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise FetchError(url, f"cannot connect over TLS ({exc})") from exc
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
            typ, data = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            message = next((part[1] for part in data if isinstance(part, tuple)), None) if typ == "OK" else None
            if message is not None and len(message) <= max_bytes:
                yield key, message
    except imaplib.IMAP4.error as exc:
        raise FetchError(url, f"the IMAP server said: {exc}") from exc
    except OSError as exc:
        raise FetchError(url, f"connection lost ({exc})") from exc
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
