"""Train the story-pair model and write it into the package (digest/story_model.json).

    .venv/bin/python bench/train_story_model.py          # seeded: the same data gives the same file

Data: the Multi-News development sample (only docs that match their own cluster's human summary) in 5
folds of whole topics (stories grouped by their summaries, so one batch holds several events on one
topic: the hard negatives of unseen news) and the extraction benchmark's pages with the seeds, each fold
one batch as the pipeline would see it (cleaned, deduplicated, candidate pairs from the rare-name index).
The logistic model is fitted on every batch's candidate pairs; the linkage threshold is the one of best
recall at pooled pairwise precision >= PRECISION_TARGET when each batch is clustered by a model fitted
on the other batches (leave-one-batch-out: each topic scored by a model that never saw it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from storydata import (
    FOLDS,
    PRECISION_TARGET,
    SEED,
    TOPICS,
    C,
    benchmark_batch,
    fit_with_cv,
    multi_news_folds,
    prf,
)

MODEL = Path(__file__).resolve().parents[1] / "digest" / "story_model.json"


def main() -> None:
    """Fit the model on all labelled batches and write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL, help="where to write the model (default: the package's)")
    args = parser.parse_args()
    bench = benchmark_batch()
    batches = [*multi_news_folds(by_topic=True), bench]
    model, counts = fit_with_cv(batches)
    p, r, f = prf(*counts[model.threshold])
    about = {
        "trained_on": "multi-news-dev (docs matching their cluster's summary; research dataset, training only) "
                      "and extraction-benchmark stories.json + seeds (MIT)",
        "command": "python bench/train_story_model.py",
        "seed": SEED, "folds": FOLDS, "C": C, "precision_target": PRECISION_TARGET,
        "folds_by": f"topic ({TOPICS} topic groups of stories dealt to {FOLDS} folds)",
        "pairs": int(sum(len(b.pairs.i) for b in batches)),
        "cv_at_threshold": {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)},
    }
    args.out.write_text(model.to_json(**about) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: threshold {model.threshold}, leave-one-batch-out P/R/F1 {p:.3f}/{r:.3f}/{f:.3f}")


if __name__ == "__main__":
    main()
