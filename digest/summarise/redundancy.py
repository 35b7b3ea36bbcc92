"""Pick summary sentences from a ranking without saying the same thing twice (or again)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digest.summarise.units import Unit
from digest.summarise.vectors import Vectoriser

MAX_SIMILARITY = 0.5  # TF-IDF cosine above which two sentences count as saying the same thing
MAX_OVERLAP = 0.6  # share of the shorter sentence's content words found in the other
POOL = 12  # ranked sentences considered per summary sentence wanted


def select(units: Sequence[Unit], ranking: Sequence[int], count: int, previous: Sequence[str] = ()) -> list[int]:
    """Take the best-ranked sentences, skipping any close to one already taken or shown before."""
    pool = list(dict.fromkeys(ranking))[: max(count * POOL, count)]
    if not pool:
        return []
    vectoriser = Vectoriser()
    rows = vectoriser.fit([units[i].text for i in pool] + list(previous))
    similarity = (rows @ rows.T).toarray()
    words = [set(vectoriser.terms(units[i].text)) for i in pool] + [set(vectoriser.terms(p)) for p in previous]
    blocked = list(range(len(pool), len(pool) + len(previous)))
    taken: list[int] = []
    for k in range(len(pool)):
        if len(taken) >= count:
            break
        if any(_same(similarity, words, k, other) for other in blocked):
            continue
        taken.append(k)
        blocked.append(k)
    return [pool[k] for k in taken]


def _same(similarity: np.ndarray, words: list[set[str]], a: int, b: int) -> bool:
    """Tell whether sentences a and b say the same thing."""
    if similarity[a, b] >= MAX_SIMILARITY:
        return True
    shorter = min(len(words[a]), len(words[b])) or 1
    return len(words[a] & words[b]) / shorter >= MAX_OVERLAP
