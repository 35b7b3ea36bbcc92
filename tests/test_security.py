"""Hostile articles: no injected markup or links in the digest, no network, no external entities, no leaked secrets."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from digest import pipeline
from digest.errors import UndeliveredError
from digest.settings import load_settings

HOSTILE = """<html><head><title>Harbour wall repaired after winter storms</title>
<link rel="stylesheet" href="http://evil.example/steal.css">
<script src="http://evil.example/x.js"></script></head>
<body onload="alert(1)"><article>
<h1>Harbour wall repaired <script>alert('title')</script> after winter storms</h1>
<p>The harbour wall in Pennock was repaired this week after winter storms tore a gap in it. <img src="http://evil.example/pixel.gif" onerror="alert(2)">
Engineers said the work cost far less than feared and finished two weeks early.</p>
<p>Fishing crews welcomed the news. <a href="javascript:alert(3)">Click here</a> or <a href="data:text/html,<script>alert(4)</script>">here</a>.
The harbour master said boats could return to the inner basin by Friday morning.</p>
<p>&lt;script&gt;alert("escaped")&lt;/script&gt; The council thanked residents for their patience during the closures.
Officials said a second phase of repairs on the northern jetty will start next spring.</p>
<iframe src="http://evil.example/frame"></iframe><style>body{background:url(http://evil.example/bg.png)}</style>
</article></body></html>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<html><body><article><h1>Ferry timetable changes for the winter season</h1>
<p>&xxe; The ferry between Gullhaven and Pennock will run every forty minutes from Monday, the operator said.
Evening crossings will stop at nine o'clock until the end of February, when the summer timetable returns.</p>
<p>Passengers with season tickets will get a discount on renewals, the operator added in its statement on Tuesday.
The changes follow a consultation with residents of both villages earlier this autumn.</p></article></body></html>"""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record and refuse any connection that is not to this machine (the one place a mock is the test)."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not (host.startswith("127.") or host in ("::1", "localhost") or "/" in host):
            attempts.append(str(address))
            raise OSError(f"network access attempted: {address}")
        return real_connect(self, address)  # type: ignore[arg-type]

    def no_dns(host: str, *args: object, **kw: object) -> object:
        if host not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(f"dns:{host}")
            raise OSError(f"DNS lookup attempted: {host}")
        return real_getaddrinfo(host, *args, **kw)  # type: ignore[arg-type]

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    return attempts


def digest_of(tmp_path: Path, files: dict[str, str]) -> tuple[str, str, str]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, text in files.items():
        (inbox / name).write_text(text)
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "outbox", state=tmp_path / "state")
    result = pipeline.run(settings, report=lambda line: None)
    assert result.path
    html = Path(result.path).read_text()
    return html, Path(result.path).with_suffix(".txt").read_text(), Path(result.path).with_suffix(".json").read_text()


def test_hostile_article_cannot_inject_or_fetch(tmp_path: Path, no_network: list[str]) -> None:
    html, _text, _ = digest_of(tmp_path, {"hostile.html": HOSTILE})
    assert no_network == []
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<img" not in lowered
    assert not re.search(r"\son\w+\s*=", lowered), "event handler attribute in the digest"
    assert "javascript:" not in lowered and "data:text" not in lowered
    assert "evil.example" not in lowered
    assert re.findall(r'href="([^"]*)"', html) == [h for h in re.findall(r'href="([^"]*)"', html)
                                                  if h.startswith(("http://", "https://", "mailto:", "#"))]
    assert "Harbour wall" in html  # the article itself survives


def test_external_entities_are_not_resolved(tmp_path: Path, no_network: list[str]) -> None:
    html, text, data = digest_of(tmp_path, {"xxe.html": XXE})
    for out in (html, text, data):
        assert "root:x:0:0" not in out
    assert "Ferry" in html


def test_smtp_password_never_appears_in_output_or_state(tmp_path: Path) -> None:
    from test_deliver import Inbox, smtp_server

    secret = "hunter2-very-secret"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.html").write_text(XXE)
    lines: list[str] = []
    with smtp_server(Inbox()) as port:  # no AUTH offered: the login fails
        settings = load_settings(None, inbox=inbox, outbox=tmp_path / "outbox", state=tmp_path / "state",
                                 smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                                 smtp_user="editor", smtp_password=secret, mail_to=["a@example.com"],
                                 mail_from="digest@news.example")
        with pytest.raises(UndeliveredError) as failed:  # an undelivered digest fails the run, visibly
            pipeline.run(settings, report=lines.append)
    assert any("not delivered" in line and "AUTH" in line for line in lines)
    assert secret not in "\n".join(lines) and secret not in str(failed.value)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
    assert secret not in repr(settings) and secret not in str(settings.model_dump())


# --- opening inbox files: no symlink race reads a file outside the inbox (issue 9) --------------

SECRET = "root:x:0:0 the secret outside the inbox"


def _inbox_and_secret(tmp_path: Path) -> tuple[Path, Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(f"{SECRET}. " * 20)
    return inbox, secret


def test_a_link_swapped_in_after_the_check_is_not_followed(tmp_path: Path) -> None:
    from digest.errors import InputError
    from digest.ingest import open_safely

    inbox, secret = _inbox_and_secret(tmp_path)
    target = inbox / "a.txt"
    target.write_text("an ordinary article file")

    class Racing(type(target)):  # type: ignore[misc]
        """A path whose file is swapped for a link to the secret right after it is checked."""

        def is_symlink(self) -> bool:
            answer = super().is_symlink()
            self.unlink()
            self.symlink_to(secret)
            return answer

    with pytest.raises(InputError, match="symbolic link"):
        open_safely(Racing(target), inbox.resolve())


def test_a_file_reached_through_a_linked_folder_is_checked_after_opening(tmp_path: Path) -> None:
    from digest.errors import InputError
    from digest.ingest import open_safely

    inbox, secret = _inbox_and_secret(tmp_path)
    (inbox / "sub").symlink_to(secret.parent)  # the last component is a plain file: only the check after opening sees it
    with pytest.raises(InputError, match="outside the inbox"):
        open_safely(inbox / "sub" / "secret.txt", inbox.resolve())


def test_a_fifo_does_not_hang_the_run(tmp_path: Path) -> None:
    import os

    from digest.ingest import scan

    inbox, _ = _inbox_and_secret(tmp_path)
    os.mkfifo(inbox / "pipe.txt")  # opening it for reading without O_NONBLOCK would block forever
    [(err, _)] = scan(inbox, set()).failed
    assert "not a regular file" in err.reason


def test_racing_links_never_leak_an_outside_file(tmp_path: Path) -> None:
    import os
    import threading
    import time

    from digest.ingest import scan

    inbox, secret = _inbox_and_secret(tmp_path)
    plain = tmp_path / "plain.txt"
    plain.write_text("The council approved the tram line after a long debate on Tuesday evening.")
    stop = threading.Event()

    def flip() -> None:  # swap inbox/a.txt between a regular file and a link to the secret, as fast as possible
        n = 0
        while not stop.is_set():
            tmp = inbox / f".swap{n % 2}"
            if n % 2:
                os.symlink(secret, tmp)
            else:
                tmp.write_bytes(plain.read_bytes())
            os.replace(tmp, inbox / "a.txt")
            n += 1

    thread = threading.Thread(target=flip)
    thread.start()
    texts: list[str] = []
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            texts += [raw.text for raw in scan(inbox, set()).new]
    finally:
        stop.set()
        thread.join()
    assert not any(SECRET in text for text in texts)
    assert texts, "the regular file was never read: the race did not run"


def test_send_test_refuses_an_injected_address_and_sends_one_copy_per_mailbox(tmp_path: Path, seeds: Path) -> None:
    from support.smtp import faulty_smtp, port_of
    from test_deliver_cli import digest, published, smtp_env

    published(tmp_path, seeds)
    with faulty_smtp() as server:
        env = smtp_env(port_of(server), DIGEST_MAIL_TO="reader@example.com")
        for injected in ("me@example.com\r\nBcc: spy@evil.example", "me@example.com\nBcc: spy@evil.example",
                         "me@example.com;spy@evil.example", "me@example.com, spy@evil.example"):
            out = digest("send-test", "--to", injected, cwd=tmp_path, env=env)
            assert out.returncode != 0 and "Traceback" not in out.stderr and "mail_to" in out.stderr, out.stderr
            assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert server.copies == []
        out = digest("send-test", "--to", "Me@Example.com", "--to", "me@example.COM", cwd=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        assert [c.rcpt for c in server.copies] == [["Me@Example.com"]]
        assert all(b"spy@evil" not in c.raw for c in server.copies)
