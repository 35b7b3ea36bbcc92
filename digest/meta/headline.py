"""Find a page's headline as the outlet printed it: candidates, their features, and the learned pick.

HTML candidates come from the page's metadata and structure (og:title, twitter:title, JSON-LD
headline, trafilatura's metadata title, `<title>` and its segments, h1-h3 and headline-classed
elements); plain-text candidates are the lines near the top and the segments of the first line
(a copied page starts with its `<title>`). A logistic model per kind scores every candidate from
what it looks like and how it agrees with the page title; the best one is the headline. The
weights are data (`headline_model.json`), fitted and measured out-of-fold by `bench/headlines.py`.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from lxml.html import HtmlElement

from digest.meta.outlet import declared_name, names_site, registered_domain

WORD = re.compile(r"\w+")
# "Headline - Site", "Site | Section | Headline", "Blog :: Post", "Site » Headline"
SEPARATOR = re.compile(r"\s+(?:\||-{1,2}|–|—|::|:|·|»|«|/)\s+|\s*(?:\||»)\s*|(?<=\w)(?:-|–|—)\s+")
MARKUP = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*[\s/>]|=\"")  # a broken page's tags read as text
SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
MAX_TITLE_PIECES = 4  # a page title names its site among at most this many pieces
MAX_LINE_WORDS = 30  # the longest of 272 headlines found as a line of a copied page has 24 words
MAX_TEXT_LINES = 250  # a copied page's headline stands in its first lines, under the menus
MAX_CANDIDATE_WORDS = 50
LEDE_BLOCKS = 3  # prose blocks after a candidate that make its lede
LEDE_PAGE = 250  # blocks whose prose words make the page's vocabulary
CODE = re.compile(r"[{};]\s*$|\bvar\s+\w+\s*=|function\s*\(|font-size|sans-serif|^(?:\w ){4,}\w$")
PROSE_WORDS = 25  # a block this long is article prose (or other prose), not a headline
MIN_BODY_WORDS = 2  # a headline printed in the body has at least this many words
MAX_BLOCKS = 1500  # text elements of a page's body read as candidates (its headline is near the top)
# the elements that may hold a headline, and the kinds they are grouped into
TAG_KINDS = {
    "h1": "h1", "h2": "h2", "h3": "h3", "h4": "h4", "h5": "h4", "h6": "h4", "b": "bold", "strong": "bold",
    "font": "font", "big": "font", "a": "link", "td": "cell", "th": "cell", "div": "div", "span": "span",
    "p": "para", "li": "item", "header": "div", "dt": "item", "dd": "item",
}
CANDIDATE_TAGS = tuple(TAG_KINDS)
INNER_BLOCKS = ("div", "p", "table", "td", "tr", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "header", "section", "article")
TITLE_CLASS = re.compile(r"headline|title|heading|hdr|head\b|entry|story|article")
META_TITLES = (
    './/head/meta[@property="og:title"]',
    './/head/meta[@name="twitter:title"]',
    './/meta[@itemprop="headline"]',
)
LD_SCRIPT = './/script[@type="application/ld+json"]'
DESCRIPTIONS = ('.//head/meta[@name="description"]', './/head/meta[@property="og:description"]')
STEM_TAIL = 2.0  # a candidate whose text begins another's no longer than this many times its own is that one's stem
# a candidate made only of these words is a section, a label or an interface line, not a headline
LABEL_WORDS = frozenset(
    "news latest breaking home top stories story world national local politics business sport sports opinion "
    "blog blogs comments comment share email print search menu advertisement sponsored ad ads more related "
    "video videos photos photo gallery weather login sign in subscribe about contact us the a of and".split()
)
UI_WORDS = re.compile(
    r"\b(?:click|subscribe|sign in|log in|login|register|share this|e-?mail this|print this|comments?\b|"
    r"advertisement|sponsored|posted by|read more|related|copyright|all rights)\b",
    re.IGNORECASE,
)
MONTHS = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|\b(?:19|20)\d\d\b", re.I)


def tokens(text: str) -> list[str]:
    """Return a text's lower-cased word tokens."""
    return WORD.findall(text.lower())


