"""HTML pages: headline, outlet, URL, date and description from the page's own metadata and structure."""

from __future__ import annotations

from pathlib import Path

from digest.ingest.meta import date_from_name, parse_date
from digest.meta.page import html_head
from digest.models import Meta


def html_meta(markup: str, path: Path) -> Meta:
    """Read headline, outlet, URL, date and description: trafilatura's metadata and our headline read one parsed tree."""
    from trafilatura import extract_metadata  # heavy import, only for HTML
    from trafilatura.utils import load_html

    try:
        tree = load_html(markup)  # parsed once: trafilatura's metadata and our headline read the same tree
        doc = extract_metadata(tree, default_url=None, extensive=False) if tree is not None else None
        url = doc.url if doc and doc.url and doc.url.startswith(("http://", "https://")) else None
        title, outlet = html_head(tree, doc.title if doc else None, url) if tree is not None else (None, None)
    except Exception:
        return Meta(date=date_from_name(path))
    return Meta(
        title=title,
        outlet=outlet,
        url=url,
        date=(parse_date(doc.date) if doc else None) or date_from_name(path),
        description=(doc.description or None) if doc else None,
    )
