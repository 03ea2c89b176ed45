"""The executor's fast path for plain scalar fields (``schema.execution``) answers exactly what
graphql-core's own path answers: the same data, the same errors at the same paths, for every
field of every source's orders, for callers who may not see some fields, and for the values
the fast path must hand back to graphql-core (a null where the type forbids one, a value the
type cannot serialise)."""

from __future__ import annotations

import enum
import functools
import json
from typing import Any

import pytest
import strawberry

from bench.read_path import ORDERS_NESTED
from domain.access import Scope
from gateway import graphql_view
from gateway.settings import Settings
from schema import build_schema
from schema.execution import PlainFieldsExecutor
from tests.conftest import bearer, client_of, running

QUERIES = {
    "every-field-of-every-source": (ORDERS_NESTED, {"first": 40}),
    "aliases-and-typename": (
        "{ orders(first: 5) { edges { node { __typename a: reference b: reference id "
        "lines { __typename q: quantity quantity } } } } }",
        None,
    ),
    "skip-and-include": (
        "query($x: Boolean!) { orders(first: 5) { edges { node { id reference @skip(if: $x) "
        "status @include(if: $x) } } } }",
        {"x": True},
    ),
    "viewer": ("{ viewer { kind scopes sources } }", None),
}


async def answers(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    variables: Any,
    scopes: list[Scope] | None,
) -> list[Any]:
    """The same request to an app with the fast path and to one without, on one store."""
    bodies = []
    for plain_fields in (True, False):
        with monkeypatch.context() as patch:
            built = functools.partial(build_schema, plain_fields=plain_fields)
            patch.setattr(graphql_view, "build_schema", built)
            async with running(settings) as app:
                options = {} if scopes is None else {"scopes": scopes}
                async with client_of(app, await bearer(app, **options)) as http:
                    sent = {"query": query, "variables": variables}
                    body = (await http.post("/graphql", json=sent)).json()
        body.get("extensions", {}).pop("cost", None)  # each app has its own bucket
        bodies.append(body)
    return bodies


@pytest.mark.parametrize("name", QUERIES)
@pytest.mark.parametrize("scopes", [None, [Scope.ORDERS_READ]], ids=["every-scope", "no-customers"])
async def test_the_fast_path_answers_what_graphql_core_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str, scopes: list[Scope] | None
) -> None:
    query, variables = QUERIES[name]
    fast, full = await answers(settings, monkeypatch, query, variables, scopes)
    assert json.dumps(fast) == json.dumps(full)  # the order of keys too
    assert fast.get("data")


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Part:
    label: str

    @strawberry.field
    async def checked(self) -> str:
        if self.label == "boom":
            raise ValueError("boom")
        return self.label


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    colour: Colour
    count: int
    part: Part | None
    must: Part
    parts: list[Part]
    tags: list[str]

    @strawberry.field
    def shout(self) -> str:
        if self.name == "a-failing-method":
            raise ValueError("no")
        return self.name.upper()  # no name: AttributeError, as a resolver error

    @strawberry.field
    def first_part(self) -> Part:
        return self.parts[0]

    @strawberry.field
    def later(self) -> str:  # a plain-looking method that returns a coroutine
        return self._later()  # type: ignore[return-value]

    async def _later(self) -> str:
        return self.name or "-"


def thing(name: Any, **odd: Any) -> Thing:
    fields: dict[str, Any] = {
        "name": name,
        "nickname": None,
        "colour": Colour.RED,
        "count": 1,
        "part": Part(label="p"),
        "must": Part(label="m"),
        "parts": [Part(label="a"), Part(label="b")],
        "tags": ["x", "y"],
    }
    return Thing(**{**fields, **odd})


@strawberry.type
class Root:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [
            thing("fine"),
            thing(None, nickname="x"),
            thing("bad-enum", colour="blue"),
            thing("bad-int", count="many"),
            thing("no-part", part=None),
            thing("no-must", must=None),
            thing("a-null-part", parts=[Part(label="a"), None]),
            thing("not-a-list", tags=5),
            thing("a-failing-resolver", part=Part(label="boom")),
            thing("a-failing-method"),
            thing("no-parts", parts=[]),
        ]


@pytest.mark.parametrize(
    "query",
    [
        "{ things { name nickname colour count } }",
        "{ things { name } }",
        "{ things { colour } }",
        "{ things { count } }",
        "{ things { __typename n: name } }",
        "{ things { nickname part { label } } }",
        "{ things { nickname must { label } } }",
        "{ things { nickname parts { label } } }",
        "{ things { nickname tags } }",
        "{ things { nickname part { label checked } } }",
        "{ things { nickname shout } }",
        "{ things { parts { __typename label } } }",
        "{ things { part { ... on Part { label } l2: label @skip(if: true) l3: label } } }",
        "fragment F on Part { label } { things { parts { ...F } must { ...F __typename } } }",
        "{ things { nickname firstPart { label checked } } }",
        "{ things { later } }",
    ],
)
async def test_values_the_fast_path_cannot_complete_get_graphql_cores_errors(query: str) -> None:
    fast = strawberry.Schema(query=Root, execution_context_class=PlainFieldsExecutor)
    full = strawberry.Schema(query=Root)
    answers = [await schema.execute(query) for schema in (fast, full)]
    (fast_data, fast_errors), (full_data, full_errors) = (
        (a.data, [(e.message, e.path) for e in a.errors or []]) for a in answers
    )
    assert fast_data == full_data
    assert fast_errors == full_errors
