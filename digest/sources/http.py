"""A careful HTTP client for feeds and pages: httpx with a per-read timeout and a total deadline per
fetch (name lookup, connect, headers, body and every redirect: a server trickling a byte a second is
cut), a size cap counted on decoded bytes, redirects followed by hand (each hop checked), a few
requests per host with a delay between them, an honest User-Agent and robots.txt.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from digest.errors import FetchError, UnsafeAddress
from digest.settings import Settings
from digest.sources.safety import AddressPolicy, Budget, GuardedBackend, Resolver, check_url, resolve

REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024  # decoded bytes per decompression step: a bomb never inflates more at once
ROBOTS_MAX_BYTES = 500_000  # Google's limit for robots.txt is 500 KiB
MAX_CRAWL_DELAY = 30.0  # a larger Crawl-delay would stall the whole run; we wait this much at most


def user_agent() -> str:
    try:
        ver = version("digest")
    except PackageNotFoundError:  # running from a source tree without installing
        ver = "dev"
    return f"digest/{ver} (personal news digest; fetches subscribed feeds and their articles)"


@dataclass(frozen=True)
class FetchOptions:
    """Every limit of the fetcher, from the settings."""

    timeout: float = 20.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    per_host: int = 2
    host_delay: float = 1.0
    user_agent: str = field(default_factory=user_agent)
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    workers: int = 8  # requests in flight over all hosts

    @property
    def deadline(self) -> float:
        """Seconds one fetch may take in all (connect, headers, body, every redirect): a trickle is cut here."""
        return self.timeout * 3

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchOptions:
        return cls(
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
            max_redirects=settings.fetch_max_redirects,
            per_host=settings.fetch_per_host,
            host_delay=settings.fetch_host_delay,
            user_agent=settings.fetch_user_agent or user_agent(),
            policy=AddressPolicy.of(settings.allow_private_addresses, settings.allow_networks),
        )


@dataclass(frozen=True)
class Fetched:
    """One response read whole (within the cap)."""

    url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: int = 0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class HostGate:
    """At most `per_host` requests in flight to one host, their starts `delay` seconds apart."""

    def __init__(self, per_host: int, delay: float) -> None:
        self.per_host = per_host
        self.delay = delay
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str, delay: float | None = None) -> Iterator[None]:
        with self._lock:
            sem = self._slots.setdefault(host, threading.Semaphore(self.per_host))
        with sem:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next.get(host, now))
                self._next[host] = start + (self.delay if delay is None else max(delay, self.delay))
            if start > now:
                time.sleep(start - now)
            yield


class _Decoder:
    """Undo one Content-Encoding step by step, never inflating more than CHUNK bytes at once."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self.inflater: Any = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self.inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            self.inflater = None
        self.first = True

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self.inflater is None:
            yield data
            return
        while data:
            try:
                out = self.inflater.decompress(data, CHUNK)
            except zlib.error:
                if self.encoding == "deflate" and self.first:  # raw deflate without the zlib header
                    self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    self.first = False
                    continue
                raise
            self.first = False
            data = self.inflater.unconsumed_tail
            if out:
                yield out
            if self.inflater.eof:
                return


