"""Summary-worthy sentences of a story: body sentences with their source, minus questions and chrome."""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.models import Role, Story
from digest.summarise.tokenizer import split_sentences, split_words

MIN_WORDS = 6
MAX_WORDS = 70
_ENDS_SENTENCE = re.compile(r"[.!…][\"'”’)\]]*$")
_CHROME = re.compile(
    r"(?i)(^\s*(photo|image|picture|video|credit|caption|source|file photo|watch|listen|read more|related|"
    r"advertisement|sponsored|editor'?s note|reporting by|editing by|writing by|additional reporting|by)\b)"
    r"|getty images|shutterstock|\(ap photo|\bap photo/|/reuters|afp via|©|copyright|all rights reserved"
    r"|click here|subscribe|sign up|newsletter|follow us|share this|cookies?\b|javascript|https?://|www\.|@\w+\.\w"
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


def worthy(sentence: str) -> bool:
    """Tell whether a sentence may appear in a summary (no questions, captions, bylines, chrome)."""
    words = split_words(sentence)
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    if not _ENDS_SENTENCE.search(sentence) or sentence.rstrip("\"'”’) ").endswith("?"):
        return False
    letters = [c for c in sentence if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) > 0.5 * len(letters):
        return False  # shouted banners and all-caps labels
    if not (sentence[0].isupper() or sentence[0].isdigit() or sentence[0] in "\"'“‘"):
        return False  # a fragment cut from a longer sentence
    return not _CHROME.search(sentence)


def units(story: Story) -> list[Unit]:
    """Split the body paragraphs of every article of a story into summary-worthy sentences."""
    found: list[Unit] = []
    for a, article in enumerate(story.articles):
        position = 0
        body = [p for p in article.paragraphs if p.role is Role.BODY]
        for p, paragraph in enumerate(body):
            for sentence in split_sentences(paragraph.text):
                if worthy(sentence):
                    found.append(Unit(sentence, article.id, article.outlet, a, position, p))
                    position += 1
    return found
