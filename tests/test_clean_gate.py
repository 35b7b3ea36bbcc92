"""Quality gate: out-of-fold F1 of the learned cleaner on a fixed sample of development pages.

A fixed, seeded sample of both development sets is split into folds by page; models are trained
with `digest.clean.train` on the other folds and each page is cleaned by a model that never saw it.
The floors sit a little under the figures measured when the gate was set (printed on failure), so a
change that loses quality fails here. The shipped model file itself is checked to load and to match
the features this version computes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from digest.clean import CleanOptions, clean_article, learn_boilerplate, train
from digest.clean.choose import Pick
from digest.clean.features import HTML_FEATURES, TEXT_FEATURES
from digest.clean.model import shipped
from digest.clean.score import f1_of, page_scores
from digest.errors import InputError

SAMPLE = {"extraction-benchmark": 16, "cleaning-dev": 32}
FOLDS = 3
# floors: measured out-of-fold on this sample when the gate was set (0.893, 0.983, 0.730, 0.845: models
# trained on two thirds of 48 pages), less 0.02
FLOORS = {
    ("extraction-benchmark", "text"): 0.87,
    ("extraction-benchmark", "html"): 0.96,
    ("cleaning-dev", "text"): 0.71,
    ("cleaning-dev", "html"): 0.825,
}


def _sample(corpus: Path) -> list[train.Page]:
    rng = random.Random(11)
    chosen: list[str] = []
    for dataset, n in SAMPLE.items():
        ids = sorted(json.loads((corpus / dataset / "ground-truth.json").read_text("utf-8")))
        chosen += rng.sample(ids, n)
    return train.load_pages(corpus, only=chosen)


@pytest.fixture(scope="module")
def out_of_fold(corpus: Path) -> dict[tuple[str, str], float]:
    pages = _sample(corpus)
    data = train.build(pages, log=lambda _msg: None)
    fold, models, _ = train.fold_models(data, FOLDS, seed=0)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for dataset in SAMPLE:
        members = [n for n, p in enumerate(pages) if p.dataset == dataset]
        learned = learn_boilerplate([pages[n].text for n in members])
        for n in members:
            page, options = pages[n], CleanOptions(model=models[fold[n]])
            try:
                text = clean_article(page.text, learned, options).text
            except InputError:
                text = ""
            results.setdefault((dataset, "text"), []).append(page_scores(text, page.truth))
            # the HTML path from the extractions the fold training made (the same steps as clean_article)
            html = train.html_text(data, n, models[fold[n]], options)
            results.setdefault((dataset, "html"), []).append(page_scores(html, page.truth))
            found = data.found[n].get(Pick.DEFAULT)
            bare = "\n\n".join(text for text, _ in found.blocks) if found is not None else ""
            results.setdefault((dataset, "trafilatura"), []).append(page_scores(bare, page.truth))
    return {key: f1_of(scores)[2] for key, scores in results.items()}


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(FLOORS))
def test_out_of_fold_f1_stays_above_its_floor(out_of_fold: dict[tuple[str, str], float], key: tuple[str, str]) -> None:
    got = out_of_fold[key]
    assert got >= FLOORS[key], f"{key}: out-of-fold F1 {got:.3f} fell below the gate {FLOORS[key]:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(SAMPLE))
def test_html_is_not_below_trafilaturas_own_result(out_of_fold: dict[tuple[str, str], float], dataset: str) -> None:
    ours, bare = out_of_fold[(dataset, "html")], out_of_fold[(dataset, "trafilatura")]
    # the selector falls back to trafilatura's default unless an alternative is clearly better; dropping a
    # repeated headline from the body may cost a little where the truth keeps it
    assert ours >= bare - 0.005, f"{dataset}: html out-of-fold F1 {ours:.3f} below trafilatura's {bare:.3f}"


def test_the_shipped_model_loads_and_matches_this_versions_features() -> None:
    model = shipped()
    assert model.text.features == TEXT_FEATURES
    assert model.html.features == HTML_FEATURES
    assert "cleaning-dev" in model.trained_on and "AGPL" in model.trained_on
    assert 0.0 < model.text.threshold < 1.0 and 0.0 < model.html.threshold < 1.0
    assert set(model.choose) == {pick.name for pick in (Pick.RECALL, Pick.PRECISION, Pick.MODEL)}
