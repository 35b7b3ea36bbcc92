"""The state store: one SQLite file that remembers articles, digests, stories, deliveries and runs.

Articles reach `included`/`duplicate` only in the same transaction that records the digest holding
them, after its files are written, so a run that dies part-way leaves them pending for the next run.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.errors import RunInProgress, StateError
from digest.ingest.scan import safe_text
from digest.models import ArticleRecord
from digest.store_base import SqliteStore
from digest.store_base import now as _now

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'included', 'duplicate', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    conditions TEXT NOT NULL DEFAULT '',
    duplicate_of TEXT,
    digest_id INTEGER REFERENCES digests(id),
    kept INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_fingerprint ON articles(fingerprint);
CREATE INDEX IF NOT EXISTS articles_status ON articles(status);
CREATE INDEX IF NOT EXISTS articles_path ON articles(path);
CREATE TABLE IF NOT EXISTS digests (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    day TEXT NOT NULL,
    path TEXT NOT NULL,
    message_id TEXT NOT NULL,
    stories INTEGER NOT NULL,
    articles INTEGER NOT NULL,
    delivery TEXT NOT NULL DEFAULT 'unsent',
    delivery_reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY,
    memory TEXT NOT NULL,
    shown TEXT NOT NULL DEFAULT '[]',
    last_digest INTEGER REFERENCES digests(id),
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    outcome TEXT NOT NULL DEFAULT 'running',
    summary TEXT NOT NULL DEFAULT '{}'
);
"""

DONE = ("included", "duplicate", "failed")
REPAIR = "run `digest repair` to rebuild it from the outbox (nothing is sent or digested again)"


def describe(exc: BaseException, path: Path) -> str:
    """Say in one line what is wrong with the state store at `path` and what to do."""
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return (f"the state store {path} is locked by another program ({text}); "
                "close it (or wait for it) and try again")
    if "readonly" in lowered or "read-only" in lowered or isinstance(exc, PermissionError) or "unable to open" in lowered:
        return (f"cannot write the state store {path} ({text}); "
                "make the state folder writable or pass --state DIR")
    damaged = isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
    if damaged or "malformed" in lowered or "not a database" in lowered:
        return f"the state store {path} is damaged ({text}); {REPAIR}"
    return f"cannot use the state store {path} ({text}); if it is damaged, {REPAIR}"


@dataclass(frozen=True)
class DigestRow:
    id: int
    created: str
    day: str
    path: str
    message_id: str
    stories: int
    articles: int
    delivery: str
    delivery_reason: str
    attempts: int
    sent_at: str | None


@dataclass(frozen=True)
class StoryRow:
    id: str
    memory: str  # JSON from the cluster stage
    shown: list[str]  # summary sentences already shown to readers


