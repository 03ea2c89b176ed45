"""Each query text is parsed and validated once; nothing else about a request is kept."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, specified_rules

from gateway.settings import Settings
from schema import limits
from schema.documents import DocumentCache
from tests.conftest import GatewayClient, bearer, client_of, running


def test_the_least_recently_used_text_goes_first() -> None:
    cache = DocumentCache(size=2)
    for text in ["{ a }", "{ b }"]:
        cache.remember(text, parse(text))
    assert cache.document("{ a }") is not None  # used: now the newest
    cache.remember("{ c }", parse("{ c }"))
    assert cache.document("{ b }") is None
    assert cache.document("{ a }") is not None
    assert cache.document("{ c }") is not None
    assert len(cache) == 2


def test_a_long_text_is_never_kept() -> None:
    cache = DocumentCache(size=10, max_text=20)
    long = "{ " + "a " * 20 + "}"
    cache.remember(long, parse(long))
    assert cache.document(long) is None
    assert len(cache) == 0


def test_each_caller_gets_its_own_list_of_errors() -> None:
    from schema import build_schema

    schema: Any = build_schema()
    cache = DocumentCache()
    text = "{ nosuchfield }"
    document = parse(text)
    cache.remember(text, document)
    rules = tuple(specified_rules)
    first = cache.validate(text, document, schema._schema, rules)
    assert [error.message for error in first] == [
        "Cannot query field 'nosuchfield' on type 'Query'."
    ]
    first.clear()  # what one request does with its list
    assert len(cache.validate(text, document, schema._schema, rules)) == 1


ORDERS = "query($n: Int) { orders(first: $n) { edges { node { id } } } }"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the query limits parse (a text read from the cache is not parsed)."""
    texts: list[str] = []

    def counted(text: str, **options: Any) -> Any:
        texts.append(text)
        return parse(text, **options)

    monkeypatch.setattr(limits, "parse", counted)
    return texts


async def test_the_same_text_is_parsed_once_however_many_requests_send_it(
    gateway: GatewayClient, parses: list[str]
) -> None:
    for n in [1, 2, 3]:
        data = await gateway.data(ORDERS, {"n": n})
        assert len(data["orders"]["edges"]) == n
    assert parses == [ORDERS]


async def test_limits_that_depend_on_variables_are_checked_on_every_request(
    gateway: GatewayClient,
) -> None:
    assert "errors" not in await gateway.query(ORDERS, {"n": 10})
    refused = await gateway.query(ORDERS, {"n": 100_000})  # the same text, a bigger cost
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_an_invalid_document_is_refused_each_time_it_comes(
    gateway: GatewayClient,
) -> None:
    for _ in range(3):
        body = await gateway.query("{ orders { edges { nosuchfield } } }")
        [error] = body["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "nosuchfield" in error["message"]


async def test_without_introspection_a_cached_document_is_still_refused(
    settings: Settings,
) -> None:
    production = settings.model_copy(update={"profile": "production"})
    async with running(production) as app:
        async with client_of(app, await bearer(app)) as http:
            client = GatewayClient(http)
            for _ in range(2):
                body = await client.query("{ __schema { queryType { name } } }")
                assert body.get("data") is None
                assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
