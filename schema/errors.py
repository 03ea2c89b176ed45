"""Turns exceptions into typed GraphQL errors, and masks the unexpected ones.

- ``domain.errors.OrdergateError``: its own message and ``extensions`` (``code``, ``source``).
- parse/validation errors of the request: left as graphql-core words them, with
  ``extensions.code = GRAPHQL_VALIDATION_FAILED``; without ``suggestions`` (the production
  profile) its "Did you mean ...?" hints are cut, so errors do not reveal the schema.
- anything else: logged with its traceback, shown as "Internal error" with code INTERNAL
  (strawberry's ``MaskErrors`` idea, letting our own typed errors through).
Errors a resolver recorded without failing its field (``Context.partial_errors``) are added.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from domain.errors import ErrorCode, OrdergateError

log = logging.getLogger(__name__)


SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def typed(error: GraphQLError, *, suggestions: bool = True) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):  # e.g. variable coercion
        return GraphQLError(
            error.message if suggestions else SUGGESTION.sub("", error.message),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={
                "code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value,
                **(error.extensions or {}),
            },
        )
    if isinstance(original, OrdergateError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=original.extensions,
        )
    log.error("unexpected error at %s", error.path, exc_info=original)
    return GraphQLError(
        "Internal error",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL.value},
    )


class TypedErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None:
            return
        context = self.execution_context.context
        settings = getattr(context, "settings", None)
        suggestions = settings is None or settings.suggestions_enabled
        errors = [typed(error, suggestions=suggestions) for error in result.errors or []]
        errors.extend(getattr(context, "partial_errors", []))
        result.errors = errors or None
