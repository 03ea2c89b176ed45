"""The gateway's HTTP surface: health, readiness, GraphiQL and GraphQL-over-HTTP errors."""

from __future__ import annotations

import json

import pytest

from domain.models import OrderSource
from tests.conftest import GatewayClient
from tests.support import SimControlClient, requests_served


async def test_health_answers_while_the_process_serves(gateway: GatewayClient) -> None:
    response = await gateway.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_store_and_each_backend(gateway: GatewayClient) -> None:
    response = await gateway.http.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["store"]) == ("ready", True)
    assert body["backends"] == {
        source: {
            "state": "up",
            "healthy": True,
            "breaker": "closed",
            "lastError": None,
            "ingestionLagS": None,  # this gateway does not ingest
        }
        for source in ("AFFILIATE", "WEBSHOP", "CRM", "B2B")
    }


async def test_ready_names_a_backend_that_is_down(gateway: GatewayClient, sims) -> None:
    from domain.models import OrderSource

    sims[OrderSource.CRM].set_faults(error_rate=1.0)
    response = await gateway.http.get("/ready")
    body = response.json()
    assert response.status_code == 200  # degraded: the store answers, the rest is served
    assert body["status"] == "degraded"
    crm, webshop = body["backends"]["CRM"], body["backends"]["WEBSHOP"]
    assert (crm["state"], crm["healthy"], crm["breaker"]) == ("down", False, "closed")  # 1 failure
    assert (webshop["state"], webshop["healthy"], webshop["breaker"]) == ("up", True, "closed")


async def test_graphiql_opens_in_a_browser_with_example_queries(gateway: GatewayClient) -> None:
    response = await gateway.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert "query NewestOrders" in response.text


async def test_a_query_can_be_sent_with_get(gateway: GatewayClient) -> None:
    response = await gateway.http.get(
        "/graphql",
        params={"query": "{ backends { source } }"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert len(response.json()["data"]["backends"]) == 4


@pytest.mark.parametrize(
    ("query", "variables", "words"),
    [
        ("{ orders(first: 1) { edges { node { id } } ", None, "Syntax Error"),
        ("{ orders { edges { node { colour } } } }", None, "Cannot query field 'colour'"),
        ("query($n: Int!) { orders(first: $n) { edges { cursor } } }", {"n": "many"}, "$n"),
        ("query($n: Int!) { orders(first: $n) { edges { cursor } } }", {}, "$n"),
    ],
    ids=["syntax", "unknown-field", "bad-variable", "missing-variable"],
)
async def test_requests_that_cannot_run_get_errors_and_no_data(
    gateway: GatewayClient, query: str, variables, words: str
) -> None:
    # GraphQL over HTTP: 4xx under its own media type, 200 under application/json.
    for accept, status in [("application/graphql-response+json", 400), ("application/json", 200)]:
        response = await gateway.post(query, variables, headers={"Accept": accept})
        assert response.status_code == status, accept
        assert response.headers["content-type"].startswith(accept)
    body = response.json()
    assert "data" not in body or body["data"] is None
    assert words in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_an_operation_name_the_document_lacks_is_a_request_error(
    gateway: GatewayClient,
) -> None:
    body = {"query": "query A { viewer { principal } }", "operationName": "B"}
    for accept, status in [("application/graphql-response+json", 400), ("application/json", 200)]:
        response = await gateway.http.post("/graphql", json=body, headers={"Accept": accept})
        assert response.status_code == status, accept
        [error] = response.json()["errors"]
        assert '"B"' in error["message"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/json"]
)
async def test_the_media_type_of_a_body_is_case_insensitive(
    gateway: GatewayClient, content_type: str
) -> None:
    response = await gateway.http.post(
        "/graphql",
        content=b'{"query": "{ viewer { principal } }"}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["principal"]


async def test_a_mutation_sent_with_get_is_405_allow_post(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    for sim in sims.values():
        sim.reset_stats()
    mutation = (
        'mutation { updateStatus(input: {orderId: "x", status: SHIPPED}) { userErrors { code } } }'
    )
    response = await gateway.http.get("/graphql", params={"query": mutation})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert requests_served(sims) == 0


async def test_a_body_that_is_not_json_gets_400_with_errors(gateway: GatewayClient) -> None:
    response = await gateway.http.post(
        "/graphql", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"query": "{ viewer { principal } }", "x": "\xff\xfe"}', "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"42", "JSON object"),
        (b'"{ viewer { principal } }"', "JSON object"),
        (b'{"query": 42}', "must be a string"),
        (b'{"query": "{ viewer { principal } }", "variables": [1]}', "must be an object"),
    ],
    ids=["invalid-utf8", "deep-json", "number", "string", "query-not-string", "variables-list"],
)
async def test_a_body_that_is_not_a_graphql_request_gets_400_never_500(
    gateway: GatewayClient, body: bytes, words: str
) -> None:
    response = await gateway.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert words in error["message"]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/graphql-response+json", "application/graphql-response+json"),
        (
            "application/json;q=0.9, application/graphql-response+json",
            "application/graphql-response+json",
        ),
        (
            "application/json, application/graphql-response+json;q=0.5",
            "application/json",
        ),
    ],
    ids=["none", "any", "json", "graphql-response", "prefers-graphql", "prefers-json"],
)
async def test_the_response_media_type_follows_accept(
    gateway: GatewayClient, accept: str | None, media_type: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = await gateway.post("{ viewer { principal } }", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type


async def test_values_json_libraries_disagree_on_still_get_a_typed_answer(
    gateway: GatewayClient,
) -> None:
    huge = await gateway.query("{ orders(first: 100000000000000000000000) { edges { cursor } } }")
    assert huge["errors"][0]["extensions"]["code"] in (
        "QUERY_TOO_COMPLEX",
        "GRAPHQL_VALIDATION_FAILED",
    )
    # JSON may escape a lone surrogate ("\ud800"); it is no UTF-8 character.
    query = 'query($s: OrderSource!) { orderByReference(source: $s, reference: "x") { id } }'
    body = json.dumps({"query": query, "variables": {"s": "\ud800"}}).encode()
    response = await gateway.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