def token_f1(found: str, truth: str) -> float:
    """Return the F1 of word tokens between a found headline and the true one (multiset overlap)."""
    a, b = Counter(tokens(found)), Counter(tokens(truth))
    same = sum((a & b).values())
    if not same:
        return 0.0
    precision, recall = same / sum(a.values()), same / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def segments(title: str) -> list[str]:
    """Split a page title on its separators ("Headline - Site | Section"): the pieces, in order."""
    return [piece.strip() for piece in SEPARATOR.split(title) if piece and piece.strip()]


def _name_like(piece: str) -> bool:
    """Tell whether a title segment can be a site's name: short, capitalised or a domain, no sentence."""
    words = piece.split()
    if not 1 <= len(words) <= 5 or len(piece) > 40 or SENTENCE_END.search(piece):
        return False
    if len(words) == 1 and "." in piece.strip("."):
        return True  # "nj.com"
    key = tokens(piece)
    return (bool(key) and not set(key) <= LABEL_WORDS and piece[:1].isupper()) or piece[:1].isdigit()


def title_site(title: str | None, headline: str | None) -> str | None:
    """Return the segment of a page title that names the site ("... | TheHill"), or None.

    The site is the last segment (or the first, "Site: Headline"), never the headline's own words.
    """
    if not title:
        return None
    pieces = segments(title)
    if not 2 <= len(pieces) <= MAX_TITLE_PIECES:
        return None  # more pieces than headline, section and site: a menu ("NASCAR | F1 | Indy | MotoGP")
    head = tokens(headline or "")
    for piece in (pieces[-1], pieces[0]):
        key = tokens(piece)
        # a piece that is most of the headline is the headline; a name may recur inside it ("9to5Mac Gift Guide")
        if _name_like(piece) and not (head and set(key) <= set(head) and 2 * len(key) >= len(head)):
            return piece
    return None


# --- features -------------------------------------------------------------------------------


def _shape(text: str) -> dict[str, float]:
    """Features of a candidate's own look: length, case, punctuation, labels."""
    words = text.split()
    toks = tokens(text)
    n = len(words)
    long_words = [w for w in words if len(w) > 3 and w[:1].isalpha()]
    return {
        "words": min(n, 40) / 40,
        "short": float(n < 4),
        "long": float(n > 25),
        "sentence": float(bool(SENTENCE_END.search(text))),
        "caps": sum(w[:1].isupper() for w in long_words) / len(long_words) if long_words else 0.0,
        "upper": float(text.isupper()),
        "digits": sum(any(c.isdigit() for c in t) for t in toks) / len(toks) if toks else 0.0,
        "colon": float(":" in text),
        "separator": float(len(segments(text)) > 1),
        "label": float(bool(toks) and set(toks) <= LABEL_WORDS),
        "ui": float(bool(UI_WORDS.search(text))),
        "date": float(bool(MONTHS.search(text))),
    }


def _agreement(cand: list[str], title: list[str], title_key: str, key: str) -> dict[str, float]:
    """Features of how a candidate agrees with the page title (its `<title>` or a copied page's first line)."""
    if not cand or not title:
        return {"in_title": 0.0, "title_cover": 0.0, "title_prefix": 0.0, "title_equal": 0.0}
    inside = Counter(cand) & Counter(title)
    same = sum(inside.values())
    return {
        "in_title": same / len(cand),
        "title_cover": same / len(title),
        "title_prefix": float(title_key.startswith(key) or title_key.endswith(key)),
        "title_equal": float(title_key == key),
    }


