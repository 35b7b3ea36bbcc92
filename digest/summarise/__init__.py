"""Summarise a story across its sources: pick sentences, drop repeats, order them, choose a headline.

Summarizers live in one registry, `SUMMARIZERS`: "lexrank" (default; our fast multi-document LexRank)
and every sumy summarizer by name. Each takes the story's summary-worthy sentences and a count and
returns sentence indexes, best first. The choice is shared: sentences are taken greedily for facts not
told yet (coverage.py), led by a learned prior for leads and facts other sources repeat (prior.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from digest.errors import ConfigError
from digest.models import Story, StorySummary, SummarySentence
from digest.summarise import lexrank
from digest.summarise.coverage import Coverage, Tuning, fitted
from digest.summarise.ordering import headline
from digest.summarise.sumy_methods import SUMY_METHODS
from digest.summarise.tokenizer import SumyTokenizer, split_sentences
from digest.summarise.units import Unit, units, worthy

Summarizer = Callable[[Sequence[Unit], int], list[int]]

SUMMARIZERS: dict[str, Summarizer] = {"lexrank": lexrank.rank, **SUMY_METHODS}

__all__ = [
    "SUMMARIZERS",
    "Summarizer",
    "SumyTokenizer",
    "Tuning",
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
    scores = tuning.model.score(coverage.features(summarizer(found, count)))
    chosen = lead_first(found, coverage.choose(scores, count=count))
    outlets = [a.outlet for a in story.articles]
    dates = [a.date for a in story.articles if a.date is not None]
    return StorySummary(
        story_id=story.id,
        headline=headline(story, found),
        sentences=tuple(
            SummarySentence(
                found[i].text,
                found[i].article_id,
                found[i].outlet,
                tuple(dict.fromkeys(outlets[a] for a in coverage.reporters(i))),
            )
            for i in chosen
        ),
        sources=tuple(s for a in story.articles for s in a.sources),
        article_ids=tuple(a.id for a in story.articles),
        is_update=story.is_update,
        latest=max(dates, key=_instant) if dates else None,
    )


def lead_first(found: Sequence[Unit], chosen: list[int]) -> list[int]:
    """Open with the chosen sentence nearest an article's start (the news itself), then the rest as chosen."""
    if not chosen:
        return chosen
    first = min(chosen, key=lambda i: found[i].position)  # min keeps the earliest chosen among equals
    return [first, *(i for i in chosen if i != first)]


def _instant(when: datetime) -> float:
    """Return a sortable instant for aware and naive datetimes alike (naive ones read as UTC)."""
    try:
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except (OverflowError, ValueError, OSError):  # a date at the edge of the calendar (year 1)
        return float("-inf")