# httpcore's errors as httpx's, as httpx's own transport maps them (most specific first)
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = tuple(
    (getattr(httpcore, name), getattr(httpx, name))
    for name in (
        "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException", "ConnectError", "ReadError",
        "WriteError", "RemoteProtocolError", "LocalProtocolError", "UnsupportedProtocol", "NetworkError", "ProtocolError",
    )
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = next((ours for theirs, ours in _ERRORS if isinstance(exc, theirs)), None)
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


class _Body(httpx.SyncByteStream):
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self.inner

    def close(self) -> None:
        if hasattr(self.inner, "close"):
            self.inner.close()


class GuardedTransport(httpx.BaseTransport):
    """httpx over an httpcore connection pool on the guarded, budgeted backend (public API of both)."""

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self.pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port, target=request.url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            resp = self.pool.handle_request(req)
        return httpx.Response(status_code=resp.status, headers=resp.headers, stream=_Body(resp.stream), extensions=resp.extensions)

    def close(self) -> None:
        self.pool.close()


class Fetcher:
    """Fetch URLs under the options' limits; one per run, shared by its threads. Close it after use."""

    def __init__(self, options: FetchOptions, resolver: Resolver = resolve) -> None:
        self.options = options
        self.gate = HostGate(options.per_host, options.host_delay)
        self.budget = Budget()
        # the guarded backend checks every address connected to (after DNS, on every hop)
        transport = GuardedTransport(httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max(options.workers, options.per_host) * 2,
            network_backend=GuardedBackend(options.policy, resolver, self.budget),
            retries=0,
        ))
        self.client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
            trust_env=False,  # a proxy would connect for us and bypass the address check
            headers={"User-Agent": options.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._robots: dict[str, RobotFileParser | bool] = {}
        self._robots_lock = threading.Lock()
        self.requests = 0  # HTTP requests sent, for the report and the bench
        self._count_lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, headers: dict[str, str] | None = None, max_bytes: int | None = None) -> Fetched:
        """GET `url`, following redirects by hand; return the response (304 included).

        Raises FetchError (or UnsafeAddress) with the reason: HTTP status >= 400, timeout, too
        large, too many redirects, unsafe address, bad URL.
        """
        cap = max_bytes or self.options.max_bytes
        current = url
        left = self.options.deadline  # for all hops; waiting for the host's turn does not count
        for hop in range(self.options.max_redirects + 1):
            _, host, _ = check_url(current)
            with self.gate.slot(host, self.crawl_delay(current)):
                started = time.monotonic()
                fetched = self._one(current, headers or {}, cap, hop, left, origin=url)
                left -= time.monotonic() - started
            if fetched.status in REDIRECTS:
                location = fetched.headers.get("location")
                if not location:
                    raise FetchError(url, f"HTTP {fetched.status} redirect without a Location")
                current = urljoin(current, location.strip())
                continue
            if fetched.status >= 400:
                raise FetchError(url, f"HTTP {fetched.status}{' after redirects to ' + current if hop else ''}")
            return fetched
        raise FetchError(url, f"more than {self.options.max_redirects} redirects (last: {current})")

    def _one(
        self, url: str, headers: dict[str, str], cap: int, hop: int, seconds: float, origin: str | None = None
    ) -> Fetched:
        """One request and its response, within `seconds` in all; errors name `origin` (the URL asked for)."""
        origin = origin or url
        if seconds <= 0:
            raise FetchError(origin, f"no answer within {self.options.deadline:g} s in all (redirects to {url}); cut off")
        with self._count_lock:
            self.requests += 1
        try:
            with self.budget.running(seconds), self.client.stream("GET", url, headers=headers) as resp:
                got = {k.lower(): v for k, v in resp.headers.items()}
                if resp.status_code in REDIRECTS or resp.status_code == 304 or resp.status_code >= 400:
                    return Fetched(str(resp.url), resp.status_code, got, b"", hop)
                body = self._read(url, resp, got.get("content-encoding", ""), cap)
                return Fetched(str(resp.url), resp.status_code, got, body, hop)
        except httpx.TimeoutException as exc:
            if self.budget.cut():
                raise FetchError(
                    origin, f"no complete answer within {self.options.deadline:g} s (connect, headers and body); cut off"
                ) from exc
            raise FetchError(origin, f"timed out after {self.options.timeout:g} s ({exc.__class__.__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{exc.__class__.__name__}: {exc}") from exc

    def _read(self, url: str, resp: httpx.Response, encoding: str, cap: int) -> bytes:
        steps = [e.strip().lower() for e in encoding.split(",") if e.strip() and e.strip().lower() != "identity"]
        if len(steps) > 1 or (steps and steps[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")
        decoder = _Decoder(steps[0] if steps else "identity")
        parts: list[bytes] = []
        size = raw = 0
        try:
            for chunk in resp.iter_raw():
                raw += len(chunk)
                for out in decoder.decode(chunk):
                    size += len(out)
                    if size > cap or raw > cap:
                        raise FetchError(url, f"response larger than {cap:,} bytes (fetch_max_bytes); cut off")
                    parts.append(out)
        except zlib.error as exc:
            raise FetchError(url, f"broken {encoding} compression ({exc})") from exc
        return b"".join(parts)

    # --- robots.txt -------------------------------------------------------------------------

    def robots(self, url: str) -> RobotFileParser | bool:
        """The parsed robots.txt of the URL's site; True = all allowed, False = all disallowed."""
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            if root in self._robots:
                return self._robots[root]
        rules: RobotFileParser | bool
        try:
            _, host, _ = check_url(root)
            with self.gate.slot(host):
                got = self._one(root + "/robots.txt", {}, ROBOTS_MAX_BYTES, 0, self.options.deadline)
            if 400 <= got.status < 500 or got.status in REDIRECTS:
                rules = True  # RFC 9309: an unavailable robots.txt allows everything
            elif got.status >= 500:
                rules = False  # unreachable: assume everything is disallowed
            else:
                rules = RobotFileParser(root + "/robots.txt")
                rules.parse(got.body.decode("utf-8", errors="replace").splitlines())
        except UnsafeAddress:
            rules = True  # not robots' business: the page fetch itself fails with the real reason
        except FetchError as exc:
            rules = "larger than" in exc.reason  # an oversized robots.txt is ignored; unreachable = disallow
        with self._robots_lock:
            self._robots[root] = rules
        return rules

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets our User-Agent fetch `url`."""
        rules = self.robots(url)
        if isinstance(rules, bool):
            return rules
        return rules.can_fetch(self.options.user_agent, url)

    def crawl_delay(self, url: str) -> float | None:
        """The robots.txt Crawl-delay for us, when already known (never fetched for this)."""
        parts = urlsplit(url)
        rules = self._robots.get(f"{parts.scheme}://{parts.netloc}")
        if isinstance(rules, RobotFileParser):
            delay = rules.crawl_delay(self.options.user_agent)
            return min(float(delay), MAX_CRAWL_DELAY) if delay is not None else None
        return None
