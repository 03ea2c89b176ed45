"""Query limits and cost budgets, enforced after parsing and before any resolver runs.

``QueryLimits`` is the one place they live:
- a document longer than ``max_query_chars`` or of more than ``max_tokens`` tokens (counted
  by a regular expression, then by the parser itself) is refused unparsed, and one nested
  too deep to parse is refused;
- before validation, ``gateway.limits.measure`` gives the operation's depth, aliases, root
  fields, directives per field and cost: over any limit, ``QUERY_TOO_COMPLEX`` naming the
  limit and the value, and the document is neither validated nor run;
- before execution, the caller's bucket (``gateway.throttle``) pays the cost: short of it,
  ``RATE_LIMITED`` with HTTP 429 and ``Retry-After``; after execution the unused part of
  the estimate goes back: what a root ``orders`` did not read (``Context.listings``);
- every answer says what it cost, under ``extensions.cost`` (Shopify's shape);
- a document refused before it runs takes ``refusal_cost`` points, and one not parsed before
  is parsed only while the bucket holds that much;
- over a WebSocket only subscriptions run: one context serves the whole socket, so queries
  and mutations, metered per request, are sent to HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import ExecutionResult, GraphQLError, OperationType, parse
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from domain.errors import ErrorCode
from gateway.limits import Measure, measure, more_tokens_than, operation_of, too_complex
from gateway.throttle import Take, ThrottleStatus
from schema.documents import DocumentCache
from telemetry import metrics

if TYPE_CHECKING:
    from gateway.context import Context


@dataclass(slots=True)
class CostReport:
    requested: int
    actual: int | None = None
    status: ThrottleStatus | None = None

    def as_extension(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "requestedQueryCost": self.requested,
            "actualQueryCost": self.actual,
        }
        if self.status is not None:
            report["throttleStatus"] = {
                "maximumAvailable": self.status.maximum_available,
                "currentlyAvailable": round(self.status.currently_available, 1),
                "restoreRate": self.status.restore_rate,
            }
        return report


class QueryLimits(SchemaExtension):
    def __init__(self, documents: DocumentCache) -> None:
        super().__init__()
        self.documents = documents
        self.paid = False  # this operation took its cost from the bucket (one per operation)

    def _context(self) -> Context:
        context: Context = self.execution_context.context
        return context

    async def on_operation(self) -> AsyncIterator[None]:
        try:
            yield
        except Exception:  # no operation of that name, ...: refused all the same
            await self._charge_refusal()
            raise
        await self._charge_refusal()

    async def _charge_refusal(self) -> None:
        """A document refused before it could run (syntax, a limit, validation, no such
        operation) cost the gateway a parse all the same: it takes ``refusal_cost`` points."""
        if self.paid:
            return  # it reached the bucket: it paid its own cost
        context = self._context()
        budget = context.budget()
        take = await context.buckets.take(
            budget.key, context.settings.limits.refusal_cost, size=budget.size, rate=budget.rate
        )
        if context.cost is None:
            context.cost = CostReport(requested=0)
        context.cost.status = take.status

    async def on_parse(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = self._context()
        limits = context.settings.limits
        if ctx.graphql_document is None and ctx.query:
            ctx.graphql_document = self.documents.document(ctx.query)
        if ctx.graphql_document is None and ctx.query:
            if len(ctx.query) > limits.max_query_chars:
                raise too_complex("query size", len(ctx.query), limits.max_query_chars)
            if more_tokens_than(ctx.query, limits.max_tokens):
                raise _token_limit(limits.max_tokens)
            # A document not parsed before is parsed only for a caller who could pay for
            # its refusal: refused documents cannot be sent for free, over and over.
            budget = context.budget()
            take = await context.buckets.take(budget.key, 0, size=budget.size, rate=budget.rate)
            if take.status.currently_available < limits.refusal_cost:
                raise self._rate_limited(take, limits.refusal_cost)
            try:
                ctx.graphql_document = parse(ctx.query, max_lexical_tokens=limits.max_tokens)
                self.documents.remember(ctx.query, ctx.graphql_document)
            except RecursionError:
                raise too_complex("depth", limits.max_depth + 1, limits.max_depth) from None
            except GraphQLError as error:
                if "Document contains more than" in error.message:  # graphql-core's words
                    raise _token_limit(limits.max_tokens) from None
                if "nested too deeply" in error.message:  # graphql-core's own RecursionError
                    raise too_complex("depth", limits.max_depth + 1, limits.max_depth) from None
                # Any other syntax error: strawberry parses again and reports it as usual.
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        context = self._context()
        assert ctx.graphql_document is not None
        operation = operation_of(ctx.graphql_document, ctx.operation_name)
        if operation is not None and isinstance(context.request, WebSocket):
            if operation.operation is not OperationType.SUBSCRIPTION:
                # One context serves a whole socket; queries and mutations are per request.
                ctx.pre_execution_errors = [over_http()]
                yield
                return
        if operation is not None:
            try:
                figures = measure(
                    ctx.graphql_document,
                    operation,
                    variables=ctx.variables,
                    sources=len(context.backends),
                    scan_pages=context.settings.max_scan_pages,
                    index_search=context.settings.feed.index_search,
                    index_reads=context.settings.feed.index_reads,
                )
            except RecursionError:
                figures = None
            error = self._refusal(figures)
            if error is not None:
                ctx.pre_execution_errors = [error]
            else:
                assert figures is not None
                context.cost = CostReport(requested=figures.cost)
        yield

    def _refusal(self, figures: Measure | None) -> GraphQLError | None:
        limits = self._context().settings.limits
        if figures is None:
            return too_complex("depth", limits.max_depth + 1, limits.max_depth)
        for limit, value, maximum in (
            ("depth", figures.depth, limits.max_depth),
            ("aliases", figures.aliases, limits.max_aliases),
            ("root fields", figures.root_fields, limits.max_root_fields),
            ("directives on one field", figures.directives, limits.max_directives),
            (
                "nesting of introspection lists",
                figures.introspection_lists,
                limits.max_introspection_lists,
            ),
            ("cost", figures.cost, min(limits.max_cost, int(limits.bucket_size))),
        ):
            if value > maximum:
                return too_complex(limit, value, maximum)
        return None

    async def on_execute(self) -> Any:
        context = self._context()
        report = context.cost
        if report is None:  # no operation to measure: graphql-core will say why
            yield
            return
        budget = context.budget()
        take: Take = await context.buckets.take(
            budget.key, report.requested, size=budget.size, rate=budget.rate
        )
        report.status = take.status
        self.paid = True
        if not take.granted:
            refusal = self._rate_limited(take, report.requested)
            self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
            yield
            return
        yield
        ctx = self.execution_context
        operation = operation_of(ctx.graphql_document, ctx.operation_name)  # type: ignore[arg-type]
        assert operation is not None
        actual = measure(
            ctx.graphql_document,  # type: ignore[arg-type]
            operation,
            variables=ctx.variables,
            sources=len(context.backends),
            scan_pages=context.settings.max_scan_pages,
            listings=context.listings,
            index_search=context.settings.feed.index_search,
            index_reads=context.settings.feed.index_reads,
        ).cost
        report.actual = min(actual, report.requested)
        unused = report.requested - report.actual
        if unused:
            report.status = await context.buckets.give_back(
                budget.key, unused, size=budget.size, rate=budget.rate
            )

    def _rate_limited(self, take: Take, cost: int) -> GraphQLError:
        """RATE_LIMITED, answered with HTTP 429 and ``Retry-After``."""
        retry_after = take.retry_after_s(cost)
        context = self._context()
        metrics.RATE_LIMITED.labels(context.principal.identity).inc()
        response = context.response
        if response is not None:
            response.status_code = 429
            response.headers["Retry-After"] = str(retry_after)
        return GraphQLError(
            f"This query costs {cost} points and the caller's bucket holds "
            f"{int(take.status.currently_available)}; retry in {retry_after} s.",
            extensions={"code": ErrorCode.RATE_LIMITED.value, "retryAfter": retry_after},
        )

    def get_results(self) -> dict[str, Any]:
        report = self._context().cost
        return {} if report is None else {"cost": report.as_extension()}


def over_http() -> GraphQLError:
    return GraphQLError(
        "Queries and mutations go over HTTP (POST /graphql); the WebSocket carries subscriptions.",
        extensions={"code": ErrorCode.BAD_REQUEST.value},
    )


def _token_limit(maximum: int) -> GraphQLError:
    refusal = too_complex("tokens", maximum + 1, maximum)
    refusal.message = f"The query has more than {maximum} tokens; this gateway allows {maximum}."
    return refusal
