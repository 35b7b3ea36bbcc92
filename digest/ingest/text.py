"""Plain text and Markdown: an optional `Key: value` header block or front matter, then the body."""

from __future__ import annotations

import re
from pathlib import Path

from digest.ingest.meta import date_from_name, outlet_from_url, parse_date
from digest.models import Meta

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


def text_meta(text: str, path: Path) -> tuple[Meta, str]:
    header, body = split_header_block(text)
    url = header.get("url")
    meta = Meta(
        title=header.get("title") or None,
        outlet=header.get("outlet") or outlet_from_url(url),
        url=url or None,
        date=parse_date(header.get("date")) or date_from_name(path),
        description=header.get("description") or None,
    )
    return meta, body
