"""State store: real SQLite files, the transaction that marks articles done, and the run lock."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.smtp import faulty_smtp, port_of

from digest import pipeline, recovery
from digest.errors import ConfigError, RunInProgress, StateError
from digest.models import ArticleRecord
from digest.settings import load_settings
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


# --- the outbox is the record: a lost, truncated or damaged store is rebuilt from it -----------


def _three_seeds(tmp_path: Path, seeds: Path) -> None:
    """Put three seed articles in tmp_path/inbox."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for f in sorted(seeds.glob("*.txt"))[:3]:
        shutil.copy(f, inbox / f.name)


def _settings(tmp_path: Path, port: int, **kw: Any) -> Any:
    return load_settings(None, inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state=tmp_path / "state",
                         smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", mail_to=["a@example.com"],
                         mail_from="digest@news.example",
                         smtp_timeout=10.0, **kw)


def _damage(db: Path, how: str) -> None:
    if how == "lost":
        shutil.rmtree(db.parent)
    elif how == "emptied":
        db.write_bytes(b"")
        for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            extra.unlink(missing_ok=True)
    elif how == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 2])
    elif how == "corrupt":
        data = bytearray(db.read_bytes())
        data[100:4096] = bytes(range(256)) * 15 + bytes(range(156))
        db.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["lost", "emptied", "truncated", "corrupt"])
def test_a_damaged_store_is_rebuilt_from_the_outbox_without_resending(tmp_path: Path, seeds: Path, how: str) -> None:
    _three_seeds(tmp_path, seeds)
    with faulty_smtp() as server:
        settings = _settings(tmp_path, port_of(server))
        first = pipeline.run(settings, report=lambda line: None)
        assert first.sent == 1
        with StateStore(settings.db_path) as store:  # fold the WAL in, as a closed store would be
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _damage(settings.db_path, how)
        lines: list[str] = []
        if how in ("truncated", "corrupt"):
            with pytest.raises(StateError, match="digest repair"):
                pipeline.run(settings, report=lines.append)
            recovery.repair(settings, lines.append)
            assert any("damaged state store aside" in line for line in lines), lines
        again = pipeline.run(settings, report=lines.append)
        assert again.path is None and again.sent == 0, lines  # nothing digested or sent again
        assert len(server.copies) == 1
    assert any("rebuilt" in line for line in lines), lines
    with StateStore(settings.db_path) as store:
        [row] = store.digests()
        assert row.delivery == "sent" and row.path == str(first.path)
        assert len(store.articles("included")) + len(store.articles("duplicate")) == 3
        assert store.stories()  # story memory came back too: a follow-up continues the story


def test_repair_on_a_healthy_store_changes_nothing(tmp_path: Path, seeds: Path) -> None:
    _three_seeds(tmp_path, seeds)
    settings = load_settings(None, inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state=tmp_path / "state")
    pipeline.run(settings, report=lambda line: None)
    lines: list[str] = []
    recovery.repair(settings, lines.append)
    assert len(lines) == 1 and lines[0].startswith(f"state store {settings.db_path}: 1 digest (1 outbox-only)"), lines
    assert not any("recovered" in line for line in lines)


def test_path_spellings_share_one_history(tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _three_seeds(tmp_path, seeds)
    monkeypatch.chdir(tmp_path)
    with faulty_smtp() as server:
        port = port_of(server)
        common = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", "mail_to": ["a@example.com"],
                  "mail_from": "digest@news.example"}
        spellings = [
            {"inbox": Path("inbox"), "outbox": Path("outbox"), "state": Path("state")},  # a manual run
            {"inbox": tmp_path / "inbox", "outbox": tmp_path / "outbox", "state": tmp_path / "state"},  # served
            {"inbox": Path("./inbox/"), "outbox": Path("state/../outbox"), "state": Path("./state")},
        ]
        results = [pipeline.run(load_settings(None, **s, **common), report=lambda line: None) for s in spellings]
        assert results[0].sent == 1 and all(r.path is None and r.sent == 0 for r in results[1:])
        assert len(server.copies) == 1
    assert len(list((tmp_path / "outbox").glob("*/digest*.html"))) == 1


def test_recovery_removes_only_files_digest_wrote(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    day = outbox / "2026-12-01"
    day.mkdir(parents=True)
    keep = [day / "notes.txt", day / ".upload-in-progress.html", day / "digest-notes.html", outbox / "inbox" / "digest.html"]
    for path in keep:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not digest's")
    torn = [day / "digest.html", day / "digest.txt", day / ".tmp-abc.part"]  # a torn write of digest's own
    for path in torn:
        path.write_text("partial")
    inbox_as_day = outbox / "2026-12-02"  # an inbox that would sit in the outbox with a date name is refused
    inbox_as_day.mkdir()
    (inbox_as_day / "digest.html").write_text("an article someone dropped in")
    with pytest.raises(ConfigError, match="inside outbox"):
        load_settings(None, inbox=inbox_as_day, outbox=outbox, state=tmp_path / "state")
    assert (inbox_as_day / "digest.html").exists()
    (tmp_path / "inbox").mkdir()
    settings = load_settings(None, inbox=tmp_path / "inbox", outbox=outbox, state=tmp_path / "state")
    with StateStore(settings.db_path) as store:
        recovery.recover(settings, store, lambda line: None)
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in torn)


def test_a_store_locked_by_another_writer_is_one_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "state" / "state.sqlite"
    StateStore(db).close()
    code = (f"import sqlite3, time\nc = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "locked"
        (tmp_path / "inbox").mkdir()
        settings = load_settings(None, inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state=tmp_path / "state",
                                 state_timeout=0.3)
        with pytest.raises(StateError, match="locked by another program") as info:
            pipeline.run(settings, report=lambda line: None)
        assert "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_an_unusable_state_folder_is_one_clear_error(tmp_path: Path) -> None:
    # /sys refuses new folders even to root, as a read-only mount would
    with pytest.raises(StateError, match="make it writable or pass --state"):
        with run_lock(Path("/sys/digest-state")):
            pass
