"""Service tokens: one login in flight, reused until shortly before expiry, never a failure cached."""

from __future__ import annotations

import asyncio

import pytest

from customer_gateway.connectors.service_token import IssuedToken, ServiceToken

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_login() -> None:
    logins = 0

    async def login() -> IssuedToken:
        nonlocal logins
        logins += 1
        await asyncio.sleep(0.05)
        return IssuedToken(f"t{logins}", 10**12)

    token = ServiceToken(login)
    values = await asyncio.gather(*(token.get() for _ in range(20)))
    assert logins == 1 and set(values) == {"t1"}


async def test_renewed_before_expiry_and_failures_are_not_cached() -> None:
    clock = Clock()
    answers: list[IssuedToken | Exception] = [
        IssuedToken("first", clock.now + 300),
        RuntimeError("login refused"),
        IssuedToken("second", clock.now + 600),
    ]

    async def login() -> IssuedToken:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    token = ServiceToken(login, renew_before_s=60, clock=clock)
    assert await token.get() == "first"
    clock.now += 200
    assert await token.get() == "first"
    clock.now += 50  # within 60 s of expiry: renew
    with pytest.raises(RuntimeError):
        await token.get()
    assert await token.get() == "second"


async def test_invalidation_only_for_old_tokens() -> None:
    clock = Clock()
    count = 0

    async def login() -> IssuedToken:
        nonlocal count
        count += 1
        return IssuedToken(f"t{count}", clock.now + 3600)

    token = ServiceToken(login, clock=clock)
    await token.get()
    assert token.invalidate_if_older_than(60) is False
    clock.now += 61
    assert token.invalidate_if_older_than(60) is True
    assert await token.get() == "t2"
