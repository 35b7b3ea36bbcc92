"""How likely a body sentence is site furniture or a reader's comment rather than the article: a small learned model.

The clean stage keeps a page's article text, but some furniture ("Visit our directory for more
information.", "This post has been reported as spam.") and reader comments ("I hope you are doing well
with Maddy.") get through, mostly on blogs. A logistic regression over cheap features of each
sentence in its article (where it stands, first and second person, how much it shares with the title
and the lead, a small vocabulary of telling words) gives a calibrated probability. It is trained on
the comment labels and article bodies people marked (headlines-dev, cleaning-dev) by
`python bench/furniture.py --fit`, evaluated out-of-fold by page, and ships in `furniture.json`.
Every feature costs linear time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np

from digest.summarise.tokenizer import STOP_WORDS

MODEL_FILE = "furniture.json"
_WORD = re.compile(r"[A-Za-z']+|\d+")
FIRST_PERSON = frozenset("i me my mine i'm i've i'd i'll myself".split())
SECOND_PERSON = frozenset("you your yours you're you've you'll yourself".split())
BASE_FEATURES = (
    "relative position",  # of its paragraph in the article's body
    "last paragraph",
    "log position",  # of its paragraph
    "log paragraphs",  # of the article
    "log words",
    "log paragraph words",
    "first person",
    "second person",
    "exclamation",
    "digits",
    "capitals",  # share of its words that are capitalised
    "title words",  # share of its content words in the article's title
    "lead words",  # share of its content words in the article's first paragraph
    "article words",  # share of its content words found in other paragraphs
    "after comments",  # a paragraph before it reads like a comments header or a comment's byline
    "stamp nearby",  # its paragraph or a neighbour carries a post's date or time
)
# "12 Comments", "Posted by Tom", "Reply", "Anna says:", "Report this comment": where readers' words begin
_COMMENT_MARK = re.compile(r"(?i)^\s*\d*\s*(?:comments?|responses?|replies)\b|posted by\b|\breply\b|\b(?:says|said|wrote):|report (?:this|abuse)")
_STAMP = re.compile(r"(?i)\b\d{1,2}:\d\d\s*(?:am|pm)\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}\b")


def words(text: str) -> list[str]:
    """Return a text's words, lower-cased (letters and apostrophes, or digits)."""
    return [w.lower() for w in _WORD.findall(text)]


def content(tokens: Sequence[str]) -> set[str]:
    return {t for t in tokens if len(t) > 2 and t not in STOP_WORDS and not t.isdigit()}


@dataclass(frozen=True)
class Context:
    """An article, as the features see it: its title, lead and each paragraph's content words."""

    title: frozenset[str]
    lead: frozenset[str]
    paragraphs: tuple[frozenset[str], ...]
    counts: dict[str, int]  # in how many paragraphs each content word occurs
    comments_from: int  # the first paragraph after a comments marker (len(paragraphs) if none)
    stamped: frozenset[int]  # paragraphs carrying a date or time stamp

    @classmethod
    def of(cls, title: str, paragraphs: Sequence[str]) -> Context:
        sets = tuple(frozenset(content(words(p))) for p in paragraphs)
        counts: dict[str, int] = {}
        for s in sets:
            for w in s:
                counts[w] = counts.get(w, 0) + 1
        marks = [k for k, p in enumerate(paragraphs) if _COMMENT_MARK.search(p)]
        stamped = frozenset(k for k, p in enumerate(paragraphs) if _STAMP.search(p))
        lead = sets[0] if sets else frozenset()
        return cls(frozenset(content(words(title))), lead, sets, counts, marks[0] + 1 if marks else len(sets), stamped)


