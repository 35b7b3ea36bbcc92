"""Train and measure the furniture-and-comments model of summary sentences, out-of-fold by page.

    .venv/bin/python bench/furniture.py          # print the out-of-fold figures (5 folds by page)
    .venv/bin/python bench/furniture.py --fit    # also write digest/summarise/furniture.json (all pages)

Pages: every headlines-dev page and a seeded sample of cleaning-dev, half as the served HTML and half
as copied plain text, through the real ingest and clean stages. Each summary-worthy body sentence is
labelled against what people marked on its page: 0 if it is in the article body, 1 if it is in the
reader comments (headlines-dev) or in neither (furniture the clean stage kept). The model never sees
a page of the fold it is scored on; the vocabulary is the most frequent words (no labels used).
The threshold shipped is the highest-recall one that drops at most MAX_BODY_LOSS of the article
sentences out-of-fold.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from briefing import grams, inside, tokens  # noqa: E402

from digest.clean import clean_article  # noqa: E402
from digest.errors import InputError  # noqa: E402
from digest.ingest import load_file  # noqa: E402
from digest.models import Role  # noqa: E402
from digest.summarise.furniture import MODEL_FILE, Context, features, fit, words  # noqa: E402
from digest.summarise.tokenizer import split_sentences  # noqa: E402
from digest.summarise.units import whole_sentences, without_dateline, worthy  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
SEED = 7
FOLDS = 5
CLEANING_PAGES = 300
VOCABULARY = 150
MAX_BODY_LOSS = 0.02
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def pages() -> list[tuple[str, Path, set[tuple[str, ...]], set[tuple[str, ...]]]]:
    """Return (page id, file, body 3-grams, comment 3-grams) for every training page."""
    out = []
    labelled = json.loads((CORPUS / "headlines-dev" / "truth.json").read_text(encoding="utf-8"))
    for n, hid in enumerate(sorted(labelled)):
        comments = labelled[hid]["comments"]
        comments = comments if isinstance(comments, list) else [comments]
        body = grams(tokens(labelled[hid]["articleBody"]))
        out.append((f"hd-{hid}", _file("headlines-dev", hid, n), body, grams(tokens(" ".join(comments)))))
    cleaning = json.loads((CORPUS / "cleaning-dev" / "ground-truth.json").read_text(encoding="utf-8"))
    for n, cid in enumerate(sorted(random.Random(SEED).sample(sorted(cleaning), CLEANING_PAGES))):
        out.append((f"cd-{cid}", _file("cleaning-dev", cid, n), grams(tokens(cleaning[cid]["articleBody"])), set()))
    return out


def _file(folder: str, page: str, n: int) -> Path:
    base = CORPUS / folder
    return base / "html" / f"{page}.html.gz" if n % 2 == 0 else base / "text" / f"{page}.txt"


def examples() -> tuple[list[str], list[tuple[str, int, tuple[str, list[str]]]], list[int], list[str]]:
    """Return each sentence's page, (sentence, paragraph, (title, paragraphs)), label and the pages' order."""
    groups, rows, labels = [], [], []
    for page, path, body, comments in pages():
        try:
            article = clean_article(load_file(path))
        except InputError:
            continue
        paragraphs = [whole_sentences(p.text) for p in article.paragraphs if p.role is Role.BODY]
        page_text = (article.title, paragraphs)
        for k, paragraph in enumerate(paragraphs):
            for sentence in map(without_dateline, split_sentences(paragraph)):
                if not worthy(sentence):
                    continue
                if inside(sentence, body):
                    label = 0
                elif (comments and inside(sentence, comments)) or not inside(sentence, body, 0.5):
                    label = 1
                else:
                    continue  # half in the body: neither label is sure
                groups.append(page)
                rows.append((sentence, k, page_text))
                labels.append(label)
    return groups, rows, labels, list(dict.fromkeys(groups))


def auc(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """Return the (weighted) area under the ROC curve: how often a furniture sentence outranks an article one."""
    w = np.ones(len(y)) if w is None else w
    order = np.argsort(-p, kind="stable")
    tp = np.cumsum((w * (y == 1))[order])
    fp = np.cumsum((w * (y == 0))[order])
    if tp[-1] == 0 or fp[-1] == 0:
        return 0.5
    return float(np.trapezoid(np.concatenate([[0.0], tp / tp[-1]]), np.concatenate([[0.0], fp / fp[-1]])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help=f"write digest/summarise/{MODEL_FILE} from all pages")
    parser.add_argument("--cache", type=Path, metavar="FILE", help="keep the cleaned pages' sentences in FILE between runs")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.cache and args.cache.exists():
        groups, rows, labels, order = pickle.loads(args.cache.read_bytes())
    else:
        groups, rows, labels, order = examples()
        if args.cache:
            args.cache.write_bytes(pickle.dumps((groups, rows, labels, order)))
    counts = Counter(w for s, _, _ in rows for w in set(words(s)))
    vocabulary = [w for w, _ in counts.most_common(VOCABULARY)]
    contexts: dict[str, Context] = {}
    for group, (_, _, page) in zip(groups, rows, strict=True):
        if group not in contexts:
            contexts[group] = Context.of(*page)
    columns = {w: k for k, w in enumerate(vocabulary)}
    x = np.array([features(s, k, contexts[g], columns) for g, (s, k, _) in zip(groups, rows, strict=True)], dtype=float)
    y = np.array(labels)
    # every page weighs the same: a forum page of 800 comments must not decide what a sentence is
    size = Counter(groups)
    w = np.array([1.0 / size[g] for g in groups])
    w *= len(w) / w.sum()
    shuffled = list(order)
    random.Random(SEED).shuffle(shuffled)
    fold_of = {page: k % FOLDS for k, page in enumerate(shuffled)}
    folds = np.array([fold_of[g] for g in groups])
    oof = np.zeros(len(y))
    for fold in range(FOLDS):
        train = folds != fold
        model = fit(x[train], y[train], vocabulary, 0.5, weight=w[train])
        oof[~train] = model.probability(x[~train])
    pos, neg = w * (y == 1), w * (y == 0)
    print(f"{len(order)} pages, {len(y)} sentences ({int(y.sum())} furniture or comments), {FOLDS}-fold by page, pages weighted equally")
    print(f"  out-of-fold AUC {auc(y, oof, w):.3f} (sentences unweighted {auc(y, oof):.3f}), Brier {float(np.average((oof - y) ** 2, weights=w)):.4f} (base rate {pos.sum() / w.sum():.3f})")
    print("  calibration (predicted -> observed, weighted sentences):")
    for low in np.arange(0.0, 1.0, 0.1):
        sel = (oof >= low) & (oof < low + 0.1)
        if sel.any():
            print(f"    {low:.1f}-{low + 0.1:.1f}: {np.average(oof[sel], weights=w[sel]):.3f} -> {np.average(y[sel], weights=w[sel]):.3f} ({int(sel.sum())})")
    best = THRESHOLDS[-1]
    print("  threshold: furniture caught (recall), precision, article sentences lost")
    for t in THRESHOLDS:
        drop = oof > t
        recall = float(pos[drop].sum() / max(pos.sum(), 1e-9))
        precision = float(pos[drop].sum() / max(w[drop].sum(), 1e-9))
        lost = float(neg[drop].sum() / max(neg.sum(), 1e-9))
        print(f"    {t:.1f}: {recall:.3f} {precision:.3f} {lost:.3f}")
        if lost <= MAX_BODY_LOSS:
            best = min(best, t)
    print(f"  chosen threshold {best} (at most {MAX_BODY_LOSS:.0%} of article sentences lost, out-of-fold)")
    if args.fit:
        model = fit(x, y, vocabulary, best, weight=w)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        data = {
            "trained_by": "python bench/furniture.py --fit",
            "data": f"headlines-dev (all pages) and {CLEANING_PAGES} cleaning-dev pages, seed {SEED}",
            "folds": FOLDS,
            "out_of_fold_auc_pages_weighted": round(auc(y, oof, w), 4),
            "commit": commit,
            "model": model.to_dict(),
        }
        path = ROOT / "digest" / "summarise" / MODEL_FILE
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
