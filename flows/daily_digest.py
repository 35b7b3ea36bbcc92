"""The Prefect flow `daily-digest`: thin coarse tasks around the plain steps in digest.pipeline."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from digest import pipeline, runreport
from digest.batching import batches_of, batches_of_stories
from digest.errors import DigestError, TransientDeliveryError, UndeliveredError
from digest.failures import failed_batch
from digest.models import RawArticle, Story
from digest.pipeline import Cleaned, Discovered, Grouped, Progress, Report, Stories, Summarised
from digest.runresult import RunResult
from digest.settings import Settings, load_settings
from digest.state import StateStore
from flows.common import PLAIN, quoted, say, to_run_log
from flows.compute import Compute, Parcel, lost_with_the_cluster, opened, shared_api
from flows.fetch_sources import fetch_first

# Large arguments are passed through quoted() so Prefect does not walk every object inside them.
ARTIFACT_KEY = "daily-digest-report"


@task(name="ingest", **PLAIN)
def ingest_task(settings: Settings, report: Report) -> Discovered:
    return pipeline.discover_step(settings, report)


@task(name="learn-boilerplate", **PLAIN)
def learn_task(raws: list[RawArticle], settings: Settings) -> Any:
    return pipeline.learn(raws, settings)


# One retry: a batch can die of memory pressure; the stage itself is deterministic.
@task(name="clean-batch", retries=1, retry_delay_seconds=1, **PLAIN)
def clean_task(raws: list[RawArticle] | Parcel[list[RawArticle]], learned: Any, max_seconds: float = 60.0) -> Cleaned:
    batch: list[RawArticle] = opened(raws)
    return pipeline.clean_batch(batch, opened(learned), max_seconds)


@task(name="stories", **PLAIN)
def stories_task(cleaned: Cleaned, settings: Settings, report: Report) -> Grouped:
    return pipeline.group_step(cleaned, settings, report)


@task(name="summarise-batch", retries=1, retry_delay_seconds=1, **PLAIN)
def summarise_task(
    stories: list[Story] | Parcel[list[Story]],
    shown: list[list[str]] | Parcel[list[list[str]]],
    method: str,
    sentences: int,
    day: date,
) -> Summarised:
    batch: list[Story] = opened(stories)
    told: list[list[str]] = opened(shown)
    return pipeline.summarise_stories(batch, told, method, sentences, day)


def transient_delivery(task: Any, task_run: Any, state: Any) -> bool:
    """Retry the deliver task only when a later try may succeed (4xx, connection trouble), never a setup error."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return isinstance(exc, TransientDeliveryError) or (isinstance(exc, UndeliveredError) and exc.retryable)


# SMTP is I/O that fails for passing reasons: retry those only; the steps' recorded outcomes make a
# retry resend nothing that was delivered and no copy whose outcome is unknown beyond its limit.
@task(name="deliver", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=transient_delivery, **PLAIN)
def deliver_task(settings: Settings, report: Report) -> int:
    return pipeline.deliver_step(settings, report)


def deliver_step(settings: Settings, report: Report) -> int:
    """Deliver through the task, with the retries and delays of the settings (smtp_retry_delays)."""
    delays = list(settings.smtp_retry_delays)
    return deliver_task.with_options(retries=len(delays), retry_delay_seconds=delays or 0)(settings, report)


def clean_in_batches(
    raws: list[RawArticle], settings: Settings, report: Report = say, compute: Compute | None = None
) -> Cleaned:
    """Clean in coarse batches; a batch whose task fails fails its own articles, not the digest.

    Without `compute` the batches run in the flow's own process.
    """
    compute = compute or Compute(settings, in_process=True)
    compute.use(len(raws))  # first, so the workers start up while the chrome is learnt here
    learned = learn_task(quoted(raws), settings)
    batches = batches_of(raws, settings)
    futures = [
        compute.submit(clean_task, raws=quoted(batch), learned=quoted(learned), max_seconds=settings.max_file_seconds)
        for batch in batches
    ]
    cleaned = Cleaned()
    for batch, future in zip(batches, futures):
        try:
            part: Cleaned = future.result()
        except Exception as exc:  # a crashed batch: its articles fail with the reason, the rest go on
            if lost_with_the_cluster(exc):
                raise DigestError(
                    f"lost the Dask cluster while cleaning ({exc.__class__.__name__}: {exc}); nothing was "
                    "marked done: check the scheduler and workers, then run again"
                ) from exc
            part = Cleaned(failed=failed_batch(batch, f"cleaning failed: {exc.__class__.__name__}: {exc}"))
        cleaned.add(part, len(raws), report)
    return cleaned


