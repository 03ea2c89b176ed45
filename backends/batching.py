"""Reading many orders from an upstream that only reads one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


async def gather_bounded(
    keys: Sequence[K], fetch_one: Callable[[K], Awaitable[V]], *, concurrency: int
) -> list[V]:
    """``fetch_one`` for every key, at most ``concurrency`` at a time, results in key order.

    The first failure cancels the rest and propagates (an upstream that fails one read
    of a batch is failing; the dataloader reports it for every key of the batch).
    """
    unique = list(dict.fromkeys(keys))
    if len(unique) == 1:  # one read (an ``order(id)``): no tasks to start and gather
        result = await fetch_one(unique[0])
        return [result] * len(keys)
    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(key: K) -> V:
        async with semaphore:
            return await fetch_one(key)

    tasks = [asyncio.ensure_future(bounded(key)) for key in unique]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    by_key = dict(zip(unique, results, strict=True))
    return [by_key[key] for key in keys]