@dataclass
class Candidate:
    """A string that may be the headline, with its features (by name)."""

    text: str
    features: dict[str, float] = field(default_factory=dict)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def text_candidates(text: str, rule_title: str | None = None) -> list[Candidate]:
    """Return the headline candidates of a plain-text page: its top lines and its first line's segments.

    `rule_title` is the line the clean stage's layout rules read as the title, if any (one more feature).
    """
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _clean(raw)
        if line:
            lines.append(line)
            if len(lines) >= MAX_TEXT_LINES:
                break
    if not lines:
        return []
    keys = [" ".join(tokens(line)) for line in lines]
    counts = [len(line.split()) for line in lines]
    prose = [c >= 10 and bool(SENTENCE_END.search(line)) for line, c in zip(lines, counts, strict=True)]
    repeats = Counter(keys)
    title_toks, title_key = tokens(lines[0]), keys[0]
    first_prose = next((i for i, p in enumerate(prose) if p), len(lines))
    n = len(lines)
    rule_key = " ".join(tokens(rule_title or ""))
    prose_words = [_content(key.split()) if p else set() for key, p in zip(keys, prose, strict=True)]
    page_words = set().union(*prose_words[:LEDE_PAGE])
    first_lede = _lede(prose_words, first_prose)
    out: list[Candidate] = []
    pieces = segments(lines[0])
    if len(pieces) > 1:
        for piece in pieces:
            if tokens(piece):
                feats = _features_of_line(piece, 0, n, counts, prose, first_prose)
                feats |= _agreement(tokens(piece), title_toks, title_key, " ".join(tokens(piece)))
                key = " ".join(tokens(piece))
                feats |= {"segment": 1.0, "first": 0.0, "repeats": min(repeats[key], 3) / 3, "rule_pick": float(key == rule_key)}
                _overlap(feats, _content(key.split()), first_lede, page_words)
                out.append(Candidate(piece, feats))
    for i, line in enumerate(lines):
        if (i and not MIN_BODY_WORDS <= counts[i] <= MAX_LINE_WORDS) or not keys[i] or MARKUP.search(line):
            continue  # a menu's single words and prose lines are context, not candidates
        feats = _features_of_line(line, i, n, counts, prose, first_prose)
        feats |= _agreement(tokens(line), title_toks, title_key, keys[i]) if i else _agreement([], [], "", "")
        feats |= {"segment": 0.0, "first": float(i == 0), "repeats": min(repeats[keys[i]] - 1, 3) / 3, "rule_pick": float(keys[i] == rule_key)}
        _overlap(feats, _content(keys[i].split()), first_lede if i == 0 else _lede(prose_words, i + 1), page_words)
        out.append(Candidate(line, feats))
    return _ranked(out)


def _content(words: Iterable[str]) -> set[str]:
    """Return the words that carry content (longer than three letters)."""
    return {w for w in words if len(w) > 3}


def _overlap(features: dict[str, float], cand_words: set[str], lede: set[str], page: set[str]) -> None:
    """Add how much of a candidate's content the prose after it (the lede) and the page's prose repeat."""
    if not cand_words:
        features["lede_overlap"] = features["page_overlap"] = 0.0
        return
    features["lede_overlap"] = len(cand_words & lede) / len(cand_words)
    features["page_overlap"] = len(cand_words & page) / len(cand_words)


def _holds_run(words: Sequence[str], run: Sequence[str]) -> float:
    """Return 1 when a candidate is a site's name, 0.5 when it holds the name among more words, else 0."""
    if not run or len(run) > len(words):
        return 0.0
    if list(words) == list(run):
        return 1.0
    k = len(run)
    return 0.5 if any(list(words[i : i + k]) == list(run) for i in range(len(words) - k + 1)) else 0.0


def _stems(found: Mapping[str, Candidate], order: Sequence[str]) -> None:
    """Mark the candidates that begin another ("Headline" of "Headline Thursday, 10 January 2008") and those begun.

    Compared on letters and digits alone, so a headline glued to its date ("Airport15 Jan") still begins it.
    """
    compact = sorted(("".join(key.split()), key) for key in order)
    for i, (short, key) in enumerate(compact):
        for longer, other in compact[i + 1 :]:
            if not longer.startswith(short):
                break
            if len(short) < len(longer) <= STEM_TAIL * len(short):
                found[key].features["stem"] = 1.0
                found[other].features["stemmed"] = 1.0


