"""Each query text parsed and validated once: a bounded LRU shared by every request.

Parsing and validating a document cost more than answering most queries (validation alone
was ~40 % of an ``order(id)`` request). Both depend only on the text, the schema and the
validation rules, never on the caller, its variables or any data: an entry holds the
document and its validation errors, nothing a caller could read of another's request.

Bounded twice: at most ``size`` entries (least recently used dropped first), and texts
longer than ``max_text`` characters are never kept (a few large documents cannot crowd the
cache or hold much memory). What still depends on variables (the query limits' cost) is
measured on every request by ``schema.limits.QueryLimits``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

Rules = tuple[type[ASTValidationRule], ...]

DEFAULT_SIZE = 128
# Characters. A parsed document costs ~400 bytes per token (a 1,000-token one ~400 KB with its
# errors), so the cache holds at most ~50 MB per process, whatever callers send.
DEFAULT_MAX_TEXT = 5_000


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    rules: Rules | None = None  # what ``errors`` was validated with
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Query text -> its parsed document and validation errors."""

    def __init__(self, *, size: int = DEFAULT_SIZE, max_text: int = DEFAULT_MAX_TEXT) -> None:
        self.size = size
        self.max_text = max_text
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def document(self, text: str) -> DocumentNode | None:
        entry = self._entries.get(text)
        if entry is None:
            return None
        self._entries.move_to_end(text)
        return entry.document

    def remember(self, text: str, document: DocumentNode) -> None:
        if len(text) > self.max_text or self.size == 0:
            return
        self._entries[text] = _Entry(document)
        self._entries.move_to_end(text)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def validate(
        self, text: str, document: DocumentNode, schema: GraphQLSchema, rules: Rules
    ) -> list[GraphQLError]:
        """The document's validation errors (none: ``[]``), validated once per text."""
        entry = self._entries.get(text)
        if entry is None or entry.document is not document:  # not a document of the cache
            return validate_document(schema, document, rules)
        if entry.errors is None or entry.rules != rules:
            entry.errors, entry.rules = validate_document(schema, document, rules), rules
        return list(entry.errors)  # the request's own list: nothing it adds is kept


class ValidateOnce(SchemaExtension):
    """Validation through the ``DocumentCache``. Listed last, so that it sees every rule the
    other extensions add (``DisableIntrospection``); skipped when an extension already
    refused the document (``QueryLimits``)."""

    def __init__(self, documents: DocumentCache) -> None:
        super().__init__()
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None and ctx.query:
            schema: Any = ctx.schema
            ctx.pre_execution_errors = self.documents.validate(
                ctx.query, ctx.graphql_document, schema._schema, ctx.validation_rules
            )
        yield
