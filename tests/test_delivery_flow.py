"""Delivery inside runs: a real SMTP server on 127.0.0.1; refusals leave the digest unsent, the next run sends it once."""

from __future__ import annotations

import email
import email.policy
import shutil
from pathlib import Path

import pytest
from test_deliver import Inbox, smtp_server

from digest import pipeline
from digest.settings import load_settings
from digest.state import StateStore


@pytest.fixture
def inbox(tmp_path: Path, seeds: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for f in sorted(seeds.glob("*.txt"))[:3]:
        shutil.copy(f, folder / f.name)
    return folder


def run(tmp_path: Path, port: int) -> pipeline.RunResult:
    settings = load_settings(
        None, inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state=tmp_path / "state",
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", mail_to=["a@example.com", "b@example.com"],
        mail_from="Digest <digest@news.example>",
    )
    return pipeline.run(settings, report=lambda line: None)


def deliveries(tmp_path: Path) -> list[tuple[str, str]]:
    with StateStore(tmp_path / "state" / "state.sqlite") as store:
        return [(d.delivery, d.delivery_reason) for d in store.digests()]


def test_run_sends_the_digest_once(tmp_path: Path, inbox: Path) -> None:
    handler = Inbox()
    with smtp_server(handler) as port:
        result = run(tmp_path, port)
        assert result.sent == 1
        [envelope] = handler.received
        assert sorted(envelope.rcpt_tos) == ["a@example.com", "b@example.com"]
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert msg["Message-ID"] == email.message_from_bytes(
            Path(result.path).with_suffix(".eml").read_bytes(), policy=email.policy.default)["Message-ID"]
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        again = run(tmp_path, port)
        assert again.path is None and again.sent == 0
        assert len(handler.received) == 1
    assert deliveries(tmp_path) == [("sent", "")]


@pytest.mark.parametrize("reply", ["550 5.7.1 rejected", "451 4.3.0 try again later"])
def test_refused_delivery_waits_in_the_outbox_and_the_next_run_sends_it(tmp_path: Path, inbox: Path, reply: str) -> None:
    with smtp_server(Inbox(data_reply=reply)) as port:
        result = run(tmp_path, port)
    assert result.path and Path(result.path).exists() and result.sent == 0
    [(status, reason)] = deliveries(tmp_path)
    assert status == "unsent" and reply.split()[0] in reason
    handler = Inbox()
    with smtp_server(handler) as port:
        retry = run(tmp_path, port)  # nothing new in the inbox: only the waiting digest goes out
        assert retry.path is None and retry.sent == 1
        run(tmp_path, port)
    assert len(handler.received) == 1
    assert deliveries(tmp_path) == [("sent", "")]


def test_resend_after_unknown_outcome_reuses_the_message_id(tmp_path: Path, inbox: Path) -> None:
    handler = Inbox()
    with smtp_server(handler) as port:
        run(tmp_path, port)
        with StateStore(tmp_path / "state" / "state.sqlite") as store:
            [row] = store.digests()
            store.set_delivery(row.id, "sending")  # as if the process died mid-conversation
        run(tmp_path, port)
    first, second = (email.message_from_bytes(e.content, policy=email.policy.default) for e in handler.received)
    assert first["Message-ID"] == second["Message-ID"]  # receivers drop the copy by its Message-ID


def test_without_smtp_host_nothing_is_sent(tmp_path: Path, inbox: Path) -> None:
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "outbox", state=tmp_path / "state")
    result = pipeline.run(settings, report=lambda line: None)
    assert result.path and result.sent == 0
    assert deliveries(tmp_path) == [("outbox-only", "")]
