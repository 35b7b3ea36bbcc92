"""The schedule for real: a Prefect server on a free loopback port, `digest serve`, a triggered run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

TZ = "America/New_York"  # observes DST: the hour must stay 07:00 local across the change


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def digest_env(api: str, state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_SERVER_LEVEL="CRITICAL",
        DIGEST_TIMEZONE=TZ,
        DIGEST_SCHEDULE="0 7 * * *",
        DIGEST_STATE=str(state),
    )
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server started the way `digest server` starts it."""
    state = tmp_path_factory.mktemp("server-state")
    port = free_port()
    env = dict(os.environ, DIGEST_SERVER_PORT=str(port))
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", "server", "--state", str(state)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_for(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, 120, "the Prefect server")
        assert (state / "prefect" / "server.db").exists()  # its database lives under the state folder
        yield api
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_serve_registers_schedule_and_trigger_runs_it(server: str, tmp_path: Path, seeds: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for f in sorted(seeds.glob("*.txt")):
        shutil.copy(f, inbox / f.name)
    env = digest_env(server, tmp_path / "state")
    serve = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", "serve", "--inbox", str(inbox), "--outbox", str(tmp_path / "outbox")],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deployment = wait_for(
            lambda: (r := httpx.get(f"{server}/deployments/name/daily-digest/daily", timeout=5)).status_code == 200 and r.json(),
            120, "the deployment daily-digest/daily",
        )
        [schedule] = deployment["schedules"]
        assert schedule["schedule"]["cron"] == "0 7 * * *"
        assert schedule["schedule"]["timezone"] == TZ
        assert deployment["parameters"]["inbox"] == str(inbox.resolve())

        # the scheduler plans runs at 07:00 New York time, whatever the UTC offset of the day
        runs = wait_for(
            lambda: httpx.post(f"{server}/flow_runs/filter", timeout=5, json={
                "deployments": {"id": {"any_": [deployment["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                "sort": "EXPECTED_START_TIME_ASC", "limit": 5}).json(),
            120, "scheduled runs",
        )
        from datetime import datetime

        for run in runs:
            local = datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00")).astimezone(ZoneInfo(TZ))
            assert (local.hour, local.minute) == (7, 0)

        # trigger a run now through the API, as `digest trigger` does, and find the digest
        trig = subprocess.run(
            [sys.executable, "-m", "digest.cli", "trigger", "--timeout", "300"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400,
        )
        assert trig.returncode == 0, trig.stdout + trig.stderr
        assert "Completed" in trig.stdout
        [digest_json] = list((tmp_path / "outbox").glob("*/digest.json"))
        data = json.loads(digest_json.read_text())
        assert len(data["stories"]) == 1 and len(data["stories"][0]["sources"]) == 5

        status = subprocess.run(
            [sys.executable, "-m", "digest.cli", "status"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert status.returncode == 0, status.stderr
        assert f"schedule: 0 7 * * * ({TZ})" in status.stdout
        assert "next run: 20" in status.stdout
        assert "run " in status.stdout and "ok (5 new, 1 stories" in status.stdout
    finally:
        os.killpg(serve.pid, 15)
        serve.wait(timeout=30)
