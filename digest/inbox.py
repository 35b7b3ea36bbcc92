"""How a run looks at the inbox: the settings' per-file budgets, the conditions a failure was recorded
under, the files digest saved there itself, and the folders of its own not to look into.

Light on purpose (no stage but ingest): the quick answer of an idle run (`digest.idle`) and the
pipeline's discover step scan the inbox the same way.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Container
from pathlib import Path

from digest import ingest
from digest.settings import Settings

SOURCES_FILE = "sources.sqlite"
# the settings an inbox file's failure may depend on: its budgets (see `budget_of`), how it is cleaned, and
# the later stages a crash on one article may come from
CONDITIONS = ("max_file_bytes", "max_lines", "max_html_tags", "max_header_bytes", "max_title_chars",
              "max_file_seconds", "learn_boilerplate", "duplicate_threshold", "story_threshold", "summarizer",
              "summary_sentences")  # the fetcher's store in the state folder (digest.sources.store)


def budget_of(settings: Settings) -> ingest.Budget:
    """The per-file budgets of the settings."""
    return ingest.Budget(
        max_bytes=settings.max_file_bytes,
        max_lines=settings.max_lines,
        max_html_tags=settings.max_html_tags,
        max_header_bytes=settings.max_header_bytes,
        max_title_chars=settings.max_title_chars,
        max_seconds=settings.max_file_seconds,
    )


def conditions_of(settings: Settings) -> str:
    """The settings a file's failure may depend on (see CONDITIONS), as a stable key.

    A failure is recorded with this key; when any of these settings changes (a budget raised as the
    error advised), the file is tried again instead of staying "already handled".
    """
    values = {name: getattr(settings, name) for name in CONDITIONS}
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def changed_conditions(recorded: str, settings: Settings) -> list[str]:
    """Name the settings that differ between a failure's recorded conditions and the current ones."""
    try:
        before = json.loads(recorded) if recorded else {}
    except ValueError:
        before = {}
    now = json.loads(conditions_of(settings))
    if not isinstance(before, dict) or not before:
        return ["(recorded before conditions were kept)"]
    return [f"{k} {before.get(k)!r} -> {v!r}" for k, v in sorted(now.items()) if before.get(k) != v]


def written_by_digest(settings: Settings) -> set[str]:
    """Absolute paths of the inbox files `digest fetch` saved (atomically: complete the moment they appear).

    Read from the fetcher's store without creating or changing it; empty when there is none or it
    cannot be read (those files then wait for the settle time like any other).
    """
    path = settings.state / SOURCES_FILE
    if not path.is_file():
        return set()
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=settings.state_timeout)
        try:
            rows = db.execute("SELECT path FROM entries WHERE status = 'saved' AND path IS NOT NULL").fetchall()
        finally:
            db.close()
    except (sqlite3.Error, OSError, ValueError):
        return set()
    return {os.path.abspath(p) for (p,) in rows if isinstance(p, str)}


def own_folders(settings: Settings) -> list[Path]:
    """digest's own folders (outbox, state), never read as articles when they lie inside the inbox."""
    return [settings.outbox, settings.state]


def scan_inbox(
    settings: Settings, is_known: Callable[[str], bool] | Container[str], pack: bool = False
) -> ingest.Scan:
    """Scan the inbox with the settings' budgets and settle time, files digest saved itself not waiting."""
    return ingest.scan(
        settings.inbox,
        is_known,
        settle_seconds=settings.settle_seconds,
        budget=budget_of(settings),
        pack=pack,
        written=written_by_digest(settings) if settings.settle_seconds else (),
        exclude=own_folders(settings),
    )


def claimed_folders(settings: Settings) -> list[tuple[str, Path]]:
    """The folders a run locks besides its state folder (see `digest.state.run_lock`): the inbox it reads
    and the outbox it writes (created first, so that two first runs cannot both miss its lock)."""
    try:
        settings.outbox.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # the run reports an outbox it cannot create
    return [("inbox", settings.inbox), ("outbox", settings.outbox)]


IGNORED_SHOWN = 5  # names listed in the line on ignored files


def report_passed_over(scan: ingest.Scan, report: Callable[[str], None]) -> None:
    """Say which folders were not looked into and which files were ignored (by name), so nothing under
    the inbox is passed over without a word."""
    for path, why in scan.skipped:
        report(f"  not read: {path}: {why}")
    if scan.ignored:
        names = ", ".join(p.name for p in scan.ignored[:IGNORED_SHOWN])
        more = f" and {len(scan.ignored) - IGNORED_SHOWN:,} more" if len(scan.ignored) > IGNORED_SHOWN else ""
        count = f"{len(scan.ignored):,} file{'s' if len(scan.ignored) != 1 else ''}"
        report(f"  ignored {count} with temporary or unsupported names: {names}{more} "
               f"(articles are {', '.join(ingest.SUFFIXES)})")
