"""Per-backend protection: a circuit breaker and a retry budget.

Breaker: 5 consecutive failures (timeouts, connection errors, 5xx) open it for 30 s; then one
probe is let through (half-open); success closes it, failure opens it again. Budget: retries may
add at most ~10 % to a backend's traffic (each request earns 0.09 of a retry, at most 10 saved),
so a failing backend is not hit harder by the gateway's own retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from customer_gateway.domain import BackendUnavailableError
from customer_gateway.observability.metrics import METRICS

__all__ = ["BreakerState", "CircuitBreaker", "RetryBudget"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        backend: str,
        *,
        threshold: int = 5,
        open_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.threshold = threshold
        self.open_s = open_s
        self._clock = clock
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
            left = self._open_until - self._clock()
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
            self._open_until = self._clock() + self.open_s
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
    def __init__(self, ratio: float = 0.09, initial: float = 2.0, cap: float = 10.0) -> None:
        self.ratio = ratio
        self.cap = cap
        self._tokens = initial

    def deposit(self) -> None:
        self._tokens = min(self.cap, self._tokens + self.ratio)

    def withdraw(self) -> bool:
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
