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
    """The operation's span, metrics and ``extensions.upstream`` (see the module docstring).

    The operation is finished (counted, its span ended) once, by whichever comes first with
    its outcome: ``get_results`` (an answer: a result, or errors before execution), or the
    end of ``on_operation`` (after execution; or an exception strawberry raises on, or a
    cancellation: outcome ``error``). A subscription is finished when it ends, not at each
    event."""

    _span: Any = None
    _finished = False

    def on_operation(self) -> Iterator[None]:
        span = self._span = tracing.operation_span("GraphQL operation")
        token = None if span is None else tracing.activate(span)
        failed = True
        try:
            yield
            failed = False
        finally:
            if token is not None:
                tracing.deactivate(token)
            self._finish(failed=failed)

    def get_results(self) -> dict[str, Any]:
        if self._kind() != OperationType.SUBSCRIPTION.value:
            self._finish(failed=False)
        current = record.current()
        if current is not None and self._upstream_wanted():
            return {"upstream": current.upstream_summary()}
        return {}

    def _kind(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except Exception:  # no document: it did not parse
            return OperationType.QUERY.value

    def _finish(self, *, failed: bool) -> None:
        if self._finished:
            return
        self._finished = True
        context = self.execution_context
        kind = self._kind()
        result = context.result
        errors = context.pre_execution_errors or (result.errors if result else None)
        if failed or (errors and (result is None or not result.data)):
            outcome = "error"
        else:
            outcome = "partial" if errors else "ok"
        # A name is learnt only from a document that ran: junk cannot take the label slots.
        executed = not context.pre_execution_errors and not failed
        operation = metrics.operation_label(context.operation_name, learn=executed)
        current = record.current()
        if kind != OperationType.SUBSCRIPTION.value:
            metrics.child(metrics.GRAPHQL_REQUESTS, operation, kind, outcome).inc()
            if current is not None:
                elapsed = time.perf_counter() - current.started
                metrics.child(metrics.GRAPHQL_DURATION, operation, kind).observe(elapsed)
        if self._span is not None:
            errors_count = len(errors or ()) or int(failed)
            tracing.end_operation(self._span, kind, operation, errors_count)
        if current is not None:
            current.operation, current.operation_type, current.outcome = operation, kind, outcome

    def _upstream_wanted(self) -> bool:
        """Always in the demo (``upstream_trace``); else when the request asks for it."""
        context = self.execution_context.context
        settings = getattr(context, "settings", None)
        if settings is not None and settings.upstream_trace_always:
            return True
        request = getattr(context, "request", None)
        return request is not None and request.headers.get(TRACE_HEADER) == "1"
