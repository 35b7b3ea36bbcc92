"""A run's standard output: stage lines everywhere, each long stage's count updated in place on a terminal."""

from __future__ import annotations

import io

import pytest

from digest.pipeline import Progress
from flows.common import Console


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def say_all(lines: list[str], out: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("sys.stdout", out)
    console = Console()
    for line in lines:
        console.say(line)
    return out.getvalue()


LINES = [
    "ingested 3 new articles",
    Progress("  cleaning: 1 of 3 articles"),
    Progress("  cleaning: 3 of 3 articles"),
    "cleaned 3 articles, dropped 4 boilerplate lines",
    Progress("  summarising: 2 of 2 stories", plain=False),
    "summarised 2 stories in 6 sentences (lexrank)",
]


def test_a_terminal_shows_one_updating_line_per_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = say_all(LINES, Terminal(), monkeypatch)
    assert shown == (
        "ingested 3 new articles\n"
        "\r\033[Kcleaning: 1 of 3 articles\r\033[Kcleaning: 3 of 3 articles"
        "\r\033[Kcleaned 3 articles, dropped 4 boilerplate lines\n"
        "\r\033[Ksummarising: 2 of 2 stories"
        "\r\033[Ksummarised 2 stories in 6 sentences (lexrank)\n"
    )


def test_elsewhere_the_lines_stay_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = say_all(LINES, io.StringIO(), monkeypatch)
    assert shown.splitlines() == [
        "ingested 3 new articles",
        "  cleaning: 1 of 3 articles",
        "  cleaning: 3 of 3 articles",
        "cleaned 3 articles, dropped 4 boilerplate lines",
        "summarised 2 stories in 6 sentences (lexrank)",
    ]
