"""Outbox recovery and repair: bring the state store and the outbox back into agreement.

The outbox is the record of what was written and sent (each digest's four files and its delivery
record); the state store is rebuilt from it when lost or damaged, and a run's torn writes are
cleaned up before the next run starts. Only files digest writes are ever removed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from digest import inbox, ingest, render
from digest.delivery import ledger, send, smtp
from digest.errors import DeliveryError, StateError
from digest.models import ArticleRecord
from digest.runresult import plural
from digest.settings import Settings
from digest.state import StateStore, StoryRow, run_lock

Report = Callable[[str], None]



DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
DIGEST_FILE = re.compile(r"(digest(?:-\d+)?)\.(?:html|txt|eml|json|delivery)")
TEMP_FILE = re.compile(r"\.tmp-.*\.part")  # render's and the ledger's temporary files


def recover(settings: Settings, store: StateStore, report: Report) -> None:
    """Reconcile the state store with the outbox, the record of what was written and sent.

    A digest with all its files but no row in the store was written by a run that died before
    recording it, or the store was lost: adopt it from its outbox record (its articles, story memory
    and delivery state per recipient), so nothing is digested or sent again. The files of a digest
    that never got its JSON are a torn write nobody saw: removed; its articles stay pending. Only
    files digest writes are ever removed (`digest[-N].*` and its temporary files, in date folders).
    """
    for row in send.waiting_and_gone(store):  # deleted with the outbox, or by hand: never "stays in the outbox"
        send.gone(store, row, report)
    outbox = settings.outbox
    if not outbox.is_dir():
        return
    fresh = store.is_empty()
    adopted = changed = 0
    for day in sorted(p for p in outbox.iterdir() if DAY_FOLDER.fullmatch(p.name) and p.is_dir() and not p.is_symlink()):
        if _holds(day, settings.inbox) or _holds(day, settings.state):
            continue  # never touch a folder that holds the inbox or the state
        for stray in day.iterdir():
            if TEMP_FILE.fullmatch(stray.name) and stray.is_file():
                stray.unlink(missing_ok=True)  # temporary file of an interrupted atomic write
        stems = sorted({m.group(1) for f in day.iterdir() if (m := DIGEST_FILE.fullmatch(f.name))}, key=_number)
        for stem in stems:
            outcome = _reconcile(settings, store, day / f"{stem}.html", fresh, report)
            adopted += outcome == "adopted"
            changed += outcome != "known"
    if fresh and adopted:
        report(f"rebuilt the state store from the outbox: {plural(adopted, 'digest')} and their articles")
    if changed:
        render.write_index(outbox)


def _holds(folder: Path, other: Path) -> bool:
    return other == folder or folder in other.parents


def _number(stem: str) -> int:
    return int(stem.partition("-")[2] or 1)


def _complete(html: Path) -> bool:
    """Whether all four files of a digest are there, its JSON (written last) whole."""
    if not all(html.with_suffix(s).is_file() for s in ledger.DIGEST_PARTS):
        return False
    try:
        json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _reconcile(settings: Settings, store: StateStore, html: Path, fresh: bool, report: Report) -> str:
    """Bring one digest's outbox files and the store into agreement; return known, adopted or removed."""
    try:
        record = ledger.read(html)
    except StateError as exc:
        report(f"  warning: {exc}; rebuilding it from the state store")
        record = None
    if record is not None and ledger.settle_interrupted(record):
        ledger.write(html, record)  # a run died while a copy went out: its outcome is unknown
    complete = _complete(html)
    message_id = record.message_id if record else (_message_id(html) if complete else "")
    row = (store.digest_by_message_id(message_id) if message_id else None) or store.digest_by_path(html)
    if row is not None:
        if row.delivery == "lost":
            return "known"  # its files came back after its articles were digested again: never sent now
        if Path(row.path) != html:
            store.set_path(row.id, html)  # one identity: an older run spelt the path differently
        if record is None:
            send.record_for(store, row, settings)
        elif row.delivery not in ("unsent", "sending"):
            state, reason = ledger.summary(record, settings.smtp_unknown_retries)
            if state != row.delivery:
                store.set_delivery(row.id, state, reason)
        else:
            state, reason = ledger.summary(record, settings.smtp_unknown_retries)
            if state in ("sent", "failed", "unknown", "outbox-only"):  # the outbox knows it was settled
                store.set_delivery(row.id, state, reason)
        return "known"
    if not complete:
        if record is not None:
            report(f"  warning: {html} has a delivery record but not all its files; left as it is")
            return "known"
        for suffix in ledger.DIGEST_PARTS:
            html.with_suffix(suffix).unlink(missing_ok=True)
        report(f"recovered: removed the incomplete digest {html} left by an interrupted run")
        return "removed"
    _adopt(settings, store, html, record, fresh, report)
    return "adopted"


