"""The delivery loop: send every digest that waits, recording each copy before and after it goes out.

Each copy is written into the digest's outbox record (ledger) before its content goes out and as
soon as its outcome is known, and the state store's delivery state follows; so neither a crash, a
signal nor a lost reply ever sends a delivered copy again, or a copy of unknown outcome more than
`smtp_unknown_retries` times.
"""

from __future__ import annotations

import signal
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from digest.delivery import ledger, smtp
from digest.errors import ConfigError, DeliveryError, Interrupted, TransientDeliveryError, UndeliveredError
from digest.runresult import plural
from digest.settings import Settings
from digest.state import DigestRow, StateStore

Report = Callable[[str], None]

STOP_GRACE_SECONDS = 5.0  # after SIGTERM/SIGINT, how long a reply to the end of DATA is still awaited


@contextmanager
def _stop_on_signal(deadline: smtp.Deadline) -> Iterator[list[int]]:
    """While sending, turn SIGTERM/SIGINT into a short deadline so the outcome is recorded before exiting."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught  # only the main thread can take signals; other threads are stopped with it
        return

    def stop(signum: int, frame: object) -> None:
        caught.append(signum)
        deadline.cut(STOP_GRACE_SECONDS, f"stopped by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def record_for(store: StateStore, row: DigestRow, settings: Settings) -> ledger.Record:
    """Build the outbox record of a digest published before records existed (from the store)."""
    html = Path(row.path)
    record = ledger.Record(
        message_id=row.message_id,
        day=row.day,
        stories=row.stories,
        articles=[article_entry(a) for a in store.digest_articles(row.id)],
        story_rows=[],
        mode="smtp" if row.delivery != "outbox-only" else "outbox-only",
    )
    ledger.add_recipients(record, settings.mail_to)
    if row.delivery == "sent":
        for recipient in record.recipients.values():
            recipient.status = "sent"
    elif row.delivery == "sending":  # an older run died while sending: the outcome is unknown
        for recipient in record.recipients.values():
            recipient.status = "sending"
    ledger.write(html, record)
    return record


def article_entry(a: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "fingerprint", "path", "status", "reason", "duplicate_of", "kept", "dropped")
    return {k: a.get(k) for k in keys}


def new_record(
    settings: Settings,
    *,
    message_id: str,
    day: str,
    stories: int,
    articles: list[dict[str, Any]],
    story_rows: list[dict[str, Any]],
) -> ledger.Record:
    """The outbox record of a digest just written: every configured recipient waits for their copy."""
    record = ledger.Record(
        message_id=message_id,
        day=day,
        stories=stories,
        articles=[article_entry(a) for a in articles],
        story_rows=story_rows,
        mode="smtp" if settings.smtp_host else "outbox-only",
    )
    ledger.add_recipients(record, settings.mail_to)
    return record


def store_state(record: ledger.Record, settings: Settings) -> tuple[str, str]:
    """The delivery state and reason the state store keeps for a digest of this record.

    A digest with no recipient configured waits (`unsent`) until one is.
    """
    delivery, reason = ledger.summary(record, settings.smtp_unknown_retries)
    return ("unsent" if delivery == "failed" and not record.recipients else delivery), reason


def deliver_pending(
    settings: Settings,
    store: StateStore,
    password: str | None,
    report: Report,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """Send every digest still waiting for delivery, one copy per recipient; return how many reached everyone.

    Each copy is recorded in the digest's outbox record (and the store) before its content goes out
    and as soon as its outcome is known. A recipient refused for now (4xx) is tried again later; a
    copy whose outcome is unknown is sent again at most `smtp_unknown_retries` times in total.
    Raises ConfigError, Interrupted (a signal, after recording) or UndeliveredError when a digest
    tried here did not reach every recipient (`retryable` if some may still get it).
    """
    if not settings.smtp_host:
        return 0
    retries = settings.smtp_unknown_retries
    sent, retryable = 0, False
    trouble: list[str] = []
    rows = {r.id: r for r in store.digests(delivery="unsent") + store.digests(delivery="sending")}
    for row in sorted(rows.values(), key=lambda r: r.id):
        html = Path(row.path)
        if not html.with_suffix(".eml").is_file():
            line = gone(store, row, report)
            trouble.append(line)
            retryable = retryable or row.attempts == 0  # its articles are digested again
            continue
        record = ledger.read(html) or record_for(store, row, settings)
        if ledger.settle_interrupted(record):
            ledger.write(html, record)
        todo = [a for a, r in record.recipients.items() if ledger.retryable(r, retries)]
        problem, permanent = "", False
        if todo:
            try:
                message = html.with_suffix(".eml").read_bytes()
            except OSError as exc:
                problem = f"cannot read {html.with_suffix('.eml')}: {exc.strerror}"
            else:
                problem, transient = _send_record(settings, store, row, record, message, todo, password, ssl_context)
                permanent = permanent or (bool(problem) and not transient)
        state, reason = ledger.summary(record, retries)
        reason = problem or reason
        store.set_delivery(row.id, state, reason)
        if state == "sent":
            sent += 1
            report(f"sent {html.name} of {row.day} to {plural(len(record.recipients), 'recipient')}")
            continue
        trouble.append(f"{html}: {state}: {reason}")
        retryable = retryable or (state == "unsent" and not permanent)
        advice = "the next run tries again" if state == "unsent" else "it is not sent again; see `digest status`"
        report(f"  not delivered: {html}: {state}: {reason}. It stays in the outbox; {advice}.")
    if trouble:
        raise UndeliveredError(
            f"{plural(len(trouble), 'digest')} not delivered to every recipient: " + " | ".join(trouble),
            retryable=retryable,
        )
    return sent


def waiting_and_gone(store: StateStore) -> list[DigestRow]:
    """Digests waiting for delivery whose message is no longer in the outbox (deleted, or the outbox moved)."""
    rows = store.digests(delivery="unsent") + store.digests(delivery="sending")
    return [r for r in sorted(rows, key=lambda r: r.id) if not Path(r.path).with_suffix(".eml").is_file()]


def gone(store: StateStore, row: DigestRow, report: Report) -> str:
    """Settle a waiting digest whose message is gone from the outbox, report it, and return the line said.

    When no copy of it went out, nobody received it: its articles go back to pending, so the next
    digest holds them. When some copies went out, sending its articles again would repeat them for
    those readers: the loss is reported instead, and the digest marked failed.
    """
    html, eml = Path(row.path), Path(row.path).with_suffix(".eml")
    if row.attempts == 0:
        reason = f"its message {eml} is gone from the outbox before any copy was sent"
        released = store.release(row.id, reason)
        what = f"{reason}; its {plural(released, 'article')} go back to pending and are digested again"
        report(f"  lost: {html}: {what}")
        return f"{html}: lost: {what}"
    reason = (f"its message {eml} is gone from the outbox after {plural(row.attempts, 'copy', 'copies')} went out; "
              "the readers not yet sent it never get it, and its articles are not digested again "
              "(that would repeat them for the others)")
    store.set_delivery(row.id, "failed", reason)
    report(f"  not delivered: {html}: {reason}")
    return f"{html}: failed: {reason}"


def _send_record(
    settings: Settings,
    store: StateStore,
    row: DigestRow,
    record: ledger.Record,
    message: bytes,
    todo: list[str],
    password: str | None,
    ssl_context: ssl.SSLContext | None,
) -> tuple[str, bool]:
    """Send the copies `todo` of one digest, recording each; return a session-wide problem ('' if none) and
    whether it is transient."""
    html = Path(row.path)

    def before(address: str) -> None:
        recipient = record.recipients[address]
        recipient.status, recipient.sends, recipient.updated = "sending", recipient.sends + 1, ledger.now()
        ledger.write(html, record)  # on disk before the content goes out
        store.set_delivery(row.id, "sending", attempt=True)

    def after(result: smtp.RecipientResult) -> None:
        recipient = record.recipients[result.address]
        recipient.status = {"sent": "sent", "refused": "refused", "deferred": "pending", "unknown": "unknown"}[result.outcome]
        recipient.unknown += result.outcome == "unknown"
        recipient.reply, recipient.updated = result.reply, ledger.now()
        ledger.write(html, record)

    deadline = smtp.Deadline(settings.smtp_session_timeout)
    problem, transient = "", True
    with _stop_on_signal(deadline) as caught:
        try:
            smtp.send_each(message, settings, todo, password, ssl_context=ssl_context,
                              deadline=deadline, before_data=before, after=after)
        except ConfigError:
            raise
        except DeliveryError as exc:  # the session failed before any copy went out: all stay pending
            problem, transient = str(exc), isinstance(exc, TransientDeliveryError)
            for address in todo:
                record.recipients[address].reply = problem
            ledger.write(html, record)
    if caught:
        state, reason = ledger.summary(record, settings.smtp_unknown_retries)
        store.set_delivery(row.id, state, reason)
        raise Interrupted(caught[0])
    return problem, transient