def _ranked(cands: list[Candidate]) -> list[Candidate]:
    """Add the features that compare candidates of one page: agreement with the title near prose, and its rank."""
    for cand in cands:
        feats = cand.features
        match = feats.get("in_title", 0.0) * feats.get("title_cover", 0.0)
        near = 1.0 - min(feats.get("prose_gap", 1.5), 1.0)
        feats["title_match"] = match
        feats["title_near_prose"] = match * near
        feats["repeated_title"] = match * float(feats.get("repeats", 0.0) > 0 or feats.get("segment", 0.0) > 0)
        feats["lede_title"] = feats.get("lede_overlap", 0.0) * feats.get("in_title", 0.0)
    best = max((c.features["title_match"] for c in cands), default=0.0)
    near = max((c.features["title_near_prose"] for c in cands), default=0.0)
    for cand in cands:
        cand.features["best_title_match"] = float(best > 0 and cand.features["title_match"] == best)
        cand.features["best_title_near_prose"] = float(near > 0 and cand.features["title_near_prose"] == near)
    return cands


def _lede(prose_words: Sequence[set[str]], start: int) -> set[str]:
    """Return the content words of the first few prose blocks from `start` on."""
    found: set[str] = set()
    taken = 0
    for words in prose_words[start:]:
        if words:
            found |= words
            taken += 1
            if taken == LEDE_BLOCKS:
                break
    return found


def _features_of_line(line: str, i: int, n: int, counts: Sequence[int], prose: Sequence[bool], first_prose: int) -> dict[str, float]:
    """Features of a line from where it stands: position, and the prose after and before it."""
    after = prose[i + 1 : i + 6]
    next_prose = next((j for j in range(i + 1, min(n, i + 40)) if prose[j]), i + 40)
    feats = _shape(line)
    feats |= {
        "position": math.log1p(i) / math.log1p(MAX_TEXT_LINES),
        "relative": i / n,
        "next_words": math.log1p(counts[i + 1]) / 4 if i + 1 < n else 0.0,
        "prev_words": math.log1p(counts[i - 1]) / 4 if i else 0.0,
        "prose_after": sum(after) / 5,
        "prose_gap": math.log1p(next_prose - i) / 4,
        "before_prose": float(i < first_prose),
        "is_prose": float(prose[i]),
    }
    return feats


def _element_text(element: HtmlElement) -> str:
    try:
        return _clean(element.text_content())
    except ValueError:
        return ""


def _links_home(element: HtmlElement) -> bool:
    """Tell whether a heading is (or wraps) a link to a site's front page: a masthead, not a headline."""
    links = [element] if element.tag == "a" else list(element.iterfind(".//a"))
    parent = element.getparent()
    if parent is not None and parent.tag == "a":
        links.append(parent)
    for link in links:
        href = (link.get("href") or "").strip()
        path = re.sub(r"^[a-z]+://[^/]+", "", href, flags=re.I)
        if path in ("", "/", "/index.html", "/index.php", "#"):
            return True
    return False


def _linked(element: HtmlElement) -> bool:
    """Tell whether an element is a link or inside one: a headline linking to another page."""
    if element.tag == "a" or next(element.iterdescendants("a"), None) is not None:
        return True
    return any(parent.tag == "a" for parent in element.iterancestors())


def _ld_headlines(tree: HtmlElement) -> Iterable[str]:
    for script in tree.iterfind(LD_SCRIPT):
        try:
            data: Any = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item[:20])
            elif isinstance(item, dict):
                if isinstance(item.get("headline"), str):
                    yield item["headline"]
                if "@graph" in item:
                    stack.append(item["@graph"])


def _kind_of(element: HtmlElement) -> str:
    """Name the kind of element a candidate came from (its tag, grouped), and whether it is classed as a title."""
    tag = element.tag if isinstance(element.tag, str) else ""
    kind = TAG_KINDS.get(tag, "other")
    names = f"{element.get('class', '')} {element.get('id', '')}".lower()
    return kind + "_classed" if TITLE_CLASS.search(names) else kind


