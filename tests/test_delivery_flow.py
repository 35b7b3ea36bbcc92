"""Delivery inside runs, against real SMTP servers on 127.0.0.1: one copy per reader, outcomes per
recipient, a refused or unanswered delivery is visible and never resent blindly."""

from __future__ import annotations

import email
import email.policy
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from support.smtp import Behaviour, faulty_smtp, port_of
from test_deliver import Inbox, smtp_server

from digest import pipeline
from digest.delivery import ledger
from digest.errors import ConfigError, UndeliveredError
from digest.settings import load_settings
from digest.state import StateStore

READERS = ["a@example.com", "b@example.com"]


@pytest.fixture
def inbox(tmp_path: Path, seeds: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for f in sorted(seeds.glob("*.txt"))[:3]:
        shutil.copy(f, folder / f.name)
    return folder


def settings_for(tmp_path: Path, port: int, **kw: Any) -> Any:
    values: dict[str, Any] = {
        "inbox": tmp_path / "inbox", "outbox": tmp_path / "outbox", "state": tmp_path / "state",
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", "mail_to": READERS,
        "mail_from": "Digest <digest@news.example>",
        # generous per-reply timeouts: the tests run on busy machines; each case sets the one it is about
        "smtp_timeout": 10.0, "smtp_data_timeout": 10.0, "smtp_session_timeout": 60.0,
    }
    values.update(kw)
    return load_settings(None, **values)


def run(tmp_path: Path, port: int, **kw: Any) -> pipeline.RunResult:
    return pipeline.run(settings_for(tmp_path, port, **kw), report=lambda line: None)


def deliveries(tmp_path: Path) -> list[tuple[str, str]]:
    with StateStore(tmp_path / "state" / "state.sqlite") as store:
        return [(d.delivery, d.delivery_reason) for d in store.digests()]


def recipients(tmp_path: Path) -> dict[str, str]:
    [html] = (tmp_path / "outbox").glob("*/digest.html")
    record = ledger.read(html)
    assert record is not None
    return {a: r.status for a, r in record.recipients.items()}


def test_run_sends_one_copy_to_each_reader_once(tmp_path: Path, inbox: Path) -> None:
    handler = Inbox()
    with smtp_server(handler) as port:
        result = run(tmp_path, port)
        assert result.sent == 1
        assert sorted(e.rcpt_tos[0] for e in handler.received) == READERS
        for envelope in handler.received:
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert msg["To"] == envelope.rcpt_tos[0]  # never a shared To: listing every reader
            assert msg["Message-ID"] == email.message_from_bytes(
                Path(result.path or "").with_suffix(".eml").read_bytes(), policy=email.policy.default)["Message-ID"]
            assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        again = run(tmp_path, port)
        assert again.path is None and again.sent == 0
        assert len(handler.received) == 2
    assert deliveries(tmp_path) == [("sent", "")]
    assert recipients(tmp_path) == dict.fromkeys(READERS, "sent")


def test_refused_for_everyone_fails_the_run_and_is_not_resent(tmp_path: Path, inbox: Path) -> None:
    with faulty_smtp(Behaviour(data_reply="550 5.7.1 rejected")) as server:
        with pytest.raises(UndeliveredError, match="550") as info:
            run(tmp_path, port_of(server))
        assert not info.value.retryable
        assert list((tmp_path / "outbox").glob("*/digest.html"))  # written, waiting in the outbox
        [(status, reason)] = deliveries(tmp_path)
        assert status == "failed" and "550" in reason
        again = run(tmp_path, port_of(server))  # a refusal is final: nothing is sent again
        assert again.sent == 0
    assert recipients(tmp_path) == dict.fromkeys(READERS, "refused")


def test_a_temporary_refusal_retries_that_recipient_only(tmp_path: Path, inbox: Path) -> None:
    full = Behaviour(rcpt_reply=lambda a: "452 4.2.2 mailbox full" if a.startswith("b@") else None)
    with faulty_smtp(full) as server:
        with pytest.raises(UndeliveredError, match="452") as info:
            run(tmp_path, port_of(server))
        assert info.value.retryable
        assert [c.rcpt for c in server.copies] == [["a@example.com"]]
    assert recipients(tmp_path) == {"a@example.com": "sent", "b@example.com": "pending"}
    with faulty_smtp() as server:
        retry = run(tmp_path, port_of(server))
        assert retry.sent == 1 and [c.rcpt for c in server.copies] == [["b@example.com"]]
        run(tmp_path, port_of(server))
        assert len(server.copies) == 1
    assert deliveries(tmp_path) == [("sent", "")]


def test_no_recipient_with_a_host_is_an_error(tmp_path: Path, inbox: Path) -> None:
    with faulty_smtp() as server:
        try:
            settings = settings_for(tmp_path, port_of(server), mail_to=[])
        except ConfigError as exc:  # caught when the settings are loaded, before any work
            assert "mail_to" in str(exc)
            return
        with pytest.raises(UndeliveredError, match="no recipient"):
            pipeline.run(settings, report=lambda line: None)
        assert server.copies == []
    [(status, reason)] = deliveries(tmp_path)
    assert status == "failed" and "mail_to" in reason


def test_a_slow_reply_to_data_is_awaited(tmp_path: Path, inbox: Path) -> None:
    # the reply to the end of DATA takes longer than smtp_timeout but less than smtp_data_timeout
    kw = {"smtp_timeout": 2.0, "smtp_data_timeout": 20.0, "mail_to": ["a@example.com"]}
    with faulty_smtp(Behaviour(data_delay=4.0)) as server:
        result = run(tmp_path, port_of(server), **kw)
        assert result.sent == 1 and len(server.copies) == 1
        run(tmp_path, port_of(server), **kw)
        assert len(server.copies) == 1


@pytest.mark.parametrize("fault", ["no reply", "drop, kept", "drop, lost"])
def test_an_unknown_outcome_is_retried_once_then_reported(tmp_path: Path, inbox: Path, fault: str) -> None:
    behaviour = Behaviour(silent_after_data=fault == "no reply", drop_after_data=fault.startswith("drop"),
                          keep_before_drop=fault == "drop, kept")
    kw = {"smtp_data_timeout": 0.5, "mail_to": ["a@example.com"]}
    with faulty_smtp(behaviour) as server:
        for _ in range(2):  # the first try and its one retry
            with pytest.raises(UndeliveredError, match="unknown"):
                run(tmp_path, port_of(server), **kw)
        assert deliveries(tmp_path)[0][0] == "unknown"
        kept = len(server.copies)
        third = run(tmp_path, port_of(server), **kw)  # never resent again: the run does not even try
        assert third.sent == 0 and len(server.copies) == kept
        assert kept == (2 if fault == "drop, kept" else 0)
    record = ledger.read(next((tmp_path / "outbox").glob("*/digest.html")))
    assert record is not None and record.recipients["a@example.com"].sends == 2


def test_the_retry_limit_is_a_setting(tmp_path: Path, inbox: Path) -> None:
    with faulty_smtp(Behaviour(drop_after_data=True)) as server:
        with pytest.raises(UndeliveredError):
            run(tmp_path, port_of(server), smtp_data_timeout=0.5, mail_to=["a@example.com"], smtp_unknown_retries=0)
        assert run(tmp_path, port_of(server), smtp_unknown_retries=0, mail_to=["a@example.com"]).sent == 0
        assert len(server.copies) == 1
    assert deliveries(tmp_path)[0][0] == "unknown"


def test_a_trickling_server_cannot_hold_the_run(tmp_path: Path, inbox: Path) -> None:
    with faulty_smtp(Behaviour(greeting_trickle=0.1)) as server:
        start = time.monotonic()
        with pytest.raises(UndeliveredError, match="deadline") as info:
            run(tmp_path, port_of(server), smtp_session_timeout=1.0)
        assert time.monotonic() - start < 15
        assert info.value.retryable  # nothing went out: the next run may try again
    assert recipients(tmp_path) == dict.fromkeys(READERS, "pending")


def test_a_run_that_died_while_sending_counts_as_unknown(tmp_path: Path, inbox: Path) -> None:
    with faulty_smtp() as server:
        run(tmp_path, port_of(server), mail_to=["a@example.com"])
        html = next((tmp_path / "outbox").glob("*/digest.html"))
        record = ledger.read(html)
        assert record is not None
        # as if the process had been killed after the content went out, before the reply
        record.recipients["a@example.com"].status = "sending"
        ledger.write(html, record)
        with StateStore(tmp_path / "state" / "state.sqlite") as store:
            store.set_delivery(store.digests()[0].id, "sending")
        run(tmp_path, port_of(server), mail_to=["a@example.com"])  # the one retry
        run(tmp_path, port_of(server), mail_to=["a@example.com"])
        assert len(server.copies) == 2  # the original and the one bounded retry, same Message-ID
        assert server.copies[0].message_id == server.copies[1].message_id
    assert deliveries(tmp_path) == [("sent", "")]


def test_without_smtp_host_nothing_is_sent(tmp_path: Path, inbox: Path) -> None:
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "outbox", state=tmp_path / "state")
    result = pipeline.run(settings, report=lambda line: None)
    assert result.path and result.sent == 0
    assert deliveries(tmp_path) == [("outbox-only", "")]
