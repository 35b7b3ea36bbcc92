"""Train the clean stage's models from the development corpus and write `digest/clean/model.json`.

    python -m digest.clean.train [--corpus ../shared/corpus] [--folds 5] [--seed 0] [--out PATH]

Seeded and reproducible. Pages of both development sets (extraction-benchmark, MIT; cleaning-dev,
AGPL-3.0 data used for training only) are read at run time; only the learned numbers are written,
never their text. A line (or HTML block) is labelled article text when at least half of its word
4-grams (its whole word run, when shorter) occur in the page's human-extracted article. Each model
is a standardised logistic regression weighted so every page counts alike; its threshold and
neighbour smoothing are chosen on the training pages (page-averaged word F1), never on held-out ones.
The cross-validated (k-fold by page) figures are printed before the final fit on every page.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from digest.clean import html_candidates, learn_boilerplate
from digest.clean.choose import Pick, choice_features, html_verdict, kept_texts, whole_decisions
from digest.clean.decide import html_decisions
from digest.clean.features import (
    CONVENTION_COLUMNS,
    HTML_CONVENTION_COLUMNS,
    HTML_FEATURES,
    TEXT_FEATURES,
    flagged_blocks,
    html_matrix,
    rules_masks,
    text_matrix,
)
from digest.clean.html import HtmlResult
from digest.clean.model import CleanModel, LinearModel
from digest.clean.options import DEFAULT_OPTIONS, SELECTOR_OPTIONS, CleanOptions
from digest.clean.score import page_scores
from digest.clean.signals import WORD, normalise, word_count
from digest.clean.text import layout, rule_decisions
from digest.clean.train_choice import fit_selector
from digest.errors import InputError
from digest.models import RawArticle, Role

SETS = ("extraction-benchmark", "cleaning-dev")
TRAINED_ON = (
    "extraction-benchmark (91 pages, MIT licence) and cleaning-dev (966 pages of the Dragnet benchmark's "
    "training split, AGPL-3.0 data used for training only; no text copied)"
)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.91, 0.05))
SMOOTHINGS = (0.0, 0.2, 0.4)
REVIVALS = (0.6, 0.7, 0.8, 0.9, 0.95, 1.01)  # 1.01: a line the rules drop is never kept
SHINGLE = 4


@dataclass(frozen=True)
class Page:
    """One development page: both renderings and the human-extracted article."""

    dataset: str
    pid: str
    text: RawArticle
    html: RawArticle
    truth: str


def load_pages(corpus: Path, sets: Sequence[str] = SETS, only: Iterable[str] | None = None) -> list[Page]:
    """Read every page of the given sets (or the `only` page ids) from the corpus folder."""
    from digest.ingest import Budget, load_file, parse

    # development pages are scored whole: the inbox's tag budget (one page of 966 is over it) does not apply
    budget = Budget(max_html_tags=1_000_000)
    wanted = set(only) if only is not None else None
    pages: list[Page] = []
    for dataset in sets:
        root = corpus / dataset
        truth = json.loads((root / "ground-truth.json").read_text("utf-8"))
        for pid in sorted(truth):
            if wanted is not None and pid not in wanted:
                continue
            text = load_file(root / "text" / f"{pid}.txt")
            data = gzip.decompress((root / "html" / f"{pid}.html.gz").read_bytes())
            html = parse(data, root / "html" / f"{pid}.html", "html", budget)
            pages.append(Page(dataset, pid, text, html, truth[pid]["articleBody"]))
    return pages


def labels(keys: Sequence[str], truth: str) -> np.ndarray:
    """Label each normalised line 1 when most of its word 4-grams (or its whole word run) are in the article."""
    words = WORD.findall(truth.lower())
    grams = {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    joined = f" {' '.join(words)} "
    out = np.zeros(len(keys))
    for n, key in enumerate(keys):
        tokens = key.split()
        if len(tokens) >= SHINGLE:
            hits = sum(tuple(tokens[i : i + SHINGLE]) in grams for i in range(len(tokens) - SHINGLE + 1))
            out[n] = hits * 2 >= len(tokens) - SHINGLE + 1
        elif tokens:
            out[n] = f" {key} " in joined
    return out


@dataclass(frozen=True)
class Examples:
    """One page's feature rows, labels and word counts."""

    x: np.ndarray
    y: np.ndarray
    words: np.ndarray


