"""Deliver a rendered message by SMTP, one message per recipient, with an outcome per recipient.

Each recipient gets their own copy (their address alone in To:), in its own SMTP transaction of one
session, so a refusal or a lost reply concerns that reader only. Outcomes:

    sent       the server answered 2xx to the end of DATA
    refused    a 5xx reply: permanent, never retried
    deferred   a 4xx reply, or the session broke before the message's content went out: retry later
    unknown    the content went out but no reply came (timeout, dropped connection, deadline, signal):
               the server may have kept it, so it is retried only a bounded number of times

The reply to the end of DATA is awaited `smtp_data_timeout` seconds (RFC 5321 4.5.3.2.6: 10
minutes); every session has an overall deadline, `smtp_session_timeout`, so a server that trickles
`220-` lines cannot hold a run forever. Errors that stop a whole session before any message goes out
become DeliveryError, or TransientDeliveryError when a later retry may succeed. Error messages
never contain the password.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import make_msgid, parseaddr
from typing import Literal, NoReturn, cast

from digest.errors import ConfigError, DeliveryError, PartialDeliveryError, TransientDeliveryError
from digest.settings import Settings

Outcome = Literal["sent", "refused", "deferred", "unknown"]


@dataclass(frozen=True)
class RecipientResult:
    """What became of one recipient's copy in one attempt."""

    address: str
    outcome: Outcome
    reply: str = ""  # the server's reply, or what went wrong


def message_id_of(message: bytes) -> str:
    """Return the Message-ID header of a raw message. Raises DeliveryError if it has none."""
    headers = BytesHeaderParser(policy=default).parsebytes(message)
    value = str(headers.get("Message-ID", "") or "").strip()
    if not value:
        raise DeliveryError("the message has no Message-ID header; render it again with digest.render")
    return value


_ADDRESS_HEADERS = re.compile(rb"^(to|cc|bcc):", re.IGNORECASE)


def addressed_to(message: bytes, address: str) -> bytes:
    """Return `message` with one `To:` header naming `address` alone (no Cc/Bcc); the body is untouched."""
    message = re.sub(rb"(?<!\r)\n", b"\r\n", message)
    head, sep, body = message.partition(b"\r\n\r\n")
    lines: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):  # a folded continuation belongs to the header above it
            if not skipping:
                lines.append(line)
            continue
        skipping = bool(_ADDRESS_HEADERS.match(line))
        if not skipping:
            lines.append(line)
    to = b"To: " + address.encode("utf-8")
    return b"\r\n".join([to, *lines]) + (sep or b"\r\n\r\n") + body


def test_message(message: bytes, settings: Settings) -> bytes:
    """Return a fresh test copy of a digest's message: "[test]" subject and a Message-ID of its own."""
    msg = message_from_bytes(message, policy=default)
    subject = str(msg.get("Subject", "") or "")
    domain = parseaddr(settings.mail_from or "")[1].rpartition("@")[2] or "digest.localhost"
    for name in ("Subject", "Message-ID", "To", "Cc", "Bcc"):
        del msg[name]
    if settings.mail_from:  # a digest rendered before SMTP was configured has no From: of its own
        del msg["From"]
        msg["From"] = settings.mail_from
    msg["Subject"] = f"[test] {subject}".strip()
    msg["Message-ID"] = make_msgid("digest-test", domain=domain)
    return msg.as_bytes()


def password(settings: Settings) -> str | None:
    """Return the SMTP password: `smtp_password`, else the Prefect Secret block `smtp_password_block`, else None.

    The one place the password is resolved. A Secret block lives in Prefect's store, so Prefect is
    imported here only when such a block is named (never for a password given in the settings).
    """
    if settings.smtp_password is not None:
        return settings.smtp_password.get_secret_value()
    if settings.smtp_password_block:
        from prefect.blocks.system import Secret

        secret: Secret = Secret.load(settings.smtp_password_block)  # type: ignore[assignment]  # sync call
        return str(secret.get())
    return None


def _secrets(user: str | None, password: str | None) -> list[str]:
    """Return every form in which the password could leak into a server reply or exception."""
    if not password:
        return []
    forms = [password, base64.b64encode(password.encode()).decode()]
    if user:
        forms.append(base64.b64encode(f"\0{user}\0{password}".encode()).decode())
    return [f for f in forms if f]


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"


