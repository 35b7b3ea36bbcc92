"""Clean stage: remove site boilerplate from raw articles, keeping title, headings and body with roles.

Plain text goes through the line classifier in `text.py`; HTML through trafilatura (`html.py`),
whose blocks are then judged with the same line signals. Lines that recur across many unrelated
files of one batch are learned as chrome first (`learn_boilerplate`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from digest.clean import html as html_clean
from digest.clean import signals as sig
from digest.clean.choose import Pick, html_verdict, mode_options
from digest.clean.decide import text_verdicts
from digest.clean.html import HtmlResult
from digest.clean.options import DEFAULT_OPTIONS, CleanOptions
from digest.clean.text import (
    SMALL_WORDS,
    TextResult,
    layout,
    result,
    rule_decisions,
    split_site_suffix,
)
from digest.errors import InputError
from digest.meta.outlet import registered_domain, site_host
from digest.meta.page import text_head
from digest.models import Article, Decision, Paragraph, RawArticle, Role

TEXT_NODE = re.compile(r">([^<]{2,400})<")
SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class LearnedBoilerplate:
    """Normalised lines that recur across many unrelated inbox files (site chrome); immutable."""

    keys: frozenset[str] = frozenset()
    files: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # key -> files seen in

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.keys)


def _lines_of(raw: RawArticle) -> set[str]:
    if raw.kind == "html" or raw.body_is_html:
        text = SCRIPT.sub(" ", raw.text)
        pieces: Iterator[str] = (match.group(1) for match in TEXT_NODE.finditer(text))
    else:
        pieces = iter(raw.text.split("\n"))
    keys = {sig.normalise(piece) for piece in pieces}
    keys.discard("")
    return keys


def learn_boilerplate(raws: Sequence[RawArticle], options: CleanOptions = DEFAULT_OPTIONS) -> LearnedBoilerplate:
    """Learn the lines that recur across at least `options.min_files` unrelated files, in O(total lines)."""
    per_file = [_lines_of(raw) for raw in raws]
    where: dict[str, list[int]] = defaultdict(list)
    for n, keys in enumerate(per_file):
        for key in keys:
            where[key].append(n)
    # A file that shares a good part of its prose with other files is a copy of one article
    # (wire copy, a page saved twice, a republication): the lines it shares are that article's
    # text, not chrome, so copies do not vote. A site repeats at most a line or two of prose.
    is_prose = {k: k.count(" ") + 1 >= options.prose_words for k in where}
    copies = set()
    for n, keys in enumerate(per_file):
        prose_keys = [k for k in keys if is_prose[k]]
        shared = sum(1 for k in prose_keys if len(where[k]) > 1)
        if shared >= 2 and shared >= options.copy_share * len(prose_keys):
            copies.add(n)
    learned: dict[str, int] = {}
    for key, files in where.items():
        if len(files) >= options.min_files:
            voters = sum(1 for n in files if n not in copies)
            if voters >= options.min_files:
                learned[key] = voters
    return LearnedBoilerplate(frozenset(learned), MappingProxyType(learned))


def _enough_words(body: Sequence[Paragraph], least: int) -> bool:
    """Tell whether the kept paragraphs hold `least` words (counting stops as soon as they do)."""
    words = 0
    for paragraph in body:
        words += sig.word_count(paragraph.text)
        if words >= least:
            return True
    return False


def _display_name(name: str | None) -> str | None:
    """Return a site name for display: a shouted masthead ("THE COASTAL HERALD") in title case, acronyms kept."""
    if not name or not name.isupper():
        return name
    words = name.split()
    # short capitalised words are more often acronyms ("BBC", "CRBC NEWS") than shouting: leave those as printed
    if any(len(w) < 5 and w.lower() not in SMALL_WORDS for w in words if w.isalpha()) or not all(
        w.isalpha() for w in words
    ):
        return name
    return " ".join(w.capitalize() for w in words)


# what the rules drop as interface or notice is never a headline; other drop reasons (a short line in a
# menu run, before the main block, a widget) also fall on real headlines (bench/headlines.py measures it)
REFUSED_REASONS = (
    "interface", "subscribe", "sign-in", "share bar", "follow-us", "cookie", "advertisement", "display toggle",
    "legal", "live", "contact", "menu line",
)


def refused_lines(decisions: Sequence[Decision]) -> frozenset[str]:
    """Return the normalised lines that cannot be the headline: kept body sentences, interface chrome, contacts."""
    return frozenset(
        sig.normalise(d.text)
        for d in decisions
        if (d.kept and d.role is Role.BODY and sig.ends_sentence(d.text))
        or (not d.kept and any(reason in d.reason for reason in REFUSED_REASONS))
        or not sig.title_candidate(d.text)  # contact details, links, interface words, live labels
    )


def _headline_and_outlet(title: str, outlet: str | None) -> tuple[str, str | None]:
    """Drop a site's name from the end of a title ("Headline - TechCrunch") when it is the outlet or none is known."""
    headline, suffix = split_site_suffix(title)
    if suffix is None:
        return title, outlet
    if outlet is None:
        return headline, suffix
    named, known = sig.normalise(suffix), sig.normalise(outlet)
    if named and known and (named in known or known in named):
        return headline, outlet
    return title, outlet  # "... | Editorial" under The Guardian: not the site's name, leave the title whole


