"""A backend's service-account token: fetched once, shared, renewed before it expires.

However many requests need it at once, one login is in flight (single flight); a failed login
is not cached, so the next request tries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["IssuedToken", "ServiceToken"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    value: str
    expires_at: float  # clock seconds


class ServiceToken:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[IssuedToken]],
        *,
        renew_before_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._renew_before_s = renew_before_s
        self._clock = clock
        self._token: IssuedToken | None = None
        self._fetched_at = 0.0
        self._inflight: asyncio.Task[IssuedToken] | None = None

    async def get(self) -> str:
        token = self._token
        if token is not None and token.expires_at - self._renew_before_s > self._clock():
            return token.value
        return (await self._refresh()).value

    def invalidate_if_older_than(self, age_s: float) -> bool:
        """Drop the cached token if it is at least `age_s` old (a 401 may mean it was revoked);
        a younger token is kept, so bad customer tokens cannot force a login per request."""
        if self._token is not None and self._clock() - self._fetched_at >= age_s:
            self._token = None
            return True
        return False

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
        token = await self._fetch()
        self._token = token
        self._fetched_at = self._clock()
        return token
