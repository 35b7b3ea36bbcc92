"""The pipeline's coarse steps as plain functions: what the Prefect flow's tasks call.

Each step takes and returns plain records, reports one line, and knows nothing of Prefect, so the
flow stays thin and `bench/pipeline.py` can run the same steps without an orchestrator.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import signal
import sqlite3
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo

from digest import clean, cluster, dedupe, deliver, ingest, ledger, render, summarise
from digest.deadline import Deadline, DeadlineExceeded
from digest.errors import (
    ConfigError,
    DeliveryError,
    DigestError,
    InputError,
    Interrupted,
    StateError,
    TransientDeliveryError,
    UndeliveredError,
)
from digest.models import Article, ArticleRecord, ArticleStatus, Digest, RawArticle, Story, StorySummary
from digest.render import plural
from digest.settings import Settings, check_folders
from digest.state import DigestRow, StateStore, StoryRow, describe, run_lock

log = logging.getLogger("digest")
Report = Callable[[str], None]
T = TypeVar("T")


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


def build_stories(articles: Sequence[Article], settings: Settings, store: StateStore, report: Report) -> Stories:
    """Deduplicate, cluster into stories (continuing remembered ones) and summarise each."""
    grouped = group_stories(articles, settings, store, report)
    summarised = summarise_stories(grouped.stories, grouped.shown, settings.summarizer, settings.summary_sentences, grouped.day)
    return stories_of(grouped, summarised, settings, report)


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
    outbox = settings.outbox / "dry-run" if dry_run else settings.outbox
    rendered = render.render(digest, settings, page=render.next_page(outbox, when.date()))
    path = render.write_digest(rendered, outbox, when.date())
    if dry_run:
        report(f"dry run: wrote {path} (articles stay pending, nothing sent)")
        return path
    record = ledger.Record(
        message_id=rendered.message_id,
        day=when.date().isoformat(),
        stories=len(stories.summaries),
        articles=[_article_entry({**asdict(r), "fingerprint": fp}) for r, fp in records],
        story_rows=[{"id": s.id, "memory": s.memory, "shown": s.shown} for s in stories.rows],
        mode="smtp" if settings.smtp_host else "outbox-only",
    )
    ledger.add_recipients(record, settings.mail_to)
    ledger.write(path, record)  # the outbox's own record, before the store's: repair can rebuild from it
    delivery, reason = ledger.summary(record, settings.smtp_unknown_retries)
    store.commit_digest(
        day=record.day,
        path=path,
        message_id=rendered.message_id,
        stories=len(stories.summaries),
        records=records,
        story_rows=stories.rows,
        delivery="unsent" if delivery == "failed" and not record.recipients else delivery,
        delivery_reason=reason,
    )
    render.write_index(settings.outbox)
    report(
        f"rendered {plural(len(stories.summaries), 'story', 'stories')} to {path.parent}"
        + (" (e-mail trimmed to fit the size budget)" if rendered.trimmed else "")
    )
    return path


STOP_GRACE_SECONDS = 5.0  # after SIGTERM/SIGINT, how long a reply to the end of DATA is still awaited


@contextmanager
def _stop_on_signal(deadline: deliver.Deadline) -> Iterator[list[int]]:
    """While sending, turn SIGTERM/SIGINT into a short deadline so the outcome is recorded before exiting."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught  # only the main thread can take signals; other threads are stopped with it
        return

    def stop(signum: int, frame: object) -> None:
        caught.append(signum)
        deadline.cut(STOP_GRACE_SECONDS, f"stopped by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _record_for(store: StateStore, row: DigestRow, settings: Settings) -> ledger.Record:
    """Build the outbox record of a digest published before records existed (from the store)."""
    html = Path(row.path)
    record = ledger.Record(
        message_id=row.message_id,
        day=row.day,
        stories=row.stories,
        articles=[_article_entry(a) for a in store.digest_articles(row.id)],
        story_rows=[],
        mode="smtp" if row.delivery != "outbox-only" else "outbox-only",
    )
    ledger.add_recipients(record, settings.mail_to)
    if row.delivery == "sent":
        for recipient in record.recipients.values():
            recipient.status = "sent"
    elif row.delivery == "sending":  # an older run died while sending: the outcome is unknown
        for recipient in record.recipients.values():
            recipient.status = "sending"
    ledger.write(html, record)
    return record


def _article_entry(a: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "fingerprint", "path", "status", "reason", "duplicate_of", "kept", "dropped")
    return {k: a.get(k) for k in keys}


def deliver_pending(
    settings: Settings,
    store: StateStore,
    password: str | None,
    report: Report,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """Send every digest still waiting for delivery, one copy per recipient; return how many reached everyone.

    Each copy is recorded in the digest's outbox record (and the store) before its content goes out
    and as soon as its outcome is known. A recipient refused for now (4xx) is tried again later; a
    copy whose outcome is unknown is sent again at most `smtp_unknown_retries` times in total.
    Raises ConfigError, Interrupted (a signal, after recording) or UndeliveredError when a digest
    tried here did not reach every recipient (`retryable` if some may still get it).
    """
    if not settings.smtp_host:
        return 0
    retries = settings.smtp_unknown_retries
    sent, retryable = 0, False
    trouble: list[str] = []
    rows = {r.id: r for r in store.digests(delivery="unsent") + store.digests(delivery="sending")}
    for row in sorted(rows.values(), key=lambda r: r.id):
        html = Path(row.path)
        if not html.with_suffix(".eml").is_file():
            reason = f"its message {html.with_suffix('.eml')} is gone from the outbox"
            store.set_delivery(row.id, "failed", reason)
            trouble.append(f"{html}: failed: {reason}")
            report(f"  not delivered: {html}: {reason}")
            continue
        record = ledger.read(html) or _record_for(store, row, settings)
        if ledger.settle_interrupted(record):
            ledger.write(html, record)
        todo = [a for a, r in record.recipients.items() if ledger.retryable(r, retries)]
        problem, permanent = "", False
        if todo:
            try:
                message = html.with_suffix(".eml").read_bytes()
            except OSError as exc:
                problem = f"cannot read {html.with_suffix('.eml')}: {exc.strerror}"
            else:
                problem, transient = _send_record(settings, store, row, record, message, todo, password, ssl_context)
                permanent = permanent or (bool(problem) and not transient)
        state, reason = ledger.summary(record, retries)
        reason = problem or reason
        store.set_delivery(row.id, state, reason)
        if state == "sent":
            sent += 1
            report(f"sent {html.name} of {row.day} to {plural(len(record.recipients), 'recipient')}")
            continue
        trouble.append(f"{html}: {state}: {reason}")
        retryable = retryable or (state == "unsent" and not permanent)
        advice = "the next run tries again" if state == "unsent" else "it is not sent again; see `digest status`"
        report(f"  not delivered: {html}: {state}: {reason}. It stays in the outbox; {advice}.")
    if trouble:
        raise UndeliveredError(
            f"{plural(len(trouble), 'digest')} not delivered to every recipient: " + " | ".join(trouble),
            retryable=retryable,
        )
    return sent


def _send_record(
    settings: Settings,
    store: StateStore,
    row: DigestRow,
    record: ledger.Record,
    message: bytes,
    todo: list[str],
    password: str | None,
    ssl_context: ssl.SSLContext | None,
) -> tuple[str, bool]:
    """Send the copies `todo` of one digest, recording each; return a session-wide problem ('' if none) and
    whether it is transient."""
    html = Path(row.path)

    def before(address: str) -> None:
        recipient = record.recipients[address]
        recipient.status, recipient.sends, recipient.updated = "sending", recipient.sends + 1, ledger.now()
        ledger.write(html, record)  # on disk before the content goes out
        store.set_delivery(row.id, "sending", attempt=True)

    def after(result: deliver.RecipientResult) -> None:
        recipient = record.recipients[result.address]
        recipient.status = {"sent": "sent", "refused": "refused", "deferred": "pending", "unknown": "unknown"}[result.outcome]
        recipient.unknown += result.outcome == "unknown"
        recipient.reply, recipient.updated = result.reply, ledger.now()
        ledger.write(html, record)

    deadline = deliver.Deadline(settings.smtp_session_timeout)
    problem, transient = "", True
    with _stop_on_signal(deadline) as caught:
        try:
            deliver.send_each(message, settings, todo, password, ssl_context=ssl_context,
                              deadline=deadline, before_data=before, after=after)
        except ConfigError:
            raise
        except DeliveryError as exc:  # the session failed before any copy went out: all stay pending
            problem, transient = str(exc), isinstance(exc, TransientDeliveryError)
            for address in todo:
                record.recipients[address].reply = problem
            ledger.write(html, record)
    if caught:
        state, reason = ledger.summary(record, settings.smtp_unknown_retries)
        store.set_delivery(row.id, state, reason)
        raise Interrupted(caught[0])
    return problem, transient


@dataclass
class RunResult:
    """What one run did, for the CLI and the run log."""

    path: Path | None = None
    new: int = 0
    stories: int = 0
    failed: int = 0
    sent: int = 0
    message: str = ""
    undelivered: str = ""  # why a digest did not reach every recipient
    retryable: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path) if self.path else None,
            "new": self.new,
            "stories": self.stories,
            "failed": self.failed,
            "sent": self.sent,
            "message": self.message,
            "undelivered": self.undelivered,
        }


