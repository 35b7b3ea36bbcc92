"""Labelled story data and the out-of-fold machinery shared by bench/stories.py and bench/train_story_model.py.

Batches are what the pipeline would see: articles ingested and cleaned from the corpus, deduplicated,
then handed to the clusterer's candidate index. Labels never leave this module except as pair labels.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.clean import clean_all  # noqa: E402
from digest.cluster import FEATURES, PairModel, Pairs, candidate_pairs, cut, merges  # noqa: E402
from digest.dedupe import deduplicate  # noqa: E402
from digest.ingest import load_file  # noqa: E402
from digest.models import Article  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
BENCH = CORPUS / "extraction-benchmark"
SEEDS = CORPUS / "seeds"
MULTI_NEWS = CORPUS / "multi-news-dev"
SEED = 12
FOLDS = 5
# pooled pairwise precision the threshold is chosen for, leave-one-batch-out over batches of whole topics: each
# holds several events on one topic (an election, a war, a crash search) that the scoring model never saw
PRECISION_TARGET = 0.95
TOPICS = 60  # topic groups the Multi-News stories are split into before they are dealt to folds
THRESHOLDS = tuple(round(t, 3) for t in np.arange(0.10, 0.951, 0.025))
C = 1.0  # inverse regularisation of the logistic model


def page_of(article: Article | str) -> str:
    """Return the page id (benchmark id, seed name or Multi-News doc id) of an article or a path."""
    path = article if isinstance(article, str) else str(article.path)
    return re.sub(r"\.(html|txt)(\.gz)?$", "", Path(path).name)


@dataclass(frozen=True)
class Batch:
    """One clustering batch: its candidate pairs with features, and the true story of every page."""

    name: str
    pairs: Pairs
    pages: tuple[tuple[str, ...], ...]  # per ordered article: the pages it stands for (itself and its copies)
    truth: dict[str, str]  # page -> story label
    skip: frozenset[tuple[str, str]]  # page pairs not scored (related: either way is fine)

    def labels(self) -> np.ndarray:
        """Return 1 for candidate pairs of one story, 0 for two stories, -1 for unscored pairs."""
        story = [self.truth[p[0]] for p in self.pages]
        out = np.array([story[a] == story[b] for a, b in zip(self.pairs.i.tolist(), self.pairs.j.tolist())], dtype=int)
        for k, (a, b) in enumerate(zip(self.pairs.i.tolist(), self.pairs.j.tolist())):
            if (min(self.pages[a][0], self.pages[b][0]), max(self.pages[a][0], self.pages[b][0])) in self.skip:
                out[k] = -1
        return out

    def counts(self, groups: Sequence[Sequence[int]]) -> tuple[int, int, int]:
        """Pairwise true positives, false positives and false negatives over pages for predicted groups."""
        pred = {page: g for g, members in enumerate(groups) for m in members for page in self.pages[m]}
        return pair_counts(pred, self.truth, self.skip)


def pair_counts(pred: dict[str, int | str], truth: dict[str, str], skip: frozenset[tuple[str, str]]) -> tuple[int, int, int]:
    """Same-story pair counts from cluster sizes (linear), corrected for the unscored pairs."""
    def pairs(counts: Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = pairs(Counter((pred[p], truth[p]) for p in pred))
    tp, fp, fn = both, pairs(Counter(pred.values())) - both, pairs(Counter(truth[p] for p in pred)) - both
    for a, b in skip:
        if a in pred and b in pred and truth[a] != truth[b] and pred[a] == pred[b]:
            fp -= 1
    return tp, fp, fn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def clean_paths(paths: Sequence[Path]) -> list[Article]:
    """Ingest and clean files as the pipeline would (files the cleaner rejects are left out)."""
    articles, _errors = clean_all([load_file(p) for p in paths])
    return articles


def make_batch(name: str, articles: Sequence[Article], truth: dict[str, str], skip: frozenset[tuple[str, str]] = frozenset()) -> Batch:
    """Deduplicate articles and index the kept ones into candidate pairs."""
    kept = deduplicate(articles).kept
    pairs = candidate_pairs(kept)
    pages = tuple(tuple(dict.fromkeys(page_of(s.path) for s in a.sources)) for a in pairs.articles)
    seen = {p for ps in pages for p in ps}
    return Batch(name, pairs, pages, {p: truth.get(p, p) for p in seen}, skip)


def on_story(clusters: dict[str, dict]) -> set[str]:
    """Return the Multi-News docs whose text matches their own cluster's human summary best of all summaries.

    Many captures in Multi-News are of something else (another story, an archive notice): in this sample
    about 4 docs in 10 match another cluster's summary better than their own. Plain TF-IDF over the raw
    docs and summaries decides; the clusterer is not involved.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids = sorted(clusters)
    docs = [(f, k) for k, cid in enumerate(ids) for f in clusters[cid]["files"]]
    texts = [(MULTI_NEWS / "docs" / f"{f}.txt").read_text(encoding="utf-8", errors="replace") for f, _ in docs]
    summaries = [clusters[cid]["summary"] for cid in ids]
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit(texts + summaries)
    similarity = (vectorizer.transform(texts) @ vectorizer.transform(summaries).T).toarray()
    own = similarity[np.arange(len(docs)), [k for _, k in docs]]
    return {f for (f, _), mine, best in zip(docs, own, similarity.max(axis=1)) if mine >= best}


