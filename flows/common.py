"""What every flow shares: the progress line, the run's log, and quoting large task arguments."""

from __future__ import annotations

import logging
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


def say(line: str) -> None:
    """Print one progress line (the CLI's and a served run's output) and send it to the run's log."""
    print(line, flush=True)
    to_run_log(line)
