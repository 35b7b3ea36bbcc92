"""Deliver: a real aiosmtpd server on 127.0.0.1 (plain, STARTTLS, implicit TLS, AUTH) and servers that refuse or drop."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.net import free_port
from support.smtp import Behaviour, faulty_smtp, port_of
from test_render import make_digest

from digest import render
from digest.delivery import smtp as deliver
from digest.errors import ConfigError, DeliveryError, TransientDeliveryError
from digest.settings import Settings

# the tests log in over plain SMTP on purpose; aiosmtpd warns about it
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

USER = "editor"
PASSWORD = "s3cr3t-Pa55-word"


class Inbox:
    """aiosmtpd handler that records envelopes, or refuses recipients / data with a fixed reply."""

    def __init__(self, rcpt_reply: Callable[[str], str | None] = lambda _: None, data_reply: str | None = None) -> None:
        self.received: list[Envelope] = []
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:
        reply = self.rcpt_reply(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append(envelope)
        return "250 Message accepted"


def check_login(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: let the server send 535 itself



@contextmanager
def smtp_server(handler: Inbox, **kw: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def raw_server(script: Callable[[socket.socket], None]) -> Iterator[int]:
    """Run a one-connection TCP server that plays `script` on the accepted socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            script(conn)
            done.wait(10)  # keep the socket open (or closed) until the client has finished

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        done.set()
        listener.close()
        thread.join(5)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Write a self-signed certificate for localhost/127.0.0.1 and its key; return (cert, key)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    return ctx


@pytest.fixture(scope="module")
def client_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert[0]))


@pytest.fixture(scope="module")
def rendered() -> render.Rendered:
    return render.render(make_digest(2), settings(0))


def settings(port: int, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout": 5.0,
        "mail_from": "digest@news.example",
        "mail_to": ["a@example.org", "b@example.net"],
    }
    base.update(kw)
    return Settings(**base)


def assert_no_secret(exc: BaseException) -> None:
    seen: BaseException | None = exc
    while seen is not None:
        assert PASSWORD not in str(seen) and PASSWORD not in repr(seen)
        seen = seen.__cause__ or seen.__context__


def check_received(received: list[Envelope], rendered: render.Rendered) -> None:
    """One copy per recipient, each naming its reader alone in To:, else the rendered message."""
    assert [e.rcpt_tos for e in received] == [["a@example.org"], ["b@example.net"]]
    for envelope in received:
        check_copy(envelope, rendered)


def check_copy(envelope: Envelope, rendered: render.Rendered) -> None:
    assert envelope.mail_from == "digest@news.example"
    msg = email.message_from_bytes(envelope.original_content or b"", policy=default)
    assert msg.get_all("To") == envelope.rcpt_tos and msg["Cc"] is None and msg["Bcc"] is None
    assert msg["Message-ID"] == rendered.message_id == deliver.message_id_of(rendered.eml)
    assert msg["Subject"] == rendered.subject
    assert msg.get_content_type() == "multipart/alternative"
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in leaves] == ["text/plain", "text/html"]
    assert leaves[0].get_content().replace("\r\n", "\n") == rendered.text
    assert leaves[1].get_content().replace("\r\n", "\n") == rendered.html


def test_plain_delivery(rendered: render.Rendered) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        deliver.send(rendered.eml, settings(port))
    check_received(inbox.received, rendered)


def test_starttls_with_login(rendered: render.Rendered, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls, require_starttls=True, authenticator=check_login, auth_required=True) as port:
        deliver.send(rendered.eml, settings(port, smtp_security="starttls", smtp_user=USER), PASSWORD, ssl_context=client_tls)
    check_received(inbox.received, rendered)


