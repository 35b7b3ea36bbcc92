"""The pipeline's coarse steps as plain functions: what the Prefect flow's tasks call.

Each step takes and returns plain records, reports one line, and knows nothing of Prefect, so the
flow stays thin and `bench/pipeline.py` can run the same steps without an orchestrator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar, overload
from zoneinfo import ZoneInfo

from digest import clean, cluster, dedupe, deliver, ingest, render, summarise
from digest.deadline import Deadline, DeadlineExceeded
from digest.errors import (
    ConfigError,
    DeliveryError,
    DigestError,
    InputError,
    PartialDeliveryError,
    TransientDeliveryError,
)
from digest.models import Article, ArticleRecord, ArticleStatus, Digest, RawArticle, StorySummary
from digest.settings import Settings
from digest.state import StateStore, StoryRow, run_lock

log = logging.getLogger("digest")
Report = Callable[[str], None]
T = TypeVar("T")


def plural(n: int, word: str, many: str | None = None) -> str:
    """Return '1 article' / '3 articles'."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def now_in(settings: Settings) -> datetime:
    """Return the current time in the configured time zone (default: the machine's)."""
    if settings.timezone:
        try:
            return datetime.now(ZoneInfo(settings.timezone))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {settings.timezone!r}; use an IANA name such as Europe/Berlin") from exc
    return datetime.now().astimezone()


@dataclass
class Discovered:
    """New inbox files, decoded; and the ones that could not be used."""

    raws: list[RawArticle]
    failed: list[tuple[ArticleRecord, str]]  # (record, fingerprint)
    seen: int
    waiting: int


