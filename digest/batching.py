"""How a run splits its articles into batches (one rule for the direct steps and the flow's tasks)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

from digest import ingest
from digest.models import RawArticle, Story
from digest.settings import Settings

T = TypeVar("T")


MAX_BATCHES = 64  # tasks per stage: past it batches grow, so 100,000 articles are not 500 task runs of 200


def batch_size_for(items: int, settings: Settings) -> int:
    """Articles per batch: `batch_size`, or more when a stage would otherwise need over MAX_BATCHES batches."""
    return max(settings.batch_size, -(-items // MAX_BATCHES))


def batches_of(items: list[T], settings: Settings) -> list[list[T]]:
    """Split a stage's articles into batches of `batch_size_for` each: the one batching rule of every run."""
    size = batch_size_for(len(items), settings)
    return [items[start : start + size] for start in range(0, len(items), size)]


def batches_of_stories(stories: Sequence[Story], settings: Settings, articles: int) -> Iterator[tuple[int, int]]:
    """Yield (start, end) ranges of stories holding about one batch of articles each."""
    size = batch_size_for(articles, settings)
    start, count = 0, 0
    for i, story in enumerate(stories):
        count += len(story.articles)
        if count >= size:
            yield start, i + 1
            start, count = i + 1, 0
    if start < len(stories):
        yield start, len(stories)


class Unpacking(Sequence[RawArticle]):
    """The articles with their texts unpacked one at a time, as they are read (never all at once)."""

    def __init__(self, raws: Sequence[RawArticle]) -> None:
        self.raws = raws

    def __len__(self) -> int:
        return len(self.raws)

    @overload
    def __getitem__(self, index: int) -> RawArticle: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RawArticle]: ...
    def __getitem__(self, index: int | slice) -> RawArticle | Sequence[RawArticle]:
        if isinstance(index, slice):
            return Unpacking(self.raws[index])
        return ingest.unpacked(self.raws[index])
