"""Measure dedupe, clustering and summaries on the real corpus; print one table.

    .venv/bin/python bench/stories.py            # full run
    .venv/bin/python bench/stories.py --quick    # smaller speed and scaling runs

Rows: clustering of the extraction benchmark (+ the five seeds) through the real ingest and clean
stages; duplicates (each page as HTML and as text); ROUGE of summaries against the outlets' own
one-line descriptions beside naive sumy baselines and a lead baseline; speed of our summarise against
sumy's LexRank on one 200-article story; deduplicate + cluster time and peak memory at 1k/10k/100k
articles generated from the real pages. Every baseline is measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.clean import clean_all  # noqa: E402
from digest.cluster import cluster  # noqa: E402
from digest.dedupe import deduplicate  # noqa: E402
from digest.ingest import load_file  # noqa: E402
from digest.models import Article, Paragraph, Role, Story  # noqa: E402
from digest.summarise import split_sentences, summarise, worthy  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import storydata  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
BENCH = CORPUS / "extraction-benchmark"
SEEDS = CORPUS / "seeds"
BASELINES = ("sumy-lexrank", "textrank", "lsa")
ROWS: list[tuple[str, str, str]] = []


def row(metric: str, value: str, note: str = "") -> None:
    """Record one line of the table."""
    ROWS.append((metric, value, note))


def page_of(article: Article) -> str:
    """Return the benchmark page id (or seed name) an article was read from."""
    return re.sub(r"\.(html|txt)(\.gz)?$", "", Path(article.path).name)


def load_corpus() -> tuple[list[Article], dict[str, str]]:
    """Ingest and clean every benchmark page (HTML and text) and the seeds, as the pipeline would."""
    paths = sorted((BENCH / "html").glob("*.html.gz")) + sorted((BENCH / "text").glob("*.txt")) + sorted(SEEDS.glob("*.txt"))
    raws = [load_file(p) for p in paths]
    articles, errors = clean_all(raws)
    for error in errors:
        print(f"clean failed: {error}", file=sys.stderr)
    return articles, {a.id: page_of(a) for a in articles}


def pooled(counts: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
    """Sum pair counts over folds."""
    return (sum(c[0] for c in counts), sum(c[1] for c in counts), sum(c[2] for c in counts))


def best_baseline(batches: Sequence[storydata.Batch]) -> tuple[float, tuple[float, float, float]]:
    """Plain TF-IDF cosine + average linkage at its best threshold (by F1, pooled over the batches)."""
    sweeps = [storydata.baseline_sweep(b) for b in batches]
    scores = {t: storydata.prf(*pooled([s[t] for s in sweeps])) for t in storydata.THRESHOLDS}
    best = max(scores, key=lambda t: scores[t][2])
    return best, scores[best]


def fmt(p: float, r: float, f: float) -> str:
    """Format precision / recall / F1."""
    return f"{p:.3f} / {r:.3f} / {f:.3f}"


def bench_clustering(articles: list[Article], pages: dict[str, str]) -> None:
    """Duplicates on the benchmark; out-of-fold clustering on Multi-News, the benchmark and the seeds, beside a baseline."""
    result = deduplicate(articles)
    groups = [{pages[s.article_id] for s in k.sources} for k in result.kept]
    both = {pages[a.id] for a in articles if a.kind == "html"} & {pages[a.id] for a in articles if a.kind == "text"}
    holders: dict[str, set[str]] = defaultdict(set)
    for kept in result.kept:
        for source in kept.sources:
            holders[pages[source.article_id]].add(kept.id)
    collapsed = sum(1 for page in both if len(holders[page]) == 1)
    false_merges = sum(len(g) - 1 for g in groups if len(g) > 1)
    row("duplicates: pages collapsed to one article", f"{collapsed} / {len(both)}", "HTML page + text copy of each benchmark page")
    row("duplicates: false merges", str(false_merges), "kept articles standing for two different pages")

    # Multi-News: each fold clustered by a model fitted (threshold by inner CV) without any of its stories, on
    # batches of whole topics (the shipped model's training) and the benchmark
    verified = storydata.multi_news_folds()
    by_topic = storydata.multi_news_folds(by_topic=True)
    everything = storydata.multi_news_folds(verified=False)
    bench = storydata.benchmark_batch(articles=articles)
    ours, ours_all, ours_topic = [], [], []
    for k, held in enumerate(verified):
        topics = storydata.multi_news_folds(by_topic=True, without=storydata.stories_of([held]))
        model, _ = storydata.fit_with_cv([*topics, bench])
        ours.append(storydata.evaluate(model, held))
        ours_all.append(storydata.evaluate(model, everything[k]))
    for k, held in enumerate(by_topic):
        model, _ = storydata.fit_with_cv([b for m, b in enumerate(by_topic) if m != k] + [bench])
        ours_topic.append(storydata.evaluate(model, held))
    docs = sum(len(b.truth) for b in verified)
    all_docs = sum(len(b.truth) for b in everything)
    row("clustering: Multi-News P / R / F1 (pairs, out-of-fold)", fmt(*storydata.prf(*pooled(ours))),
        f"{storydata.FOLDS} folds by cluster; {docs} docs that match their cluster's summary")
    t, base = best_baseline(verified)
    row("  baseline: TF-IDF cosine + average linkage", fmt(*base), f"at its best threshold {t} (chosen on these folds)")
    row("clustering: Multi-News by topic P / R / F1 (out-of-fold)", fmt(*storydata.prf(*pooled(ours_topic))),
        f"{storydata.FOLDS} folds of whole topics: other events on one topic in each batch, the topic never trained on")
    t, base = best_baseline(by_topic)
    row("  baseline: TF-IDF cosine + average linkage", fmt(*base), f"at its best threshold {t} (chosen on these folds)")
    row("clustering: Multi-News, all docs, labels as given", fmt(*storydata.prf(*pooled(ours_all))),
        f"{all_docs} docs; ~4 in 10 captures are of another story or a notice")
    t, base = best_baseline(everything)
    row("  baseline: TF-IDF cosine + average linkage", fmt(*base), f"at its best threshold {t}")

    # the benchmark and seeds: a model that never saw a benchmark page
    model, _ = storydata.fit_with_cv(by_topic)
    groups_found = storydata.predict(model, bench)
    pred = {page: g for g, members in enumerate(groups_found) for m in members for page in bench.pages[m]}
    seeds = {p for p, story in bench.truth.items() if story == "seeds"}
    only = {p: g for p, g in pred.items() if p not in seeds}
    row("clustering: benchmark P / R / F1 (pairs)", fmt(*storydata.prf(*storydata.pair_counts(only, bench.truth, bench.skip))),
        f"model fitted on Multi-News only, threshold {model.threshold}; related pairs not scored")
    row("clustering: benchmark + seeds P / R / F1", fmt(*storydata.prf(*bench.counts(groups_found))),
        f"{len(groups_found)} stories from {len(bench.pairs.articles)} articles")
    t, base = best_baseline([bench])
    row("  baseline: TF-IDF cosine + average linkage", fmt(*base), f"at its best threshold {t} (chosen on this set)")
    seed_story = {pred[s] for s in seeds}
    members = {k for k, v in pred.items() if v in seed_story}
    row("seeds: one story of five, nothing else", f"{len(seed_story)} story, {len(members & seeds)} seeds + {len(members - seeds)} others", "")


def rouge_stories(articles: list[Article], pages: dict[str, str]) -> list[tuple[Story, list[str]]]:
    """Build one story per labelled event (and per other page) from the text pages, with its references."""
    labels = json.loads((BENCH / "stories.json").read_text())
    text = {pages[a.id]: a for a in articles if a.kind == "text" and Path(a.path).parent.name == "text"}
    described = {pages[a.id]: a.description for a in articles if a.kind == "html" and a.description}
    grouped = [list(g) for g in labels["stories"]]
    seen = {p for g in grouped for p in g}
    grouped += [[p] for p in sorted(text) if p not in seen]
    out = []
    for group in grouped:
        refs = [described[p] for p in group if p in described]
        members = tuple(text[p] for p in sorted(group) if p in text)
        if refs and members:
            out.append((Story("-".join(group)[:12], members), refs))
    return out


def lead(story: Story, count: int) -> list[str]:
    """Return the first summary-worthy sentences of the story's first article (the lead baseline)."""
    body = [s for p in story.articles[0].body if p.role is Role.BODY for s in split_sentences(p.text)]
    return [s for s in body if worthy(s)][:count]