def _text_blocks(tree: HtmlElement) -> Iterator[tuple[HtmlElement, str]]:
    """Yield the body's innermost text elements with their text, in document order."""
    body = tree.find(".//body")
    root = body if body is not None else tree
    holders: set[HtmlElement] = set()  # elements holding blocks: their text is their blocks' (one pass up from each block)
    for block in root.iter(*INNER_BLOCKS):
        parent = block.getparent()
        while parent is not None and parent not in holders:
            holders.add(parent)
            parent = parent.getparent()
    for element in root.iter(*CANDIDATE_TAGS):
        if element in holders:
            continue
        text = _element_text(element)
        if text:
            yield element, text


def html_candidates(tree: HtmlElement, meta_title: str | None = None, url: str | None = None) -> list[Candidate]:
    """Return the headline candidates of an HTML page, each with the sources that name it merged.

    `meta_title` is trafilatura's metadata title, when it was read (it counts as one more source);
    `url` the page's own address, when it declares one (a candidate naming its site is the site's name).
    """
    domain = registered_domain(url)
    site = declared_name(tree)
    found: dict[str, Candidate] = {}
    order: list[str] = []
    where: dict[str, int] = {}  # key -> position of its first body element among the page's text blocks

    def add(text: str | None, source: str) -> Candidate | None:
        text = _clean(text)
        key = " ".join(tokens(text))
        if not key or len(text.split()) > MAX_CANDIDATE_WORDS or MARKUP.search(text) or CODE.search(text):
            return None
        cand = found.get(key)
        if cand is None:
            cand = found[key] = Candidate(text, {"sources": 0.0})
            order.append(key)
        if not cand.features.get("src_" + source):
            cand.features["src_" + source] = 1.0
            cand.features["sources"] += 1
        return cand

    for xpath in META_TITLES:
        for element in tree.iterfind(xpath):
            add(element.get("content"), "meta")
    for headline in _ld_headlines(tree):
        add(headline, "meta")
    add(meta_title, "traf")
    title_element = tree.find(".//head//title")
    if title_element is None:
        title_element = tree.find(".//title")
    page_title = _element_text(title_element) if title_element is not None else ""
    add(page_title, "title")
    pieces = segments(page_title)
    longest = max(pieces, key=lambda p: len(p.split()), default="")
    if len(pieces) > 1:
        for piece in pieces:
            add(piece, "segment")
    prose: list[int] = []  # positions of the body's prose blocks (the article's paragraphs)
    prose_words: list[set[str]] = []
    h1s = 0
    for position, (element, text) in enumerate(_text_blocks(tree)):
        if position >= MAX_BLOCKS:
            break
        words = len(text.split())
        if words >= PROSE_WORDS:
            prose.append(position)
            prose_words.append(_content(tokens(text)))
            continue
        own = _clean(element.text)
        if own and len(element) and len(own.split()) >= 3 and own != text:
            alone = add(own, "own_text")  # "Headline<span>Thursday, 10 January</span>": the headline alone
            if alone is not None:
                where.setdefault(" ".join(tokens(alone.text)), position)
        h1s += element.tag == "h1"
        if words < MIN_BODY_WORDS:
            continue  # "Home", "Sport": a menu's links, the bulk of a page's short blocks
        cand = add(text, _kind_of(element))
        if cand is None:
            continue
        key = " ".join(tokens(cand.text))
        where.setdefault(key, position)
        if _links_home(element):
            cand.features["home_link"] = 1.0
        if _linked(element):
            cand.features["linked"] = 1.0
    title_toks, title_key = tokens(page_title), " ".join(tokens(page_title))
    longest_key = " ".join(tokens(longest))
    described = _content(w for xpath in DESCRIPTIONS for e in tree.iterfind(xpath) for w in tokens(e.get("content") or ""))
    site_key = tokens(site or title_site(page_title, longest) or "")
    _stems(found, order)
    page_words = set().union(*prose_words[:LEDE_PAGE])
    first_lede = set().union(*prose_words[:LEDE_BLOCKS])
    out = []
    for rank, key in enumerate(k for k in order if k in where):
        found[key].features["body_rank"] = math.log1p(rank) / 5
    for key in order:
        cand = found[key]
        feats = cand.features
        at = where.get(key)
        feats |= _shape(cand.text) | _agreement(tokens(cand.text), title_toks, title_key, key)
        feats["site_name"] = float(names_site(cand.text, domain) or (bool(site) and key == " ".join(tokens(site or ""))))
        feats["in_body"] = float(at is not None)
        feats["h1_count"] = math.log1p(h1s) / 3
        feats["longest_segment"] = float(len(pieces) > 1 and key == longest_key)
        mine = _content(key.split())
        feats["described"] = len(mine & described) / len(mine) if mine and described else 0.0
        feats["names_site"] = _holds_run(key.split(), site_key)
        if at is None:
            feats["body_rank"] = 1.5
            feats["prose_gap"] = 1.5
            _overlap(feats, _content(key.split()), first_lede, page_words)
        else:
            k = bisect_right(prose, at)  # the first prose block after the candidate
            after = prose[k] if k < len(prose) else None
            _overlap(feats, _content(key.split()), set().union(*prose_words[k : k + LEDE_BLOCKS]), page_words)
            feats["prose_gap"] = math.log1p(after - at) / 4 if after is not None else 1.5
            feats["prose_before"] = float(bool(prose) and prose[0] < at)
            feats["title_and_body"] = feats["in_title"]
            feats["segment_and_body"] = feats.get("src_segment", 0.0) + feats.get("src_meta", 0.0) + feats["title_equal"]
            feats["close_title"] = feats["in_title"] * float(after is not None and after - at <= 8)
        out.append(cand)
    return _ranked(out)


