"""Fetch throughput and what conditional GETs save, against a local feed server.

Feeds are generated from the corpus pages (RSS, Atom and JSON Feed in turn, every fifth entry with
its full text in the feed); the pages are served gzip-encoded as stored. Three runs in one process:

- baseline: a bare httpx client GETs every feed and every page once (no checks, no parsing, no files)
- first fetch: `fetch_all` with every limit on (host delay 0 so the machine, not politeness, is timed)
- second fetch: the same again, after nothing changed: conditional GETs and the entry memory

    .venv/bin/python bench/fetch.py [--feeds 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.feed_server import FeedServer, Resource, atom, corpus_pages, item_for, json_feed, rss  # noqa: E402

from digest.settings import Source, load_settings  # noqa: E402
from digest.sources.fetch import fetch_all  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction-benchmark"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10)
    args = parser.parse_args()
    ids = sorted(p.name.removesuffix(".html.gz") for p in (CORPUS / "html").glob("*.html.gz"))
    pages = corpus_pages(CORPUS, ids)
    now = datetime.now(UTC).replace(microsecond=0)
    makers = [(rss, "application/rss+xml", "xml"), (atom, "application/atom+xml", "atom"), (json_feed, "application/feed+json", "json")]
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        sources = []
        for f in range(args.feeds):
            mine = pages[f :: args.feeds]
            items = [item_for(server, p, now - timedelta(minutes=i), full=i % 5 == 0) for i, p in enumerate(mine)]
            make, ctype, ext = makers[f % 3]
            url = server.add(f"/feeds/{f}.{ext}", Resource(make(f"Feed {f}", items), ctype))
            sources.append(Source(url=url, name=f"Feed {f}"))
        entries = len(pages)
        urls = [s.url for s in sources if s.url] + [server.url(f"/articles/{p.id}.html") for p in pages]

        started = time.perf_counter()
        with httpx.Client() as client:
            for u in urls:
                client.get(u).raise_for_status()
        base_s = time.perf_counter() - started
        raw_bytes = sum(h.sent for h in server.hits())

        settings = load_settings(None, inbox=Path(tmp) / "inbox", state=Path(tmp) / "state", sources=sources,
                                 allow_private_addresses=True, fetch_host_delay=0)
        server.clear_log()
        started = time.perf_counter()
        first = fetch_all(settings, lambda line: None)
        first_s = time.perf_counter() - started
        first_hits = server.hits()

        server.clear_log()
        started = time.perf_counter()
        second = fetch_all(settings, lambda line: None)
        second_s = time.perf_counter() - started
        second_hits = server.hits()

    saved = len(first.saved)
    page_gets = sum(1 for h in first_hits if h.path.startswith("/articles/"))
    not_modified = sum(1 for h in second_hits if h.status == 304)
    naive = len(sources) + page_gets  # a fetcher without validators or entry memory GETs all of it again
    print(f"{'run':34} {'seconds':>8} {'entries/s':>10} {'requests':>9} {'body bytes':>11}")
    print(f"{'baseline: bare httpx GETs':34} {base_s:8.2f} {entries / base_s:10.1f} {len(urls):9d} {raw_bytes:11,d}")
    print(f"{'first fetch (fetch_all)':34} {first_s:8.2f} {saved / first_s:10.1f} {len(first_hits):9d} "
          f"{sum(h.sent for h in first_hits):11,d}")
    print(f"{'second fetch, nothing changed':34} {second_s:8.2f} {'':>10} {len(second_hits):9d} "
          f"{sum(h.sent for h in second_hits):11,d}")
    print(f"fetch: {len(sources)} feeds, {entries} entries ({entries - page_gets} carried whole by their feed, "
          f"{page_gets} pages fetched), {saved} saved; {saved / first_s:.1f} entries/s "
          f"({first_s / base_s:.2f}x the bare-GET baseline's time)")
    print(f"conditional GETs: second run {len(second_hits)} requests ({not_modified} answered 304, "
          f"{len(second.saved)} entries saved) vs {naive} for a refetch without validators or entry memory: "
          f"{naive - len(second_hits)} requests saved")


if __name__ == "__main__":
    main()
