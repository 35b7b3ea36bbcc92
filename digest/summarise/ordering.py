"""Choose a story's headline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digest.models import Story
from digest.summarise.units import Unit
from digest.summarise.vectors import Vectoriser, centrality

MAX_HEADLINE_CHARS = 110
MIN_HEADLINE_WORDS = 3


def headline(story: Story, units: Sequence[Unit]) -> str:
    """Return the most representative title that is not too long, too short or shouted."""
    titles = list(dict.fromkeys(t.strip() for t in (a.title for a in story.articles) if t and t.strip()))
    if not titles:
        return units[0].text if units else ""
    if len(titles) == 1:
        return titles[0]
    vectoriser = Vectoriser()
    rows = vectoriser.fit([u.text for u in units] + titles)
    scores = centrality(rows)[len(units):]
    penalties = np.array([_penalty(t) for t in titles])
    return titles[int(np.argmax(scores - penalties))]


def _penalty(title: str) -> float:
    """Score what makes a title a poor headline."""
    letters = [c for c in title if c.isalpha()]
    shouted = bool(letters) and sum(c.isupper() for c in letters) > 0.6 * len(letters)
    return (
        (len(title) > MAX_HEADLINE_CHARS) * 0.5
        + shouted * 0.5
        + (len(title.split()) < MIN_HEADLINE_WORDS) * 0.5
        + title.rstrip().endswith("?") * 0.2
    )
