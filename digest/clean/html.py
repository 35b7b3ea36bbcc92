"""Extract an article's blocks from HTML with trafilatura, offline, and mark headings from its XML."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from lxml.etree import _Element

from digest.clean import signals as sig
from digest.clean.flags import Flag
from digest.clean.options import DEFAULT_OPTIONS, CleanOptions
from digest.errors import InputError
from digest.models import Decision, Role

# DOCTYPE internal subsets can declare entities (billion laughs, external files); articles never need them
DOCTYPE_SUBSET = re.compile(r"<!DOCTYPE[^\[>]*\[.*?\]\s*>", re.IGNORECASE | re.DOTALL)
ENTITY_DECL = re.compile(r"<!ENTITY[^>]*>", re.IGNORECASE)
BLOCK_ROLES = {"head": Role.HEADING, "p": Role.BODY, "quote": Role.BODY, "code": Role.BODY, "table": Role.BODY}


@dataclass(frozen=True)
class HtmlResult:
    """trafilatura's reading of a page: its blocks with roles, and the metadata it found."""

    blocks: tuple[tuple[str, Role], ...]
    title: str | None
    sitename: str | None
    comments_from: int | None = None  # blocks from this position on are the page's comments section


class _NoDiscardNotice(logging.Filter):
    """Drop trafilatura's "discarding data: None" warning: a page too short to extract is an outcome we
    handle (the other candidates, or a clear reason), not something to print in the middle of a run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("discarding data")


logging.getLogger("trafilatura.core").addFilter(_NoDiscardNotice())


def defuse(markup: str) -> str:
    """Remove DOCTYPE internal subsets and entity declarations so no parser can expand them."""
    if "<!" not in markup:
        return markup
    return ENTITY_DECL.sub("", DOCTYPE_SUBSET.sub("<!DOCTYPE html>", markup))


def _text(element: _Element) -> str:
    from trafilatura.xml import xmltotxt

    tail, element.tail = element.tail, None  # the tail belongs to the parent, not to this block
    try:
        return " ".join(xmltotxt(element, include_formatting=False).split())
    finally:
        element.tail = tail


def _blocks(container: _Element) -> list[tuple[str, Role]]:
    """Flatten trafilatura's body into (text, role) blocks; loose text and tails become body blocks."""
    out: list[tuple[str, Role]] = []
    if container.text and container.text.strip():
        out.append((" ".join(container.text.split()), Role.BODY))
    for child in container:
        if child.tag == "list":
            items = [item for item in child if item.tag == "item"] or [child]
            out.extend((_text(item), Role.BODY) for item in items)
        elif child.tag in BLOCK_ROLES:
            out.append((_text(child), BLOCK_ROLES[child.tag]))
        elif child.tag != "graphic":
            out.extend(_blocks(child))  # a container trafilatura left in place (div, section)
        if child.tail and child.tail.strip():
            out.append((" ".join(child.tail.split()), Role.BODY))
    return [(text, role) for text, role in out if text]


def parse_tree(markup: str, path: Path) -> _Element | None:
    """Parse the page once for several trafilatura runs (None when lxml reads nothing); raise InputError on failure."""
    from trafilatura.utils import load_html

    try:
        return load_html(defuse(markup))
    except (RecursionError, MemoryError) as exc:
        raise InputError(path, f"markup too deeply nested or too large to parse ({exc.__class__.__name__})") from exc
    except Exception as exc:  # lxml raises many kinds of errors on hostile markup
        raise InputError(path, f"lxml could not read the markup ({exc.__class__.__name__}: {exc})") from exc


def extract(
    markup: str,
    path: Path,
    options: CleanOptions = DEFAULT_OPTIONS,
    *,
    metadata: bool = True,
    tree: _Element | None = None,
) -> HtmlResult:
    """Run trafilatura on markup (never with a URL: nothing is fetched); raise InputError on failure.

    The options say how (precision or recall first, fallbacks or not, comments or not: measured in
    bench/boilerplate.py). `metadata=False` skips title/site-name extraction when ingest has them.
    `tree` is the page already parsed (`parse_tree`): trafilatura copies a tree it is handed before
    changing it (`bare_extraction`: "if tree is filecontent: tree = copy(tree)"), so one parse serves
    every run and no copy of ours is needed (tests/test_clean_choose.py checks the tree is left whole).
    """
    from trafilatura import bare_extraction  # heavy import, only for HTML

    try:
        doc = bare_extraction(
            tree if tree is not None else defuse(markup),
            url=None,
            favor_precision=options.favor_precision,
            favor_recall=options.favor_recall,
            fast=options.fast,
            include_comments=options.comments,
            include_tables=True,
            with_metadata=metadata,
            # any format but "python" skips its whole-text rendering of the body, which _blocks redoes per block
            # (the format changes nothing else in bare_extraction: it only picks the final serialisation)
            output_format="xml",
        )
    except InputError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise InputError(path, f"markup too deeply nested or too large to parse ({exc.__class__.__name__})") from exc
    except Exception as exc:  # trafilatura and lxml raise many kinds of errors on hostile markup
        raise InputError(path, f"trafilatura could not read the markup ({exc.__class__.__name__}: {exc})") from exc
    if doc is None or isinstance(doc, dict) or doc.body is None:
        return HtmlResult((), None, None)
    blocks = _blocks(doc.body)
    comments = _blocks(doc.commentsbody) if options.comments and doc.commentsbody is not None else []
    return HtmlResult(
        tuple(blocks + comments), doc.title or None, doc.sitename or None, len(blocks) if comments else None
    )


def _block_flag(text: str, key: str, tokens: list[str], learned: Collection[str]) -> Flag | None:
    words = sig.word_count(text, tokens)
    if key in learned:
        return Flag.LEARNED
    if sig.is_tail_marker(text, words):
        return Flag.TAIL
    ends = sig.ends_sentence(text)
    if sig.count_widget(text, words, ends):
        return Flag.WIDGET
    return sig.ui_reason(text, words, key, ends, tokens) or sig.caption_reason(text, words, tokens, ends)


def decide(result: HtmlResult, title: str, learned: Collection[str] = frozenset()) -> tuple[Decision, ...]:
    """Judge trafilatura's blocks with the plain-text signals: chrome it let through is dropped."""
    title_key = sig.normalise(title)
    decisions: list[Decision] = []
    for index, (text, role) in enumerate(result.blocks, 1):
        tokens = sig.WORD.findall(text.lower())  # each block tokenised once for every check
        key = " ".join(tokens)
        if key and key == title_key:
            decision = Decision(index, text, False, None, "drop: repeated title")
        else:
            flag = _block_flag(text, key, tokens, learned)
            if flag:
                decision = Decision(index, text, False, None, f"drop: {flag.value}")
            else:
                reason = "heading (trafilatura <head>)" if role is Role.HEADING else "body (trafilatura)"
                decision = Decision(index, text, True, role, reason)
        decisions.append(decision)
    return tuple(decisions)
