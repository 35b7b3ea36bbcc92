"""Serving `daily-digest/daily` on a schedule, the embedded Prefect server, and triggering runs."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.errors import ConfigError, DigestError
from digest.settings import Settings

DEPLOYMENT = "daily-digest/daily"


def machine_timezone() -> str:
    """Return the IANA name of the zone the machine's local time follows (TZ, /etc/timezone, /etc/localtime).

    TZ wins, as it does for the digest's own dates: an IANA name or alias ("Japan", "EST5EDT"), a
    zoneinfo file path, or a POSIX rule ("EST5EDT,M3.2.0,M11.1.0"), which is named by the IANA zone
    with the same offsets over the next two years. Else UTC.
    """
    tz = os.environ.get("TZ")
    if tz is not None:
        if not tz.lstrip(":"):
            return "UTC"  # the C library's reading of an empty TZ
        # a rule no IANA zone follows is returned as it is: timezone_of then asks for a timezone setting
        return _zone_named(tz.lstrip(":")) or _zone_like_local_time() or tz
    try:
        name = _zone_named(Path("/etc/timezone").read_text().strip())
        if name:
            return name
    except OSError:
        pass
    try:
        name = _zone_named(os.path.realpath("/etc/localtime"))
        if name:
            return name
    except OSError:
        pass
    return _zone_like_local_time() or "UTC"


def _zone_named(text: str) -> str | None:
    """`text` as a loadable IANA zone name (a zoneinfo file path gives its name); None when it is not one."""
    from zoneinfo import ZoneInfo

    name = text.split("zoneinfo/", 1)[1] if "zoneinfo/" in text else text
    if not name or name.startswith("/") or ".." in name:
        return None
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return None
    return name


def _zone_like_local_time() -> str | None:
    """The IANA zone whose offsets match this process's local time at every sampled instant of two years."""
    import time
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo, available_timezones

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    instants = [start + timedelta(days=7 * week, hours=week % 24) for week in range(105)]
    local = [timedelta(seconds=time.localtime(t.timestamp()).tm_gmtoff) for t in instants]
    matching = []
    for name in sorted(available_timezones()):
        zone = ZoneInfo(name)
        if all(t.astimezone(zone).utcoffset() == offset for t, offset in zip(instants, local, strict=True)):
            matching.append(name)
    # a real place (Area/City) before an alias, then the one whose abbreviations are the machine's
    abbreviations = set(time.tzname)
    matching.sort(key=lambda n: ("/" not in n or n.startswith("Etc/"), not {
        instants[0].astimezone(ZoneInfo(n)).tzname(), instants[26].astimezone(ZoneInfo(n)).tzname()} <= abbreviations, n))
    if "UTC" in matching:
        return "UTC"  # a local time with no offset ever (an unreadable TZ file, TZ=GMT0) is plain UTC
    return matching[0] if matching else None


def timezone_of(settings: Settings) -> str:
    """Return the schedule's IANA time zone, validated."""
    from zoneinfo import ZoneInfo

    name = settings.timezone or machine_timezone()
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError) as exc:
        if settings.timezone:
            raise ConfigError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from exc
        raise ConfigError(
            f"the machine's time zone (TZ={name!r}) has no IANA name the schedule could use; "
            "set timezone (DIGEST_TIMEZONE) to one such as Europe/Berlin"
        ) from exc
    return name


def api_url(settings: Settings) -> str:
    """Return the Prefect API to talk to: PREFECT_API_URL when set, else the embedded server."""
    return os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{settings.server_port}/api"


def server_problem(url: str) -> str | None:
    """Return why the Prefect API at `url` is not usable (no answer, unhealthy), or None if it is."""
    import httpx

    try:
        reply = httpx.get(f"{url.rstrip('/')}/health", timeout=5)
    except httpx.HTTPError as exc:
        return f"no Prefect server answers at {url} ({exc.__class__.__name__})"
    if reply.status_code != 200:
        return f"the Prefect API at {url} answered HTTP {reply.status_code} to its health check"
    return None


def require_server(url: str) -> None:
    """Raise ConfigError, saying what to do, unless a Prefect server answers at `url`."""
    problem = server_problem(url)
    if problem:
        raise ConfigError(
            f"{problem}; start one with `digest server` in another terminal, or set PREFECT_API_URL to yours"
        )