class Deadline:
    """A session's overall deadline; `cut` brings it forward (a signal asks the run to stop)."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.seconds = seconds
        self.why = f"the SMTP session passed its deadline of {seconds:g} s (smtp_session_timeout)"
        self.passed = False

    def cut(self, seconds: float, why: str) -> None:
        """End the session at the latest `seconds` from now, for the reason `why`."""
        at = time.monotonic() + seconds
        if at < self.at:
            self.at, self.why = at, why


@contextmanager
def _watchdog(client: smtplib.SMTP, deadline: Deadline) -> Iterator[None]:
    """Shut the session's socket down when the deadline passes, whatever call is blocked on it."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            if time.monotonic() >= deadline.at:
                deadline.passed = True
                sock = client.sock
                if sock is not None:
                    try:  # the plain socket's shutdown, also under TLS: wakes a blocked read at once
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    thread = threading.Thread(target=watch, name="smtp-deadline", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def ssl_context_for(settings: Settings) -> ssl.SSLContext:
    """Return the context that verifies the server: the system CAs, or `smtp_ca_file` when set."""
    if settings.smtp_ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(settings.smtp_ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot read smtp_ca_file {settings.smtp_ca_file} ({getattr(exc, 'strerror', None) or exc}); "
            "give the path of a PEM file holding your CA's certificate"
        ) from exc


def _classify(exc: BaseException, where: str, deadline: Deadline) -> DeliveryError:
    """Turn an smtplib/socket/ssl exception into DeliveryError or TransientDeliveryError."""
    if deadline.passed:
        return TransientDeliveryError(f"{where}: {deadline.why}")
    if isinstance(exc, smtplib.SMTPResponseException):
        cls = TransientDeliveryError if 400 <= exc.smtp_code < 500 else DeliveryError
        kind = "rejected the login" if isinstance(exc, smtplib.SMTPAuthenticationError) else "refused"
        hint = "; check smtp_user and the password" if isinstance(exc, smtplib.SMTPAuthenticationError) else ""
        return cls(f"{where} {kind}: {_reply(exc.smtp_code, exc.smtp_error)}{hint}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{where}: {exc}; the server does not offer it, try another smtp_security")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientDeliveryError(f"{where} closed the connection unexpectedly ({exc})")
    # SSLError is an OSError: test it first, a certificate or protocol problem will not go away by itself
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
        return DeliveryError(
            f"TLS with {where} failed ({reason}); check smtp_security, and smtp_ca_file for a private CA"
        )
    if isinstance(exc, socket.gaierror):
        cls = TransientDeliveryError if exc.errno == socket.EAI_AGAIN else DeliveryError
        return cls(f"cannot resolve {where} ({exc.strerror}); check smtp_host")
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError(f"{where} timed out; retry later or raise smtp_timeout")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"cannot talk to {where} ({exc.strerror or exc})")
    return DeliveryError(f"{where}: {exc}")


def _secret(settings: Settings, given: str | None) -> str | None:
    """Check the server settings; return the password (`given`, else the settings' own)."""
    if not settings.smtp_host:
        raise ConfigError("smtp_host is not set; set it in digest.toml ([smtp] host = ...) or DIGEST_SMTP_HOST")
    secret = given if given is not None else password(settings)
    if settings.smtp_user and not secret:
        raise ConfigError("smtp_user is set but no password was given; set DIGEST_SMTP_PASSWORD or a secret block")
    return secret


# what breaks a header or an SMTP command line: controls (CR, LF, NUL...) and the Unicode line separators
_BREAKS_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u0085\ufeff]")
# what a bare envelope address never holds besides: whitespace, and what ends an address or starts another
_NOT_IN_ADDRESS = re.compile(r"[\s<>,;:()\[\]\\\"]")


def address_problem(address: str, bare: bool = True) -> str:
    """Return why `address` cannot go into an SMTP command or a header as it is ('' when it can).

    `bare`: a recipient's address alone; otherwise a From: with a display name ("Desk <desk@paper.example>").
    """
    bad = _BREAKS_LINE.search(address) or (_NOT_IN_ADDRESS.search(address) if bare else None)
    if bad:
        return f"it holds {bad.group()!r}, which could end the header or command it goes into"
    local, at, domain = (address if bare else parseaddr(address)[1]).rpartition("@")
    if not (at and local and domain) or "." in (domain[:1], domain[-1:]) or ".." in domain:
        return "it is not of the form name@domain"
    return ""


def check_addresses(settings: Settings, recipients: Sequence[str]) -> None:
    """Refuse, at send time too, an address that could break a header or an SMTP command (defence in depth:
    settings validate addresses when they load, but a caller may pass its own)."""
    problems = [("mail_from", settings.mail_from or "", address_problem(settings.mail_from or "", bare=False))]
    problems += [("mail_to", a, address_problem(a)) for a in recipients]
    for name, address, problem in problems:
        if problem:
            raise ConfigError(f"{name} address {address!r} refused: {problem}; give a plain address such as "
                              "news@example.com")