def text_examples(page: Page, learned: frozenset[str]) -> Examples:
    """Return the page's plain-text lines as examples (the title line is the rules' and is left out by weight)."""
    read = layout(page.text.text, learned, page.text.meta.title)
    if read is None:
        return Examples(np.zeros((0, len(TEXT_FEATURES))), np.zeros(0), np.zeros(0))
    rules = rule_decisions(read)
    x = text_matrix(read, rules)
    words = np.array([line.words for line in read.lines], dtype=float)
    if read.title is not None:
        words[read.title] = 0.0  # the headline is kept as the title whatever the model says
    if page.dataset == "cleaning-dev":
        # this set's truth keeps captions, bylines, dates and the headline's copies, the extraction benchmark's
        # does not: a convention, not evidence, so those lines neither teach nor score
        words[x[:, CONVENTION_COLUMNS].sum(axis=1) > 0] = 0.0
    return Examples(x, labels([line.key for line in read.lines], page.truth), words)


def html_examples(page: Page, found: HtmlResult, title: str) -> Examples:
    """Return the page's blocks of the recall-first extraction as examples."""
    x, _ = html_matrix(found.blocks, normalise(title), comments_from=found.comments_from)
    keys = [normalise(text) for text, _ in found.blocks]
    words = np.expm1(x[:, 0]) if len(x) else np.zeros(0)
    if page.dataset == "cleaning-dev" and len(x):
        words[x[:, HTML_CONVENTION_COLUMNS].sum(axis=1) > 0] = 0.0  # as for text lines: a convention, not evidence
    return Examples(x, labels(keys, page.truth), words)


def html_of(page: Page, options: CleanOptions) -> tuple[dict[Pick, HtmlResult], str]:
    """Return trafilatura's extraction of the page per candidate mode and the title (none for an unreadable page)."""
    try:
        found, title, _ = html_candidates(page.html, options)
    except InputError:
        return {}, ""
    return found, title


def fit(
    examples: Sequence[Examples], names: Sequence[str], seed: int, weights: Sequence[float] | None = None, c: float = 1.0
) -> LinearModel:
    """Fit a standardised logistic regression; each page weighs `weights[n]` (default 1), its lines by their words."""
    from sklearn.linear_model import LogisticRegression

    weights = [1.0] * len(examples) if weights is None else weights
    used = [(e, w) for e, w in zip(examples, weights) if len(e.y) and e.words.sum() > 0]
    x = np.vstack([e.x for e, _ in used])
    y = np.concatenate([e.y for e, _ in used])
    w = np.concatenate([e.words / e.words.sum() * pw for e, pw in used])
    w *= len(w) / w.sum()
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    model.fit((x - mean) / scale, y, sample_weight=w)
    return LinearModel(tuple(names), mean, scale, model.coef_[0], float(model.intercept_[0]))


def page_f1(examples: Sequence[Examples], keeps: Sequence[np.ndarray]) -> float:
    """Return F1 of page-averaged word precision and recall of the kept lines (`keeps`, one mask a page)."""
    ps, rs = [], []
    for e, keep in zip(examples, keeps):
        if not len(e.y):
            continue
        tp = float((e.words * keep * e.y).sum())
        fp = float((e.words * keep * (1 - e.y)).sum())
        fn = float((e.words * (1 - keep) * e.y).sum())
        ps.append(tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0))
        rs.append(tp / (tp + fn) if tp + fn else 1.0)
    p, r = float(np.mean(ps)), float(np.mean(rs))
    return 2 * p * r / (p + r) if p + r else 0.0


def html_keep(model: LinearModel, e: Examples, share: float) -> np.ndarray:
    """Return the kept mask of one page's blocks, with the fall-back to trafilatura's whole output."""
    flagged = flagged_blocks(e.x)
    _, keep = model.keep(e.x, ~flagged, flagged)
    if e.words.sum() > 0 and e.words[keep].sum() < share * e.words.sum():
        return np.ones(len(keep), dtype=bool)
    return keep


