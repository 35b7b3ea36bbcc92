"""Keep docs/settings.md in step with the settings model: every setting documented, nothing extra, same defaults and ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from digest.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_PAGE = ROOT / "docs" / "settings.md"
HEADING = re.compile(r"^### `(\w+)`$", re.MULTILINE)
# the line under each heading: `DIGEST_NAME` · default `toml value` | default unset ...
ENTRY = re.compile(r"^### `(?P<name>\w+)`\n\n`(?P<variable>DIGEST_\w+)` · default (?:`(?P<default>[^`]*)`|(?P<unset>unset))(?P<rest>.*)$", re.MULTILINE)
BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def documented() -> dict[str, re.Match[str]]:
    """Return each setting entry of docs/settings.md by name."""
    return {m["name"]: m for m in ENTRY.finditer(SETTINGS_PAGE.read_text(encoding="utf-8"))}


def comparable(value: Any) -> Any:
    """Return a default as TOML would give it back: paths as text."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    headings = HEADING.findall(SETTINGS_PAGE.read_text(encoding="utf-8"))
    assert len(headings) == len(set(headings)), "a setting is documented twice"
    fields = set(Settings.model_fields)
    assert sorted(fields - set(headings)) == [], "settings missing from docs/settings.md"
    assert sorted(set(headings) - fields) == [], "docs/settings.md documents settings that do not exist"


def test_every_entry_names_its_variable_and_default() -> None:
    entries = documented()
    headings = HEADING.findall(SETTINGS_PAGE.read_text(encoding="utf-8"))
    assert sorted(entries) == sorted(headings), "an entry lacks its `DIGEST_X` · default ... line"
    for name, entry in entries.items():
        assert entry["variable"] == f"DIGEST_{name.upper()}"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_documented_default_is_the_models(name: str) -> None:
    field = Settings.model_fields[name]
    entry = documented().get(name)
    if entry is None:
        pytest.fail(f"{name} is not documented in docs/settings.md")
    if entry["unset"]:
        assert field.default is None, f"{name}: documented as unset, but its default is {field.default!r}"
    else:
        value = tomllib.loads(f"value = {entry['default']}")["value"]
        assert value == comparable(field.default), f"{name}: documented default {entry['default']}, model's {field.default!r}"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_documented_range_is_the_models(name: str) -> None:
    entry = documented().get(name)
    if entry is None:
        pytest.fail(f"{name} is not documented in docs/settings.md")
    bounds = [(BOUNDS[kind], getattr(rule, kind)) for rule in Settings.model_fields[name].metadata for kind in BOUNDS if hasattr(rule, kind)]
    documented_bounds = re.findall(r"(>=|<=|>|<) (-?[0-9.]+)", entry["rest"])
    assert sorted((sign, float(value)) for sign, value in documented_bounds) == sorted((sign, float(v)) for sign, v in bounds), (
        f"{name}: documented range {entry['rest']!r}, model's {bounds}"
    )