def server_environment(settings: Settings, ui: bool = True) -> dict[str, str]:
    """Environment for `prefect server start` with its SQLite database under the state folder.

    Prefect's dashboard is served from the installed package (nothing is fetched) unless `ui` is False.
    """
    from flows.api import database_url

    home = (settings.state / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=database_url(settings),  # the one `digest run` uses
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_SERVER_LEVEL="CRITICAL",
        PREFECT_SERVER_UI_ENABLED="true" if ui else "false",
        # the dashboard's scripts call the API at this address; Prefect would assume port 4200
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(settings.server_port),
        PREFECT_UI_API_URL=f"http://127.0.0.1:{settings.server_port}/api",
        DO_NOT_TRACK="1",
    )
    env.pop("PREFECT_API_URL", None)
    return env


def server_command(settings: Settings) -> list[str]:
    """The command line that starts the embedded Prefect server on 127.0.0.1."""
    import sys

    return [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(settings.server_port)]


def deployment_parameters(settings: Settings, config: Path | None) -> dict[str, Any]:
    """Absolute folders for the served flow, so runs do not depend on the worker's directory."""
    return {
        "inbox": str(settings.inbox.resolve()),
        "outbox": str(settings.outbox.resolve()),
        "state": str(settings.state.resolve()),
        "config": str(config.resolve()) if config else None,
        "fetch": True,  # fetch-sources runs first whenever sources are configured
    }


def serve(settings: Settings, config: Path | None = None) -> None:
    """Register `daily-digest/daily` with its cron schedule and time zone, and run it when due.

    Each run first fetches the configured sources (the fetch-sources subflow), then digests.
    """
    from prefect.schedules import Cron

    from flows.daily_digest import daily_digest

    daily_digest.serve(
        name="daily",
        schedules=[Cron(settings.schedule, timezone=timezone_of(settings))],
        parameters=deployment_parameters(settings, config),
        description="Digest the inbox every morning.",
        pause_on_shutdown=False,
        print_starting_message=False,
    )


def trigger(timeout: float, echo: Callable[[str], None]) -> tuple[Any, list[str]]:
    """Start a run of the deployment now through the server and echo its stage lines as they come.

    Return the finished flow run and its closing lines ("digest: PATH"), for the caller to print last.
    """
    import time

    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    from flows.common import RUN_LOGGER

    url = os.environ.get("PREFECT_API_URL")
    try:
        run: Any = run_deployment(DEPLOYMENT, timeout=0, as_subflow=False)  # sync call: a FlowRun
    except ObjectNotFound as exc:
        raise DigestError(NO_DEPLOYMENT.format(url=url)) from exc
    except Exception as exc:  # httpx/Prefect errors: the server is missing or went away
        raise DigestError(
            f"cannot start {DEPLOYMENT} through {url}: {_reason(exc)}. "
            "Is `digest server` running and the deployment registered (`digest scheduler` or `digest deploy`)?"
        ) from exc
    echo(f"digest: started run {run.name} of {DEPLOYMENT}")
    seen: set[Any] = set()
    closing: list[str] = []
    deadline = time.monotonic() + timeout
    settled_at: float | None = None
    with get_client(sync_client=True) as client:
        while True:
            for line in _new_lines(client, run.id, seen, RUN_LOGGER):
                if line.startswith("digest: "):
                    closing.append(line)
                else:
                    echo(line)
            run = client.read_flow_run(run.id)
            final = run.state is not None and run.state.is_final()
            now = time.monotonic()
            if final and settled_at is None:
                settled_at = now
            # logs reach the API in batches: after the final state, wait for the closing line a little
            if settled_at is not None and (closing or now - settled_at > LOG_GRACE_SECONDS):
                break
            if now > deadline:
                raise DigestError(f"run {run.name} did not finish within {timeout:.0f} s; it goes on in the server")
            time.sleep(1)
    return run, closing


LOG_GRACE_SECONDS = 15
NO_DEPLOYMENT = (
    "there is no deployment " + DEPLOYMENT + " on the Prefect server at {url}; register it first: "
    "`digest scheduler` (runs the schedule in that process) or `digest deploy` (for work-pool workers)"
)


