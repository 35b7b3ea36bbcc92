"""Reading one file safely: open without following swapped links, read within the cap, gunzip, decode."""

from __future__ import annotations

import codecs
import errno
import os
import stat
import zlib
from pathlib import Path

from digest.errors import InputError

# Magic numbers of common binary formats, for a clear reason instead of garbage text.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "an executable"),
    (b"SQLite format 3", "a SQLite database"),
)
# Detection restricted to encodings real articles use: on short texts an open search picks
# exotic code pages (cp775 for latin-1 French, say).
COMMON_ENCODINGS = (
    "cp1252", "latin_1", "iso8859_15", "cp1251", "koi8_r", "cp1250", "iso8859_2", "cp1253",
    "iso8859_7", "cp1254", "iso8859_9", "cp1255", "cp1256", "shift_jis", "euc_jp", "gb18030",
    "big5", "euc_kr", "mac_roman",
)


CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))  # not whitespace, not ESC


def _binary_reason(data: bytes) -> str | None:
    for magic, what in MAGIC:
        if data.startswith(magic):
            return f"binary file ({what}), not an article"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return None
    sample = data[:65536]
    if b"\x00" in sample:
        return "binary file (contains NUL bytes), not an article"
    # control characters other than whitespace are rare in text in any 8-bit encoding
    controls = len(sample) - len(sample.translate(None, CONTROL_BYTES))  # counted in C, not byte by byte
    if sample and controls / len(sample) > 0.05:
        return "binary file (control bytes), not an article"
    return None


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """Decode bytes to text: BOMs, UTF-8, then detection; return (text, encoding) or raise InputError."""
    reason = _binary_reason(data)
    if reason:
        raise InputError(path, reason)
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as exc:
                raise InputError(path, f"invalid {enc} text after its byte-order mark ({exc.reason})") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import (
        from_bytes,  # imported late: only non-UTF-8 files need it
    )

    matches = list(from_bytes(data[:200_000], cp_isolation=list(COMMON_ENCODINGS)))
    # ties (cp1250 and cp1252 read most Latin text equally well) go to the more common encoding
    rank = {enc: i for i, enc in enumerate(COMMON_ENCODINGS)}
    matches.sort(key=lambda m: (round(m.chaos, 3), -round(m.coherence, 3), rank.get(m.encoding, 99)))
    for match in matches[:3]:
        try:
            text = data.decode(match.encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        return text, _plainest_name(data, text, match.encoding)
    # mostly UTF-8 with a few broken bytes: keep the text, mark the damage
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") <= max(3, len(text) // 200):
        return text, "utf-8 (with invalid bytes replaced)"
    raise InputError(path, "cannot tell the text encoding (not UTF-8, no known encoding fits); save it as UTF-8")


def _plainest_name(data: bytes, text: str, encoding: str) -> str:
    """Name the most common encoding that gives the same text (latin text reads alike in several)."""
    for candidate in COMMON_ENCODINGS[: COMMON_ENCODINGS.index(encoding) if encoding in COMMON_ENCODINGS else 3]:
        try:
            if data.decode(candidate) == text:
                return candidate
        except UnicodeDecodeError:
            continue
    return encoding


OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _opened_path(fd: int) -> Path | None:
    """Return the real path of an open file descriptor, where the system tells it (Linux /proc)."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def open_safely(path: Path, root: Path | None = None) -> int:
    """Open a file for reading without following a symlink at the last step; check what was opened.

    A symlink inside the inbox is followed only to a target inside `root`; the target is opened with
    O_NOFOLLOW, and the open descriptor is checked (fstat: a regular file; its real path: inside
    `root`), so a link swapped in between the check and the open cannot read a file outside.
    Non-blocking, so a FIFO cannot hang the run. Return the descriptor; raise InputError.
    """
    target = path
    try:
        if path.is_symlink():
            real = Path(os.path.realpath(path))
            if root is not None and not real.is_relative_to(root):
                raise InputError(path, "symbolic link pointing outside the inbox; copy the file in instead")
            target = real
        fd = os.open(target, OPEN_FLAGS)
    except FileNotFoundError as exc:
        raise InputError(path, "the file vanished before it could be read") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(path, "became a symbolic link while being opened; not followed") from exc
        if exc.errno in (errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):
            raise InputError(path, "not a regular file") from exc
        raise InputError(path, f"cannot read the file ({exc.strerror}); check its permissions") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(path, "not a regular file")
        if root is not None:
            opened = _opened_path(fd)
            if opened is None:  # no /proc: the path opened must still be this file, inside the inbox
                real = Path(os.path.realpath(target))
                same = os.stat(real)
                opened = real if (same.st_dev, same.st_ino) == (st.st_dev, st.st_ino) else Path("/")
            if not opened.is_relative_to(root):
                raise InputError(path, "resolves outside the inbox (a link was swapped while it was opened); not read")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_fd(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def gunzip(data: bytes, path: Path, max_bytes: int) -> bytes:
    """Unpack every member of gzip data within the size cap; a stream cut short fails as truncated."""
    out = bytearray()
    rest = data
    members = 0
    while rest:
        if members and not rest.strip(b"\x00"):
            break  # zero padding after the last member (tape and some tools add it)
        if members and not rest.startswith(b"\x1f\x8b"):
            raise InputError(path, f"{len(rest):,} bytes of unknown data after the gzip stream; the file is damaged")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            # bounded decompression: a gzip bomb cannot exceed the cap
            out += inflater.decompress(rest, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise InputError(path, f"broken gzip data ({exc})") from exc
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise InputError(path, f"file unpacks to over the {max_bytes:,}-byte cap")
        if not inflater.eof:
            raise InputError(
                path, f"the gzip data is truncated after {len(out):,} bytes (cut short, or still being copied)"
            )
        rest = inflater.unused_data
        members += 1
    return bytes(out)


def read_bytes(path: Path, max_bytes: int, root: Path | None = None) -> bytes:
    """Read a file's bytes (gunzipping .gz), enforcing the size cap; raise InputError with the reason."""
    data, _ = read_checked(path, max_bytes, root)
    return unpack(data, path, max_bytes)


def unpack(data: bytes, path: Path, max_bytes: int) -> bytes:
    return gunzip(data, path, max_bytes) if path.name.lower().endswith(".gz") else data


def read_checked(path: Path, max_bytes: int, root: Path | None) -> tuple[bytes, os.stat_result]:
    """Open safely, read within the cap; return the bytes and the fstat taken before reading."""
    fd = open_safely(path, root)
    try:
        before = os.fstat(fd)
        if before.st_size > max_bytes:
            raise InputError(path, f"file is {before.st_size:,} bytes, over the {max_bytes:,}-byte cap (max_file_bytes)")
        try:
            data = _read_fd(fd, max_bytes + 1)
        except OSError as exc:
            raise InputError(path, f"cannot read the file ({exc.strerror})") from exc
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InputError(path, f"file grew over the {max_bytes:,}-byte cap while being read")
    return data, before
