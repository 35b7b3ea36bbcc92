"""The quick answer of a run with nothing to do, before any heavy module or Prefect is loaded.

A run has nothing to do when the inbox holds no file the state store has not handled, no digest
waits for delivery, and the outbox has nothing an interrupted run left behind. Such a run is logged
in the store and reported exactly as the full pipeline reports it; anything else is left to the
full run (which looks again, so nothing depends on this check being complete).
"""

from __future__ import annotations

from collections.abc import Callable

from digest import inbox
from digest.delivery import ledger
from digest.runresult import NOTHING_NEW, RunResult, ingested
from digest.settings import Settings
from digest.state import StateStore, run_lock


def _outbox_settled(settings: Settings, store: StateStore) -> bool:
    """True when every digest file in the outbox is recorded and no temporary file is left."""
    if not settings.outbox.is_dir():
        return True
    for day in settings.outbox.iterdir():
        if not day.is_dir() or day.name == "dry-run":
            continue
        for path in day.iterdir():
            if path.name.startswith("."):
                return False  # a temporary file of an interrupted write: recovery removes it
            if path.name.startswith("digest") and path.suffix in ledger.DIGEST_PARTS:
                if store.digest_by_path(path.with_suffix(".html")) is None:
                    return False
    return True


def answer(settings: Settings, report: Callable[[str], None]) -> bool:
    """Log and report a run with nothing to do and return True; return False when there is work."""
    if not settings.inbox.is_dir() or not settings.db_path.exists():
        return False  # first run: the full run creates the store
    with run_lock(settings.state, folders=inbox.claimed_folders(settings)), StateStore(settings.db_path) as store:
        scan = inbox.scan_inbox(settings, store.known_fingerprints(inbox.conditions_of(settings)))
        if scan.new or scan.failed or scan.waiting:
            return False
        if settings.smtp_host and (store.digests(delivery="unsent") or store.digests(delivery="sending")):
            return False
        if not _outbox_settled(settings, store):
            return False
        run_id = store.start_run()
        report(ingested(0, scan.seen))
        inbox.report_passed_over(scan, report)
        report(f"{NOTHING_NEW}; no digest written")
        store.finish_run(run_id, "nothing-new", RunResult(message=NOTHING_NEW).as_dict())
    return True
