"""Train the HTML page-level selector (`choose.py`): when is an alternative better than trafilatura's default?

For each alternative candidate, a standardised logistic regression learns P(the alternative scores a
higher page F1 than the default), each page weighted by how much it gains or loses (and each
development set weighing the same in total). The bars the probabilities must clear are tuned on
inner out-of-fold probabilities of the training pages only, for the best worst-set gain over the
default (so the selector stays with trafilatura unless the data say otherwise).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from digest.clean.model import LinearModel
from digest.clean.picks import ALTERNATIVES, CHOICE_FEATURES, Pick

BARS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01)  # 1.01: the alternative is never chosen
# an alternative is enabled only when it gains at least this much on every set (inner folds): the
# default must be clearly beaten, not matched within noise
MIN_SET_GAIN = 0.002
INNER_FOLDS = 3
MIN_GAIN = 1e-3  # pages where the candidates tie teach nothing


def page_f1(scores: np.ndarray) -> np.ndarray:
    """Return each page's F1 from its (precision, recall) row."""
    p, r = scores[:, 0], scores[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p + r > 0, 2 * p * r / (p + r), 0.0)


def set_f1(scores: np.ndarray) -> float:
    """Return F1 of the page-averaged precision and recall (the bench's measure)."""
    p, r = float(scores[:, 0].mean()), float(scores[:, 1].mean())
    return 2 * p * r / (p + r) if p + r else 0.0


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int, c: float = 0.1) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:  # nothing to learn: never choose this alternative
        zero = np.zeros(len(CHOICE_FEATURES))
        return LinearModel(CHOICE_FEATURES, zero, zero + 1.0, zero, -30.0, 1.01)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit((x - mean) / scale, y, sample_weight=w * len(w) / w.sum())
    return LinearModel(CHOICE_FEATURES, mean, scale, model.coef_[0], float(model.intercept_[0]))


def _examples(
    x: np.ndarray, scores: Mapping[Pick, np.ndarray], sets: Sequence[str], members: Sequence[int], pick: Pick
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = np.asarray(members)
    gain = page_f1(scores[pick][idx]) - page_f1(scores[Pick.DEFAULT][idx])
    size = {name: sum(1 for n in idx if sets[n] == name) for name in {sets[n] for n in idx}}
    w = np.abs(gain) / np.array([size[sets[n]] for n in idx])
    use = np.abs(gain) >= MIN_GAIN
    return x[idx][use], (gain > 0)[use].astype(int), w[use]


def chosen_scores(probs: np.ndarray, bars: Sequence[float], stack: np.ndarray) -> np.ndarray:
    """Return each page's (P, R) under the rule of `choose.pick_of`: the alternative clearing its bar by most.

    `probs` is pages x alternatives; `stack` is pages x (default + alternatives) x 2.
    """
    margin = probs - np.asarray(bars)[None, :]
    eligible = margin >= 0
    best = np.where(eligible.any(axis=1), np.argmax(np.where(eligible, margin, -np.inf), axis=1) + 1, 0)
    return stack[np.arange(len(stack)), best]


def _tune(probs: np.ndarray, stack: np.ndarray, sets: Sequence[str]) -> tuple[float, ...]:
    """Return the bars with the best worst-set gain over the default (ties: the best mean gain).

    Bars gaining less than MIN_SET_GAIN on some set lose to the default (no alternative ever chosen).
    """
    names = sorted(set(sets))
    groups = [np.array([s == name for s in sets]) for name in names]
    base = [set_f1(stack[g, 0]) for g in groups]
    best: tuple[tuple[float, float], tuple[float, ...]] = ((MIN_SET_GAIN, 0.0), (1.01,) * probs.shape[1])
    for bars in itertools.product(BARS, repeat=probs.shape[1]):
        got = chosen_scores(probs, bars, stack)
        gains = [set_f1(got[g]) - b for g, b in zip(groups, base)]
        key = (round(min(gains), 4), float(np.mean(gains)))
        if key > best[0]:
            best = (key, bars)
    return best[1]


def fit_selector(
    x: np.ndarray, scores: Mapping[Pick, np.ndarray], sets: Sequence[str], members: Sequence[int], seed: int
) -> dict[str, LinearModel]:
    """Fit one model per alternative on the `members` pages and tune their bars on inner folds."""
    picks = [pick for pick in ALTERNATIVES if pick in scores]
    members = list(members)
    rng = np.random.default_rng(seed)
    inner = rng.permutation(len(members)) % INNER_FOLDS
    probs = np.zeros((len(members), len(picks)))
    for j in range(INNER_FOLDS):
        train = [m for m, f in zip(members, inner) if f != j]
        test = np.array([m for m, f in zip(members, inner) if f == j])
        for a, pick in enumerate(picks):
            probs[inner == j, a] = _fit(*_examples(x, scores, sets, train, pick), seed).probabilities(x[test])
    stack = np.stack([scores[p][members] for p in (Pick.DEFAULT, *picks)], axis=1)
    bars = _tune(probs, stack, [sets[m] for m in members])
    return {
        pick.name: replace(_fit(*_examples(x, scores, sets, members, pick), seed), threshold=bar)
        for pick, bar in zip(picks, bars)
    }
