"""Offline sentence and word tokenization for summarisers: nupunkt sentences, regex words."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import cast

import nupunkt
from sumy.nlp.stemmers import Stemmer
from sumy.utils import get_stop_words

WORD = re.compile(r"\w+(?:[-'’.]\w+)*")
LANGUAGE = "english"
# full stops, exclamation and question marks of scripts that need no space after them (CJK) or
# that nupunkt does not know (Arabic ؟): a sentence ends there whatever follows
_WIDE_END = re.compile(r"(?<=[。！？؟])[」』”’)）]*\s*")
# Han, Hiragana, Katakana, Hangul: written without spaces between words
UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
UNSPACED_CHARS_PER_WORD = 2  # a rough mean for Chinese and Japanese words


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with nupunkt; line breaks always end a sentence."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        for part in _wide_split(line):
            sentences.extend(s.strip() for s in cast(list[str], nupunkt.sent_tokenize(part)) if s.strip())
    return sentences


def _wide_split(line: str) -> list[str]:
    """Split a line after every CJK or Arabic sentence end (keeping closing quotes with the sentence)."""
    parts, start = [], 0
    for match in _WIDE_END.finditer(line):
        end = match.start() + len(match.group(0).rstrip())
        if end > start:
            parts.append(line[start:end])
        start = match.end()
    if start < len(line):
        parts.append(line[start:])
    return [p for p in (q.strip() for q in parts) if p]


def word_count(text: str) -> int:
    """Count the words of a text; runs of unspaced script count one word per two characters."""
    count = 0
    for token in WORD.findall(text):
        unspaced = sum(len(run) for run in UNSPACED.findall(token))
        count += -(-unspaced // UNSPACED_CHARS_PER_WORD) + (1 if len(token) > unspaced else 0) if unspaced else 1
    return count


def split_words(text: str) -> list[str]:
    """Return the word tokens of text (letters, digits, inner hyphens and apostrophes)."""
    return WORD.findall(text)


# read once from sumy's packaged data; a frozenset, so nothing can mutate it
STOP_WORDS: frozenset[str] = frozenset(get_stop_words(LANGUAGE))


_SNOWBALL = Stemmer(LANGUAGE)


@lru_cache(maxsize=1 << 18)
def _stem(word: str) -> str:
    return cast(str, _SNOWBALL(word))


def stemmer() -> Callable[[str], str]:
    """Return sumy's English Snowball stemmer (needs no downloaded data), memoised for the process.

    News repeats its words: one shared, bounded memo spares restemming them for every story and
    every summarizer (the stemmer was a third of summarising time)."""
    return _stem


class SumyTokenizer:
    """A sumy tokenizer that needs no NLTK data: `to_sentences` and `to_words` like sumy's Tokenizer."""

    language = LANGUAGE

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """Split a paragraph into sentences."""
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        """Split a sentence into words."""
        return tuple(split_words(sentence))
