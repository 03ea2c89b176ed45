"""The GraphQL schema served at ``/graphql``: strawberry types over the domain model."""

from __future__ import annotations

import functools
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection

from schema.documents import DocumentCache, ValidateOnce
from schema.errors import TypedErrors
from schema.events import Subscription
from schema.execution import PlainFieldsExecutor
from schema.limits import QueryLimits
from schema.mutation import Mutation
from schema.order import Order
from schema.query import Query
from schema.telemetry import OperationTelemetry


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        """Logging is ``TypedErrors``' job: it logs the unexpected errors, with tracebacks."""


def build_schema(
    *,
    introspection: bool = True,
    documents: DocumentCache | None = None,
    plain_fields: bool = True,
) -> strawberry.Schema:
    """The schema; without ``introspection``, ``__schema`` and ``__type`` are refused.
    ``documents``: where parsed and validated documents are kept (a new cache by default).
    ``plain_fields``: the executor's fast path for plain scalar fields (``schema.execution``;
    off only to compare answers with graphql-core's own path)."""
    documents = documents if documents is not None else DocumentCache()
    # First: the operation's span and metrics cover what every other extension does.
    extensions: list[Any] = [
        OperationTelemetry,
        functools.partial(QueryLimits, documents),
        TypedErrors,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    extensions.append(functools.partial(ValidateOnce, documents))  # last: sees every rule
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Order],
        extensions=extensions,
        execution_context_class=PlainFieldsExecutor if plain_fields else None,
    )
