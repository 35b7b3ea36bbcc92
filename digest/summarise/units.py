"""Summary-worthy sentences of a story: body sentences with their source, minus questions and chrome."""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.models import Role, Story
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
    r"|\bpictured\b|\bseen here\b|\(left\)|\(right\)|\(centre\)|\(center\)"  # photo captions
)
# "BERLIN --", "TARRANT SPRINGS, Nov 17 (Northline) -", "VILNIUS, Lithuania —": where and who, not news
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'’-]+(?:\s+[A-Z][A-Z.'’-]+)*(?:,\s*[A-Z][\w.]*(?:\s+[A-Z][\w.]*)*)?(?:,?\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"(?:\s*\([^)]{1,40}\))?\s*(?:--|[-–—])\s+(?=[A-Z\"“‘'])"
)
_CLOSING_SINGLE = re.compile(r"[.!?,]’(?:\s|$)")


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


def balanced(sentence: str) -> bool:
    """Tell whether every quotation mark opened in a sentence is closed in it (and none closes unopened)."""
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
    return not _CHROME.search(sentence)


def units(story: Story) -> list[Unit]:
    """Split the body paragraphs of every article of a story into summary-worthy sentences."""
    found: list[Unit] = []
    # a sentence carrying a whole headline is a run of related-story links, not the article's text
    titles = {a.title.strip().lower() for a in story.articles if len(a.title.split()) >= MIN_TITLE_WORDS}
    for a, article in enumerate(story.articles):
        position = 0
        body = [p for p in article.paragraphs if p.role is Role.BODY]
        for p, paragraph in enumerate(body):
            for sentence in map(without_dateline, split_sentences(paragraph.text)):
                lower = sentence.lower()
                if worthy(sentence) and not any(t in lower and t != lower.rstrip(".") for t in titles):
                    found.append(Unit(sentence, article.id, article.outlet, a, position, p))
                    position += 1
    return found
