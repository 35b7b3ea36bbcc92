"""The facts a sentence carries: names, numbers, content words and pairs of them, as a sparse matrix.

Two sentences that tell the same fact in other words share most of these; a sentence that adds
something new brings facts no chosen sentence holds. Scripts written without spaces (Chinese,
Japanese) have no words to split, so their facts are character pairs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from digest.summarise.tokenizer import STOP_WORDS, UNSPACED, split_words, stemmer

_NUMBER = re.compile(r"\d")
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
MIN_WORD_CHARS = 3  # shorter Latin-script tokens ("Mr", "et") carry no fact of their own


@dataclass(frozen=True)
class FactKinds:
    """How much each kind of fact weighs against a plain content word."""

    word: float = 1.0
    name: float = 1.0
    number: float = 1.0
    pair: float = 1.0


class FactIndex:
    """Map sentences to ids of the facts they carry; the fact vocabulary lives in the instance."""

    def __init__(self, stem: Callable[[str], str] | None = None) -> None:
        self._stem = stem or stemmer()
        self._stems: dict[str, str] = {}
        self.vocabulary: dict[str, int] = {}
        self.kinds: list[str] = []

    def _stemmed(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            stem = self._stems[word] = self._stem(word)
        return stem

    def facts(self, text: str) -> list[str]:
        """Return the facts of a text, each as 'kind:key' (kind: word, name, number, year or pair)."""
        out: list[str] = []
        content: list[str] = []
        for n, token in enumerate(split_words(text)):
            lower = token.lower()
            if UNSPACED.search(token):
                grams = [g[i : i + 2] for g in UNSPACED.findall(token) for i in range(max(len(g) - 1, 1))]
                out.extend(f"word:{g}" for g in grams)
                content.extend(grams)
                continue
            if _NUMBER.search(token):
                # a year dates many facts; any other number is a fact of its own (123 freed, 1,100 held)
                kind = "year" if _YEAR.match(token) else "number"
                out.append(f"{kind}:{lower.replace(',', '')}")
                content.append(lower)
                continue
            if lower in STOP_WORDS or len(lower) < MIN_WORD_CHARS:
                continue
            stem = self._stemmed(lower)
            out.append(f"word:{stem}")
            if n > 0 and token[0].isupper():  # capitalised inside a sentence: a name
                out.append(f"name:{stem}")
            content.append(stem)
        out.extend(f"pair:{a} {b}" for a, b in itertools.pairwise(content))
        return out

    def matrix(self, texts: Sequence[str], grow: bool = True) -> sparse.csr_matrix:
        """Return a binary sentence-by-fact matrix (unknown facts are skipped unless `grow`)."""
        indptr, indices = [0], []
        for text in texts:
            row: set[int] = set()
            for fact in self.facts(text):
                col = self.vocabulary.get(fact)
                if col is None:
                    if not grow:
                        continue
                    col = self.vocabulary[fact] = len(self.vocabulary)
                    self.kinds.append(fact.partition(":")[0])
                row.add(col)
            indices.extend(sorted(row))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=float)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(texts), len(self.vocabulary)))

    def kind_weights(self, kinds: FactKinds) -> np.ndarray:
        """Return each fact's weight for its kind."""
        table = {"word": kinds.word, "name": kinds.name, "number": kinds.number, "year": kinds.number, "pair": kinds.pair}
        return np.array([table[k] for k in self.kinds], dtype=float)
