"""Find new article files in the inbox, decode them, read their metadata, fingerprint them.

Supported: `.txt`, `.md`, `.html`, `.htm`, `.html.gz`, `.eml`. Temporary names (`.part`, `.tmp`,
`~`, dotfiles) are ignored; the `failed/` folder is skipped. Every problem with one file becomes an
InputError naming the file and the reason; nothing here deletes or moves files.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import errno
import hashlib
import os
import re
import stat
import zlib
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlparse

from digest.deadline import Deadline, DeadlineExceeded
from digest.errors import InputError
from digest.meta.page import html_head
from digest.models import Kind, Meta, RawArticle

SUFFIXES: dict[str, Kind] = {
    ".txt": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
    ".html.gz": "html",
    ".htm.gz": "html",
    ".eml": "email",
}
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp", "~")
SKIP_DIRS = {"failed", "processed"}

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
HEADER_KEYS = {
    "title": "title",
    "headline": "title",
    "outlet": "outlet",
    "source": "outlet",
    "publisher": "outlet",
    "site": "outlet",
    "url": "url",
    "link": "url",
    "date": "date",
    "published": "date",
    "description": "description",
    "summary": "description",
    "author": None,
    "by": None,
    "byline": None,
    "tags": None,
}
HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z -]{0,20}):\s*(.*)$")
DATE_IN_NAME = re.compile(r"(20\d\d)[-_]?(\d\d)[-_]?(\d\d)")
WORD = re.compile(r"\w+")
MAX_DAYS_AHEAD = 366  # a date further ahead than this is a typo or a placeholder, not a publication date


@dataclass(frozen=True)
class Budget:
    """Per-file limits, checked before the expensive work (decoding, parsing, cleaning).

    Each limit keeps one file's time and memory bounded: the costs of HTML parsing and cleaning
    grow with the number of tags, those of the line classifier with lines, e-mail parsing with the
    header section. A file over a budget fails with a reason naming the setting; an overlong header
    field or title is cut with a warning instead.
    """

    max_bytes: int = 5_000_000  # the file (after gunzip)
    max_lines: int = 30_000  # plain text; the longest of 2,814 real text files has 3,775
    # elements: the median of 1,057 real pages has 589, the 99th percentile 3,866, only one over 6,000
    # (10,459); cleaning costs up to about 1 ms an element on a loaded 2-core machine
    max_html_tags: int = 6_000
    max_header_bytes: int = 256_000  # an e-mail's header section, after overlong fields are cut
    max_header_field: int = 16_000  # one e-mail header field; longer ones are cut
    max_title_chars: int = 1_000
    max_mime_parts: int = 500
    max_seconds: float = 60.0  # reading or cleaning one file; a net under the limits above (0: none)


def fingerprint(data: bytes) -> str:
    """Return the content fingerprint of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def article_id(fp: str, path: Path) -> str:
    """Return the short article id: content and file name, so byte-identical copies stay apart."""
    return hashlib.sha256(f"{fp}|{path.name}".encode("utf-8", "surrogateescape")).hexdigest()[:12]


def kind_of(path: Path) -> Kind | None:
    """Return the kind of article a file name promises, or None for files the inbox ignores."""
    name = path.name.lower()
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def is_temporary(path: Path) -> bool:
    """Tell whether a file name marks a file still being written or not meant for us."""
    name = path.name
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


# --- decoding -------------------------------------------------------------------------------

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
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
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


# --- metadata -------------------------------------------------------------------------------

