"""Summarise a story across its sources: pick sentences, drop repeats, order them, choose a headline.

Summarizers live in one registry, `SUMMARIZERS`: "lexrank" (default; our fast multi-document LexRank)
and every sumy summarizer by name. Each takes the story's summary-worthy sentences and a count and
returns sentence indexes, best first; redundancy removal and ordering are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from digest.errors import ConfigError
from digest.models import Story, StorySummary, SummarySentence
from digest.summarise import lexrank
from digest.summarise.ordering import headline, order
from digest.summarise.redundancy import select
from digest.summarise.sumy_methods import SUMY_METHODS
from digest.summarise.tokenizer import SumyTokenizer, split_sentences
from digest.summarise.units import Unit, units, worthy

Summarizer = Callable[[Sequence[Unit], int], list[int]]

SUMMARIZERS: dict[str, Summarizer] = {"lexrank": lexrank.rank, **SUMY_METHODS}

__all__ = ["SUMMARIZERS", "Summarizer", "SumyTokenizer", "split_sentences", "summarise", "summarizer_for", "worthy"]


def summarizer_for(method: str) -> Summarizer:
    """Return the registered summarizer named `method`; raise ConfigError naming the choices."""
    summarizer = SUMMARIZERS.get(method)
    if summarizer is None:
        raise ConfigError(
            f"unknown summarizer {method!r}. Possible values are: {', '.join(sorted(SUMMARIZERS))}. "
            f"Set summarizer in digest.toml or DIGEST_SUMMARIZER."
        )
    return summarizer


def summarise(story: Story, method: str = "lexrank", sentences: int = 5, previous: Sequence[str] = ()) -> StorySummary:
    """Summarise a story in up to `sentences` sentences drawn from all its sources.

    `previous` holds sentences an earlier digest already showed for this story; they and anything
    close to them are left out, so an update shows what is new.
    Raises ConfigError for an unknown `method`.
    """
    summarizer = summarizer_for(method)
    found = units(story)
    chosen = order(found, select(found, summarizer(found, max(sentences, 1)), sentences, previous))
    sources = tuple(s for a in story.articles for s in a.sources)
    return StorySummary(
        story_id=story.id,
        headline=headline(story, found),
        sentences=tuple(SummarySentence(found[i].text, found[i].article_id, found[i].outlet) for i in chosen),
        sources=sources,
        article_ids=tuple(a.id for a in story.articles),
        is_update=story.is_update,
    )
