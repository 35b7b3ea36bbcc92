"""Per-file limits (the Budget) and the cheap structural checks made before any parser runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import InputError

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
