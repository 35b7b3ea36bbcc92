"""Stories that continue an earlier digest's story keep its id, are marked updates and show only what is new."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from digest import pipeline
from digest.settings import load_settings


def test_a_continuing_story_is_an_update_with_new_sentences(tmp_path: Path, seeds: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = sorted(seeds.glob("*.txt"))
    for f in files[:3]:
        shutil.copy(f, inbox / f.name)
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "outbox", state=tmp_path / "state")
    first = pipeline.run(settings, report=lambda line: None)
    for f in files[3:]:
        shutil.copy(f, inbox / f.name)
    second = pipeline.run(settings, report=lambda line: None)
    one = json.loads(Path(first.path).with_suffix(".json").read_text())
    two = json.loads(Path(second.path).with_suffix(".json").read_text())
    [story1], [story2] = one["stories"], two["stories"]
    assert story2["id"] == story1["id"]
    assert story2["is_update"] is True and story1["is_update"] is False
    assert not set(story2["summary"]) & set(story1["summary"])  # nothing shown twice
    assert story2["summary"]
    # no fact told again in other words: a number the first digest told (not a year) is not repeated
    told = {n for s in story1["summary"] for n in re.findall(r"\b\d[\d,.]*\b", s) if not re.fullmatch(r"(19|20)\d\d", n)}
    for sentence in story2["summary"]:
        assert not told & set(re.findall(r"\b\d[\d,.]*\b", sentence)), sentence
    assert "Update" in Path(second.path).read_text()
