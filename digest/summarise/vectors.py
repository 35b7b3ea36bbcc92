"""Sparse TF-IDF sentence vectors (scipy) shared by the fast LexRank, redundancy and headline choice."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from digest.summarise.tokenizer import STOP_WORDS, split_words, stemmer


class Vectoriser:
    """Turn sentences into L2-normalised TF-IDF rows; the vocabulary and stem memo live in the instance."""

    def __init__(self, stem: Callable[[str], str] | None = None) -> None:
        self._stem = stem or stemmer()
        self._stems: dict[str, str] = {}
        self.vocabulary: dict[str, int] = {}
        self.idf: np.ndarray = np.zeros(0)

    def terms(self, text: str) -> list[str]:
        """Return the stemmed content words of a text."""
        out = []
        for word in split_words(text.lower()):
            if word in STOP_WORDS:
                continue
            stem = self._stems.get(word)
            if stem is None:
                stem = self._stems[word] = self._stem(word)
            out.append(stem)
        return out

    def _counts(self, texts: Sequence[str], grow: bool) -> sparse.csr_matrix:
        """Count term occurrences per text (unknown terms are skipped unless `grow`)."""
        indptr: list[int] = [0]
        indices: list[int] = []
        data: list[int] = []
        for text in texts:
            row: dict[int, int] = {}
            for term in self.terms(text):
                col = self.vocabulary.get(term)
                if col is None:
                    if not grow:
                        continue
                    col = self.vocabulary[term] = len(self.vocabulary)
                row[col] = row.get(col, 0) + 1
            indices.extend(row)
            data.extend(row.values())
            indptr.append(len(indices))
        return sparse.csr_matrix((np.array(data, dtype=np.float64), indices, indptr), shape=(len(texts), len(self.vocabulary)))

    def fit(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Learn the vocabulary and IDF from texts and return their normalised TF-IDF rows."""
        counts = self._counts(texts, grow=True)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        # smoothed idf: terms in every sentence still count a little, rare ones much more
        self.idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        return self._weigh(counts)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Vectorise texts with the fitted vocabulary and IDF."""
        counts = self._counts(texts, grow=False)
        counts.resize((len(texts), len(self.idf)))
        return self._weigh(counts)

    def _weigh(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """Apply log term frequency and IDF, then scale rows to unit length."""
        weighted = counts.copy()
        weighted.data = 1.0 + np.log(weighted.data)
        weighted = weighted.multiply(self.idf).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ weighted


def centrality(rows: sparse.csr_matrix) -> np.ndarray:
    """Cosine of each row with the mean of all rows (a linear-time stand-in for degree centrality)."""
    mean = np.asarray(rows.mean(axis=0)).ravel()
    norm = math.sqrt(float(mean @ mean)) or 1.0
    return np.asarray(rows @ (mean / norm)).ravel()
