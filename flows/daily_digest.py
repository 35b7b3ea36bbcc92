"""The Prefect flow `daily-digest`: thin coarse tasks around the plain steps in digest.pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from digest import pipeline
from digest.errors import InputError
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


def say(line: str) -> None:
    """Print one progress line (the CLI's and a served run's output)."""
    print(line, flush=True)


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


# SMTP is I/O that fails for passing reasons: retry, with the same Message-ID every time.
@task(name="deliver", retries=2, retry_delay_seconds=[5, 30], **PURE)
def deliver_task(settings: Settings, report: Report) -> int:
    with StateStore(settings.db_path) as store:
        return pipeline.deliver_pending(settings, store, smtp_password(settings), report, raise_transient=True)


def deliver_step(settings: Settings, report: Report) -> int:
    """Deliver with retries; a delivery still failing leaves the digest unsent for the next run."""
    try:
        return deliver_task(settings, report)
    except Exception as exc:
        report(f"  not sent: {exc}. The digest stays in the outbox; the next run retries it.")
        return 0


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
    return run(settings, dry_run=dry_run).as_dict()


def run(settings: Settings, dry_run: bool = False, report: Report = say) -> pipeline.RunResult:
    """Run the pipeline with each coarse step as a Prefect task (inside a flow run)."""
    return pipeline.run(settings, report, dry_run, PREFECT_STEPS)