def _check(settings: Settings, recipients: Sequence[str], given: str | None) -> str | None:
    secret = _secret(settings, given)
    if not recipients:
        raise ConfigError("mail_to is empty; set it in digest.toml or DIGEST_MAIL_TO (comma-separated)")
    if not settings.mail_from:
        raise ConfigError("mail_from is not set; set it in digest.toml or DIGEST_MAIL_FROM, e.g. digest@example.com")
    check_addresses(settings, recipients)
    return secret


class ServerName:
    """An SSL context that always names the configured server (the name its certificate must carry).

    smtplib passes the host given to its constructor as the server name, but a host given there is
    connected to at once, before the session's watchdog can guard the greeting; so the client is made
    without one and the name comes from here, through SSLContext.wrap_socket's public argument.
    """

    def __init__(self, context: ssl.SSLContext, host: str) -> None:
        self.context, self.host = context, host

    def wrap_socket(self, sock: socket.socket, server_hostname: str | None = None) -> ssl.SSLSocket:
        return self.context.wrap_socket(sock, server_hostname=self.host)


@contextmanager
def session(settings: Settings, secret: str | None, context: ssl.SSLContext, deadline: Deadline) -> Iterator[smtplib.SMTP]:
    """The one SMTP client set-up: connect, EHLO, TLS or STARTTLS and login, all under the session's deadline.

    Yields the logged-in client and says QUIT when done; raises smtplib's, socket's or ssl's errors
    (see `_classify`) when the set-up fails.
    """
    named = cast(ssl.SSLContext, ServerName(context, settings.smtp_host or ""))
    client: smtplib.SMTP = (
        smtplib.SMTP_SSL(timeout=settings.smtp_timeout, context=named)
        if settings.smtp_security == "tls"
        else smtplib.SMTP(timeout=settings.smtp_timeout)
    )
    with _watchdog(client, deadline):
        try:
            code, reply = client.connect(settings.smtp_host or "", settings.port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, reply)
            client.ehlo()
            if settings.smtp_security == "starttls":
                client.starttls(context=named)
                client.ehlo()
            if settings.smtp_user:
                client.login(settings.smtp_user, secret or "")
        except BaseException:
            client.close()
            raise
        try:
            yield client
        finally:
            _quit(client)


def _raise_scrubbed(failure: BaseException, where: str, deadline: Deadline, secrets: list[str]) -> NoReturn:
    """Raise the DeliveryError for a failed session, with no form of the password in it."""
    error = _classify(failure, where, deadline)
    leaks = any(s in f"{failure!s} {failure!r}" for s in secrets)
    raise type(error)(_scrub(str(error), secrets)) from (None if leaks else failure)


def send_each(
    message: bytes,
    settings: Settings,
    recipients: Sequence[str],
    password: str | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
    deadline: Deadline | None = None,
    before_data: Callable[[str], None] = lambda address: None,
    after: Callable[[RecipientResult], None] = lambda result: None,
) -> list[RecipientResult]:
    """Send each recipient their own copy of `message` in one SMTP session; return an outcome per recipient.

    `before_data(address)` runs just before a copy's content goes out (record it as being sent),
    `after(result)` as soon as its outcome is known. `password` defaults to the settings' (see
    `password`); `ssl_context` to the system CAs (or smtp_ca_file); `deadline` to
    smtp_session_timeout from now. Raises ConfigError (no host, recipients or password), and
    DeliveryError or TransientDeliveryError when the session fails before any copy's content went
    out; a session that breaks later gives the rest of the recipients `deferred`.
    """
    secret = _check(settings, recipients, password)
    where = f"SMTP server {settings.smtp_host}:{settings.port}"
    secrets = _secrets(settings.smtp_user, secret)
    deadline = deadline or Deadline(settings.smtp_session_timeout)
    results: list[RecipientResult] = []

    def settle(result: RecipientResult) -> None:
        result = RecipientResult(result.address, result.outcome, _scrub(result.reply, secrets))
        results.append(result)
        after(result)

    failure: BaseException | None = None
    try:
        with session(settings, secret, ssl_context or ssl_context_for(settings), deadline) as client:
            for address in recipients:
                settle(_transaction(client, settings, address, message, where, deadline, before_data))
                if deadline.passed or client.sock is None:  # smtplib closes a broken session
                    break
    except (smtplib.SMTPException, OSError) as exc:  # the set-up failed, or the session broke between transactions
        failure = exc
    if failure is not None and not results:
        # raised outside the except block so a password-bearing exception is not even kept as __context__
        _raise_scrubbed(failure, where, deadline, secrets)
    done = {r.address for r in results}
    why = str(_classify(failure, where, deadline)) if failure else (deadline.why if deadline.passed else "the session broke")
    for address in recipients:
        if address not in done:
            settle(RecipientResult(address, "deferred", f"not tried: {why}"))
    return results


