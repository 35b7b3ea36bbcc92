"""State store: real SQLite files, the transaction that marks articles done, and the run lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from digest.errors import RunInProgress
from digest.models import ArticleRecord
from digest.state import StateStore, StoryRow, run_lock


def test_pending_articles_are_not_known_until_a_digest_commits(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.sqlite") as store:
        store.add_pending([("a1", "fp1", "inbox/a.txt"), ("a2", "fp2", "inbox/b.txt")])
        assert store.known_fingerprints() == set()
        records = [
            (ArticleRecord("a1", "inbox/a.txt", "included", kept=3), "fp1"),
            (ArticleRecord("a2", "inbox/b.txt", "duplicate", "duplicate of a1", "a1"), "fp2"),
        ]
        digest_id = store.commit_digest(
            day="2026-11-24", path=tmp_path / "d.html", message_id="<x@digest>", stories=1,
            records=records, story_rows=[StoryRow("s1", "{}", ["A sentence."])], delivery="outbox-only",
        )
        assert store.known_fingerprints() == {"fp1", "fp2"}
        assert store.article("a2")["duplicate_of"] == "a1"
        assert store.article("a1")["digest_id"] == digest_id
        assert store.stories()[0].shown == ["A sentence."]


def test_failed_commit_leaves_articles_pending(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.sqlite") as store:
        store.add_pending([("a1", "fp1", "inbox/a.txt")])
        bad = [(ArticleRecord("a1", "inbox/a.txt", "nonsense-status"), "fp1")]  # violates the CHECK
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
            store.commit_digest(day="d", path=tmp_path / "d.html", message_id="m", stories=0,
                                records=bad, story_rows=[], delivery="unsent")  # type: ignore[arg-type]
        assert store.article("a1")["status"] == "pending"
        assert store.digests() == []


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with StateStore(path) as store:
        store.record_failures([(ArticleRecord("b", "inbox/b.png", "failed", "binary file"), "fpb")])
    with StateStore(path) as store:
        assert store.known_fingerprints() == {"fpb"}
        assert store.articles("failed")[0]["reason"] == "binary file"


def test_second_holder_of_the_lock_is_refused(tmp_path: Path) -> None:
    with run_lock(tmp_path):
        with pytest.raises(RunInProgress, match="another run is in progress"):
            with run_lock(tmp_path):
                pass


def test_lock_is_released_when_its_process_dies(tmp_path: Path) -> None:
    code = f"from digest.state import run_lock; import pathlib, time\nwith run_lock(pathlib.Path({str(tmp_path)!r})):\n    print('locked', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout and proc.stdout.readline().strip() == "locked"
    with pytest.raises(RunInProgress):
        with run_lock(tmp_path):
            pass
    proc.kill()
    proc.wait()
    with run_lock(tmp_path):  # the OS released the dead process's lock
        pass
