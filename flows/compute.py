"""Where the flow's pure compute runs: in the flow's own process, or on Dask workers (the Dask specifics)."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import CancelledError
from contextlib import ExitStack, contextmanager
from typing import Any, Generic, TypeVar

import dask
from prefect import Task
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from digest.pipeline import Report
from digest.settings import Settings
from flows.common import say

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
