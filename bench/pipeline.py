"""Pipeline speed: `digest run`'s Prefect flow vs the same steps called directly, in one process.

Generates an inbox of N articles (default 1,000) from the real pages in ../shared/corpus (plain-text
renderings, paragraphs cut and reordered, some exact and near copies), then digests it twice into
separate state folders: once through the Prefect flow `daily-digest` (ephemeral API, started and
warmed up before timing), once through digest.pipeline without Prefect. Prints both times, the ratio
(Prefect's overhead; target < 1.1x) and articles per second.

    python bench/pipeline.py [--articles 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DIGEST_CORPUS", ROOT.parent / "shared" / "corpus"))
sys.path.insert(0, str(ROOT))
# the inbox is generated and run at once: no settle time (files written seconds ago are otherwise left waiting)
os.environ.setdefault("DIGEST_SETTLE_SECONDS", "0")

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DO_NOT_TRACK", "1")


def generate_inbox(folder: Path, n: int, seed: int) -> int:
    """Write n article files made from the corpus pages; return the bytes written."""
    rng = random.Random(seed)
    pages = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((CORPUS / "extraction-benchmark" / "text").glob("*.txt"))]
    pages += [p.read_text(encoding="utf-8") for p in sorted((CORPUS / "seeds").glob("*.txt"))]
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    prev = ""
    for i in range(n):
        base = pages[i % len(pages)]
        paras = [p for p in base.split("\n\n") if p.strip()]
        if i >= len(pages) and len(paras) > 6:
            # keep the top (title, chrome) and the tail, reorder a window of the body, cut a few
            head, body, tail = paras[:3], paras[3:-3], paras[-3:]
            window = body[:]
            rng.shuffle(window)
            keep = max(3, int(len(window) * rng.uniform(0.6, 1.0)))
            paras = head + window[:keep] + tail
        if i % 97 == 5:  # an exact copy of the previous file
            text = prev
        else:
            text = "\n\n".join(paras) + "\n"
        prev = text
        data = text.encode("utf-8")
        (folder / f"article-{i:05d}.txt").write_bytes(data)
        total += len(data)
    return total


def time_it(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from digest import pipeline
    from digest.settings import load_settings
    from flows.daily_digest import daily_digest

    work = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    try:
        inbox = work / "inbox"
        size = generate_inbox(inbox, args.articles, args.seed)
        print(f"inbox: {args.articles:,} articles, {size / 1e6:.1f} MB in {inbox}")
        quiet = lambda line: None  # noqa: E731

        # Warm up: start the ephemeral Prefect API and import everything, on an empty inbox.
        (work / "empty").mkdir()
        warm = time_it(lambda: daily_digest(inbox=str(work / "empty"), outbox=str(work / "o0"), state=str(work / "s0")))
        print(f"warm-up (ephemeral Prefect API start, empty inbox): {warm:.1f} s")

        direct_settings = load_settings(None, inbox=inbox, outbox=work / "o1", state=work / "s1")
        direct = time_it(lambda: pipeline.run(direct_settings, quiet))
        flow = time_it(
            lambda: daily_digest(inbox=str(inbox), outbox=str(work / "o2"), state=str(work / "s2"))
        )
        ratio = flow / direct
        print()
        print(f"{'run':<28}{'seconds':>10}{'articles/s':>14}")
        print(f"{'stages called directly':<28}{direct:>10.2f}{args.articles / direct:>14.1f}")
        print(f"{'Prefect flow daily-digest':<28}{flow:>10.2f}{args.articles / flow:>14.1f}")
        verdict = "ok" if ratio < 1.1 else "OVER TARGET"
        print(f"pipeline: Prefect overhead {ratio:.3f}x (target < 1.1x: {verdict}); {args.articles / flow:.1f} articles/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
