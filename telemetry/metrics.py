"""The Prometheus metrics, every one of them here (the README's table is generated from this
module), and their exposition at ``GET /metrics``.

With several worker processes (``ordergate run --workers N``) each writes its samples to
``PROMETHEUS_MULTIPROC_DIR`` (set by the supervisor before the workers start) and a scrape of
any of them adds them up: a counter counts every process's requests whichever one answers.
Gauges that hold a shared fact (the outbox, ingestion lag: read from the store on each
scrape) keep the most recent value; so do the circuit breakers, one per process (each writes
its state when it changes and when its process answers a scrape: a dead worker's last word
is soon older than a live one's).

Labels are bounded: routes are templates, operation names are kept for the first
``MAX_OPERATIONS`` distinct ones (later ones count as ``other``), principals are key ids or
token subjects.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # no ``*_created`` series: counters' start times are noise here
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROC_ENV):  # the library writes there from the first sample on
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST
MAX_OPERATIONS = 200
OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
# Seconds: a GraphQL request is 1 ms to the request deadline (10 s); an upstream call alike.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRAPHQL_REQUESTS = Counter(
    "ordergate_graphql_requests",
    "GraphQL operations executed, by operation name, type and outcome (ok: no error; "
    "partial: data and errors; error: no data)",
    ["operation", "type", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "ordergate_graphql_request_duration_seconds",
    "Time from the request's arrival to its answer, by operation name and type",
    ["operation", "type"],
    buckets=BUCKETS,
)
HTTP_REQUESTS = Counter(
    "ordergate_http_requests",
    "HTTP requests answered, by endpoint and status (refusals before GraphQL included)",
    ["endpoint", "status"],
)
UPSTREAM_REQUESTS = Counter(
    "ordergate_upstream_requests",
    "HTTP requests sent to a backend (token requests and retries included), by backend, "
    "method, route template and status class (2xx..5xx; `none`: no answer)",
    ["backend", "method", "route", "status_class"],
)
UPSTREAM_DURATION = Histogram(
    "ordergate_upstream_request_duration_seconds",
    "Time of one upstream exchange, by backend and route template",
    ["backend", "route"],
    buckets=BUCKETS,
)
UPSTREAM_RETRIES = Counter(
    "ordergate_upstream_retries",
    "Upstream requests sent again after a transient failure, by backend",
    ["backend"],
)
BREAKER_STATE = Gauge(
    "ordergate_circuit_breaker_state",
    "Each backend's circuit breaker: 0 closed, 1 half-open, 2 open (several processes: the "
    "one that changed or was scraped last)",
    ["backend"],
    multiprocess_mode="mostrecent",
)
OUTBOX_DEPTH = Gauge(
    "ordergate_outbox_depth",
    "Changes queued for a backend and not yet delivered (read from the store at each scrape)",
    ["backend"],
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "ordergate_outbox_oldest_age_seconds",
    "Age of the oldest change still queued for a backend (0: none queued)",
    ["backend"],
    multiprocess_mode="mostrecent",
)
OUTBOX_ATTEMPTS = Counter(
    "ordergate_outbox_delivery_attempts",
    "Deliveries of queued changes, by backend and outcome (delivered, retry, rejected; "
    "deferred: not sent, the breaker open)",
    ["backend", "outcome"],
)
IDEMPOTENCY_REPLAYS = Counter(
    "ordergate_idempotency_replays",
    "Mutations answered from their idempotency key's first answer, nothing sent again",
)
RATE_LIMITED = Counter(
    "ordergate_rate_limit_refusals",
    "Requests refused because the caller's cost budget was spent, by principal",
    ["principal"],
)
INGESTION_LAG = Gauge(
    "ordergate_ingestion_lag_seconds",
    "Seconds since ingestion last read a backend in step (read from the store at each scrape)",
    ["backend"],
    multiprocess_mode="mostrecent",
)
WEBHOOK_VERIFICATIONS = Counter(
    "ordergate_affiliate_webhook_verifications",
    "Affiliate webhooks received, by the signature check's outcome (valid, unsigned, invalid, "
    "expired, malformed)",
    ["outcome"],
)
PARTNER_DELIVERIES = Counter(
    "ordergate_partner_webhook_deliveries",
    "Deliveries to partners' webhook receivers, by outcome (delivered, retry, gave_up)",
    ["outcome"],
)

_operations: set[str] = set()


def operation_label(name: str | None, *, learn: bool = True) -> str:
    """The operation's name as a label: ``anonymous`` without one, ``other`` past the bound
    or for a name not ``learn``t yet (a refused document's name is the client's word only)."""
    if not name:
        return "anonymous"
    if name in _operations:
        return name
    if learn and len(_operations) < MAX_OPERATIONS and OPERATION_NAME.fullmatch(name):
        _operations.add(name)
        return name
    return "other"


def status_class(status: int | None) -> str:
    return "none" if status is None else f"{status // 100}xx"


_children: dict[tuple[object, ...], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, kept: the library takes a lock and builds a key each time
    (on the request path, several times per request)."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def upstream_call(backend: str, method: str, route: str, status: int | None, s: float) -> None:
    child(UPSTREAM_REQUESTS, backend, method, route, status_class(status)).inc()
    child(UPSTREAM_DURATION, backend, route).observe(s)


def clear_directory(directory: str) -> None:
    """Remove the workers' sample files (``*.db``) from ``directory``."""
    for path in Path(directory).glob("*.db"):
        path.unlink(missing_ok=True)


def fresh_directory(directory: str) -> None:
    """``directory``, existing and holding no samples of an earlier run."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    clear_directory(directory)


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
