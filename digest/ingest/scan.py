"""Looking at the inbox: which files are new, settled and readable; each parsed, or failed with its reason."""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import InputError
from digest.ingest.budget import Budget
from digest.ingest.parse import fingerprint, kind_of, parse_safely
from digest.ingest.read import read_checked, unpack
from digest.models import RawArticle

TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp", "~")
SKIP_DIRS = {"failed", "processed"}


def is_temporary(path: Path) -> bool:
    """Tell whether a file name marks a file still being written or not meant for us."""
    name = path.name
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def packed(raw: RawArticle) -> RawArticle:
    """Return the article with its text compressed: a run holds every new file until it is cleaned."""
    if raw.packed or not raw.text:
        return raw
    return replace(raw, text="", packed=zlib.compress(raw.text.encode("utf-8", "surrogatepass"), 1))


def unpacked(raw: RawArticle) -> RawArticle:
    """Return the article with its text back (unchanged when it was never packed)."""
    if not raw.packed:
        return raw
    return replace(raw, text=zlib.decompress(raw.packed).decode("utf-8", "surrogatepass"), packed=b"")


@dataclass
class Scan:
    """What one look at the inbox found."""

    new: list[RawArticle] = field(default_factory=list)
    failed: list[tuple[InputError, str]] = field(default_factory=list)  # (error, fingerprint or pseudo)
    seen: int = 0  # files whose fingerprint the state store already knows
    waiting: list[Path] = field(default_factory=list)  # still being written: left for the next run
    ignored: list[Path] = field(default_factory=list)  # temporary names, unsupported types
    warnings: list[tuple[Path, str]] = field(default_factory=list)  # kept, with something dropped


def candidates(inbox: Path) -> Iterator[Path]:
    """Yield the inbox's files in a stable order, skipping failed/ and hidden folders."""
    for root, dirs, files in os.walk(inbox, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            yield Path(root) / name


def _pseudo_fingerprint(path: Path) -> str:
    """Fingerprint a file we could not read whole, from its name, size and time."""
    try:
        st = path.lstat()
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        key = str(path)
    return "unread:" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _settled(path: Path, budget: Budget, settle_seconds: float, now: float, root: Path) -> bytes | None:
    """Read a file that has stopped changing; return None while it is still being written."""
    data, before = read_checked(path, budget.max_bytes, root)
    age = now - before.st_mtime
    if settle_seconds and abs(age) < settle_seconds:
        return None  # changed moments ago (or the clock jumped): a copy may be under way
    try:
        after = os.stat(path, follow_symlinks=True)
    except FileNotFoundError as exc:
        raise InputError(path, "the file vanished while it was being read") from exc
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != before.st_size:
        return None  # it changed while we read it
    return unpack(data, path, budget.max_bytes)


def scan(
    inbox: Path,
    is_known: Callable[[str], bool] | Container[str],
    max_bytes: int = 5_000_000,
    settle_seconds: float = 0.0,
    now: Callable[[], float] | None = None,
    budget: Budget | None = None,
    pack: bool = False,
) -> Scan:
    """Find the inbox files the state store has not seen; decode and parse each.

    `is_known(fingerprint)` tells whether a fingerprint was already handled. A file changed in the
    last `settle_seconds` (or while being read) is left for the next run. Files are never moved.
    With `pack`, each article's text is kept compressed (see `unpacked`), so a large inbox fits in memory.
    """
    known = is_known if callable(is_known) else is_known.__contains__
    clock = now or (lambda: datetime.now(UTC).timestamp())
    budget = budget or Budget(max_bytes=max_bytes)
    result = Scan()
    if not inbox.is_dir():
        return result
    root = inbox.resolve()
    for path in candidates(inbox):
        if is_temporary(path):
            result.ignored.append(path)
            continue
        kind = kind_of(path)
        if kind is None:
            result.ignored.append(path)
            continue
        try:
            data = _settled(path, budget, settle_seconds, clock(), root)
        except InputError as err:
            pseudo = _pseudo_fingerprint(path)
            if not known(pseudo):
                result.failed.append((err, pseudo))
            else:
                result.seen += 1
            continue
        if data is None:
            result.waiting.append(path)
            continue
        fp = fingerprint(data)
        if known(fp):
            result.seen += 1
            continue
        try:
            raw = parse_safely(data, path, kind, budget)
        except InputError as err:
            result.failed.append((err, fp))
            continue
        result.new.append(packed(raw) if pack else raw)
        result.warnings.extend((path, w) for w in raw.warnings)
    return result