DIGEST_PARTS = (".html", ".txt", ".eml", ".json")


DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
DIGEST_FILE = re.compile(r"(digest(?:-\d+)?)\.(?:html|txt|eml|json|delivery)")
TEMP_FILE = re.compile(r"\.tmp-.*\.part")  # render's and the ledger's temporary files


def recover(settings: Settings, store: StateStore, report: Report) -> None:
    """Reconcile the state store with the outbox, the record of what was written and sent.

    A digest with all its files but no row in the store was written by a run that died before
    recording it, or the store was lost: adopt it from its outbox record (its articles, story memory
    and delivery state per recipient), so nothing is digested or sent again. The files of a digest
    that never got its JSON are a torn write nobody saw: removed; its articles stay pending. Only
    files digest writes are ever removed (`digest[-N].*` and its temporary files, in date folders).
    """
    outbox = settings.outbox
    if not outbox.is_dir():
        return
    fresh = store.is_empty()
    adopted = changed = 0
    for day in sorted(p for p in outbox.iterdir() if DAY_FOLDER.fullmatch(p.name) and p.is_dir() and not p.is_symlink()):
        if _holds(day, settings.inbox) or _holds(day, settings.state):
            continue  # never touch a folder that holds the inbox or the state
        for stray in day.iterdir():
            if TEMP_FILE.fullmatch(stray.name) and stray.is_file():
                stray.unlink(missing_ok=True)  # temporary file of an interrupted atomic write
        stems = sorted({m.group(1) for f in day.iterdir() if (m := DIGEST_FILE.fullmatch(f.name))}, key=_number)
        for stem in stems:
            outcome = _reconcile(settings, store, day / f"{stem}.html", fresh, report)
            adopted += outcome == "adopted"
            changed += outcome != "known"
    if fresh and adopted:
        report(f"rebuilt the state store from the outbox: {plural(adopted, 'digest')} and their articles")
    if changed:
        render.write_index(outbox)


