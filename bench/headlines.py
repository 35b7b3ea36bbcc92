"""Measure headlines and outlet names on real pages; with --fit, train the headline model.

    python bench/headlines.py           # out-of-fold headline hit rate, outlet hit rate
    python bench/headlines.py --fit     # ... and write digest/meta/headline_model.json

Headlines (corpus/headlines-dev, 280 labelled Google News pages): a page is a hit when the headline
found matches the labelled one with word-token F1 >= 0.8. Our figure is out-of-fold (5 folds,
pages of one site kept in one fold), printed beside trafilatura's metadata title on the same pages.
Outlets (corpus/extraction-benchmark, 91 pages with their URLs): a page is right when the outlet
shown names its site (its registered domain, or a name that spells one of the domain's labels);
file names shown as outlets are counted apart (they must be none).

Figures (7 Dec 2026, `python bench/headlines.py`):
    headlines from html: 0.879 out-of-fold (a right candidate on 0.971); trafilatura metadata title 0.636
    headlines from text: 0.846 out-of-fold (a right candidate on 0.971)
    headlines from text as shipped (the model, checked by the layout rules): 0.843; the rules alone 0.714
    outlets from html: 0.934 right (85/91); file names shown: 0
    outlets from text: 0.659 right (60/91); file names shown: 0
Of the six HTML outlets the measure does not tie to their domain, three are the site's own name
(Connecticut Post on ctpost.com, Experience on expapp.com, the Japanese name of note100yen.com); the
other three pages declare neither a name nor a URL, and show no outlet rather than a guess.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from trafilatura import extract_metadata
from trafilatura.utils import load_html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import ingest  # noqa: E402
from digest.clean import classify_text, clean_article, refused_lines  # noqa: E402
from digest.errors import InputError  # noqa: E402
from digest.meta.headline import Candidate, html_candidates, text_candidates, token_f1  # noqa: E402
from digest.meta.outlet import names_site, registered_domain  # noqa: E402
from digest.meta.page import first_line, settle  # noqa: E402
from digest.models import Source  # noqa: E402
from digest.render import outlet_label  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
HEADLINES = CORPUS / "headlines-dev"
BENCH = CORPUS / "extraction-benchmark"
MODEL = ROOT / "digest" / "meta" / "headline_model.json"
HIT = 0.8  # token F1 that makes a headline right
FOLDS = 5
SEED = 20
C = 1.0  # inverse regularisation of the logistic model
PAIRS = 60  # other candidates a page's headline is compared with, at most (drawn with the seed)


def _markup(path: Path) -> str:
    data = ingest.read_bytes(path, 20_000_000)
    try:
        return ingest.decode(data, path)[0]
    except InputError:  # a few pages carry NUL bytes: the inbox refuses them, the measure reads them anyway
        return data.replace(b"\x00", b"").decode("utf-8", errors="replace")


def _rules(text: str) -> tuple[str | None, frozenset[str]]:
    """Return the clean stage's layout rules' title line and the lines they refuse as a headline (model inputs)."""
    verdict = classify_text(text)
    title = verdict.decisions[verdict.title_index].text if verdict.title_index is not None else None
    return title, refused_lines(verdict.decisions)


def load_pages() -> list[dict[str, object]]:
    """Read every labelled page: its candidates from HTML and text, trafilatura's title, its site."""
    truth = json.loads((HEADLINES / "truth.json").read_text("utf-8"))
    pages = []
    for pid in sorted(truth):
        tree = load_html(_markup(HEADLINES / "html" / f"{pid}.html.gz"))
        html_cands: list[Candidate] = []
        meta_title, site = None, pid
        if tree is not None:
            doc = extract_metadata(tree, extensive=False)
            meta_title = doc.title if doc else None
            site = registered_domain(doc.url if doc else None) or pid
            html_cands = html_candidates(tree, meta_title, doc.url if doc else None)
        text = (HEADLINES / "text" / f"{pid}.txt").read_text("utf-8", errors="replace")
        rule, refused = _rules(text)
        pages.append(
            {
                "id": pid,
                "truth": truth[pid]["headline"],
                "site": site,
                "traf": meta_title or "",
                "html": html_cands,
                "text": text_candidates(text, rule),
                "rule": rule,
                "refused": refused,
                "body": text,
            }
        )
    return pages


