"""Stopping the servers and workers a test started in their own process group."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 30.0) -> None:
    """SIGTERM the process's group; past `grace` seconds (a busy machine, a slow shutdown), SIGKILL it.

    Teardown only: a test that checks how a process stops does so itself.
    """
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        proc.wait(timeout=grace)