def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        parsed = datetime.fromisoformat(value)  # 3.11 reads "Z" too
    except ValueError:
        match = DATE_IN_NAME.search(value)
        if not match:
            return None
        try:
            parsed = datetime(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    return parsed


def _outlet_from_url(url: str | None) -> str | None:
    if not url:
        return None
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.") or None


def _date_from_name(path: Path) -> datetime | None:
    match = DATE_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def split_header_block(text: str) -> tuple[dict[str, str], str]:
    """Split an optional `Key: value` block (ended by a blank line) from the top of a text file."""
    lines = text.lstrip("\ufeff").split("\n")
    found: dict[str, str] = {}
    if lines and lines[0].strip() == "---":  # Markdown front matter
        for i, line in enumerate(lines[1:40], start=1):
            if line.strip() == "---":
                return found, "\n".join(lines[i + 1 :])
            match = HEADER_LINE.match(line.strip())
            key = HEADER_KEYS.get(match[1].strip().lower()) if match else None
            if key:
                found[key] = match[2].strip().strip("\"'")  # type: ignore[index]
        return {}, text
    for i, line in enumerate(lines[:20]):
        if not line.strip():
            if found and i > 0:
                return found, "\n".join(lines[i + 1 :])
            return {}, text
        match = HEADER_LINE.match(line.strip())
        if not match or match[1].strip().lower() not in HEADER_KEYS:
            return {}, text
        key = HEADER_KEYS[match[1].strip().lower()]
        if key:
            found[key] = match[2].strip()
    return {}, text


def _text_meta(text: str, path: Path) -> tuple[Meta, str]:
    header, body = split_header_block(text)
    url = header.get("url")
    meta = Meta(
        title=header.get("title") or None,
        outlet=header.get("outlet") or _outlet_from_url(url),
        url=url or None,
        date=_parse_date(header.get("date")) or _date_from_name(path),
        description=header.get("description") or None,
    )
    return meta, body


def html_meta(markup: str, path: Path) -> Meta:
    """Read title, site name, URL, date and description from HTML meta tags with trafilatura."""
    from trafilatura import extract_metadata  # heavy import, only for HTML
    from trafilatura.utils import load_html

    try:
        tree = load_html(markup)  # parsed once: trafilatura's metadata and our headline read the same tree
        doc = extract_metadata(tree, default_url=None, extensive=False) if tree is not None else None
        url = doc.url if doc and doc.url and doc.url.startswith(("http://", "https://")) else None
        title, outlet = html_head(tree, doc.title if doc else None, url) if tree is not None else (None, None)
    except Exception:
        return Meta(date=_date_from_name(path))
    return Meta(
        title=title,
        outlet=outlet,
        url=url,
        date=(_parse_date(doc.date) if doc else None) or _date_from_name(path),
        description=(doc.description or None) if doc else None,
    )


# --- e-mail ---------------------------------------------------------------------------------

HEADER_END = re.compile(rb"\r?\n\r?\n")
FIELD_START = re.compile(rb"\n(?=[^ \t])")
FORWARD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|fw|wg|tr|rv)\s*:\s*)+", re.IGNORECASE)
TEXT_ATTACHMENTS = (".txt", ".md", ".html", ".htm")
MARKUP_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200}?)(?:--)?[ \t]*\r?$", re.MULTILINE)
MAX_MIME_DEPTH = 20  # forwarded inside forwarded ...: deeper than this is not a real message
UNUSED_PART_WORDS = 50  # another text part this long is reported when it is not the one digested


def cap_header_fields(data: bytes, path: Path, budget: Budget) -> tuple[bytes, list[str]]:
    """Cut overlong header fields of an e-mail before parsing; refuse a header section still over budget."""
    end = HEADER_END.search(data)
    head, rest = (data[: end.start()], data[end.start() :]) if end else (data, b"")
    if len(head) <= budget.max_header_bytes:
        return data, []
    # a field starts at a line that does not begin with white space; each is cut to the field budget
    starts = [0] + [m.end() for m in FIELD_START.finditer(head)] + [len(head)]
    fields: list[bytes] = []
    warnings = []
    for begin, stop in pairwise(starts):
        value = head[begin:stop]
        if len(value) > budget.max_header_field:
            name = value.split(b":", 1)[0][:40].decode("ascii", "replace")
            warnings.append(f"e-mail header {name} is {len(value):,} bytes; cut to {budget.max_header_field:,}")
            value = value[: budget.max_header_field].rstrip(b"\r\n") + b"\n"
        fields.append(value)
    head = b"".join(fields)
    if len(head) > budget.max_header_bytes:
        raise InputError(
            path,
            f"e-mail header section is {len(head):,} bytes, over the {budget.max_header_bytes:,}-byte budget "
            "(max_header_bytes); save the article itself as .txt or .html",
        )
    return head.rstrip(b"\r\n") + rest, warnings


def _header(msg: Message, name: str, limit: int) -> str:
    """Return a header decoded to text (encoded words too), unfolded and capped at `limit` characters."""
    value = msg.get(name)
    if value is None:
        return ""
    value = re.sub(r"\r?\n[ \t]+", " ", str(value)[:limit])
    try:
        return str(make_header(decode_header(value))).strip()
    except Exception:
        return value.strip()


