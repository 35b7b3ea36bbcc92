"""The Prefect flow `daily-digest`: thin coarse tasks around the plain steps in digest.pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler
from prefect.utilities.annotations import quote

from digest import pipeline, runreport
from digest.errors import DigestError, InputError, TransientDeliveryError, UndeliveredError
from digest.models import RawArticle
from digest.pipeline import Cleaned, Discovered, Report, Stories
from digest.settings import Settings, load_settings
from digest.state import StateStore

# Stages are pure and their inputs large: no input hashing, no result persistence. Large
# arguments are passed through quoted() so Prefect does not walk every object inside them.
PURE: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
T = TypeVar("T")


def quoted(value: T) -> T:
    """Wrap a large task argument in Prefect's quote(), typed as the value the task receives."""
    return cast(T, quote(value))


RUN_LOGGER = "digest.run"  # the stage lines in Prefect's run logs; `digest trigger` streams this logger
ARTIFACT_KEY = "daily-digest-report"


def run_logger() -> logging.Logger:
    """Return the logger whose lines go to the current Prefect run's log (the dashboard, `prefect flow-run logs`).

    It has its own API handler, so Prefect's console logging can stay quiet without hiding these lines.
    """
    logger = logging.getLogger(RUN_LOGGER)
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        logger.addHandler(APILogHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False  # printed by say(); the console must not show them twice
    return logger


def to_run_log(line: str) -> None:
    """Send one line to the current Prefect run's log; outside a run, do nothing."""
    if FlowRunContext.get() or TaskRunContext.get():
        run_logger().info(line)


def say(line: str) -> None:
    """Print one progress line (the CLI's and a served run's output) and send it to the run's log."""
    print(line, flush=True)
    to_run_log(line)


@task(name="ingest", **PURE)
def ingest_task(settings: Settings, report: Report) -> Discovered:
    return pipeline.discover_step(settings, report)


@task(name="learn-boilerplate", **PURE)
def learn_task(raws: list[RawArticle], settings: Settings) -> Any:
    return pipeline.learn(raws, settings)


# One retry: a batch can die of memory pressure; the stage itself is deterministic.
@task(name="clean-batch", retries=1, retry_delay_seconds=1, **PURE)
def clean_task(raws: list[RawArticle], learned: Any, max_seconds: float = 60.0) -> Cleaned:
    return pipeline.clean_batch(raws, learned, max_seconds)


@task(name="stories", **PURE)
def stories_task(cleaned: Cleaned, settings: Settings, report: Report) -> Stories:
    return pipeline.stories_step(cleaned, settings, report)


def quoted_stories(cleaned: Cleaned, settings: Settings, report: Report) -> Stories:
    """Run the stories task with its large input quoted."""
    return stories_task(quoted(cleaned), settings, report)


def transient_delivery(task: Any, task_run: Any, state: Any) -> bool:
    """Retry the deliver task only when a later try may succeed (4xx, connection trouble), never a setup error."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return isinstance(exc, TransientDeliveryError) or (isinstance(exc, UndeliveredError) and exc.retryable)


# SMTP is I/O that fails for passing reasons: retry those only; the steps' recorded outcomes make a
# retry resend nothing that was delivered and no copy whose outcome is unknown beyond its limit.
@task(name="deliver", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=transient_delivery, **PURE)
def deliver_task(settings: Settings, report: Report) -> int:
    return pipeline.deliver_step(settings, report, smtp_password(settings))


def deliver_step(settings: Settings, report: Report) -> int:
    """Deliver through the task, with the retries and delays of the settings (smtp_retry_delays)."""
    delays = list(settings.smtp_retry_delays)
    return deliver_task.with_options(retries=len(delays), retry_delay_seconds=delays or 0)(settings, report)


def smtp_password(settings: Settings) -> str | None:
    """Return the SMTP password from the settings, or from the named Prefect Secret block."""
    if settings.smtp_password is not None:
        return settings.smtp_password.get_secret_value()
    if settings.smtp_password_block:
        from prefect.blocks.system import Secret

        secret: Secret = Secret.load(settings.smtp_password_block)  # type: ignore[assignment]  # sync call
        return str(secret.get())
    return None


def clean_in_batches(raws: list[RawArticle], settings: Settings, report: Report = say) -> Cleaned:
    """Clean in coarse batches; a batch whose task fails fails its own articles, not the digest."""
    learned = learn_task(quoted(raws), settings)
    size = settings.batch_size
    batches = [raws[i : i + size] for i in range(0, len(raws), size)]
    futures = [clean_task.submit(quoted(batch), quoted(learned), settings.max_file_seconds) for batch in batches]
    cleaned = Cleaned()
    for batch, future in zip(batches, futures):
        try:
            part: Cleaned = future.result()
        except Exception as exc:  # a crashed batch: its articles fail with the reason, the rest go on
            reason = f"cleaning failed: {exc.__class__.__name__}: {exc}"
            failed = [pipeline.failed_record(InputError(r.path, reason), r.fingerprint, r.id) for r in batch]
            part = Cleaned(failed=failed)
        cleaned.add(part, len(raws), report)
    return cleaned


PREFECT_STEPS = pipeline.Steps(
    discover=ingest_task,
    clean=clean_in_batches,
    stories=quoted_stories,
    deliver=deliver_step,
)


@flow(name="daily-digest", log_prints=False)
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
    """
    settings = load_settings(
        Path(config) if config else None,
        inbox=inbox and Path(inbox),
        outbox=outbox and Path(outbox),
        state=state and Path(state),
    )
    if fetch:
        from flows.fetch_sources import fetch_first

        fetch_first(settings, config)
    try:
        result = run(settings, dry_run=dry_run)
    except DigestError as exc:
        to_run_log(f"failed: {exc}")
        create_markdown_artifact(
            key=ARTIFACT_KEY, markdown=f"# Daily digest: failed\n\n{exc}\n", description="The run failed before a digest was written."
        )
        raise
    publish_report(settings, result)
    return result.as_dict()


def publish_report(settings: Settings, result: pipeline.RunResult) -> None:
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


def run(settings: Settings, dry_run: bool = False, report: Report = say) -> pipeline.RunResult:
    """Run the pipeline with each coarse step as a Prefect task (inside a flow run)."""
    return pipeline.run(settings, report, dry_run, PREFECT_STEPS)