def _matrix(pages: Sequence[dict[str, object]], kind: str, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, labels, owner = [], [], []
    for n, page in enumerate(pages):
        for cand in page[kind]:  # type: ignore[attr-defined]
            rows.append([cand.features.get(name, 0.0) for name in names])
            labels.append(token_f1(cand.text, str(page["truth"])) >= HIT)
            owner.append(n)
    return np.array(rows, dtype=float), np.array(labels), np.array(owner)


def _fit(x: np.ndarray, y: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    """Fit the scorer on pairs within a page (the headline against each other candidate): it ranks, then picks."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    rng = np.random.default_rng(SEED)
    diffs = []
    for n in np.unique(owner):
        mine = np.flatnonzero(owner == n)
        right, wrong = mine[y[mine]], mine[~y[mine]]
        if len(wrong) > PAIRS:
            wrong = rng.choice(wrong, PAIRS, replace=False)
        for r in right[:3]:
            diffs.append(z[r] - z[wrong])
    d = np.vstack(diffs)
    model = LogisticRegression(C=C, fit_intercept=False, max_iter=5000, random_state=SEED)
    model.fit(np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))])
    return mean, scale, model


def evaluate(pages: Sequence[dict[str, object]], kind: str) -> tuple[float, float, dict[str, object], list[str]]:
    """Return (out-of-fold hit rate, share of pages with any right candidate, the model fitted on all, the picks)."""
    names = sorted({name for page in pages for cand in page[kind] for name in cand.features})  # type: ignore[attr-defined]
    x, y, owner = _matrix(pages, kind, names)
    groups = np.array([str(pages[n]["site"]) for n in owner])
    scores = np.full(len(y), -np.inf)
    for train, test in GroupKFold(n_splits=FOLDS).split(x, y, groups):
        mean, scale, model = _fit(x[train], y[train], owner[train])
        scores[test] = model.decision_function((x[test] - mean) / scale)
    hits = reachable = 0
    misses = []
    picks = []
    for n, page in enumerate(pages):
        mine = np.flatnonzero(owner == n)
        picks.append(page[kind][int(np.argmax(scores[mine]))].text if mine.size else "")  # type: ignore[index]
        reachable += bool(mine.size and y[mine].any())
        if mine.size and y[mine[np.argmax(scores[mine])]]:
            hits += 1
        elif mine.size:
            misses.append((page["truth"], page[kind][int(np.argmax(scores[mine]))].text))  # type: ignore[index]
    mean, scale, model = _fit(x, y, owner)
    fitted = {
        "names": names,
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": 0.0,
    }
    if "-v" in sys.argv:
        for truth, got in misses:
            print(f"  miss [{kind}] truth={truth!r} got={got!r}")
    return hits / len(pages), reachable / len(pages), fitted, picks


def outlet_right(shown: str, url: str) -> bool:
    """Tell whether a shown outlet names the page's site: its registered domain or a name spelling it."""
    domain = registered_domain(url)
    host = (url.split("/")[2] if "//" in url else "").lower().removeprefix("www.")
    return bool(shown) and (shown.lower() in (domain, host) or names_site(shown, domain) or names_site(shown, host))


def outlets() -> None:
    """Print the outlet hit rate on extraction-benchmark pages, from HTML and from text, and file names shown."""
    truth = json.loads((BENCH / "ground-truth.json").read_text("utf-8"))
    for kind, folder, suffix in (("html", "html", ".html.gz"), ("text", "text", ".txt")):
        right = file_names = total = 0
        wrong: list[str] = []
        for pid in sorted(truth):
            path = BENCH / folder / f"{pid}{suffix}"
            if not path.exists():
                continue
            total += 1
            try:
                article = clean_article(ingest.load_file(path))
                shown = outlet_label(Source(article.id, article.outlet, article.title, str(path), article.url))
            except InputError:
                shown = ""
            if shown and shown.lower() in (path.name.lower(), pid.lower(), path.stem.lower()):
                file_names += 1
            if outlet_right(shown, truth[pid]["url"]):
                right += 1
            else:
                wrong.append(f"  {kind}: {registered_domain(truth[pid]['url'])} -> {shown!r}")
        print(f"outlets from {kind}: {right / total:.3f} right ({right}/{total}); file names shown: {file_names}")
        if "-v" in sys.argv:
            print("\n".join(wrong))


def main() -> None:
    """Run the measures; with --fit, write the model fitted on every page."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="write digest/meta/headline_model.json")
    parser.add_argument("-v", action="store_true", help="list the misses")
    parser.add_argument("--no-outlets", action="store_true", help="skip the outlet measure")
    parser.add_argument("--outlets", action="store_true", help="only the outlet measure")
    args = parser.parse_args()
    if args.outlets:
        outlets()
        return
    pages = load_pages()
    traf = sum(token_f1(str(p["traf"]), str(p["truth"])) >= HIT for p in pages) / len(pages)
    model: dict[str, object] = {"trained_by": "python bench/headlines.py --fit", "seed": SEED, "hit_f1": HIT}
    for kind in ("html", "text"):
        rate, reach, fitted, picks = evaluate(pages, kind)
        beside = f"; trafilatura metadata title {traf:.3f}" if kind == "html" else ""
        print(f"headlines from {kind}: {rate:.3f} out-of-fold ({len(pages)} pages; a right candidate on {reach:.3f}){beside}")
        if kind == "text":
            # as the clean stage ships it: the model's pick unless the rules refuse its line or only theirs has the title line's word
            rules = sum(token_f1(str(p["rule"] or ""), str(p["truth"])) >= HIT for p in pages) / len(pages)
            body = [str(p["body"]) for p in pages]
            shipped = [
                settle(b, first_line(b), pick, p["rule"], p["refused"]) or ""  # type: ignore[arg-type]
                for b, pick, p in zip(body, picks, pages, strict=True)
            ]
            ok = sum(token_f1(got, str(p["truth"])) >= HIT for got, p in zip(shipped, pages, strict=True)) / len(pages)
            print(f"headlines from text as shipped (the model, checked by the layout rules): {ok:.3f}; the rules alone {rules:.3f}")
        model[kind] = fitted
        model[f"{kind}_out_of_fold"] = round(rate, 3)
    if args.fit:
        MODEL.write_text(json.dumps(model, indent=1) + "\n", "utf-8")
        print(f"wrote {MODEL.relative_to(ROOT)}")
    if not args.no_outlets:
        outlets()


if __name__ == "__main__":
    main()
