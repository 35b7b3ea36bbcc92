"""How likely a sentence is to carry a story's news: a small linear model over cheap sentence features.

The features are a lead prior (where the sentence stands in its article), how central it is, and how
many other sources carry its facts (names, numbers, words, pairs) and its words and word pairs as
written. The weights are learned (ridge regression on multi-news-dev: each sentence's share of word
pairs found in the human summary, less its story's mean, so only the order within a story counts) by
`python bench/summaries.py --fit` and ship in `coverage.json`. Every feature costs linear time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from digest.summarise.facts import FactIndex
from digest.summarise.tokenizer import split_words
from digest.summarise.units import Unit
from digest.summarise.vectors import Vectoriser, centrality

FEATURES = (
    "lead",  # 1 / (1 + position in its article)
    "log position",
    "relative position",
    "first paragraph",
    "log words",
    "centrality",  # cosine with the story's mean sentence
    "other sources",  # cosine with the mean sentence of the other articles
    "lexrank",  # 1 / (1 + rank) in the fast LexRank order
    "fact salience",  # mean log count of sentences carrying its facts
    "log facts",
    "has number",
    "has quote",
    "log sources",
    "log article sentences",
    "article centrality",  # cosine of its article's mean sentence with the story's
    "word support",  # mean share of the other articles carrying its content words
    "name support",
    "number support",
    "pair support",
    "shared pairs",  # log count of its word pairs that another article carries too
    # the same over every word and adjacent pair as written (stop words too: how news is phrased)
    "phrase spread",  # mean share of the other articles carrying each of its pairs
    "phrase reach",  # share of its pairs some other article carries
    "shared phrases",  # log count of those pairs
    "phrase frequency",  # mean log count of sentences carrying each of its pairs
    "token spread",
    "token reach",
    "shared tokens",
    "token frequency",
    "log tokens",
)
_QUOTES = ('"', "“", "”", "«", "「")


def features(units: Sequence[Unit], index: FactIndex, matrix: sparse.csr_matrix, ranking: Sequence[int]) -> np.ndarray:
    """Return the sentences-by-FEATURES matrix for one story (`matrix`: its sentence-by-fact matrix)."""
    n = len(units)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    articles = np.array([u.article for u in units])
    n_articles = int(articles.max()) + 1
    per_article = np.bincount(articles, minlength=n_articles).astype(float)
    position = np.array([u.position for u in units], dtype=float)
    words = np.array([max(len(u.text.split()), 1) for u in units], dtype=float)

    rows = Vectoriser().fit([u.text for u in units])
    central = centrality(rows)
    # mean row of each article and of the whole story; "other sources" is the story's mean without the article
    member = sparse.csr_matrix((np.ones(n), (articles, np.arange(n))), shape=(n_articles, n))
    sums = np.asarray((member @ rows).todense())
    total = sums.sum(axis=0)
    others = total[None, :] - sums
    norms = np.linalg.norm(others, axis=1)
    others = others / np.where(norms > 0, norms, 1.0)[:, None]
    other = np.asarray(rows.multiply(others[articles]).sum(axis=1)).ravel() if n_articles > 1 else np.zeros(n)
    story = total / (np.linalg.norm(total) or 1.0)
    article_norms = np.linalg.norm(sums, axis=1)
    article_central = (sums @ story) / np.where(article_norms > 0, article_norms, 1.0)

    ranked = np.zeros(n)
    for r, i in enumerate(ranking):
        ranked[i] = max(ranked[i], 1.0 / (1.0 + r))

    carried = np.asarray(matrix.sum(axis=0)).ravel()
    n_facts = np.diff(matrix.indptr).astype(float)
    salience = np.asarray(matrix @ np.log(np.maximum(carried, 1.0))).ravel() / np.maximum(n_facts, 1.0)
    in_articles = np.asarray(((member @ matrix) > 0).sum(axis=0)).ravel()
    share = (in_articles - 1.0) / max(n_articles - 1, 1)
    kinds = np.array(index.kinds) if index.kinds else np.array([], dtype=str)
    support = []
    for kind in ("word", "name", "number", "pair"):
        mask = (kinds == kind).astype(float)
        count = np.asarray(matrix @ mask).ravel()
        support.append(np.asarray(matrix @ (share * mask)).ravel() / np.maximum(count, 1.0))
    pairs = (kinds == "pair") & (in_articles > 1)
    shared_pairs = np.log1p(np.asarray(matrix @ pairs.astype(float)).ravel())

    columns = [
        1.0 / (1.0 + position),
        np.log1p(position),
        position / per_article[articles],
        np.array([u.paragraph == 0 for u in units], dtype=float),
        np.log(words),
        central,
        other,
        ranked,
        salience,
        np.log1p(n_facts),
        np.array([any(c.isdigit() for c in u.text) for u in units], dtype=float),
        np.array([any(q in u.text for q in _QUOTES) for u in units], dtype=float),
        np.full(n, math.log(n_articles)),
        np.log(per_article[articles]),
        article_central[articles],
        *support,
        shared_pairs,
        *_spread(units, member),
    ]
    return np.column_stack(columns)


def _spread(units: Sequence[Unit], member: sparse.csr_matrix) -> list[np.ndarray]:
    """Return how widely the story repeats each sentence's tokens and token pairs, as written.

    An inverted index (one sparse sentence-by-gram matrix) keeps it linear in the story's size.
    """
    tokens = [[w.lower() for w in split_words(u.text)] for u in units]
    columns: list[np.ndarray] = []
    for grams in ([list(itertools.pairwise(t)) for t in tokens], tokens):
        ids: dict[object, int] = {}
        indptr: list[int] = [0]
        indices: list[int] = []
        for row in grams:
            indices.extend({ids.setdefault(g, len(ids)) for g in row})
            indptr.append(len(indices))
        matrix = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(units), len(ids)))
        n_articles = member.shape[0]
        others = np.asarray(((member @ matrix) > 0).sum(axis=0)).ravel() - 1.0
        count = np.maximum(np.diff(matrix.indptr), 1).astype(float)
        shared = np.asarray(matrix @ (others > 0).astype(float)).ravel()
        columns += [
            np.asarray(matrix @ others).ravel() / count / max(n_articles - 1, 1),
            shared / count,
            np.log1p(shared),
            np.asarray(matrix @ np.log(np.maximum(np.asarray(matrix.sum(axis=0)).ravel(), 1.0))).ravel() / count,
        ]
    columns.append(np.log1p(np.array([len(t) for t in tokens], dtype=float)))
    return columns


@dataclass(frozen=True)
class SentenceModel:
    """A standardised linear model: score = ((x - mean) / scale) @ coef + intercept."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def score(self, x: np.ndarray) -> np.ndarray:
        """Return each sentence's predicted share of summary word pairs."""
        if len(x) == 0:
            return np.zeros(0)
        return ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef) + self.intercept

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SentenceModel:
        """Build the model from its JSON object; raise ValueError if it does not fit FEATURES."""
        names = data.get("features")
        if names != list(FEATURES):
            raise ValueError("the model's features are not this version's")
        return cls(
            tuple(map(float, data["mean"])),  # type: ignore[call-overload]
            tuple(map(float, data["scale"])),  # type: ignore[call-overload]
            tuple(map(float, data["coef"])),  # type: ignore[call-overload]
            float(data["intercept"]),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "coef": [round(v, 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
        }


def lead_model() -> SentenceModel:
    """Return the fallback model when none ships: the lead prior alone."""
    k = len(FEATURES)
    coef = [0.0] * k
    coef[FEATURES.index("lead")] = 1.0
    return SentenceModel((0.0,) * k, (1.0,) * k, tuple(coef), 0.0)


def fit(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> SentenceModel:
    """Fit the ridge model on sentence features `x` and targets `y` (used by bench/summaries.py --fit)."""
    from sklearn.linear_model import Ridge

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = Ridge(alpha=alpha).fit((x - mean) / scale, y)
    return SentenceModel(tuple(mean), tuple(scale), tuple(float(c) for c in model.coef_), float(model.intercept_))