def features(sentence: str, paragraph: int, ctx: Context, vocabulary: Mapping[str, int] | None = None) -> list[float]:
    """Return the feature row of one sentence of paragraph `paragraph` (BASE_FEATURES, then one per vocabulary word).

    `vocabulary` maps each telling word to its column among the word features.
    """
    tokens = words(sentence)
    n = max(len(tokens), 1)
    mine = content(tokens)
    m = max(len(mine), 1)
    raw = sentence.split()
    n_paragraphs = max(len(ctx.paragraphs), 1)
    present = set(tokens)
    row = [
        paragraph / n_paragraphs,
        float(paragraph == n_paragraphs - 1 and n_paragraphs > 1),
        math.log1p(paragraph),
        math.log(n_paragraphs),
        math.log(n),
        math.log1p(len(ctx.paragraphs[paragraph]) if paragraph < len(ctx.paragraphs) else 0),
        sum(t in FIRST_PERSON for t in tokens) / n,
        sum(t in SECOND_PERSON for t in tokens) / n,
        float("!" in sentence),
        sum(t.isdigit() for t in tokens) / n,
        sum(w[:1].isupper() for w in raw) / max(len(raw), 1),
        len(mine & ctx.title) / m,
        len(mine & ctx.lead) / m if paragraph else 1.0,
        sum(ctx.counts.get(w, 0) > 1 for w in mine) / m,
        float(paragraph >= ctx.comments_from),
        float(bool({paragraph - 1, paragraph, paragraph + 1} & ctx.stamped)),
    ]
    if vocabulary:
        found = [0.0] * len(vocabulary)
        for word in present:
            column = vocabulary.get(word)
            if column is not None:
                found[column] = 1.0
        row += found
    return row


@dataclass(frozen=True)
class FurnitureModel:
    """A standardised logistic regression: p = sigmoid(((x - mean) / scale) @ coef + intercept)."""

    vocabulary: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # a sentence more likely than this to be furniture is left out

    @cached_property
    def columns(self) -> dict[str, int]:
        """Map each vocabulary word to its column among the word features."""
        return {w: k for k, w in enumerate(self.vocabulary)}

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """Return each row's probability of being furniture or a comment."""
        if len(rows) == 0:
            return np.zeros(0)
        z = ((rows - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def furniture(self, title: str, paragraphs: Sequence[str], sentences: Sequence[tuple[int, str]]) -> list[bool]:
        """Tell, for each (paragraph index, sentence) of an article, whether it is furniture or a comment."""
        if not sentences:
            return []
        ctx = Context.of(title, paragraphs)
        rows = np.array([features(s, p, ctx, self.columns) for p, s in sentences], dtype=float)
        return [bool(p > self.threshold) for p in self.probability(rows)]

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FurnitureModel:
        """Build the model from its JSON object; raise ValueError if it does not fit BASE_FEATURES."""
        if data.get("features") != list(BASE_FEATURES):
            raise ValueError("the furniture model's features are not this version's")
        return cls(
            tuple(map(str, data["vocabulary"])),  # type: ignore[call-overload]
            tuple(map(float, data["mean"])),  # type: ignore[call-overload]
            tuple(map(float, data["scale"])),  # type: ignore[call-overload]
            tuple(map(float, data["coef"])),  # type: ignore[call-overload]
            float(data["intercept"]),  # type: ignore[arg-type]
            float(data["threshold"]),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(BASE_FEATURES),
            "vocabulary": list(self.vocabulary),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "coef": [round(v, 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
            "threshold": self.threshold,
        }


@lru_cache(maxsize=1)
def shipped() -> FurnitureModel | None:
    """Return the model shipped in the package (None if missing or not this version's: nothing is dropped)."""
    try:
        text = resources.files("digest.summarise").joinpath(MODEL_FILE).read_text(encoding="utf-8")
        return FurnitureModel.from_dict(json.loads(text)["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fit(
    x: np.ndarray, y: np.ndarray, vocabulary: Sequence[str], threshold: float, c: float = 0.5, weight: np.ndarray | None = None
) -> FurnitureModel:
    """Fit the logistic regression on feature rows `x`, labels `y` and sample weights (used by bench/furniture.py --fit)."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y, sample_weight=weight)
    return FurnitureModel(
        tuple(vocabulary),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
        threshold,
    )
