"""The GraphQL schema served at ``/graphql``: strawberry types over the domain model."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection

from schema.errors import TypedErrors
from schema.limits import QueryLimits
from schema.mutation import Mutation
from schema.order import Order
from schema.query import Query


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        """Logging is ``TypedErrors``' job: it logs the unexpected errors, with tracebacks."""


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    """The schema; without ``introspection``, ``__schema`` and ``__type`` are refused."""
    extensions: list[Any] = [QueryLimits, TypedErrors]
    if not introspection:
        extensions.append(DisableIntrospection)
    return Schema(query=Query, mutation=Mutation, types=[Order], extensions=extensions)
