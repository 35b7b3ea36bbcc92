"""Choose summary sentences greedily for facts not told yet, led by a learned lead-and-support prior.

A coverage selection in the style of Lin and Bilmes (2011): a sentence is the set of facts it
carries (facts.py), a fact counts once, weighted by how many of the story's sentences carry it; each
step takes the sentence with the best prior (prior.py: lead position, centrality, support by other
sources, learned on multi-news-dev) plus `gain_weight` times the share of its fact weight still new.
A sentence whose facts are mostly told already (a paraphrase of a chosen one, or of one an earlier
digest showed) is skipped. Lazy greedy keeps the work near-linear in the story's size.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources

import numpy as np

from digest.summarise import prior
from digest.summarise.facts import FactIndex, FactKinds
from digest.summarise.prior import SentenceModel
from digest.summarise.tokenizer import word_count
from digest.summarise.units import Unit

PARAMS_FILE = "coverage.json"  # written by `python bench/summaries.py --fit` (k-fold CV on multi-news-dev)


@dataclass(frozen=True)
class CoverageOptions:
    """Tuning of the coverage selection (fitted values ship in coverage.json)."""

    salience: float = 1.0  # a fact's weight grows as (sentences carrying it) ** this
    novelty: float = 0.3  # least share of a sentence's fact weight that must be new for it to be told
    gain_weight: float = 0.0  # how much the share of new facts adds to the prior when choosing
    same_fact: float = 0.5  # share of a bullet's fact weight another source's sentence carries to report it too
    numbers_once: bool = True  # a sentence repeating a number already told (not a year) re-tells that fact
    told_pairs: int = 1  # a sentence repeating more word pairs already told than this re-tells a fact
    kinds: FactKinds = field(default_factory=FactKinds)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CoverageOptions:
        """Build options from a JSON object (unknown keys are ignored)."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "kinds"}
        kinds = data.get("kinds")
        return cls(**values, kinds=FactKinds(**kinds) if isinstance(kinds, dict) else FactKinds())  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Tuning:
    """The selection's options and the sentence prior's model, as fitted together."""

    options: CoverageOptions = field(default_factory=CoverageOptions)
    model: SentenceModel = field(default_factory=prior.lead_model)


def fitted() -> Tuning:
    """Return the tuning fitted on multi-news-dev, shipped in the package (a lead prior if missing)."""
    try:
        text = resources.files("digest.summarise").joinpath(PARAMS_FILE).read_text(encoding="utf-8")
        data = json.loads(text)
        return Tuning(CoverageOptions.from_dict(data["options"]), SentenceModel.from_dict(data["model"]))
    except (OSError, ValueError, KeyError, TypeError):
        return Tuning()


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
        self.numbers = np.array([k == "number" for k in self.index.kinds], dtype=bool)
        self.pairs = np.array([k == "pair" for k in self.index.kinds], dtype=bool)
        self.words = np.array([max(word_count(u.text), 1) for u in units], dtype=float)
        self.retune(options)

    def features(self, ranking: Sequence[int] = ()) -> np.ndarray:
        """Return the prior's features of every sentence (`ranking`: a summarizer's order, best first)."""
        return prior.features(self.units, self.index, self.matrix, ranking)

    def retune(self, options: CoverageOptions) -> None:
        """Set new options and forget any choice made (the facts are kept: cheap for tuning)."""
        self.options = options
        kinds = self.index.kind_weights(options.kinds)
        self.weights = kinds * np.power(np.maximum(self.carried, 1.0), options.salience)
        self.uncovered = (~self.told).astype(float)
        self.totals = np.asarray(self.matrix @ self.weights).ravel()

    def choose(
        self,
        scores: np.ndarray,
        count: int | None = None,
        max_words: int | None = None,
        admit: Callable[[int, Sequence[int]], Sequence[int]] | None = None,
    ) -> list[int]:
        """Return sentence indexes in the order chosen: up to `count` sentences or until `max_words` are used.

        `scores` is each sentence's prior (higher first). `admit(i, chosen)` returns the sentences to
        tell for sentence i given those chosen so far: [i], the sentence it needs first and i (a pronoun
        and the sentence that names whom it means), or none to refuse it (then it is not told).
        """
        uncovered = self.uncovered.copy()
        weight = self.options.gain_weight
        gains = np.asarray(self.matrix @ (self.weights * uncovered)).ravel()
        shares = gains / np.where(self.totals > 0, self.totals, 1.0)
        heap = [(-(scores[i] + weight * shares[i]), i) for i in range(len(self.units)) if gains[i] > 0]
        heapq.heapify(heap)
        chosen: list[int] = []
        used = 0.0
        seen_texts: set[str] = set()
        while heap and (count is None or len(chosen) < count) and (max_words is None or used < max_words):
            _, i = heapq.heappop(heap)
            row = self.matrix.indices[self.matrix.indptr[i] : self.matrix.indptr[i + 1]]
            gain = float(self.weights[row] @ uncovered[row])
            told = uncovered[row] == 0
            retold = (self.options.numbers_once and bool((self.numbers[row] & told).any())) or int(
                (self.pairs[row] & told).sum()
            ) > self.options.told_pairs
            if gain <= 0 or gain < self.options.novelty * self.totals[i] or retold or self.units[i].text in seen_texts:
                continue  # told already: gains only shrink, so it never comes back
            key = scores[i] + weight * gain / self.totals[i]
            if heap and key < -heap[0][0]:
                heapq.heappush(heap, (-key, i))  # stale bound: re-queue with its current key
                continue
            told_now = [i] if admit is None else [k for k in admit(i, chosen) if self.units[k].text not in seen_texts]
            if i not in told_now or (count is not None and len(chosen) + len(told_now) > count):
                continue
            for k in told_now:
                chosen.append(k)
                seen_texts.add(self.units[k].text)
                used += self.words[k]
                uncovered[self.matrix.indices[self.matrix.indptr[k] : self.matrix.indptr[k + 1]]] = 0.0
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
