"""HTML pages: title, site name, URL, date and description from the page's meta tags."""

from __future__ import annotations

from pathlib import Path

from digest.ingest.meta import date_from_name, outlet_from_url, parse_date
from digest.models import Meta


def html_meta(markup: str, path: Path) -> Meta:
    """Read title, site name, URL, date and description from HTML meta tags with trafilatura."""
    from trafilatura import extract_metadata  # heavy import, only for HTML

    try:
        doc = extract_metadata(markup, default_url=None, extensive=False)
    except Exception:
        return Meta(date=date_from_name(path))
    url = doc.url if doc and doc.url and doc.url.startswith(("http://", "https://")) else None
    return Meta(
        title=(doc.title or None) if doc else None,
        outlet=((doc.sitename or None) if doc else None) or outlet_from_url(url),
        url=url,
        date=(parse_date(doc.date) if doc else None) or date_from_name(path),
        description=(doc.description or None) if doc else None,
    )
