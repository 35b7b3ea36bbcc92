"""Every network exchange of the fetcher has a total deadline (connect, headers, body, redirects), not
only a per-read timeout: real trickling servers on 127.0.0.1, a hanging name lookup.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.errors import FetchError
from digest.sources.http import Fetcher, FetchOptions
from digest.sources.safety import AddressPolicy

sys.path.insert(0, str(Path(__file__).parent))
from support.feed_server import FeedServer, Resource

OPEN = AddressPolicy(allow_private=True)
BODY = b"<rss version='2.0'><channel><title>Slow news</title></channel></rss>" * 4


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def options(timeout: float) -> FetchOptions:
    return FetchOptions(timeout=timeout, host_delay=0, policy=OPEN)


@pytest.mark.parametrize("body_only", [False, True])
def test_a_response_trickling_a_byte_at_a_time_is_cut_at_the_total_deadline(server: FeedServer, body_only: bool) -> None:
    # each byte comes well within the per-read timeout, so only a total deadline can stop it
    url = server.add("/slow.xml", Resource(BODY, "application/rss+xml", conditional=False, trickle=0.1,
                                           trickle_body_only=body_only))
    with Fetcher(options(timeout=0.4)) as fetcher, pytest.raises(FetchError, match=r"no complete answer within 1\.2 s"):
        fetcher.get(url)
    # the server's trickle ends once the client has gone: its log says how far it got
    assert server.wait_for_hit("/slow.xml").sent < len(BODY)


def test_the_deadline_spans_every_redirect(server: FeedServer) -> None:
    # every hop answers within the per-read timeout; the chain as a whole does not fit the deadline
    for i in range(5):
        server.add(f"/hop{i}", Resource(b"", status=302, headers={"Location": f"/hop{i + 1}"}, delay=0.3))
    server.add("/hop5", Resource(BODY, "application/rss+xml"))
    with Fetcher(FetchOptions(timeout=0.5, host_delay=0, policy=OPEN, max_redirects=6)) as fetcher:
        with pytest.raises(FetchError, match=r"within 1\.5 s"):
            fetcher.get(server.url("/hop0"))
    assert not server.hits("/hop5")


def test_a_name_lookup_that_hangs_is_cut(server: FeedServer) -> None:
    release = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        release.wait(30)
        return ["127.0.0.1"]

    try:
        with Fetcher(options(timeout=0.3), resolver=hanging) as fetcher, pytest.raises(FetchError, match=r"timed out|within"):
            fetcher.get(f"http://feeds.example:{server.port}/x.xml")
    finally:
        release.set()
    assert not server.hits()


def test_a_prompt_server_is_read_whole(server: FeedServer) -> None:
    url = server.add("/fast.xml", Resource(BODY, "application/rss+xml"))
    with Fetcher(options(timeout=0.4)) as fetcher:
        got = fetcher.get(url)
    assert got.status == 200 and got.body == BODY
