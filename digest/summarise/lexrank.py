"""Fast multi-document LexRank: bounded candidates, sparse TF-IDF, power iteration on a small graph.

Sumy's LexRank compares every sentence with every other in pure Python. Here a linear-time centroid
score and the article leads pick at most MAX_CANDIDATES sentences first, so the similarity graph is
small whatever the story's size; sentence vectors are scipy sparse rows, the graph a numpy matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digest.summarise.units import Unit
from digest.summarise.vectors import Vectoriser, centrality

MAX_CANDIDATES = 240
LEAD_SENTENCES = 3  # per article: news puts the event in its first sentences
MAX_LEADS = 80
EDGE_THRESHOLD = 0.1  # sumy's LexRank threshold for an edge between two sentences
DAMPING = 0.85
ITERATIONS = 100
TOLERANCE = 1e-8
LEAD_WEIGHT = 2.0  # how much being an article's first sentence adds to a normalised LexRank score


def candidates(units: Sequence[Unit], scores: np.ndarray) -> list[int]:
    """Pick the leads of each article and the most central sentences, at most MAX_CANDIDATES."""
    by_score = np.argsort(-scores, kind="stable")
    leads = [int(i) for i in by_score if units[i].position < LEAD_SENTENCES][:MAX_LEADS]
    chosen = set(leads)
    for i in by_score:
        if len(chosen) >= MAX_CANDIDATES:
            break
        chosen.add(int(i))
    return sorted(chosen)


def power_iteration(similarity: np.ndarray) -> np.ndarray:
    """Return the stationary scores of the thresholded, degree-normalised similarity graph."""
    n = similarity.shape[0]
    adjacency = (similarity > EDGE_THRESHOLD).astype(float)
    degrees = adjacency.sum(axis=1, keepdims=True)
    degrees[degrees == 0] = 1.0
    transition = adjacency / degrees
    p = np.full(n, 1.0 / n)
    for _ in range(ITERATIONS):
        nxt = (1.0 - DAMPING) / n + DAMPING * (transition.T @ p)
        if np.abs(nxt - p).sum() < TOLERANCE:
            return nxt
        p = nxt
    return p


def rank(units: Sequence[Unit], count: int) -> list[int]:
    """Rank sentences of a story by LexRank centrality among candidates, with a bonus for leads."""
    if not units:
        return []
    rows = Vectoriser().fit([u.text for u in units])
    chosen = candidates(units, centrality(rows))
    sub = rows[chosen]
    scores = power_iteration((sub @ sub.T).toarray())
    scores = scores / (scores.max() or 1.0)
    bonus = np.array([LEAD_WEIGHT / (1 + units[i].position) for i in chosen])
    final = scores + bonus
    order = np.argsort(-final, kind="stable")
    return [chosen[int(k)] for k in order]