def bench_rouge(articles: list[Article], pages: dict[str, str], count: int) -> None:
    """ROUGE-1/2/L F of each method's summaries against the outlets' own descriptions."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    stories = rouge_stories(articles, pages)
    methods = {"lexrank (ours)": None, **{f"{m} (sumy, naive)": m for m in BASELINES}, "lead baseline": "lead"}
    for label, method in methods.items():
        totals = Counter()
        for story, refs in stories:
            if method == "lead":
                sentences = lead(story, count)
            else:
                sentences = [s.text for s in summarise(story, method=method or "lexrank", sentences=count).sentences]
            scores = scorer.score_multi(refs, " ".join(sentences))
            for key, value in scores.items():
                totals[key] += value.fmeasure
        n = len(stories)
        row(f"ROUGE-1/2/L F, {count} sentences: {label}",
            f"{totals['rouge1'] / n:.3f} / {totals['rouge2'] / n:.3f} / {totals['rougeL'] / n:.3f}", f"{n} stories")


def fake_name(rng: random.Random) -> str:
    """Make up a pronounceable capitalised name."""
    syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vik", "dor", "el", "an", "bru", "zet", "pol", "ni", "gar",
                 "fen", "ush", "tam", "bel", "ork"]
    return "".join(rng.choice(syllables) for _ in range(4)).capitalize()


def reframe_story(rng: random.Random, pool: Sequence[str], vocab: Sequence[str]) -> list[str]:
    """Turn real paragraphs into a new event: its own names and numbers, and 40% of the topic words swapped.

    Stories cut from the same page then share a topic but not an event, as real different stories do.
    """
    mapping: dict[str, str] = {}
    for word in sorted(set(" ".join(pool).split())):
        if word[:1].isupper():
            mapping[word] = fake_name(rng)
        elif any(c.isdigit() for c in word):
            mapping[word] = str(rng.randint(2, 99_999))
        elif len(word) >= 4 and rng.random() < 0.4:
            mapping[word] = rng.choice(vocab)
    return [" ".join([mapping.get(w, w) for w in p.split()]) for p in pool]


def synthetic_article(rng: random.Random, pool: Sequence[str], ident: str, vocab: Sequence[str]) -> Article:
    """Write one outlet's article of a story: its lead, some other paragraphs, every 6th-9th word its own."""
    chosen = [pool[0], *rng.sample(list(pool[1:]), k=min(len(pool) - 1, rng.randint(2, 4)))]
    body = []
    for paragraph in chosen:
        words = paragraph.split()
        step, offset = rng.randint(6, 9), rng.randint(0, 5)
        body.append(" ".join(rng.choice(vocab) if k % step == offset else w for k, w in enumerate(words)))
    title = " ".join(body[0].split()[:9])
    paragraphs = (Paragraph(title, Role.TITLE), *(Paragraph(p) for p in body))
    return Article(ident, Path(f"gen/{ident}.txt"), ident, "text", title, f"outlet{rng.randint(0, 300)}", paragraphs)


