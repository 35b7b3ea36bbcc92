"""Nothing blocked, skipped, lost or sent twice (issue 19, part B): inbox names that are not UTF-8, files
digest saved itself, failures a setting can change, every subfolder, a digest deleted while it waits
for SMTP, two runs from two working folders, addresses that break headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.bad_inputs import good_article
from support.smtp import Behaviour, faulty_smtp, port_of

from digest import inbox as inbox_scan
from digest import pipeline
from digest.delivery import ledger, smtp
from digest.errors import ConfigError, RunInProgress, UndeliveredError
from digest.settings import Settings, load_settings
from digest.sources.store import SourceStore
from digest.state import StateStore, run_lock

READERS = ["a@example.com", "b@example.com"]
TOPICS = ("the river tram", "the new stadium", "the school meals plan", "the harbour pier")


def write_articles(folder: Path, n: int = 3, names: list[bytes] | None = None) -> list[Path]:
    """Write n distinct articles (under the given raw file names) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        name = names[i] if names else f"a{i}.txt".encode()
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
        path.write_text(good_article(f"Council decides on {TOPICS[i]}", TOPICS[i]), encoding="utf-8")
        out.append(path)
    return out


def settings_in(tmp: Path, **kw: Any) -> Settings:
    values: dict[str, Any] = {"inbox": tmp / "inbox", "outbox": tmp / "outbox", "state": tmp / "state",
                              "settle_seconds": 0}
    values.update(kw)
    return load_settings(None, **values)


def run(settings: Settings) -> tuple[pipeline.RunResult, list[str]]:
    lines: list[str] = []
    return pipeline.run(settings, report=lines.append), lines


def statuses(settings: Settings) -> dict[str, str]:
    with StateStore(settings.db_path) as store:
        return {a["path"]: a["status"] for a in store.articles()}


# --- a day blocked: names that are not UTF-8 -------------------------------------------------------


