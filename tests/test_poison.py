"""Poison inputs among good articles: each fails alone with a reason, waits, or is digested; nothing blocks a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import poison

from digest import failures, pipeline
from digest.settings import load_settings

NAMES = [
    "date-year-one.txt", "date-year-9999.txt", "million-p.html", "million-lines.txt",
    "folded-subject.eml", "header-flood.eml", "long-title.txt", "many-parts.eml", "nested-forwards.eml",
    "cut-short.html.gz", "two-members.html.gz", "trailing-junk.html.gz", "text-attachment.eml",
    "html-attachment.eml", "forwarded.eml", "wrong-boundary.eml", "still-copying.html",
    "good-0.txt", "good-1.txt", "good-2.txt",
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, poison.Outcome]:
    found, _ = poison.run_poison(tmp_path_factory.mktemp("poison"))
    return {o.case.name: o for o in found}


def test_every_poison_case_is_listed(outcomes: dict[str, poison.Outcome]) -> None:
    assert sorted(outcomes) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_poison_input_is_handled(name: str, outcomes: dict[str, poison.Outcome]) -> None:
    o = outcomes[name]
    assert o.handled, f"{name}: expected {o.case.expect} ({o.case.reason!r}), got {o.got}: {o.reason}"


def _inbox(tmp_path: Path, files: dict[str, str]) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, text in files.items():
        (inbox / name).write_text(text)
    return inbox


def test_a_crash_while_cleaning_one_article_fails_only_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest import clean

    inbox = _inbox(tmp_path, {"good.txt": poison.GOOD[0], "cursed.txt": poison.GOOD[1]})
    real = clean.clean_article

    def crashing(raw, learned=None, *options):  # type: ignore[no-untyped-def]
        # a parser bug that no input we can write triggers on purpose: the one place a fake crash is the test
        if raw.path.name == "cursed.txt":
            raise KeyError("parser bug")
        return real(raw, learned, *options)

    monkeypatch.setattr(clean, "clean_article", crashing)
    lines: list[str] = []
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "out", state=tmp_path / "state")
    result = pipeline.run(settings, report=lines.append)
    assert result.path and result.new == 1 and result.failed == 1
    statuses = {Path(a["path"]).name: a for a in json.loads(Path(result.path).with_suffix(".json").read_text())["articles"]}
    assert statuses["good.txt"]["status"] == "included"
    assert statuses["cursed.txt"]["status"] == "failed" and "cleaning failed" in statuses["cursed.txt"]["reason"]
    assert any("cursed.txt" in line and "KeyError" in line for line in lines)


def test_isolate_leaves_out_exactly_the_articles_a_stage_crashes_on(tmp_path: Path) -> None:
    from digest.clean import clean_article
    from digest.ingest import parse

    articles = [clean_article(parse(text.encode(), Path(f"{i}.txt"), "text")) for i, text in enumerate(poison.GOOD)]

    def stage(batch: list) -> list[str]:  # type: ignore[type-arg]
        if any(a.path.name == "1.txt" for a in batch):
            raise ValueError("year 0 is out of range")
        return [a.id for a in batch]

    result, left_out = failures.isolate(stage, articles, "clustering")
    assert result == [articles[0].id, articles[2].id]
    [(article, reason)] = left_out
    assert article.path.name == "1.txt" and "clustering failed" in reason and "year 0" in reason

    def broken(batch: list) -> list[str]:  # type: ignore[type-arg]
        raise RuntimeError("the stage itself is broken")

    with pytest.raises(RuntimeError):  # no single article causes it: a bug, raised
        failures.isolate(broken, articles, "clustering")


def test_a_year_one_date_no_longer_blocks_the_run(tmp_path: Path) -> None:
    bad = poison.GOOD[0].replace("\n\n", "\nDate: 0001-01-01\n\n", 1)
    inbox = _inbox(tmp_path, {"bad-date.txt": bad, "good.txt": poison.GOOD[1], "other.txt": poison.GOOD[2]})
    lines: list[str] = []
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "out", state=tmp_path / "state")
    result = pipeline.run(settings, report=lines.append)
    assert result.path and result.new == 3 and result.failed == 0
    assert any("bad-date.txt" in line and "out of range" in line for line in lines)


@pytest.mark.slow
def test_a_memory_limited_run_digests_the_good_articles(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = poison.good_files(inbox)
    for case in poison.write_poison(tmp_path / "all"):  # the heavy ones: cost bombs, headers, gzip
        if case.name in ("million-p.html", "million-lines.txt", "folded-subject.eml", "many-parts.eml", "cut-short.html.gz"):
            (tmp_path / "all" / case.name).rename(inbox / case.name)
    code, result, err = poison.limited_run(tmp_path, limit_bytes=2 << 30)
    assert code == 0, err
    data = json.loads(Path(str(result["path"])).with_suffix(".json").read_text())
    status = {Path(a["path"]).name: a["status"] for a in data["articles"]}
    assert all(status[n] == "included" for n in names), status
    assert status["million-p.html"] == "failed" and status["folded-subject.eml"] == "included"


def test_the_deadline_interrupts_runaway_work_in_any_thread() -> None:
    import threading
    import time

    from digest.deadline import Deadline, DeadlineExceeded

    def spin(out: list[float]) -> None:
        start = time.monotonic()
        try:
            with Deadline(0.2):
                while True:  # a parser stuck in a loop
                    pass
        except DeadlineExceeded:
            out.append(time.monotonic() - start)

    here: list[float] = []
    spin(here)
    there: list[float] = []
    worker = threading.Thread(target=spin, args=(there,))
    worker.start()
    worker.join(30)
    assert here and there and max(here + there) < 20
    with Deadline(5):  # work that ends in time is left alone, and nothing fires later
        time.sleep(0.01)
    time.sleep(0.3)


def test_an_article_that_cleans_forever_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest import clean

    inbox = _inbox(tmp_path, {"good.txt": poison.GOOD[0], "endless.txt": poison.GOOD[1]})
    real = clean.clean_article

    def endless(raw, learned=None, *options):  # type: ignore[no-untyped-def]
        while raw.path.name == "endless.txt":  # a cleaning loop that never ends, which no known input causes
            pass
        return real(raw, learned, *options)

    monkeypatch.setattr(clean, "clean_article", endless)
    lines: list[str] = []
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "out", state=tmp_path / "state", max_file_seconds=0.5)
    result = pipeline.run(settings, report=lines.append)
    assert result.path and result.new == 1 and result.failed == 1
    assert any("endless.txt" in line and "max_file_seconds" in line for line in lines)
