"""A real HTTP server on 127.0.0.1 for the sources tests and bench: feeds generated at run time from
the corpus pages, conditional GETs, and every kind of trouble a feed reader meets.

Routes are plain data (`Resource`) registered by path; every request is logged (method, path,
status, request headers) so tests can prove what was and was not downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Resource:
    """What one path answers."""

    body: bytes = b""
    content_type: str = "text/html"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # answer 304 to a matching If-None-Match / If-Modified-Since
    encoding: str | None = None  # Content-Encoding of `body` as stored (e.g. an already-gzipped page)
    delay: float = 0.0  # seconds before answering (a timeout)
    endless: int = 0  # stream this many bytes of filler instead of `body`
    trickle: float = 0.0  # send the whole response (headers too) one byte every this many seconds
    trickle_body_only: bool = False  # ... but the headers at once: only the body trickles
    last_modified: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 8, 0, tzinfo=UTC))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class Hit:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    sent: int  # body bytes written


class FeedServer:
    """A threaded HTTP server on `host`, port chosen by the OS; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Resource] = {}
        self.log: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._answer(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients hang up on purpose (size caps, timeouts): nothing to report

        self.httpd = Server((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path: str, resource: Resource) -> str:
        self.routes[path] = resource
        return self.url(path)

    def hits(self, path: str | None = None, status: int | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self.log if (path is None or h.path == path) and (status is None or h.status == status)]

    def wait_for_hit(self, path: str, seconds: float = 30.0) -> Hit:
        """The first logged request of `path`, waiting up to `seconds` for its answer to end."""
        until = time.monotonic() + seconds
        while not self.hits(path):
            if time.monotonic() > until:
                raise AssertionError(f"no request of {path} was answered")
            time.sleep(0.05)
        return self.hits(path)[0]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _record(self, handler: BaseHTTPRequestHandler, status: int, sent: int) -> None:
        with self._lock:
            self.log.append(Hit("GET", handler.path, status, {k.lower(): v for k, v in handler.headers.items()}, sent))

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        res = self.routes.get(h.path.split("#")[0].split("?")[0])
        if res is None:
            return self._send(h, 404, b"not found", {"Content-Type": "text/plain"})
        if res.delay:
            time.sleep(res.delay)
        headers = {"Content-Type": res.content_type, **res.headers}
        if res.status != 200:
            return self._send(h, res.status, res.body, headers)
        if res.conditional:
            headers["ETag"] = res.etag
            headers["Last-Modified"] = format_datetime(res.last_modified, usegmt=True)
            if h.headers.get("If-None-Match") == res.etag or (
                "If-None-Match" not in h.headers and h.headers.get("If-Modified-Since") == headers["Last-Modified"]
            ):
                return self._send(h, 304, b"", {"ETag": res.etag})
        if res.endless:
            return self._stream(h, res.endless, headers)
        if res.trickle:
            return self._trickle(h, res, headers)
        body = res.body
        if res.encoding:
            headers["Content-Encoding"] = res.encoding
        return self._send(h, 200, body, headers)

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        sent = 0
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if body and status not in (204, 304):
                h.wfile.write(body)
                sent = len(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._record(h, status, sent)

    def _trickle(self, h: BaseHTTPRequestHandler, res: Resource, headers: dict[str, str]) -> None:
        """Send the response a byte at a time, `res.trickle` seconds apart, until done or the client leaves."""
        head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(res.body)}\r\n\r\n"
        sent = 0
        try:
            if res.trickle_body_only:
                h.wfile.write(head.encode("latin-1"))
                h.wfile.flush()
                data = res.body
            else:
                data = head.encode("latin-1") + res.body
            for i in range(len(data)):
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
                sent += 1
                time.sleep(res.trickle)
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True
        self._record(h, 200, sent)

    def _stream(self, h: BaseHTTPRequestHandler, total: int, headers: dict[str, str]) -> None:
        chunk = b"<p>" + b"x" * 65530 + b"</p>"
        sent = 0
        try:
            h.send_response(200)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(total))
            h.end_headers()
            while sent < total:
                piece = chunk[: total - sent]
                h.wfile.write(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._record(h, 200, sent)


# --- content generated from the corpus --------------------------------------------------

TITLE = re.compile(r'<meta[^>]+property="og:title"[^>]+content="([^"]+)"|<title[^>]*>(.*?)</title>', re.I | re.S)


def page_title(markup: str) -> str:
    match = TITLE.search(markup)
    raw = (match.group(1) or match.group(2)) if match else "Untitled"
    return " ".join(html.unescape(raw).split())


@dataclass(frozen=True)
class Item:
    """One feed entry pointing at a page on the server."""

    guid: str
    title: str
    link: str
    date: datetime
    summary: str
    content: str | None = None  # full article text, when the feed carries it


def rss(title: str, items: list[Item], broken: bool = False) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
        f"<title>{html.escape(title)}</title><link>http://example.org/</link><description>test</description>",
    ]
    for it in items:
        parts.append(
            f"<item><title>{html.escape(it.title)}</title><link>{html.escape(it.link)}</link>"
            f"<guid isPermaLink=\"false\">{html.escape(it.guid)}</guid>"
            f"<pubDate>{format_datetime(it.date)}</pubDate>"
            f"<description>{html.escape(it.summary)}</description>"
            + (f"<content:encoded><![CDATA[{it.content}]]></content:encoded>" if it.content else "")
            + "</item>"
        )
    parts.append("</channel></rss>")
    text = "\n".join(parts)
    if broken:  # what real feeds get wrong: a bare ampersand, an undefined entity, an unclosed element
        text = text.replace("<description>test</description>", "<description>news & views &nbsp; <b>today</description>")
        text = text.replace("</channel></rss>", "</channel>")
    return text.encode("utf-8")


def atom(title: str, items: list[Item]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{html.escape(title)}</title><id>urn:test:{html.escape(title)}</id>"
             f"<updated>{datetime.now(UTC).isoformat()}</updated>"]
    for it in items:
        body = (f'<content type="html">{html.escape(it.content)}</content>' if it.content
                else f'<summary type="text">{html.escape(it.summary)}</summary>')
        parts.append(
            f"<entry><title>{html.escape(it.title)}</title><link rel=\"alternate\" href=\"{html.escape(it.link)}\"/>"
            f"<id>{html.escape(it.guid)}</id><updated>{it.date.isoformat()}</updated>{body}</entry>"
        )
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


def json_feed(title: str, items: list[Item]) -> bytes:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "items": [
            {"id": it.guid, "url": it.link, "title": it.title, "date_published": it.date.isoformat(),
             "summary": it.summary, **({"content_html": it.content} if it.content else {})}
            for it in items
        ],
    }).encode("utf-8")