@pytest.mark.parametrize("name", [b"caf\xe9.txt", b"\xff\xfe news.txt", b"Gr\xfc\xdfe aus M\xfcnchen.txt"])
def test_a_name_that_is_not_utf8_is_digested_and_shown_safely(tmp_path: Path, name: bytes) -> None:
    settings = settings_in(tmp_path)
    write_articles(tmp_path / "inbox", 2)
    odd = write_articles(tmp_path / "inbox" / "old-ftp", 3, [b"x.txt", b"y.txt", name])[2]
    odd.write_text(good_article("Harbour pier opens to ferries", "the harbour pier"), encoding="utf-8")
    result, lines = run(settings)
    assert result.path is not None and result.new == 5
    for line in lines:
        line.encode("utf-8")  # every line printable (no lone surrogate)
    shown = os.fsencode(name).decode("utf-8", "backslashreplace")
    assert statuses(settings)[str(tmp_path / "inbox" / "old-ftp" / shown)] == "included"
    record = ledger.read(result.path)
    assert record is not None and any(a["path"].endswith(shown) for a in record.articles)
    data = json.loads(result.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert any(a["path"].endswith(shown) for a in data["articles"])
    again, _ = run(settings)  # the same spelling every run: known, not digested twice
    assert again.path is None


@pytest.mark.parametrize(("name", "spelt"), [(b"two\nlines.txt", "two\\nlines.txt"),
                                            (b"\x1b[2Jwiped.txt", "\\x1b[2Jwiped.txt")])
def test_a_name_with_control_characters_cannot_break_a_line_or_drive_a_terminal(tmp_path: Path, name: bytes,
                                                                                spelt: str) -> None:
    settings = settings_in(tmp_path)
    write_articles(tmp_path / "inbox", 3, [b"a.txt", b"b.txt", name])
    result, lines = run(settings)
    assert result.path is not None and result.new == 3
    assert not any(c in line for line in lines for c in "\n\x1b")
    assert statuses(settings)[str(tmp_path / "inbox" / spelt)] in ("included", "duplicate")


# --- a day behind: files digest saved itself -------------------------------------------------------


def test_files_digest_saved_itself_do_not_wait_for_the_settle_time(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, settle_seconds=300)
    saved = write_articles(tmp_path / "inbox" / "Feeds", 2)
    dropped = write_articles(tmp_path / "inbox" / "by-hand", 3)[2]  # a copy by someone else: may be under way
    (tmp_path / "inbox" / "by-hand" / "a0.txt").unlink()
    (tmp_path / "inbox" / "by-hand" / "a1.txt").unlink()
    with SourceStore.in_state(settings.state) as sources:
        sources.add_message("maildir:/mail", "k0", saved[0])
        sources.add_message("maildir:/mail", "k1", saved[1])
    result, lines = run(settings)
    assert result.path is not None and result.new == 2
    assert any(line.startswith(f"  waiting: {dropped}") for line in lines)
    now = statuses(settings)
    assert {now[str(p)] for p in saved} <= {"included", "duplicate"} and str(dropped) not in now


# --- lost without a word: failures a setting can change ---------------------------------------------


def _tags(folder: Path) -> Path:
    body = "".join(f"<p>The harbour authority said ship {i} would dock at the new pier in spring.</p>" for i in range(40))
    path = folder / "pier.html"
    path.write_text(f"<html><head><title>Harbour pier opens</title></head><body><article><h1>Harbour pier opens"
                    f"</h1>{body}</article></body></html>", encoding="utf-8")
    return path


def _lines(folder: Path) -> Path:
    path = folder / "long.txt"
    path.write_text("Title: Tram timetable\n\n" + "\n".join(
        f"The tram number {i} leaves the depot at dawn and reaches the harbour before the ferry." for i in range(80)))
    return path


def _header(folder: Path) -> Path:
    path = folder / "letter.eml"
    path.write_text("From: desk@news.example\nSubject: Stadium vote\nX-Long: " + "a" * 3000 + "\n\n"
                    + good_article("Stadium vote", "the new stadium").split("\n\n", 1)[1])
    return path


@pytest.mark.parametrize(("setting", "low", "make"), [
    ("max_html_tags", 20, _tags), ("max_file_bytes", 2500, _tags), ("max_lines", 30, _lines),
    ("max_header_bytes", 1000, _header),
])
def test_a_file_over_a_budget_is_tried_again_when_the_budget_is_raised(tmp_path: Path, setting: str, low: int,
                                                                       make: Any) -> None:
    write_articles(tmp_path / "inbox", 2)
    path = make(tmp_path / "inbox")
    _, lines = run(settings_in(tmp_path, **{setting: low}))
    assert any(line.startswith(f"  failed: {path}") and setting in line for line in lines)
    assert statuses(settings_in(tmp_path))[str(path)] == "failed"
    same, _ = run(settings_in(tmp_path, **{setting: low}))
    assert same.path is None and same.failed == 0  # nothing changed: not tried again
    raised, lines = run(settings_in(tmp_path, **{setting: low * 1000}))
    assert raised.path is not None and raised.new == 1, lines
    with StateStore(settings_in(tmp_path).db_path) as store:
        assert [a["status"] for a in store.articles() if a["path"] == str(path)] == ["included"]
        assert store.articles("failed") == []  # the old failure is gone: status shows what is failed now


# --- every file under the inbox is digested or reported ------------------------------------------


@pytest.mark.parametrize("folder", ["failed", "processed", "Failed"])
def test_files_under_failed_or_processed_folders_are_digested(tmp_path: Path, folder: str) -> None:
    settings = settings_in(tmp_path)
    write_articles(tmp_path / "inbox", 1)
    inside = write_articles(tmp_path / "inbox" / folder, 3)
    for p in inside:
        p.write_text(good_article(f"News from {p.stem}", TOPICS[3]))
    result, _ = run(settings)
    assert result.path is not None and result.new == 4
    assert {statuses(settings)[str(p)] for p in inside} <= {"included", "duplicate"}


def test_what_is_not_read_is_named(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    write_articles(tmp_path / "inbox", 1)
    write_articles(tmp_path / "inbox" / ".cache", 1)
    (tmp_path / "inbox" / "photo.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "inbox" / "linked").symlink_to(tmp_path / "elsewhere")
    _, lines = run(settings)
    assert any(".cache" in line and "hidden folder" in line for line in lines)
    assert any("linked" in line and "link to a folder" in line for line in lines)
    assert any("photo.jpg" in line and "ignored 1 file" in line for line in lines)


# --- a digest waiting for SMTP whose outbox is deleted ------------------------------------------


def mail_settings(tmp: Path, port: int, **kw: Any) -> Settings:
    return settings_in(tmp, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", mail_to=READERS,
                       mail_from="Digest <digest@news.example>", smtp_timeout=10.0, smtp_data_timeout=10.0,
                       smtp_session_timeout=60.0, **kw)


def test_a_deleted_digest_nobody_received_is_digested_again(tmp_path: Path) -> None:
    import shutil

    write_articles(tmp_path / "inbox", 3)
    with faulty_smtp(Behaviour(rcpt_reply=lambda address: "451 4.3.0 try later")) as busy:
        with pytest.raises(UndeliveredError):
            run(mail_settings(tmp_path, port_of(busy)))
    shutil.rmtree(tmp_path / "outbox")
    with faulty_smtp() as server:
        result, lines = run(mail_settings(tmp_path, port_of(server)))
        copies = list(server.copies)
    assert result.path is not None and result.new == 3 and result.sent == 1
    assert any(line.startswith("  lost: ") and "digested again" in line for line in lines)
    assert sorted(r for c in copies for r in c.rcpt) == READERS
    assert not any("stays in the outbox" in line for line in lines)


def test_a_deleted_digest_some_received_is_reported_not_resent(tmp_path: Path) -> None:
    import shutil

    write_articles(tmp_path / "inbox", 3)
    half = Behaviour(rcpt_reply=lambda address: "451 4.3.0 try later" if address.startswith("b@") else None)
    with faulty_smtp(half) as server:
        with pytest.raises(UndeliveredError):
            run(mail_settings(tmp_path, port_of(server)))
    shutil.rmtree(tmp_path / "outbox")
    with faulty_smtp() as server:
        result, lines = run(mail_settings(tmp_path, port_of(server)))
        copies = list(server.copies)
    assert copies == []  # a@ had it: never sent twice
    assert result.path is None
    said = [line for line in lines if "gone from the outbox" in line]
    assert said and "not digested again" in said[0] and "stays in the outbox" not in said[0]


# --- sent twice: two runs from two working folders ---------------------------------------------


HOLD = """
import sys, time
from pathlib import Path
from digest.state import run_lock
with run_lock(Path(sys.argv[1]), folders=[(sys.argv[2], Path(sys.argv[3]))]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("folder", ["inbox", "outbox"])
def test_a_run_with_another_state_folder_cannot_take_the_same_folder(tmp_path: Path, folder: str) -> None:
    write_articles(tmp_path / "inbox", 3)
    (tmp_path / "outbox").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "other-state"), folder,
                               str(tmp_path / folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInProgress, match=f"another run is using the {folder}"):
            run(settings_in(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    result, _ = run(settings_in(tmp_path))  # the lock died with its holder
    assert result.path is not None


RUN = """
import sys
from pathlib import Path
from digest import pipeline
from digest.errors import RunInProgress
from digest.settings import load_settings
s = load_settings(None, inbox=Path(sys.argv[1]), outbox=Path(sys.argv[2]), state=Path(sys.argv[3]), settle_seconds=0)
try:
    pipeline.run(s, report=lambda line: None)
except RunInProgress:
    print("in progress")
"""


def test_two_runs_at_once_from_two_working_folders_write_one_digest(tmp_path: Path) -> None:
    write_articles(tmp_path / "inbox", 4)
    procs = [subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path / "inbox"), str(tmp_path / "outbox"),
                               str(tmp_path / f"work{i}" / ".digest")]) for i in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0
    digests = sorted((tmp_path / "outbox").glob("*/digest*.json"))
    assert len(digests) == 1
    ids = [a["id"] for a in json.loads(digests[0].read_text())["articles"]]
    assert len(ids) == 4


def test_one_folder_given_twice_is_locked_once(tmp_path: Path) -> None:
    folder = tmp_path / "both"
    folder.mkdir()
    with run_lock(tmp_path / "state", folders=[("inbox", folder), ("outbox", folder)]):
        pass


def test_scan_conditions_name_the_settings() -> None:
    base = load_settings(None)
    assert inbox_scan.changed_conditions(inbox_scan.conditions_of(base), base) == []
    raised = load_settings(None, max_html_tags=base.max_html_tags * 2)
    assert [c.split()[0] for c in inbox_scan.changed_conditions(inbox_scan.conditions_of(base), raised)] == [
        "max_html_tags"]


# --- defence in depth: addresses that break headers, refused at send time ---------------------------


@pytest.mark.parametrize("address", [
    "a@example.com\r\nBcc: spy@evil.example", "a@example.com\nBcc: spy@evil.example", "a@example.com\rX: 1",
    "a@example.com\u2028Bcc: spy@evil.example", "a@example.com\x00", "a@example.com, spy@evil.example",
    "<a@example.com>", "a@example.com\x85Bcc: x@evil.example", "not-an-address",
])
def test_delivery_refuses_an_address_that_breaks_headers(address: str, tmp_path: Path) -> None:
    with faulty_smtp() as server:
        settings = mail_settings(tmp_path, port_of(server))
        message = b"From: digest@news.example\r\nSubject: x\r\nMessage-ID: <1@news.example>\r\n\r\nbody\r\n"
        with pytest.raises(ConfigError, match="refused"):
            smtp.send(message, settings, recipients=["b@example.com", address])
        assert server.copies == []


def test_delivery_refuses_a_from_that_breaks_headers(tmp_path: Path) -> None:
    with faulty_smtp() as server:
        values = {**mail_settings(tmp_path, port_of(server)).__dict__, "mail_from": "d@news.example\r\nBcc: x@evil.example"}
        settings = Settings.model_construct(**values)
        with pytest.raises(ConfigError, match="mail_from"):
            smtp.send(b"Subject: x\r\n\r\nbody\r\n", settings, recipients=["b@example.com"])
        assert server.copies == []


@pytest.mark.parametrize("folder", ["inbox", "outbox", "state"])
def test_a_folder_whose_name_is_not_utf8_is_a_one_line_config_error(tmp_path: Path, folder: str) -> None:
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    odd.mkdir()
    with pytest.raises(ConfigError, match=rf"{folder} folder .*caf\\xe9 has a name that is not valid UTF-8") as err:
        settings_in(tmp_path, **{folder: odd})
    str(err.value).encode("utf-8")
    assert "\n" not in str(err.value)
