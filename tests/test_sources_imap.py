"""Newsletters from a real IMAP server over TLS on 127.0.0.1 (tests/support/imap_server.py)."""

from __future__ import annotations

import ssl
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest import ingest
from digest.errors import FetchError
from digest.settings import Source
from digest.sources.fetch import EntryRules, fetch_source
from digest.sources.http import Fetcher, FetchOptions
from digest.sources.imap import read_imap
from digest.sources.safety import AddressPolicy
from digest.sources.store import SourceStore

sys.path.insert(0, str(Path(__file__).parent))
from support.imap_server import ImapServer
from test_deliver import cert  # noqa: F401  (the self-signed certificate fixture, shared with the SMTP tests)


def letter(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "Letters <news@letters.example>", f"Issue {i}", f"<{i}@letters>"
    msg.set_content(f"Issue {i} of the newsletter.\n\n" + "Body text. " * 30)
    return msg.as_bytes()


@pytest.fixture
def imap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    pem, key = request.getfixturevalue("cert")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(pem, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))  # the client trusts the test certificate, and only it
    with ImapServer(tls, "reader", "s3cret", "News") as server:
        server.messages = [letter(i) for i in range(3)]
        yield server


def fetch(source: Source, tmp: Path, policy: AddressPolicy) -> object:
    with SourceStore(tmp / "s.sqlite") as store, Fetcher(FetchOptions(policy=policy, timeout=5)) as fetcher:
        return fetch_source(source, fetcher, store, tmp / "inbox", EntryRules())


def test_imap_messages_become_eml_files_once_and_stay_unread(tmp_path: Path, imap: ImapServer) -> None:
    source = Source(imap=f"imaps://reader@localhost:{imap.port}/News", password="s3cret", name="Letters")
    opened = AddressPolicy(allow_private=True)
    first = fetch(source, tmp_path, opened)
    assert first.outcome == "ok", first.reason  # type: ignore[attr-defined]
    saved = first.saved  # type: ignore[attr-defined]
    assert sorted(ingest.load_file(p).meta.title or "" for p in saved) == ["Issue 0", "Issue 1", "Issue 2"]
    fetches = [c for c in imap.commands if c.startswith("UID FETCH")]
    assert len(fetches) == 3 and all("BODY.PEEK[]" in c for c in fetches)  # never marked read
    assert any(c.startswith("EXAMINE") for c in imap.commands)  # the folder is opened read-only
    imap.messages.append(letter(3))
    imap.commands.clear()
    second = fetch(source, tmp_path, opened)
    assert [ingest.load_file(p).meta.title for p in second.saved] == ["Issue 3"]  # type: ignore[attr-defined]
    assert [c for c in imap.commands if c.startswith("UID FETCH")] == ["UID FETCH 4 (BODY.PEEK[])"]


def test_imap_trouble_is_reported_by_reason(tmp_path: Path, imap: ImapServer) -> None:
    opened = AddressPolicy(allow_private=True)
    url = f"imaps://reader@localhost:{imap.port}/News"
    wrong = fetch(Source(imap=url, password="nope", name="L"), tmp_path, opened)
    assert wrong.outcome == "failed" and "AUTHENTICATIONFAILED" in wrong.reason  # type: ignore[attr-defined]
    folder = fetch(Source(imap=url.replace("News", "Nowhere"), password="s3cret"), tmp_path, opened)
    assert "no folder 'Nowhere'" in folder.reason  # type: ignore[attr-defined]
    imap.commands.clear()
    private = fetch(Source(imap=url, password="s3cret"), tmp_path, AddressPolicy())
    assert "loopback" in private.reason and imap.commands == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("stalls_from", ["", "LOGIN", "UID"])
def test_an_imap_server_trickling_its_answers_is_cut_at_the_deadline(tmp_path: Path, imap: ImapServer, stalls_from: str) -> None:
    # a byte every 0.05 s passes a 0.2 s read timeout forever; the total deadline (0.6 s) does not
    imap.trickle, imap.trickle_from = 0.05, stalls_from
    url = f"imaps://reader@localhost:{imap.port}/News"
    with pytest.raises(FetchError, match=r"no complete answer within 0\.6 s"):
        list(read_imap(url, "s3cret", lambda key: False, AddressPolicy(allow_private=True), 0.2, 1_000_000))
