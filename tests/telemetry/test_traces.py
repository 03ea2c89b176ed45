"""One GraphQL request, one trace: the operation's span, a child span for each upstream call
and store query, and the upstream received the same trace id in ``traceparent`` (read from
the simulator's own request log). Spans are collected by the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from domain.models import OrderSource
from telemetry import tracing
from tests.conftest import GatewayClient
from tests.support import SimControlClient

ONE = "query One($id: ID!) { order(id: $id) { id status history { kind } } }"
FEW = "query Few { orders(first: 2) { edges { node { id } } } }"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)
    provider.shutdown()


def children_of(parent: ReadableSpan, every: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in every if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_one_request_is_one_trace_with_its_upstream_calls_and_store_queries(
    gateway: GatewayClient,
    sims: dict[OrderSource, SimControlClient],
    spans: InMemorySpanExporter,
) -> None:
    webshop = sims[OrderSource.WEBSHOP]
    found = await gateway.data(
        "{ orders(first: 1, filter: {sources: [WEBSHOP]}) { edges { node { id } } } }"
    )
    order_id = found["orders"]["edges"][0]["node"]["id"]
    webshop.reset_stats()
    spans.clear()

    response = await gateway.post(ONE, {"id": order_id}, headers={"X-Request-Id": "trace-me-1"})
    assert "errors" not in response.json()

    finished = spans.get_finished_spans()
    operations = [s for s in finished if s.kind is SpanKind.SERVER]
    assert [s.name for s in operations] == ["query One"]
    operation = operations[0]
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "One"
    assert operation.attributes["ordergate.request_id"] == "trace-me-1"
    trace_id = operation.context.trace_id
    assert {s.context.trace_id for s in finished} == {trace_id}  # one trace, nothing else

    children = children_of(operation, finished)
    upstream = [s for s in children if "ordergate.backend" in (s.attributes or {})]
    queries = [s for s in children if "db.system" in (s.attributes or {})]
    (received,) = webshop.request_log()  # the upstream's own record of the request
    assert [s.name for s in upstream] == [received["route"]]
    assert upstream[0].attributes is not None
    assert upstream[0].attributes["http.response.status_code"] == 200
    assert upstream[0].attributes["ordergate.backend"] == "WEBSHOP"
    assert queries, "the order's history is read from the store"
    assert len(children) == len(upstream) + len(queries) == len(finished) - 1
    for span in children:
        assert span.attributes is not None
        assert span.attributes["ordergate.request_id"] == "trace-me-1"
        assert span.end_time is not None and operation.end_time is not None
        assert span.end_time <= operation.end_time

    # It came with this trace, and the upstream span's id.
    version, sent_trace, sent_span, flags = received["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert int(sent_trace, 16) == trace_id
    assert int(sent_span, 16) == upstream[0].context.span_id


async def test_no_credential_or_query_string_goes_into_a_span(
    gateway: GatewayClient, spans: InMemorySpanExporter
) -> None:
    await gateway.data(FEW)
    secrets = ("demo-secret", "demo-affiliate-key", "Bearer ", "client_secret")
    for span in spans.get_finished_spans():
        text = f"{span.name} {dict(span.attributes or {})}"
        assert not any(secret in text for secret in secrets), text
        if "url.template" in (span.attributes or {}):
            assert "?" not in text


async def test_without_a_tracer_nothing_is_traced_and_no_traceparent_is_sent(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    assert not tracing.enabled()
    sims[OrderSource.AFFILIATE].reset_stats()
    await gateway.data(
        "{ orders(first: 1, filter: {sources: [AFFILIATE]}) { edges { node { id } } } }"
    )
    assert [r["traceparent"] for r in sims[OrderSource.AFFILIATE].request_log()] == [None]


@pytest.mark.parametrize(
    ("environment", "wanted"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"}, False),
    ],
)
def test_traces_are_on_only_when_the_standard_variables_ask(
    environment: dict[str, str], wanted: bool
) -> None:
    assert tracing.wanted(environment) is wanted


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("POST", {"query": "query A { __typename }", "operationName": "B"}, 200),
        ("POST", {"variables": {}}, 400),  # no query at all
        ("GET", None, 405),  # a mutation over GET
    ],
    ids=["unknown-operation-name", "missing-query", "mutation-over-get"],
)
async def test_the_operation_span_ends_however_the_request_is_refused(
    gateway: GatewayClient,
    spans: InMemorySpanExporter,
    method: str,
    body: dict[str, object] | None,
    status: int,
) -> None:
    if method == "GET":
        response = await gateway.http.get("/graphql", params={"query": "mutation { __typename }"})
    else:
        response = await gateway.http.post("/graphql", json=body)
    assert response.status_code == status
    operations = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    (operation,) = operations  # started, and ended: nothing left open
    assert operation.status.status_code.name == "ERROR"
