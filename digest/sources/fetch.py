"""Fill the inbox from the subscriptions: check each feed (conditionally), save each new entry once.

`fetch_source` does one source and never raises for the source's own trouble: the outcome and the
reason are in its `SourceResult`. `fetch_all` maps it over every configured source.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from digest.errors import FetchError, UnsafeAddress
from digest.files import atomic_write
from digest.settings import Settings, Source
from digest.sources import imap, maildir
from digest.sources.feeds import Entry, parse_feed, words
from digest.sources.http import Fetcher, FetchOptions
from digest.sources.page import feed_document, page_document
from digest.sources.store import SourceStore

Report = Callable[[str], None]
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
HTML_TYPES = ("text/html", "application/xhtml+xml", "")


@dataclass(frozen=True)
class EntryRules:
    """When an entry needs its page fetched, and how often a failing page is tried."""

    # The feed's own content counts as the full article from this many words: shorter
    # content:encoded is usually a teaser that ends in "Read more".
    full_article_words: int = 150
    max_attempts: int = 3  # runs a failing page is tried in; then the feed's text stands in, if any
    max_entries_per_run: int = 200  # per source; the rest wait for the next run


@dataclass
class SourceResult:
    """What one source gave in one run."""

    name: str
    key: str
    outcome: str = "ok"  # ok | not-modified | failed
    reason: str = ""
    new_entries: int = 0  # entries seen for the first time
    saved: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "title: reason"
    failed: list[str] = field(default_factory=list)  # "title: reason" (given up)
    waiting: int = 0  # entries left for the next run (failed for now, or over the per-run limit)
    warning: str | None = None


@dataclass
class FetchResult:
    """One fetch run over every source."""

    sources: list[SourceResult] = field(default_factory=list)
    requests: int = 0

    @property
    def saved(self) -> list[Path]:
        return [p for s in self.sources for p in s.saved]

    @property
    def failed_sources(self) -> list[SourceResult]:
        return [s for s in self.sources if s.outcome == "failed"]

    def as_dict(self) -> dict[str, object]:
        return {
            "saved": [str(p) for p in self.saved],
            "requests": self.requests,
            "sources": [
                {"name": s.name, "source": s.key, "outcome": s.outcome, "reason": s.reason,
                 "new_entries": s.new_entries, "saved": len(s.saved), "skipped": s.skipped,
                 "failed": s.failed, "waiting": s.waiting}
                for s in self.sources
            ],
        }


# --- files --------------------------------------------------------------------------------

def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe ASCII slug of `text`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cut = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].rstrip("-")
    return cut or "item"


def save_file(path: Path, data: bytes) -> Path:
    """Write an inbox file atomically (ingest never sees half of one), creating its folder; return its path."""
    atomic_write(path, data, make_parent=True)
    return path


def entry_path(inbox: Path, folder: str, key: str, title: str | None, date: datetime | None, suffix: str) -> Path:
    """inbox/<source>/<date>-<title>-<hash>.<suffix>: stable, so a rewrite after a crash replaces itself."""
    digest = hashlib.sha256(f"{folder}\0{key}".encode()).hexdigest()[:10]
    day = (date or datetime.now(UTC)).strftime("%Y-%m-%d")
    return inbox / slug(folder, 40) / f"{day}-{slug(title or 'entry')}-{digest}{suffix}"


# --- one source ---------------------------------------------------------------------------

def outlet_of(source: Source, title: str | None) -> str:
    """The outlet name shown in the digest: the source's name, else the feed's title, else its host."""
    if source.name:
        return source.name
    if title:
        return title
    return (urlsplit(source.url or "").hostname or "feed").removeprefix("www.")


def fetch_source(
    source: Source,
    fetcher: Fetcher,
    store: SourceStore,
    inbox: Path,
    rules: EntryRules = EntryRules(),
) -> SourceResult:
    """Check one source and save its new entries into `inbox`; never raises for the source's trouble."""
    result = SourceResult(name=source.label, key=source.key)
    if source.url is None:
        return _mail_source(source, store, inbox, fetcher.options, result)
    assert source.url is not None
    state = store.source(source.key)
    headers = {"Accept": FEED_ACCEPT}
    if state and state.etag:
        headers["If-None-Match"] = state.etag
    if state and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    title = state.title if state else None
    try:
        got = fetcher.get(source.url, headers)
        if got.status == 304:
            result.outcome = "not-modified"
            store.record_check(source.key, source.label, "not-modified")
        else:
            feed = parse_feed(got.body, got.url, got.content_type)
            title = feed.title or title
            result.warning = feed.warning
            result.new_entries = store.record_check(
                source.key,
                source.label,
                "ok",
                etag=got.headers.get("etag"),
                last_modified=got.headers.get("last-modified"),
                title=feed.title,
                entries=[(e.key, e.link, e.as_dict()) for e in feed.entries],
                reason=feed.warning or "",
            )
    except FetchError as exc:
        result.outcome, result.reason = "failed", exc.reason
        store.record_failure(source.key, source.label, exc.reason)
    # entries found now or left by earlier runs are saved even when the feed failed this time
    outlet = outlet_of(source, title)
    pending = store.pending(source.key)
    result.waiting = max(0, len(pending) - rules.max_entries_per_run)
    for _key, data, attempts in pending[: rules.max_entries_per_run]:
        _save_entry(Entry.from_dict(data), attempts, source, outlet, fetcher, store, inbox, rules, result)
    return result


