"""Choose summary sentences greedily for facts not told yet, with a prior for article leads.

A monotone submodular coverage objective in the style of Lin and Bilmes (2011): a fact counts once,
weighted by how many of the story's sentences carry it (what several sources repeat is what the
story is about) and by its kind; a sentence's gain is the weight of its facts not yet covered, per
word of length (budgeted greedy), raised by a prior for leads and the ranker's order. A sentence whose
facts are mostly told already (a paraphrase of a chosen one, or of one shown in an earlier digest)
is skipped. Lazy greedy keeps the work near-linear in the story's size.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources

import numpy as np

from digest.summarise.facts import FactIndex, FactKinds
from digest.summarise.tokenizer import word_count
from digest.summarise.units import Unit

PARAMS_FILE = "coverage.json"  # fitted by `python bench/summaries.py --fit` (k-fold CV on multi-news-dev)


@dataclass(frozen=True)
class CoverageOptions:
    """Tuning of the coverage selection (fitted values ship in coverage.json)."""

    lead_weight: float = 1.0  # prior for an article's first sentences: score x (1 + w / (1 + position))
    rank_weight: float = 0.0  # prior for the ranker's order: score x (1 + w / (1 + rank))
    length_exponent: float = 0.5  # gain is divided by words ** this (1: per word; 0: length ignored)
    salience: float = 1.0  # a fact's weight grows as (sentences carrying it) ** this
    novelty: float = 0.5  # least share of a sentence's fact weight that must be new for it to be told
    same_fact: float = 0.5  # share of a bullet's fact weight another source's sentence carries to report it too
    kinds: FactKinds = field(default_factory=FactKinds)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CoverageOptions:
        """Build options from a JSON object (unknown keys are ignored)."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "kinds"}
        kinds = data.get("kinds")
        return cls(**values, kinds=FactKinds(**kinds) if isinstance(kinds, dict) else FactKinds())  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def fitted() -> CoverageOptions:
    """Return the options fitted on multi-news-dev, shipped in the package (defaults if missing)."""
    try:
        text = resources.files("digest.summarise").joinpath(PARAMS_FILE).read_text(encoding="utf-8")
        return CoverageOptions.from_dict(json.loads(text)["options"])
    except (OSError, ValueError, KeyError, TypeError):
        return CoverageOptions()


class Coverage:
    """The facts of one story's sentences, ready to choose from and to find who else reports a fact."""

    def __init__(self, units: Sequence[Unit], options: CoverageOptions, previous: Sequence[str] = ()) -> None:
        self.units = units
        self.index = FactIndex()
        self.matrix = self.index.matrix([u.text for u in units])
        told = self.index.matrix(list(previous), grow=False) if previous else None
        self.told = np.zeros(self.matrix.shape[1], dtype=bool)
        if told is not None and told.nnz:
            self.told[np.unique(told.indices)] = True
        self.carried = np.asarray(self.matrix.sum(axis=0)).ravel()
        self.words = np.array([max(word_count(u.text), 1) for u in units], dtype=float)
        self.retune(options)

    def retune(self, options: CoverageOptions) -> None:
        """Set new options and forget any choice made (the facts are kept: cheap for tuning)."""
        self.options = options
        kinds = self.index.kind_weights(options.kinds)
        self.weights = kinds * np.power(np.maximum(self.carried, 1.0), options.salience)
        self.uncovered = (~self.told).astype(float)
        self.totals = np.asarray(self.matrix @ self.weights).ravel()

    def _prior(self, ranking: Sequence[int]) -> np.ndarray:
        o = self.options
        lead = np.array([1.0 / (1.0 + u.position) for u in self.units])
        rank = np.zeros(len(self.units))
        for r, i in enumerate(ranking):
            rank[i] = max(rank[i], 1.0 / (1.0 + r))
        return 1.0 + o.lead_weight * lead + o.rank_weight * rank

    def choose(self, count: int | None = None, max_words: int | None = None, ranking: Sequence[int] = ()) -> list[int]:
        """Return sentence indexes in the order chosen: up to `count` sentences or until `max_words` are used."""
        uncovered = self.uncovered.copy()
        prior = self._prior(ranking)
        scale = prior / np.power(self.words, self.options.length_exponent)
        gains = np.asarray(self.matrix @ (self.weights * uncovered)).ravel()
        heap = [(-gains[i] * scale[i], i) for i in range(len(self.units)) if gains[i] > 0]
        heapq.heapify(heap)
        chosen: list[int] = []
        used = 0.0
        seen_texts: set[str] = set()
        while heap and (count is None or len(chosen) < count) and (max_words is None or used < max_words):
            _, i = heapq.heappop(heap)
            row = self.matrix.indices[self.matrix.indptr[i] : self.matrix.indptr[i + 1]]
            gain = float(self.weights[row] @ uncovered[row])
            if gain <= 0 or gain < self.options.novelty * self.totals[i] or self.units[i].text in seen_texts:
                continue  # told already: gains only shrink, so it never comes back
            score = gain * scale[i]
            if heap and score < -heap[0][0]:
                heapq.heappush(heap, (-score, i))  # stale bound: re-queue with its current score
                continue
            chosen.append(i)
            seen_texts.add(self.units[i].text)
            used += self.words[i]
            uncovered[row] = 0.0
        return chosen

    def reporters(self, i: int) -> list[int]:
        """Return the articles (indexes, first the sentence's own) that carry most of sentence i's facts."""
        row = self.matrix.indices[self.matrix.indptr[i] : self.matrix.indptr[i + 1]]
        own = float(self.weights[row].sum())
        if own <= 0:
            return [self.units[i].article]
        mine = np.zeros(self.matrix.shape[1])
        mine[row] = self.weights[row]
        shared = np.asarray(self.matrix @ mine).ravel() / own
        found = [self.units[i].article]
        for j in np.flatnonzero(shared >= self.options.same_fact):
            a = self.units[int(j)].article
            if a not in found:
                found.append(a)
        return found
