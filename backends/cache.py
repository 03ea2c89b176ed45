"""``TtlCache``: one upstream read (a catalog) kept for a while, shared by concurrent callers.

Adapters check writes against upstream catalogs (discount codes, products, partners...);
reading them at most once per TTL keeps that to a few requests a minute, and an entry that
appears upstream is seen after one TTL at the latest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from telemetry import record

T = TypeVar("T")

# How long a catalog read stays good: catalogs change rarely, writes come in bursts.
CATALOG_TTL_S = 60.0


class TtlCache(Generic[T]):
    """The value of ``load``, kept ``ttl_s`` seconds; concurrent callers share one load."""

    def __init__(
        self,
        load: Callable[[], Awaitable[T]],
        *,
        ttl_s: float = CATALOG_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._value: T | None = None
        self._expires_at: float | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        async with self._lock:
            if self._value is None or self._expires_at is None or self._clock() >= self._expires_at:
                self._value = await self._load()
                self._expires_at = self._clock() + self._ttl_s
            else:
                hit = record.current()
                if hit is not None:
                    hit.cached += 1  # answered from the catalog kept: nothing sent
            return self._value

    def expire(self) -> None:
        """Read anew on next use (e.g. the upstream refused something the cache allowed)."""
        self._expires_at = None
