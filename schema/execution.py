"""The executor: graphql-core's, with a fast path for the commonest fields of all.

Most fields of an answer are read straight off their object, with no permission or argument:
an order's ``reference``, a line's ``quantity``, its ``unitPrice`` (a ``Money``) and that
amount's ``currency``, or built by a method that takes nothing but ``self`` (an order's
``totals``, its ``lines``). For each of those graphql-core and strawberry still build a
``ResolveInfo`` (fifteen fields), call a resolver wrapper that works out its arguments, test
the result for awaitability and dispatch on its type: several microseconds a field.

``PlainFieldsExecutor.execute_field`` reads such a field itself (``getattr``, or the method
called with the object) and builds its answer in one pass (``_build``): a scalar or enum
serialised by the type's own ``coerce_output_value``, an object from the sub-selections of
graphql-core's own ``collect_subfields`` (so fragments, aliases, ``@skip``/``@include`` are
its), a list item by item, all the way down while every field below is such a field too.

A field guarded by the gateway's own permission classes (``schema.permissions``) is read
this way too when the caller holds the scopes they require.

At the first thing it does not handle — a null the type forbids, a value the type refuses,
a read that raises, a field with a resolver that takes arguments or ``info`` or is async, a
scope the caller lacks, any other field extension, an interface or union, an ``is_type_of``
that does not say yes, a deferred fragment — it gives the field up, and graphql-core's own
path runs it from the start, with a real ``ResolveInfo``, errors and all. Reads are pure, so
reading again changes nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from strawberry.permission import PermissionExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from domain.access import Scope
from schema.permissions import SCOPE_ONLY


@dataclass(frozen=True, slots=True)
class PlainField:
    """A field read straight off its object: ``read(source)``, completed as ``type`` (its
    scalar or enum type as ``leaf`` where it is one, with ``non_null``)."""

    read: Callable[[Any], Any]
    type: GraphQLOutputType
    leaf: GraphQLLeafType | None
    non_null: bool
    scopes: tuple[Scope, ...] = ()  # what its permission classes require of the caller


# One field of a compiled selection: its response name and plan (None: ``__typename``), and
# the field details its own sub-selection is collected from.
Compiled = list[tuple[str, PlainField | None, Any]]


class _Bail(Exception):
    """The fast path met what only graphql-core's path handles."""


def plain_field(parent: GraphQLObjectType, name: str) -> PlainField | None:
    """The fast path of ``parent.name``, or None when it needs graphql-core's whole path."""
    field = parent.fields.get(name)
    if field is None or field.args or field.resolve is None:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    scopes = _scopes_required(definition)
    read = _reader(definition)
    if read is None or scopes is None:
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    leaf = named if isinstance(named, GraphQLScalarType | GraphQLEnumType) else None
    return PlainField(read, field.type, leaf, non_null, scopes)


def _scopes_required(definition: StrawberryField) -> tuple[Scope, ...] | None:
    """The scopes the field's permission classes require, where those are all the
    gateway's own ``Requires`` (a scope of the caller each); None for any other extension."""
    scopes: list[Scope] = []
    for extension in definition.extensions:
        if type(extension) is not PermissionExtension or extension.fail_silently:
            return None
        for permission in extension.permissions:
            if type(permission) not in SCOPE_ONLY:
                return None
            scopes.append(type(permission).required)  # type: ignore[attr-defined]
    return tuple(scopes)


def _reader(definition: StrawberryField) -> Callable[[Any], Any] | None:
    """How to read the field off its object: an attribute, or a method taking only self."""
    resolver = definition.base_resolver
    if resolver is None:
        return None if definition.python_name is None else attrgetter(definition.python_name)
    method = resolver.wrapped_func
    if resolver.is_async or resolver.self_parameter is None:
        return None
    if len(resolver.signature.parameters) != 1 or not inspect.isfunction(method):
        return None  # arguments, info, or a static or class method strawberry binds itself
    return method


def _read(plan: PlainField, source: Any) -> Any:
    value = plan.read(source)
    if inspect.iscoroutine(value):  # a method that looked plain is async after all
        value.close()
        raise _Bail
    return value