@dataclass
class _Part:
    """One text part of an e-mail that may hold the article."""

    text: str
    is_html: bool
    words: int
    owner: Message  # the message whose headers describe it: the e-mail, or a forwarded one
    group: int  # parts of one multipart/alternative share a group


def _words_in(text: str, is_html: bool) -> int:
    return len(WORD.findall(MARKUP_TAG.sub(" ", text) if is_html else text))


def _part_text(part: Message, path: Path) -> str | None:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload.strip():
        return None
    charset = part.get_content_charset()
    if charset:
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return decode(payload, path)[0]
    except InputError:
        return None  # a binary attachment that only looks like text by its name


def _reparse_multipart(part: Message) -> Message | None:
    """Re-read a multipart whose declared boundary is missing or wrong, with the boundary its body uses."""
    body = part.get_payload()
    if not isinstance(body, str):
        return None
    counts: dict[str, int] = {}
    for match in BOUNDARY_LINE.finditer(body):
        counts[match[1]] = counts.get(match[1], 0) + 1
    found = [b for b, n in counts.items() if n >= 2 and b != part.get_boundary()]
    if not found:
        return None
    boundary = max(found, key=lambda b: counts[b])
    header = f'Content-Type: {part.get_content_type()}; boundary="{boundary}"\n\n'
    reparsed = email.message_from_string(header + body, policy=email.policy.compat32)
    return reparsed if reparsed.is_multipart() else None


def _text_parts(msg: Message, path: Path, budget: Budget) -> list[_Part]:
    """Every part that may hold the article: bodies, text/HTML attachments, forwarded messages, broken MIME."""
    found: list[_Part] = []
    queue: list[tuple[Message, int, Message, int]] = [(msg, 0, msg, 0)]
    seen = 0
    while queue:
        part, depth, owner, group = queue.pop(0)
        seen += 1
        if seen > budget.max_mime_parts:
            raise InputError(path, f"e-mail has over {budget.max_mime_parts:,} MIME parts; save the article by itself")
        if depth > MAX_MIME_DEPTH:
            raise InputError(path, f"e-mail parts nested over {MAX_MIME_DEPTH} deep; save the article by itself")
        ctype = part.get_content_type()
        if part.is_multipart():
            payload = part.get_payload()
            assert isinstance(payload, list)
            for n, sub in enumerate(payload):
                if part.get_content_maintype() == "message":  # a forwarded message: its own headers
                    queue.append((sub, depth + 1, sub, seen * 1000 + n))
                else:
                    alternative = ctype == "multipart/alternative"
                    queue.append((sub, depth + 1, owner, seen if alternative else seen * 1000 + n))
            continue
        if part.get_content_maintype() == "multipart":  # boundary missing or wrong
            reparsed = _reparse_multipart(part)
            if reparsed is not None:
                queue.append((reparsed, depth + 1, owner, group))
                continue
            body = part.get_payload()
            if isinstance(body, str) and body.strip():
                found.append(_Part(body, False, _words_in(body, False), owner, seen * 1000))
            continue
        name = (part.get_filename() or "").lower()
        if name.endswith(".eml") or ctype == "message/rfc822":
            inner = part.get_payload(decode=True)
            if isinstance(inner, bytes) and inner.strip():
                sub = email.message_from_bytes(inner, policy=email.policy.compat32)
                queue.append((sub, depth + 1, sub, seen * 1000))
            continue
        is_html = ctype == "text/html" or name.endswith((".html", ".htm"))
        if ctype not in ("text/plain", "text/html", "text/markdown") and not name.endswith(TEXT_ATTACHMENTS):
            continue
        text = _part_text(part, path)
        if text and text.strip():
            found.append(_Part(text, is_html, _words_in(text, is_html), owner, group if group else seen * 1000))
    return found


def _choose(parts: list[_Part]) -> tuple[_Part | None, list[_Part]]:
    """Pick the part with the most words; within one multipart/alternative the plain text wins."""
    groups: dict[int, list[_Part]] = {}
    for part in parts:
        groups.setdefault(part.group, []).append(part)
    picks = []
    for members in groups.values():
        plain = [p for p in members if not p.is_html and p.words]
        picks.append(plain[0] if plain else max(members, key=lambda p: p.words))
    if not picks:
        return None, []
    best = max(picks, key=lambda p: p.words)  # the first of equals: the message's own body
    return best, [p for p in picks if p is not best]


