"""What the fetcher remembers, in its own SQLite file beside the state store (`sources.sqlite`):
each source's validators (ETag, Last-Modified) and last outcome, and every entry ever seen.

An entry is recorded `new` (with what the feed said about it) in the same transaction that stores
the feed's new validators, so a run that dies before saving it still finds it next time even when
the feed then answers 304. It becomes `saved` only after its file is in the inbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.errors import StateError
from digest.store_base import SqliteStore
from digest.store_base import now as _now

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    checked TEXT,
    ok TEXT,
    outcome TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    title TEXT
);
CREATE TABLE IF NOT EXISTS entries (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    link TEXT,
    status TEXT NOT NULL CHECK (status IN ('new', 'saved', 'failed', 'skipped')),
    data TEXT NOT NULL,
    path TEXT,
    reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE INDEX IF NOT EXISTS entries_link ON entries(link);
CREATE INDEX IF NOT EXISTS entries_status ON entries(status);
"""


@dataclass(frozen=True)
class SourceState:
    key: str
    etag: str | None
    last_modified: str | None
    checked: str | None
    ok: str | None
    outcome: str
    reason: str
    failures: int
    title: str | None


class SourceStore(SqliteStore):
    """Open (creating when missing) the fetcher's SQLite file; safe to share between threads."""

    SCHEMA = SCHEMA

    def __init__(self, path: Path) -> None:
        super().__init__(path, timeout=30, threads=True)

    def open_error(self, exc: BaseException) -> StateError:
        return StateError(
            f"cannot open the sources store {self.path}: {exc}. Check the --state folder, "
            "or move the broken file aside (every entry would then be fetched again)."
        )

    @classmethod
    def in_state(cls, state: Path) -> SourceStore:
        return cls(Path(state) / "sources.sqlite")

    # --- sources ----------------------------------------------------------------------------

    def source(self, key: str) -> SourceState | None:
        with self._lock:
            row = self.db.execute(
                "SELECT key, etag, last_modified, checked, ok, outcome, reason, failures, title "
                "FROM sources WHERE key = ?", (key,)
            ).fetchone()
        return SourceState(*row) if row else None

    def record_failure(self, key: str, name: str, reason: str) -> None:
        """Note a failed check; the validators and the entries stay as they were."""
        now = _now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sources (key, name, checked, outcome, reason, failures) VALUES (?, ?, ?, 'failed', ?, 1) "
                "ON CONFLICT(key) DO UPDATE SET checked=excluded.checked, outcome='failed', "
                "reason=excluded.reason, failures=sources.failures + 1, name=excluded.name",
                (key, name, now, reason),
            )

    def record_check(
        self,
        key: str,
        name: str,
        outcome: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        title: str | None = None,
        entries: Iterable[tuple[str, str | None, dict[str, Any]]] = (),
        reason: str = "",
    ) -> int:
        """Store a successful check: new validators and the entries not seen before; return how many were new.

        `entries` are (key, link, data) triples; known keys are left untouched.
        """
        now = _now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sources (key, name, etag, last_modified, checked, ok, outcome, reason, failures, title) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT(key) DO UPDATE SET name=excluded.name, "
                "etag=COALESCE(excluded.etag, sources.etag), "
                "last_modified=COALESCE(excluded.last_modified, sources.last_modified), checked=excluded.checked, "
                "ok=excluded.ok, outcome=excluded.outcome, reason=excluded.reason, failures=0, "
                "title=COALESCE(excluded.title, sources.title)",
                (key, name, etag, last_modified, now, now, outcome, reason, title),
            )
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO entries (source, key, link, status, data, first_seen, updated) "
                "VALUES (?, ?, ?, 'new', ?, ?, ?)",
                [(key, k, link, json.dumps(data), now, now) for k, link, data in entries],
            )
            return db.total_changes - before

    def sources(self) -> dict[str, SourceState]:
        with self._lock:
            rows = self.db.execute(
                "SELECT key, etag, last_modified, checked, ok, outcome, reason, failures, title FROM sources"
            ).fetchall()
        return {r[0]: SourceState(*r) for r in rows}

    # --- entries ----------------------------------------------------------------------------

    def pending(self, source: str) -> list[tuple[str, dict[str, Any], int]]:
        """Entries of `source` not saved yet: (key, data, attempts), oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT key, data, attempts FROM entries WHERE source = ? AND status = 'new' ORDER BY rowid",
                (source,),
            ).fetchall()
        return [(k, json.loads(d), a) for k, d, a in rows]

    def link_saved(self, link: str) -> str | None:
        """The source that already saved this link, if any."""
        with self._lock:
            row = self.db.execute(
                "SELECT source FROM entries WHERE link = ? AND status = 'saved' LIMIT 1", (link,)
            ).fetchone()
        return row[0] if row else None

    def known(self, source: str, key: str) -> bool:
        with self._lock:
            return self.db.execute(
                "SELECT 1 FROM entries WHERE source = ? AND key = ?", (source, key)
            ).fetchone() is not None

    def finish(self, source: str, key: str, status: str, path: Path | None = None, reason: str = "") -> None:
        """Mark an entry saved, skipped or failed (for good)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE entries SET status = ?, path = ?, reason = ?, attempts = attempts + 1, updated = ? "
                "WHERE source = ? AND key = ?",
                (status, str(path) if path else None, reason, _now(), source, key),
            )

    def retry_later(self, source: str, key: str, reason: str) -> None:
        """Count a failed attempt; the entry stays new for the next run."""
        with self.transaction() as db:
            db.execute(
                "UPDATE entries SET attempts = attempts + 1, reason = ?, updated = ? WHERE source = ? AND key = ?",
                (reason, _now(), source, key),
            )

    def add_message(self, source: str, key: str, path: Path) -> None:
        """Record a mailbox message copied into the inbox."""
        now = _now()
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO entries (source, key, status, data, path, attempts, first_seen, updated) "
                "VALUES (?, ?, 'saved', '{}', ?, 1, ?, ?)",
                (source, key, str(path), now, now),
            )

    def counts(self) -> dict[str, dict[str, int]]:
        """{source: {status: count}}."""
        with self._lock:
            rows = self.db.execute("SELECT source, status, COUNT(*) FROM entries GROUP BY source, status").fetchall()
        out: dict[str, dict[str, int]] = {}
        for source, status, n in rows:
            out.setdefault(source, {})[status] = n
        return out