_PLANS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], PlainField | None]]
_PLANS = WeakKeyDictionary()


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans = _PLANS.setdefault(self.schema, {})
        # Selections the fast path gave up on in this execution (graphql-core keeps each
        # field_details_list alive while it executes, so their ids stay theirs).
        self.given_up: set[tuple[str, int]] = set()
        self.compiled: dict[tuple[str, int], Compiled | None] = {}
        # strawberry's middleware is empty unless an extension resolves fields itself
        manager = self.middleware_manager
        self.fast = manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if self.fast and not node.arguments:
            plan = self._plan(parent_type, node.name.value)
            selection = (parent_type.name, id(field_details_list))
            if plan is not None and selection not in self.given_up and self._allowed(plan):
                try:
                    return self._build(plan.type, field_details_list, _read(plan, source))
                except Exception:  # _Bail, or the read raised: graphql-core's path says what
                    # The next item of a list has the same selection: likely to give up
                    # again, it goes straight to graphql-core's path.
                    self.given_up.add(selection)
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _allowed(self, plan: PlainField) -> bool:
        return all(self.context_value.principal.may(scope) for scope in plan.scopes)

    def _plan(self, parent_type: GraphQLObjectType, name: str) -> PlainField | None:
        key = (parent_type.name, name)
        if key in self.plans:
            return self.plans[key]
        plan = self.plans[key] = plain_field(parent_type, name)
        return plan

    def _build(self, kind: GraphQLOutputType, field_details_list: Any, value: Any) -> Any:
        """``value`` completed as graphql-core completes it, for a subtree of plain fields;
        ``_Bail`` at anything else."""
        if isinstance(kind, GraphQLNonNull):
            if value is None:
                raise _Bail
            kind = kind.of_type
        elif value is None:
            return None
        if isinstance(kind, GraphQLList):
            if not isinstance(value, list | tuple):
                raise _Bail
            item = kind.of_type
            return [self._build(item, field_details_list, entry) for entry in value]
        if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
            coerced = kind.coerce_output_value(value)
            if coerced is None or coerced is Undefined:
                raise _Bail
            return coerced
        if not isinstance(kind, GraphQLObjectType):
            raise _Bail  # an interface or a union: its type is resolved with the info
        is_type_of = kind.is_type_of
        if is_type_of is not None and is_type_of(value, None) is not True:  # type: ignore[arg-type]
            raise _Bail  # strawberry's ignores the info; any other says so on the full path
        fields = self._compile(kind, field_details_list)
        answer: dict[str, Any] = {}
        for response_name, plan, details in fields:
            if plan is None:
                answer[response_name] = kind.name
                continue
            if plan.scopes and not self._allowed(plan):
                raise _Bail  # graphql-core's path answers the FORBIDDEN error
            read = _read(plan, value)
            leaf = plan.leaf
            if leaf is None:
                answer[response_name] = self._build(plan.type, details, read)
            elif read is None:
                if plan.non_null:
                    raise _Bail
                answer[response_name] = None
            else:
                coerced = leaf.coerce_output_value(read)
                if coerced is None or coerced is Undefined:
                    raise _Bail
                answer[response_name] = coerced
        return answer

    def _compile(self, kind: GraphQLObjectType, field_details_list: Any) -> Compiled:
        """The fields an object of ``kind`` answers for this selection, each with its plan,
        once per selection; ``_Bail`` if any of them needs graphql-core's path."""
        key = (kind.name, id(field_details_list))
        if key in self.compiled:
            fields = self.compiled[key]
        else:
            fields = self.compiled[key] = self._compiled_fields(kind, field_details_list)
        if fields is None:
            raise _Bail
        return fields

    def _compiled_fields(self, kind: GraphQLObjectType, field_details_list: Any) -> Compiled | None:
        grouped, deferred, _ = self.collect_subfields(kind, field_details_list)
        if deferred:
            return None
        fields: Compiled = []
        for response_name, details in grouped.items():
            node = details[0].node
            if node.name.value == "__typename":
                fields.append((response_name, None, details))
                continue
            plan = None if node.arguments else self._plan(kind, node.name.value)
            if plan is None:
                return None
            fields.append((response_name, plan, details))
        return fields
