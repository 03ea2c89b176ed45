"""``GET /ready``: whether this process can serve, and how each backend stands.

The store decides readiness (without it nothing is served: 503). Each backend is ``up``,
``degraded`` (it answers, but its breaker is not closed, its last poll failed, or ingestion is
more than ``LAG_POLLS`` poll intervals behind) or ``down`` (its health check fails): a
degraded or down backend leaves the gateway ``degraded``, still 200 — the others are served.
"""

from __future__ import annotations

import asyncio
from typing import Any

from backends.health import backend_health
from backends.resilience import BreakerState
from feed.poller import checkpoints, ingestion_lag_s
from gateway.context import AppState
from store.clock import utcnow

LAG_POLLS = 3  # intervals a backend's ingestion may fall behind before it is degraded


async def readiness(state: AppState) -> tuple[dict[str, Any], int]:
    """The body of ``/ready`` and its status code."""
    store_ok, *healthy = await asyncio.gather(
        state.store.ping(), *(backend_health(b) for b in state.backends.values())
    )
    held = await checkpoints(state.store) if store_ok else {}
    feed = state.settings.feed
    backends: dict[str, Any] = {}
    for (source, backend), ok in zip(state.backends.items(), healthy, strict=True):
        checkpoint = held.get(source)
        lag = ingestion_lag_s(checkpoint, utcnow()) if feed.ingest else None
        lag = None if lag is None else round(lag, 1)
        last_error = checkpoint.last_error if checkpoint is not None else None
        behind = lag is not None and lag > LAG_POLLS * max(state.feed.poll_interval(source), 1.0)
        closed = backend.breaker.state is BreakerState.CLOSED
        up = closed and not last_error and not behind
        backends[source.value] = {
            "state": "up" if ok and up else "degraded" if ok else "down",
            "healthy": ok,
            "breaker": backend.breaker.state.value,
            "lastError": last_error,
            "ingestionLagS": lag,
        }
    degraded = any(entry["state"] != "up" for entry in backends.values())
    status = "unavailable" if not store_ok else "degraded" if degraded else "ready"
    return {"status": status, "store": store_ok, "backends": backends}, 200 if store_ok else 503