def multi_news_clusters() -> dict[str, dict]:
    """Read the Multi-News clusters (`{CID: {files, summary}}`)."""
    clusters: dict[str, dict] = json.loads((MULTI_NEWS / "clusters.json").read_text())
    return clusters


@lru_cache(maxsize=2)
def multi_news_articles(verified: bool = True) -> tuple[Article, ...]:
    """Ingest and clean the Multi-News docs once per process (only those `on_story` with `verified`)."""
    clusters = multi_news_clusters()
    keep = on_story(clusters) if verified else {f for c in clusters.values() for f in c["files"]}
    return tuple(a for a in clean_paths(sorted((MULTI_NEWS / "docs").glob("*.txt"))) if page_of(a) in keep)


def story_folds(folds: int = FOLDS, seed: int = SEED) -> dict[str, int]:
    """Deal the Multi-News clusters to folds at random (seeded): each fold a mix of unrelated stories."""
    ids = sorted(multi_news_clusters())
    random.Random(seed).shuffle(ids)
    return {cid: k % folds for k, cid in enumerate(ids)}


def topic_folds(folds: int = FOLDS) -> dict[str, int]:
    """Deal the Multi-News clusters to folds by topic: each fold holds whole topics, several stories of each.

    Topics are groups of clusters whose human summaries are alike (plain TF-IDF, average linkage; the
    summaries only decide the folds). A batch of one fold then holds different events on one topic, and
    a model scored on it never saw that topic: the same event in other words beside other events on the
    same subject, as in partisan coverage of one political season.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.feature_extraction.text import TfidfVectorizer

    clusters = multi_news_clusters()
    ids = sorted(clusters)
    rows = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit_transform([clusters[c]["summary"] for c in ids])
    tree = linkage(rows.toarray(), method="average", metric="cosine")
    groups: dict[int, list[str]] = {}
    for cid, label in zip(ids, fcluster(tree, TOPICS, criterion="maxclust").tolist()):
        groups.setdefault(label, []).append(cid)
    sizes = [0] * folds
    fold_of = {}
    for group in sorted(groups.values(), key=lambda g: (-len(g), g[0])):  # largest topics first, to the emptiest fold
        k = min(range(folds), key=lambda f: (sizes[f], f))
        sizes[k] += len(group)
        fold_of.update(dict.fromkeys(group, k))
    return fold_of


def multi_news_folds(folds: int = FOLDS, seed: int = SEED, verified: bool = True, by_topic: bool = False,
                     without: frozenset[str] = frozenset()) -> list[Batch]:
    """Make one batch per fold of Multi-News clusters (dealt at random, or `by_topic`), leaving out `without`.

    With `verified`, only the docs that match their own cluster's summary (`on_story`) are used.
    """
    fold_of = topic_folds(folds) if by_topic else story_folds(folds, seed)
    truth = {f: cid for cid, c in multi_news_clusters().items() for f in c["files"]}
    articles = [a for a in multi_news_articles(verified) if truth[page_of(a)] not in without]
    kind = "topic" if by_topic else "story"
    return [make_batch(f"multi-news {kind} fold {k + 1}", [a for a in articles if fold_of[truth[page_of(a)]] == k], truth)
            for k in range(folds)]


def stories_of(batches: Sequence[Batch]) -> frozenset[str]:
    """Return the story labels of every page in some batches."""
    return frozenset(story for b in batches for story in b.truth.values())


def benchmark_batch(with_seeds: bool = True, articles: Sequence[Article] | None = None) -> Batch:
    """The extraction benchmark's pages (HTML and text) and, optionally, the seeds, as one batch.

    `articles`: the same files already cleaned (they are cleaned here otherwise).
    """
    labels = json.loads((BENCH / "stories.json").read_text())
    truth = {p: f"story{i}" for i, group in enumerate(labels["stories"]) for p in group}
    paths = sorted((BENCH / "html").glob("*.html.gz")) + sorted((BENCH / "text").glob("*.txt"))
    if with_seeds:
        paths += sorted(SEEDS.glob("*.txt"))
        truth.update({page_of(p.name): "seeds" for p in SEEDS.glob("*.txt")})
    skip = frozenset(pair for group in labels["related"] for pair in itertools.combinations(sorted(group), 2))
    if articles is None:
        articles = clean_paths(paths)
    wanted = {page_of(p.name) for p in paths}
    articles = [a for a in articles if page_of(a) in wanted]
    return make_batch("benchmark" + (" + seeds" if with_seeds else ""), articles, truth, skip)


def fit(batches: Sequence[Batch], threshold: float = 0.5) -> PairModel:
    """Fit the logistic pair model on the scored candidate pairs of some batches."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([b.pairs.features for b in batches])
    y = np.concatenate([b.labels() for b in batches])
    x, y = x[y >= 0], y[y >= 0]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000, random_state=SEED).fit((x - mean) / scale, y)
    return PairModel(tuple(mean.round(6).tolist()), tuple(scale.round(6).tolist()), tuple(lr.coef_[0].round(6).tolist()),
                     round(float(lr.intercept_[0]), 6), threshold)


