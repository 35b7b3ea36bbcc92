"""Name a page's outlet from what the page declares, else by its registered domain; never guess.

A page title, a byline, a theme credit ("copyright" meta tags) or a file name is never an outlet:
no name is better than a wrong one. Names come, in order, from og:site_name, the JSON-LD
publisher (or WebSite) name, application-name, and the site suffix of the page title when it
names the page's own domain; the registered domain ("nj.com", never "Nj") is the last resort.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

# second-level labels under a country code that are not names ("bbc.co.uk", "uol.com.br")
SECOND_LEVEL = frozenset("co com org net ac gov edu ne or go gob nic mil ltd plc".split())
MAX_NAME_WORDS = 6
MAX_NAME_CHARS = 60
# words that say a tag names a theme, a platform or a rights holder's notice, not an outlet
NOT_A_NAME = re.compile(r"\b(?:theme|powered by|wordpress|blogger|copyright|all rights|rights reserved)\b|©", re.I)
SITE_META = ('.//head/meta[@property="og:site_name"]', './/head/meta[@name="og:site_name"]')
APP_META = './/head/meta[@name="application-name"]'
LD_SCRIPT = './/script[@type="application/ld+json"]'
LD_SITE_TYPES = frozenset({"WebSite", "NewsMediaOrganization"})
WORD = re.compile(r"\w+")
MIN_RUN = 5  # letters of a name's words found together inside a domain label that tie the two


def registered_domain(url: str | None) -> str | None:
    """Return the domain a site registered ("nj.com", "bbc.co.uk") from an http(s) URL, or None."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if "." not in host:
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.split(".")
    n = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL else 2
    return ".".join(labels[-n:])


def site_host(url: str | None) -> str | None:
    """Return the host a page was served from, without "www." ("news.example.com"), or None.

    One registered domain can hold many sites (blogs on a hosting service, papers on a shared
    domain), so pages are one site only when their host is the same.
    """
    if not registered_domain(url):
        return None
    host = (urlsplit(url or "").hostname or "").lower().rstrip(".")
    return host.removeprefix("www.") or None


def as_name(value: object) -> str | None:
    """Return a declared value as an outlet name, or None when it cannot be one (a URL, a notice, a sentence)."""
    if not isinstance(value, str):
        return None
    name = " ".join(value.split()).lstrip("@")
    if not name or len(name) > MAX_NAME_CHARS or len(name.split()) > MAX_NAME_WORDS:
        return None
    if "://" in name or (name.lower().startswith("www.") and " " in name) or NOT_A_NAME.search(name):
        return None
    if not WORD.search(name) or name.endswith((".", "!", "?")):
        return None
    return name


def _compact(text: str) -> str:
    return "".join(WORD.findall(text.lower()))


def _spells(label: str, words: list[str]) -> bool:
    """Tell whether a domain label is spelt by the words in order, each whole, as its initial, or left out."""
    ends = {0}
    for word in words:
        grown = set(ends)
        for end in ends:
            for piece in (word, word[:1]):
                if label.startswith(piece, end):
                    grown.add(end + len(piece))
        ends = grown
    return len(label) in ends


def names_site(name: str, domain: str | None) -> bool:
    """Tell whether a name is the site of a domain ("Los Angeles Times" of latimes.com, "CNBC" of cnbc.com)."""
    if not domain:
        return False
    every = [w for w in WORD.findall(name.lower()) if w != "www"]
    words = [w for w in every if w != "the"]
    if not words:
        return False
    labels = [label.replace("-", "") for label in domain.split(".")[:-1] if label not in SECOND_LEVEL and len(label) > 1]
    return any(_names_label(label, words, every) for label in labels)


def _names_label(label: str, words: list[str], every: list[str]) -> bool:
    """Tell whether a name's words spell a domain label: whole, by initials, or a run of them inside it."""
    if _spells(label, words) or _spells(label, every):
        return True
    runs = ("".join(seq[i:j]) for seq in (words, every) for i in range(len(seq)) for j in range(i + 1, len(seq) + 1))
    if any(len(run) >= MIN_RUN and run in label for run in runs):
        return True  # "San Antonio" in mysanantonio, "The Real Deal" in therealdeal
    return len(label) >= MIN_RUN - 1 and any(w.startswith(label) for w in words)  # "chron" of "Chronicle"


def _meta_content(tree: HtmlElement, xpath: str) -> str | None:
    for element in tree.iterfind(xpath):
        name = as_name(element.get("content"))
        if name:
            return name
    return None


def _ld_objects(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 6:
        return
    if isinstance(value, list):
        for item in value:
            yield from _ld_objects(item, depth + 1)
    elif isinstance(value, dict):
        yield value
        if "@graph" in value:
            yield from _ld_objects(value["@graph"], depth + 1)


def _ld_name(tree: HtmlElement) -> str | None:
    """Return the publisher's (or the WebSite's) name from the page's JSON-LD, or None."""
    for script in tree.iterfind(LD_SCRIPT):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        for item in _ld_objects(data):
            publisher = item.get("publisher")
            if isinstance(publisher, list) and publisher:
                publisher = publisher[0]
            found = as_name(publisher.get("name")) if isinstance(publisher, dict) else None
            kind = item.get("@type")
            if not found and isinstance(kind, str) and kind in LD_SITE_TYPES:
                found = as_name(item.get("name"))
            if found:
                return found
    return None


def declared_name(tree: HtmlElement) -> str | None:
    """Return the outlet name an HTML page declares (og:site_name, JSON-LD publisher, application-name), or None."""
    for xpath in SITE_META:
        found = _meta_content(tree, xpath)
        if found:
            return found
    return _ld_name(tree) or _meta_content(tree, APP_META)


def outlet_name(declared: str | None, title_site: str | None, url: str | None, headline: str | None = None) -> str | None:
    """Choose the outlet: the declared name, the title's site suffix if it names the domain, else the domain.

    `declared` is what the page's metadata (or a text header) names; a name that is the headline, or the
    bare first label of the domain in lower case ("nj" on nj.com), gives way to something better.
    """
    domain = registered_domain(url)
    head = _compact(headline or "")
    name = declared if declared and not (head and _compact(declared) == head) else None
    if name and domain and name == name.lower() and _compact(name) == _compact(domain.split(".")[0]):
        name = domain  # "nj" is how nj.com spells its name in a tag; the domain says it whole
    if name:
        return name
    if title_site and (domain is None or names_site(title_site, domain)):
        return title_site
    return domain
