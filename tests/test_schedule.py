"""The schedule for real: a Prefect server on a free loopback port, `digest scheduler`, a triggered run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from support.prefect_server import Server, wait_for
from support.procs import stop_group

pytestmark = pytest.mark.slow  # end to end: make test-quick skips it

TZ = "America/New_York"  # observes DST: the hour must stay 07:00 local across the change


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


def test_trigger_without_a_deployment_says_what_to_run(prefect_server: Server, tmp_path: Path) -> None:
    server = prefect_server.api
    existing = httpx.get(f"{server}/deployments/name/daily-digest/daily", timeout=10)
    if existing.status_code == 200:  # another test registered it on this shared server
        httpx.delete(f"{server}/deployments/{existing.json()['id']}", timeout=10).raise_for_status()
    env = digest_env(server, tmp_path / "state")
    trig = subprocess.run([sys.executable, "-m", "digest.cli", "trigger", "--timeout", "30"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert trig.returncode == 1
    assert trig.stderr.strip() == (
        f"digest: there is no deployment daily-digest/daily on the Prefect server at {server}; register it first: "
        "`digest scheduler` (runs the schedule in that process) or `digest deploy` (for work-pool workers)"
    )


def test_serve_registers_schedule_and_trigger_runs_it(prefect_server: Server, tmp_path: Path, seeds: Path) -> None:
    server = prefect_server.api
    assert (prefect_server.state / "prefect" / "server.db").exists()  # its database lives under the state folder
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for f in sorted(seeds.glob("*.txt")):
        shutil.copy(f, inbox / f.name)
    env = digest_env(server, tmp_path / "state")
    serve = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", "scheduler", "--inbox", str(inbox), "--outbox", str(tmp_path / "outbox")],
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
        # the run's stage lines stream as it goes, and the last line is the digest's path
        said = trig.stdout.splitlines()
        assert said[0].startswith("digest: started run ") and "ingested 5 new articles" in said
        assert "clustered them into 1 story" in said
        assert said[-2].endswith("finished: Completed")
        [digest_json] = list((tmp_path / "outbox").glob("*/digest.json"))
        assert said[-1] == f"digest: {digest_json.with_suffix('.html')}"
        data = json.loads(digest_json.read_text())
        assert len(data["stories"]) == 1 and len(data["stories"][0]["sources"]) == 5

        status = subprocess.run(
            [sys.executable, "-m", "digest.cli", "status"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert status.returncode == 0, status.stderr
        assert f"schedule: 0 7 * * * ({TZ})" in status.stdout
        assert "next run: 20" in status.stdout
        assert "run " in status.stdout and "ok (5 new, 1 stories" in status.stdout

        # `digest deploy` does not silently take the served deployment onto a work pool
        moved = subprocess.run(
            [sys.executable, "-m", "digest.cli", "deploy", "--pool", "elsewhere"], env=env, cwd=tmp_path,
            capture_output=True, text=True, timeout=300,
        )
        assert moved.returncode == 1
        assert "daily-digest/daily is registered through `digest scheduler` (served, no work pool)" in moved.stderr
        assert "Pass --move to do so, then stop `digest scheduler`" in moved.stderr
        after = httpx.get(f"{server}/deployments/name/daily-digest/daily", timeout=5).json()
        assert after["id"] == deployment["id"] and after["work_pool_name"] is None
        assert httpx.get(f"{server}/work_pools/elsewhere", timeout=5).status_code == 404
    finally:
        stop_group(serve)
