"""The Redis store: the same operations as MemoryStore, each one Lua script (atomic in Redis).

Changes are JSON strings that expire with the change itself, so no record outlives its TTL.
Time comes from the gateway (ARGV), so replicas agree as long as their clocks do. Every socket
operation, connecting included, gives up after the store timeout; a pooled connection the
server closed (a restart) is retried once on a fresh one, and nothing else is retried, so a
call costs at most one timeout (guard.py bounds the whole call on top).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from customer_gateway.otp.pending import (
    EXPIRED_RETENTION_S,
    ChangeState,
    ClaimOutcome,
    ClaimResult,
    PendingChange,
)
from customer_gateway.store import keys
from customer_gateway.store.interfaces import Reservation

__all__ = ["RedisStore"]

# KEYS[1] change; ARGV: change id, digest, now, lease_s. Returns {outcome, previous json}.
# Comparing HMAC digests with == leaks nothing useful: a guess's digest is unpredictable
# without the server's key, so timing cannot steer the next guess.
_CLAIM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'nothing', ''} end
local c = cjson.decode(raw)
if (c.id or '') ~= ARGV[1] or c.state == 'cancelled' or type(c.code_digest) ~= 'string' then
  return {'nothing', raw}
end
local right = c.code_digest == ARGV[2]
if c.state == 'done' then
  if right then return {'done', raw} end
  return {'nothing', raw}
end
local now = tonumber(ARGV[3])
if now >= tonumber(c.expires_at) then redis.call('DEL', KEYS[1]); return {'expired', raw} end
if not right then return {'wrong_code', raw} end
local in_flight = c.state == 'applying' or c.state == 'uncertain'
if in_flight and tonumber(c.lease_until) > now then return {'busy', raw} end
c.state = 'applying'
c.lease_until = now + tonumber(ARGV[4])
redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
return {'claimed', raw}
"""

# KEYS[1] change; ARGV: change id, new state. The rules of PendingChanges.settle.
_SETTLE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local c = cjson.decode(raw)
if (c.id or '') ~= ARGV[1] or c.state == 'cancelled' or c.state == 'done' then return 0 end
local to = ARGV[2]
if (to == 'pending' or to == 'uncertain') and c.state ~= 'applying' then return 0 end
if to == 'done' and c.state ~= 'applying' and c.state ~= 'uncertain' then return 0 end
if to == 'pending' or to == 'cancelled' then c.lease_until = 0 end
c.state = to
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

