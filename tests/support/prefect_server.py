"""A real Prefect server started the way `digest server` starts it, on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeVar

import httpx

from support.net import free_port
from support.procs import stop_group

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float, what: str) -> T:
    """Call `check` until it returns something true (HTTP and socket errors count as not yet); return it."""
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


class Server(NamedTuple):
    api: str  # http://127.0.0.1:PORT/api
    state: Path  # the state folder `digest server` was given

    @property
    def root(self) -> str:
        return self.api.removesuffix("/api")


@contextmanager
def digest_server(state: Path, *args: str) -> Iterator[Server]:
    """Run `digest server --state STATE ARGS` on a free port until the block ends."""
    port = free_port()
    env = dict(os.environ, DIGEST_SERVER_PORT=str(port))
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", "server", "--state", str(state), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_for(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, 180, "the Prefect server")
        yield Server(api, state)
    finally:
        stop_group(proc)