@dataclass
class Cleaned:
    articles: list[Article] = field(default_factory=list)
    failed: list[tuple[ArticleRecord, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, part: Cleaned, total: int, report: Report) -> None:
        """Take in one batch's results, reporting progress on runs of more than one batch."""
        self.articles += part.articles
        self.failed += part.failed
        self.warnings += part.warnings
        if len(part.articles) + len(part.failed) < total:  # more than one batch: a long run
            report(f"  cleaning: {len(self.articles) + len(self.failed):,} of {total:,} articles")


@dataclass
class Stories:
    summaries: list[StorySummary]
    kept: list[Article]
    duplicate_of: dict[str, str]
    rows: list[StoryRow]
    failed: list[tuple[ArticleRecord, str]] = field(default_factory=list)  # articles a stage failed on


def failed_record(err: InputError, fp: str, article_id: str | None = None) -> tuple[ArticleRecord, str]:
    """Build the failed-article record for an input error."""
    aid = article_id or ingest.article_id(fp, err.path)
    return ArticleRecord(id=aid, path=str(err.path), status="failed", reason=err.reason), fp


def discover(settings: Settings, store: StateStore, report: Report) -> Discovered:
    """Scan the inbox for files the store has not handled; record the new ones as pending."""
    scan = ingest.scan(
        settings.inbox,
        store.known_fingerprints(),
        settle_seconds=settings.settle_seconds,
        budget=budget_of(settings),
        pack=True,  # texts stay compressed until each is cleaned: a 20,000-file inbox fits in memory
    )
    failed = [failed_record(err, fp) for err, fp in scan.failed]
    store.add_pending((r.id, r.fingerprint, str(r.path)) for r in scan.new)
    extra = []
    if scan.seen:
        extra.append(f"{scan.seen:,} already digested")
    if failed:
        extra.append(f"{len(failed):,} unreadable")
    if scan.waiting:
        extra.append(f"{len(scan.waiting):,} still being written")
    report(f"ingested {plural(len(scan.new), 'new article')}" + (f" ({', '.join(extra)})" if extra else ""))
    for record, _ in failed:
        report(f"  failed: {record.path}: {record.reason}")
    for path in scan.waiting:
        report(f"  waiting: {path}: still being written (changed in the last {settings.settle_seconds:g} s); left for the next run")
    for path, warning in scan.warnings:
        report(f"  warning: {path}: {warning}")
    return Discovered(scan.new, failed, scan.seen, len(scan.waiting))


def budget_of(settings: Settings) -> ingest.Budget:
    """The per-file budgets of the settings."""
    return ingest.Budget(
        max_bytes=settings.max_file_bytes,
        max_lines=settings.max_lines,
        max_html_tags=settings.max_html_tags,
        max_header_bytes=settings.max_header_bytes,
        max_title_chars=settings.max_title_chars,
        max_seconds=settings.max_file_seconds,
    )


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


def learn(raws: Sequence[RawArticle], settings: Settings) -> clean.LearnedBoilerplate | None:
    """Learn the lines that recur across this inbox's unrelated articles (site chrome)."""
    if not (settings.learn_boilerplate and len(raws) > 2):
        return None
    try:
        return clean.learn_boilerplate(Unpacking(raws))
    except Exception:  # learning is an aid: without it every article is still cleaned
        log.exception("learning boilerplate failed; cleaning without it")
        return None


def clean_batch(
    raws: Sequence[RawArticle], learned: clean.LearnedBoilerplate | None, max_seconds: float = 60.0
) -> Cleaned:
    """Clean a batch of articles; a file with no article text, or that a crash or the time budget stops, fails alone."""
    out = Cleaned()
    for raw in Unpacking(raws):
        try:
            with Deadline(max_seconds):
                article = clean.clean_article(raw, learned)
        except DeadlineExceeded:
            reason = f"cleaning took over {max_seconds:g} s (max_file_seconds); save the article alone"
            out.failed.append(failed_record(InputError(raw.path, reason), raw.fingerprint, raw.id))
            continue
        except InputError as err:
            out.failed.append(failed_record(err, raw.fingerprint, raw.id))
            continue
        except RecursionError:
            deep = InputError(raw.path, "markup nested too deeply to parse")
            out.failed.append(failed_record(deep, raw.fingerprint, raw.id))
            continue
        except Exception as exc:  # one article's crash fails that article, never the batch
            log.exception("cleaning %s failed", raw.path)
            out.failed.append(failed_record(InputError(raw.path, stage_failure("cleaning", exc)), raw.fingerprint, raw.id))
            continue
        if article.date is not None and ingest.sane_date(article.date) is None:
            out.warnings.append(f"{raw.path}: date {article.date.isoformat()} is out of range; kept without a date")
            article = replace(article, date=None)
        # the line-by-line decisions serve `digest clean --explain`; a run keeps only their count
        out.articles.append(replace(article, decisions=()))
    return out


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


def report_cleaned(cleaned: Cleaned, report: Report) -> None:
    dropped = sum(a.dropped for a in cleaned.articles)
    line = f"cleaned {plural(len(cleaned.articles), 'article')}, dropped {plural(dropped, 'boilerplate line')}"
    if cleaned.failed:
        line += f" ({len(cleaned.failed):,} without article text)"
    report(line)
    for record, _ in cleaned.failed:
        report(f"  failed: {record.path}: {record.reason}")
    for warning in cleaned.warnings:
        report(f"  warning: {warning}")


def build_stories(articles: Sequence[Article], settings: Settings, store: StateStore, report: Report) -> Stories:
    """Deduplicate, cluster into stories (continuing remembered ones) and summarise each."""
    deduped, left_out = isolate(lambda arts: dedupe.deduplicate(arts, settings.duplicate_threshold), articles, "deduplication")
    report(
        f"deduplicated {plural(len(articles), 'article')} into {len(deduped.kept):,} "
        f"({plural(len(deduped.duplicate_of), 'duplicate')} collapsed)"
    )
    remembered = {row.id: row for row in store.stories()}
    memory = [cluster.StoryMemory.from_json(row.memory) for row in remembered.values()]
    stories, more = isolate(lambda arts: cluster.cluster(arts, settings.story_threshold, memory), deduped.kept, "clustering")
    left_out += more
    updates = sum(1 for s in stories if s.is_update)
    report(
        f"clustered them into {plural(len(stories), 'story', 'stories')}"
        + (f" ({updates:,} continuing earlier stories)" if updates else "")
    )
    summaries: list[StorySummary] = []
    rows: list[StoryRow] = []
    today = now_in(settings).date()
    for story in stories:
        shown = remembered[story.id].shown if story.is_update and story.id in remembered else []
        try:
            summary = summarise.summarise(story, settings.summarizer, settings.summary_sentences, previous=shown)
            memo = cluster.remember(story, today)
        except Exception as exc:  # one story's crash leaves its articles out, not the digest
            log.exception("summarising story %s failed", story.id)
            left_out += [(a, stage_failure("summarising", exc)) for a in story.articles]
            continue
        summaries.append(summary)
        rows.append(StoryRow(story.id, memo.to_json(), shown + [s.text for s in summary.sentences]))
    sentences = sum(len(s.sentences) for s in summaries)
    report(f"summarised {plural(len(summaries), 'story', 'stories')} in {plural(sentences, 'sentence')} ({settings.summarizer})")
    failed = left_out_records(left_out, articles, deduped.duplicate_of)
    for record, _ in failed:
        report(f"  failed: {record.path}: {record.reason}")
    left = {r.id for r, _ in failed}
    kept = [a for a in deduped.kept if a.id not in left]
    return Stories(summaries, kept, deduped.duplicate_of, rows, failed)


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


def records_for(
    stories: Stories, all_articles: Sequence[Article], failed: Sequence[tuple[ArticleRecord, str]]
) -> list[tuple[ArticleRecord, str]]:
    """Each article's outcome in this digest, paired with its fingerprint."""
    records: list[tuple[ArticleRecord, str]] = list(stories.failed)
    left_out = {r.id for r, _ in stories.failed}
    for a in all_articles:
        if a.id in left_out:
            continue
        kept = sum(1 for p in a.paragraphs)
        dup = stories.duplicate_of.get(a.id)
        status: ArticleStatus = "duplicate" if dup else "included"
        reason = f"duplicate of {dup}" if dup else ""
        records.append(
            (ArticleRecord(a.id, str(a.path), status, reason, dup, dropped=a.dropped, kept=kept), a.fingerprint)
        )
    records.extend(failed)
    records.sort(key=lambda pair: pair[0].path)
    return records


def publish(
    settings: Settings,
    store: StateStore,
    stories: Stories,
    records: Sequence[tuple[ArticleRecord, str]],
    report: Report,
    dry_run: bool = False,
) -> Path:
    """Render the digest, write its files atomically, then mark its articles done; return the .html path."""
    when = now_in(settings)
    digest = Digest(
        date=when,
        title=settings.title,
        stories=tuple(stories.summaries),
        articles=tuple(r for r, _ in records),
    )
    rendered = render.render(digest, settings)
    outbox = settings.outbox / "dry-run" if dry_run else settings.outbox
    path = render.write_digest(rendered, outbox, when.date())
    if dry_run:
        report(f"dry run: wrote {path} (articles stay pending, nothing sent)")
        return path
    delivery = "unsent" if settings.smtp_host else "outbox-only"
    store.commit_digest(
        day=when.date().isoformat(),
        path=path,
        message_id=rendered.message_id,
        stories=len(stories.summaries),
        records=records,
        story_rows=stories.rows,
        delivery=delivery,
    )
    render.write_index(settings.outbox)
    report(
        f"rendered {plural(len(stories.summaries), 'story', 'stories')} to {path.parent}"
        + (" (e-mail trimmed to fit the size budget)" if rendered.trimmed else "")
    )
    return path


def deliver_pending(
    settings: Settings, store: StateStore, password: str | None, report: Report, raise_transient: bool = False
) -> int:
    """Send every digest still waiting for delivery; return how many were sent.

    The Message-ID is fixed when the digest is written, so a resend after an unknown outcome
    carries the same id and the receiving side can drop the copy.
    """
    if not settings.smtp_host:
        return 0
    if not settings.mail_to:
        raise ConfigError("smtp_host is set but mail_to is empty: set DIGEST_MAIL_TO (comma-separated)")
    sent = 0
    for row in reversed(store.digests(delivery="unsent") + store.digests(delivery="sending")):
        eml = Path(row.path).with_suffix(".eml")
        try:
            message = eml.read_bytes()
        except OSError as exc:
            store.set_delivery(row.id, "unsent", f"cannot read {eml}: {exc.strerror}")
            report(f"  not sent: {eml}: cannot read it ({exc.strerror})")
            continue
        store.set_delivery(row.id, "sending", "", attempt=True)
        try:
            deliver.send(message, settings, password)
        except PartialDeliveryError as exc:
            store.set_delivery(row.id, "sent", str(exc))  # resending would repeat it for the others
            report(f"  partly sent: {row.path}: {exc}")
            sent += 1
            continue
        except TransientDeliveryError as exc:
            store.set_delivery(row.id, "unsent", str(exc))
            if raise_transient:
                raise  # the caller retries later (a Prefect task with retries)
            report(f"  not sent: {row.path}: {exc}. It stays in the outbox; the next run retries it.")
            continue
        except DeliveryError as exc:
            store.set_delivery(row.id, "unsent", str(exc))
            report(f"  not sent: {row.path}: {exc}. It stays in the outbox; the next run retries it.")
            continue
        store.set_delivery(row.id, "sent")
        sent += 1
    if sent:
        report(f"sent {plural(sent, 'digest')} to {', '.join(settings.mail_to)}")
    return sent


@dataclass
class RunResult:
    """What one run did, for the CLI and the run log."""

    path: Path | None = None
    new: int = 0
    stories: int = 0
    failed: int = 0
    sent: int = 0
    message: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path) if self.path else None,
            "new": self.new,
            "stories": self.stories,
            "failed": self.failed,
            "sent": self.sent,
            "message": self.message,
        }


