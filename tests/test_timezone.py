"""The schedule's time zone is the one the digest's local dates follow, whatever form TZ takes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.errors import ConfigError
from digest.settings import load_settings
from flows.deploy import machine_timezone, timezone_of


@pytest.fixture
def tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    time.tzset()


def follows_local_time(name: str) -> bool:
    zone = ZoneInfo(name)
    instants = [datetime(2027, month, 15, 12, tzinfo=UTC) for month in range(1, 13)]
    instants += [datetime(2027, 3, 14, 6, tzinfo=UTC) + timedelta(hours=h) for h in range(0, 48, 3)]
    return all(
        t.astimezone(zone).utcoffset() == timedelta(seconds=time.localtime(t.timestamp()).tm_gmtoff) for t in instants
    )


@pytest.mark.parametrize(
    "value",
    ["Japan", "EST5EDT", "EST5EDT,M3.2.0,M11.1.0", "JST-9", "CET-1CEST,M3.5.0,M10.5.0/3", ":Asia/Kolkata",
     "/usr/share/zoneinfo/America/Sao_Paulo", "<+0545>-5:45"],
)
def test_the_schedule_zone_keeps_the_offsets_of_local_time(tz: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    tz.setenv("TZ", value)
    time.tzset()
    name = timezone_of(load_settings(inbox=tmp_path / "in"))
    assert name != "UTC" and follows_local_time(name), name


def test_a_local_rule_without_an_iana_zone_is_a_config_error(tz: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tz.setenv("TZ", "ODD+13:17")
    time.tzset()
    with pytest.raises(ConfigError, match="set timezone"):
        timezone_of(load_settings(inbox=tmp_path / "in"))
    assert timezone_of(load_settings(inbox=tmp_path / "in", timezone="Pacific/Chatham")) == "Pacific/Chatham"


@pytest.mark.parametrize("value", ["", "UTC0", "XUT0"])
def test_an_empty_or_zero_offset_tz_is_utc(tz: pytest.MonkeyPatch, value: str) -> None:
    tz.setenv("TZ", value)
    time.tzset()
    assert machine_timezone() == "UTC" and follows_local_time("UTC")