def _holds(folder: Path, other: Path) -> bool:
    return other == folder or folder in other.parents


def _number(stem: str) -> int:
    return int(stem.partition("-")[2] or 1)


def _complete(html: Path) -> bool:
    """Whether all four files of a digest are there, its JSON (written last) whole."""
    if not all(html.with_suffix(s).is_file() for s in DIGEST_PARTS):
        return False
    try:
        json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _reconcile(settings: Settings, store: StateStore, html: Path, fresh: bool, report: Report) -> str:
    """Bring one digest's outbox files and the store into agreement; return known, adopted or removed."""
    try:
        record = ledger.read(html)
    except StateError as exc:
        report(f"  warning: {exc}; rebuilding it from the state store")
        record = None
    if record is not None and ledger.settle_interrupted(record):
        ledger.write(html, record)  # a run died while a copy went out: its outcome is unknown
    complete = _complete(html)
    message_id = record.message_id if record else (_message_id(html) if complete else "")
    row = (store.digest_by_message_id(message_id) if message_id else None) or store.digest_by_path(html)
    if row is not None:
        if Path(row.path) != html:
            store.set_path(row.id, html)  # one identity: an older run spelt the path differently
        if record is None:
            _record_for(store, row, settings)
        elif row.delivery not in ("unsent", "sending"):
            state, reason = ledger.summary(record, settings.smtp_unknown_retries)
            if state != row.delivery:
                store.set_delivery(row.id, state, reason)
        else:
            state, reason = ledger.summary(record, settings.smtp_unknown_retries)
            if state in ("sent", "failed", "unknown", "outbox-only"):  # the outbox knows it was settled
                store.set_delivery(row.id, state, reason)
        return "known"
    if not complete:
        if record is not None:
            report(f"  warning: {html} has a delivery record but not all its files; left as it is")
            return "known"
        for suffix in DIGEST_PARTS:
            html.with_suffix(suffix).unlink(missing_ok=True)
        report(f"recovered: removed the incomplete digest {html} left by an interrupted run")
        return "removed"
    _adopt(settings, store, html, record, fresh, report)
    return "adopted"


def _message_id(html: Path) -> str:
    try:
        return deliver.message_id_of(html.with_suffix(".eml").read_bytes())
    except (OSError, DeliveryError):
        return ""