def test_implicit_tls_with_password_from_settings(
    rendered: render.Rendered, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    inbox = Inbox()
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls, so relax it for implicit TLS
    with smtp_server(inbox, ssl_context=server_tls, authenticator=check_login, auth_required=True, auth_require_tls=False) as port:
        deliver.send(rendered.eml, settings(port, smtp_security="tls", smtp_user=USER, smtp_password=PASSWORD), ssl_context=client_tls)
    check_received(inbox.received, rendered)


def test_starttls_verifies_against_system_cas_by_default(rendered: render.Rendered, server_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls, require_starttls=True) as port:
        with pytest.raises(DeliveryError, match="TLS") as info:
            deliver.send(rendered.eml, settings(port, smtp_security="starttls"))
    assert not isinstance(info.value, TransientDeliveryError)
    assert inbox.received == []


def test_starttls_required_but_not_offered(rendered: render.Rendered) -> None:
    with smtp_server(Inbox()) as port:
        with pytest.raises(DeliveryError, match="STARTTLS") as info:
            deliver.send(rendered.eml, settings(port, smtp_security="starttls"))
    assert not isinstance(info.value, TransientDeliveryError)


def test_plain_client_refused_by_a_server_that_requires_starttls(rendered: render.Rendered, server_tls: ssl.SSLContext) -> None:
    with smtp_server(Inbox(), tls_context=server_tls, require_starttls=True) as port:
        with pytest.raises(DeliveryError, match="530") as info:
            deliver.send(rendered.eml, settings(port))
    assert not isinstance(info.value, TransientDeliveryError)


def test_wrong_password_is_a_permanent_error_without_the_password(rendered: render.Rendered) -> None:
    inbox = Inbox()
    wrong = PASSWORD + "-wrong"
    with smtp_server(inbox, authenticator=check_login, auth_required=True, auth_require_tls=False) as port:
        with pytest.raises(DeliveryError, match="login") as info:
            deliver.send(rendered.eml, settings(port, smtp_user=USER), wrong)
    assert not isinstance(info.value, TransientDeliveryError)
    assert "535" in str(info.value)
    assert wrong not in str(info.value) and PASSWORD not in str(info.value)
    assert inbox.received == []


def test_a_server_reply_that_echoes_the_password_is_scrubbed(rendered: render.Rendered) -> None:
    inbox = Inbox(data_reply=f"554 5.7.1 rejected, your password is {PASSWORD}")
    with smtp_server(inbox, authenticator=check_login, auth_required=True, auth_require_tls=False) as port:
        with pytest.raises(DeliveryError) as info:
            deliver.send(rendered.eml, settings(port, smtp_user=USER), PASSWORD)
    assert "554" in str(info.value) and "***" in str(info.value)
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    ("rcpt", "data", "transient"),
    [
        ("450 4.2.1 mailbox busy", None, True),
        ("550 5.1.1 no such user", None, False),
        (None, "451 4.3.0 try again later", True),
        (None, "554 5.7.1 message refused", False),
    ],
)
def test_refusals_are_classified_by_reply_code(rendered: render.Rendered, rcpt: str | None, data: str | None, transient: bool) -> None:
    inbox = Inbox(rcpt_reply=lambda _: rcpt, data_reply=data)
    with smtp_server(inbox) as port:
        with pytest.raises(DeliveryError) as info:
            deliver.send(rendered.eml, settings(port))
    assert isinstance(info.value, TransientDeliveryError) is transient
    assert (rcpt or data or "")[:3] in str(info.value)
    assert inbox.received == []


def test_partly_refused_recipients_are_a_permanent_error(rendered: render.Rendered) -> None:
    # the others already have the message: a retry would deliver it to them twice
    inbox = Inbox(rcpt_reply=lambda a: "450 4.2.1 busy" if a.startswith("b@") else None)
    with smtp_server(inbox) as port:
        with pytest.raises(DeliveryError, match=r"b@example\.net") as info:
            deliver.send(rendered.eml, settings(port))
    assert not isinstance(info.value, TransientDeliveryError)
    assert [e.rcpt_tos for e in inbox.received] == [["a@example.org"]]


def test_connection_closed_at_once_is_transient(rendered: render.Rendered) -> None:
    with raw_server(lambda conn: conn.close()) as port:
        with pytest.raises(TransientDeliveryError):
            deliver.send(rendered.eml, settings(port))


def test_connection_dropped_mid_session_is_transient(rendered: render.Rendered) -> None:
    def greet_then_drop(conn: socket.socket) -> None:
        conn.sendall(b"220 test ESMTP\r\n")
        conn.recv(1024)  # EHLO
        conn.sendall(b"250-test\r\n250 8BITMIME\r\n")
        conn.recv(1024)  # MAIL FROM
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    with raw_server(greet_then_drop) as port:
        with pytest.raises(TransientDeliveryError, match="closed"):
            deliver.send(rendered.eml, settings(port))