DIGEST_PARTS = (".html", ".txt", ".eml", ".json")


def recover(settings: Settings, store: StateStore, report: Report) -> None:
    """Reconcile the outbox with the store after a crash between writing a digest and recording it.

    A digest's JSON is written last, so a digest with all its files but no row in the store is
    complete: adopt it (mark its articles done) instead of digesting them again. Files of a digest
    that never got its JSON are a torn write that nobody saw: remove them; the articles are pending.
    """
    if not settings.outbox.is_dir():
        return
    changed = False
    for day in sorted(p for p in settings.outbox.iterdir() if p.is_dir() and p.name != "dry-run"):
        for stray in day.glob(".*"):  # temporary files of an interrupted atomic write
            stray.unlink(missing_ok=True)
        stems = {f.with_suffix("") for f in day.glob("digest*.*") if f.suffix in DIGEST_PARTS}
        for stem in sorted(stems):
            html = stem.with_suffix(".html")
            if store.digest_by_path(html) is not None:
                continue
            changed = True
            parts = [stem.with_suffix(s) for s in DIGEST_PARTS]
            if all(p.exists() for p in parts):
                _adopt(store, html, report, "unsent" if settings.smtp_host else "outbox-only")
            else:
                for part in parts:
                    part.unlink(missing_ok=True)
                report(f"recovered: removed the incomplete digest {html} left by an interrupted run")
    if changed:
        render.write_index(settings.outbox)


