"""Measure story summaries on multi-news-dev: ROUGE-2 at equal length, out-of-fold; seeds; speed.

    .venv/bin/python bench/summaries.py            # print the table (uses the shipped coverage.json)
    .venv/bin/python bench/summaries.py --fit      # also refit coverage.json on all clusters (seeded)
    .venv/bin/python bench/summaries.py --quick    # 150 clusters, no speed run

Every cluster of `../shared/corpus/multi-news-dev` goes through the real ingest and clean stages; its
human-written summary is the reference. Every method gets the same length: the reference's length in
ROUGE tokens (its output is cut there). Ours is scored out-of-fold: for each of K folds, the sentence
prior (ridge regression on each sentence's share of word pairs found in the reference, less the
story's mean) is fitted on the other folds and the selection options (GRID) are chosen there by
grid search; both are used on the held-out fold. Folds are drawn by story: no story is in two.
Ours chooses as the digest does (`summarise.pick`): bullets that stand on their own (a pronoun only
after the sentence that names whom it means, one quotation at most and its speaker named), in the
order the facts unfold; a cluster left with one article is told by its lead.
Baselines on the same clusters, in the same run: the lead (the first article's sentences, then the
next article's), the first sentence of each article in turn, and every sumy summarizer of the
registry run naively (its own ranking, no redundancy removal).
Speed: our summarise against naive sumy LexRank on one story of 8,000+ sentences, in this run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rouge_score import rouge_scorer  # noqa: E402

from digest.clean import clean_article  # noqa: E402
from digest.errors import InputError  # noqa: E402
from digest.ingest import load_file  # noqa: E402
from digest.models import Article, Story  # noqa: E402
from digest.summarise import SUMMARIZERS, lead_scores, pick, summarise  # noqa: E402
from digest.summarise.coverage import PARAMS_FILE, Coverage, CoverageOptions, Tuning, fitted  # noqa: E402
from digest.summarise.lexrank import rank  # noqa: E402
from digest.summarise.prior import SentenceModel, fit  # noqa: E402
from digest.summarise.units import Unit, units  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
MULTI = CORPUS / "multi-news-dev"
SEEDS = CORPUS / "seeds"
FOLDS = 5
SEED = 12
SPEED_SENTENCES = 8000
# Wider grids (salience 1.0, gain_weight 0.05-0.1) were never chosen on 150 clusters. told_pairs=3
# scores 0.001 higher but lets a sentence re-tell two names already told (the seeds test): kept at 1.
GRID = {
    "salience": (0.5,),
    "novelty": (0.2, 0.3),
    "gain_weight": (0.0,),
    "told_pairs": (1,),
}
RIDGE_ALPHA = 1.0
SCORER = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)


@dataclass
class Case:
    """One cluster ready to summarise: its sentences, reference tokens, facts and LexRank order."""

    cid: str
    units: list[Unit]
    reference: list[str]
    coverage: Coverage
    x: np.ndarray  # sentence features
    tokens: dict[int, list[str]]
    target: np.ndarray | None = None

    def y(self) -> np.ndarray:
        """Each sentence's share of word pairs (ROUGE-2 bigrams) found in the reference, less the story's mean.

        The prior's target: only the order within a story matters, so how easy a story is to summarise
        (its mean) is taken out.
        """
        if self.target is None:
            shares = self.shares()
            self.target = shares - shares.mean() if len(shares) else shares
        return self.target

    def shares(self) -> np.ndarray:
        """Each sentence's share of word pairs (ROUGE-2 bigrams) found in the reference."""
        reference = rouge_scorer._create_ngrams(self.reference, 2)
        out = []
        for i in range(len(self.units)):
            grams = rouge_scorer._create_ngrams(self.tokens_of(i), 2)
            out.append(sum(min(n, reference[g]) for g, n in grams.items()) / (sum(grams.values()) or 1))
        return np.array(out)

    def tokens_of(self, i: int) -> list[str]:
        if i not in self.tokens:
            self.tokens[i] = SCORER._tokenizer.tokenize(self.units[i].text)
        return self.tokens[i]


