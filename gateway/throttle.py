"""Each caller's budget of cost points: a leaky bucket, as the Shopify Admin API meters calls.

A bucket holds at most ``size`` points and refills at ``rate`` points per second. A query
takes its requested cost before it runs (refused if the bucket holds less: HTTP 429 with
``Retry-After``) and gets back what it did not use once it has run. Buckets live in process
memory (``MemoryBuckets``), or in Redis when ``ORDERGATE_REDIS_URL`` is set
(``RedisBuckets``: one atomic script per take, so every replica draws on the same bucket).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from domain.access import Principal, PrincipalKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float


@dataclass(frozen=True, slots=True)
class Take:
    """What a take left: ``granted`` or not, and the bucket as it is now."""

    granted: bool
    status: ThrottleStatus

    def retry_after_s(self, cost: float) -> int:
        """Whole seconds until the bucket holds ``cost`` again."""
        missing = cost - self.status.currently_available
        return max(1, math.ceil(missing / self.status.restore_rate))


@dataclass(frozen=True, slots=True)
class Budget:
    """Which bucket a caller draws on, and its shape."""

    key: str
    size: float
    rate: float


def bucket_key(principal: Principal, client: str | None) -> str:
    """One bucket per key, per token subject; anonymous callers one per client address."""
    if principal.kind is PrincipalKind.ANONYMOUS:
        return f"anonymous:{client or '-'}"
    return principal.identity


class Buckets(Protocol):
    async def take(self, key: str, cost: float, *, size: float, rate: float) -> Take:
        """Take ``cost`` points if the bucket holds them (a cost of 0 only reads it)."""

    async def give_back(
        self, key: str, points: float, *, size: float, rate: float
    ) -> ThrottleStatus:
        """Return unused points (never above ``size``); the bucket as it is then."""

    async def aclose(self) -> None: ...


class MemoryBuckets:
    """Buckets of this process (one replica). Only buckets short of full are kept (a missing
    one is full): a caller that stops calling is forgotten once its bucket refills, and past
    ``MAX_KEPT`` buckets (a flood of anonymous addresses) the refilled ones are swept out."""

    MAX_KEPT = 100_000

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._levels: dict[str, tuple[float, float, float, float]] = {}  # points, at, size, rate
        self._lock = asyncio.Lock()
        self._sweep_at = self.MAX_KEPT

    def _level(self, key: str, size: float, rate: float) -> float:
        points, at, _, _ = self._levels.get(key, (size, self._clock(), size, rate))
        return min(size, points + (self._clock() - at) * rate)

    def _keep(self, key: str, level: float, size: float, rate: float) -> None:
        if level >= size:
            self._levels.pop(key, None)
            return
        if key not in self._levels and len(self._levels) >= self._sweep_at:
            self._sweep()
        self._levels[key] = (level, self._clock(), size, rate)

    def _sweep(self) -> None:
        """Drop the buckets that have refilled; the next sweep waits for a tenth more (a
        table of buckets all short of full is not walked again for every new caller)."""
        now = self._clock()
        for key, (points, at, size, rate) in list(self._levels.items()):
            if points + (now - at) * rate >= size:
                del self._levels[key]
        self._sweep_at = max(self.MAX_KEPT, len(self._levels) + self.MAX_KEPT // 10)

    def __len__(self) -> int:
        return len(self._levels)

    async def take(self, key: str, cost: float, *, size: float, rate: float) -> Take:
        async with self._lock:
            level = self._level(key, size, rate)
            granted = cost <= level
            if granted:
                level -= cost
            self._keep(key, level, size, rate)
            return Take(granted, ThrottleStatus(size, level, rate))

    async def give_back(
        self, key: str, points: float, *, size: float, rate: float
    ) -> ThrottleStatus:
        async with self._lock:
            level = min(size, self._level(key, size, rate) + points)
            self._keep(key, level, size, rate)
            return ThrottleStatus(size, level, rate)

    async def aclose(self) -> None:
        return None


# KEYS[1] the bucket; ARGV: cost, size, rate, mode ("take" or "give"). The bucket is a hash
# {points, at} in Redis' own clock (TIME), so replicas with skewed clocks agree.
_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local cost, size, rate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'points', 'at')
local points, at = tonumber(state[1]), tonumber(state[2])
if points == nil then points, at = size, now end
points = math.min(size, points + (now - at) * rate)
local granted = 1
if ARGV[4] == 'give' then
  points = math.min(size, points + cost)
elseif cost <= points then
  points = points - cost
else
  granted = 0
end
redis.call('HSET', KEYS[1], 'points', tostring(points), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(size / rate) + 60)
return {granted, tostring(points)}
"""


class RedisBuckets:
    """Buckets every replica shares, in Redis."""

    PREFIX = "ordergate:bucket:"

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_SCRIPT)

    async def _run(self, key: str, cost: float, size: float, rate: float, mode: str) -> Take:
        granted, points = await self._script(
            keys=[self.PREFIX + key], args=[cost, size, rate, mode]
        )
        return Take(bool(granted), ThrottleStatus(size, float(points), rate))

    async def take(self, key: str, cost: float, *, size: float, rate: float) -> Take:
        return await self._run(key, cost, size, rate, "take")

    async def give_back(
        self, key: str, points: float, *, size: float, rate: float
    ) -> ThrottleStatus:
        return (await self._run(key, points, size, rate, "give")).status

    async def aclose(self) -> None:
        await self._redis.aclose()


class FailOpen:
    """Buckets whose store may be down (Redis): a failed take is granted and logged, so an
    outage of the shared rate-limit store does not take the gateway down with it (Envoy's
    rate-limit service fails open the same way by default)."""

    def __init__(self, inner: Buckets) -> None:
        self.inner = inner

    async def take(self, key: str, cost: float, *, size: float, rate: float) -> Take:
        try:
            return await self.inner.take(key, cost, size=size, rate=rate)
        except Exception as error:
            log.warning("rate-limit store unavailable, not metering: %s", type(error).__name__)
            return Take(True, ThrottleStatus(size, size, rate))

    async def give_back(
        self, key: str, points: float, *, size: float, rate: float
    ) -> ThrottleStatus:
        try:
            return await self.inner.give_back(key, points, size=size, rate=rate)
        except Exception as error:
            log.warning("rate-limit store unavailable: %s", type(error).__name__)
            return ThrottleStatus(size, size, rate)

    async def aclose(self) -> None:
        await self.inner.aclose()


def create_buckets(redis_url: str | None) -> Buckets:
    return FailOpen(RedisBuckets(redis_url)) if redis_url else MemoryBuckets()
