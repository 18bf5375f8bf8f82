"""The retry budget: a floor in time plus a share of the requests, over a sliding window."""

from __future__ import annotations

from customer_gateway.connectors.resilience import RetryBudget
from support.clock import ManualClock


def retries_allowed(budget: RetryBudget, requests: int) -> int:
    """Send `requests` requests that each want one retry; how many retries were allowed."""
    allowed = 0
    for _ in range(requests):
        budget.deposit()
        allowed += budget.withdraw()
    return allowed


def test_a_quiet_backend_gets_its_occasional_retries() -> None:
    """One request every 3 s, each meeting two transient failures: every retry is allowed,
    for as long as it goes on (the floor renews with time, not with traffic)."""
    clock = ManualClock(1000.0)
    budget = RetryBudget(min_per_s=1.0, ttl_s=10.0, clock=clock)
    for _ in range(100):
        budget.deposit()
        assert budget.withdraw() and budget.withdraw()
        clock.advance(3.0)


def test_a_hard_down_backend_gets_no_more_than_floor_plus_ratio() -> None:
    clock = ManualClock(1000.0)
    budget = RetryBudget(ratio=0.1, min_per_s=2.0, ttl_s=10.0, clock=clock)
    assert retries_allowed(budget, 1000) == 20 + 100  # the floor's 20, then 10 % of 1,000
    clock.advance(1.0)
    assert retries_allowed(budget, 100) == 10  # the window still holds the earlier retries


def test_the_window_forgets_what_is_older_than_its_ttl() -> None:
    clock = ManualClock(1000.0)
    budget = RetryBudget(ratio=0.0, min_per_s=1.0, ttl_s=10.0, clock=clock)
    assert retries_allowed(budget, 50) == 10
    clock.advance(5.0)
    assert retries_allowed(budget, 50) == 0
    clock.advance(5.0)  # the first retries are ten seconds old now
    assert retries_allowed(budget, 50) == 10
    clock.advance(3600.0)
    assert retries_allowed(budget, 50) == 10


def test_without_a_floor_only_traffic_earns_retries() -> None:
    budget = RetryBudget(ratio=0.1, min_per_s=0.0, clock=ManualClock(1000.0))
    assert retries_allowed(budget, 9) == 0
    assert retries_allowed(budget, 1) == 1