class StateStore(SqliteStore):
    """Open (creating when missing) the SQLite state file; use as a context manager or call close()."""

    SCHEMA = SCHEMA
    PRAGMAS = ("PRAGMA foreign_keys=ON",)
    CHECK_INTEGRITY = True

    def __init__(self, path: Path, timeout: float = 30.0, threads: bool = False) -> None:
        super().__init__(path, timeout, threads)
        try:
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(articles)")}
            if "conditions" not in columns:  # a store made before failures kept their conditions
                self.db.execute("ALTER TABLE articles ADD COLUMN conditions TEXT NOT NULL DEFAULT ''")
        except sqlite3.Error as exc:
            self.db.close()
            raise self.open_error(exc) from exc

    def open_error(self, exc: BaseException) -> StateError:
        return StateError(describe(exc, self.path))

    def is_empty(self) -> bool:
        """Whether the store knows no article and no digest (new, or lost and created again)."""
        row = self.db.execute("SELECT (SELECT COUNT(*) FROM articles) + (SELECT COUNT(*) FROM digests)").fetchone()
        return not row[0]

    # --- articles ---------------------------------------------------------------------------

    def known_fingerprints(self, conditions: str | None = None) -> set[str]:
        """Fingerprints of files already handled (included, duplicate or failed).

        With `conditions` (the settings a failure may depend on, see `digest.inbox.conditions_of`), a
        file that failed under other conditions is not known: a changed setting gives it another try.
        """
        if conditions is None:
            rows = self.db.execute(
                f"SELECT DISTINCT fingerprint FROM articles WHERE status IN ({','.join('?' * len(DONE))})", DONE
            )
        else:
            rows = self.db.execute(
                "SELECT DISTINCT fingerprint FROM articles WHERE status IN ('included', 'duplicate') "
                "OR (status = 'failed' AND conditions = ?)",
                (conditions,),
            )
        return {r[0] for r in rows}

    def add_pending(self, items: Iterable[tuple[str, str, str]]) -> None:
        """Record (id, fingerprint, path) of new articles as pending, unless already done."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO articles (id, fingerprint, path, status, first_seen, updated) "
                "VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT(id) DO UPDATE SET path=excluded.path, "
                "updated=excluded.updated WHERE articles.status = 'pending'",
                [(i, fp, p, now, now) for i, fp, p in items],
            )

    def article(self, article_id: str) -> dict[str, Any] | None:
        cur = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,))
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None

    def articles(self, status: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM articles" + (" WHERE status = ?" if status else "") + " ORDER BY path"
        cur = self.db.execute(sql, (status,) if status else ())
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM articles GROUP BY status").fetchall())

    # --- digests ----------------------------------------------------------------------------

    def commit_digest(
        self,
        *,
        day: str,
        path: Path,
        message_id: str,
        stories: int,
        records: Sequence[tuple[ArticleRecord, str]],
        story_rows: Sequence[StoryRow],
        delivery: str,
        delivery_reason: str = "",
        conditions: str = "",
    ) -> int:
        """Record a written digest and mark its articles done, in one transaction; return its id.

        `records` pairs each article's outcome with its fingerprint; `conditions` are those its failures
        were found under. An older failure of the same file (another fingerprint) is superseded.
        """
        now = _now()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO digests (created, day, path, message_id, stories, articles, delivery, delivery_reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (now, day, str(path), message_id, stories, len(records), delivery, delivery_reason),
            )
            digest_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO articles (id, fingerprint, path, status, reason, conditions, duplicate_of, digest_id, "
                "kept, dropped, first_seen, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET status=excluded.status, reason=excluded.reason, "
                "conditions=excluded.conditions, duplicate_of=excluded.duplicate_of, digest_id=excluded.digest_id, "
                "kept=excluded.kept, dropped=excluded.dropped, path=excluded.path, updated=excluded.updated",
                [
                    (r.id, fp, r.path, r.status, r.reason, conditions if r.status == "failed" else "", r.duplicate_of,
                     digest_id, r.kept, r.dropped, now, now)
                    for r, fp in records
                ],
            )
            _supersede(db, [(r.id, r.path) for r, _ in records])
            db.executemany(
                "INSERT INTO stories (id, memory, shown, last_digest, updated) VALUES (?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET memory=excluded.memory, shown=excluded.shown, "
                "last_digest=excluded.last_digest, updated=excluded.updated",
                [(s.id, s.memory, json.dumps(s.shown), digest_id, now) for s in story_rows],
            )
        return digest_id

    def record_failures(self, records: Sequence[tuple[ArticleRecord, str]], conditions: str = "") -> None:
        """Mark files that could not be used as failed, with their reasons and the conditions they failed
        under (no digest needed); an older failure of the same file is superseded."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO articles (id, fingerprint, path, status, reason, conditions, first_seen, updated) "
                "VALUES (?,?,?,'failed',?,?,?,?) ON CONFLICT(id) DO UPDATE SET status='failed', "
                "reason=excluded.reason, conditions=excluded.conditions, updated=excluded.updated "
                "WHERE articles.status != 'included'",
                [(r.id, fp, r.path, r.reason, conditions, now, now) for r, fp in records],
            )
            _supersede(db, [(r.id, r.path) for r, _ in records])

    def release(self, digest_id: int, reason: str) -> int:
        """A digest nobody received is gone from the outbox: its articles go back to pending (digested
        again by the next run) and it is marked `lost`; return how many articles were released."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE articles SET status = 'pending', reason = '', digest_id = NULL, updated = ? "
                "WHERE digest_id = ? AND status IN ('included', 'duplicate')",
                (_now(), digest_id),
            )
            released = cur.rowcount
            # the sentences it showed never reached a reader: its stories are told afresh, not as updates
            db.execute("DELETE FROM stories WHERE last_digest = ?", (digest_id,))
            db.execute("UPDATE digests SET delivery = 'lost', delivery_reason = ? WHERE id = ?", (reason, digest_id))
        return released

    def digests(self, limit: int | None = None, delivery: str | None = None) -> list[DigestRow]:
        sql = "SELECT * FROM digests" + (" WHERE delivery = ?" if delivery else "") + " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self.db.execute(sql, (delivery,) if delivery else ()).fetchall()
        return [DigestRow(*r) for r in rows]

    def digest_by_path(self, path: Path) -> DigestRow | None:
        row = self.db.execute("SELECT * FROM digests WHERE path = ?", (str(path),)).fetchone()
        return DigestRow(*row) if row else None

    def digest_by_message_id(self, message_id: str) -> DigestRow | None:
        """Return the first digest recorded with this Message-ID (its identity, whatever the path's spelling)."""
        row = self.db.execute("SELECT * FROM digests WHERE message_id = ? ORDER BY id", (message_id,)).fetchone()
        return DigestRow(*row) if row else None

    def set_path(self, digest_id: int, path: Path) -> None:
        """Record where a digest's files are now (an older run may have spelt the path differently)."""
        self.db.execute("UPDATE digests SET path = ? WHERE id = ?", (str(path), digest_id))

    def digest_articles(self, digest_id: int) -> list[dict[str, Any]]:
        """The articles a digest marked done, with their fingerprints."""
        cur = self.db.execute("SELECT * FROM articles WHERE digest_id = ? ORDER BY path", (digest_id,))
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def set_delivery(self, digest_id: int, delivery: str, reason: str = "", attempt: bool = False) -> None:
        """Record a digest's delivery state ('sending' is written before the SMTP conversation)."""
        self.db.execute(
            "UPDATE digests SET delivery = ?, delivery_reason = ?, attempts = attempts + ?, "
            "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
            (delivery, reason, 1 if attempt else 0, delivery, _now(), digest_id),
        )

    # --- stories ----------------------------------------------------------------------------

    def stories(self) -> list[StoryRow]:
        rows = self.db.execute("SELECT id, memory, shown FROM stories ORDER BY id").fetchall()
        return [StoryRow(i, m, json.loads(s)) for i, m, s in rows]

    # --- runs -------------------------------------------------------------------------------

    def start_run(self) -> int:
        cur = self.db.execute("INSERT INTO runs (started) VALUES (?)", (_now(),))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, outcome: str, summary: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE runs SET finished = ?, outcome = ?, summary = ? WHERE id = ?",
            (_now(), outcome, json.dumps(summary), run_id),
        )

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        names = [c[0] for c in cur.description]
        out = [dict(zip(names, r)) for r in cur.fetchall()]
        for run in out:
            run["summary"] = json.loads(run["summary"] or "{}")
        return out


