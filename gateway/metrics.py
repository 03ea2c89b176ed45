"""``GET /metrics``: the Prometheus exposition (``telemetry.metrics``), with the gauges that
hold shared facts read from the store first (the outbox's depth and oldest change, each
backend's ingestion lag) and this process's circuit breakers as they stand now.

A scrape sends the ``operator_token`` as ``Authorization: Bearer``; without one set, the
metrics are open in the demo and closed in production (who calls a replica's public port
learns nothing of the partners' operations, keys and backends)."""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from feed.poller import checkpoints, ingestion_lag_s
from gateway.context import AppState
from store import outbox
from store.clock import as_utc, utcnow
from telemetry import metrics

log = logging.getLogger(__name__)


def operator_allowed(request: Request, state: AppState) -> bool:
    """Whether the request may see operators' detail: the operator token sent, or none set
    in the demo."""
    token = state.settings.operator_token
    if token is None:
        return state.settings.profile == "demo"
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 9110)
        return False
    return hmac.compare_digest(sent.strip().encode(), token.get_secret_value().encode())


async def refresh(state: AppState) -> None:
    """The scrape-time gauges: read from the store (a store down leaves them as they were)."""
    for backend in state.backends.values():
        backend.breaker.report()
    try:
        queued = await outbox.backlog(state.store)
        held = await checkpoints(state.store) if state.settings.feed.ingest else {}
    except Exception as error:  # the exposition still answers: the store is /ready's to tell
        log.warning("metrics: the store did not answer: %s", type(error).__name__)
        return
    now = utcnow()
    for source in state.backends:
        count, oldest = queued.get(source, (0, None))
        metrics.OUTBOX_DEPTH.labels(source.value).set(count)
        age = 0.0 if oldest is None else (now - as_utc(oldest)).total_seconds()
        metrics.OUTBOX_OLDEST_AGE.labels(source.value).set(max(age, 0.0))
        lag = ingestion_lag_s(held.get(source), now)
        if lag is not None:
            metrics.INGESTION_LAG.labels(source.value).set(max(lag, 0.0))


async def metrics_endpoint(request: Request) -> Response:
    state: AppState = request.app.state.ordergate
    if not operator_allowed(request, state):
        return JSONResponse(
            {
                "error": "GET /metrics needs the operator token (Authorization: Bearer ...); "
                "set ORDERGATE_OPERATOR_TOKEN (production has none by default)"
            },
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="ordergate-operator"'},
        )
    await refresh(state)
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