def _message_id(html: Path) -> str:
    try:
        return smtp.message_id_of(html.with_suffix(".eml").read_bytes())
    except (OSError, DeliveryError):
        return ""


def _adopt(
    settings: Settings, store: StateStore, html: Path, record: ledger.Record | None, fresh: bool, report: Report
) -> None:
    """Record a complete digest the store does not know, from its outbox record (or its JSON)."""
    retries = settings.smtp_unknown_retries
    if record is None:
        # no record: the run died between the JSON and the record (the store still has the articles
        # pending, with their fingerprints), or this outbox predates records
        data = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
        articles = [{**a, "fingerprint": fp} for a in data.get("articles", []) if (fp := _fingerprint_of(store, a))]
        record = send.new_record(
            settings, message_id=_message_id(html), day=html.parent.name, stories=len(data.get("stories", [])),
            articles=articles, story_rows=[],
        )
        if fresh and settings.smtp_host:
            # with the store lost, nothing says whether it went out: never send it blindly
            for recipient in record.recipients.values():
                recipient.status, recipient.unknown = "unknown", retries + 1
                recipient.reply = "no delivery record and no state store: not sent again"
        ledger.write(html, record)
    records = [
        (ArticleRecord(a["id"], a["path"], a["status"], a.get("reason") or "", a.get("duplicate_of"),
                       dropped=a.get("dropped") or 0, kept=a.get("kept") or 0), a["fingerprint"])
        for a in record.articles if a.get("fingerprint")
    ]
    delivery, reason = send.store_state(record, settings)
    store.commit_digest(
        day=record.day,
        path=html,
        message_id=record.message_id,
        stories=record.stories,
        records=records,
        story_rows=[StoryRow(r["id"], r["memory"], list(r["shown"])) for r in record.story_rows],
        delivery=delivery,
        delivery_reason=reason,
    )
    how = "rebuilt from the outbox" if fresh else "was written by an interrupted run"
    report(f"recovered: {html} {how}; its articles are marked done (delivery: {delivery})")


def _fingerprint_of(store: StateStore, article: dict[str, Any]) -> str:
    """Return an article's fingerprint from the store, or from its file when the store lost it."""
    row = store.article(article["id"])
    if row is not None:
        return str(row["fingerprint"])
    try:
        path = Path(article["path"])
        fp = ingest.fingerprint(path.read_bytes())
    except (OSError, KeyError, TypeError):
        return ""
    return fp if ingest.article_id(fp, path) == article["id"] else ""


def repair(settings: Settings, report: Report) -> None:
    """Rebuild a damaged or lost state store from the outbox; a damaged file is kept aside, never deleted."""
    with run_lock(settings.state, folders=inbox.claimed_folders(settings)):
        try:
            store = StateStore(settings.db_path)
        except StateError as exc:
            if "damaged" not in str(exc):
                raise
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
            aside = settings.db_path.with_name(f"{settings.db_path.name}.damaged-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{settings.db_path}{suffix}")
                if part.exists():
                    shutil.move(part, Path(f"{aside}{suffix}"))
            report(f"moved the damaged state store aside to {aside}")
            store = StateStore(settings.db_path)
        with store:
            recover(settings, store, report)
            digests = store.digests()
            states: dict[str, int] = {}
            for d in digests:
                states[d.delivery] = states.get(d.delivery, 0) + 1
            counts = store.counts()
        report(
            f"state store {settings.db_path}: {plural(len(digests), 'digest')} ("
            + (", ".join(f"{n} {k}" for k, n in sorted(states.items())) or "none")
            + "), articles: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none")
        )
