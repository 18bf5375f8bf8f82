"""What the gateway does while its store is down or slow: every call bounded, only OTP fails.

`GuardedStore` bounds every call of a shared store by `[store] timeout_s`, connecting included,
and turns any failure into StoreUnavailableError. After a failure it leaves the store alone for
`RETRY_AFTER_S` and then lets one call through as a probe, so a dead or hung store costs one
timeout per outage, not one per request. Each consumer then degrades in its own way:

- request rate limits count in this process instead (`FallbackCounters`), each replica alone;
- persisted-query look-ups miss and nothing is kept (`BestEffortDocuments`): clients re-send;
- readiness answers "unreachable" within the timeout;
- OTP requests and confirms fail with BACKEND_UNAVAILABLE (backend "store"), before any
  backend call.

An outage is logged once when it starts (with the error's type) and once when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from customer_gateway.domain import StoreUnavailableError
from customer_gateway.observability.metrics import METRICS
from customer_gateway.otp.pending import ChangeState, ClaimResult, PendingChange
from customer_gateway.store.interfaces import Counters, Documents, Reservation, Store

__all__ = ["RETRY_AFTER_S", "BestEffortDocuments", "FallbackCounters", "GuardedStore"]

logger = logging.getLogger("customer_gateway.store")

RETRY_AFTER_S = 1.0
T = TypeVar("T")


class GuardedStore:
    """A shared store behind a timeout and a one-probe-at-a-time breaker."""

    def __init__(
        self,
        inner: Store,
        *,
        timeout_s: float,
        failures: tuple[type[Exception], ...],
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self.timeout_s = timeout_s
        self._caught: tuple[type[Exception], ...] = (TimeoutError, *failures)
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._probing = False
        METRICS.store_up.set(1)

    @property
    def available(self) -> bool:
        return self._down_since is None

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        probe = False
        if self._down_since is not None:
            if self._probing or self._clock() < self._next_probe:
                raise StoreUnavailableError
            self._probing = probe = True
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await call()
        except self._caught as error:
            self._failed(error)
            raise StoreUnavailableError from None
        finally:
            if probe:
                self._probing = False
        if self._down_since is not None:
            self._recovered()
        return result

    def _failed(self, error: Exception) -> None:
        now = self._clock()
        self._next_probe = now + self._retry_after_s
        if self._down_since is None:
            self._down_since = now
            METRICS.store_up.set(0)
            logger.warning(
                "store unavailable: rate limits count per process, persisted queries miss, "
                "one-time codes fail until it is back",
                extra={"error": type(error).__name__, "timeout_s": self.timeout_s},
            )

    def _recovered(self) -> None:
        down_for = self._clock() - (self._down_since or 0.0)
        self._down_since = None
        METRICS.store_up.set(1)
        logger.info("store available again", extra={"outage_s": round(down_for, 3)})

    # --- the Store interface, each call guarded ---------------------------------------------

    async def get_pending(self, key: str) -> PendingChange | None:
        return await self._call(lambda: self._inner.get_pending(key))

    async def put_pending(self, key: str, change: PendingChange) -> None:
        await self._call(lambda: self._inner.put_pending(key, change))

    async def delete_pending(self, key: str) -> None:
        await self._call(lambda: self._inner.delete_pending(key))

    async def claim(
        self, key: str, change_id: str, code_digest: str, now: float, lease_s: float
    ) -> ClaimResult:
        return await self._call(
            lambda: self._inner.claim(key, change_id, code_digest, now, lease_s)
        )

    async def settle(self, key: str, change_id: str, state: ChangeState) -> bool:
        return await self._call(lambda: self._inner.settle(key, change_id, state))

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        return await self._call(lambda: self._inner.hit(key, window_s, now))

    async def count(self, key: str, now: float) -> tuple[int, float]:
        return await self._call(lambda: self._inner.count(key, now))

    async def reserve(self, key: str, limit: int, window_s: float, now: float) -> Reservation:
        return await self._call(lambda: self._inner.reserve(key, limit, window_s, now))

    async def refund(self, key: str) -> None:
        await self._call(lambda: self._inner.refund(key))

    async def get_document(self, digest: str) -> str | None:
        return await self._call(lambda: self._inner.get_document(digest))

    async def put_document(self, digest: str, document: str) -> None:
        await self._call(lambda: self._inner.put_document(digest, document))

    async def ping(self) -> bool:
        """Within the timeout, whatever the store does; False while it is out."""
        try:
            return await self._call(self._inner.ping)
        except StoreUnavailableError:
            return False

    async def aclose(self) -> None:
        await self._inner.aclose()


class FallbackCounters:
    """Request rate limits: shared through the store, or counted in this process while the
    store is out (each replica then limits alone), rather than refusing or waiting."""

    def __init__(self, shared: Counters, local: Counters) -> None:
        self._shared = shared
        self._local = local

    def _fell_back(self) -> Counters:
        METRICS.store_fallbacks.labels("rate_limit").inc()
        return self._local

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        try:
            return await self._shared.hit(key, window_s, now)
        except StoreUnavailableError:
            return await self._fell_back().hit(key, window_s, now)

    async def count(self, key: str, now: float) -> tuple[int, float]:
        try:
            return await self._shared.count(key, now)
        except StoreUnavailableError:
            return await self._fell_back().count(key, now)

    async def reserve(self, key: str, limit: int, window_s: float, now: float) -> Reservation:
        try:
            return await self._shared.reserve(key, limit, window_s, now)
        except StoreUnavailableError:
            return await self._fell_back().reserve(key, limit, window_s, now)

    async def refund(self, key: str) -> None:
        try:
            await self._shared.refund(key)
        except StoreUnavailableError:
            await self._fell_back().refund(key)


class BestEffortDocuments:
    """Persisted queries while the store is out: every look-up misses (the client then sends
    the document with its hash, as in the APQ handshake) and nothing is kept."""

    def __init__(self, documents: Documents) -> None:
        self._documents = documents

    async def get_document(self, digest: str) -> str | None:
        try:
            return await self._documents.get_document(digest)
        except StoreUnavailableError:
            METRICS.store_fallbacks.labels("persisted_query").inc()
            return None

    async def put_document(self, digest: str, document: str) -> None:
        try:
            await self._documents.put_document(digest, document)
        except StoreUnavailableError:
            METRICS.store_fallbacks.labels("persisted_query").inc()
