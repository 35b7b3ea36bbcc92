"""Fetching from a real HTTP server on 127.0.0.1: feeds made from the corpus pages, conditional GETs,
and the trouble real feeds bring (500, timeouts, redirects, private addresses, huge bodies, gzip
bombs, invalid XML, duplicate guids, robots.txt). Then `digest run --fetch` end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest import ingest
from digest.settings import Settings, Source, load_settings
from digest.sources.fetch import FetchResult, fetch_all

sys.path.insert(0, str(Path(__file__).parent))
from support.feed_server import FeedServer, Item, Resource, gzip_bomb, rss, story_feeds

ROOT = Path(__file__).resolve().parents[1]
CAP = 2_000_000


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def settings_for(tmp: Path, sources: list[Source], **more: Any) -> Settings:
    values: dict[str, Any] = {"allow_private_addresses": True, "fetch_host_delay": 0, "fetch_timeout": 1.0,
                              "fetch_max_bytes": CAP}
    values.update(more)
    return load_settings(None, inbox=tmp / "inbox", state=tmp / "state", sources=sources, **values)


def quiet(lines: list[str]) -> Any:
    return lines.append


def by_name(result: FetchResult) -> dict[str, Any]:
    return {s.name: s for s in result.sources}


def test_feeds_of_every_format_fill_the_inbox_once(tmp_path: Path, server: FeedServer, corpus: Path) -> None:
    feeds = story_feeds(server, corpus / "extraction-benchmark")
    settings = settings_for(tmp_path, [Source(url=u, name=n) for n, u in feeds["urls"].items()])
    lines: list[str] = []
    first = fetch_all(settings, quiet(lines))
    assert all(s.outcome == "ok" for s in first.sources), lines
    pages = feeds["pages"]
    assert len(first.saved) == len(pages)
    outlets = {}
    for path in first.saved:
        meta = ingest.load_file(path).meta
        outlets[meta.url] = meta.outlet
    for name, items in feeds["items"].items():
        for item in items:
            assert outlets[item.link] == name
    # the entry whose feed carries its full text was never fetched as a page
    full = feeds["items"]["Evening Ledger"][0]
    assert full.content and not server.hits(full.link.split(str(server.port))[1])
    fetched_pages = [h for h in server.hits() if h.path.startswith("/articles/")]
    assert len(fetched_pages) == len(pages) - 1
    # second run: every feed answers 304 to its conditional GET and no page is downloaded again
    server.clear_log()
    second = fetch_all(settings, quiet(lines))
    assert second.saved == []
    assert sorted(h.status for h in server.hits()) == [304, 304, 304]
    assert all("if-none-match" in h.headers for h in server.hits())


def test_every_kind_of_trouble_fails_only_itself(tmp_path: Path, server: FeedServer, corpus: Path) -> None:
    feeds = story_feeds(server, corpus / "extraction-benchmark", stories=1)
    good = {n: u for n, u in feeds["urls"].items() if n != "Daily Packet"}
    page = server.add("/articles/dup.html", Resource(b"<html><head><title>Dup</title></head><body><p>" + b"Text. " * 300 + b"</p></body></html>"))
    dup_items = [Item("urn:same", "First copy", page, feeds["items"]["Morning Wire"][0].date, "a"),
                 Item("urn:same", "Second copy", page + "?2", feeds["items"]["Morning Wire"][0].date, "b")]
    broken_items = [Item("urn:broken:1", "Readable despite the XML", page + "?b", feeds["items"]["Morning Wire"][0].date, "c")]
    trouble = {
        "Server Error": server.add("/feeds/500.xml", Resource(b"oops", status=500)),
        "Too Slow": server.add("/feeds/slow.xml", Resource(rss("Slow", []), "application/rss+xml", delay=3)),
        "Not A Feed": server.add("/feeds/home.html", Resource(b"<html><body><h1>Welcome</h1></body></html>")),
        "Huge": server.add("/feeds/huge.xml", Resource(content_type="application/rss+xml", endless=50_000_000)),
        "Bomb": server.add("/feeds/bomb.xml", Resource(gzip_bomb(256), "application/rss+xml", encoding="gzip")),
        "Missing": server.url("/feeds/nothing-here.xml"),
        "Broken XML": server.add("/feeds/broken.xml", Resource(rss("Broken", broken_items, broken=True), "application/rss+xml")),
        "Dupes": server.add("/feeds/dupes.xml", Resource(rss("Dupes", dup_items), "application/rss+xml")),
    }
    sources = [Source(url=u, name=n) for n, u in {**trouble, **good}.items()]
    lines: list[str] = []
    result = by_name(fetch_all(settings_for(tmp_path, sources), quiet(lines)))
    expected = {
        "Server Error": "HTTP 500",
        "Too Slow": "timed out",
        "Not A Feed": "not a feed",
        "Huge": "larger than 2,000,000 bytes",
        "Bomb": "larger than 2,000,000 bytes",
        "Missing": "HTTP 404",
    }
    for name, reason in expected.items():
        assert result[name].outcome == "failed" and reason in result[name].reason, (name, result[name].reason)
        assert any(name in line and reason in line for line in lines), (name, lines)
    # the endless body was cut long before its 50 MB, the bomb long before its 256 MiB
    assert max(h.sent for h in server.hits("/feeds/huge.xml")) < 50_000_000
    assert result["Broken XML"].outcome == "ok" and result["Broken XML"].warning
    assert len(result["Broken XML"].saved) == 1
    assert len(result["Dupes"].saved) == 1  # two entries, one guid
    for name in good:
        assert result[name].outcome == "ok" and result[name].saved


def test_a_failing_feed_keeps_its_state_and_is_retried(tmp_path: Path, server: FeedServer, corpus: Path) -> None:
    feeds = story_feeds(server, corpus / "extraction-benchmark", stories=1)
    url = feeds["urls"]["Morning Wire"]
    path = url.split(str(server.port), 1)[1]
    settings = settings_for(tmp_path, [Source(url=url, name="Morning Wire")])
    assert fetch_all(settings, quiet([])).saved
    good = server.routes[path]
    server.routes[path] = Resource(b"down", status=503)
    assert by_name(fetch_all(settings, quiet([])))["Morning Wire"].reason == "HTTP 503"
    server.routes[path] = good
    server.clear_log()
    again = by_name(fetch_all(settings, quiet([])))["Morning Wire"]
    assert again.outcome == "not-modified"  # the ETag survived the failure
    assert server.hits(path)[0].headers["if-none-match"] == good.etag


def test_redirects_are_followed_by_hand_within_the_limit(tmp_path: Path, server: FeedServer, corpus: Path) -> None:
    feeds = story_feeds(server, corpus / "extraction-benchmark", stories=1)
    target = feeds["urls"]["Morning Wire"]
    for i in range(7):
        nxt = target if i == 0 else f"/hop{i - 1}"
        server.add(f"/hop{i}", Resource(status=301, headers={"Location": nxt}))
    sources = [Source(url=server.url("/hop2"), name="Three Hops"), Source(url=server.url("/hop6"), name="Seven Hops")]
    result = by_name(fetch_all(settings_for(tmp_path, sources, fetch_max_redirects=5), quiet([])))
    assert result["Three Hops"].outcome == "ok" and result["Three Hops"].saved
    assert result["Seven Hops"].outcome == "failed" and "more than 5 redirects" in result["Seven Hops"].reason


def test_private_addresses_are_refused_after_dns_and_after_redirects(tmp_path: Path, corpus: Path) -> None:
    # The public side is the server on 127.0.0.1 opened with allow_networks (as an intranet feed
    # server would be); 127.0.0.2 is a second, real server the policy does not open.
    with FeedServer("127.0.0.1") as public, FeedServer("127.0.0.2") as private:
        feeds = story_feeds(private, corpus / "extraction-benchmark", stories=1)
        inner = feeds["urls"]["Morning Wire"]
        hop = public.add("/to-private", Resource(status=302, headers={"Location": inner}))
        by_host = f"http://localhost:{public.port}/feeds/any.xml"
        sources = [Source(url=hop, name="Redirect Inside")]
        closed = settings_for(tmp_path, sources, allow_private_addresses=False, allow_networks=["127.0.0.1/32"])
        result = by_name(fetch_all(closed, quiet([])))["Redirect Inside"]
        assert "127.0.0.2" in result.reason and "loopback" in result.reason
        assert [h.status for h in public.hits("/to-private")] == [302]  # the first hop was allowed
        assert private.hits() == []  # the redirect target was refused before connecting
        # a host name is checked by the addresses it resolves to
        named = settings_for(tmp_path / "named", [Source(url=by_host, name="By Name")], allow_private_addresses=False)
        result = by_name(fetch_all(named, quiet([])))["By Name"]
        assert "localhost" in result.reason and "loopback" in result.reason
        assert public.hits("/feeds/any.xml") == []
        # the same redirect with the network allowed reaches the feed: the refusal above was the check
        opened = settings_for(tmp_path / "open", sources[:1], allow_private_addresses=False, allow_networks=["127.0.0.0/8"])
        assert by_name(fetch_all(opened, quiet([])))["Redirect Inside"].saved


def test_robots_txt_is_respected_and_the_feed_text_stands_in(tmp_path: Path, server: FeedServer) -> None:
    when = datetime(2026, 11, 23, tzinfo=UTC)
    server.add("/robots.txt", Resource(b"User-agent: digest\nDisallow: /members/\n", "text/plain"))
    page = server.add("/members/story.html", Resource(b"<html><body><p>secret</p></body></html>"))
    with FeedServer() as broken:  # another site whose robots.txt answers 500: everything is off limits
        broken.add("/robots.txt", Resource(b"down", status=500))
        other = broken.add("/story.html", Resource(b"<html><body><p>page</p></body></html>"))
        feed = server.add("/feed.xml", Resource(rss("Members", [
            Item("m1", "Members story", page, when, "The teaser says enough."),
            Item("m2", "Elsewhere", other, when, "Another teaser."),
        ]), "application/rss+xml"))
        result = by_name(fetch_all(settings_for(tmp_path, [Source(url=feed, name="Members")]), quiet([])))["Members"]
        assert broken.hits("/story.html") == []
    assert server.hits("/members/story.html") == []
    texts = {ingest.load_file(p).meta.title: ingest.load_file(p).text for p in result.saved}
    assert "The teaser says enough." in texts["Members story"] and "Another teaser." in texts["Elsewhere"]
    assert {ingest.load_file(p).meta.outlet for p in result.saved} == {"Members"}


def test_user_agent_is_honest_and_requests_per_host_are_spaced(tmp_path: Path, server: FeedServer, corpus: Path) -> None:
    feeds = story_feeds(server, corpus / "extraction-benchmark", stories=1)
    settings = settings_for(tmp_path, [Source(url=feeds["urls"]["Morning Wire"], name="W")], fetch_host_delay=0.2,
                            fetch_per_host=1)
    import time

    started = time.monotonic()
    fetch_all(settings, quiet([]))
    hits = server.hits()
    assert len(hits) >= 3  # feed, robots.txt, page
    assert time.monotonic() - started >= 0.2 * (len(hits) - 1)
    assert all(h.headers["user-agent"].startswith("digest/") for h in hits)


def digest_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "digest.cli", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_run_fetch_digests_the_feeds_stories_with_their_names_as_outlets(tmp_path: Path, server: FeedServer, corpus: Path) -> None:
    feeds = story_feeds(server, corpus / "extraction-benchmark")
    (tmp_path / "subs.opml").write_bytes(__import__("urllib.request").request.urlopen(feeds["opml"]).read())
    env = {"DIGEST_ALLOW_PRIVATE_ADDRESSES": "true", "DIGEST_FETCH_HOST_DELAY": "0",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}  # a loaded CI machine starts slowly
    imported = digest_cli("sources", "import", "subs.opml", cwd=tmp_path, env=env)
    assert imported.returncode == 0 and "3 new added" in imported.stdout, imported.stderr
    exported = digest_cli("sources", "export", cwd=tmp_path, env=env)
    assert all(u in exported.stdout for u in feeds["urls"].values())
    server.clear_log()
    run = digest_cli("run", "--fetch", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    path = Path(tmp_path / run.stdout.strip().splitlines()[-1].removeprefix("digest: "))
    data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    outlets = {src["outlet"] for story in data["stories"] for src in story["sources"]}
    assert outlets == set(feeds["names"])
    # every fetched page became an article of the digest (how they group into stories is the
    # cluster stage's business: the corpus groups are told by several feeds each)
    assert sum(len(story["sources"]) for story in data["stories"]) == len(feeds["pages"])
    assert len(data["stories"]) <= len(feeds["pages"]) - 2
    assert any(len({src["outlet"] for src in story["sources"]}) >= 2 for story in data["stories"])
    # a second fetch (the code the flow runs, without starting Prefect again) downloads nothing new:
    # three conditional GETs answered 304, nothing else
    server.clear_log()
    sources = [Source(url=u, name=n) for n, u in feeds["urls"].items()]
    again = fetch_all(load_settings(None, inbox=tmp_path / "inbox", state=tmp_path / ".digest", sources=sources,
                                    allow_private_addresses=True, fetch_host_delay=0), quiet([]))
    assert again.saved == []
    assert sorted((h.path, h.status) for h in server.hits()) == sorted(
        (u.split(str(server.port), 1)[1], 304) for u in feeds["urls"].values())
