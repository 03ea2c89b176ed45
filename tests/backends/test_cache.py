"""``TtlCache``: one read per TTL, shared by concurrent callers, and forgotten on demand."""

from __future__ import annotations

import asyncio

from backends.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_value_is_read_again_once_its_ttl_has_passed() -> None:
    clock, loads = Clock(), []

    async def load() -> int:
        loads.append(clock.now)
        return len(loads)

    cache = TtlCache(load, ttl_s=60, clock=clock)
    assert await cache.get() == 1
    clock.now = 59.9
    assert await cache.get() == 1
    clock.now = 60.0
    assert await cache.get() == 2
    assert loads == [0.0, 60.0]


async def test_concurrent_callers_share_one_read() -> None:
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return "catalog"

    cache = TtlCache(load)
    assert await asyncio.gather(*(cache.get() for _ in range(5))) == ["catalog"] * 5
    assert loads == 1


async def test_expire_makes_the_next_get_read_again() -> None:
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    cache = TtlCache(load)
    await cache.get()
    cache.expire()
    assert await cache.get() == 2
