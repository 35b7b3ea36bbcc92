"""The learned part of the clean stage: a small logistic regression per input kind, shipped as JSON.

`model.json` beside this file holds, for plain-text lines and for HTML blocks, the feature names,
their standardisation, the coefficients and the decision threshold, all written by
`python -m digest.clean.train` (seeded, from ../shared/corpus). Nothing is fetched at run time.
A line's probability of being article text is smoothed with its neighbours' (as jusText does for
short paragraphs) before the threshold; `explain` names the features that weighed most.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np

from digest.clean.features import HTML_FEATURES, TEXT_FEATURES
from digest.clean.picks import CHOICE_FEATURES, Pick
from digest.errors import (
    ConfigError as ModelError,  # a missing or stale model file is an installation problem
)

MODEL_FILE = "model.json"


@lru_cache(maxsize=1 << 16)
def _pushed(name: str, push: float) -> str:
    """Format one feature's push for `explain` (memoised: most features take few values).

    Only pushes of at least 0.05 come here, so 0.0 and -0.0 (equal keys, different strings) never meet.
    """
    return f"{name} {push:+.1f}"


@dataclass(frozen=True, eq=False)
class LinearModel:
    """Standardised logistic regression over named features, with its threshold and neighbour smoothing."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5  # keep a line the rules keep when its smoothed probability reaches this
    smoothing: float = 0.0  # weight of the neighbours' mean probability in a line's smoothed one
    revive: float = 1.01  # keep a line the rules drop only when its smoothed probability reaches this

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Return P(article text) for each row of the feature matrix."""
        if len(x) == 0:
            return np.zeros(0)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def smooth(self, p: np.ndarray) -> np.ndarray:
        """Blend each probability with the mean of its two neighbours' (the ends use their one neighbour)."""
        if self.smoothing <= 0 or len(p) < 2:
            return p
        prev = np.concatenate(([p[1]], p[:-1]))
        nxt = np.concatenate((p[1:], [p[-2]]))
        return (1 - self.smoothing) * p + self.smoothing * (prev + nxt) / 2

    def keep(
        self, x: np.ndarray, base: np.ndarray | None = None, revivable: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (smoothed probabilities, kept mask) for the rows of one page.

        `base` marks the rows the rules keep; of the others, only the `revivable` ones may be kept, and
        only with the higher `revive` probability.
        """
        p = self.smooth(self.probabilities(x))
        if base is None:
            return p, p >= self.threshold
        revived = p >= self.revive if revivable is None else (p >= self.revive) & revivable
        return p, np.where(base, p >= self.threshold, revived)

    def top(self, row: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """Return the k features that pushed this row's score furthest from the average row's, with their push."""
        push = (row - self.mean) / self.scale * self.coef
        order = np.argsort(-np.abs(push))[:k]
        return [(self.features[j], float(push[j])) for j in order if abs(push[j]) >= 0.05]

    def explain(self, row: np.ndarray, p: float, k: int = 3) -> str:
        """Format the probability and the top-weighted features: 'p=0.91: words +1.2, in block +0.8'."""
        return self.explain_rows(row[None, :], np.asarray([p], dtype=float), k)[0]

    def explain_rows(self, x: np.ndarray, p: np.ndarray, k: int = 3) -> list[str]:
        """Return `explain` of every row of a page's matrix with its probability, in one numpy pass."""
        if len(x) == 0:
            return []
        push = (x - self.mean) / self.scale * self.coef
        order = np.argsort(-np.abs(push), axis=1)[:, :k]  # each row sorted as `top` sorts it
        pushes = np.take_along_axis(push, order, axis=1).tolist()
        names = self.features
        out = []
        for prob, columns, values in zip(p.tolist(), order.tolist(), pushes):
            parts = ", ".join([_pushed(names[j], v) for j, v in zip(columns, values) if abs(v) >= 0.05])
            out.append(f"p={prob:.2f}: {parts}" if parts else f"p={prob:.2f}")
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the model as JSON-able data (rounded: the file stays small and diffable)."""
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "threshold": round(float(self.threshold), 4),
            "smoothing": round(float(self.smoothing), 4),
            "revive": round(float(self.revive), 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str]) -> LinearModel:
        """Build a model from `to_json` data; raise ModelError when its features are not `expected`."""
        try:
            features = tuple(data["features"])
            model = cls(
                features,
                np.asarray(data["mean"], dtype=float),
                np.asarray(data["scale"], dtype=float),
                np.asarray(data["coef"], dtype=float),
                float(data["intercept"]),
                float(data.get("threshold", 0.5)),
                float(data.get("smoothing", 0.0)),
                float(data.get("revive", 1.01)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the clean model is malformed ({exc}); run: python -m digest.clean.train") from exc
        if features != tuple(expected) or not (len(model.mean) == len(model.scale) == len(model.coef) == len(features)):
            raise ModelError("the clean model does not match this version's features; run: python -m digest.clean.train")
        return model


@dataclass(frozen=True, eq=False)
class CleanModel:
    """The shipped models: one for plain-text lines, one for HTML blocks, and what they were trained on."""

    text: LinearModel
    html: LinearModel
    trained_on: str = ""
    # HTML: the page-level selector, one model per alternative to trafilatura's default (keyed by Pick name)
    choose: Mapping[str, LinearModel] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the models and their provenance as JSON-able data."""
        return {
            "trained_on": self.trained_on,
            "text": self.text.to_json(),
            "html": self.html.to_json(),
            "choose": {name: model.to_json() for name, model in self.choose.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CleanModel:
        """Build the models from `to_json` data; raise ModelError when it does not fit this version."""
        if not isinstance(data, dict) or "text" not in data or not isinstance(data.get("choose"), dict):
            raise ModelError("the clean model is malformed or stale; run: python -m digest.clean.train")
        if not set(data["choose"]) <= {pick.name for pick in Pick}:
            raise ModelError("the clean model names an unknown candidate; run: python -m digest.clean.train")
        return cls(
            LinearModel.from_json(data["text"], TEXT_FEATURES),
            LinearModel.from_json(data["html"], HTML_FEATURES),
            str(data.get("trained_on", "")),
            {name: LinearModel.from_json(model, CHOICE_FEATURES) for name, model in data["choose"].items()},
        )


@cache
def shipped() -> CleanModel:
    """Load the model shipped inside the package (read once per process; immutable)."""
    try:
        raw = resources.files("digest.clean").joinpath(MODEL_FILE).read_text("utf-8")
        return CleanModel.from_json(json.loads(raw))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the clean model {MODEL_FILE} ({exc}); reinstall digest") from exc
