"""Summary-worthy sentences of a story: body sentences with their source, minus questions and chrome."""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.models import Role, Story
from digest.summarise.furniture import FurnitureModel, shipped
from digest.summarise.tokenizer import split_sentences, word_count

MIN_WORDS = 6
MIN_TITLE_WORDS = 5
MAX_WORDS = 70
_ENDS_SENTENCE = re.compile(r"[.!…。！۔][\"'”’)\]」』）]*$")
_QUESTION = ("?", "？", "؟")
_OPENERS = "\"'“‘「『«"
_CHROME = re.compile(
    r"(?i)(^\s*(photo|image|picture|video|credit|caption|source|file photo|watch|listen|read more|related|"
    r"advertisement|sponsored|editor'?s note|reporting by|editing by|writing by|additional reporting|by)\b)"
    r"|getty images|shutterstock|\(ap photo|\bap photo/|/reuters|afp via|©|copyright|all rights reserved"
    r"|click here|subscribe|sign up|newsletter|follow us|share this|cookies?\b|javascript|https?://|www\.|@\w+\.\w"
    r"|(?:^|\s)@\w{2,}|^\s*(?:visit|follow|like) (?:us|our)\b"  # a site's handle, "Visit our directory"
    r"|\bpictured\b|\bseen here\b|\(left\)|\(right\)|\(centre\)|\(center\)"  # photo captions
)
# "BERLIN --", "TARRANT SPRINGS, Nov 17 (Northline) -", "VILNIUS, Lithuania —": where and who, not news
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'’-]+(?:\s+[A-Z][A-Z.'’-]+)*(?:,\s*[A-Z][\w.]*(?:\s+[A-Z][\w.]*)*)?(?:,?\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"(?:\s*\([^)]{1,40}\))?\s*(?:--|[-–—])\s+(?=[A-Z\"“‘'])"
)
_CLOSING_SINGLE = re.compile(r"[.!?,]’(?:\s|$)")
# "lacking in any political values.Mr. Ito": two sentences glued where a block or a space was lost
_GLUED = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])|(?<=[a-z]{2}[.!?][\"”’])(?=[A-Z])")
# a page's date-and-time stamp inside a sentence: "Tuesday, June 09, 2009 10:38 AM Google Reader has..."
_STAMP = re.compile(
    r"(?i)\b\d{4},?\s+\d{1,2}:\d\d(?::\d\d)?\s*(?:am|pm)?\b|\b\d{1,2}:\d\d\s*(?:am|pm)\s+[A-Z]"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day,\s+\w+\s+\d{1,2},\s+\d{4}\b"
)


@dataclass(frozen=True)
class Unit:
    """One candidate sentence and where it came from."""

    text: str
    article_id: str
    outlet: str
    article: int  # index of the article in the story
    position: int  # index of the sentence among the article's summary-worthy sentences
    paragraph: int  # index of the body paragraph it came from


def without_dateline(sentence: str) -> str:
    """Drop a wire dateline from the start of a sentence."""
    return _DATELINE.sub("", sentence, count=1)


def whole_sentences(text: str) -> str:
    """Put back the space between two sentences glued together ("values.Mr. Ito"), so they split."""
    return _GLUED.sub(" ", text)


def balanced(sentence: str) -> bool:
    """Tell whether every quotation mark and bracket opened in a sentence is closed in it (and none closes unopened)."""
    if sentence.count("(") != sentence.count(")") or sentence.count("[") != sentence.count("]"):
        return False  # a fragment cut inside a bracket, or ending in a stray ")"
    if sentence.count('"') % 2:
        return False
    if sentence.count("“") != sentence.count("”"):
        return False
    # ’ is also an apostrophe: it closes a quotation only after punctuation ("on it.’ was")
    if sentence.count("‘") > sentence.count("’"):
        return False
    return "‘" in sentence or not _CLOSING_SINGLE.search(sentence)


def worthy(sentence: str) -> bool:
    """Tell whether a sentence may appear in a summary (no questions, captions, bylines, chrome)."""
    if not MIN_WORDS <= word_count(sentence) <= MAX_WORDS:
        return False
    if not _ENDS_SENTENCE.search(sentence) or sentence.rstrip("\"'”’)」』） ").endswith(_QUESTION):
        return False
    letters = [c for c in sentence if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) > 0.5 * len(letters):
        return False  # shouted banners and all-caps labels
    first = sentence[0]
    if first.lower() != first.upper() and not first.isupper():
        return False  # lower case in a script with capitals: a fragment cut from a longer sentence
    if not (first.isalnum() or first in _OPENERS):
        return False
    if not balanced(sentence):
        return False  # a quotation cut in two by the sentence splitter
    if _STAMP.search(sentence):
        return False  # a post's date line glued to its text
    return not _CHROME.search(sentence)


def units(story: Story, furniture: FurnitureModel | None = None) -> list[Unit]:
    """Split the body paragraphs of every article of a story into summary-worthy sentences.

    `furniture` tells site furniture and reader comments from the article (default: the shipped model).
    """
    model = furniture or shipped()
    found: list[Unit] = []
    # a sentence carrying a whole headline is a run of related-story links, not the article's text
    titles = {a.title.strip().lower() for a in story.articles if len(a.title.split()) >= MIN_TITLE_WORDS}
    for a, article in enumerate(story.articles):
        body = [whole_sentences(p.text) for p in article.paragraphs if p.role is Role.BODY]
        kept: list[tuple[int, str]] = []
        for p, paragraph in enumerate(body):
            for sentence in map(without_dateline, split_sentences(paragraph)):
                lower = sentence.lower()
                if worthy(sentence) and not any(t in lower and t != lower.rstrip(".") for t in titles):
                    kept.append((p, sentence))
        chrome = model.furniture(article.title, body, kept) if model is not None else [False] * len(kept)
        position = 0
        for (p, sentence), drop in zip(kept, chrome, strict=True):
            if not drop:
                found.append(Unit(sentence, article.id, article.outlet, a, position, p))
                position += 1
    return found
