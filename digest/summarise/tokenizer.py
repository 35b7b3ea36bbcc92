"""Offline sentence and word tokenization for summarisers: nupunkt sentences, regex words."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

import nupunkt
from sumy.nlp.stemmers import Stemmer
from sumy.utils import get_stop_words

WORD = re.compile(r"\w+(?:[-'’.]\w+)*")
LANGUAGE = "english"


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with nupunkt; line breaks always end a sentence."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            sentences.extend(s.strip() for s in cast(list[str], nupunkt.sent_tokenize(line)) if s.strip())
    return sentences


def split_words(text: str) -> list[str]:
    """Return the word tokens of text (letters, digits, inner hyphens and apostrophes)."""
    return WORD.findall(text)


# read once from sumy's packaged data; a frozenset, so nothing can mutate it
STOP_WORDS: frozenset[str] = frozenset(get_stop_words(LANGUAGE))


def stemmer() -> Callable[[str], str]:
    """Return sumy's English Snowball stemmer (needs no downloaded data)."""
    return Stemmer(LANGUAGE)


class SumyTokenizer:
    """A sumy tokenizer that needs no NLTK data: `to_sentences` and `to_words` like sumy's Tokenizer."""

    language = LANGUAGE

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """Split a paragraph into sentences."""
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        """Split a sentence into words."""
        return tuple(split_words(sentence))
