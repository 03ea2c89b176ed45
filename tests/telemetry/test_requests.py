"""What a response tells of the request that made it: ``extensions.upstream`` lists exactly the
calls the simulators counted for it (on ``X-Ordergate-Trace: 1``, or always when the
settings say so), and ``X-Request-Id`` is kept when sane, made when not, and echoed."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from backends.affiliate import client as affiliate_client
from backends.b2b import client as b2b_client
from backends.calls import MAX_FALLBACKS, RouteTemplates
from backends.crm import client as crm_client
from backends.registry import create_simulator
from backends.simkit.app import SimConfig
from backends.webshop import client as webshop_client
from domain.models import OrderSource
from gateway.settings import Settings
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import SimControlClient

TRACE = {"X-Ordergate-Trace": "1"}
EVERY_BACKEND = """
query Every {
  orders(first: 5) { edges { node { id status lines { sku quantity } } } }
}
"""


def served(sims: dict[OrderSource, SimControlClient]) -> Counter[tuple[str, str]]:
    """(backend, "METHOD route") for every request the simulators served since their reset."""
    return Counter(
        {
            (source.value, route): n
            for source, sim in sims.items()
            for route, n in sim.stats()["requests"].items()
        }
    )


def listed(body: dict[str, Any]) -> Counter[tuple[str, str]]:
    calls = body["extensions"]["upstream"]["calls"]
    return Counter((c["backend"], f"{c['method']} {c['route']}") for c in calls)


@pytest.mark.parametrize("first_request", [True, False], ids=["with-tokens", "warm"])
async def test_extensions_upstream_lists_exactly_the_calls_the_upstreams_counted(
    settings: Settings, sims: dict[OrderSource, SimControlClient], first_request: bool
) -> None:
    for sim in sims.values():
        sim.reset()  # tokens revoked: the first request fetches each backend's anew
    async with running(settings) as app, client_of(app, await bearer(app)) as http:
        gateway = GatewayClient(http)
        if not first_request:
            await gateway.data(EVERY_BACKEND)
        for sim in sims.values():
            sim.reset_stats()
        response = await gateway.post(EVERY_BACKEND, headers=TRACE)
        body = response.json()
        assert "errors" not in body
        assert listed(body) == served(sims)
        routes = {route for _, route in listed(body)}
        assert any(route.endswith("/token") or route == "POST /api/login" for route in routes) is (
            first_request
        )
        for call in body["extensions"]["upstream"]["calls"]:
            assert call["status"] == 200 and call["ms"] >= 0


async def test_a_failed_call_is_listed_with_its_status(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    await gateway.data(EVERY_BACKEND)
    for sim in sims.values():
        sim.reset_stats()
    sims[OrderSource.B2B].set_faults(error_rate=1.0, error_status=502)
    body = (await gateway.post(EVERY_BACKEND, headers=TRACE)).json()
    assert listed(body) == served(sims)
    b2b = [c for c in body["extensions"]["upstream"]["calls"] if c["backend"] == "B2B"]
    assert [c["status"] for c in b2b] == [502, 502]  # the first try and its retry


async def test_reads_joined_to_one_in_flight_are_counted_not_listed(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    found = await gateway.data(
        "{ orders(first: 1, filter: {sources: [CRM]}) { edges { node { id } } } }"
    )
    order_id = found["orders"]["edges"][0]["node"]["id"]
    for sim in sims.values():
        sim.reset_stats()
    # Two aliases, two loaders' keys of one order: one read upstream.
    query = "query($id: ID!) { a: order(id: $id) { id } b: order(id: $id) { status } }"
    body = (await gateway.post(query, {"id": order_id}, headers=TRACE)).json()
    assert listed(body) == served(sims)
    assert sum(listed(body).values()) == 1


async def test_extensions_upstream_is_absent_unless_asked_for(gateway: GatewayClient) -> None:
    body = await gateway.query(EVERY_BACKEND)
    assert "upstream" not in body.get("extensions", {})
    other = (await gateway.post(EVERY_BACKEND, headers={"X-Ordergate-Trace": "yes"})).json()
    assert "upstream" not in other.get("extensions", {})


async def test_the_setting_lists_the_calls_on_every_response(settings: Settings) -> None:
    always = settings.model_copy(update={"upstream_trace": True})
    async with running(always) as app, client_of(app, await bearer(app)) as http:
        body = (await http.post("/graphql", json={"query": EVERY_BACKEND})).json()
        assert body["extensions"]["upstream"]["calls"]


def test_the_demo_lists_the_calls_always_and_production_only_on_request() -> None:
    assert Settings(_env_file=None, profile="demo").upstream_trace_always  # type: ignore[call-arg]
    assert not Settings(_env_file=None, profile="production").upstream_trace_always  # type: ignore[call-arg]
    assert not Settings(  # type: ignore[call-arg]
        _env_file=None, profile="demo", simulators=False
    ).upstream_trace_always


@pytest.mark.parametrize(
    ("offered", "kept"),
    [
        ("req-2026-12-08.a:1", True),
        ("A" * 128, True),
        ("A" * 129, False),
        ("two words", False),
        ("", False),
        ("ünïcode", False),
        ("x\u2028y", False),
    ],
)
async def test_a_sane_request_id_is_kept_and_echoed_any_other_replaced(
    gateway: GatewayClient, offered: str, kept: bool
) -> None:
    response = await gateway.http.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"X-Request-Id": offered.encode("utf-8")},  # type: ignore[dict-item]
    )
    echoed = response.headers["x-request-id"]
    assert (echoed == offered) is kept
    if not kept:
        assert len(echoed) == 32 and int(echoed, 16) >= 0


async def test_every_answer_has_a_request_id_refusals_too(gateway_app: object) -> None:
    async with client_of(gateway_app) as http:  # type: ignore[arg-type]
        refused = await http.post("/graphql", json={"query": "{ __typename }"})
        assert refused.status_code == 401
        first = refused.headers["x-request-id"]
        assert (await http.get("/health")).headers["x-request-id"] != first


CLIENT_ROUTES = {
    OrderSource.AFFILIATE: affiliate_client.ROUTES,
    OrderSource.WEBSHOP: webshop_client.ROUTES,
    OrderSource.CRM: crm_client.ROUTES,
    OrderSource.B2B: b2b_client.ROUTES,
}


@pytest.mark.parametrize("source", list(OrderSource), ids=lambda s: s.value)
def test_every_route_a_simulator_serves_is_named_by_its_own_template(source: OrderSource) -> None:
    """What the gateway calls a route is what the upstream (its simulator) calls it: each of
    the simulator's paths, with its parameters filled in, maps back to its template."""
    app = create_simulator(source, SimConfig(seed=1, orders=2))
    templates = RouteTemplates(CLIENT_ROUTES[source])
    served = [r.path for r in app.routes if not r.path.startswith("/_sim/")]
    assert served
    for template in served:
        filled = re.sub(r"\{[^/]+\}", "1234", template)
        assert templates.of(filled) == template


@pytest.mark.parametrize(
    "path",
    [
        "/api/order/ext:a%2Fb/",  # an encoded slash stays in its segment
        "/api/unknown/ext:customer@example.com/x",
        "/api/unknown/1234/x",
    ],
)
def test_no_caller_value_becomes_a_route(path: str) -> None:
    templates = RouteTemplates(webshop_client.ROUTES)
    assert "example" not in templates.of(path) and "1234" not in templates.of(path)


def test_a_backend_has_a_bounded_number_of_routes() -> None:
    templates = RouteTemplates()
    names = {templates.of(f"/api/{word}/x") for word in (f"w{i}" for i in range(500))}
    assert len(names) == MAX_FALLBACKS + 1 and "other" in names
