"""Find new article files in the inbox, decode them, read their metadata, fingerprint them.

Supported: `.txt`, `.md`, `.html`, `.htm`, `.html.gz`, `.eml`. Temporary names (`.part`, `.tmp`,
`~`, dotfiles) are ignored; the `failed/` folder is skipped. Every problem with one file becomes an
InputError naming the file and the reason; nothing here deletes or moves files.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import hashlib
import os
import re
import zlib
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlparse

from digest.errors import InputError
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
    from charset_normalizer import from_bytes  # imported late: only non-UTF-8 files need it

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
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
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

    try:
        doc = extract_metadata(markup, default_url=None, extensive=False)
    except Exception:  # trafilatura raises assorted errors on broken markup; metadata is optional
        return Meta(date=_date_from_name(path))
    url = doc.url if doc and doc.url and doc.url.startswith(("http://", "https://")) else None
    return Meta(
        title=(doc.title or None) if doc else None,
        outlet=((doc.sitename or None) if doc else None) or _outlet_from_url(url),
        url=url,
        date=(_parse_date(doc.date) if doc else None) or _date_from_name(path),
        description=(doc.description or None) if doc else None,
    )


def _email_body(msg: EmailMessage) -> tuple[str, bool]:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", False
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    return content, part.get_content_subtype() == "html"


def _email_article(data: bytes, path: Path) -> tuple[str, Meta, bool]:
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        body, is_html = _email_body(msg)
        subject = str(msg.get("Subject", "") or "").strip()
        sender = str(msg.get("From", "") or "")
        date_value = str(msg.get("Date", "") or "")
    except Exception as exc:  # the email package raises many kinds of errors on broken input
        raise InputError(path, f"not a readable e-mail message ({exc.__class__.__name__}: {exc})") from exc
    name, address = parseaddr(sender)
    outlet = name or (address.split("@")[-1] if "@" in address else None)
    meta_html = html_meta(body, path) if is_html and body else Meta()
    header, text_body = ({}, body) if is_html else split_header_block(body)
    meta = Meta(
        title=subject or header.get("title") or meta_html.title,
        outlet=outlet or header.get("outlet") or meta_html.outlet,
        url=header.get("url") or meta_html.url,
        date=_parse_date(date_value) or meta_html.date or _date_from_name(path),
        description=meta_html.description,
    )
    return (body if is_html else text_body), meta, is_html


# --- reading files --------------------------------------------------------------------------

def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a file's bytes (gunzipping .gz), enforcing the size cap; raise InputError with the reason."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise InputError(path, "the file vanished before it could be read") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror})") from exc
    if size > max_bytes:
        raise InputError(path, f"file is {size:,} bytes, over the {max_bytes:,}-byte cap (max_file_bytes)")
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise InputError(path, "the file vanished before it could be read") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror}); check its permissions") from exc
    if len(data) > max_bytes:
        raise InputError(path, f"file grew over the {max_bytes:,}-byte cap while being read")
    if path.name.lower().endswith(".gz"):
        try:
            # bounded decompression: a gzip bomb cannot exceed the cap
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(data, max_bytes + 1)
        except zlib.error as exc:
            raise InputError(path, f"broken gzip data ({exc})") from exc
        if len(data) > max_bytes:
            raise InputError(path, f"file unpacks to over the {max_bytes:,}-byte cap")
    return data


def parse(data: bytes, path: Path, kind: Kind) -> RawArticle:
    """Turn one file's bytes into a RawArticle; raise InputError when it holds no usable text."""
    if not data.strip():
        raise InputError(path, "empty file" if not data else "file holds only whitespace")
    fp = fingerprint(data)
    body_is_html = False
    if kind == "email":
        text, meta, body_is_html = _email_article(data, path)
        encoding = "email"
    else:
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
        meta=meta,
        encoding=encoding,
        size=len(data),
        body_is_html=body_is_html,
    )


def load_file(path: Path, max_bytes: int = 5_000_000) -> RawArticle:
    """Read, decode and parse one article file; raise InputError naming the file and the reason."""
    path = Path(path)
    kind = kind_of(path)
    if kind is None:
        raise InputError(path, "unsupported file type (use .txt, .md, .html, .htm, .html.gz or .eml)")
    return parse(read_bytes(path, max_bytes), path, kind)


# --- scanning the inbox ---------------------------------------------------------------------

@dataclass
class Scan:
    """What one look at the inbox found."""

    new: list[RawArticle] = field(default_factory=list)
    failed: list[tuple[InputError, str]] = field(default_factory=list)  # (error, fingerprint or pseudo)
    seen: int = 0  # files whose fingerprint the state store already knows
    waiting: list[Path] = field(default_factory=list)  # still being written: left for the next run
    ignored: list[Path] = field(default_factory=list)  # temporary names, unsupported types


def candidates(inbox: Path) -> Iterator[Path]:
    """Yield the inbox's files in a stable order, skipping failed/ and hidden folders."""
    for root, dirs, files in os.walk(inbox, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            yield Path(root) / name


def _pseudo_fingerprint(path: Path) -> str:
    """Fingerprint a file we could not read whole, from its name, size and time."""
    try:
        st = path.stat()
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        key = str(path)
    return "unread:" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def scan(
    inbox: Path,
    is_known: Callable[[str], bool] | Container[str],
    max_bytes: int = 5_000_000,
    settle_seconds: float = 0.0,
    now: Callable[[], float] | None = None,
) -> Scan:
    """Find the inbox files the state store has not seen; decode and parse each.

    `is_known(fingerprint)` tells whether a fingerprint was already handled. Files are never moved.
    """
    known = is_known if callable(is_known) else is_known.__contains__
    clock = now or (lambda: datetime.now(UTC).timestamp())
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
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise InputError(path, "symbolic link pointing outside the inbox; copy the file in instead")
            before = path.stat()
            if not path.is_file():
                raise InputError(path, "not a regular file")
            if settle_seconds and clock() - before.st_mtime < settle_seconds:
                result.waiting.append(path)
                continue
            data = read_bytes(path, max_bytes)
            after = path.stat()
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                result.waiting.append(path)  # still being written: next run
                continue
        except InputError as err:
            pseudo = _pseudo_fingerprint(path)
            if not known(pseudo):
                result.failed.append((err, pseudo))
            else:
                result.seen += 1
            continue
        except FileNotFoundError:
            pseudo = _pseudo_fingerprint(path)
            if not known(pseudo):
                result.failed.append((InputError(path, "the file vanished before it could be read"), pseudo))
            continue
        except OSError as err:
            pseudo = _pseudo_fingerprint(path)
            if not known(pseudo):
                result.failed.append((InputError(path, f"cannot read the file ({err.strerror})"), pseudo))
            continue
        fp = fingerprint(data)
        if known(fp):
            result.seen += 1
            continue
        try:
            result.new.append(parse(data, path, kind))
        except InputError as err:
            result.failed.append((err, fp))
        except RecursionError:
            result.failed.append((InputError(path, "markup nested too deeply to parse"), fp))
    return result
