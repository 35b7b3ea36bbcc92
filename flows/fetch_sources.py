"""The Prefect flow `fetch-sources`: one task per source, each a few lines calling digest.sources."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from digest.settings import Settings, Source, load_settings
from digest.sources.fetch import FetchResult, SourceResult, crash_result, fetch_all
from flows.common import PLAIN, quoted, say


# No task retries: a failing source keeps its state and is tried again on the next run; within
# the run, the fetcher already gives each request its timeouts.
@task(name="fetch-source", task_run_name="fetch {source.label}", **PLAIN)
def fetch_source_task(fn: Callable[[Source], SourceResult], source: Source) -> SourceResult:
    return fn(source)


def prefect_map(fn: Callable[[Source], SourceResult], sources: list[Source]) -> Iterable[SourceResult]:
    """Run each source as its own task run; a crashed task fails only its source."""
    futures = [fetch_source_task.submit(quoted(fn), source) for source in sources]
    results = []
    for source, future in zip(sources, futures):
        try:
            results.append(future.result())
        except Exception as exc:
            results.append(crash_result(source, exc))
    return results


RUNNER: Any = ThreadPoolTaskRunner(max_workers=8)  # sources at once; the fetcher limits each host


@flow(name="fetch-sources", log_prints=False, task_runner=RUNNER)
def fetch_sources(
    inbox: str | None = None,
    state: str | None = None,
    config: str | None = None,
) -> dict[str, object]:
    """Fetch every subscription's new entries into the inbox (feeds conditionally, each entry once)."""
    settings = load_settings(Path(config) if config else None, inbox=inbox and Path(inbox), state=state and Path(state))
    return run(settings).as_dict()


# The settings object itself (a subflow of daily-digest, or a command that built them): recorded
# with the run as Prefect records any parameter, the password masked.
@flow(name="fetch-sources", log_prints=False, task_runner=RUNNER, validate_parameters=False)
def fetch_sources_with(settings: Settings) -> dict[str, object]:
    """Run fetch-sources in this process on settings built already."""
    return run(settings).as_dict()


def run(settings: Settings) -> FetchResult:
    """Fetch inside a flow run, each source a task."""
    return fetch_all(settings, say, prefect_map)


def fetch_first(settings: Settings) -> None:
    """Run fetch-sources (as a subflow) before a digest, when sources are configured; never fail the digest."""
    if not settings.sources:
        return
    try:
        fetch_sources_with(settings)
    except Exception as exc:  # a crash in fetching must not cost the digest of what is already in
        say(f"fetching sources failed: {exc.__class__.__name__}: {exc}; digesting the inbox as it is")
