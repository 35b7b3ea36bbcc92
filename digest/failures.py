"""Articles a stage fails on: their records and reasons, and running a stage around the ones it crashes on."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from digest import ingest
from digest.errors import InputError
from digest.models import Article, ArticleRecord, RawArticle

log = logging.getLogger("digest")
T = TypeVar("T")


def failed_record(err: InputError, fp: str, article_id: str | None = None) -> tuple[ArticleRecord, str]:
    """Build the failed-article record for an input error."""
    aid = article_id or ingest.article_id(fp, err.path)
    return ArticleRecord(id=aid, path=str(err.path), status="failed", reason=err.reason), fp


def stage_failure(stage: str, exc: BaseException) -> str:
    """The reason recorded for an article a stage crashed on."""
    return f"{stage} failed on this article ({exc.__class__.__name__}: {exc}); it is left out, the rest go on"


def isolate(work: Callable[[list[Article]], T], articles: Sequence[Article], stage: str) -> tuple[T, list[tuple[Article, str]]]:
    """Run a stage over all articles; when it crashes, find the articles it crashes on alone and retry without them.

    Return the stage's result and the articles left out with their reasons. A crash that no single
    article causes is a bug of the stage, not of an input, and is raised.
    """
    todo = list(articles)
    left_out: list[tuple[Article, str]] = []
    while True:
        try:
            return work(todo), left_out
        except Exception:
            bad: list[tuple[Article, str]] = []
            for article in todo:
                try:
                    work([article])
                except Exception as exc:
                    log.exception("%s failed on %s", stage, article.path)
                    bad.append((article, stage_failure(stage, exc)))
            if not bad or (len(bad) == len(todo) > 1):
                raise
            ids = {a.id for a, _ in bad}
            todo = [a for a in todo if a.id not in ids]
            left_out += bad


def left_out_records(
    left_out: Sequence[tuple[Article, str]], articles: Sequence[Article], duplicate_of: dict[str, str]
) -> list[tuple[ArticleRecord, str]]:
    """Failed records for the articles a stage left out, and for the copies collapsed into them."""
    reasons = {a.id: reason for a, reason in left_out}
    records = []
    for a in articles:
        reason = reasons.get(a.id) or reasons.get(duplicate_of.get(a.id, ""))
        if reason:
            records.append(failed_record(InputError(a.path, reason), a.fingerprint, a.id))
    return records


def failed_batch(batch: Sequence[RawArticle], reason: str) -> list[tuple[ArticleRecord, str]]:
    """Failed records for every article of a batch whose task failed as a whole."""
    return [failed_record(InputError(r.path, reason), r.fingerprint, r.id) for r in batch]
