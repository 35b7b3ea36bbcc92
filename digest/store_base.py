"""The open-and-migrate plumbing of digest's SQLite files (the state store, the sources store).

A store names its schema (idempotent `CREATE ... IF NOT EXISTS` statements), its pragmas and how to
word a failure; `SqliteStore` opens the file (creating it and its folder), applies both, and offers
all-or-nothing transactions. Autocommit outside them (`isolation_level=None`), WAL, full fsync.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from digest.errors import StateError

BASE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL")


def now() -> str:
    """The current UTC time as stored in every table (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqliteStore:
    """One SQLite file with its schema applied; use as a context manager or call close().

    Subclasses set SCHEMA, may add PRAGMAS, set CHECK_INTEGRITY to refuse a damaged file at once,
    and override `open_error` to say what went wrong and what to do. Transactions are serialised
    by a lock, so a store opened with `threads=True` can be shared between threads.
    """

    SCHEMA = ""
    PRAGMAS: tuple[str, ...] = ()
    CHECK_INTEGRITY = False

    def __init__(self, path: Path, timeout: float = 30.0, threads: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=not threads)
        except (sqlite3.Error, OSError) as exc:
            raise self.open_error(exc) from exc
        try:
            for pragma in (*BASE_PRAGMAS, *self.PRAGMAS):
                self.db.execute(pragma)
            if self.CHECK_INTEGRITY:
                check = self.db.execute("PRAGMA quick_check").fetchone()
                if check and check[0] != "ok":
                    raise sqlite3.DatabaseError(f"database disk image is malformed ({check[0]})")
            self.db.executescript(self.SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            self.db.close()
            raise self.open_error(exc) from exc

    def open_error(self, exc: BaseException) -> StateError:
        """The error raised when the file cannot be opened or migrated."""
        return StateError(f"cannot open {self.path}: {exc}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one immediate transaction: all or nothing."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
