"""What every flow shares: the progress line, the run's log, and quoting large task arguments."""

from __future__ import annotations

import logging
import sys
from typing import Any, TypeVar, cast

from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler
from prefect.utilities.annotations import quote

from digest import runreport

# Tasks whose inputs are large or pure: no input hashing, no result persistence.
PLAIN: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
RUN_LOGGER = "digest.run"  # the stage lines in Prefect's run logs; `digest trigger` streams this logger
T = TypeVar("T")


def quoted(value: T) -> T:
    """Wrap a large task argument in Prefect's quote(), typed as the value the task receives."""
    return cast(T, quote(value))


def run_logger() -> logging.Logger:
    """Return the logger whose lines go to the current Prefect run's log (the dashboard, `prefect flow-run logs`).

    It has its own API handler, so Prefect's console logging can stay quiet without hiding these lines.
    """
    logger = logging.getLogger(RUN_LOGGER)
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        logger.addHandler(APILogHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False  # printed by say(); the console must not show them twice
    return logger


def to_run_log(line: str) -> None:
    """Send one line to the current Prefect run's log; outside a run, do nothing."""
    if FlowRunContext.get() or TaskRunContext.get():
        run_logger().info(runreport.log_line(line))  # the dashboard renders log lines as Markdown


class Console:
    """Standard output of a run: stage lines, and on a terminal each long stage's count updated in place."""

    def __init__(self) -> None:
        self.updating = False  # the terminal's last line is a count that the next line replaces

    def say(self, line: str) -> None:
        """Print one line (the CLI's and a served run's output) and send it to the run's log.

        A Progress line on a terminal overwrites the one before it; elsewhere it is a plain line, or
        nothing when it is a terminal's only.
        """
        out = sys.stdout
        terminal = out.isatty()
        plain = getattr(line, "plain", None)  # a digest.pipeline.Progress line (not imported: `digest fetch` needs none)
        if plain is not None and terminal:
            out.write("\r\033[K" + line.strip())
            out.flush()
            self.updating = True
            return
        if plain is False:
            return
        if self.updating:
            out.write("\r\033[K")
            self.updating = False
        print(line, file=out, flush=True)
        to_run_log(line)


CONSOLE = Console()


def say(line: str) -> None:
    """Print one line of a run and send it to the run's log (see Console.say)."""
    CONSOLE.say(line)