def _supersede(db: sqlite3.Connection, outcomes: Sequence[tuple[str, str]]) -> None:
    """Forget the failures of files just recorded again under another id (their content or the way they
    were read changed): `digest status` shows what is failed now, not before."""
    db.executemany(
        "DELETE FROM articles WHERE path = ? AND id != ? AND status = 'failed'",
        [(path, aid) for aid, path in outcomes],
    )


@contextmanager
def run_lock(state_dir: Path, wait: bool = False, folders: Sequence[tuple[str, Path]] = ()) -> Iterator[None]:
    """Hold the state folder's run lock, then each of `folders` ((name, path): the inbox, the outbox);
    the OS releases them if the process dies.

    The folders are locked themselves, whatever state folder a run uses: two runs from two working
    folders (two default `.digest` folders) never digest the same inbox or write the same outbox at
    once. Raises RunInProgress when another run holds a lock and `wait` is False.
    """
    lock_path = state_dir / "run.lock"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateError(
            f"cannot use the state folder {state_dir}: {exc.strerror or exc}; make it writable or pass --state DIR"
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunInProgress(
                f"another run is in progress (pid {holder}, lock {lock_path}); wait for it to finish"
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        with _folder_locks(folders, wait):
            yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def _folder_locks(folders: Sequence[tuple[str, Path]], wait: bool) -> Iterator[None]:
    """Lock each existing folder (its directory, so a read-only inbox can be locked too), each one once."""
    fds: list[int] = []
    seen: set[tuple[int, int]] = set()
    try:
        for name, folder in folders:
            try:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue  # missing or unreadable: the run says so itself (check_folders)
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) in seen:
                os.close(fd)
                continue  # the same folder twice (inbox = outbox): one lock
            seen.add((st.st_dev, st.st_ino))
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise RunInProgress(
                    f"another run is using the {name} {safe_text(str(folder))} (perhaps with another state folder); "
                    "wait for it to finish"
                ) from exc
            except OSError:
                continue  # a file system without locks: the state folder's lock still holds
        yield
    finally:
        for fd in fds:
            os.close(fd)
