"""Where digest may fetch from: http/https URLs whose resolved addresses are public.

The check runs when a connection is opened (after DNS resolution, for the very address connected
to), so every redirect hop and every reused name is checked, and a name that resolves to a public
address first and a private one later cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore

from digest.errors import FetchError, UnsafeAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
SCHEMES = ("http", "https")


def resolve(host: str, port: int) -> list[str]:
    """Return the addresses `host` resolves to for a TCP connection, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(host, f"cannot resolve the host name ({exc})") from exc
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be connected to: public ones, plus `networks`, or all when `allow_private`."""

    allow_private: bool = False
    networks: tuple[Network, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, allow_private: bool, networks: Iterable[str] = ()) -> AddressPolicy:
        try:
            parsed = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        except ValueError as exc:
            raise FetchError("allow_networks", f"{exc}; write networks as CIDRs such as 10.1.2.0/24") from exc
        return cls(allow_private, parsed)

    def refusal(self, address: str) -> str | None:
        """Why `address` may not be connected to, or None when it may."""
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.allow_private or any(ip in net for net in self.networks):
            return None
        if ip.is_loopback:
            return "a loopback address"
        if ip.is_link_local:
            return "a link-local address"
        if ip.is_multicast:
            return "a multicast address"
        if ip.is_private or ip.is_reserved or ip.is_unspecified or not ip.is_global:
            return "a private address"
        return None


def check_url(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) of an http/https URL; raise FetchError for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise FetchError(url, f"only http:// and https:// URLs are fetched, not {scheme or 'a bare path'}")
    if not parts.hostname:
        raise FetchError(url, "the URL has no host name")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def vetted_addresses(host: str, port: int, policy: AddressPolicy, resolver: Resolver = resolve) -> list[str]:
    """The addresses of `host` the policy allows; raise UnsafeAddress when there is none."""
    addresses = resolver(host, port)
    allowed = [a for a in addresses if policy.refusal(a) is None]
    if not allowed:
        why = policy.refusal(addresses[0]) if addresses else "no address"
        shown = host if host in addresses else f"{host} ({', '.join(addresses)})"
        raise UnsafeAddress(
            f"{host}:{port}",
            f"refused to connect to {shown}: {why}. Set allow_private_addresses = true "
            "(or list the network in allow_networks) to fetch from it",
        )
    return allowed


class Budget:
    """The time left to this thread's current fetch: every connect, read and write waits at most that long.

    httpx's timeouts bound each read; a server that sends one byte a second never trips them. The
    budget is set per thread (each fetch runs in one thread, on whichever pooled connection).
    """

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def running(self, seconds: float) -> Iterator[None]:
        self._local.until = time.monotonic() + seconds
        self._local.binding = False
        try:
            yield
        finally:
            self._local.until = None

    def cut(self) -> bool:
        """Whether the last wait of this thread's fetch was cut short by the budget (not by its own timeout)."""
        return bool(getattr(self._local, "binding", False))

    def clamp(self, timeout: float | None, error: type[Exception]) -> float | None:
        """`timeout` cut to the time left; raise `error` when none is left."""
        until = getattr(self._local, "until", None)
        if until is None:
            return timeout
        left = until - time.monotonic()
        self._local.binding = timeout is None or left <= timeout
        if left <= 0:
            raise error("the fetch's total deadline passed")
        return left if timeout is None else min(timeout, left)


class BudgetedStream(httpcore.NetworkStream):
    """A connection whose every operation waits no longer than the current fetch's budget."""

    def __init__(self, inner: httpcore.NetworkStream, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.budget.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.budget.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self.inner.start_tls(ssl_context, server_hostname, self.budget.clamp(timeout, httpcore.ConnectTimeout))
        return BudgetedStream(tls, self.budget)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


def within(timeout: float | None, work: Callable[[], list[str]], what: str) -> list[str]:
    """`work()` when it ends within `timeout` seconds; else httpcore.ConnectTimeout (it runs on, abandoned)."""
    if timeout is None:
        return work()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed over to the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name=f"resolve {what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise httpcore.ConnectTimeout(f"no answer from the name service for {what} within {timeout:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return list(value)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend that resolves names itself and connects only to allowed addresses."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = resolve, budget: Budget | None = None) -> None:
        self.policy = policy
        self.resolver = resolver
        self.budget = budget or Budget()  # without a fetch running, the budget leaves every timeout as it is
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        timeout = self.budget.clamp(timeout, httpcore.ConnectTimeout)
        until = None if timeout is None else time.monotonic() + timeout  # for the lookup and every address
        for address in self.lookup(host, port, timeout):
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                raise httpcore.ConnectTimeout(f"no connection to {host} within {timeout:g} s")
            # connect to the vetted address, never to the name again
            try:
                return BudgetedStream(self.inner.connect_tcp(address, port, left, local_address, socket_options), self.budget)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    def lookup(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The allowed addresses of `host`, resolved within `timeout` seconds (a name lookup can hang)."""
        return within(timeout, lambda: vetted_addresses(host, port, self.policy, self.resolver), host)

    def connect_unix_socket(self, *args: object, **kwargs: object) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for fetching")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
