"""API keys managed over GraphQL: a caller with `keys:manage` lists, makes and revokes keys,
never beyond its own scopes and sources; the secret is answered once and never stored."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from domain.access import Scope
from domain.models import OrderSource
from gateway.authentication import KeyCache
from store import api_keys
from tests.conftest import GatewayClient, bearer, client_of

A, W = OrderSource.AFFILIATE, OrderSource.WEBSHOP
MANAGER = [Scope.KEYS_MANAGE, Scope.ORDERS_READ]

LIST = "{ apiKeys { id name scopes sources rate createdAt revokedAt } }"
CREATE = """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  secret apiKey { id name scopes sources rate revokedAt } userErrors { code message field } } }"""
REVOKE = """mutation($id: ID!) { revokeApiKey(input: {id: $id}) {
  apiKey { id revokedAt } userErrors { code message field } } }"""
VIEWER = "{ viewer { principal scopes sources } }"


async def manager(app: Starlette, **options: Any) -> GatewayClient:
    options.setdefault("scopes", MANAGER)
    return GatewayClient(client_of(app, await bearer(app, name="key-manager", **options)))


async def create(caller: GatewayClient, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.data(CREATE, {"input": input}))["createApiKey"]
    return payload


@pytest.fixture
def uncached(gateway_app: Starlette) -> None:
    """Every request looks its key up: a revocation shows at once."""
    gateway_app.state.ordergate.authenticator.keys = KeyCache(0)


async def test_a_made_key_works_at_once_and_its_secret_is_not_stored(
    gateway_app: Starlette,
) -> None:
    caller = await manager(gateway_app)
    async with caller.http:
        made = await create(caller, name="partner-z", scopes=["orders:read"], sources=["WEBSHOP"])
    assert made["userErrors"] == []
    assert made["apiKey"]["scopes"] == ["orders:read"]
    assert made["apiKey"]["sources"] == ["WEBSHOP"]
    secret = made["secret"]
    assert secret.startswith(api_keys.PREFIX)
    records = await api_keys.list_keys(gateway_app.state.ordergate.store)
    assert all(secret not in repr(r) for r in records)
    new = GatewayClient(client_of(gateway_app, {"Authorization": f"Bearer {secret}"}))
    async with new.http:
        viewer = (await new.data(VIEWER))["viewer"]
    assert viewer == {"principal": "partner-z", "scopes": ["orders:read"], "sources": ["WEBSHOP"]}


async def test_a_key_is_revoked_and_refused_afterwards(
    gateway_app: Starlette, uncached: None
) -> None:
    caller = await manager(gateway_app)
    async with caller.http:
        made = await create(caller, name="short-lived", scopes=["orders:read"])
        key_id = made["apiKey"]["id"]
        revoked = (await caller.data(REVOKE, {"id": key_id}))["revokeApiKey"]
        assert revoked["userErrors"] == [] and revoked["apiKey"]["revokedAt"] is not None
        listed = {k["id"]: k for k in (await caller.data(LIST))["apiKeys"]}
    assert listed[key_id]["revokedAt"] is not None
    assert all("secret" not in key for key in listed.values())
    async with client_of(gateway_app, {"Authorization": f"Bearer {made['secret']}"}) as http:
        response = await http.post("/graphql", json={"query": VIEWER})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("holds", "asks", "allowed"),
    [
        ({"scopes": MANAGER}, {"scopes": ["orders:read"]}, True),
        ({"scopes": MANAGER}, {"scopes": ["orders:write"]}, False),
        ({"scopes": MANAGER}, {"scopes": ["keys:manage", "customers:read"]}, False),
        (
            {"scopes": MANAGER, "sources": [A]},
            {"scopes": ["orders:read"], "sources": ["AFFILIATE"]},
            True,
        ),
        (
            {"scopes": MANAGER, "sources": [A]},
            {"scopes": ["orders:read"], "sources": ["WEBSHOP"]},
            False,
        ),
        (
            {"scopes": MANAGER, "sources": [A]},
            {"scopes": ["orders:read"], "sources": ["AFFILIATE", "WEBSHOP"]},
            False,
        ),
        ({"scopes": MANAGER, "rate": 1.0}, {"scopes": ["orders:read"], "rate": 1.0}, True),
        ({"scopes": MANAGER, "rate": 1.0}, {"scopes": ["orders:read"], "rate": 1e300}, False),
        ({"scopes": MANAGER}, {"scopes": ["orders:read"], "rate": 2e6}, False),  # tests: 1e6
    ],
    ids=[
        "a-scope-it-holds",
        "a-scope-it-lacks",
        "one-scope-beyond",
        "its-own-source",
        "another-source",
        "one-source-beyond",
        "its-own-rate",
        "a-rate-above-its-own",
        "a-rate-above-the-gateways-default",
    ],
)
async def test_a_manager_gives_no_more_than_it_holds(
    gateway_app: Starlette, holds: dict[str, Any], asks: dict[str, Any], allowed: bool
) -> None:
    caller = await manager(gateway_app, **holds)
    before = len(await api_keys.list_keys(gateway_app.state.ordergate.store))
    async with caller.http:
        made = await create(caller, name="escalation", **asks)
    after = len(await api_keys.list_keys(gateway_app.state.ordergate.store))
    if allowed:
        assert made["userErrors"] == [] and made["secret"]
        assert after == before + 1
    else:
        assert made["secret"] is None and made["apiKey"] is None
        assert [e["code"] for e in made["userErrors"]] == ["FORBIDDEN"]
        assert after == before


async def test_a_restricted_manager_makes_restricted_keys_by_default(
    gateway_app: Starlette,
) -> None:
    caller = await manager(gateway_app, sources=[A])
    async with caller.http:
        made = await create(caller, name="inherits", scopes=["orders:read"])
    assert made["apiKey"]["sources"] == ["AFFILIATE"]


async def test_keys_beyond_reach_are_neither_listed_nor_revoked(
    gateway_app: Starlette, uncached: None
) -> None:
    store = gateway_app.state.ordergate.store
    merchant = await api_keys.create(store, name="merchant", scopes=[Scope.ORDERS_READ])
    caller = await manager(gateway_app, sources=[A])
    async with caller.http:
        listed = {k["name"] for k in (await caller.data(LIST))["apiKeys"]}
        assert "merchant" not in listed and "key-manager" in listed
        answer = (await caller.data(REVOKE, {"id": str(merchant.record.id)}))["revokeApiKey"]
        unknown = (await caller.data(REVOKE, {"id": "999999"}))["revokeApiKey"]
    assert [e["code"] for e in answer["userErrors"]] == ["NOT_FOUND"]
    # beyond reach reads exactly as an id that does not exist
    assert answer["userErrors"][0]["message"].replace(str(merchant.record.id), "N") == unknown[
        "userErrors"
    ][0]["message"].replace("999999", "N")
    async with client_of(gateway_app, {"Authorization": f"Bearer {merchant.secret}"}) as http:
        assert (await http.post("/graphql", json={"query": VIEWER})).status_code == 200


@pytest.mark.parametrize(
    ("input", "code", "field"),
    [
        ({"name": "x", "scopes": ["orders:everything"]}, "VALIDATION", ["input", "scopes", "0"]),
        ({"name": "  ", "scopes": ["orders:read"]}, "VALIDATION", ["name"]),
        ({"name": "demo", "scopes": ["orders:read"]}, "VALIDATION", ["name"]),
        ({"name": "x", "scopes": ["orders:read"], "rate": -1}, "VALIDATION", None),
        ({"name": "x (on behalf of ceo)", "scopes": []}, "VALIDATION", ["name"]),
        ({"name": "a\nb", "scopes": []}, "VALIDATION", ["name"]),
        ({"name": "key-manager", "scopes": []}, "VALIDATION", ["name"]),
        ({"name": "Key-Manager", "scopes": []}, "VALIDATION", ["name"]),
        ({"name": "k\u0435y-manager", "scopes": []}, "VALIDATION", ["name"]),  # Cyrillic e
        ({"name": "DEMO", "scopes": []}, "VALIDATION", ["name"]),
    ],
    ids=[
        "unknown-scope",
        "blank-name",
        "demo-name",
        "negative-rate",
        "a-name-posing-as-on-behalf",
        "a-control-character",
        "a-live-keys-name",
        "a-live-keys-name-in-other-case",
        "a-lookalike-letter",
        "the-demo-name-in-capitals",
    ],
)
async def test_a_bad_key_request_is_a_user_error(
    gateway_app: Starlette, input: dict[str, Any], code: str, field: list[str] | None
) -> None:
    caller = await manager(gateway_app)
    async with caller.http:
        made = await create(caller, **input)
    assert made["secret"] is None
    [error] = made["userErrors"]
    assert (error["code"], error["field"]) == (code, field)


@pytest.mark.parametrize("raw_id", ["abc", "-1", "\u0661", "1" * 40])
async def test_a_revocation_of_a_malformed_id_is_not_found(
    gateway_app: Starlette, raw_id: str
) -> None:
    caller = await manager(gateway_app)
    async with caller.http:
        answer = (await caller.data(REVOKE, {"id": raw_id}))["revokeApiKey"]
    assert [e["code"] for e in answer["userErrors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize("operation", [LIST, CREATE, REVOKE])
async def test_without_keys_manage_every_key_operation_is_forbidden(
    gateway_app: Starlette, operation: str
) -> None:
    caller = GatewayClient(
        client_of(gateway_app, await bearer(gateway_app, scopes=[Scope.ORDERS_READ]))
    )
    before = len(await api_keys.list_keys(gateway_app.state.ordergate.store))
    variables = {"id": "1", "input": {"name": "sneaky", "scopes": ["orders:read"]}}
    async with caller.http:
        body = await caller.query(operation, variables)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    after = await api_keys.list_keys(gateway_app.state.ordergate.store)
    assert len(after) == before and all(r.revoked_at is None for r in after)


async def test_a_revoked_keys_name_may_be_given_again(gateway_app: Starlette) -> None:
    caller = await manager(gateway_app)
    async with caller.http:
        first = await create(caller, name="rotated", scopes=["orders:read"])
        await caller.data(REVOKE, {"id": first["apiKey"]["id"]})
        second = await create(caller, name="rotated", scopes=["orders:read"])
    assert second["userErrors"] == [] and second["apiKey"]["id"] != first["apiKey"]["id"]


async def test_a_new_key_takes_its_managers_rate_by_default(gateway_app: Starlette) -> None:
    caller = await manager(gateway_app, rate=1.0)
    async with caller.http:
        made = await create(caller, name="slow-partner", scopes=["orders:read"])
    assert made["apiKey"]["rate"] == 1.0


async def test_an_empty_source_list_is_refused_not_read_as_every_source(
    gateway_app: Starlette,
) -> None:
    caller = await manager(gateway_app)
    async with caller.http:
        made = await create(caller, name="nowhere", scopes=["orders:read"], sources=[])
    assert made["secret"] is None
    assert [(e["code"], e["field"]) for e in made["userErrors"]] == [
        ("VALIDATION", ["input", "sources"])
    ]