def _f1_of_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    """Return F1 of page-averaged precision and recall from per-page word counts (as `page_f1`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), np.where(fn > 0, 0.0, 1.0))
        r = np.where(tp + fn > 0, tp / (tp + fn), 1.0)
    mp, mr = float(p.mean()), float(r.mean())
    return 2 * mp * mr / (mp + mr) if mp + mr else 0.0


def tune(model: LinearModel, groups: Sequence[Sequence[Examples]], html: bool, share: float) -> LinearModel:
    """Return the model with the threshold and smoothing that give the best mean over `groups` (sets) of page F1.

    Every page of a group is scored at once (per-page sums with `np.add.reduceat`), so the grid is cheap.
    """
    stacked = []
    for group in groups:
        pages = [e for e in group if len(e.y)]
        starts = np.cumsum([0] + [len(e.y) for e in pages[:-1]])
        words = np.concatenate([e.words for e in pages])
        y = np.concatenate([e.y for e in pages])
        raw = [model.probabilities(e.x) for e in pages]
        if html:
            revivable = np.concatenate([flagged_blocks(e.x) for e in pages])
            ruled = ~revivable
        else:
            masks = [rules_masks(e.x) for e in pages]
            ruled, revivable = np.concatenate([m[0] for m in masks]), np.concatenate([m[1] for m in masks])
        stacked.append((ruled, revivable, starts, words, y, raw))
    best = (-1.0, model)
    grid = [(t, r) for t in THRESHOLDS for r in REVIVALS]
    for smoothing in SMOOTHINGS:
        candidate = replace(model, smoothing=smoothing)
        smoothed = [np.concatenate([candidate.smooth(p) for p in raw]) for *_, raw in stacked]
        for threshold, revive in grid:
            scores = []
            for (ruled, revivable, starts, words, y, _), p in zip(stacked, smoothed):
                keep = np.where(ruled, p >= threshold, revivable & (p >= revive)).astype(float)
                tp = np.add.reduceat(words * keep * y, starts)
                fp = np.add.reduceat(words * keep * (1 - y), starts)
                fn = np.add.reduceat(words * (1 - keep) * y, starts)
                if html:  # the fall-back: a page whose kept words fall under `share` keeps trafilatura's output whole
                    total = np.add.reduceat(words, starts)
                    whole = (tp + fp < share * total) & (total > 0)
                    tp = np.where(whole, np.add.reduceat(words * y, starts), tp)
                    fp = np.where(whole, np.add.reduceat(words * (1 - y), starts), fp)
                    fn = np.where(whole, 0.0, fn)
                scores.append(_f1_of_counts(tp, fp, fn))
            if float(np.mean(scores)) > best[0]:
                best = (float(np.mean(scores)), replace(candidate, threshold=threshold, revive=revive))
    return best[1]


def folds(pages: Sequence[Page], k: int, seed: int) -> list[int]:
    """Assign each page a fold in 0..k-1, dealing each set's shuffled pages round-robin (k-fold by page)."""
    rng = random.Random(seed)
    fold = [0] * len(pages)
    for dataset in dict.fromkeys(p.dataset for p in pages):
        members = [n for n, p in enumerate(pages) if p.dataset == dataset]
        rng.shuffle(members)
        for j, n in enumerate(members):
            fold[n] = j % k
    return fold


def learned_by_set(pages: Sequence[Page]) -> dict[str, frozenset[str]]:
    """Learn the chrome recurring across each set's text pages, as a batch of an inbox would."""
    out = {}
    for dataset in dict.fromkeys(p.dataset for p in pages):
        out[dataset] = learn_boilerplate([p.text for p in pages if p.dataset == dataset]).keys
    return out


@dataclass(frozen=True)
class Dataset:
    """Every page's text and HTML examples, its trafilatura extractions per mode and title, in page order."""

    pages: list[Page]
    text: list[Examples]
    html: list[Examples]
    found: list[dict[Pick, HtmlResult]]
    titles: list[str]


