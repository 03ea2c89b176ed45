"""The executor: graphql-core's, with a fast path for the commonest field of all.

Most fields of an answer are scalars or enums read straight off their object (an order's
``reference``, a line's ``quantity``, an amount's ``currency``): no resolver, no permission,
no argument. For those, graphql-core and strawberry still build a ``ResolveInfo``, call a
resolver wrapper, test the result for awaitability and dispatch on the return type —
several microseconds a field. ``PlainFieldsExecutor.execute_field`` reads and serialises
such a field itself: ``getattr`` then the type's own ``coerce_output_value``, the same two
steps the full path ends in. Anything else — a field with a resolver, a permission class or
arguments, a list, an object, a null where the type forbids one, a value the type cannot
serialise — takes graphql-core's path unchanged, errors and all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclass(frozen=True, slots=True)
class PlainField:
    """A scalar or enum field read straight off its object."""

    attribute: str
    leaf: GraphQLLeafType
    non_null: bool


def plain_field(parent: GraphQLObjectType, name: str) -> PlainField | None:
    """The fast path of ``parent.name``, or None when it needs graphql-core's whole path."""
    field = parent.fields.get(name)
    if field is None or field.args or field.resolve is None:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None  # a resolver, a permission class, a field extension
    if definition.python_name is None:
        return None
    kind = field.type
    non_null = isinstance(kind, GraphQLNonNull)
    leaf = kind.of_type if non_null else kind
    if not is_leaf_type(leaf):
        return None
    assert isinstance(leaf, GraphQLLeafType)
    return PlainField(definition.python_name, leaf, non_null)


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
            key = (parent_type.name, node.name.value)
            if key in self.plans:
                plan = self.plans[key]
            else:
                plan = self.plans[key] = plain_field(parent_type, node.name.value)
            if plan is not None:
                value = getattr(source, plan.attribute, None)
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
