"""The Prefect flow `daily-digest`: thin coarse tasks around the plain steps in digest.pipeline."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import CancelledError
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import dask
from prefect import Task, flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.futures import PrefectFuture
from prefect.logging.handlers import APILogHandler
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from digest import pipeline, runreport
from digest.errors import DigestError, InputError, TransientDeliveryError, UndeliveredError
from digest.models import RawArticle, Story
from digest.pipeline import Cleaned, Discovered, Report, Stories
from digest.settings import Settings, load_settings
from digest.state import StateStore

# Stages are pure and their inputs large: no input hashing, no result persistence. Large
# arguments are passed through quoted() so Prefect does not walk every object inside them.
PURE: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
T = TypeVar("T")


class Parcel(Generic[T]):
    """A large task argument sent to Dask that neither Dask nor Prefect looks inside.

    Dask otherwise tokenizes every argument (walking each article's dataclass fields, in the flow
    process, for every batch) and Prefect walks them again on the worker looking for futures.
    """

    def __init__(self, value: T) -> None:
        self.value = value
        self.token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self.token


def opened(value: T | Parcel[T]) -> T:
    """The value itself, out of its Parcel when it came through Dask in one."""
    return value.value if isinstance(value, Parcel) else value


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
        run_logger().info(runreport.log_line(line))  # the dashboard renders log lines as Markdown


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
def clean_task(raws: list[RawArticle] | Parcel[list[RawArticle]], learned: Any, max_seconds: float = 60.0) -> Cleaned:
    batch: list[RawArticle] = opened(raws)
    return pipeline.clean_batch(batch, opened(learned), max_seconds)


@task(name="stories", **PURE)
def stories_task(cleaned: Cleaned, settings: Settings, report: Report) -> pipeline.Grouped:
    with StateStore(settings.db_path) as store:
        return pipeline.group_stories(cleaned.articles, settings, store, report)


@task(name="summarise-batch", retries=1, retry_delay_seconds=1, **PURE)
def summarise_task(
    stories: list[Story] | Parcel[list[Story]],
    shown: list[list[str]] | Parcel[list[list[str]]],
    method: str,
    sentences: int,
    day: date,
) -> pipeline.Summarised:
    batch: list[Story] = opened(stories)
    told: list[list[str]] = opened(shown)
    return pipeline.summarise_stories(batch, told, method, sentences, day)


class Compute:
    """Where the flow's pure compute runs: in the flow's own process, or on Dask workers.

    `workers = 1` keeps every task in the flow's process (Prefect's thread pool). Otherwise a run
    with more than one batch of work starts a local Dask cluster of `workers` processes (default:
    one per core), or uses the scheduler at `dask_address`, through prefect-dask's DaskTaskRunner.
    Only pure tasks are submitted; reading the inbox, the state store and the outbox stay here.
    """

    def __init__(self, settings: Settings, in_process: bool = False, report: Report = say) -> None:
        self.settings = settings
        self.report = report
        self.runner: Any = None  # a started DaskTaskRunner, or None: the flow's own task runner
        self._decided = in_process
        self._stack = ExitStack()
        self._warming: list[Any] = []  # Dask futures of warm_up, held so Dask does not drop them

    def use(self, items: int) -> None:
        """Choose where tasks run, once, knowing how many articles the run has."""
        if self._decided:
            return
        self._decided = True
        runner = dask_runner(self.settings, items)
        if runner is not None:
            quiet = logging.getLogger("distributed")  # the scheduler's and nannies' INFO lines
            quiet.setLevel(max(quiet.getEffectiveLevel(), logging.WARNING))
            # A scheduler unpickles the first tasks it gets, importing Prefect and digest: on a busy
            # machine that can hold its event loop past distributed's 30 s comm timeout.
            self._stack.enter_context(dask.config.set(PATIENT_COMMS))
            self.runner = self._stack.enter_context(runner)
            # the workers import the stages (seconds of scipy, nltk, sklearn) while this process learns the chrome
            client = self.runner.client
            self._warming = [client.submit(warm_up, pure=False, workers=[w]) for w in client.scheduler_info()["workers"]]
            where = self.settings.dask_address or f"a local cluster of {dask_workers(self.settings)} processes"
            self.report(f"  computing on Dask workers: {where}")

    def submit(self, fn: Task[..., Any], **parameters: Any) -> PrefectFuture[Any]:
        """Submit a task; its large arguments come quote()d, so Prefect does not walk them."""
        if self.runner is None:
            return fn.submit(**parameters)
        # Dask rebuilds tuples on the way, quote (a namedtuple) included: the values go in a Parcel
        plain = {k: Parcel(v.unquote()) if isinstance(v, quote) else v for k, v in parameters.items()}
        return self.runner.submit(fn, plain)

    def close(self) -> None:
        self._stack.close()


def warm_up() -> None:
    """Import the stages a worker will run, before its first batch arrives."""
    import digest.pipeline  # noqa: F401


PATIENT_COMMS = {"distributed.comm.timeouts.connect": "120s", "distributed.comm.timeouts.tcp": "600s"}


def dask_workers(settings: Settings) -> int:
    """Return the number of local Dask worker processes the settings ask for."""
    return settings.workers or os.cpu_count() or 1


def dask_runner(settings: Settings, items: int) -> Any:
    """Return the DaskTaskRunner for this run, or None to run tasks in the flow's own process."""
    if settings.dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=settings.dask_address)
    workers = dask_workers(settings)
    if workers == 1 or items <= settings.batch_size:  # one batch: a cluster would only add start-up time
        return None
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,  # the stages are CPU-bound Python: one process per core
            "processes": True,
            "dashboard_address": None,
        }
    )