def build(pages: list[Page], options: CleanOptions = SELECTOR_OPTIONS, log: Callable[[str], None] = print) -> Dataset:
    """Compute the examples of every page (trafilatura runs once per page and mode)."""
    t0 = time.perf_counter()
    learned = learned_by_set(pages)
    text = [text_examples(p, learned[p.dataset]) for p in pages]
    log(f"text features: {len(pages)} pages in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    read = [html_of(p, options) for p in pages]
    empty = Examples(np.zeros((0, len(HTML_FEATURES))), np.zeros(0), np.zeros(0))
    html = [html_examples(p, f[Pick.RECALL], t) if Pick.RECALL in f else empty for p, (f, t) in zip(pages, read)]
    log(f"html candidates and blocks: {len(pages)} pages in {time.perf_counter() - t0:.1f} s")
    return Dataset(pages, text, html, [f for f, _ in read], [t for _, t in read])


def train(data: Dataset, members: Sequence[int], seed: int, options: CleanOptions = DEFAULT_OPTIONS) -> CleanModel:
    """Fit and tune both line/block models on the given pages only; each development set weighs the same in total."""
    sets = [data.pages[n].dataset for n in members]
    size = {name: sets.count(name) for name in set(sets)}
    weights = [1.0 / size[name] for name in sets]
    models = []
    for kind, names in (("text", TEXT_FEATURES), ("html", HTML_FEATURES)):
        rows = [getattr(data, kind)[n] for n in members]
        groups = [[e for e, name in zip(rows, sets) if name == dataset] for dataset in size]
        models.append(tune(fit(rows, names, seed, weights), groups, kind == "html", options.fallback_share))
    return CleanModel(models[0], models[1], TRAINED_ON)


def choice_table(
    data: Dataset, fold: Sequence[int], models: Sequence[CleanModel], options: CleanOptions = DEFAULT_OPTIONS
) -> tuple[np.ndarray, dict[Pick, np.ndarray]]:
    """Return every page's selector features and each candidate's (P, R), the block model's out-of-fold.

    The learned-blocks candidate of a page comes from the fold model that never saw it (stacking).
    """
    rows: list[np.ndarray] = []
    scores: dict[Pick, list[tuple[float, float]]] = {pick: [] for pick in Pick}
    for n, (page, found, title) in enumerate(zip(data.pages, data.found, data.titles)):
        key = normalise(title)
        texts: dict[Pick, list[str]] = {}
        if Pick.DEFAULT in found:
            texts = {pick: kept_texts(whole_decisions(r, key, pick, "")) for pick, r in found.items()}
        if Pick.RECALL in found:
            texts[Pick.MODEL] = kept_texts(html_decisions(found[Pick.RECALL], title, models[fold[n]].html, options=options))
        for pick in Pick:
            texts.setdefault(pick, texts.get(Pick.DEFAULT, []))
        rows.append(choice_features(texts))
        for pick in Pick:
            scores[pick].append(page_scores("\n\n".join(texts[pick]), page.truth))
    return np.vstack(rows), {pick: np.asarray(v) for pick, v in scores.items()}


def fold_models(
    data: Dataset, k: int, seed: int, options: CleanOptions = DEFAULT_OPTIONS
) -> tuple[list[int], list[CleanModel], CleanModel]:
    """Return each page's fold, the k models (model j trained on every page outside fold j) and the final model.

    The final model is trained on every page; its selector on every page's out-of-fold candidates.
    """
    fold = folds(data.pages, k, seed)
    models = [train(data, [n for n in range(len(fold)) if fold[n] != j], seed, options) for j in range(k)]
    x, scores = choice_table(data, fold, models, options)
    sets = [p.dataset for p in data.pages]
    models = [
        replace(m, choose=fit_selector(x, scores, sets, [n for n in range(len(fold)) if fold[n] != j], seed))
        for j, m in enumerate(models)
    ]
    final = train(data, list(range(len(fold))), seed, options)
    return fold, models, replace(final, choose=fit_selector(x, scores, sets, range(len(fold)), seed))


def html_text(data: Dataset, n: int, model: CleanModel, options: CleanOptions = DEFAULT_OPTIONS) -> str:
    """Return what `clean_article` keeps of page n's HTML with `model`, from the extractions already made."""
    found = data.found[n]
    if Pick.DEFAULT not in found:
        return ""
    decisions = html_verdict(found, data.titles[n], model, frozenset(), options)
    body = [d.text for d in decisions if d.kept and d.role is not None and d.role is not Role.TITLE]
    return "\n\n".join(body) if sum(word_count(t) for t in body) >= options.min_body_words else ""


def _oof_keep(model: CleanModel, kind: str, e: Examples) -> np.ndarray:
    if kind == "html":
        return html_keep(model.html, e, DEFAULT_OPTIONS.fallback_share)
    return model.text.keep(e.x, *rules_masks(e.x))[1]


def print_page_table(data: Dataset, fold: Sequence[int], models: Sequence[CleanModel]) -> None:
    """Print page-level shingle F1 per set, out-of-fold: text, and HTML per candidate beside the chosen one."""
    from digest.clean import LearnedBoilerplate, clean_article

    _, scores = choice_table(data, fold, models)
    learned = learned_by_set(data.pages)
    for dataset in SETS:
        idx = [n for n, p in enumerate(data.pages) if p.dataset == dataset]
        if not idx:
            continue
        rows: list[tuple[str, list[tuple[float, float]]]] = []
        chrome = LearnedBoilerplate(learned[dataset])
        text = []
        for n in idx:
            try:
                cleaned = clean_article(data.pages[n].text, chrome, CleanOptions(model=models[fold[n]])).text
            except InputError:
                cleaned = ""
            text.append(page_scores(cleaned, data.pages[n].truth))
        rows.append(("text: digest.clean", text))
        for pick in Pick:
            rows.append((f"html: always {pick.value}", [(float(scores[pick][n][0]), float(scores[pick][n][1])) for n in idx]))
        rows.append(("html: digest.clean (chosen)", [page_scores(html_text(data, n, models[fold[n]]), data.pages[n].truth) for n in idx]))
        for name, pairs in rows:
            p, r = float(np.mean([a for a, _ in pairs])), float(np.mean([b for _, b in pairs]))
            f = 2 * p * r / (p + r) if p + r else 0.0
            print(f"{dataset:22} {name:42} {len(pairs):5d} pages  P {p:.3f}  R {r:.3f}  F1 {f:.3f}  (out-of-fold)")


def main(argv: Sequence[str] | None = None) -> int:
    """Train, print the out-of-fold line-level figures, and write the model file."""
    parser = argparse.ArgumentParser(prog="python -m digest.clean.train", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("model.json"))
    args = parser.parse_args(argv)
    if not (args.corpus / SETS[0]).is_dir():
        print(f"no corpus at {args.corpus}: pass --corpus DIR (the folder holding {', '.join(SETS)})", file=sys.stderr)
        return 2
    pages = load_pages(args.corpus)
    data = build(pages)
    fold, models, final = fold_models(data, args.folds, args.seed)
    for dataset in SETS:
        idx = [n for n, p in enumerate(pages) if p.dataset == dataset]
        for kind in ("text", "html"):
            rows = [getattr(data, kind)[n] for n in idx]
            if kind == "text":
                rules = page_f1(rows, [e.x[:, TEXT_FEATURES.index("rules keep it")] > 0 for e in rows])
            else:
                rules = page_f1(rows, [np.ones(len(e.y), dtype=bool) for e in rows])
            oof = page_f1(rows, [_oof_keep(models[fold[n]], kind, e) for n, e in zip(idx, rows)])
            base = "rules" if kind == "text" else "trafilatura's blocks"
            print(f"{dataset:22} {kind:4}  line-level word F1 out-of-fold {oof:.3f}  ({base}: {rules:.3f})")
    print_page_table(data, fold, models)
    args.out.write_text(json.dumps(final.to_json(), indent=1) + "\n", "utf-8")
    print(
        f"wrote {args.out} ({args.out.stat().st_size} bytes): text threshold {final.text.threshold},"
        f" smoothing {final.text.smoothing}; html threshold {final.html.threshold}, smoothing {final.html.smoothing}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