def _save_entry(
    entry: Entry,
    attempts: int,
    source: Source,
    outlet: str,
    fetcher: Fetcher,
    store: SourceStore,
    inbox: Path,
    rules: EntryRules,
    result: SourceResult,
) -> None:
    label = entry.title or entry.link or entry.key
    fallback = entry.content or entry.summary  # the feed's own text stands in when the page cannot be had
    markup: bytes | None = None
    reason = ""
    if entry.content and words(entry.content) >= rules.full_article_words:
        markup = feed_document(entry, outlet)
    elif not entry.link:
        reason = "no link and no full text in the feed"
    elif (other := store.link_saved(entry.link)) is not None:
        store.finish(source.key, entry.key, "skipped", reason=f"already saved from {other}")
        result.skipped.append(f"{label}: already saved from {other}")
        return
    elif not fetcher.allowed(entry.link):
        reason = "robots.txt disallows fetching the page"
    else:
        try:
            got = fetcher.get(entry.link, {"Accept": PAGE_ACCEPT})
            if got.content_type not in HTML_TYPES:
                reason = f"the link is not a web page ({got.content_type})"
            else:
                markup = page_document(got.body, got.headers.get("content-type", ""), entry, outlet, got.url)
        except UnsafeAddress as exc:
            reason = exc.reason
        except FetchError as exc:
            if attempts + 1 < rules.max_attempts:
                store.retry_later(source.key, entry.key, exc.reason)
                result.waiting += 1
                return
            reason = f"{exc.reason} ({attempts + 1} attempts)"
    if markup is None and fallback:
        markup = feed_document(entry, outlet)
        reason = ""
    if markup is None:
        store.finish(source.key, entry.key, "failed", reason=reason)
        result.failed.append(f"{label}: {reason}")
        return
    path = save_file(entry_path(inbox, outlet, entry.key, entry.title, entry.date, ".html"), markup)
    store.finish(source.key, entry.key, "saved", path)
    result.saved.append(path)


def _mail_source(source: Source, store: SourceStore, inbox: Path, options: FetchOptions, result: SourceResult) -> SourceResult:
    """Copy each new message of a Maildir or IMAP source into the inbox as .eml, once."""
    folder_name = source.name or (source.maildir.name if source.maildir else None) or "newsletters"

    def known(key: str) -> bool:
        return store.known(source.key, key)

    try:
        if source.maildir is not None:
            messages: Iterable[tuple[str, bytes]] = maildir.read_maildir(source.maildir, options.max_bytes, known)
        else:
            assert source.imap is not None
            password = source.password.get_secret_value() if source.password else None
            messages = imap.read_imap(source.imap, password, known, options.policy, options.timeout, options.max_bytes)
        for key, data in messages:
            if known(key):
                continue
            path = save_file(entry_path(inbox, folder_name, key, None, None, ".eml"), data)
            store.add_message(source.key, key, path)
            result.saved.append(path)
        result.new_entries = len(result.saved)
        store.record_check(source.key, source.label, "ok")
    except FetchError as exc:
        result.outcome, result.reason = "failed", exc.reason
        store.record_failure(source.key, source.label, exc.reason)
    except OSError as exc:
        result.outcome, result.reason = "failed", f"cannot read or write a message ({exc})"
        store.record_failure(source.key, source.label, result.reason)
    return result


# --- every source -------------------------------------------------------------------------

Mapper = Callable[[Callable[[Source], SourceResult], list[Source]], Iterable[SourceResult]]


def thread_map(options: FetchOptions) -> Mapper:
    """Run the sources on a pool of threads (the fetcher keeps each host's limits across them)."""

    def run(fn: Callable[[Source], SourceResult], sources: list[Source]) -> Iterable[SourceResult]:
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            return list(pool.map(fn, sources))

    return run


def crash_result(source: Source, exc: BaseException) -> SourceResult:
    """The result of a source whose fetch crashed outright (a bug, a full disk): reported, not fatal."""
    return SourceResult(source.label, source.key, "failed", f"{exc.__class__.__name__}: {exc}")


def fetch_all(
    settings: Settings,
    report: Report = print,
    mapper: Mapper | None = None,
    options: FetchOptions | None = None,
    rules: EntryRules = EntryRules(),
) -> FetchResult:
    """Fetch every configured source into the inbox; report one line per trouble and a summary."""
    options = options or FetchOptions.from_settings(settings)
    result = FetchResult()
    if not settings.sources:
        report("no sources configured: add one with `digest sources add URL`")
        return result
    settings.inbox.mkdir(parents=True, exist_ok=True)
    with SourceStore.in_state(settings.state) as store, Fetcher(options) as fetcher:

        def one(source: Source) -> SourceResult:
            try:
                return fetch_source(source, fetcher, store, settings.inbox, rules)
            except Exception as exc:  # one source can only fail itself
                return crash_result(source, exc)

        result.sources = list((mapper or thread_map(options))(one, list(settings.sources)))
        result.requests = fetcher.requests
    report_result(result, report)
    return result


def report_result(result: FetchResult, report: Report) -> None:
    for s in result.sources:
        if s.outcome == "failed":
            report(f"  source {s.name!r} failed: {s.reason} (its state is kept; the next run retries it)")
        elif s.warning:
            report(f"  source {s.name!r} is a broken feed, read anyway: {s.warning}")
        for line in s.failed:
            report(f"  {s.name}: gave up on {line}")
    saved = len(result.saved)
    unchanged = sum(1 for s in result.sources if s.outcome == "not-modified")
    failed = len(result.failed_sources)
    waiting = sum(s.waiting for s in result.sources)
    report(
        f"fetched {len(result.sources)} sources ({unchanged} unchanged, {failed} failed): "
        f"saved {saved} new articles to the inbox in {result.requests} requests"
        + (f"; {waiting} entries wait for the next run" if waiting else "")
    )
