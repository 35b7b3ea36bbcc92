"""The Prefect API a `digest run` talks to: PREFECT_API_URL, the state folder's `digest server`, or a temporary one.

This module imports no Prefect: `digest run` starts the temporary server first, so that the server
starts up while the run imports Prefect and the stages, and points Prefect at it before it is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from types import TracebackType

from digest.errors import DigestError
from digest.settings import Settings

STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"  # Prefect's own name for the same wait
DATABASE_VARIABLES = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
SERVER_FILE = "server.json"  # in <state>/prefect while `digest server` runs: its API address and pid
TOO_SLOW = (
    "the temporary Prefect API server did not start within {seconds} s; nothing was read or marked done. "
    "On a busy machine raise " + STARTUP_TIMEOUT + ", or leave `digest server` running (with the same "
    "--state): runs then use it"
)


def prefect_folder(settings: Settings) -> Path:
    """The state folder's Prefect folder: the server's database and the running server's address."""
    return settings.state.resolve() / "prefect"


def database_url(settings: Settings) -> str:
    """The SQLite database in the state folder that `digest server` and `digest run` keep Prefect's history in."""
    return f"sqlite+aiosqlite:///{prefect_folder(settings) / 'server.db'}"


def announce(settings: Settings, url: str) -> Path:
    """Record that a long-lived server for this state folder answers at `url` (`digest server`); return the file."""
    path = prefect_folder(settings) / SERVER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
    return path


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when the Prefect API at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def running_server(settings: Settings) -> str | None:
    """The API address of the `digest server` running for this state folder, or None."""
    try:
        found = json.loads((prefect_folder(settings) / SERVER_FILE).read_text(encoding="utf-8"))
        url, pid = str(found["url"]), int(found["pid"])
        os.kill(pid, 0)  # a server killed without cleaning up left its file behind
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if healthy(url) else None


class RunApi:
    """The API of one run: start with `for_run`, call `ready()` before the first Prefect call, close after.

    A temporary server is this run's alone: stopped when the run ends, and on Linux killed by the
    kernel when the run's process dies (SIGKILL included), so it never outlives its run.
    """

    def __init__(
        self,
        url: str,
        server: subprocess.Popen[bytes] | None = None,
        database: Path | None = None,
        template: Path | None = None,
    ) -> None:
        self.url = url
        self.server = server  # a temporary server of this run's own, or None
        self._database = database
        self._template = template  # where to keep a copy of the freshly made database, or None

    def ready(self) -> str:
        """Wait until the API answers (a temporary server's start-up); return its address.

        Raises DigestError when a temporary server does not start within PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.
        """
        if self.server is None:
            return self.url
        seconds = os.environ.get(STARTUP_TIMEOUT, "120")
        try:
            deadline = time.monotonic() + float(seconds)
        except ValueError:
            deadline = time.monotonic() + 120
        while not healthy(self.url, timeout=1.0):
            if self.server.poll() is not None:
                raise DigestError(
                    f"the temporary Prefect API server stopped (exit status {self.server.returncode}) before it "
                    "answered; nothing was read or marked done. Its messages are above; run again, or leave "
                    "`digest server` running (with the same --state): runs then use it"
                )
            if time.monotonic() >= deadline:
                self.close()
                raise DigestError(TOO_SLOW.format(seconds=seconds))
            time.sleep(0.05)
        if self._template is not None and self._database is not None:
            keep_template(self._database, self._template)
            self._template = None
        return self.url

    def close(self) -> None:
        """Stop the temporary server, if any (SIGTERM, then SIGKILL after 10 s)."""
        if self.server is None or self.server.poll() is not None:
            return
        drain_prefect()
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()

    def __enter__(self) -> RunApi:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def drain_prefect() -> None:
    """Send the run's last log lines and events before its server stops (Prefect would at exit, too late)."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10, at_exit=False)
    EventsWorker.drain_all(timeout=10, at_exit=False)


def for_run(settings: Settings) -> RunApi:
    """Choose the run's API and point Prefect at it (PREFECT_API_URL), before Prefect is imported.

    PREFECT_API_URL when set; else the `digest server` of this state folder when it runs; else a
    temporary server started now in the background, its database in the state folder (so `digest
    server` shows these runs too) unless a PREFECT_*_DATABASE_CONNECTION_URL chooses another.
    """
    url = os.environ.get("PREFECT_API_URL") or running_server(settings)
    if url:
        os.environ["PREFECT_API_URL"] = url
        return RunApi(url)
    env = dict(os.environ, PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
    env.pop("PREFECT_API_URL", None)
    database, template = None, None
    if not any(env.get(k) for k in DATABASE_VARIABLES):
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url(settings)
        database = prefect_folder(settings) / "server.db"
        database.parent.mkdir(parents=True, exist_ok=True)
        # a fresh state folder starts from a database this Prefect version made before, not from
        # Prefect's hundred-odd migrations (most of a small first run's time); else one is kept
        template = None if database.exists() else template_path()
        if template is not None and copy_template(template, database):
            template = None

    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    os.environ["PREFECT_API_URL"] = url
    server = subprocess.Popen(server_command(port), env=env, stdout=subprocess.DEVNULL, preexec_fn=die_with(os.getpid()))
    return RunApi(url, server, database, template)


def server_command(port: int) -> list[str]:
    """The API server Prefect itself starts for a run without one (uvicorn, no UI), on 127.0.0.1:`port`."""
    return [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> Callable[[], None] | None:
    """A preexec function that has the kernel SIGKILL the child when `parent` dies (Linux), else None.

    The signal follows the thread that started the child: `digest run` starts it from its main thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork: the child only calls it

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


def template_path() -> Path | None:
    """Where a freshly migrated database of this Prefect version is kept for the next fresh state folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    try:
        return Path(cache) / "digest" / f"prefect-{version('prefect')}-server.db"
    except Exception:  # no package metadata: no template
        return None


def copy_template(template: Path, database: Path) -> bool:
    """Copy the template database into a fresh state folder; False when there is none yet."""
    if not template.is_file():
        return False
    part = database.with_name(f".{database.name}.{os.getpid()}")
    try:
        shutil.copyfile(template, part)
        os.replace(part, database)
    except OSError:
        part.unlink(missing_ok=True)
        return False
    return True


def keep_template(database: Path, template: Path) -> None:
    """Keep a consistent copy of a database the server has just created (nothing of any run in it yet)."""
    part = template.with_name(f".{template.name}.{os.getpid()}")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        source, copy = sqlite3.connect(f"file:{database}?mode=ro", uri=True), sqlite3.connect(part)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        os.replace(part, template)
    except (OSError, sqlite3.Error):
        part.unlink(missing_ok=True)  # only a lost speed-up
