"""The Prefect API of `digest run`: the state folder's `digest server` when it runs, else a temporary server
that never outlives the run, not even a run killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support.prefect_server import Server, wait_for
from support.procs import stop_group
from test_cli import digest

WORDS = (
    "council harbour ferry budget storm bridge mayor river school vote market farmers rain court plan "
    "museum train strike doctors water power grid festival library road tunnel port union talks"
).split()


def write_inbox(folder: Path, articles: int, seed: int = 7) -> None:
    """Write `articles` distinct made-up articles of a few paragraphs each."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(articles):
        title = " ".join(rng.sample(WORDS, 5)).capitalize()
        paragraphs = [
            " ".join(f"The {rng.choice(WORDS)} {rng.choice(WORDS)} met the {rng.choice(WORDS)} on day {rng.randint(1, 90)}."
                     for _ in range(rng.randint(3, 6)))
            for _ in range(rng.randint(3, 6))
        ]
        (folder / f"article-{i:04}.txt").write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(entry.name), cmdline))
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its new parent to reap it does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_sigkilled_run_leaves_no_server_behind(tmp_path: Path) -> None:
    write_inbox(tmp_path / "inbox", 400)  # long enough to be killed mid-run
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") and k != "PREFECT_API_URL"}
    run = subprocess.Popen([sys.executable, "-m", "digest.cli", "run"], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = 0
    try:
        [(server, command)] = wait_for(lambda: [c for c in children_of(run.pid) if "uvicorn" in c[1]], 120,
                                       "the temporary Prefect server")
        port = int(command.split("--port")[1].split()[0])
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200, 180,
                 "the temporary server to answer")
        os.kill(run.pid, signal.SIGKILL)
        assert run.wait(timeout=30) == -signal.SIGKILL  # killed mid-run, not finished
        deadline = time.monotonic() + 30
        while (alive(server) or listening(port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(server), "the temporary Prefect server outlived its run"
        assert not listening(port)
    finally:
        stop_group(run)
        if server and alive(server):
            os.kill(server, signal.SIGKILL)


def flow_runs(api: str) -> int:
    return int(httpx.post(f"{api}/flow_runs/count", json={}, timeout=10).json())


def test_run_uses_the_digest_server_of_its_state_folder(prefect_server: Server, tmp_path: Path) -> None:
    write_inbox(tmp_path / "inbox", 3)
    before = flow_runs(prefect_server.api)
    # a temporary server would keep this run in another database, out of the server's sight
    other = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}"
    out = digest("run", "--state", str(prefect_server.state), cwd=tmp_path, timeout=400,
                 env={"PREFECT_API_URL": "", "PREFECT_SERVER_DATABASE_CONNECTION_URL": other})
    assert out.returncode == 0, out.stdout + out.stderr
    assert flow_runs(prefect_server.api) == before + 1
    assert not (tmp_path / "elsewhere.db").exists()
