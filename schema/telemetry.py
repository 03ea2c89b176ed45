"""``OperationTelemetry``: the GraphQL operation seen by the operators. Its span (current
while it executes, so upstream calls and store queries nest under it), its name, type and
outcome in the request's record and the metrics, and ``extensions.upstream`` (every upstream
call the request made) for a caller who asks with ``X-Ordergate-Trace: 1``, or always in the
demo (``upstream_trace``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from graphql import OperationType
from strawberry.extensions import SchemaExtension

from telemetry import metrics, record, tracing

TRACE_HEADER = "x-ordergate-trace"


class OperationTelemetry(SchemaExtension):
    """The operation's span, metrics and ``extensions.upstream`` (see the module docstring)."""

    def on_operation(self) -> Iterator[None]:
        span = tracing.operation_span("GraphQL operation")
        self._span = span
        token = None if span is None else tracing.activate(span)
        try:
            yield
        finally:
            if token is not None:
                tracing.deactivate(token)

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # no document: it did not parse
            kind = OperationType.QUERY.value
        name = context.operation_name
        result = context.result
        errors = context.pre_execution_errors or (result.errors if result else None)
        if not errors:
            outcome = "ok"
        else:
            outcome = "partial" if result is not None and result.data else "error"
        operation = metrics.operation_label(name)
        current = record.current()
        if kind != OperationType.SUBSCRIPTION.value:
            metrics.child(metrics.GRAPHQL_REQUESTS, operation, kind, outcome).inc()
            if current is not None:
                elapsed = time.perf_counter() - current.started
                metrics.child(metrics.GRAPHQL_DURATION, operation, kind).observe(elapsed)
        span = getattr(self, "_span", None)
        if span is not None:
            tracing.end_operation(span, kind, name, len(errors or ()))
        if current is None:
            return {}
        current.operation, current.operation_type, current.outcome = operation, kind, outcome
        if self._upstream_wanted():
            return {"upstream": current.upstream_summary()}
        return {}

    def _upstream_wanted(self) -> bool:
        """Always in the demo (``upstream_trace``); else when the request asks for it."""
        context = self.execution_context.context
        settings = getattr(context, "settings", None)
        if settings is not None and settings.upstream_trace_always:
            return True
        request = getattr(context, "request", None)
        return request is not None and request.headers.get(TRACE_HEADER) == "1"