def _transaction(
    client: smtplib.SMTP,
    settings: Settings,
    address: str,
    message: bytes,
    where: str,
    deadline: Deadline,
    before_data: Callable[[str], None],
) -> RecipientResult:
    """Send one copy to `address` (MAIL, RCPT, DATA); every reply becomes this recipient's outcome."""
    try:
        for command in ("mail", "rcpt", "data"):
            if command == "mail":
                code, reply = client.mail(settings.mail_from or "")
            elif command == "rcpt":
                code, reply = client.rcpt(address)
            else:
                code, reply = client.docmd("DATA")
            if code not in {"mail": (250,), "rcpt": (250, 251), "data": (354,)}[command]:
                _reset(client)
                return _refusal(address, code, reply, where)
    except (smtplib.SMTPException, OSError) as exc:
        error = _classify(exc, where, deadline)
        return RecipientResult(address, "deferred", f"{error}; the message was not sent")
    before_data(address)
    payload = re.sub(rb"(?m)^\.", b"..", addressed_to(message, address))  # RFC 5321 4.5.2 dot-stuffing
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    try:
        client.send(payload + b".\r\n")
    except (smtplib.SMTPException, OSError) as exc:
        # the end-of-data mark never went out whole: the server cannot have accepted it
        error = _classify(exc, where, deadline)
        return RecipientResult(address, "deferred", f"{error}; the message was not sent")
    try:
        if client.sock is not None:
            client.sock.settimeout(settings.smtp_data_timeout)
        code, reply = client.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        why = deadline.why if deadline.passed else str(_classify(exc, where, deadline))
        return RecipientResult(address, "unknown", f"no reply after the message was sent ({why})")
    finally:
        if client.sock is not None:
            try:
                client.sock.settimeout(settings.smtp_timeout)
            except OSError:
                pass
    if 200 <= code < 300:
        return RecipientResult(address, "sent", _reply(code, reply))
    return _refusal(address, code, reply, where)


def _refusal(address: str, code: int, reply: bytes, where: str) -> RecipientResult:
    if code == -1:  # smtplib's "connection closed" reply
        return RecipientResult(address, "deferred", f"{where} closed the connection; the message was not sent")
    return RecipientResult(address, "deferred" if 400 <= code < 500 else "refused", _reply(code, reply))


def _reset(client: smtplib.SMTP) -> None:
    try:
        client.rset()
    except (smtplib.SMTPException, OSError):
        pass


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()  # every outcome is already settled; a lost QUIT changes nothing


def probe(settings: Settings, password: str | None = None, *, ssl_context: ssl.SSLContext | None = None) -> str:
    """Connect, EHLO, STARTTLS and log in as `send_each` would, but send nothing; return what was checked.

    Raises ConfigError (no host, user without password), DeliveryError or TransientDeliveryError.
    """
    secret = _secret(settings, password)
    where = f"SMTP server {settings.smtp_host}:{settings.port}"
    deadline = Deadline(settings.smtp_session_timeout)
    failure: BaseException | None = None
    try:
        with session(settings, secret, ssl_context or ssl_context_for(settings), deadline):
            pass
    except (smtplib.SMTPException, OSError) as exc:
        failure = exc
    if failure is not None:
        _raise_scrubbed(failure, where, deadline, _secrets(settings.smtp_user, secret))
    steps = ["EHLO", {"tls": "TLS", "starttls": "STARTTLS", "none": "no TLS"}[settings.smtp_security]]
    steps += [f"AUTH as {settings.smtp_user}"] if settings.smtp_user else []
    return f"{settings.smtp_host}:{settings.port} answered {', '.join(steps)}"


def send(
    message: bytes,
    settings: Settings,
    password: str | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
    recipients: Sequence[str] | None = None,
) -> None:
    """Send `message` to each of `recipients` (default settings.mail_to), one copy each.

    Raises ConfigError (no host or recipients), TransientDeliveryError (every copy deferred: 4xx,
    dropped connection, timeout), PartialDeliveryError (some copies sent, others not) or
    DeliveryError (refused, failed login, TLS failure, outcome unknown).
    """
    to = list(recipients if recipients is not None else settings.mail_to)
    results = send_each(message, settings, to, password, ssl_context=ssl_context)
    problems = [r for r in results if r.outcome != "sent"]
    if not problems:
        return
    detail = "; ".join(f"{r.address}: {r.outcome}: {r.reply}" for r in problems)
    if len(problems) < len(results):
        raise PartialDeliveryError(f"delivered, but not to every recipient ({detail})")
    if all(r.outcome == "deferred" for r in problems):
        raise TransientDeliveryError(f"not delivered ({detail})")
    raise DeliveryError(f"not delivered ({detail})")
