"""What every `digest` command shares: Prefect defaults, settings from options, errors to exit codes, options."""

from __future__ import annotations

import errno
import os
import select
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from digest.errors import ConfigError, DigestError, InputError, Interrupted, RunInProgress, UndeliveredError
from digest.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

# Offline and quiet Prefect, set before anything imports it.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_SERVER_LEVEL": "CRITICAL",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "CRITICAL",
    # `digest run`'s temporary API server: Prefect's 20 s is too short for a busy machine
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}
EXIT_CONFIG, EXIT_INPUT, EXIT_BUSY, EXIT_ERROR = 2, 3, 4, 1
EXIT_UNDELIVERED = 5  # the digest was written but did not reach every recipient
EXIT_PIPE = 128 + 13  # the output pipe closed early: what a tool killed by SIGPIPE reports
EXIT_CODES: tuple[tuple[type[DigestError], int], ...] = (
    (UndeliveredError, EXIT_UNDELIVERED),
    (RunInProgress, EXIT_BUSY),
    (ConfigError, EXIT_CONFIG),
    (InputError, EXIT_INPUT),
    (DigestError, EXIT_ERROR),
)


def quiet_prefect() -> None:
    """Turn Prefect's telemetry off and its console logging down, unless the user set them."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def settings_from(
    config: Path | None = None,
    inbox: Path | None = None,
    outbox: Path | None = None,
    state: Path | None = None,
    **more: Any,
) -> Settings:
    """Map command-line options onto the one settings object."""
    return load_settings(config, inbox=inbox, outbox=outbox, state=state, **more)


def handle_errors(fn: F) -> F:
    """Turn digest's errors into a one-line message and an exit code, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DigestError as exc:
            # most specific first: the exit code tells scripts what kind of trouble it was
            code = next(c for kind, c in EXIT_CODES if isinstance(exc, kind))
            prefix = "configuration error: " if isinstance(exc, ConfigError) else ""
            click.echo(f"digest: {prefix}{exc}", err=True)
            sys.exit(code)
        except Interrupted as exc:
            click.echo(f"digest: {exc}; what was written and sent is recorded, the next run picks up the rest", err=True)
            sys.exit(128 + exc.signum)
        except OSError as exc:  # a path the user gave: permissions, a full disk, a folder that vanished
            if exc.errno == errno.EPIPE and output_closed():
                exit_quietly()  # `digest status | head`: the reader has what it wanted
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"digest: {exc.strerror or exc}{where}; check the path and its permissions", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("digest: interrupted; nothing was marked done, the next run picks up the same articles", err=True)
            sys.exit(130)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("pydantic", "pydantic_core"):
                raise
            # Prefect validates its PREFECT_* variables when it is first imported
            first = str(exc).splitlines()
            detail = "; ".join(line.strip() for line in first[:3])
            click.echo(f"digest: configuration error: a Prefect setting is invalid ({detail}); "
                       "fix or unset that PREFECT_* variable", err=True)
            sys.exit(EXIT_CONFIG)

    return wrapper  # type: ignore[return-value]


def output_closed() -> bool:
    """Tell whether standard output's reader has gone away (a pipe closed by `head`, say)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        return False
    try:  # nothing left to flush: ask the pipe itself
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def exit_quietly() -> NoReturn:
    """Exit without a message after the output pipe closed, as Unix tools do (status 128 + SIGPIPE).

    Standard output is pointed at /dev/null first, so the interpreter's last flush does not complain.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
    sys.exit(EXIT_PIPE)


config_option: Callable[[F], F] = click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="Settings file (default ./digest.toml)."
)
folder_options = [
    click.option("--inbox", type=click.Path(path_type=Path, file_okay=False), help="Folder of new articles (default ./inbox)."),
    click.option("--outbox", type=click.Path(path_type=Path, file_okay=False), help="Where digests are written (default ./outbox)."),
    click.option("--state", type=click.Path(path_type=Path, file_okay=False), help="State folder (default ./.digest)."),
]


def with_folders(fn: F) -> F:
    for option in reversed([config_option, *folder_options]):
        fn = option(fn)
    return fn


def use_server(settings: Settings) -> str:
    """Point Prefect at PREFECT_API_URL or the embedded server; return the URL."""
    from flows import deploy

    url = deploy.api_url(settings)
    os.environ["PREFECT_API_URL"] = url
    return url