def _email_article(data: bytes, path: Path, budget: Budget) -> tuple[str, Meta, bool, list[str]]:
    data, warnings = cap_header_fields(data, path, budget)
    limit = budget.max_header_field
    try:
        # compat32 parses headers lazily and linearly; the default policy's parser is not linear
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        best, others = _choose(_text_parts(msg, path, budget))
    except InputError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise InputError(path, f"e-mail structure too deep or too large to read ({exc.__class__.__name__})") from exc
    except Exception as exc:  # the email package raises many kinds of errors on broken input
        raise InputError(path, f"not a readable e-mail message ({exc.__class__.__name__}: {exc})") from exc
    unused = [p for p in others if p.words >= UNUSED_PART_WORDS]
    if unused:
        warnings.append(f"{len(unused)} other text part(s) of the e-mail not digested (only the longest is)")
    if best is None:
        return "", Meta(), False, warnings
    owner = best.owner
    subject = FORWARD_PREFIX.sub("", _header(owner, "Subject", limit) or _header(msg, "Subject", limit))
    sender = _header(owner, "From", limit) or _header(msg, "From", limit)
    date_value = _header(owner, "Date", limit) or _header(msg, "Date", limit)
    name, address = parseaddr(sender)
    outlet = name or (address.split("@")[-1] if "@" in address else None)
    body, is_html = best.text, best.is_html
    if is_html:
        check_markup(body, path, budget)
    else:
        check_lines(body, path, budget)
    meta_html = html_meta(body, path) if is_html else Meta()
    header, text_body = ({}, body) if is_html else split_header_block(body)
    meta = Meta(
        title=subject or header.get("title") or meta_html.title,
        outlet=outlet or header.get("outlet") or meta_html.outlet,
        url=header.get("url") or meta_html.url,
        date=_parse_date(date_value) or _parse_date(header.get("date")) or meta_html.date or _date_from_name(path),
        description=meta_html.description,
    )
    return (body if is_html else text_body), meta, is_html, warnings


# --- reading files --------------------------------------------------------------------------

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
    data, _ = _read_checked(path, max_bytes, root)
    return _unpack(data, path, max_bytes)


def _unpack(data: bytes, path: Path, max_bytes: int) -> bytes:
    return gunzip(data, path, max_bytes) if path.name.lower().endswith(".gz") else data


def _read_checked(path: Path, max_bytes: int, root: Path | None) -> tuple[bytes, os.stat_result]:
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


# --- budgets --------------------------------------------------------------------------------

NOT_ELEMENTS = re.compile(rb"<(script|style|noscript|template)\b|<!--", re.IGNORECASE)


def _opening(data: bytes, start: int, end: int | None = None) -> int:
    return data.count(b"<", start, end) - data.count(b"</", start, end)


def count_tags(markup: bytes) -> int:
    """Count the tags a parser turns into elements (opening tags outside scripts and comments), in linear time."""
    lower = markup.lower()
    count = pos = 0
    while True:
        match = NOT_ELEMENTS.search(lower, pos)
        if match is None:
            return count + _opening(lower, pos)
        count += _opening(lower, pos, match.start()) + 1
        closer = b"-->" if match[0] == b"<!--" else b"</" + match[1]
        end = lower.find(closer, match.end())
        if end < 0:
            return count + _opening(lower, match.end())  # never closed: count the rest as markup
        pos = end + len(closer)


def check_markup(markup: str | bytes, path: Path, budget: Budget) -> None:
    """Refuse HTML with more tags than the budget before any parser sees it (cost grows with tags)."""
    data = markup if isinstance(markup, bytes) else markup.encode("utf-8", "surrogatepass")
    if data.count(b"<") - data.count(b"</") <= budget.max_html_tags:
        return
    tags = count_tags(data)
    if tags > budget.max_html_tags:
        raise InputError(
            path,
            f"the page has {tags:,} tags, over the {budget.max_html_tags:,}-tag budget (max_html_tags); "
            "save the article alone (or raise the budget)",
        )


def check_lines(data: bytes | str, path: Path, budget: Budget) -> None:
    """Refuse a text with more lines than the budget before it is decoded and classified."""
    lines = data.count(b"\n") if isinstance(data, bytes) else data.count("\n")
    if lines > budget.max_lines:
        raise InputError(
            path, f"file has {lines:,} lines, over the {budget.max_lines:,}-line budget (max_lines); not an article"
        )