def _adopt(
    settings: Settings, store: StateStore, html: Path, record: ledger.Record | None, fresh: bool, report: Report
) -> None:
    """Record a complete digest the store does not know, from its outbox record (or its JSON)."""
    retries = settings.smtp_unknown_retries
    if record is None:
        # no record: the run died between the JSON and the record (the store still has the articles
        # pending, with their fingerprints), or this outbox predates records
        data = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
        articles = []
        for a in data.get("articles", []):
            fp = _fingerprint_of(store, a)
            if fp:
                articles.append(_article_entry({**a, "fingerprint": fp}))
        record = ledger.Record(
            message_id=_message_id(html), day=html.parent.name, stories=len(data.get("stories", [])),
            articles=articles, story_rows=[], mode="smtp" if settings.smtp_host else "outbox-only",
        )
        ledger.add_recipients(record, settings.mail_to)
        if fresh and settings.smtp_host:
            # with the store lost, nothing says whether it went out: never send it blindly
            for recipient in record.recipients.values():
                recipient.status, recipient.unknown = "unknown", retries + 1
                recipient.reply = "no delivery record and no state store: not sent again"
        ledger.write(html, record)
    records = [
        (ArticleRecord(a["id"], a["path"], a["status"], a.get("reason") or "", a.get("duplicate_of"),
                       dropped=a.get("dropped") or 0, kept=a.get("kept") or 0), a["fingerprint"])
        for a in record.articles if a.get("fingerprint")
    ]
    delivery, reason = ledger.summary(record, retries)
    store.commit_digest(
        day=record.day,
        path=html,
        message_id=record.message_id,
        stories=record.stories,
        records=records,
        story_rows=[StoryRow(r["id"], r["memory"], list(r["shown"])) for r in record.story_rows],
        delivery="unsent" if delivery == "failed" and not record.recipients else delivery,
        delivery_reason=reason,
    )
    how = "rebuilt from the outbox" if fresh else "was written by an interrupted run"
    report(f"recovered: {html} {how}; its articles are marked done (delivery: {delivery})")


def _fingerprint_of(store: StateStore, article: dict[str, Any]) -> str:
    """Return an article's fingerprint from the store, or from its file when the store lost it."""
    row = store.article(article["id"])
    if row is not None:
        return str(row["fingerprint"])
    try:
        path = Path(article["path"])
        fp = ingest.fingerprint(path.read_bytes())
    except (OSError, KeyError, TypeError):
        return ""
    return fp if ingest.article_id(fp, path) == article["id"] else ""


def repair(settings: Settings, report: Report) -> None:
    """Rebuild a damaged or lost state store from the outbox; a damaged file is kept aside, never deleted."""
    with run_lock(settings.state):
        try:
            store = StateStore(settings.db_path)
        except StateError as exc:
            if "damaged" not in str(exc):
                raise
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
            aside = settings.db_path.with_name(f"{settings.db_path.name}.damaged-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{settings.db_path}{suffix}")
                if part.exists():
                    shutil.move(part, Path(f"{aside}{suffix}"))
            report(f"moved the damaged state store aside to {aside}")
            store = StateStore(settings.db_path)
        with store:
            recover(settings, store, report)
            digests = store.digests()
            states: dict[str, int] = {}
            for d in digests:
                states[d.delivery] = states.get(d.delivery, 0) + 1
            counts = store.counts()
        report(
            f"state store {settings.db_path}: {plural(len(digests), 'digest')} ("
            + (", ".join(f"{n} {k}" for k, n in sorted(states.items())) or "none")
            + "), articles: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none")
        )


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


def deliver_step(settings: Settings, report: Report, password: str | None = None) -> int:
    """Deliver what waits, with a store of its own: the one delivery path of direct runs and the flow's task."""
    if password is None and settings.smtp_password is not None:
        password = settings.smtp_password.get_secret_value()
    with StateStore(settings.db_path, settings.state_timeout) as store:
        return deliver_pending(settings, store, password, report)


DIRECT = Steps(discover_step, _clean, stories_step, deliver_step)


def run(settings: Settings, report: Report = print, dry_run: bool = False, steps: Steps = DIRECT) -> RunResult:
    """Run once under the state folder's lock, logging the run in the state store."""
    summarise.summarizer_for(settings.summarizer)  # a misspelt summarizer fails before any work
    check_folders(settings)  # so does an unwritable outbox or state folder
    try:
        with run_lock(settings.state), StateStore(settings.db_path, settings.state_timeout) as store:
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
        result.undelivered = f"{exc}. It stays in the outbox; see `digest status`."
        result.retryable = exc.retryable
    return result


def _run(settings: Settings, store: StateStore, report: Report, dry_run: bool, steps: Steps) -> RunResult:
    found = steps.discover(settings, report)
    if not found.raws:
        if found.failed and not dry_run:
            store.record_failures(found.failed)
        report("nothing new in the inbox; no digest written")
        result = RunResult(failed=len(found.failed), message="nothing new in the inbox")
        return result if dry_run else _deliver_into(result, settings, steps, report)  # retry what waits
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
    result = RunResult(
        path=path,
        new=len(cleaned.articles) - len(stories.failed),
        stories=len(stories.summaries),
        failed=len(failed) + len(stories.failed),
    )
    return result if dry_run else _deliver_into(result, settings, steps, report)