def stories_in_batches(cleaned: Cleaned, settings: Settings, report: Report, compute: Compute) -> Stories:
    """Group into stories here (it needs the store), then summarise batches of stories as tasks."""
    grouped = stories_task(quoted(cleaned), settings, report)
    compute.use(len(cleaned.articles))
    futures = [
        compute.submit(
            summarise_task,
            stories=quoted(grouped.stories[a:b]),
            shown=quoted(grouped.shown[a:b]),
            method=settings.summarizer,  # not the settings: they hold the SMTP password
            sentences=settings.summary_sentences,
            day=grouped.day,
        )
        for a, b in batches_of_stories(grouped.stories, settings, len(cleaned.articles))
    ]
    summarised = Summarised()
    for future in futures:  # a batch that still fails after its retry fails the run: nothing is marked done
        summarised.add(future.result())
        if len(futures) > 1:
            report(Progress(f"  summarising: {len(summarised.done):,} of {len(grouped.stories):,} stories", plain=False))
    return pipeline.stories_of(grouped, summarised, settings, report)


def prefect_steps(compute: Compute) -> pipeline.Steps:
    """The run's steps as Prefect tasks, with the pure compute submitted to `compute`."""
    return pipeline.Steps(
        discover=ingest_task,
        clean=lambda raws, settings, report: clean_in_batches(raws, settings, report, compute),
        stories=lambda cleaned, settings, report: stories_in_batches(cleaned, settings, report, compute),
        deliver=deliver_step,
    )


# In-process batches run one at a time: they are CPU-bound Python, and Prefect's default thread pool
# (one thread per submitted task) ran all 64 at once, thrashing the GIL (10,000 articles: 1.25x the
# direct steps' time). Parallel work goes to Dask processes (Compute), never to threads.
IN_PROCESS: Any = ThreadPoolTaskRunner(max_workers=1)


@flow(name="daily-digest", log_prints=False, task_runner=IN_PROCESS)
def daily_digest(
    inbox: str | None = None,
    outbox: str | None = None,
    state: str | None = None,
    config: str | None = None,
    dry_run: bool = False,
    fetch: bool = False,
) -> dict[str, object]:
    """Digest the inbox's new articles into one briefing in the outbox, and send it when configured.

    With `fetch`, the configured sources are fetched into the inbox first (the fetch-sources flow).
    The parameters are plain (JSON) for deployments; a command that has built its settings
    already calls `daily_digest_with`.
    """
    settings = load_settings(
        Path(config) if config else None,
        inbox=inbox and Path(inbox),
        outbox=outbox and Path(outbox),
        state=state and Path(state),
    )
    return digest(settings, dry_run, fetch)


# The settings object itself, checked (folders, summarizer) by the command that built it: recorded
# with the run as Prefect records any parameter, the password masked.
@flow(name="daily-digest", log_prints=False, task_runner=IN_PROCESS, validate_parameters=False)
def daily_digest_with(settings: Settings, dry_run: bool = False, fetch: bool = False) -> dict[str, object]:
    """Run daily-digest in this process on settings a command has built and checked already."""
    return digest(settings, dry_run, fetch, checked=True)


def digest(settings: Settings, dry_run: bool, fetch: bool, checked: bool = False) -> dict[str, object]:
    """The body of the daily-digest flow: fetch when asked, run, and publish the run's report."""
    if fetch:
        fetch_first(settings)
    try:
        result = run(settings, dry_run=dry_run, checked=checked)
    except DigestError as exc:
        to_run_log(f"failed: {exc}")
        create_markdown_artifact(
            key=ARTIFACT_KEY, markdown=f"# Daily digest: failed\n\n{exc}\n", description="The run failed before a digest was written."
        )
        raise
    publish_report(settings, result)
    return result.as_dict()


def publish_report(settings: Settings, result: RunResult) -> None:
    """Publish the run's Markdown artifact, and end the run's log with the digest's path (`digest trigger` prints it)."""
    record, delivery = None, None
    if result.path:
        with StateStore(settings.db_path) as store:
            row = store.digest_by_path(result.path)
            delivery = (row.delivery, row.delivery_reason) if row else None
        try:
            record = json.loads(result.path.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
    create_markdown_artifact(
        key=ARTIFACT_KEY,
        markdown=runreport.markdown(result.as_dict(), record, delivery),
        description=f"digest: {result.path}" if result.path else result.message or "no digest written",
    )
    to_run_log(f"digest: {result.path}" if result.path else f"digest: {result.message or 'no digest written'}")


def run(settings: Settings, dry_run: bool = False, report: Report = say, checked: bool = False) -> RunResult:
    """Run the pipeline with each coarse step as a Prefect task (inside a flow run)."""
    compute = Compute(settings, report=report)
    try:
        with shared_api():
            return pipeline.run(settings, report, dry_run, prefect_steps(compute), checked=checked)
    finally:
        compute.close()
