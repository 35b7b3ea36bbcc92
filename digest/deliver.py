"""Deliver a rendered message by SMTP (plain, STARTTLS or implicit TLS, optional login).

Every failure becomes DeliveryError, or TransientDeliveryError when a later retry may succeed (4xx
replies, dropped connections, timeouts). Error messages never contain the password.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import default
from typing import TypeVar

from digest.errors import ConfigError, DeliveryError, PartialDeliveryError, TransientDeliveryError
from digest.settings import Settings

T = TypeVar("T")


def message_id_of(message: bytes) -> str:
    """Return the Message-ID header of a raw message. Raises DeliveryError if it has none."""
    headers = BytesHeaderParser(policy=default).parsebytes(message)
    value = str(headers.get("Message-ID", "") or "").strip()
    if not value:
        raise DeliveryError("the message has no Message-ID header; render it again with digest.render")
    return value


def _password(settings: Settings, password: str | None) -> str | None:
    if password is not None:
        return password
    if settings.smtp_password is not None:
        return settings.smtp_password.get_secret_value()
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


def _classify(exc: Exception, where: str) -> DeliveryError:
    """Turn an smtplib/socket/ssl exception into DeliveryError or TransientDeliveryError."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{rcpt}: {_reply(code, msg)}" for rcpt, (code, msg) in exc.recipients.items())
        cls = TransientDeliveryError if codes and all(400 <= c < 500 for c in codes) else DeliveryError
        return cls(f"{where} refused every recipient ({detail})")
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
        return DeliveryError(f"TLS with {where} failed ({reason}); check smtp_security and the server's certificate")
    if isinstance(exc, socket.gaierror):
        cls = TransientDeliveryError if exc.errno == socket.EAI_AGAIN else DeliveryError
        return cls(f"cannot resolve {where} ({exc.strerror}); check smtp_host")
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError(f"{where} timed out; retry later or raise smtp_timeout")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"cannot talk to {where} ({exc.strerror or exc})")
    return DeliveryError(f"{where}: {exc}")


def send(
    message: bytes,
    settings: Settings,
    password: str | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send `message` to settings.mail_to from settings.mail_from through settings.smtp_host.

    `password` (default: settings.smtp_password) is used to log in when settings.smtp_user is set.
    `ssl_context` replaces the default context that verifies against the system CAs.
    Raises ConfigError (no host or recipients), TransientDeliveryError (4xx reply, dropped
    connection, timeout) or DeliveryError (5xx reply, failed login, TLS failure, some recipients refused).
    """
    if settings.smtp_host and not settings.mail_to:
        raise ConfigError("mail_to is empty; set it in digest.toml or DIGEST_MAIL_TO (comma-separated)")
    if settings.smtp_host and not settings.mail_from:
        raise ConfigError("mail_from is not set; set it in digest.toml or DIGEST_MAIL_FROM, e.g. digest@example.com")
    _session(settings, password, lambda secret: _transmit(message, settings, secret, ssl_context))


def probe(settings: Settings, password: str | None = None, *, ssl_context: ssl.SSLContext | None = None) -> str:
    """Connect, EHLO, STARTTLS and log in as `send` would, but send nothing; return what was checked.

    Raises ConfigError (no host, user without password), DeliveryError or TransientDeliveryError.
    """

    def hello(secret: str | None) -> str:
        _open(settings, secret, ssl_context).quit()
        steps = ["EHLO", {"tls": "TLS", "starttls": "STARTTLS", "none": "no TLS"}[settings.smtp_security]]
        steps += [f"AUTH as {settings.smtp_user}"] if settings.smtp_user else []
        return f"{settings.smtp_host}:{settings.port} answered {', '.join(steps)}"

    return _session(settings, password, hello)


def _session(settings: Settings, password: str | None, action: Callable[[str | None], T]) -> T:
    """Run `action(password)` against the SMTP server, turning failures into digest's errors, password scrubbed."""
    if not settings.smtp_host:
        raise ConfigError("smtp_host is not set; set it in digest.toml ([smtp] host = ...) or DIGEST_SMTP_HOST")
    secret = _password(settings, password)
    if settings.smtp_user and not secret:
        raise ConfigError("smtp_user is set but no password was given; set DIGEST_SMTP_PASSWORD or a secret block")
    where = f"SMTP server {settings.smtp_host}:{settings.port}"
    secrets = _secrets(settings.smtp_user, secret)
    try:
        return action(secret)
    except (smtplib.SMTPException, OSError) as exc:
        failure = exc
    # raised outside the except block so a password-bearing exception is not even kept as __context__
    error = _classify(failure, where)
    leaks = any(s in f"{failure!s} {failure!r}" for s in secrets)
    raise type(error)(_scrub(str(error), secrets)) from (None if leaks else failure)


def _open(settings: Settings, password: str | None, context: ssl.SSLContext | None) -> smtplib.SMTP:
    """Connect, EHLO, STARTTLS when configured and log in when a user is set; return the client."""
    host, port, timeout = settings.smtp_host or "", settings.port, settings.smtp_timeout
    context = context or ssl.create_default_context()
    client: smtplib.SMTP
    if settings.smtp_security == "tls":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        client.ehlo()
        if settings.smtp_security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.smtp_user:
            client.login(settings.smtp_user, password or "")
    except BaseException:
        client.close()
        raise
    return client


def _transmit(message: bytes, settings: Settings, password: str | None, context: ssl.SSLContext | None) -> None:
    client = _open(settings, password, context)
    try:
        refused = client.sendmail(settings.mail_from or "", list(settings.mail_to), message)
        if refused:
            # some recipients got it: not transient, since a retry would deliver twice to the others
            detail = "; ".join(f"{rcpt}: {_reply(code, msg)}" for rcpt, (code, msg) in refused.items())
            raise PartialDeliveryError(f"delivered, but the server refused some recipients ({detail})")
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()  # the message is already accepted (or already failed); a lost QUIT changes nothing
