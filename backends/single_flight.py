"""Identical upstream reads in flight at once, sent once: the others wait for its answer.

Forty partners asking for the same order in the same instant make one upstream request, not
forty. Only reads are collapsed (``UpstreamHttp.get``), keyed by everything that shapes the
request (path, query parameters, headers); the answer is what the upstream gives the
gateway's own credentials, the same for every caller, and each caller's scopes and sources
still decide what it sees of it. Nothing is kept once the read has ended: this is not a cache.

A waiter that goes away (its client disconnected, its deadline passed) stops waiting; the
read itself runs under no caller's deadline (only its own timeouts) and is cancelled only
when nobody waits for it any more. Inside the read, ``given_up_for_time()`` tells a
cancellation because the last waiter's deadline passed (the upstream too slow for it) from
any other (a client gone, a batch given up): only the first says anything of the upstream.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backends import deadline
from telemetry import record

T = TypeVar("T")


@dataclass(slots=True)
class _Why:
    """Why a flight was cancelled, seen from inside it."""

    deadline_passed: bool = False


_WHY: contextvars.ContextVar[_Why | None] = contextvars.ContextVar("single_flight_why")


def given_up_for_time() -> bool:
    """Inside a shared read being cancelled: whether its last waiter's deadline passed."""
    why = _WHY.get(None)
    return why is not None and why.deadline_passed


@dataclass(slots=True)
class _Flight(Generic[T]):
    task: asyncio.Future[T]
    why: _Why
    waiters: int = 0


class SingleFlight:
    """At most one ``start()`` running per key; every caller of that key gets its outcome."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight[Any]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> T:
        """``start()``'s outcome, shared with every caller of ``key`` meanwhile; ``TimeoutError``
        when this caller's deadline passes first."""
        left = deadline.remaining()
        if not left:
            raise TimeoutError  # no time to wait for anything: start nothing
        found: _Flight[T] | None = self._flights.get(key)
        if found is None:
            # The read is everyone's: it runs without its first caller's deadline; each
            # caller waits for it only as long as its own deadline allows.
            context = contextvars.copy_context()
            context.run(deadline.clear)
            why = _Why()
            context.run(_WHY.set, why)

            async def shared() -> T:
                return await start()

            loop = asyncio.get_running_loop()
            found = _Flight(loop.create_task(shared(), context=context), why)
            self._flights[key] = found
            found.task.add_done_callback(functools.partial(self._land, key, found))
        else:
            joined = record.current()
            if joined is not None:
                joined.joined += 1  # answered by a read already in flight: nothing sent
        flight = found
        flight.waiters += 1
        out_of_time = False
        try:
            async with asyncio.timeout(left if math.isfinite(left) else None):
                return await asyncio.shield(flight.task)
        except TimeoutError:
            out_of_time = not flight.task.done()  # this waiter's deadline, not the outcome
            raise
        finally:
            flight.waiters -= 1
            if not flight.waiters and not flight.task.done():
                # The last waiter left: nobody needs the answer. A new caller starts afresh.
                if self._flights.get(key) is flight:
                    del self._flights[key]
                flight.why.deadline_passed = out_of_time
                flight.task.cancel()

    def _land(self, key: Hashable, flight: _Flight[Any], _task: object) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.task.cancelled():
            flight.task.exception()  # retrieved: a failure nobody awaited is not "never retrieved"
