"""The HTML page-level selector: trafilatura's default result unless a learned alternative clears its bar."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from digest.clean import CleanOptions, clean_article
from digest.clean import html as html_clean
from digest.clean.choose import choice_features, mode_options, pick_of
from digest.clean.model import LinearModel, shipped
from digest.clean.options import SELECTOR_MODES
from digest.clean.picks import CHOICE_FEATURES, Pick
from digest.clean.signals import normalise
from digest.errors import ConfigError
from digest.ingest import parse


def _constant(p: float, bar: float) -> LinearModel:
    """A selector model that gives every page the probability p (only its intercept is set)."""
    zero = np.zeros(len(CHOICE_FEATURES))
    return LinearModel(CHOICE_FEATURES, zero, zero + 1.0, zero, float(np.log(p / (1 - p))), bar)


def _first_page(corpus: Path) -> Path:
    return sorted((corpus / "extraction-benchmark" / "html").glob("*.html.gz"))[0]


def test_the_alternative_clearing_its_bar_by_most_is_chosen_and_the_default_otherwise() -> None:
    row = np.zeros(len(CHOICE_FEATURES))
    selector = {Pick.RECALL: _constant(0.8, 0.7), Pick.PRECISION: _constant(0.9, 0.85), Pick.MODEL: _constant(0.6, 0.9)}
    pick, p, _ = pick_of(row, selector)
    assert pick is Pick.RECALL and p == pytest.approx(0.8)
    pick, _, model = pick_of(row, {Pick.RECALL: _constant(0.6, 0.7), Pick.MODEL: _constant(0.5, 1.01)})
    assert pick is Pick.DEFAULT and model is None


def test_choice_features_see_how_far_the_candidates_agree() -> None:
    text = "The council approved the river tram on Monday after a long debate about its cost."
    same = {pick: [text] for pick in Pick}
    row = choice_features(same)
    assert row[CHOICE_FEATURES.index("default in recall")] == 1.0
    assert row[CHOICE_FEATURES.index("recall words vs default")] == 0.0
    other = {**same, Pick.RECALL: ["Subscribe to our newsletter for the latest deals and offers today"]}
    row = choice_features(other)
    assert row[CHOICE_FEATURES.index("default in recall")] == 0.0
    assert row[CHOICE_FEATURES.index("recall in default")] == 0.0


def test_unknown_trafilatura_modes_are_refused_with_the_valid_ones_named() -> None:
    with pytest.raises(ConfigError, match="RECALL and/or PRECISION"):
        CleanOptions(alternatives=("FASTEST",))


def test_without_alternatives_the_html_path_keeps_trafilaturas_default_blocks(corpus: Path) -> None:
    path = _first_page(corpus)
    raw = parse(gzip.decompress(path.read_bytes()), path.with_suffix(""), "html")
    options = CleanOptions(alternatives=())
    article = clean_article(raw, None, options)
    found = html_clean.extract(raw.text, raw.path, mode_options(options, Pick.DEFAULT))
    title_key = normalise(article.title)
    expected = [text for text, _ in found.blocks if normalise(text) != title_key]
    assert [p.text for p in article.body] == expected
    assert all("no alternative clearly better" in d.reason for d in article.decisions if d.kept)


def test_every_html_decision_says_which_candidate_was_kept_and_why(corpus: Path) -> None:
    path = _first_page(corpus)
    raw = parse(gzip.decompress(path.read_bytes()), path.with_suffix(""), "html")
    article = clean_article(raw, None, CleanOptions(alternatives=SELECTOR_MODES))
    assert article.decisions
    assert all(("chosen: p=" in d.reason or "no alternative clearly better" in d.reason) for d in article.decisions if d.kept)
    assert set(shipped().choose) <= {pick.name for pick in Pick}


def test_trafilatura_leaves_the_shared_parsed_page_untouched(corpus: Path) -> None:
    # every mode reads the one tree parse_tree made: trafilatura must work on its own copy of it
    path = _first_page(corpus)
    raw = parse(gzip.decompress(path.read_bytes()), path.with_suffix(""), "html")
    tree = html_clean.parse_tree(raw.text, raw.path)
    assert tree is not None
    before = etree.tostring(tree)
    for pick in (Pick.DEFAULT, Pick.RECALL, Pick.PRECISION):
        found = html_clean.extract(raw.text, raw.path, mode_options(CleanOptions(), pick), tree=tree)
        assert found == html_clean.extract(raw.text, raw.path, mode_options(CleanOptions(), pick))
        assert etree.tostring(tree) == before


def test_a_mode_runs_trafilatura_as_its_name_says() -> None:
    options = replace(CleanOptions(), fast=True)
    assert (mode_options(options, Pick.PRECISION).favor_precision, mode_options(options, Pick.PRECISION).favor_recall) == (True, False)
    assert mode_options(options, Pick.RECALL).favor_recall and mode_options(options, Pick.RECALL).fast
    assert not mode_options(options, Pick.DEFAULT).fast  # the default as bare trafilatura runs it


def test_by_default_trafilatura_runs_once_per_page(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the selector is level with trafilatura's default on sites it was not tuned on: no second run by default
    path = _first_page(corpus)
    raw = parse(gzip.decompress(path.read_bytes()), path.with_suffix(""), "html")
    runs: list[CleanOptions] = []
    real = html_clean.extract

    def counted(*args: object, **kwargs: object) -> object:
        runs.append(args[2])  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(html_clean, "extract", counted)
    clean_article(raw)
    assert [(o.favor_precision, o.favor_recall) for o in runs] == [(False, False)]
    runs.clear()
    clean_article(raw, None, CleanOptions(alternatives=SELECTOR_MODES))
    assert len(runs) == 1 + len(SELECTOR_MODES)


def test_a_run_without_explanations_decides_every_line_the_same(corpus: Path) -> None:
    # runs keep only the decisions' counts: leaving the model's explanation out changes no verdict
    for path in sorted((corpus / "extraction-benchmark" / "text").glob("*.txt"))[:5]:
        raw = parse(path.read_bytes(), path, "text")
        told, quiet = clean_article(raw), clean_article(raw, None, CleanOptions(explain=False))
        assert [(d.index, d.text, d.kept, d.role) for d in told.decisions] == [
            (d.index, d.text, d.kept, d.role) for d in quiet.decisions
        ]
        assert told.paragraphs == quiet.paragraphs and told.dropped == quiet.dropped
        assert any("[p=" in d.reason for d in told.decisions)
        assert not any("[p=" in d.reason for d in quiet.decisions)