def sane_date(value: datetime | None, now: datetime | None = None) -> datetime | None:
    """Return the date if a news article can carry it (1970 to a year ahead), else None."""
    if value is None:
        return None
    current = now or datetime.now(UTC)
    try:
        stamp = value.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    if stamp < 0 or stamp > current.timestamp() + MAX_DAYS_AHEAD * 86400:
        return None
    return value


def cap_title(title: str | None, limit: int) -> str | None:
    """Cut an overlong title at a word boundary within `limit` characters, marking the cut."""
    if title is None or len(title) <= limit:
        return title
    cut = title[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _within_budget(meta: Meta, path: Path, budget: Budget, warnings: list[str]) -> Meta:
    """Drop absurd dates and cut overlong titles, with a warning for each."""
    date = sane_date(meta.date)
    if meta.date is not None and date is None:
        warnings.append(f"date {meta.date.isoformat()} is out of range; the article is kept without a date")
    title = cap_title(meta.title, budget.max_title_chars)
    if title != meta.title:
        warnings.append(f"title of {len(meta.title or ''):,} characters cut to {budget.max_title_chars:,} (max_title_chars)")
    description = cap_title(meta.description, budget.max_title_chars * 4)
    if (date, title, description) == (meta.date, meta.title, meta.description):
        return meta
    return replace(meta, date=date, title=title, description=description)


def parse(data: bytes, path: Path, kind: Kind, budget: Budget | None = None) -> RawArticle:
    """Turn one file's bytes into a RawArticle; raise InputError when it holds no usable text.

    The budget's structural limits (lines, tags, header size) are checked before decoding and parsing.
    """
    budget = budget or Budget()
    if not data.strip():
        raise InputError(path, "empty file" if not data else "file holds only whitespace")
    fp = fingerprint(data)
    body_is_html = False
    warnings: list[str] = []
    if kind == "email":
        text, meta, body_is_html, warnings = _email_article(data, path, budget)
        encoding = "email"
    else:
        if kind == "html":
            check_markup(data, path, budget)
        else:
            check_lines(data, path, budget)
        text, encoding = decode(data, path)
        if kind == "html":
            meta = html_meta(text, path)
        else:
            meta, text = _text_meta(text, path)
    if not text.strip():
        raise InputError(path, "no text in the file")
    return RawArticle(
        id=article_id(fp, path),
        path=path,
        fingerprint=fp,
        kind=kind,
        text=text,
        meta=_within_budget(meta, path, budget, warnings),
        encoding=encoding,
        size=len(data),
        body_is_html=body_is_html,
        warnings=tuple(warnings),
    )


def load_file(path: Path, max_bytes: int = 5_000_000, budget: Budget | None = None) -> RawArticle:
    """Read, decode and parse one article file; raise InputError naming the file and the reason."""
    path = Path(path)
    budget = budget or Budget(max_bytes=max_bytes)
    kind = kind_of(path)
    if kind is None:
        raise InputError(path, "unsupported file type (use .txt, .md, .html, .htm, .html.gz or .eml)")
    return parse_safely(read_bytes(path, budget.max_bytes), path, kind, budget)


def parse_safely(data: bytes, path: Path, kind: Kind, budget: Budget) -> RawArticle:
    """Parse, turning any failure inside the parsers into an InputError for this file alone."""
    try:
        with Deadline(budget.max_seconds):
            return parse(data, path, kind, budget)
    except InputError:
        raise
    except DeadlineExceeded as exc:
        raise InputError(path, f"reading took over {budget.max_seconds:g} s (max_file_seconds); save the article alone") from exc
    except RecursionError as exc:
        raise InputError(path, "markup nested too deeply to parse") from exc
    except MemoryError as exc:
        raise InputError(path, "ran out of memory reading this file; save the article alone") from exc
    except Exception as exc:  # a parser bug on one file must not stop the others
        raise InputError(path, f"could not be read ({exc.__class__.__name__}: {exc}); please report it") from exc


# --- holding many files ---------------------------------------------------------------------

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


# --- scanning the inbox ---------------------------------------------------------------------

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
    data, before = _read_checked(path, budget.max_bytes, root)
    age = now - before.st_mtime
    if settle_seconds and abs(age) < settle_seconds:
        return None  # changed moments ago (or the clock jumped): a copy may be under way
    try:
        after = os.stat(path, follow_symlinks=True)
    except FileNotFoundError as exc:
        raise InputError(path, "the file vanished while it was being read") from exc
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != before.st_size:
        return None  # it changed while we read it
    return _unpack(data, path, budget.max_bytes)


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
