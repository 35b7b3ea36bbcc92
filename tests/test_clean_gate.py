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
from digest.clean.features import HTML_FEATURES, TEXT_FEATURES
from digest.clean.model import shipped
from digest.clean.score import f1_of, page_scores
from digest.errors import InputError

SAMPLE = {"extraction-benchmark": 24, "cleaning-dev": 48}
FOLDS = 3
# floors: measured out-of-fold on this sample when the gate was set, less a small margin
FLOORS = {
    ("extraction-benchmark", "text"): 0.88,
    ("extraction-benchmark", "html"): 0.95,
    ("cleaning-dev", "text"): 0.80,
    ("cleaning-dev", "html"): 0.86,
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
    fold, models = train.fold_models(data, FOLDS, seed=0)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for dataset in SAMPLE:
        members = [n for n, p in enumerate(pages) if p.dataset == dataset]
        learned = learn_boilerplate([pages[n].text for n in members])
        for n in members:
            page, options = pages[n], CleanOptions(model=models[fold[n]])
            for kind, raw, keys in (("text", page.text, learned), ("html", page.html, None)):
                try:
                    text = clean_article(raw, keys, options).text
                except InputError:
                    text = ""
                results.setdefault((dataset, kind), []).append(page_scores(text, page.truth))
    return {key: f1_of(scores)[2] for key, scores in results.items()}


@pytest.mark.parametrize("key", sorted(FLOORS))
def test_out_of_fold_f1_stays_above_its_floor(out_of_fold: dict[tuple[str, str], float], key: tuple[str, str]) -> None:
    got = out_of_fold[key]
    assert got >= FLOORS[key], f"{key}: out-of-fold F1 {got:.3f} fell below the gate {FLOORS[key]:.3f}"


def test_the_shipped_model_loads_and_matches_this_versions_features() -> None:
    model = shipped()
    assert model.text.features == TEXT_FEATURES
    assert model.html.features == HTML_FEATURES
    assert "cleaning-dev" in model.trained_on and "AGPL" in model.trained_on
    assert 0.0 < model.text.threshold < 1.0 and 0.0 < model.html.threshold < 1.0