def _adopt(store: StateStore, html: Path, report: Report, delivery: str) -> None:
    import email
    import email.policy
    import json

    data = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
    message = email.message_from_bytes(html.with_suffix(".eml").read_bytes(), policy=email.policy.default)
    records = []
    for a in data.get("articles", []):
        row = store.article(a["id"])
        if row is None:
            continue  # a file that failed before it was recorded: the next scan reports it again
        record = ArticleRecord(
            a["id"], a["path"], a["status"], a.get("reason", ""), a.get("duplicate_of"),
            dropped=a.get("dropped", 0), kept=a.get("kept", 0),
        )
        records.append((record, row["fingerprint"]))
    store.commit_digest(
        day=html.parent.name,
        path=html,
        message_id=str(message.get("Message-ID", "")),
        stories=len(data.get("stories", [])),
        records=records,
        story_rows=[],
        delivery=delivery,
    )
    report(f"recovered: {html} was written by an interrupted run; its articles are now marked done")


@dataclass(frozen=True)
class Steps:
    """The coarse steps a run is made of; the Prefect flow passes task-wrapped versions."""

    discover: Callable[[Settings, Report], Discovered]
    clean: Callable[[list[RawArticle], Settings, Report], Cleaned]
    stories: Callable[[Cleaned, Settings, Report], Stories]
    deliver: Callable[[Settings, Report], int]


