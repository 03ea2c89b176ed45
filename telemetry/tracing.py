"""OpenTelemetry traces: a span per GraphQL operation (``gateway.observability``), a child
span per upstream HTTP exchange (``backends.calls``) and per store query (``store.engine``),
and W3C ``traceparent`` sent to the upstreams.

Off unless the standard variables ask for it: ``OTEL_TRACES_EXPORTER`` (``otlp`` or
``console``; ``none`` is off) or an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` wins. Everything else
(service name, resource attributes, sampler, batch sizes, the exporter's headers and
protocol) is the SDK's own reading of its ``OTEL_*`` variables. Off, nothing here makes a
span: the request path pays one ``if``.

Attributes name what was called, never with what: routes are templates, no query string, no
header, no credential.
"""

from __future__ import annotations

import os

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from telemetry import record

INSTRUMENTATION = "ordergate"
_tracer: Tracer | None = None


def wanted(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_from_environment() -> bool:
    """Traces on, exported as the ``OTEL_*`` variables say, when they ask for it (once)."""
    if _tracer is not None or not wanted():
        return _tracer is not None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "ordergate"}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    install(provider)
    return True


def install(provider: trace.TracerProvider | None) -> None:
    """Trace with ``provider`` (tests: an SDK provider with an in-memory exporter); ``None``:
    tracing off."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer(INSTRUMENTATION)


def enabled() -> bool:
    return _tracer is not None


def _attributes(attributes: dict[str, str | int]) -> dict[str, str | int]:
    """A span's attributes, with its request's id: given at the start, as setting each
    later takes the span's lock."""
    request_id = record.current_request_id()
    if request_id is not None:
        attributes["ordergate.request_id"] = request_id
    return attributes


def operation_span(name: str) -> trace.Span | None:
    """A server span for one GraphQL operation, or ``None`` with tracing off."""
    if _tracer is None:
        return None
    return _tracer.start_span(name, kind=SpanKind.SERVER, attributes=_attributes({}))


def end_operation(span: trace.Span, kind: str, name: str | None, errors: int) -> None:
    """The operation's span named as the semantic conventions say (``query One``), ended."""
    span.update_name(f"{kind} {name}" if name else kind)
    attributes: dict[str, str | int] = {"graphql.operation.type": kind}
    if name:
        attributes["graphql.operation.name"] = name
    if errors:
        attributes["graphql.errors"] = errors
        span.set_status(Status(StatusCode.ERROR, f"{errors} errors"))
    span.set_attributes(attributes)
    span.end()


def activate(span: trace.Span) -> object:
    """``span`` current for what runs next in this context (its children nest under it)."""
    return otel_context.attach(trace.set_span_in_context(span))


def deactivate(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


def upstream_span(
    backend: str, method: str, route: str, request: httpx.Request
) -> trace.Span | None:
    """A client span for one upstream exchange; its ``traceparent`` goes with the request."""
    if _tracer is None:
        return None
    span = _tracer.start_span(
        f"{method} {route}",
        kind=SpanKind.CLIENT,
        attributes=_attributes(
            {
                "http.request.method": method,
                "url.template": route,
                # The backend names the server (its URL is in the settings): each attribute
                # costs ~3 us to export, on every upstream call.
                "ordergate.backend": backend,
            }
        ),
    )
    context = span.get_span_context()
    # W3C Trace Context, written here: the SDK's propagators (trace context and baggage,
    # through a new context object) cost more than the span itself.
    request.headers["traceparent"] = (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    )
    return span


def end_upstream(span: trace.Span, status: int | None) -> None:
    if status is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
    span.end()


def failed(span: trace.Span, error: BaseException) -> None:
    span.set_attribute("error.type", type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


def query_span(system: str, statement: str) -> trace.Span | None:
    """A client span for one store query (its SQL, bound parameters left out), within a
    trace only: the background's polling queries (every second) are no trace's."""
    if _tracer is None or not trace.get_current_span().get_span_context().is_valid:
        return None
    words = statement.split(None, 1)
    operation = words[0].upper() if words else "SQL"
    return _tracer.start_span(
        f"store {operation}",
        kind=SpanKind.CLIENT,
        attributes=_attributes(
            {
                "db.system": system,
                "db.operation.name": operation,
                "db.query.text": statement[:2_000],
            }
        ),
    )
