"""The Redis store: the same operations as MemoryStore, each one Lua script (atomic in Redis).

Changes are JSON strings that expire with the change itself, so no record outlives its TTL.
Time comes from the gateway (ARGV), so replicas agree as long as their clocks do.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from redis.asyncio import Redis

from customer_gateway.otp.store import (
    DOCUMENT_TTL_S,
    EXPIRED_RETENTION_S,
    ChangeState,
    ClaimOutcome,
    ClaimResult,
    PendingChange,
)

__all__ = ["RedisStore"]

_PREFIX = "customer-gateway:"

# KEYS[1] change; ARGV: max_attempts, now. Returns the new attempt count (0 if nothing waits).
_RECORD_FAILURE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local c = cjson.decode(raw)
if c.state == 'cancelled' or tonumber(ARGV[2]) >= tonumber(c.expires_at) then return 0 end
c.attempts = c.attempts + 1
if c.attempts >= tonumber(ARGV[1]) then c.state = 'cancelled' end
redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
return c.attempts
"""

# KEYS[1] change; ARGV: digest, max_attempts, now, lease_s. Returns {outcome, previous json}.
# Comparing HMAC digests with == leaks nothing useful: a guess's digest is unpredictable
# without the server's key, so timing cannot steer the next guess.
_CLAIM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'nothing', ''} end
local c = cjson.decode(raw)
local now = tonumber(ARGV[3])
if c.state == 'cancelled' or c.code_digest == cjson.null or c.code_digest == nil then
  return {'nothing', raw}
end
if now >= tonumber(c.expires_at) then redis.call('DEL', KEYS[1]); return {'expired', raw} end
if c.state == 'applying' and tonumber(c.lease_until) > now then return {'nothing', raw} end
if c.code_digest ~= ARGV[1] then
  c.attempts = c.attempts + 1
  local outcome = 'wrong_code'
  if c.attempts >= tonumber(ARGV[2]) then c.state = 'cancelled'; outcome = 'exceeded' end
  redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
  return {outcome, raw}
end
c.state = 'applying'
c.lease_until = now + tonumber(ARGV[4])
redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
return {'claimed', raw}
"""

# KEYS[1] change; ARGV: new state. Only an `applying` change can be released.
_RELEASE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local c = cjson.decode(raw)
if c.state ~= 'applying' then return 0 end
c.state = ARGV[1]
c.lease_until = 0
redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
return 1
"""

# KEYS[1] counter; ARGV: window_ms. Returns {count, ms left}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
return {count, left}
"""


def _encode(change: PendingChange) -> str:
    data = asdict(change)
    data["state"] = change.state.value
    return json.dumps(data)


def _decode(raw: str | bytes) -> PendingChange:
    data: dict[str, Any] = json.loads(raw)
    data["state"] = ChangeState(data["state"])
    if not isinstance(data.get("code_digest"), str):
        data["code_digest"] = None
    data["attempts"] = int(data["attempts"])
    data["expires_at"] = float(data["expires_at"])
    data["lease_until"] = float(data["lease_until"])
    return PendingChange(**data)


class RedisStore:
    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._clock = clock
        self._record_failure = self._redis.register_script(_RECORD_FAILURE)
        self._claim = self._redis.register_script(_CLAIM)
        self._release = self._redis.register_script(_RELEASE)
        self._hit = self._redis.register_script(_HIT)

    async def get_pending(self, key: str) -> PendingChange | None:
        raw = await self._redis.get(_PREFIX + key)
        return _decode(raw) if raw else None

    async def put_pending(self, change: PendingChange) -> None:
        ttl_ms = math.ceil((change.expires_at + EXPIRED_RETENTION_S - self._clock()) * 1000)
        if ttl_ms <= 0:
            await self._redis.delete(_PREFIX + change.key)
            return
        await self._redis.set(_PREFIX + change.key, _encode(change), px=ttl_ms)

    async def record_failure(self, key: str, max_attempts: int) -> int:
        args: list[str | int] = [max_attempts, repr(self._clock())]
        return int(await self._record_failure(keys=[_PREFIX + key], args=args))

    async def claim(
        self, key: str, code_digest: str, max_attempts: int, now: float, lease_s: float
    ) -> ClaimResult:
        outcome, raw = await self._claim(
            keys=[_PREFIX + key], args=[code_digest, max_attempts, repr(now), repr(lease_s)]
        )
        return ClaimResult(ClaimOutcome(outcome), _decode(raw) if raw else None)

    async def release(self, key: str, state: ChangeState) -> None:
        await self._release(keys=[_PREFIX + key], args=[state.value])

    async def delete_pending(self, key: str) -> None:
        await self._redis.delete(_PREFIX + key)

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        count, left_ms = await self._hit(
            keys=[_PREFIX + "window:" + key], args=[max(1, math.ceil(window_s * 1000))]
        )
        return int(count), int(left_ms) / 1000

    async def window_count(self, key: str, now: float) -> tuple[int, float]:
        name = _PREFIX + "window:" + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.pttl(name)
            count, left_ms = await pipe.execute()
        if count is None or int(left_ms) <= 0:
            return 0, 0.0
        return int(count), int(left_ms) / 1000

    async def get_document(self, digest: str) -> str | None:
        document = await self._redis.get(_PREFIX + "document:" + digest)
        return document if isinstance(document, str) else None  # decode_responses=True

    async def put_document(self, digest: str, document: str) -> None:
        await self._redis.set(_PREFIX + "document:" + digest, document, ex=DOCUMENT_TTL_S)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def aclose(self) -> None:
        await self._redis.aclose()
