"""Read a feed's bytes into entries: RSS 0.9x/1.0/2.0 and Atom with feedparser (which tolerates
broken real-world feeds), JSON Feed 1.0/1.1 with the json module (feedparser does not read it).
"""

from __future__ import annotations

import calendar
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from digest.errors import FetchError

TAGS = re.compile(r"<[^>]+>")
JSON_TYPES = ("application/feed+json", "application/json")


@dataclass(frozen=True)
class Entry:
    """One feed item: where it is and what the feed itself says about it."""

    key: str  # the guid/id, else the link: an entry is fetched once per source, ever
    link: str | None
    title: str | None
    date: datetime | None
    content: str | None  # the full article as HTML, when the feed carries it
    summary: str | None  # a teaser (HTML or text)
    author: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "link": self.link,
            "title": self.title,
            "date": self.date.isoformat() if self.date else None,
            "content": self.content,
            "summary": self.summary,
            "author": self.author,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        date = datetime.fromisoformat(data["date"]) if data.get("date") else None
        return cls(data["key"], data.get("link"), data.get("title"), date, data.get("content"),
                   data.get("summary"), data.get("author"))


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its own title and link, its entries (duplicates removed), and any complaint."""

    kind: str  # rss20, atom10, json11, ...
    title: str | None
    link: str | None
    entries: tuple[Entry, ...]
    warning: str | None = None  # the feed is broken but readable (feedparser's bozo reason)


def words(markup: str | None) -> int:
    """Count the words of an HTML or text fragment."""
    if not markup:
        return 0
    return len(html.unescape(TAGS.sub(" ", markup)).split())


def _date(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = " ".join(html.unescape(TAGS.sub(" ", value)).split())
    return cleaned or None


def _dedupe(entries: list[Entry]) -> tuple[Entry, ...]:
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if entry.key not in seen:
            seen.add(entry.key)
            kept.append(entry)
    return tuple(kept)


def is_json_feed(data: bytes, content_type: str = "") -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return content_type in JSON_TYPES or (head.startswith(b"{") and b"jsonfeed.org" in data[:4096])


def parse_json_feed(data: bytes, url: str) -> Feed:
    """Parse a JSON Feed (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(url, f"not a valid JSON Feed ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FetchError(url, "not a JSON Feed: no \"items\" list")
    version = str(doc.get("version", ""))
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        link = urljoin(url, link) if isinstance(link, str) and link.strip() else None
        key = item.get("id") if item.get("id") not in (None, "") else link
        if key is None:
            continue
        content = item.get("content_html")
        if not isinstance(content, str) and isinstance(item.get("content_text"), str):
            content = "".join(f"<p>{html.escape(p)}</p>" for p in item["content_text"].split("\n\n") if p.strip())
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")), None)
        entries.append(Entry(
            key=str(key),
            link=link,
            title=_text(item.get("title")),
            date=_iso(item.get("date_published")) or _iso(item.get("date_modified")),
            content=content if isinstance(content, str) and content.strip() else None,
            summary=item.get("summary") if isinstance(item.get("summary"), str) else None,
            author=author,
        ))
    kind = "json" + ("11" if version.endswith("1.1") else "10")
    home = doc.get("home_page_url")
    return Feed(kind, _text(doc.get("title")), home if isinstance(home, str) else None, _dedupe(entries))


def parse_xml_feed(data: bytes, url: str, content_type: str = "") -> Feed:
    """Parse RSS/Atom with feedparser; raise FetchError when the bytes are no feed at all."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # a file object: feedparser never treats it as a URL or file name to open
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, resolve_relative_uris=True)
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"{exc.__class__.__name__}: {exc}" if exc else "malformed feed"
    if not parsed.entries and not parsed.get("version"):
        raise FetchError(url, f"not a feed (no RSS, Atom or JSON Feed found{'; ' + warning if warning else ''})")
    if not parsed.entries and warning:
        raise FetchError(url, f"broken feed with no readable entry ({warning})")
    entries = []
    for item in parsed.entries:
        link = item.get("link") or None
        key = item.get("id") or link
        if not key:
            continue
        full = [c for c in item.get("content", []) if c.get("value")]
        html_parts = [c for c in full if "html" in str(c.get("type", ""))] or full
        content = html_parts[0]["value"] if html_parts else None
        if content and "html" not in str(html_parts[0].get("type", "")):
            content = "".join(f"<p>{html.escape(p)}</p>" for p in content.split("\n\n") if p.strip())
        entries.append(Entry(
            key=str(key),
            link=urljoin(url, link) if link else None,
            title=_text(item.get("title")),
            date=_date(item.get("published_parsed")) or _date(item.get("updated_parsed")),
            content=content,
            summary=item.get("summary") or None,
            author=item.get("author") or None,
        ))
    feed = parsed.get("feed", {})
    return Feed(parsed.get("version") or "unknown", _text(feed.get("title")), feed.get("link") or None,
                _dedupe(entries), warning)


def parse_feed(data: bytes, url: str, content_type: str = "") -> Feed:
    """Parse feed bytes of any supported format; raise FetchError naming what is wrong."""
    if not data.strip():
        raise FetchError(url, "empty response, not a feed")
    if is_json_feed(data, content_type):
        return parse_json_feed(data, url)
    return parse_xml_feed(data, url, content_type)