def _reason(exc: BaseException) -> str:
    """Say what an exception means even when its message is empty (Prefect's not-found errors say "None")."""
    text = str(exc).strip()
    return text if text and text != "None" else exc.__class__.__name__


def _new_lines(client: Any, flow_run_id: Any, seen: set[Any], logger_name: str) -> list[str]:
    """Return the run's log lines from `logger_name` not seen yet, oldest first."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    logs = client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), sort=LogSort.TIMESTAMP_ASC, limit=200,
        offset=0,
    )
    offset = len(logs)
    while len(logs) == offset and offset and offset % 200 == 0:  # a long run: page on
        more = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), sort=LogSort.TIMESTAMP_ASC,
            limit=200, offset=offset,
        )
        logs += more
        offset += len(more)
    fresh = [log for log in logs if log.id not in seen and log.name == logger_name]
    seen.update(log.id for log in fresh)
    return [str(log.message) for log in fresh]


def schedule_status() -> dict[str, Any]:
    """Return the deployment's schedule, time zone and next scheduled run from the server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=1,
        )
        schedules = [
            {"cron": getattr(s.schedule, "cron", None), "timezone": getattr(s.schedule, "timezone", None), "active": s.active}
            for s in deployment.schedules
        ]
        nxt: datetime | None = runs[0].expected_start_time if runs else None
    return {"deployment": DEPLOYMENT, "schedules": schedules, "next_run": nxt}


POOL = "digest"


def project_root() -> Path:
    """The folder holding flows/ (the working directory of runs a work-pool worker starts)."""
    return Path(__file__).resolve().parents[1]


def ensure_pool(name: str = POOL) -> bool:
    """Create the process work pool `name` unless it exists; return True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))
        except ObjectAlreadyExists:
            return False
    return True


def registered_pool() -> tuple[bool, str | None]:
    """Return whether the deployment is registered, and the work pool holding it (None: served by a process)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            found = client.read_deployment_by_name(DEPLOYMENT)
        except ObjectNotFound:
            return False, None
    return True, found.work_pool_name or None


def deploy(settings: Settings, config: Path | None = None, pool: str = POOL, move: bool = False) -> tuple[bool, Any, str | None]:
    """Register `daily-digest/daily` on the process work pool `pool`.

    Any machine that runs `prefect worker start --pool digest` against the same Prefect API, with
    digest installed at the same path, picks up the scheduled and triggered runs. A deployment that
    `digest scheduler` serves, or that another pool holds, is moved only with `move` (else
    DigestError says so). Return (pool created?, deployment id, where it was moved from or None).
    """
    from prefect.schedules import Cron

    from flows.daily_digest import daily_digest

    try:
        exists, holder = registered_pool()
        moved_from = None
        if exists and holder != pool:
            moved_from = "`digest scheduler` (served, no work pool)" if holder is None else f"work pool {holder!r}"
            if not move:
                raise DigestError(
                    f"{DEPLOYMENT} is registered through {moved_from}; `digest deploy` would move it onto work "
                    f"pool {pool!r}, and only workers of that pool would run it. Pass --move to do so"
                    + (", then stop `digest scheduler`" if holder is None else "")
                )
        created = ensure_pool(pool)
        remote = daily_digest.from_source(source=str(project_root()), entrypoint="flows/daily_digest.py:daily_digest")
        assert not inspect.isawaitable(remote)  # from a synchronous caller it returns the flow
        deployment_id = remote.deploy(
            name="daily",
            work_pool_name=pool,
            schedules=[Cron(settings.schedule, timezone=timezone_of(settings))],
            parameters=deployment_parameters(settings, config),
            description="Digest the inbox every morning (work-pool deployment).",
            build=False,
            push=False,
            print_next_steps=False,
            ignore_warnings=True,
        )
    except DigestError:
        raise
    except Exception as exc:  # httpx/Prefect errors: no server to register with
        raise DigestError(
            f"cannot register {DEPLOYMENT} on work pool {pool!r} through {api_url(settings)}: {_reason(exc)}. "
            "Is `digest server` running (or PREFECT_API_URL set)?"
        ) from exc
    return created, deployment_id, moved_from