def sweep(model: PairModel, batch: Batch) -> dict[float, tuple[int, int, int]]:
    """Cluster a batch with a model and return its pair counts at every threshold of the grid."""
    n = len(batch.pairs.articles)
    merged = merges(n, batch.pairs.i, batch.pairs.j, batch.pairs.probability(model), model.floor)
    return {t: batch.counts(cut(n, merged, t)) for t in THRESHOLDS}


def choose_threshold(counts: dict[float, tuple[int, int, int]], target: float = PRECISION_TARGET) -> float:
    """Pick the threshold of best recall whose pooled precision reaches the target (else the most precise)."""
    ok = [t for t, c in counts.items() if prf(*c)[0] >= target]
    if ok:
        return max(ok, key=lambda t: (prf(*counts[t])[1], -t))
    return max(counts, key=lambda t: (prf(*counts[t])[0], -t))


def fit_with_cv(batches: Sequence[Batch]) -> tuple[PairModel, dict[float, tuple[int, int, int]]]:
    """Fit on all batches; choose the threshold by leave-one-batch-out clustering of the others."""
    pooled: dict[float, list[int]] = {t: [0, 0, 0] for t in THRESHOLDS}
    for k, held in enumerate(batches):
        model = fit([b for m, b in enumerate(batches) if m != k])
        for t, c in sweep(model, held).items():
            pooled[t] = [x + y for x, y in zip(pooled[t], c)]
    counts = {t: (c[0], c[1], c[2]) for t, c in pooled.items()}
    return replace(fit(batches), threshold=choose_threshold(counts)), counts


def predict(model: PairModel, batch: Batch) -> list[list[int]]:
    """Cluster a batch with a model at its threshold; return the groups of article positions."""
    n = len(batch.pairs.articles)
    merged = merges(n, batch.pairs.i, batch.pairs.j, batch.pairs.probability(model), model.floor, model.threshold)
    return cut(n, merged, model.threshold)


def evaluate(model: PairModel, batch: Batch) -> tuple[int, int, int]:
    """Cluster a batch with a model at its threshold; return the pair counts."""
    return batch.counts(predict(model, batch))


def baseline_sweep(batch: Batch) -> dict[float, tuple[int, int, int]]:
    """Plain TF-IDF cosine over every pair of the batch's articles, average linkage, at every grid threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [f"{a.title}\n{a.text}" for a in batch.pairs.articles]
    rows = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    distance = np.clip(1.0 - (rows @ rows.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    out = {}
    for t in THRESHOLDS:
        labels = fcluster(tree, 1.0 - t, criterion="distance")
        groups: dict[int, list[int]] = {}
        for k, label in enumerate(labels.tolist()):
            groups.setdefault(label, []).append(k)
        out[t] = batch.counts(list(groups.values()))
    return out


__all__ = ["FEATURES", "Batch", "baseline_sweep", "benchmark_batch", "choose_threshold", "evaluate", "fit",
           "fit_with_cv", "multi_news_folds", "pair_counts", "predict", "prf", "stories_of", "sweep"]
