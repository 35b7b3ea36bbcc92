"""Stopword lists (from jusText's packaged stoplists) and a cheap guess of a text's language."""

from __future__ import annotations

import pkgutil
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType

# Languages whose news pages are common enough to matter; each list is ~500 words, read once at import.
LANGUAGES = (
    "English", "German", "French", "Spanish", "Portuguese", "Italian", "Dutch", "Polish", "Czech",
    "Swedish", "Danish", "Norwegian_Bokmal", "Finnish", "Russian", "Ukrainian", "Turkish",
    "Romanian", "Hungarian", "Greek", "Indonesian", "Croatian", "Slovak",
)
WORD = re.compile(r"\w+")


def _read_stoplist(language: str) -> frozenset[str]:
    try:
        data = pkgutil.get_data("justext", f"stoplists/{language}.txt")
    except (OSError, ImportError):  # a stripped-down install: the classifier still works without it
        return frozenset()
    if data is None:
        return frozenset()
    return frozenset(w.strip().lower() for w in data.decode("utf-8").splitlines() if w.strip())


STOPLISTS: Mapping[str, frozenset[str]] = MappingProxyType({lang: _read_stoplist(lang) for lang in LANGUAGES})
# word -> positions in LANGUAGES of the lists holding it, to score every language in one pass over the tokens
_WORD_LANGS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        word: tuple(n for n, lang in enumerate(LANGUAGES) if word in STOPLISTS[lang])
        for word in frozenset().union(*STOPLISTS.values())
    }
)


def guess_stoplist(tokens: Iterable[str], lowered: bool = False) -> frozenset[str]:
    """Return the stoplist of the language whose stopwords cover most of the tokens (empty if none fits).

    `lowered` says the tokens are lower-cased already.
    """
    counts = Counter(tokens if lowered else (token.lower() for token in tokens))
    total = sum(counts.values())
    hits = [0] * len(LANGUAGES)
    languages_of = _WORD_LANGS.get
    for token, n in counts.items():  # each distinct word once: stopwords repeat a lot
        for lang in languages_of(token, ()):
            hits[lang] += n
    count = max(hits)
    if count == 0 or total == 0:
        return frozenset()
    # texts in a language without spaces or without a list here barely hit any list: no stopword signal
    return STOPLISTS[LANGUAGES[hits.index(count)]] if count / total >= 0.08 else frozenset()