def opml(feeds: list[tuple[str, str]]) -> bytes:
    outlines = "\n".join(
        f'<outline text="{html.escape(n)}" title="{html.escape(n)}" type="rss" xmlUrl="{html.escape(u)}"/>' for n, u in feeds
    )
    return (f'<?xml version="1.0"?>\n<opml version="2.0"><head><title>test</title></head><body>\n'
            f'<outline text="News">\n{outlines}\n</outline></body></opml>\n').encode()


def gzip_bomb(megabytes: int) -> bytes:
    """A valid gzip stream of `megabytes` MiB of zeros, about 1000:1, built in well under a second.

    After a full flush deflate forgets its history, so every further MiB compresses to the same bytes.
    """
    block = b"\0" * (1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)
    return header + first + again * (megabytes - 1) + comp.flush() + trailer


@dataclass
class CorpusPage:
    id: str
    gz: bytes  # the page as stored (gzip)
    title: str
    body: str  # the human-checked article text


def corpus_pages(bench: Path, ids: list[str]) -> list[CorpusPage]:
    truth = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for pid in ids:
        gz = (bench / "html" / f"{pid}.html.gz").read_bytes()
        markup = gzip.decompress(gz).decode("utf-8", errors="replace")
        pages.append(CorpusPage(pid, gz, page_title(markup), truth[pid]["articleBody"]))
    return pages


def item_for(server: FeedServer, page: CorpusPage, when: datetime, full: bool = False) -> Item:
    """An entry for a corpus page served gzip-encoded at /articles/ID.html."""
    link = server.add(f"/articles/{page.id}.html", Resource(page.gz, "text/html", encoding="gzip"))
    sentences = page.body.split(". ")
    content = "".join(f"<p>{html.escape(p)}</p>" for p in page.body.split("\n") if p.strip()) if full else None
    return Item(f"urn:page:{page.id}", page.title, link, when, ". ".join(sentences[:2])[:300], content)


def story_feeds(server: FeedServer, bench: Path, stories: int = 3) -> dict[str, Any]:
    """Three feeds (RSS, Atom, JSON Feed) over the pages of the first `stories` multi-outlet stories.

    Page j of every story goes to feed j, so each story is told by several feeds. The first Atom
    entry carries its full text (no page fetch needed). Returns names, URLs, pages and items.
    """
    groups = json.loads((bench / "stories.json").read_text(encoding="utf-8"))["stories"][:stories]
    names = ["Morning Wire", "Evening Ledger", "Daily Packet"]
    now = datetime.now(UTC).replace(microsecond=0)
    items: dict[str, list[Item]] = {n: [] for n in names}
    pages: dict[str, CorpusPage] = {}
    for s, group in enumerate(groups):
        for j, page in enumerate(corpus_pages(bench, group)):
            feed = names[j % len(names)]
            full = feed == "Evening Ledger" and not items[feed]
            items[feed].append(item_for(server, page, now - timedelta(hours=s, minutes=j), full))
            pages[page.id] = page
    urls = {
        "Morning Wire": server.add("/feeds/wire.xml", Resource(rss("Morning Wire", items["Morning Wire"]), "application/rss+xml")),
        "Evening Ledger": server.add("/feeds/ledger.atom", Resource(atom("Evening Ledger", items["Evening Ledger"]), "application/atom+xml")),
        "Daily Packet": server.add("/feeds/packet.json", Resource(json_feed("Daily Packet", items["Daily Packet"]), "application/feed+json")),
    }
    opml_url = server.add("/subscriptions.opml", Resource(opml(list(urls.items())), "text/x-opml"))
    return {"names": names, "urls": urls, "items": items, "pages": pages, "opml": opml_url, "groups": groups}