def discover_step(settings: Settings, report: Report) -> Discovered:
    """Discover with a store of its own (a step may run in another thread)."""
    with StateStore(settings.db_path) as store:
        return discover(settings, store, report)


def _clean(raws: list[RawArticle], settings: Settings, report: Report) -> Cleaned:
    learned = learn(raws, settings)
    out = Cleaned()
    for start in range(0, len(raws), settings.batch_size):
        out.add(clean_batch(raws[start : start + settings.batch_size], learned, settings.max_file_seconds), len(raws), report)
    return out


def stories_step(cleaned: Cleaned, settings: Settings, report: Report) -> Stories:
    """Build the stories with a store of its own."""
    with StateStore(settings.db_path) as store:
        return build_stories(cleaned.articles, settings, store, report)


def _deliver(settings: Settings, report: Report) -> int:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    with StateStore(settings.db_path) as store:
        return deliver_pending(settings, store, password, report)


DIRECT = Steps(discover_step, _clean, stories_step, _deliver)


def run(settings: Settings, report: Report = print, dry_run: bool = False, steps: Steps = DIRECT) -> RunResult:
    """Run once under the state folder's lock, logging the run in the state store."""
    summarise.summarizer_for(settings.summarizer)  # a misspelt summarizer fails before any work
    with run_lock(settings.state), StateStore(settings.db_path) as store:
        run_id = store.start_run()
        try:
            recover(settings, store, report)
            result = _run(settings, store, report, dry_run, steps)
        except BaseException as exc:
            store.finish_run(run_id, "failed", {"error": str(exc) if isinstance(exc, DigestError) else repr(exc)})
            raise
        store.finish_run(run_id, "ok" if result.path else "nothing-new", result.as_dict())
        return result


def _run(settings: Settings, store: StateStore, report: Report, dry_run: bool, steps: Steps) -> RunResult:
    found = steps.discover(settings, report)
    if not found.raws:
        if found.failed and not dry_run:
            store.record_failures(found.failed)
        sent = 0 if dry_run else steps.deliver(settings, report)  # retry what a failed delivery left
        report("nothing new in the inbox; no digest written")
        return RunResult(failed=len(found.failed), sent=sent, message="nothing new in the inbox")
    cleaned = steps.clean(found.raws, settings, report)
    found.raws = []  # the decoded files are no longer needed: free them before the stories are built
    report_cleaned(cleaned, report)
    failed = found.failed + cleaned.failed
    if not cleaned.articles:
        if not dry_run:
            store.record_failures(failed)
        report("no usable articles; no digest written")
        return RunResult(failed=len(failed), message="no usable articles")
    stories = steps.stories(cleaned, settings, report)
    records = records_for(stories, cleaned.articles, failed)
    path = publish(settings, store, stories, records, report, dry_run)
    sent = 0 if dry_run else steps.deliver(settings, report)
    return RunResult(
        path=path,
        new=len(cleaned.articles) - len(stories.failed),
        stories=len(stories.summaries),
        failed=len(failed) + len(stories.failed),
        sent=sent,
    )
