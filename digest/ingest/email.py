"""E-mail (.eml): pick the part holding the article (bodies, attachments, forwarded messages, broken MIME)."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr
from itertools import pairwise
from pathlib import Path

from digest.errors import InputError
from digest.ingest.budget import Budget, check_lines, check_markup
from digest.ingest.html import html_meta
from digest.ingest.meta import date_from_name, parse_date
from digest.ingest.read import decode
from digest.ingest.text import split_header_block
from digest.models import Meta

WORD = re.compile(r"\w+")


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


def email_article(data: bytes, path: Path, budget: Budget) -> tuple[str, Meta, bool, list[str]]:
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
        date=parse_date(date_value) or parse_date(header.get("date")) or meta_html.date or date_from_name(path),
        description=meta_html.description,
    )
    return (body if is_html else text_body), meta, is_html, warnings