def _article(
    raw: RawArticle,
    decisions: tuple[Decision, ...],
    title: str,
    outlet: str,
    date: datetime | None = None,
    min_words: int = DEFAULT_OPTIONS.min_body_words,
) -> Article:
    body = tuple(Paragraph(d.text, d.role) for d in decisions if d.kept and d.role is not Role.TITLE and d.role)
    if not _enough_words(body, min_words):
        raise InputError(raw.path, "no article text found (everything looked like site boilerplate)")
    if not title:
        # the first body paragraph that can be a headline (not a contact line or a control) gives one
        first = next((p for p in body if sig.title_candidate(p.text)), body[0])
        title = sig.first_sentence(first.text)
    return Article(
        id=raw.id,
        path=raw.path,
        fingerprint=raw.fingerprint,
        kind=raw.kind,
        title=title,
        outlet=outlet,
        paragraphs=(Paragraph(title, Role.TITLE), *body),
        url=raw.meta.url,
        date=raw.meta.date or date,
        description=raw.meta.description,
        decisions=decisions,
        dropped=sum(1 for d in decisions if not d.kept),
    )


def html_candidates(raw: RawArticle, options: CleanOptions = DEFAULT_OPTIONS) -> tuple[dict[Pick, HtmlResult], str, str | None]:
    """Run trafilatura in its default mode and, with the model, in each alternative mode: (results, title, outlet)."""
    runs = options.alternatives if options.use_model else ()
    tree = html_clean.parse_tree(raw.text, raw.path) if runs else None  # parsed once, copied for each run
    # ingest already read the headline and the outlet (digest.meta); trafilatura's title only stands in when it found none,
    # and its site name never does (it falls back to the page title or a capitalised domain)
    default = html_clean.extract(raw.text, raw.path, mode_options(options, Pick.DEFAULT), metadata=not raw.meta.title, tree=tree)
    title, outlet = _headline_and_outlet(raw.meta.title or default.title or "", raw.meta.outlet)
    found = {Pick.DEFAULT: default}
    for name in runs:
        found[Pick[name]] = html_clean.extract(raw.text, raw.path, mode_options(options, Pick[name]), metadata=False, tree=tree)
    return found, title, outlet


def classify_text(
    text: str, learned: Collection[str] = frozenset(), title_hint: str | None = None, options: CleanOptions = DEFAULT_OPTIONS
) -> TextResult:
    """Decide each non-blank line of a plain-text page: the rules read the page, the model decides."""
    page = layout(text, learned, title_hint)
    if page is None:
        return TextResult((), None)
    verdicts = rule_decisions(page)
    if options.use_model:
        verdicts = text_verdicts(page, verdicts, options.resolved_model().text, options.explain)
    return result(page, verdicts)


def clean_article(
    raw: RawArticle, learned: LearnedBoilerplate | None = None, options: CleanOptions = DEFAULT_OPTIONS
) -> Article:
    """Clean one raw article; raise InputError(raw.path, reason) when it holds no article text."""
    keys = learned.keys if learned is not None else frozenset()
    if raw.kind == "html" or raw.body_is_html:
        found, title, outlet = html_candidates(raw, options)
        if options.use_model:
            decisions = html_verdict(found, title, options.resolved_model(), keys, options)
        else:
            decisions = html_clean.decide(found[Pick.DEFAULT], title, keys)
        return _article(raw, decisions, title, outlet or "", min_words=options.min_body_words)
    verdict = classify_text(raw.text, keys, raw.meta.title, options)
    line_title = verdict.decisions[verdict.title_index].text if verdict.title_index is not None else ""
    # the headline model reads the page's lines, the rules' pick among its features (a header's Title: wins);
    # the first line's site suffix may name the outlet
    refused = refused_lines(verdict.decisions)  # never a body sentence, a label or a menu as the headline
    headline, outlet = text_head(raw.text, raw.meta.title, raw.meta.outlet, raw.meta.url, line_title or None, refused)
    meta_title, outlet = _headline_and_outlet(headline or "", outlet)
    outlet = outlet or _display_name(verdict.site_name) or ""  # no outlet is better than a wrong one (a file name)
    return _article(raw, verdict.decisions, meta_title or line_title, outlet, verdict.date, options.min_body_words)


def clean_all(
    raws: Sequence[RawArticle], learn: bool = True, options: CleanOptions = DEFAULT_OPTIONS
) -> tuple[list[Article], list[InputError]]:
    """Learn boilerplate across the batch (when `learn`), then clean each; failures are collected, not raised."""
    learned = learn_boilerplate(raws, options) if learn else None
    articles: list[Article] = []
    errors: list[InputError] = []
    for raw in raws:
        try:
            articles.append(clean_article(raw, learned, options))
        except InputError as exc:
            errors.append(exc)
    return one_name_per_site(articles), errors


def one_name_per_site(articles: list[Article]) -> list[Article]:
    """Show every page of one site (by host) under one outlet: the name most of them declare."""
    names: dict[str, Counter[str]] = defaultdict(Counter)
    bare: dict[str, set[str]] = {}
    for article in articles:
        site = site_host(article.url)
        if site and article.outlet:
            names[site][article.outlet] += 1
            bare[site] = {site, registered_domain(article.url) or site}
    chosen = {}
    for site, counted in names.items():
        if len(counted) > 1:
            # a name the site declares beats its bare domain; then the most common, then the first met
            chosen[site] = max(counted, key=lambda n: (n.lower() not in bare[site], counted[n]))
    if not chosen:
        return articles
    return [
        replace(a, outlet=chosen[d]) if (d := site_host(a.url)) in chosen and a.outlet != chosen[d] else a
        for a in articles
    ]


__all__ = [
    "CleanOptions",
    "LearnedBoilerplate",
    "classify_text",
    "clean_all",
    "clean_article",
    "html_candidates",
    "learn_boilerplate",
    "one_name_per_site",
    "refused_lines",
]