def generate(n: int, seed: int = 1) -> tuple[list[Article], dict[str, int], dict[str, str]]:
    """Generate n articles from the benchmark ground truth: stories of 1-8 articles, 10% republished copies."""
    rng = random.Random(seed)
    truth = json.loads((BENCH / "ground-truth.json").read_text())
    pages = [[" ".join(p.split()[:70]) for p in v["articleBody"].split("\n") if len(p.split()) >= 8][:8]
             for _, v in sorted(truth.items())]
    pages = [p for p in pages if len(p) >= 3]
    vocab = sorted({w for page in pages for p in page for w in p.split() if w.isalpha() and w.islower() and len(w) >= 4})
    articles: list[Article] = []
    story_of: dict[str, int] = {}
    copy_of: dict[str, str] = {}
    story = 0
    while len(articles) < n:
        # each story mixes paragraphs of two pages, re-framed as its own event
        pool = reframe_story(rng, rng.choice(pages)[:6] + rng.choice(pages)[:3], vocab)
        for _ in range(min(rng.randint(1, 8), n - len(articles))):
            ident = f"g{len(articles):07d}"
            if articles and story_of[articles[-1].id] == story and rng.random() < 0.1:
                source = articles[-1]
                edited = tuple(replace(p, text=p.text.replace(" the ", " a ", 1)) for p in source.paragraphs)
                articles.append(replace(source, id=ident, path=Path(f"gen/{ident}.txt"), paragraphs=edited))
                copy_of[ident] = source.id
            else:
                articles.append(synthetic_article(rng, pool, ident, vocab))
            story_of[ident] = story
        story += 1
    return articles, story_of, copy_of


