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


class Backend:
    """Accepts only the token it issued last (a restart revokes the earlier ones) and, when
    `customer_ok` is false, refuses the caller's own part of every request."""

    def __init__(self) -> None:
        self.logins = 0
        self.valid = ""
        self.customer_ok = True
        self.sent: list[str] = []

    async def login(self) -> IssuedToken:
        self.logins += 1
        await asyncio.sleep(0.01)
        self.valid = f"t{self.logins}"
        return IssuedToken(self.valid, 10**12)

    async def send(self, token: str) -> int:
        self.sent.append(token)
        await asyncio.sleep(0)
        return 200 if token == self.valid and self.customer_ok else 401

    def revoke(self) -> None:
        self.valid = "nothing-valid"


def refused(status: int) -> bool:
    return status == 401


async def test_a_refused_token_is_renewed_and_the_call_repeated_whatever_its_age() -> None:
    backend, clock = Backend(), Clock()
    token = ServiceToken(backend.login, clock=clock)
    assert await token.call(backend.send, refused=refused) == 200
    backend.revoke()  # a second later: the token is young, and revoked all the same
    clock.now += 1
    assert await token.call(backend.send, refused=refused) == 200
    assert backend.logins == 2 and backend.sent == ["t1", "t1", "t2"]


async def test_concurrent_refusals_share_one_renewal() -> None:
    backend = Backend()
    token = ServiceToken(backend.login, clock=Clock())
    await token.get()
    backend.revoke()
    answers = await asyncio.gather(*(token.call(backend.send, refused=refused) for _ in range(20)))
    assert answers == [200] * 20 and backend.logins == 2


async def test_the_callers_own_refusals_do_not_log_in_per_request() -> None:
    """A wrong password is a 401 too: after one renewal that did not help, refusals renew
    nothing for a second, and then one renewal may check again."""
    backend, clock = Backend(), Clock()
    token = ServiceToken(backend.login, hold_off_s=1.0, clock=clock)
    await token.get()
    backend.customer_ok = False
    answers = [await token.call(backend.send, refused=refused) for _ in range(50)]
    assert answers == [401] * 50 and backend.logins == 2
    clock.now += 1.5
    backend.revoke()
    backend.customer_ok = True
    assert await token.call(backend.send, refused=refused) == 200
    assert backend.logins == 3


async def test_a_late_refusal_of_a_replaced_token_logs_in_no_more() -> None:
    """A call sent with the old token is refused only after another caller renewed it: it is
    repeated with the new token, and nobody logs in again."""
    backend = Backend()
    token = ServiceToken(backend.login, clock=Clock())
    await token.get()
    backend.revoke()
    renewed = asyncio.Event()

    async def slow(value: str) -> int:
        await renewed.wait()  # answered after the other caller's renewal
        return await backend.send(value)

    late = asyncio.create_task(token.call(slow, refused=refused))
    await asyncio.sleep(0)  # it has taken the old token
    assert await token.call(backend.send, refused=refused) == 200
    renewed.set()
    assert await late == 200
    assert backend.logins == 2 and backend.sent[-2:] == ["t1", "t2"]