# --- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scorer:
    """A logistic model over named features, fitted on pairs of one page's candidates: the highest scoring is the headline."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorer:
        """Build a scorer from its JSON form (as `bench/headlines.py --fit` writes it)."""
        return cls(
            tuple(data["names"]), tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"])
        )

    def score(self, features: Mapping[str, float]) -> float:
        """Return the log-odds that a candidate is the headline."""
        total = self.intercept
        for name, mean, scale, coef in zip(self.names, self.mean, self.scale, self.coef, strict=True):
            total += coef * (features.get(name, 0.0) - mean) / scale
        return total

    def best(self, candidates: Sequence[Candidate]) -> Candidate | None:
        """Return the best-scoring candidate (None when there is none): the model ranks a page's candidates."""
        if not candidates:
            return None
        rows = np.array([[c.features.get(name, 0.0) for name in self.names] for c in candidates])
        scores = ((rows - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef)
        return candidates[int(np.argmax(scores))]


@dataclass(frozen=True)
class HeadlineModel:
    """The two scorers: one for HTML pages, one for plain-text pages."""

    html: Scorer
    text: Scorer


@lru_cache(maxsize=1)
def shipped_model() -> HeadlineModel:
    """Load the headline model shipped with the package."""
    data = json.loads(resources.files("digest.meta").joinpath("headline_model.json").read_text("utf-8"))
    return HeadlineModel(Scorer.from_dict(data["html"]), Scorer.from_dict(data["text"]))


def html_headline(
    tree: HtmlElement, meta_title: str | None = None, url: str | None = None, model: HeadlineModel | None = None
) -> str | None:
    """Return an HTML page's headline, or None when it has no candidate."""
    best = (model or shipped_model()).html.best(html_candidates(tree, meta_title, url))
    return best.text if best else None


def text_headline(text: str, rule_title: str | None = None, model: HeadlineModel | None = None) -> str | None:
    """Return a plain-text page's headline (`rule_title`: the layout rules' pick), or None when it has no lines."""
    best = (model or shipped_model()).text.best(text_candidates(text, rule_title))
    return best.text if best else None