def scale_one(n: int) -> dict[str, float]:
    """Time deduplicate + cluster on n generated articles (run in a fresh process for a clean peak)."""
    articles, story_of, copy_of = generate(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    result = deduplicate(articles)
    middle = time.perf_counter()
    stories = cluster(result.kept)
    end, cpu_end = time.perf_counter(), time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    def keeper(x: str) -> str:
        return result.duplicate_of.get(x, x)

    found = sum(1 for c, source in copy_of.items() if keeper(c) == keeper(source))
    pred = {s.article_id: story.id for story in stories for a in story.articles for s in a.sources}
    tp, fp, fn = contingency_pairs(pred, {a: str(s) for a, s in story_of.items()})
    p, r, f = storydata.prf(tp, fp, fn)
    return {"n": n, "dedupe": middle - start, "cluster": end - middle, "cpu": cpu_end - cpu_start, "peak_mb": peak / 1024, "base_mb": base / 1024,
            "copies": len(copy_of), "found": found,
            "false_dups": sum(1 for d, k in result.duplicate_of.items() if copy_of.get(d) != k and copy_of.get(k) != d and story_of[d] != story_of[k]), "p": p, "r": r, "f": f}


def contingency_pairs(pred: dict[str, str], truth: dict[str, str]) -> tuple[int, int, int]:
    """Same-story pair counts from cluster sizes (linear, so it works at 100,000 articles)."""
    def pairs(counts: Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = pairs(Counter((pred[a], truth[a]) for a in pred))
    return both, pairs(Counter(pred.values())) - both, pairs(Counter(truth[a] for a in pred)) - both


def bench_scaling(sizes: Sequence[int]) -> None:
    """Run each size in its own process and report time, peak memory and quality."""
    previous = None
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--scale-one", str(n)], capture_output=True, text=True, check=True)
        m = json.loads(out.stdout.strip().splitlines()[-1])
        total = m["dedupe"] + m["cluster"]
        growth = ""
        if previous:
            ratio = total / previous[1]
            nlogn = (n * (n.bit_length())) / (previous[0] * previous[0].bit_length())
            growth = f"; x{ratio:.1f} time for x{n / previous[0]:g} articles (n log n: x{nlogn:.1f})"
        previous = (n, total)
        row(f"scale: {n:,} articles dedupe + cluster",
            f"{total:.1f} s (dedupe {m['dedupe']:.1f} + cluster {m['cluster']:.1f}; CPU {m['cpu']:.1f} s), peak {m['peak_mb']:.0f} MB",
            f"copies found {m['found']}/{m['copies']}, cross-story dups {m['false_dups']}; pairs P/R {m['p']:.2f}/{m['r']:.2f}{growth}"
            f"; peak = process high-water mark, {m['base_mb']:.0f} MB before dedupe (imports, generated articles)")


def big_story(articles: list[Article], n_articles: int, seed: int = 2) -> Story:
    """Build one story of n articles (about 40 sentences each) by cutting and reordering real pages."""
    rng = random.Random(seed)
    bodies = [[p for p in a.body if p.role is Role.BODY] for a in articles if a.kind == "text"]
    bodies = [b for b in bodies if len(b) >= 12]
    made = []
    for i in range(n_articles):
        source = rng.choice(bodies)
        paragraphs = [source[0], *rng.sample(source[1:], k=min(len(source) - 1, 30))]
        title = Paragraph(f"Report {i}", Role.TITLE)
        made.append(Article(f"b{i:04d}", Path(f"gen/b{i}.txt"), f"b{i}", "text", f"Report {i}", f"outlet{i}", (title, *paragraphs)))
    return Story("big", tuple(made))


def bench_speed(articles: list[Article], n_articles: int) -> None:
    """Time our summarise against naive sumy LexRank on the same large story, in this run."""
    story = big_story(articles, n_articles)
    sentences = sum(len(split_sentences(p.text)) for a in story.articles for p in a.body)
    start = time.perf_counter()
    summarise(story, method="lexrank")
    ours = time.perf_counter() - start
    start = time.perf_counter()
    summarise(story, method="sumy-lexrank")
    naive = time.perf_counter() - start
    row(f"speed: summarise one story of {n_articles} articles ({sentences:,} sentences)",
        f"{ours:.2f} s vs sumy LexRank {naive:.1f} s = {naive / ours:.0f}x",
        "same story, same run" + ("" if n_articles >= 200 else "; --quick: a smaller story (the full run uses 200 articles)"))


def main() -> None:
    """Parse options and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller speed and scaling runs")
    parser.add_argument("--clustering", action="store_true", help="only the duplicates, clustering and scaling rows")
    parser.add_argument("--sizes", help="comma-separated article counts of the scaling rows (e.g. 25000,100000)")
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_one:
        print(json.dumps(scale_one(args.scale_one)))
        return
    articles, pages = load_corpus()
    bench_clustering(articles, pages)
    if not args.clustering:
        bench_rouge(articles, pages, 5)
        bench_speed(articles, 40 if args.quick else 200)
    if args.sizes:
        bench_scaling([int(n) for n in args.sizes.split(",") if n.strip()])
    else:
        bench_scaling([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    width = max(len(m) for m, _, _ in ROWS)
    vwidth = max(len(v) for _, v, _ in ROWS)
    print(f"{'metric':<{width}}  {'value':<{vwidth}}  note")
    print(f"{'-' * width}  {'-' * vwidth}  ----")
    for metric, value, note in ROWS:
        print(f"{metric:<{width}}  {value:<{vwidth}}  {note}")


if __name__ == "__main__":
    main()