def rouge2(case: Case, chosen: Sequence[int]) -> float:
    """ROUGE-2 F of the chosen sentences, cut to the reference's length in ROUGE tokens (rouge-score's own scoring)."""
    tokens = [t for i in chosen for t in case.tokens_of(i)][: len(case.reference)]
    score = rouge_scorer._score_ngrams(rouge_scorer._create_ngrams(case.reference, 2), rouge_scorer._create_ngrams(tokens, 2))
    return float(score.fmeasure)


def load_cases(limit: int | None) -> list[Case]:
    """Ingest and clean every cluster's articles as the pipeline would; keep clusters with sentences."""
    clusters = json.loads((MULTI / "clusters.json").read_text(encoding="utf-8"))
    ids = sorted(clusters)
    if limit:
        ids = sorted(random.Random(SEED).sample(ids, limit))
    cases = []
    for cid in ids:
        articles: list[Article] = []
        for name in clusters[cid]["files"]:
            try:
                articles.append(clean_article(load_file(MULTI / "docs" / f"{name}.txt")))
            except InputError:
                continue  # a site's notice, not an article: the clean stage rejects it
        found = units(Story(cid, tuple(articles)))
        if not found:
            continue
        reference = SCORER._tokenizer.tokenize(clusters[cid]["summary"])
        coverage = Coverage(found, CoverageOptions())
        cases.append(Case(cid, found, reference, coverage, coverage.features(rank(found, 0)), {}))
    return cases


def ours(case: Case, options: CoverageOptions, model: SentenceModel) -> list[int]:
    """Our choice at the reference's length, in the order the digest shows it (a lone article: its lead)."""
    case.coverage.retune(options)
    single = len({u.article for u in case.units}) == 1
    scores = lead_scores(case.units) if single else model.score(case.x)
    return pick(case.units, case.coverage, scores, max_words=len(case.reference))


def lead(case: Case) -> list[int]:
    """The first article's sentences in order, then the next article's."""
    return sorted(range(len(case.units)), key=lambda i: (case.units[i].article, case.units[i].position))


def firsts(case: Case) -> list[int]:
    """Each article's first sentence in turn, then each one's second, and so on."""
    return sorted(range(len(case.units)), key=lambda i: (case.units[i].position, case.units[i].article))


