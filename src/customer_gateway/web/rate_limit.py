"""Request rate limits per client address and per bearer token, shared through the store.

The client address is the TCP peer, unless that peer is a configured proxy: then it is the
right-most `X-Forwarded-For` hop that is not itself a trusted proxy, so a spoofed header from
anyone else changes nothing. Over the limit: HTTP 429 with `Retry-After` and a GraphQL error
body (`RATE_LIMITED`, `extensions.retryAfter`), before any parsing or upstream call. Counts
are shared through the store; while it is out, each process counts alone (store.guard).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from customer_gateway.domain import RateLimitedError, error_extensions
from customer_gateway.observability.metrics import METRICS
from customer_gateway.store import Counters, keys
from customer_gateway.web.answers import send_error

__all__ = ["RateLimitMiddleware", "RateLimits", "client_address"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RateLimits:
    per_address: int = 600
    per_token: int = 300
    window_s: float = 60.0
    trusted_proxies: tuple[str, ...] = ()


def _networks(proxies: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(p, strict=False) for p in proxies]


def _trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: Scope, networks: list[Network]) -> str:
    """The TCP peer, or behind trusted proxies the hop the first of them saw.

    Every `X-Forwarded-For` line counts, read right to left: a proxy may append its own line
    (HAProxy's `option forwardfor`) after one the client sent, and reading only the first line
    would believe the client's.
    """
    peer = scope["client"][0] if scope.get("client") else "unknown"
    if not networks or not _trusted(peer, networks):
        return client_key(str(peer))
    lines = Headers(scope=scope).getlist("x-forwarded-for")
    hops = [hop.strip() for line in lines for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return client_key(hop, fallback=str(peer))
    return client_key(hops[0] if hops else str(peer), fallback=str(peer))


def client_key(address: str, fallback: str = "unknown") -> str:
    """One key per client: the address without a port or brackets, and for IPv6 its /64 (one
    client's network; a client can pick any address in it). What is not an address at all
    counts as the proxy that forwarded it, so made-up hops share one bucket."""
    text = address
    if text.startswith("[") and "]" in text:  # [2001:db8::2]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 198.51.100.7:1234
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return fallback if fallback != address else "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(eq=False)
class RateLimitMiddleware:
    app: ASGIApp
    counters: Counters
    limits: RateLimits
    path: str = "/graphql"
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        self.networks = _networks(self.limits.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.networks)
        scope.setdefault("state", {})["client_address"] = address
        if scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        buckets = [("address", address, self.limits.per_address)]
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            digest = hashlib.sha256(token.strip().encode()).hexdigest()[:32]  # never the token
            buckets.append(("token", digest, self.limits.per_token))
        now = self.clock()
        for kind, key, limit in buckets:
            count, left = await self.counters.hit(
                keys.rate_window(kind, key), self.limits.window_s, now
            )
            if count > limit:
                METRICS.rate_limited.labels(kind).inc()
                await _refuse(send, math.ceil(max(left, 1.0)))
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, retry_after: int) -> None:
    refusal = RateLimitedError(retry_after)
    await send_error(
        send,
        429,
        refusal.message,
        error_extensions(refusal),
        {"retry-after": str(refusal.retry_after)},
    )
