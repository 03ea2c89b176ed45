"""The time a request has left, carried with it to every upstream call it makes.

``within(seconds)`` sets the deadline of the code it wraps (a GraphQL request: the view sets
``request_deadline_s``); tasks started inside inherit it (context variables are copied into
each task). ``remaining()`` is what an upstream call may still take: ``UpstreamHttp`` bounds
each attempt by it and retries only within it. Outside any request (the outbox worker)
there is no deadline: each call has its own timeout only.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Iterator

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("deadline", default=math.inf)


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the block with a deadline ``seconds`` from now (never later than one already set)."""
    token = _deadline.set(min(_deadline.get(), time.monotonic() + seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float:
    """Seconds left before the current deadline (``inf`` without one; never below 0)."""
    return max(0.0, _deadline.get() - time.monotonic())


def clear() -> None:
    """No deadline in the current context (a read shared by callers with different ones)."""
    _deadline.set(math.inf)
