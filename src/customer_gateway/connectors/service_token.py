"""A backend's service-account token: fetched once, shared, renewed before it expires, and
renewed at once when the backend refuses it.

However many requests need it at once, one login is in flight (single flight); a failed login
is not cached, so the next request tries again. A call the backend refuses (401) renews the
token, whatever its age, and is sent once more with the new one, so a revoked token never
reaches a caller as their own failure (a customer is never told their password is wrong because
of the gateway's credentials). When the repeat is refused too, the refusal was the caller's
(a wrong password, an expired ticket): that renewal was not needed, and refusals in the next
`hold_off_s` renew nothing, so wrong passwords cannot make the gateway log in per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import TypeVar

__all__ = ["IssuedToken", "ServiceToken"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    value: str
    expires_at: float  # clock seconds


@dataclass(eq=False)
class ServiceToken:
    fetch: Callable[[], Awaitable[IssuedToken]] = field(repr=False)
    _: KW_ONLY
    renew_before_s: float = 60.0
    hold_off_s: float = 1.0
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        self._token: IssuedToken | None = None
        self._inflight: asyncio.Task[IssuedToken] | None = None
        self._renewals_needless_until = 0.0

    async def get(self) -> str:
        token = self._token
        if token is not None and token.expires_at - self.renew_before_s > self.clock():
            return token.value
        return (await self._refresh()).value

    async def call(self, send: Callable[[str], Awaitable[R]], *, refused: Callable[[R], bool]) -> R:
        """`send` with the token; if the backend refused the token, renew it and send once
        more. The answer returned may still be a refusal: then it is the caller's."""
        token = await self.get()
        answer = await send(token)
        if not refused(answer):
            return answer
        renewed = await self._renewed(token)
        if renewed is None:
            return answer
        answer = await send(renewed)
        if refused(answer):
            self._renewals_needless_until = self.clock() + self.hold_off_s
        return answer

    async def _renewed(self, refused: str) -> str | None:
        """A token other than the refused one: the one someone already renewed, or a new one;
        None while renewals have just proved needless."""
        current = self._token
        if current is not None and current.value != refused:
            return current.value
        if self._inflight is None and self.clock() < self._renewals_needless_until:
            return None
        if current is not None and current.value == refused:
            self._token = None
        return (await self._refresh()).value

    async def _refresh(self) -> IssuedToken:
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._fetch_and_store())
        task = self._inflight
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._inflight is task:
                self._inflight = None

    async def _fetch_and_store(self) -> IssuedToken:
        token = await self.fetch()
        self._token = token
        return token