def test_busy_greeting_is_transient(rendered: render.Rendered) -> None:
    with raw_server(lambda conn: conn.sendall(b"421 4.3.2 too busy, try later\r\n")) as port:
        with pytest.raises(TransientDeliveryError, match="421"):
            deliver.send(rendered.eml, settings(port))


def test_silent_server_times_out_as_transient(rendered: render.Rendered) -> None:
    with raw_server(lambda conn: None) as port:
        with pytest.raises(TransientDeliveryError, match="timed out"):
            deliver.send(rendered.eml, settings(port, smtp_timeout=0.5))


def test_nothing_listening_is_transient(rendered: render.Rendered) -> None:
    with pytest.raises(TransientDeliveryError, match="cannot talk"):
        deliver.send(rendered.eml, settings(free_port()))


def test_missing_settings_are_config_errors(rendered: render.Rendered) -> None:
    with pytest.raises(ConfigError, match="smtp_host"):
        deliver.send(rendered.eml, Settings(mail_to=["a@example.org"]))
    with pytest.raises(ConfigError, match="mail_to"):
        deliver.send(rendered.eml, settings(25, mail_to=[]))
    with pytest.raises(ConfigError, match="password"):
        deliver.send(rendered.eml, settings(25, smtp_user=USER))


def test_message_id_of() -> None:
    assert deliver.message_id_of(b"Subject: x\r\nMessage-ID: <abc@example.org>\r\n\r\nbody") == "<abc@example.org>"
    with pytest.raises(DeliveryError, match="Message-ID"):
        deliver.message_id_of(b"Subject: x\r\n\r\nbody")


def test_a_private_ca_is_trusted_through_smtp_ca_file(rendered: render.Rendered, server_tls: ssl.SSLContext, cert: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls, require_starttls=True) as port:
        deliver.send(rendered.eml, settings(port, smtp_security="starttls", smtp_ca_file=cert[0]))
    check_received(inbox.received, rendered)


def test_an_unreadable_ca_file_is_a_config_error(rendered: render.Rendered, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="smtp_ca_file"):
        deliver.send(rendered.eml, settings(25, smtp_security="starttls", smtp_ca_file=tmp_path / "missing.pem"))


def test_each_copy_names_its_reader_alone() -> None:
    message = (b"Subject: x\nTo: a@example.org,\n b@example.net\nCc: c@example.org\nBcc: d@example.org\n"
               b"Message-ID: <m@x>\n\nbody line\n.starts with a dot\n")
    copy = deliver.addressed_to(message, "b@example.net")
    assert copy == (b"To: b@example.net\r\nSubject: x\r\nMessage-ID: <m@x>\r\n\r\nbody line\r\n.starts with a dot\r\n")


def test_a_test_message_is_fresh(rendered: render.Rendered) -> None:
    fresh = email.message_from_bytes(deliver.test_message(rendered.eml, settings(25)), policy=default)
    assert fresh["Subject"] == f"[test] {rendered.subject}"
    assert fresh["Message-ID"] != rendered.message_id and fresh["Message-ID"].endswith("@news.example>")
    assert fresh["To"] is None  # each copy gets its reader's address when it is sent
    assert [p.get_content_type() for p in fresh.walk() if not p.is_multipart()] == ["text/plain", "text/html"]


def test_a_test_copy_of_a_digest_rendered_without_mail_settings_gets_the_configured_from() -> None:
    bare = b"Subject: Briefing\r\nMessage-ID: <old@localhost>\r\n\r\nA line of the briefing.\r\n"
    fresh = email.message_from_bytes(deliver.test_message(bare, settings(25, mail_from="Desk <desk@paper.example>")), policy=default)
    assert fresh["From"] == "Desk <desk@paper.example>"
    assert fresh["Subject"] == "[test] Briefing"


def test_the_session_deadline_ends_a_trickling_greeting(rendered: render.Rendered) -> None:
    with faulty_smtp(Behaviour(greeting_trickle=0.05)) as server:
        start = time.monotonic()
        with pytest.raises(TransientDeliveryError, match="deadline"):
            deliver.send(rendered.eml, settings(port_of(server), smtp_session_timeout=0.5))
        assert time.monotonic() - start < 5
