"""The executor: graphql-core's, with a fast path for the commonest fields of all.

Most fields of an answer are read straight off their object, with no permission or argument:
an order's ``reference``, a line's ``quantity``, its ``unitPrice`` (a ``Money``) and that
amount's ``currency``, or built by a method that takes nothing but ``self`` (an order's
``totals``, its ``lines``). For each of those graphql-core and strawberry still build a
``ResolveInfo`` (fifteen fields), call a resolver wrapper that works out its arguments, test
the result for awaitability and dispatch on its type: several microseconds a field.
``PlainFieldsExecutor`` reads such a field itself (``getattr``, or the method called with
the object; a read that raises is left to graphql-core's path, which reads it again and
reports it) and
- a scalar or enum: serialises it with the type's own ``coerce_output_value``, the step the
  full path ends in; a null the type forbids, or a value the type refuses, goes back to
  graphql-core's path, which reports it;
- an object, or a list, of types that need no ``ResolveInfo`` to complete (object types
  without ``is_type_of``, scalars, enums: no interface, no union): builds the answer of the
  whole subtree itself when every field under it is such a field too (``_build``; the
  sub-selections come from graphql-core's own ``collect_subfields``, so fragments, aliases
  and ``@skip``/``@include`` are its). At the first thing it does not handle (a null the type
  forbids, a value the type refuses, a field with a resolver, a deferred fragment) it gives
  up the subtree, and graphql-core's own ``complete_value`` completes it from the start, with
  a two-field stand-in for the info, which completion reads only to name the field in an
  error; the reads are pure, so reading again changes nothing.
Everything else (a resolver that takes arguments, ``info`` or is async, a permission class,
an interface or union) takes graphql-core's path unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple, cast
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclass(frozen=True, slots=True)
class PlainField:
    """A field read straight off its object (``read(source)``): a scalar or enum (``leaf``),
    or else a value graphql-core completes without any resolver info (``type``)."""

    read: Callable[[Any], Any]
    type: GraphQLOutputType
    leaf: GraphQLLeafType | None
    non_null: bool


class _Where(NamedTuple):
    """What graphql-core's completion reads of an info when nothing resolves the field:
    where it is, to name it in an error."""

    parent_type: GraphQLObjectType
    field_name: str


def _completes_without_info(kind: GraphQLOutputType) -> bool:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    if is_leaf_type(kind):
        return True
    return isinstance(kind, GraphQLObjectType) and kind.is_type_of is None


def plain_field(parent: GraphQLObjectType, name: str) -> PlainField | None:
    """The fast path of ``parent.name``, or None when it needs graphql-core's whole path."""
    field = parent.fields.get(name)
    if field is None or field.args or field.resolve is None:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or definition.extensions:
        return None  # a permission class, a field extension
    read = _reader(definition)
    if read is None or not _completes_without_info(field.type):
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    leaf = named if is_leaf_type(named) else None
    assert leaf is None or isinstance(leaf, GraphQLLeafType)
    return PlainField(read, field.type, leaf, non_null)


def _reader(definition: StrawberryField) -> Callable[[Any], Any] | None:
    """How to read the field off its object: an attribute, or a method taking only self."""
    resolver = definition.base_resolver
    if resolver is None:
        return None if definition.python_name is None else attrgetter(definition.python_name)
    parameters = resolver.signature.parameters
    method = resolver.wrapped_func
    if resolver.is_async or resolver.self_parameter is None or len(parameters) != 1:
        return None
    if not inspect.isfunction(method):
        return None  # a static or class method: strawberry binds those itself
    return method


class _Bail(Exception):
    """The fast completion met what only graphql-core's path handles."""


_PLANS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], PlainField | None]]
_PLANS = WeakKeyDictionary()


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans = _PLANS.setdefault(self.schema, {})

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        manager = self.middleware_manager  # strawberry's, empty unless an extension resolves
        if not node.arguments and (manager is None or not manager.middlewares):
            plan = self._plan(parent_type, node.name.value)
            if plan is not None:
                try:
                    value = plan.read(source)
                except Exception:
                    plan = None  # graphql-core's path reads it again, and reports it
            if plan is not None:
                if plan.leaf is None:
                    try:
                        return self._build(plan.type, field_details_list, value)
                    except _Bail:
                        where = _Where(parent_type, node.name.value)
                        return self._complete(
                            plan.type, field_details_list, where, path, value, position_context
                        )
                if value is None:
                    if not plan.non_null:
                        return None
                else:
                    try:
                        coerced = plan.leaf.coerce_output_value(value)
                    except Exception:
                        coerced = None
                    if coerced is not None and coerced is not Undefined:
                        return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

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
        if not isinstance(kind, GraphQLObjectType):  # a scalar or an enum
            assert isinstance(kind, GraphQLLeafType)
            try:
                coerced = kind.coerce_output_value(value)
            except Exception:
                raise _Bail from None
            if coerced is None or coerced is Undefined:
                raise _Bail
            return coerced
        grouped, deferred, _ = self.collect_subfields(kind, field_details_list)
        if deferred:
            raise _Bail
        answer: dict[str, Any] = {}
        for response_name, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                answer[response_name] = kind.name
                continue
            plan = None if node.arguments else self._plan(kind, name)
            if plan is None:
                raise _Bail
            try:
                read = plan.read(value)
            except Exception:
                raise _Bail from None
            answer[response_name] = self._build(plan.type, details, read)
        return answer

    def _complete(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        where: _Where,
        path: Any,
        value: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_field`` after its resolver call, errors handled alike."""
        try:
            completed = self.complete_value(
                return_type,
                field_details_list,
                cast(GraphQLResolveInfo, where),  # all completion reads of it
                path,
                value,
                position_context,
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._await(completed, return_type, field_details_list, path)
        return completed

    async def _await(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: Any,
        path: Any,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
