"""One request's record: its id, who made it, the operation, and each upstream call it made.

The record lives in a context variable set by the edge (``gateway.observability``) for the
whole request; whatever runs inside it (resolvers, adapters, a shared read started on its
behalf) adds to it. Background work (the outbox worker, ingestion) runs with no record: its
upstream calls still count in the metrics and traces.
"""

from __future__ import annotations

import contextvars
import random
import re
import time
from dataclasses import dataclass, field

# A request id a client sends is kept when it looks like one (it is echoed and logged):
# letters, digits and ``._:-``, at most 128 characters. Anything else gets a new one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_request_id() -> str:
    """128 random bits in hex: unique enough to find a request by, and no system call (an id
    is no secret: ``secrets`` would read the OS's entropy on every request)."""
    return f"{random.getrandbits(128):032x}"


def request_id_of(offered: str | None) -> str:
    """The client's ``X-Request-Id`` when it is a sane one, else a new id."""
    if offered is not None and REQUEST_ID.fullmatch(offered):
        return offered
    return new_request_id()


@dataclass(slots=True)
class UpstreamCall:
    """One HTTP exchange with an upstream, as the upstream saw it (token requests included)."""

    backend: str
    method: str
    route: str  # the route template (``/api/order/{id}/``), never the path with its ids
    status: int | None  # None: no answer (refused, timed out, cut)
    ms: float

    def as_json(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "method": self.method,
            "route": self.route,
            "status": self.status,
            "ms": round(self.ms, 2),
        }


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    principal: str | None = None
    operation: str | None = None  # the operation's name, ``anonymous`` without one
    operation_type: str | None = None  # query, mutation, subscription
    outcome: str | None = None  # ok, partial, error
    calls: list[UpstreamCall] = field(default_factory=list)
    joined: int = 0  # reads answered by an identical read already in flight (single flight)
    cached: int = 0  # reads answered from the gateway's catalog cache, no request sent

    def upstream_summary(self) -> dict[str, object]:
        """``extensions.upstream`` of a response: every call, and the reads it spared."""
        return {
            "calls": [call.as_json() for call in self.calls],
            "joined": self.joined,
            "cached": self.cached,
        }


_CURRENT: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "ordergate_request", default=None
)


def current() -> RequestRecord | None:
    """The record of the request this code runs for, if any."""
    return _CURRENT.get()


def begin(request_id: str) -> tuple[RequestRecord, contextvars.Token[RequestRecord | None]]:
    record = RequestRecord(request_id)
    return record, _CURRENT.set(record)


def end(token: contextvars.Token[RequestRecord | None]) -> None:
    _CURRENT.reset(token)


def current_request_id() -> str | None:
    record = _CURRENT.get()
    return None if record is None else record.request_id
