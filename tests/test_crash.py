"""SIGKILL a real run at 20+ points across every stage; a rerun must make everything whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import crash

from digest import pipeline
from digest.settings import load_settings

pytestmark = pytest.mark.slow  # end to end: make test-quick skips it

TRIALS = 20


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, seeds: Path) -> Path:
    root = Path(__file__).resolve().parents[1]
    folder = tmp_path_factory.mktemp("crash") / "inbox"
    folder.mkdir()
    for f in sorted(seeds.glob("*.txt")) + sorted((root / "inbox").glob("*.*")):
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="module")
def plan(inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[int], set[str]]:
    work = tmp_path_factory.mktemp("profile")
    total, stages = crash.profile_run(inbox, work / "outbox", work / "state")
    expected = crash.digested_ids(work / "outbox")  # what an uninterrupted run digests
    assert len(expected) >= 5
    points = crash.kill_points(stages, total, TRIALS)
    assert len(points) >= TRIALS
    return points, expected


def test_kill_points_are_distinct(plan: tuple[list[int], set[str]]) -> None:
    points, _ = plan
    assert len(set(points)) == len(points) >= TRIALS


@pytest.mark.parametrize("trial", range(TRIALS))
def test_rerun_after_sigkill_loses_and_repeats_nothing(trial: int, plan: tuple[list[int], set[str]], inbox: Path, tmp_path: Path) -> None:
    points, expected = plan
    outbox, state = tmp_path / "outbox", tmp_path / "state"
    result = crash.kill_at(points[trial], inbox, outbox, state)
    assert result.killed, "the run finished before the kill point"
    pipeline.run(load_settings(None, inbox=inbox, outbox=outbox, state=state), report=lambda line: None)
    report = crash.audit(outbox, state, expected)
    assert report.ok, f"killed in {result.where}: {report}"
    # and a third run finds nothing new and writes nothing
    again = pipeline.run(load_settings(None, inbox=inbox, outbox=outbox, state=state), report=lambda line: None)
    assert again.path is None
