"""Summarise a story across its sources: pick sentences, drop repeats, order them, choose a headline.

Summarizers live in one registry, `SUMMARIZERS`: "lexrank" (default; our fast multi-document LexRank)
and every sumy summarizer by name. Each takes the story's summary-worthy sentences and a count and
returns sentence indexes, best first. The choice is shared: sentences are taken greedily for facts not
told yet (coverage.py), led by a learned prior for leads and facts other sources repeat (prior.py).
Every bullet must stand on its own (standalone.py): a sentence that points back ("He said...") only
follows the sentence before it in its article, and one quotation at most, its speaker named. Bullets
are shown in the order the facts unfold in the sources. A story told by one article is its lead; a
story with no summary-worthy sentence falls back to its first sentences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np

from digest.errors import ConfigError
from digest.models import Role, Story, StorySummary, SummarySentence
from digest.summarise import lexrank
from digest.summarise.coverage import Coverage, Tuning, fitted
from digest.summarise.ordering import headline
from digest.summarise.standalone import mostly_quoted, names_speaker, points_back
from digest.summarise.sumy_methods import SUMY_METHODS
from digest.summarise.tokenizer import SumyTokenizer, split_sentences, word_count
from digest.summarise.units import Unit, units, whole_sentences, worthy

LEAD_SENTENCES = 2  # a story told by one article shows its lead: the first sentences tell it best
FALLBACK_MIN_WORDS = 4  # a fallback lead sentence shorter than this is a label, not news

Summarizer = Callable[[Sequence[Unit], int], list[int]]

SUMMARIZERS: dict[str, Summarizer] = {"lexrank": lexrank.rank, **SUMY_METHODS}

__all__ = [
    "SUMMARIZERS",
    "Summarizer",
    "SumyTokenizer",
    "Tuning",
    "lead_scores",
    "pick",
    "split_sentences",
    "summarise",
    "summarizer_for",
    "units",
    "worthy",
]


def summarizer_for(method: str) -> Summarizer:
    """Return the registered summarizer named `method`; raise ConfigError naming the choices."""
    summarizer = SUMMARIZERS.get(method)
    if summarizer is None:
        raise ConfigError(
            f"unknown summarizer {method!r}. Possible values are: {', '.join(sorted(SUMMARIZERS))}. "
            f"Set summarizer in digest.toml or DIGEST_SUMMARIZER."
        )
    return summarizer


def summarise(
    story: Story,
    method: str = "lexrank",
    sentences: int = 5,
    previous: Sequence[str] = (),
    tuning: Tuning | None = None,
) -> StorySummary:
    """Summarise a story in up to `sentences` sentences drawn from all its sources, each fact told once.

    `previous` holds sentences an earlier digest already showed for this story; their facts count as
    told, so an update shows only what is new. `tuning` defaults to the one fitted and shipped with digest.
    Raises ConfigError for an unknown `method`.
    """
    summarizer = summarizer_for(method)
    found = units(story)
    count = max(sentences, 1)
    tuning = tuning or fitted()
    coverage = Coverage(found, tuning.options, previous)
    if len(story.articles) == 1:
        count = min(count, LEAD_SENTENCES)
        scores = lead_scores(found)
    else:
        scores = tuning.model.score(coverage.features(summarizer(found, count)))
    chosen = pick(found, coverage, scores, count=count)
    outlets = [a.outlet for a in story.articles]
    dates = [a.date for a in story.articles if a.date is not None]
    bullets = tuple(
        SummarySentence(
            found[i].text,
            found[i].article_id,
            found[i].outlet,
            tuple(dict.fromkeys(outlets[a] for a in coverage.reporters(i))),
        )
        for i in chosen
    )
    if not bullets and not previous:
        bullets = fallback(story, min(count, LEAD_SENTENCES))
    return StorySummary(
        story_id=story.id,
        headline=headline(story, found),
        sentences=bullets,
        sources=tuple(s for a in story.articles for s in a.sources),
        article_ids=tuple(a.id for a in story.articles),
        is_update=story.is_update,
        latest=max(dates, key=_instant) if dates else None,
    )


def lead_scores(found: Sequence[Unit]) -> np.ndarray:
    """Score sentences by how early they stand in their article (the lead first)."""
    return -np.array([u.position for u in found], dtype=float)


def pick(
    found: Sequence[Unit],
    coverage: Coverage,
    scores: np.ndarray,
    count: int | None = None,
    max_words: int | None = None,
) -> list[int]:
    """Choose bullets that stand on their own, each fact once, and return them in the order facts unfold.

    A sentence that points back is told right after the sentence before it in its article (which is
    told first if it is not yet and stands on its own); a quotation only once, its speaker named.
    """
    before = {(u.article, u.position): i for i, u in enumerate(found)}

    def quotation_ok(i: int, chosen: Sequence[int], named_before: bool) -> bool:
        if not mostly_quoted(found[i].text):
            return True
        return (named_before or names_speaker(found[i].text)) and not any(mostly_quoted(found[j].text) for j in chosen)

    def admit(i: int, chosen: Sequence[int]) -> list[int]:
        if not points_back(found[i].text):
            return [i] if quotation_ok(i, chosen, False) else []
        previous = before.get((found[i].article, found[i].position - 1))
        if previous is None:
            return []
        if previous in chosen:
            return [i] if quotation_ok(i, chosen, True) else []
        if points_back(found[previous].text) or not quotation_ok(previous, chosen, False):
            return []
        return [previous, i] if quotation_ok(i, [*chosen, previous], True) else []

    return unfolding(found, coverage.choose(scores, count=count, max_words=max_words, admit=admit))


def unfolding(found: Sequence[Unit], chosen: list[int]) -> list[int]:
    """Order bullets as their facts unfold: the lead first, then by how far into its article each stands.

    A sentence that points back stays right after the one it follows.
    """
    if not chosen:
        return chosen
    sizes = Counter(u.article for u in found)
    at = {(found[i].article, found[i].position): i for i in chosen}

    def root(i: int) -> int:
        while points_back(found[i].text) and (found[i].article, found[i].position - 1) in at:
            i = at[(found[i].article, found[i].position - 1)]
        return i

    def key(i: int) -> tuple[float, int, int]:
        r = found[root(i)]
        return (r.position / sizes[r.article], r.article, found[i].position)

    lead = min(chosen, key=lambda i: (found[root(i)].position, key(i)))
    lead = root(lead)
    rest = sorted((i for i in chosen if root(i) != lead), key=key)
    return sorted((i for i in chosen if root(i) == lead), key=lambda i: found[i].position) + rest


def fallback(story: Story, count: int) -> tuple[SummarySentence, ...]:
    """Return the story's lead when no sentence is summary-worthy: the first whole sentences of its body."""
    for article in story.articles:
        body = [p.text for p in article.paragraphs if p.role is Role.BODY]
        lead = [
            s
            for p in body
            for s in split_sentences(whole_sentences(p))
            if word_count(s) >= FALLBACK_MIN_WORDS and not points_back(s)
        ][:count]
        if not lead and article.description and word_count(article.description) >= FALLBACK_MIN_WORDS:
            lead = split_sentences(article.description)[:count]
        if lead:
            return tuple(SummarySentence(s, article.id, article.outlet, (article.outlet,)) for s in lead)
    return ()


def _instant(when: datetime) -> float:
    """Return a sortable instant for aware and naive datetimes alike (naive ones read as UTC)."""
    try:
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except (OverflowError, ValueError, OSError):  # a date at the edge of the calendar (year 1)
        return float("-inf")
