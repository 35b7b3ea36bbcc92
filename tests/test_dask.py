"""Scale-out for real: the flow on a local Dask cluster, on an external scheduler with two worker
processes (one killed mid-run), the work-pool deployment picked up by a `prefect worker`, and the
quick answer of a run with nothing to do. One Prefect server on 127.0.0.1 serves the module."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.net import free_port
from support.prefect_server import wait_for
from support.procs import stop_group

pytestmark = pytest.mark.slow  # end to end: make test-quick skips it

PAGES = 14  # extraction-benchmark pages beside the five seeds: 19 articles, 5 batches of 4
DIGEST = [sys.executable, "-m", "digest.cli"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server started the way `digest server` starts it."""
    state = tmp_path_factory.mktemp("dask-server")
    port = free_port()
    env = dict(os.environ, DIGEST_SERVER_PORT=str(port))
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [*DIGEST, "server", "--state", str(state)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_for(lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200, 180, "the Prefect server")
        yield url
    finally:
        stop_group(proc)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("dask-inbox") / "inbox"
    folder.mkdir()
    for f in sorted((corpus / "seeds").glob("*.txt")):
        shutil.copy(f, folder / f.name)
    for f in sorted((corpus / "extraction-benchmark" / "text").glob("*.txt"))[:PAGES]:
        shutil.copy(f, folder / f.name)
    return folder


def env_for(api: str, **digest: str) -> dict[str, str]:
    env = dict(os.environ, PREFECT_API_URL=api, DIGEST_BATCH_SIZE="4", PREFECT_WORKER_QUERY_SECONDS="1")
    env.update({f"DIGEST_{k.upper()}": v for k, v in digest.items()})
    return env


def digest_run(inbox: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [*DIGEST, "run", "--inbox", str(inbox), "--outbox", str(out / "outbox"), "--state", str(out / "state")]
    return subprocess.run(cmd, env=env, cwd=out, capture_output=True, text=True, timeout=400)


def result_of(out: Path) -> dict[str, object]:
    """The digest's stories (ids, headlines, summaries, sources) and every article's outcome."""
    [path] = list((out / "outbox").glob("*/digest.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"stories": data["stories"], "articles": data["articles"]}


@pytest.fixture(scope="module")
def one_worker_run(api: str, inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a run with workers = 1 (its outbox and state), made once for the module."""
    out = tmp_path_factory.mktemp("one-worker")
    done = digest_run(inbox, out, env_for(api, workers="1"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Dask" not in done.stdout  # one worker: everything in the flow's process
    return out


@pytest.fixture(scope="module")
def one_worker(one_worker_run: Path) -> dict[str, object]:
    result = result_of(one_worker_run)
    assert len(result["articles"]) == PAGES + 5 and len(result["stories"]) > 5  # type: ignore[arg-type]
    return result


def test_local_cluster_gives_the_same_digest_as_one_worker(
    api: str, inbox: Path, tmp_path: Path, one_worker: dict[str, object]
) -> None:
    done = digest_run(inbox, tmp_path, env_for(api, workers="2"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "computing on Dask workers: a local cluster of 2 processes" in done.stdout
    assert result_of(tmp_path) == one_worker


def test_external_cluster_survives_a_killed_worker(
    api: str, inbox: Path, tmp_path: Path, one_worker: dict[str, object]
) -> None:
    """`dask scheduler` + two `dask worker` processes; one is killed while it holds a batch."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = env_for(api)
    log = (tmp_path / "cluster.log").open("wb")  # read it when this test fails
    procs = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", ":0"],
        env=env, cwd=tmp_path, stdout=log, stderr=log, start_new_session=True,
    )]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                 "--dashboard-address", ":0"],
                env=env, cwd=tmp_path, stdout=log, stderr=log, start_new_session=True,
            ))
        with Client(address, timeout=120) as client:
            client.wait_for_workers(2, timeout=180)
            pids = client.run(os.getpid)  # worker address -> process id
            cmd = [*DIGEST, "run", "--inbox", str(inbox), "--outbox", str(tmp_path / "outbox"),
                   "--state", str(tmp_path / "state")]
            run = subprocess.Popen(cmd, env=env_for(api, dask_address=address), cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            killed = None
            deadline = time.monotonic() + 300
            while killed is None and run.poll() is None and time.monotonic() < deadline:
                # a worker busy with a batch, not with importing the stages (warm_up)
                busy = [w for w, keys in client.processing().items() if any("warm_up" not in str(k) for k in keys)]
                if busy:
                    killed = busy[0]
                    os.kill(pids[killed], signal.SIGKILL)
                time.sleep(0.1)
            output, _ = run.communicate(timeout=400)
        assert run.returncode == 0, output
        assert killed is not None, "no batch was ever seen running on a worker"
        assert f"computing on Dask workers: {address}" in output
        assert "digest: " in output, output
        assert result_of(tmp_path) == one_worker  # the lost batch ran again elsewhere: nothing missing
    finally:
        for proc in reversed(procs):
            stop_group(proc)


def test_work_pool_deployment_runs_on_a_prefect_worker(api: str, inbox: Path, tmp_path: Path) -> None:
    env = env_for(api)
    pool = "digest-test"
    folders = ["--inbox", str(inbox), "--outbox", str(tmp_path / "outbox"), "--state", str(tmp_path / "state")]
    done = subprocess.run([*DIGEST, "deploy", "--pool", pool, *folders], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"work pool {pool!r} created" in done.stdout
    pool_info = httpx.get(f"{api}/work_pools/{pool}", timeout=10).json()
    assert pool_info["type"] == "process"
    deployment = httpx.get(f"{api}/deployments/name/daily-digest/daily", timeout=10).json()
    assert deployment["work_pool_name"] == pool
    assert deployment["schedules"][0]["schedule"]["cron"] == "0 7 * * *"

    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        trig = subprocess.run([*DIGEST, "trigger", "--timeout", "300"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=400)
        assert trig.returncode == 0, trig.stdout + trig.stderr
        assert "Completed" in trig.stdout
    finally:
        stop_group(worker)
    [digest_json] = list((tmp_path / "outbox").glob("*/digest.json"))
    articles = json.loads(digest_json.read_text(encoding="utf-8"))["articles"]
    assert len(articles) == PAGES + 5 and {a["status"] for a in articles} <= {"included", "duplicate"}


def test_a_run_with_nothing_new_answers_without_a_flow_run(
    api: str, inbox: Path, one_worker_run: Path, one_worker: dict[str, object]
) -> None:
    """Again on the one-worker run's folders: every file is already digested."""
    env = env_for(api, workers="1")

    def flow_runs() -> int:
        return len(httpx.post(f"{api}/flow_runs/filter", json={"limit": 200}, timeout=10).json())

    before = flow_runs()
    again = digest_run(inbox, one_worker_run, env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"ingested 0 new articles ({PAGES + 5} already digested)",
        "nothing new in the inbox; no digest written",
    ]
    assert flow_runs() == before  # answered before Prefect started
    assert result_of(one_worker_run) == one_worker  # and the digest already written is left as it was
    status = subprocess.run(
        [*DIGEST, "status", "--state", str(one_worker_run / "state"), "--inbox", str(inbox)],
        env=env, cwd=one_worker_run, capture_output=True, text=True, timeout=120,
    )
    assert "nothing-new (0 new, 0 stories, 0 failed)" in status.stdout  # the run is logged all the same