@contextmanager
def shared_api() -> Iterator[None]:
    """Let worker processes report to the flow's Prefect API, also when it is a temporary one.

    Tasks carry the flow's settings to their worker; with no PREFECT_API_URL set each worker would
    start a temporary API of its own, so the flow's actual API address is put into those settings.
    """
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, temporary_settings

    ctx = FlowRunContext.get()
    if PREFECT_API_URL.value() or ctx is None or ctx.client is None:
        yield
        return
    with temporary_settings({PREFECT_API_URL: str(ctx.client.api_url).rstrip("/")}):
        yield


def lost_with_the_cluster(exc: BaseException) -> bool:
    """True when a batch was lost with its worker or scheduler connection, not failed by its data.

    Dask runs a batch again when its worker dies; what still comes back cancelled or as a closed
    connection means the cluster itself is gone, and the articles must stay pending.
    """
    return isinstance(exc, (CancelledError, asyncio.CancelledError, OSError, TimeoutError))


MAX_BATCHES = 64  # tasks per stage: past it batches grow, so 100,000 articles are not 500 task runs of 200


def batch_size_for(items: int, settings: Settings) -> int:
    """Articles per batch: `batch_size`, or more when a stage would otherwise need over MAX_BATCHES tasks."""
    return max(settings.batch_size, -(-items // MAX_BATCHES))


def batches_of_stories(stories: list[Story], size: int) -> Iterator[tuple[int, int]]:
    """Yield (start, end) ranges of stories holding about `size` articles each."""
    start, count = 0, 0
    for i, story in enumerate(stories):
        count += len(story.articles)
        if count >= size:
            yield start, i + 1
            start, count = i + 1, 0
    if start < len(stories):
        yield start, len(stories)


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


def clean_in_batches(
    raws: list[RawArticle], settings: Settings, report: Report = say, compute: Compute | None = None
) -> Cleaned:
    """Clean in coarse batches; a batch whose task fails fails its own articles, not the digest.

    Without `compute` the batches run in the flow's own process.
    """
    compute = compute or Compute(settings, in_process=True)
    compute.use(len(raws))  # first, so the workers start up while the chrome is learnt here
    learned = learn_task(quoted(raws), settings)
    size = batch_size_for(len(raws), settings)
    batches = [raws[i : i + size] for i in range(0, len(raws), size)]
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
            reason = f"cleaning failed: {exc.__class__.__name__}: {exc}"
            failed = [pipeline.failed_record(InputError(r.path, reason), r.fingerprint, r.id) for r in batch]
            part = Cleaned(failed=failed)
        cleaned.add(part, len(raws), report)
    return cleaned


def stories_in_batches(cleaned: Cleaned, settings: Settings, report: Report, compute: Compute) -> Stories:
    """Group into stories here (it needs the store), then summarise batches of stories as tasks."""
    grouped = stories_task(quoted(cleaned), settings, report)
    compute.use(len(cleaned.articles))
    ranges = list(batches_of_stories(grouped.stories, batch_size_for(len(cleaned.articles), settings)))
    futures = [
        compute.submit(
            summarise_task,
            stories=quoted(grouped.stories[a:b]),
            shown=quoted(grouped.shown[a:b]),
            method=settings.summarizer,  # not the settings: they hold the SMTP password
            sentences=settings.summary_sentences,
            day=grouped.day,
        )
        for a, b in ranges
    ]
    summarised = pipeline.Summarised()
    for future in futures:  # a batch that still fails after its retry fails the run: nothing is marked done
        summarised.add(future.result())
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
    compute = Compute(settings, report=report)
    try:
        with shared_api():
            return pipeline.run(settings, report, dry_run, prefect_steps(compute))
    finally:
        compute.close()
