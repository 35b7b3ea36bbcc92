"""Shared fixtures: the real corpus beside the repository, and offline Prefect settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.prefect_server import Server, digest_server

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DIGEST_CORPUS", ROOT.parent / "shared" / "corpus"))
SEEDS = CORPUS / "seeds"
BENCH = CORPUS / "extraction-benchmark"

# Offline Prefect: no telemetry, quiet ephemeral server shutdown.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "CRITICAL")
os.environ.setdefault("DO_NOT_TRACK", "1")
# A loaded CI machine can take longer than Prefect's 20 s to start the temporary API server.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Tests write inbox files and run at once: no settle time unless a test sets one.
os.environ.setdefault("DIGEST_SETTLE_SECONDS", "0")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        raise RuntimeError(f"corpus not found at {CORPUS}: clone the repo beside shared/ or set DIGEST_CORPUS")
    return CORPUS


@pytest.fixture(scope="session")
def seeds(corpus: Path) -> Path:
    return corpus / "seeds"


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real Prefect server for the session, started by `digest server` (dashboard on), state in a temp folder."""
    with digest_server(tmp_path_factory.mktemp("server-state")) as server:
        yield server
