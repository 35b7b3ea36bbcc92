"""Every sumy summarizer behind one interface, fed by our offline tokenizer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Protocol

from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers import AbstractSummarizer
from sumy.summarizers.edmundson import EdmundsonSummarizer
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.random import RandomSummarizer
from sumy.summarizers.reduction import ReductionSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from digest.summarise.tokenizer import STOP_WORDS, SumyTokenizer, stemmer
from digest.summarise.units import Unit

HEDGES = ("allegedly", "reportedly", "perhaps", "maybe", "might", "rumour", "rumor", "unconfirmed")
BONUS_WORDS = 20
SPARE = 3  # sentences asked for per sentence wanted, so redundancy removal has a choice


class SentenceInfo(Protocol):
    """What sumy hands a sentence count: a (sentence, order, rating) tuple (its type is not public)."""

    @property
    def sentence(self) -> Sentence: ...


def document(units: Sequence[Unit]) -> ObjectDocumentModel:
    """Build a sumy document: one paragraph per article, one sentence per unit."""
    tokenizer = SumyTokenizer()
    return ObjectDocumentModel(
        [Paragraph([Sentence(u.text, tokenizer) for u in group]) for _, group in groupby(units, key=lambda u: u.article)]
    )


class SumyMethod:
    """Run one sumy summarizer class over a story's sentences (naive: sumy sees every sentence)."""

    def __init__(self, factory: type[AbstractSummarizer]) -> None:
        self.factory = factory

    def build(self, units: Sequence[Unit]) -> AbstractSummarizer:
        """Create the summarizer with the English stemmer and stop words."""
        summarizer = self.factory(stemmer())
        if hasattr(summarizer, "stop_words"):
            summarizer.stop_words = STOP_WORDS
        return summarizer

    def __call__(self, units: Sequence[Unit], count: int) -> list[int]:
        """Return the indexes of the sentences sumy rates best, best first (spares for redundancy removal)."""
        if not units:
            return []
        ranked = _Ranked(count * SPARE)
        picked = self.build(units)(document(units), ranked)
        first: dict[str, int] = {}
        for i, u in enumerate(units):
            first.setdefault(u.text.strip(), i)
        return [first[str(s)] for s in (ranked.best or picked) if str(s) in first]


class _Ranked:
    """A sumy sentence count that also records the sentences in rating order (sumy returns text order)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.best: list[Sentence] = []

    def __call__(self, infos: list[SentenceInfo]) -> list[SentenceInfo]:
        """Keep the `count` best-rated sentence infos (sumy passes them sorted by rating)."""
        kept = infos[: self.count]
        self.best = [info.sentence for info in kept]
        return kept


class EdmundsonMethod(SumyMethod):
    """Edmundson with cue words from the story itself: its most frequent content words are bonus words."""

    def build(self, units: Sequence[Unit]) -> AbstractSummarizer:
        """Create an Edmundson summarizer using the cue and key methods (no headings needed)."""
        summarizer = EdmundsonSummarizer(stemmer(), cue_weight=1.0, key_weight=1.0, title_weight=0.0, location_weight=0.0)
        words = Counter(w.lower() for u in units for w in SumyTokenizer().to_words(u.text) if w.lower() not in STOP_WORDS)
        summarizer.bonus_words = [w for w, _ in words.most_common(BONUS_WORDS)]
        summarizer.stigma_words = HEDGES
        summarizer.null_words = STOP_WORDS
        return summarizer


SUMY_METHODS: dict[str, Callable[[Sequence[Unit], int], list[int]]] = {
    "sumy-lexrank": SumyMethod(LexRankSummarizer),
    "textrank": SumyMethod(TextRankSummarizer),
    "lsa": SumyMethod(LsaSummarizer),
    "luhn": SumyMethod(LuhnSummarizer),
    "edmundson": EdmundsonMethod(EdmundsonSummarizer),
    "kl": SumyMethod(KLSummarizer),
    "sumbasic": SumyMethod(SumBasicSummarizer),
    "reduction": SumyMethod(ReductionSummarizer),
    "random": SumyMethod(RandomSummarizer),
}
