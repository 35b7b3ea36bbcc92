"""Shingle F1 of an extraction against a human-extracted article (the corpus README's metric)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Return the multiset of word n-grams of `\\w+` tokens (short texts: the whole token run)."""
    tokens = TOKEN.findall(text.lower())
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_scores(output: str, truth: str) -> tuple[float, float]:
    """Return (precision, recall) of one page from multiset TP/FP/FN normalised to sum to 1."""
    got, want = shingles(output), shingles(truth)
    tp = sum((got & want).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    if tp + fp + fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def f1_of(pairs: Iterable[tuple[float, float]]) -> tuple[float, float, float]:
    """Average precision and recall over pages; F1 from the averages."""
    pairs = list(pairs)
    if not pairs:
        return 0.0, 0.0, 0.0
    p = sum(x for x, _ in pairs) / len(pairs)
    r = sum(y for _, y in pairs) / len(pairs)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
