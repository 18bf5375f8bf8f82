"""Per-backend protection: a circuit breaker and a retry budget.

Breaker: 5 consecutive failures (timeouts, connection errors, 5xx) open it for 30 s; then one
probe is let through (half-open); success closes it, failure opens it again. Budget: over any
10 s, retries may add 10 % of the requests plus a floor of `min_per_s` a second (Finagle's
RetryBudget: percentCanRetry plus minRetriesPerSec over a TTL), so a failing backend is not hit
much harder by the gateway's own retries, yet a quiet one still gets its occasional transient
failure retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum

from customer_gateway.domain import BackendUnavailableError
from customer_gateway.observability.metrics import METRICS

__all__ = ["BreakerState", "CircuitBreaker", "RetryBudget"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(eq=False)
class CircuitBreaker:
    backend: str
    _: KW_ONLY
    threshold: int = 5
    open_s: float = 30.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.state = BreakerState.CLOSED
        self._failures = 0
        self._open_until = 0.0
        self._probing = False
        self._publish()

    @property
    def healthy(self) -> bool:
        return self.state is BreakerState.CLOSED

    def before_call(self) -> None:
        """Raise BACKEND_UNAVAILABLE without calling while open; admit one half-open probe."""
        if self.state is BreakerState.OPEN:
            left = self._open_until - self.clock()
            if left > 0:
                raise BackendUnavailableError(backend=self.backend, retry_after=left)
            self._move(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                raise BackendUnavailableError(backend=self.backend, retry_after=1.0)
            self._probing = True

    def on_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self.state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED)

    def on_failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self.state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
            self._open_until = self.clock() + self.open_s
            if self.state is not BreakerState.OPEN:
                self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        self.state = state
        METRICS.circuit_transitions.labels(self.backend, state.value).inc()
        self._publish()

    def _publish(self) -> None:
        for state in BreakerState:
            METRICS.circuit_state.labels(self.backend, state.value).set(
                1 if state is self.state else 0
            )


class RetryBudget:
    """Requests and retries counted in `slices` time slices over the last `ttl_s`; a retry may
    be taken while retries so far < floor * ttl + ratio * requests (all within the window)."""

    def __init__(
        self,
        *,
        ratio: float = 0.1,
        min_per_s: float = 2.0,
        ttl_s: float = 10.0,
        slices: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.floor = min_per_s * ttl_s
        self._slice_s = ttl_s / slices
        self._clock = clock
        self._requests = [0] * slices
        self._retries = [0] * slices
        self._slice = int(clock() / self._slice_s)
        self._total_requests = 0
        self._total_retries = 0

    def _advance(self) -> int:
        """The current slice's index, with slices older than the window emptied."""
        now = int(self._clock() / self._slice_s)
        slices = len(self._requests)
        for passed in range(self._slice + 1, min(now, self._slice + slices) + 1):
            i = passed % slices
            self._total_requests -= self._requests[i]
            self._total_retries -= self._retries[i]
            self._requests[i] = self._retries[i] = 0
        self._slice = max(self._slice, now)
        return self._slice % slices

    def deposit(self) -> None:
        self._requests[self._advance()] += 1
        self._total_requests += 1

    def withdraw(self) -> bool:
        i = self._advance()
        if self._total_retries + 1 > self.floor + self.ratio * self._total_requests:
            return False
        self._retries[i] += 1
        self._total_retries += 1
        return True
