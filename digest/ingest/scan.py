"""Looking at the inbox: which files are new, settled and readable; each parsed, or failed with its reason."""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import InputError
from digest.ingest.budget import Budget
from digest.ingest.parse import fingerprint, kind_of, parse_safely
from digest.ingest.read import read_checked, unpack
from digest.models import RawArticle

TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp", "~")


def is_temporary(path: Path) -> bool:
    """Tell whether a file name marks a file still being written or not meant for us."""
    name = path.name
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # would break a log line or drive a terminal


def safe_text(text: str) -> str:
    """Return `text` as it can be stored, printed and put in a page: each byte of a name that is not
    valid UTF-8 (a latin-1 name from an old FTP drop) spelt `\\xNN`, any other lone surrogate `\\udNNN`,
    and control characters (a newline, an escape sequence in a file name) spelt the same way."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def shown(path: Path) -> Path:
    """Return `path` spelt by `safe_text`; the same file always gets the same spelling, so its article id
    stays the same from run to run."""
    text = str(path)
    safe = safe_text(text)
    return path if safe == text else Path(safe)


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
    """What one look at the inbox found (every path spelt by `shown`)."""

    new: list[RawArticle] = field(default_factory=list)
    failed: list[tuple[InputError, str]] = field(default_factory=list)  # (error, fingerprint or pseudo)
    seen: int = 0  # files whose fingerprint the state store already knows
    waiting: list[Path] = field(default_factory=list)  # still being written: left for the next run
    ignored: list[Path] = field(default_factory=list)  # temporary names, unsupported types
    warnings: list[tuple[Path, str]] = field(default_factory=list)  # kept, with something dropped
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # folders not looked into, and why


def candidates(
    inbox: Path, skipped: list[tuple[Path, str]] | None = None, exclude: Iterable[Path] = ()
) -> Iterator[Path]:
    """Yield the inbox's files in a stable order, every subfolder included (a source may be named "Failed").

    Hidden folders, links to folders, folders that cannot be read and the `exclude` folders (the
    outbox or state folder when they lie inside the inbox) are not looked into; each is added to
    `skipped` with the reason, so nothing under the inbox is passed over without a word.
    """
    out = skipped if skipped is not None else []
    excluded = {_identity(p) for p in exclude} - {None}

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else inbox
        out.append((shown(where), f"cannot be read ({exc.strerror or exc}); its files are not digested"))

    for root, dirs, files in os.walk(inbox, onerror=unreadable, followlinks=False):
        here = Path(root)
        keep = []
        for d in sorted(dirs):
            sub = here / d
            if d.startswith("."):
                out.append((shown(sub), "a hidden folder: not looked into"))
            elif sub.is_symlink():
                out.append((shown(sub), "a link to a folder: not followed"))
            elif _identity(sub) in excluded:
                continue  # digest's own outbox or state folder
            else:
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            yield here / name


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _pseudo_fingerprint(path: Path) -> str:
    """Fingerprint a file we could not read whole, from its name, size and time."""
    try:
        st = path.lstat()
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        key = str(path)
    return "unread:" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _settled(
    path: Path, budget: Budget, settle_seconds: float, now: float, root: Path, whole: bool = False
) -> bytes | None:
    """Read a file that has stopped changing; return None while it is still being written.

    `whole`: the file was written by digest itself (an atomic rename), so it is complete the moment it
    appears and the settle time does not apply.
    """
    data, before = read_checked(path, budget.max_bytes, root)
    age = now - before.st_mtime
    if settle_seconds and not whole and abs(age) < settle_seconds:
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
    written: Container[str] = (),
    exclude: Iterable[Path] = (),
) -> Scan:
    """Find the inbox files the state store has not seen; decode and parse each.

    `is_known(fingerprint)` tells whether a fingerprint was already handled. A file changed in the
    last `settle_seconds` (or while being read) is left for the next run, unless its absolute path is
    in `written` (files digest saved itself, whole). `exclude`: folders not to look into (the outbox
    or state when inside the inbox). Files are never moved. With `pack`, each article's text is kept
    compressed (see `unpacked`), so a large inbox fits in memory. Paths in the result are spelt by
    `shown`; the files are read by their real names.
    """
    known = is_known if callable(is_known) else is_known.__contains__
    clock = now or (lambda: datetime.now(UTC).timestamp())
    budget = budget or Budget(max_bytes=max_bytes)
    result = Scan()
    if not inbox.is_dir():
        return result
    root = inbox.resolve()
    for path in candidates(inbox, result.skipped, exclude):
        name = shown(path)
        kind = None if is_temporary(path) else kind_of(path)
        if kind is None:
            result.ignored.append(name)
            continue
        try:
            whole = bool(written) and os.path.abspath(path) in written
            data = _settled(path, budget, settle_seconds, clock(), root, whole)
        except InputError as err:
            pseudo = _pseudo_fingerprint(path)
            if not known(pseudo):
                result.failed.append((InputError(name, safe_text(err.reason)), pseudo))
            else:
                result.seen += 1
            continue
        if data is None:
            result.waiting.append(name)
            continue
        fp = fingerprint(data)
        if known(fp):
            result.seen += 1
            continue
        try:
            raw = parse_safely(data, name, kind, budget)
        except InputError as err:
            result.failed.append((InputError(name, safe_text(err.reason)), fp))
            continue
        result.new.append(packed(raw) if pack else raw)
        result.warnings.extend((name, w) for w in raw.warnings)
    return result
