"""HTML pages: headline, outlet, URL, date and description from the page's own metadata and structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digest.ingest.meta import date_from_name, parse_date
from digest.meta.page import html_head
from digest.models import Meta

ENTRY_TITLE = "digest-entry-title"  # written by `digest fetch` (digest.sources.page): the feed's headline of the entry


def entry_title(tree: Any) -> str | None:
    """The headline a feed gave a page `digest fetch` saved; None for any other page."""
    if tree is None:
        return None
    for meta in tree.iterfind(f".//meta[@name='{ENTRY_TITLE}']"):
        content = " ".join((meta.get("content") or "").split())
        if content:
            return content
    return None


def html_meta(markup: str, path: Path) -> Meta:
    """Read headline, outlet, URL, date and description: trafilatura's metadata and our headline read one parsed tree."""
    from trafilatura import extract_metadata  # heavy import, only for HTML
    from trafilatura.utils import load_html

    try:
        tree = load_html(markup)  # parsed once: trafilatura's metadata and our headline read the same tree
        doc = extract_metadata(tree, default_url=None, extensive=False) if tree is not None else None
        url = doc.url if doc and doc.url and doc.url.startswith(("http://", "https://")) else None
        title, outlet = html_head(tree, doc.title if doc else None, url) if tree is not None else (None, None)
        title = entry_title(tree) or title
    except Exception:
        return Meta(date=date_from_name(path))
    return Meta(
        title=title,
        outlet=outlet,
        url=url,
        date=(parse_date(doc.date) if doc else None) or date_from_name(path),
        description=(doc.description or None) if doc else None,
    )
