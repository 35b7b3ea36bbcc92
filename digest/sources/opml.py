"""OPML subscription lists: read the feeds out of one, write one from the configured sources."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from digest.errors import ConfigError
from digest.settings import Source


def read_opml(path: Path) -> list[Source]:
    """Every feed outline (`xmlUrl`) of an OPML file; a folder outline's title becomes a tag."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ConfigError(f"{path} is not valid OPML/XML ({exc}); export it again from your feed reader") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    body = root.find("body")
    if root.tag.lower() != "opml" or body is None:
        raise ConfigError(f"{path} is not an OPML file (no <opml><body>); export it again from your feed reader")
    found: list[Source] = []
    seen: set[str] = set()

    def walk(node: ET.Element, tags: list[str]) -> None:
        for outline in node.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            name = (outline.get("title") or outline.get("text") or "").strip() or None
            if url:
                if url.lower().startswith(("http://", "https://")) and url not in seen:
                    seen.add(url)
                    cats = [c.strip().strip("/") for c in (outline.get("category") or "").split(",") if c.strip()]
                    found.append(Source(url=url, name=name, tags=[*tags, *[c for c in cats if c]]))
            else:
                walk(outline, [*tags, name] if name else tags)

    walk(body, [])
    return found


def write_opml(sources: list[Source], title: str = "digest subscriptions") -> str:
    """An OPML 2.0 document listing the feed sources (Maildir sources have no place in OPML)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for s in sources:
        if s.url is None:
            continue
        attrs = {"type": "rss", "text": s.name or s.url, "xmlUrl": s.url}
        if s.name:
            attrs["title"] = s.name
        if s.tags:
            attrs["category"] = ",".join(s.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
