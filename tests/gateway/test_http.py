"""The gateway's HTTP surface: health, readiness, GraphiQL and GraphQL-over-HTTP errors."""

from __future__ import annotations

import pytest

from tests.conftest import GatewayClient


async def test_health_answers_while_the_process_serves(gateway: GatewayClient) -> None:
    response = await gateway.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_store_and_each_backend(gateway: GatewayClient) -> None:
    response = await gateway.http.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["store"] is True
    assert body["backends"] == {
        source: {"healthy": True} for source in ("AFFILIATE", "WEBSHOP", "CRM", "B2B")
    }


async def test_ready_names_a_backend_that_is_down(gateway: GatewayClient, sims) -> None:
    from domain.models import OrderSource

    sims[OrderSource.CRM].set_faults(error_rate=1.0)
    body = (await gateway.http.get("/ready")).json()
    assert body["backends"]["CRM"] == {"healthy": False}
    assert body["backends"]["WEBSHOP"] == {"healthy": True}


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
async def test_requests_that_cannot_run_get_400_with_errors(
    gateway: GatewayClient, query: str, variables, words: str
) -> None:
    response = await gateway.post(query, variables)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body or body["data"] is None
    assert words in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_body_that_is_not_json_gets_400_with_errors(gateway: GatewayClient) -> None:
    response = await gateway.http.post(
        "/graphql", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
