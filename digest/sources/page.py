"""Turn a fetched page (or a feed's own full text) into an inbox `.html` file that carries the entry's
metadata as meta tags ingest reads: og:title, og:site_name (the feed's name: the outlet), og:url and
article:published_time. The page's JSON-LD is dropped so it cannot override the outlet.
"""

from __future__ import annotations

import codecs
import html
import re

import lxml.html
from lxml import etree

from digest.ingest.html import ENTRY_TITLE  # the feed's headline of the entry, read back by ingest
from digest.sources.feeds import Entry

CHARSET_IN_TYPE = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)
CHARSET_IN_META = re.compile(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", re.I)
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
OUR_PROPERTIES = {"og:site_name", "og:title", "og:url", "article:published_time", ENTRY_TITLE}


def _known(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_page(body: bytes, content_type: str = "") -> str:
    """Decode a page: the HTTP charset, else the page's meta charset, else UTF-8, else detection."""
    for found in (CHARSET_IN_TYPE.search(content_type), CHARSET_IN_META.search(body[:4096])):
        name = found.group(1) if found else None
        enc = _known(name.decode("ascii", "replace") if isinstance(name, bytes) else name) if name else None
        if enc:
            try:
                return body.decode(enc)
            except UnicodeDecodeError:
                break
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:200_000]).best()
        return body.decode(best.encoding if best else "utf-8", errors="replace")


def _meta_tags(entry: Entry, outlet: str, url: str | None) -> list[etree._Element]:
    tags = [lxml.html.Element("meta", charset="utf-8"), lxml.html.Element("meta", property="og:site_name", content=outlet)]
    if entry.title:
        tags.append(lxml.html.Element("meta", property="og:title", content=entry.title))
        tags.append(lxml.html.Element("meta", name=ENTRY_TITLE, content=entry.title))
    if url:
        tags.append(lxml.html.Element("meta", property="og:url", content=url))
    if entry.date:
        tags.append(lxml.html.Element("meta", property="article:published_time", content=entry.date.isoformat()))
    return tags


def page_document(body: bytes, content_type: str, entry: Entry, outlet: str, url: str) -> bytes:
    """The fetched page as UTF-8 HTML with the entry's metadata in its head."""
    text = XML_DECLARATION.sub("", decode_page(body, content_type))
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return feed_document(entry, outlet, fallback_body=html.escape(text))
    head = doc.find("head")
    if head is None:
        head = lxml.html.Element("head")
        doc.insert(0, head)
    for el in list(doc.iter("meta", "script", "link")):
        prop = (el.get("property") or el.get("name") or "").lower()
        is_charset = el.tag == "meta" and (el.get("charset") or (el.get("http-equiv") or "").lower() == "content-type")
        if (
            (el.tag == "meta" and prop in OUR_PROPERTIES)
            or is_charset
            or (el.tag == "script" and (el.get("type") or "").lower() == "application/ld+json")
            or (el.tag == "link" and (el.get("rel") or "").lower() == "canonical")
        ):
            el.drop_tree()
    for i, tag in enumerate(_meta_tags(entry, outlet, entry.link or url)):
        head.insert(i, tag)
    return b"<!DOCTYPE html>\n" + lxml.html.tostring(doc, encoding="utf-8")


def feed_document(entry: Entry, outlet: str, fallback_body: str | None = None) -> bytes:
    """An HTML page built from the feed's own text of the entry (its full content, else its summary)."""
    tags = "\n".join(lxml.html.tostring(t, encoding="unicode") for t in _meta_tags(entry, outlet, entry.link))
    title = html.escape(entry.title or "")
    body = fallback_body or entry.content or entry.summary or ""
    if body and "<" not in body:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip())
    byline = f"<p>{html.escape(entry.author)}</p>" if entry.author else ""
    page = (
        f"<!DOCTYPE html>\n<html><head>\n{tags}\n<title>{title}</title>\n</head>\n"
        f"<body><article><h1>{title}</h1>{byline}\n{body}\n</article></body></html>\n"
    )
    return page.encode("utf-8")