def naive(method: str, case: Case) -> list[int]:
    """A sumy summarizer's best sentences until the length is reached, in document order."""
    budget = len(case.reference)
    want = max(1, budget // 8)
    ranked = SUMMARIZERS[method](case.units, want)
    taken: list[int] = []
    used = 0
    for i in ranked:
        if used >= budget:
            break
        if i not in taken:
            taken.append(i)
            used += len(case.tokens_of(i))
    return sorted(taken)


def grid() -> list[CoverageOptions]:
    keys = list(GRID)
    return [replace(CoverageOptions(), **dict(zip(keys, values, strict=True))) for values in itertools.product(*GRID.values())]


def tune(cases: Sequence[Case]) -> Tuning:
    """Fit the sentence prior on `cases`, then choose the selection options on them by grid search."""
    model = fit(np.vstack([c.x for c in cases]), np.concatenate([c.y() for c in cases]), RIDGE_ALPHA)
    options = grid()
    best = max(options, key=lambda o: sum(rouge2(c, ours(c, o, model)) for c in cases))
    return Tuning(best, model)


def cross_validate(cases: list[Case]) -> tuple[list[float], list[Tuning]]:
    """Return out-of-fold scores per case and the tuning each fold chose on the other folds."""
    shuffled = list(range(len(cases)))
    random.Random(SEED).shuffle(shuffled)
    fold_of = {c: k % FOLDS for k, c in enumerate(shuffled)}
    out = [0.0] * len(cases)
    chosen = []
    for fold in range(FOLDS):
        tuning = tune([c for k, c in enumerate(cases) if fold_of[k] != fold])
        chosen.append(tuning)
        for k, case in enumerate(cases):
            if fold_of[k] == fold:
                out[k] = rouge2(case, ours(case, tuning.options, tuning.model))
    return out, chosen


def seeds_row() -> tuple[int, int]:
    """Return (bullets, bullets sharing their main fact with an earlier one) for the seed story."""
    articles = [clean_article(load_file(p)) for p in sorted(SEEDS.glob("*.txt"))]
    summary = summarise(Story("seeds", tuple(articles)))
    return len(summary.sentences), len(summary.sentences) - len({s.text for s in summary.sentences})


def speed() -> tuple[int, float, float]:
    """Time our summarise and naive sumy LexRank on one story of SPEED_SENTENCES+ sentences from the corpus."""
    docs = sorted((MULTI / "docs").glob("*.txt"))
    articles: list[Article] = []
    total = 0
    for path in docs:
        try:
            article = clean_article(load_file(path))
        except InputError:
            continue
        articles.append(article)
        total = len(units(Story("big", tuple(articles))))  # cheap enough: this loop is not timed
        if total >= SPEED_SENTENCES:
            break
    story = Story("big", tuple(articles))
    start = time.perf_counter()
    summarise(story)
    mine = time.perf_counter() - start
    start = time.perf_counter()
    summarise(story, method="sumy-lexrank")
    theirs = time.perf_counter() - start
    return total, mine, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="write digest/summarise/coverage.json from all clusters")
    parser.add_argument("--quick", action="store_true", help="150 clusters and no speed run")
    parser.add_argument("--ours-only", action="store_true", help="skip the sumy baselines and the speed run")
    args = parser.parse_args()
    started = time.perf_counter()
    cases = load_cases(150 if args.quick else None)
    oof, chosen = cross_validate(cases)
    n = len(cases)
    scores: dict[str, float] = {f"ours (coverage, out-of-fold, {FOLDS}-fold)": sum(oof) / n}
    shipped = tune(cases) if args.fit else fitted()
    shipped_label = "refitted on all clusters" if args.fit else "shipped coverage.json"
    scores[f"ours, {shipped_label} (in-sample)"] = sum(rouge2(c, ours(c, shipped.options, shipped.model)) for c in cases) / n
    scores["lead (first article, then the next)"] = sum(rouge2(c, lead(c)) for c in cases) / n
    scores["first sentence of each article in turn"] = sum(rouge2(c, firsts(c)) for c in cases) / n
    for method in [] if args.ours_only else sorted(m for m in SUMMARIZERS if m != "lexrank"):
        scores[f"{method} (sumy, naive)"] = sum(rouge2(c, naive(method, c)) for c in cases) / n
    width = max(map(len, scores)) + 2
    print(f"multi-news-dev: {n} clusters, ROUGE-2 F at the reference's length (mean {sum(len(c.reference) for c in cases) / n:.0f} tokens)")
    for label, value in scores.items():
        print(f"  {label:<{width}} {value:.4f}")
    best_sumy = max((v for k, v in scores.items() if "sumy" in k), default=0.0)
    lead_score = scores["lead (first article, then the next)"]
    first = scores[f"ours (coverage, out-of-fold, {FOLDS}-fold)"]
    print(f"  target ours >= lead + 0.02: {first:.4f} vs {lead_score + 0.02:.4f}: {'met' if first >= lead_score + 0.02 else 'NOT met'}")
    if args.ours_only:
        print("  target ours > every naive sumy: not measured in this run (--ours-only)")
    else:
        print(f"  target ours > every naive sumy: {first:.4f} vs best {best_sumy:.4f}: {'met' if first > best_sumy else 'NOT met'}")
    for k, t in enumerate(chosen):
        print(f"  fold {k + 1} chose: {_brief(t.options)}")
    print(f"  {shipped_label}: {_brief(shipped.options)}")
    bullets, repeated = seeds_row()
    print(f"seeds: {bullets} bullets, {repeated} repeated")
    if not (args.quick or args.ours_only):
        total, mine, theirs = speed()
        print(f"speed: one story of {total:,} sentences: ours {mine:.2f} s vs naive sumy LexRank {theirs:.1f} s = {theirs / mine:.0f}x")
    if args.fit:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        data = {
            "trained_by": "python bench/summaries.py --fit",
            "data": f"multi-news-dev, {n} clusters (the Multi-News dataset sample in ../shared/corpus)",
            "seed": SEED,
            "folds": FOLDS,
            "out_of_fold_rouge2": round(first, 4),
            "commit": commit,
            "ridge_alpha": RIDGE_ALPHA,
            "options": shipped.options.to_dict(),
            "model": shipped.model.to_dict(),
        }
        path = ROOT / "digest" / "summarise" / PARAMS_FILE
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"({time.perf_counter() - started:.0f} s)")


def _brief(o: CoverageOptions) -> str:
    return ", ".join(f"{k}={getattr(o, k)}" for k in GRID)


if __name__ == "__main__":
    main()