# KEYS[1] counter; ARGV: limit, window_ms. Returns {taken 0/1, count, ms left}.
_RESERVE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local left = redis.call('PTTL', KEYS[1])
if count >= tonumber(ARGV[1]) then return {0, count, math.max(left, 0)} end
count = redis.call('INCR', KEYS[1])
if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); left = tonumber(ARGV[2]) end
return {1, count, left}
"""

# KEYS[1] counter. One slot back, never below zero and never reviving an expired window.
_REFUND = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""

_FIELDS = frozenset(f.name for f in fields(PendingChange))


def _encode(change: PendingChange) -> str:
    data = asdict(change)
    data["state"] = change.state.value
    return json.dumps(data)


def _decode(raw: str | bytes) -> PendingChange:
    """Tolerant of records an earlier version wrote (extra fields, no id)."""
    data: dict[str, Any] = {k: v for k, v in json.loads(raw).items() if k in _FIELDS}
    data["state"] = ChangeState(data["state"])
    if not isinstance(data.get("code_digest"), str):
        data["code_digest"] = None
    data["expires_at"] = float(data["expires_at"])
    data["lease_until"] = float(data.get("lease_until", 0.0))
    data["id"] = str(data.get("id", ""))
    return PendingChange(**data)


# Persisted documents, shared by every replica and bounded in bytes, least recently used dropped
# first: nothing a client sends can make Redis hold more (a time to live alone would not bound
# what a client writes meanwhile).
# KEYS: document, used (zset), bytes; ARGV: digest, now. Returns the document or nil.
_GET_DOCUMENT = """
local document = redis.call('GET', KEYS[1])
if document then redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1]) end
return document
"""

# KEYS: document, used (zset), bytes; ARGV: digest, document, now, max bytes, document prefix.
_PUT_DOCUMENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('INCRBY', KEYS[3], string.len(ARGV[2]))
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local held = tonumber(redis.call('GET', KEYS[3]) or '0')
while held > tonumber(ARGV[4]) do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then held = 0; break end
  local key = ARGV[5] .. oldest[1]
  held = held - redis.call('STRLEN', key)
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[2], oldest[1])
end
redis.call('SET', KEYS[3], held)
return held
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisStore:
    # What the client raises when the server is down, slow or unusable (guard.py's business).
    FAILURES: tuple[type[Exception], ...] = (RedisError, OSError)

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        documents_max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # Once, on a fresh connection, and only for a connection error (a pooled connection
            # that a restarted server closed); a timeout is a slow server: no second wait.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._clock = clock
        self._documents_max_bytes = documents_max_bytes
        self._get_document = self._redis.register_script(_GET_DOCUMENT)
        self._put_document = self._redis.register_script(_PUT_DOCUMENT)
        self._claim = self._redis.register_script(_CLAIM)
        self._settle = self._redis.register_script(_SETTLE)
        self._hit = self._redis.register_script(_HIT)
        self._reserve = self._redis.register_script(_RESERVE)
        self._refund = self._redis.register_script(_REFUND)

    # --- pending changes -------------------------------------------------------------------

    async def get_pending(self, key: str) -> PendingChange | None:
        raw = await self._redis.get(keys.redis_pending(key))
        return _decode(raw) if raw else None

    async def put_pending(self, key: str, change: PendingChange) -> None:
        ttl_ms = math.ceil((change.expires_at + EXPIRED_RETENTION_S - self._clock()) * 1000)
        if ttl_ms <= 0:
            await self._redis.delete(keys.redis_pending(key))
            return
        await self._redis.set(keys.redis_pending(key), _encode(change), px=ttl_ms)

    async def delete_pending(self, key: str) -> None:
        await self._redis.delete(keys.redis_pending(key))

    async def claim(
        self, key: str, change_id: str, code_digest: str, now: float, lease_s: float
    ) -> ClaimResult:
        outcome, raw = await self._claim(
            keys=[keys.redis_pending(key)], args=[change_id, code_digest, repr(now), repr(lease_s)]
        )
        return ClaimResult(ClaimOutcome(outcome), _decode(raw) if raw else None)

    async def settle(self, key: str, change_id: str, state: ChangeState) -> bool:
        moved = await self._settle(keys=[keys.redis_pending(key)], args=[change_id, state.value])
        return bool(moved)

    # --- counters --------------------------------------------------------------------------

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        count, left_ms = await self._hit(keys=[keys.redis_window(key)], args=[_ms(window_s)])
        return int(count), int(left_ms) / 1000

    async def count(self, key: str, now: float) -> tuple[int, float]:
        name = keys.redis_window(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.pttl(name)
            count, left_ms = await pipe.execute()
        if count is None or int(left_ms) <= 0:
            return 0, 0.0
        return int(count), int(left_ms) / 1000

    async def reserve(self, key: str, limit: int, window_s: float, now: float) -> Reservation:
        taken, count, left_ms = await self._reserve(
            keys=[keys.redis_window(key)], args=[limit, _ms(window_s)]
        )
        return bool(taken), int(count), int(left_ms) / 1000

    async def refund(self, key: str) -> None:
        await self._refund(keys=[keys.redis_window(key)])

    # --- documents -------------------------------------------------------------------------

    async def get_document(self, digest: str) -> str | None:
        document = await self._get_document(
            keys=[keys.redis_document(digest), keys.redis_documents_used()],
            args=[digest, repr(self._clock())],
        )
        return document if isinstance(document, str) else None  # decode_responses=True

    async def put_document(self, digest: str, document: str) -> None:
        await self._put_document(
            keys=[
                keys.redis_document(digest),
                keys.redis_documents_used(),
                keys.redis_documents_bytes(),
            ],
            args=[
                digest,
                document,
                repr(self._clock()),
                self._documents_max_bytes,
                keys.REDIS_DOCUMENT_PREFIX,
            ],
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def aclose(self) -> None:
        await self._redis.aclose()
