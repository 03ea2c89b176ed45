"""The served schema keeps the public contract (``shared/contract/schema.graphql``) and the
names of every feature of ``shared/contract/next/`` that is served (``SERVED_NEXT``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    ast_from_value,
    build_schema,
    print_ast,
)

from schema import build_schema as build_served_schema

CONTRACT_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared" / "contract" / "schema.graphql"
)
# A copy travels with the repository so the check also runs where shared/ is absent.
CONTRACT_COPY = Path(__file__).with_name("contract.graphql")
# The features of contract/next/ that are served, folded into the contract (copies in next/).
SERVED_NEXT = ["partner-access.graphql", "fidelity.graphql", "change-feed.graphql"]
NEXT_PATH = CONTRACT_PATH.parent / "next"
NEXT_COPY = Path(__file__).with_name("next")
BUILTIN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def contract_sdl() -> str:
    shared = CONTRACT_PATH.exists()
    parts = [(CONTRACT_PATH if shared else CONTRACT_COPY).read_text()]
    parts += [((NEXT_PATH if shared else NEXT_COPY) / name).read_text() for name in SERVED_NEXT]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    return build_schema(contract_sdl())


@pytest.fixture(scope="module")
def served() -> GraphQLSchema:
    return build_served_schema()._schema


def contract_types(contract: GraphQLSchema) -> list[GraphQLNamedType]:
    """Every named type the contract declares."""
    return [
        named
        for name, named in sorted(contract.type_map.items())
        if not name.startswith("__") and name not in BUILTIN_SCALARS
    ]


def declared_default(arg: GraphQLArgument) -> str | None:
    """The default value as SDL text, however the schema was built."""
    if arg.ast_node is not None and arg.ast_node.default_value is not None:
        return print_ast(arg.ast_node.default_value)
    if arg.default_value is Undefined:
        return None
    node = ast_from_value(arg.default_value, arg.type)
    return None if node is None else print_ast(node)


def kind(named: GraphQLNamedType) -> type:
    return next(base for base in type(named).__mro__ if base.__module__.startswith("graphql."))


def test_the_copy_of_the_contract_is_current() -> None:
    if not CONTRACT_PATH.exists():
        pytest.skip("shared/contract is not beside this checkout")
    assert CONTRACT_COPY.read_text() == CONTRACT_PATH.read_text()
    for name in SERVED_NEXT:
        assert (NEXT_COPY / name).read_text() == (NEXT_PATH / name).read_text(), name


def test_every_name_of_the_contract_is_served_as_written(
    contract: GraphQLSchema, served: GraphQLSchema
) -> None:
    problems: list[str] = []
    for expected in contract_types(contract):
        actual = served.get_type(expected.name)
        if actual is None or kind(actual) is not kind(expected):
            problems.append(f"type {expected.name} missing or of another kind")
            continue
        if isinstance(expected, GraphQLEnumType):
            missing = set(expected.values) - set(actual.values)  # type: ignore[attr-defined]
            problems += [f"enum value {expected.name}.{v} missing" for v in sorted(missing)]
            continue
        if not hasattr(expected, "fields"):
            continue
        for name, field in expected.fields.items():
            got = actual.fields.get(name)  # type: ignore[attr-defined]
            if got is None:
                problems.append(f"field {expected.name}.{name} missing")
                continue
            if str(got.type) != str(field.type):
                problems.append(f"{expected.name}.{name}: {got.type} instead of {field.type}")
            for arg_name, arg in getattr(field, "args", {}).items():
                got_arg = got.args.get(arg_name)
                if got_arg is None or str(got_arg.type) != str(arg.type):
                    problems.append(f"argument {expected.name}.{name}({arg_name}) differs")
                elif declared_default(arg) is not None and declared_default(
                    arg
                ) != declared_default(got_arg):
                    problems.append(f"default of {expected.name}.{name}({arg_name}) differs")
        if isinstance(expected, GraphQLObjectType):
            wanted = {i.name for i in expected.interfaces}
            have = {i.name for i in actual.interfaces}  # type: ignore[attr-defined]
            if not wanted <= have:
                problems.append(f"{expected.name} does not implement {wanted - have}")
    assert problems == [], "\n".join(problems)


def test_every_served_type_and_field_has_a_description(served: GraphQLSchema) -> None:
    missing: list[str] = []
    for name, named in served.type_map.items():
        if name.startswith("__") or name in BUILTIN_SCALARS:
            continue
        if not named.description:
            missing.append(name)
        for field_name, field in getattr(named, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert missing == []
