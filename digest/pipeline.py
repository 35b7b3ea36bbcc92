"""The run: the pipeline's coarse steps as plain functions, and their composition (what the Prefect flow's tasks call).

Each step takes and returns plain records, reports one line, and knows nothing of Prefect, so the
flow stays thin and `bench/pipeline.py` can run the same steps without an orchestrator. Delivery
lives in `digest.delivery`, outbox recovery in `digest.recovery`, batching in `digest.batching`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest import clean, cluster, dedupe, inbox, ingest, render, summarise
from digest.batching import Unpacking, batches_of
from digest.clean.options import RUN_OPTIONS
from digest.deadline import Deadline, DeadlineExceeded
from digest.delivery import ledger, send, smtp
from digest.errors import ConfigError, DigestError, InputError, StateError, UndeliveredError
from digest.failures import failed_record, isolate, left_out_records, stage_failure
from digest.models import Article, ArticleRecord, ArticleStatus, Digest, RawArticle, Story, StorySummary
from digest.recovery import recover
from digest.runresult import NOTHING_NEW, RunResult, ingested, plural
from digest.settings import Settings, check_folders
from digest.state import StateStore, StoryRow, describe, run_lock

log = logging.getLogger("digest")
Report = Callable[[str], None]


class Progress(str):
    """A report line that counts a long stage's progress: a terminal shows it in place (one updating line).

    `plain`: also a line of its own where output is not a terminal (False: a terminal's only).
    A report function that knows nothing of it prints it as any other line.
    """

    plain: bool

    def __new__(cls, text: str, plain: bool = True) -> Progress:
        line = super().__new__(cls, text)
        line.plain = plain
        return line


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
            report(Progress(f"  cleaning: {len(self.articles) + len(self.failed):,} of {total:,} articles"))


@dataclass
class Stories:
    summaries: list[StorySummary]
    kept: list[Article]
    duplicate_of: dict[str, str]
    rows: list[StoryRow]
    failed: list[tuple[ArticleRecord, str]] = field(default_factory=list)  # articles a stage failed on


def discover(settings: Settings, store: StateStore, report: Report) -> Discovered:
    """Scan the inbox for files the store has not handled; record the new ones as pending.

    A file that failed under other settings (a budget since raised) is tried again. Every file under
    the inbox is digested or reported: the ones ignored and the folders not looked into are named.
    """
    # texts stay compressed until each is cleaned: a 20,000-file inbox fits in memory
    scan = inbox.scan_inbox(settings, store.known_fingerprints(inbox.conditions_of(settings)), pack=True)
    failed = [failed_record(err, fp) for err, fp in scan.failed]
    store.add_pending((r.id, r.fingerprint, str(r.path)) for r in scan.new)
    report(ingested(len(scan.new), scan.seen, len(failed), len(scan.waiting)))
    for record, _ in failed:
        report(f"  failed: {record.path}: {record.reason}")
    for path in scan.waiting:
        report(f"  waiting: {path}: still being written (changed in the last {settings.settle_seconds:g} s); left for the next run")
    for path, warning in scan.warnings:
        report(f"  warning: {path}: {warning}")
    inbox.report_passed_over(scan, report)
    return Discovered(scan.new, failed, scan.seen, len(scan.waiting))


budget_of = inbox.budget_of  # the per-file budgets of the settings


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
                article = clean.clean_article(raw, learned, RUN_OPTIONS)
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


@dataclass
class Grouped:
    """Articles deduplicated and grouped into stories, with what earlier digests showed of each."""

    articles: list[Article]  # every article that went in
    stories: list[Story]
    shown: list[list[str]]  # per story: sentences an earlier digest already showed
    kept: list[Article]
    duplicate_of: dict[str, str]
    left_out: list[tuple[Article, str]]  # articles a stage crashed on, with the reason
    day: date


@dataclass
class Summarised:
    """Summaries of a batch of stories (with the rows the store remembers them by), and failures."""

    done: list[tuple[StorySummary, StoryRow]] = field(default_factory=list)
    left_out: list[tuple[Article, str]] = field(default_factory=list)

    def add(self, part: Summarised) -> None:
        self.done += part.done
        self.left_out += part.left_out


def group_stories(articles: Sequence[Article], settings: Settings, store: StateStore, report: Report) -> Grouped:
    """Deduplicate and cluster into stories, continuing the ones the store remembers."""
    articles = clean.one_name_per_site(list(articles))  # every page of one site under one outlet name
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
        + (f" ({plural(updates, 'continuing earlier story', 'continuing earlier stories')})" if updates else "")
    )
    shown = [remembered[s.id].shown if s.is_update and s.id in remembered else [] for s in stories]
    return Grouped(list(articles), stories, shown, deduped.kept, deduped.duplicate_of, left_out, now_in(settings).date())


def summarise_stories(
    stories: Sequence[Story], shown: Sequence[list[str]], method: str, sentences: int, day: date
) -> Summarised:
    """Summarise each story and build the row the store remembers it by (pure: runs anywhere)."""
    out = Summarised()
    for story, before in zip(stories, shown):
        try:
            summary = summarise.summarise(story, method, sentences, previous=before)
            memo = cluster.remember(story, day)
        except Exception as exc:  # one story's crash leaves its articles out, not the digest
            log.exception("summarising story %s failed", story.id)
            out.left_out += [(a, stage_failure("summarising", exc)) for a in story.articles]
            continue
        out.done.append((summary, StoryRow(story.id, memo.to_json(), before + [s.text for s in summary.sentences])))
    return out


def stories_of(grouped: Grouped, summarised: Summarised, settings: Settings, report: Report) -> Stories:
    """Assemble the stories step's result from the summaries, in the stories' order."""
    summaries = [summary for summary, _ in summarised.done]
    sentences = sum(len(s.sentences) for s in summaries)
    report(f"summarised {plural(len(summaries), 'story', 'stories')} in {plural(sentences, 'sentence')} ({settings.summarizer})")
    failed = left_out_records(grouped.left_out + summarised.left_out, grouped.articles, grouped.duplicate_of)
    for record, _ in failed:
        report(f"  failed: {record.path}: {record.reason}")
    left = {r.id for r, _ in failed}
    kept = [a for a in grouped.kept if a.id not in left]
    return Stories(summaries, kept, grouped.duplicate_of, [row for _, row in summarised.done], failed)


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
    outbox = settings.outbox / "dry-run" if dry_run else settings.outbox
    rendered = render.render(digest, settings, page=render.next_page(outbox, when.date()))
    path = render.write_digest(rendered, outbox, when.date())
    if dry_run:
        report(f"dry run: wrote {path} (articles stay pending, nothing sent)")
        return path
    record = send.new_record(
        settings,
        message_id=rendered.message_id,
        day=when.date().isoformat(),
        stories=len(stories.summaries),
        articles=[{**asdict(r), "fingerprint": fp} for r, fp in records],
        story_rows=[{"id": s.id, "memory": s.memory, "shown": s.shown} for s in stories.rows],
    )
    ledger.write(path, record)  # the outbox's own record, before the store's: repair can rebuild from it
    delivery, reason = send.store_state(record, settings)
    store.commit_digest(
        day=record.day,
        path=path,
        message_id=rendered.message_id,
        stories=len(stories.summaries),
        records=records,
        story_rows=stories.rows,
        delivery=delivery,
        delivery_reason=reason,
        conditions=inbox.conditions_of(settings),
    )
    render.write_index(settings.outbox)
    report(
        f"rendered {plural(len(stories.summaries), 'story', 'stories')} to {path.parent}"
        + (" (e-mail trimmed to fit the size budget)" if rendered.trimmed else "")
    )
    return path


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


def clean_step(raws: list[RawArticle], settings: Settings, report: Report) -> Cleaned:
    """Learn the inbox's chrome, then clean in batches (in this process)."""
    learned = learn(raws, settings)
    out = Cleaned()
    for batch in batches_of(raws, settings):
        out.add(clean_batch(batch, learned, settings.max_file_seconds), len(raws), report)
    return out


def group_step(cleaned: Cleaned, settings: Settings, report: Report) -> Grouped:
    """Deduplicate and group into stories, with a store of its own."""
    with StateStore(settings.db_path) as store:
        return group_stories(cleaned.articles, settings, store, report)


def stories_step(cleaned: Cleaned, settings: Settings, report: Report) -> Stories:
    """Group into stories and summarise each (in this process)."""
    grouped = group_step(cleaned, settings, report)
    summarised = summarise_stories(grouped.stories, grouped.shown, settings.summarizer, settings.summary_sentences, grouped.day)
    return stories_of(grouped, summarised, settings, report)


def deliver_step(settings: Settings, report: Report) -> int:
    """Deliver what waits, with a store of its own: the one delivery path of direct runs and the flow's task."""
    with StateStore(settings.db_path, settings.state_timeout) as store:
        return send.deliver_pending(settings, store, smtp.password(settings), report)


DIRECT = Steps(discover_step, clean_step, stories_step, deliver_step)


def check(settings: Settings) -> None:
    """Raise ConfigError for settings no run can use: a misspelt summarizer, an unusable folder."""
    summarise.summarizer_for(settings.summarizer)
    check_folders(settings)


def run(
    settings: Settings, report: Report = print, dry_run: bool = False, steps: Steps = DIRECT, checked: bool = False
) -> RunResult:
    """Run once under the state folder's lock, logging the run in the state store.

    `checked`: the command that built the settings ran `check` on them already (else it runs here,
    before any work). Raises ConfigError, StateError, UndeliveredError or another DigestError.
    """
    if not checked:
        check(settings)
    try:
        with run_lock(settings.state, folders=inbox.claimed_folders(settings)), \
                StateStore(settings.db_path, settings.state_timeout) as store:
            run_id = store.start_run()
            try:
                recover(settings, store, report)
                result = _run(settings, store, report, dry_run, steps)
            except BaseException as exc:
                _finish(store, run_id, "failed", {"error": str(exc) if isinstance(exc, DigestError) else repr(exc)})
                raise
            if result.undelivered:
                _finish(store, run_id, "undelivered", result.as_dict())
                raise UndeliveredError(result.undelivered, retryable=result.retryable)
            _finish(store, run_id, "ok" if result.path else "nothing-new", result.as_dict())
            return result
    except sqlite3.Error as exc:  # the store went bad or busy under the run
        raise StateError(describe(exc, settings.db_path)) from exc


def _finish(store: StateStore, run_id: int, outcome: str, summary: dict[str, Any]) -> None:
    try:
        store.finish_run(run_id, outcome, summary)
    except sqlite3.Error:
        pass  # the run's own error says more than a failure to log it


def _deliver_into(result: RunResult, settings: Settings, steps: Steps, report: Report) -> RunResult:
    """Deliver what waits; a digest not delivered to everyone is kept in the result (the run then fails)."""
    try:
        result.sent = steps.deliver(settings, report)
    except UndeliveredError as exc:
        result.undelivered = f"{exc}. See `digest status`."
        result.retryable = exc.retryable
    return result


def _run(settings: Settings, store: StateStore, report: Report, dry_run: bool, steps: Steps) -> RunResult:
    found = steps.discover(settings, report)
    if not found.raws:
        if found.failed and not dry_run:
            store.record_failures(found.failed, inbox.conditions_of(settings))
        report(f"{NOTHING_NEW}; no digest written")
        result = RunResult(failed=len(found.failed), message=NOTHING_NEW)
        return result if dry_run else _deliver_into(result, settings, steps, report)  # retry what waits
    cleaned = steps.clean(found.raws, settings, report)
    found.raws = []  # the decoded files are no longer needed: free them before the stories are built
    report_cleaned(cleaned, report)
    failed = found.failed + cleaned.failed
    if not cleaned.articles:
        if not dry_run:
            store.record_failures(failed, inbox.conditions_of(settings))
        report("no usable articles; no digest written")
        return RunResult(failed=len(failed), message="no usable articles")
    stories = steps.stories(cleaned, settings, report)
    records = records_for(stories, cleaned.articles, failed)
    path = publish(settings, store, stories, records, report, dry_run)
    result = RunResult(
        path=path,
        new=len(cleaned.articles) - len(stories.failed),
        stories=len(stories.summaries),
        failed=len(failed) + len(stories.failed),
    )
    return result if dry_run else _deliver_into(result, settings, steps, report)
