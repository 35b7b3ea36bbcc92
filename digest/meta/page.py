"""Read one page's headline and outlet: the two calls ingest makes, for HTML and for plain text."""

from __future__ import annotations

from collections.abc import Collection

from lxml.html import HtmlElement

from digest.meta.headline import MAX_LINE_WORDS, SENTENCE_END, html_headline, text_headline, title_site, tokens
from digest.meta.outlet import declared_name, outlet_name

SHORT_LINE = 12  # a first line longer than this that ends a sentence is the article's prose: no title line
TITLE_SHARE = 0.8  # the first line of a copied page is its <title> when it holds this share of the headline's words


def _page_title(tree: HtmlElement) -> str:
    element = tree.find(".//head//title")
    if element is None:
        element = tree.find(".//title")
    try:
        return " ".join(element.text_content().split()) if element is not None else ""
    except ValueError:
        return ""


def html_head(tree: HtmlElement, meta_title: str | None, url: str | None) -> tuple[str | None, str | None]:
    """Return (headline, outlet) of a parsed HTML page; `meta_title` is trafilatura's, `url` its own address."""
    headline = html_headline(tree, meta_title, url) or meta_title or None
    site = title_site(_page_title(tree), headline)
    return headline, outlet_name(declared_name(tree), site, url, headline)


def text_head(
    body: str,
    title: str | None = None,
    outlet: str | None = None,
    url: str | None = None,
    rule_title: str | None = None,
    refused: Collection[str] = frozenset(),
) -> tuple[str | None, str | None]:
    """Return (headline, outlet) of a plain-text page; `title`, `outlet`, `url` come from its header block, if any.

    `rule_title` is the line the clean stage's layout rules read as the title (the model weighs it), `refused`
    the lines they read as chrome or as the article's text (never the headline).
    The first line of a copied page is its `<title>` when it holds the headline: what is left of it
    ("... - SlashGear") may name the site.
    """
    first = first_line(body)
    picked = text_headline(body, rule_title) if not title and title_like(first) else None
    headline = title or settle(body, first, picked, rule_title, refused)
    site = title_site(first, headline) if headline and _holds(first, headline) else None
    return headline, outlet_name(outlet, site, url, headline)


def first_line(body: str) -> str:
    """Return the first non-blank line of a page (a copied page's <title>)."""
    return next((line.strip() for line in body.split("\n", 40)[:40] if line.strip()), "")


def settle(
    body: str, first: str, picked: str | None, rule_title: str | None, refused: Collection[str] = frozenset()
) -> str | None:
    """Return the model's pick, or the layout rules' where they refuse the model's line or only theirs has the title line's word.

    `refused` holds the normalised lines the rules read as chrome (a label, a menu, a byline) or as the article's text.
    """
    if not picked or not title_like(first) or " ".join(tokens(picked)) in refused:
        return rule_title
    if rule_title and not _confirmed(body, first, picked) and (_confirmed(body, first, rule_title) or picked == first):
        return rule_title  # the title line vouches only for the rules' pick, or the model's is that line alone
    return picked


def title_like(first: str) -> bool:
    """Tell whether a page's first line can be its <title> or headline (the model reads such pages; prose starts others)."""
    return 0 < len(first.split()) <= MAX_LINE_WORDS and not (len(first.split()) > SHORT_LINE and SENTENCE_END.search(first))


def _confirmed(body: str, first: str, headline: str) -> bool:
    """Tell whether the page's <title> line (holding more than the headline, or printed again) vouches for a headline."""
    return _holds(first, headline) and (tokens(first) != tokens(headline) or body.count(headline) > 1)


def _holds(first: str, headline: str) -> bool:
    """Tell whether a page's first line (its <title>) holds most of a headline's words."""
    words, line = tokens(headline), set(tokens(first))
    return bool(words) and sum(w in line for w in words) >= TITLE_SHARE * len(words)
