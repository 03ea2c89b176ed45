"""Partner access: who may call `/graphql`, and what each credential may see and change.

Every attack is tried against the real app and simulators: no credential, a made-up or
revoked key, tokens signed by another key, expired or meant for another audience, a key
limited to one source reaching for another's orders, a key without `customers:read` asking
for customers. Refusals are checked to reach no upstream (`/_sim/stats`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain.access import ALL_SCOPES, Scope
from domain.errors import ValidationError
from domain.models import OrderSource
from gateway.app import create_app, ide_headers_of
from gateway.authentication import KeyCache
from gateway.cli import print_addresses
from gateway.graphql_view import GraphQLView
from gateway.settings import AuthSettings, Settings
from store import api_keys
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import SimControlClient, requests_served, serving

A, W, B = OrderSource.AFFILIATE, OrderSource.WEBSHOP, OrderSource.B2B
ISSUER, AUDIENCE = "https://id.example.test/", "ordergate"

ORDERS = "{ orders(first: 50) { edges { node { id source } } } }"
ONE = "query($id: ID!) { order(id: $id) { id source } }"
ONE_REF = "query($id: ID!) { order(id: $id) { reference } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
CUSTOMER = """query($id: ID!) { order(id: $id) {
  id status customer { name email } company { name } agent { name } shippingAddress { city }
  billingAddress { city } lines { sku } } }"""
FIRST_OF = """query($s: [OrderSource!]) {
  orders(first: 1, filter: {sources: $s}) { edges { node { id upstreamId } } } }"""
TWO_PENDING = """{ orders(first: 2, filter: {sources: [AFFILIATE], statuses: [PENDING]}) {
  edges { node { id } } } }"""
UPDATE = """mutation($id: ID!, $status: OrderStatus!) {
  updateStatus(input: {orderId: $id, status: $status}) {
    order { history { actor } } userErrors { code message field } } }"""


def refused(response: httpx.Response) -> str:
    """The message of a 401 refusal, after checking its shape."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    return str(error["message"])


# --- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer og_made_up_key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-a-key-nor-a-token"},
        {"Authorization": "Bearer a.b.c"},  # looks like a JWT; no issuer is configured
    ],
    ids=["none", "unknown-key", "basic", "empty", "garbage", "jwt-not-configured"],
)
async def test_a_request_without_a_valid_credential_is_refused_before_any_upstream_call(
    gateway_app: Starlette, sims: dict[OrderSource, SimControlClient], headers: dict[str, str]
) -> None:
    for sim in sims.values():
        sim.reset_stats()
    async with client_of(gateway_app, headers) as http:
        message = refused(await http.post("/graphql", json={"query": ORDERS}))
        refused(await http.get("/graphql", params={"query": ORDERS}))
    assert requests_served(sims) == 0
    credential = headers.get("Authorization", "").partition(" ")[2]
    assert not credential or credential not in message  # never echoed back


async def test_a_revoked_key_is_refused(settings: Settings) -> None:
    uncached = settings.model_copy(update={"auth": AuthSettings(key_cache_s=0)})
    async with running(uncached) as app:
        store = app.state.ordergate.store
        key = await api_keys.create(store, name="partner-x", scopes=[Scope.ORDERS_READ])
        async with client_of(app, {"Authorization": f"Bearer {key.secret}"}) as http:
            assert (await http.post("/graphql", json={"query": ORDERS})).status_code == 200
            assert key.record.id is not None
            await api_keys.revoke(store, key.record.id)
            assert "revoked" in refused(await http.post("/graphql", json={"query": ORDERS}))


async def test_a_looked_up_key_is_trusted_only_for_the_cache_time(gateway_app: Starlette) -> None:
    """A revocation elsewhere (the CLI, another replica) takes effect within `key_cache_s`."""
    now = [0.0]
    authenticator = gateway_app.state.ordergate.authenticator
    authenticator.keys = KeyCache(5.0, clock=lambda: now[0])
    store = gateway_app.state.ordergate.store
    key = await api_keys.create(store, name="partner-y", scopes=[Scope.ORDERS_READ])
    assert key.record.id is not None
    async with client_of(gateway_app, {"Authorization": f"Bearer {key.secret}"}) as http:
        assert (await http.post("/graphql", json={"query": ORDERS})).status_code == 200
        await api_keys.revoke(store, key.record.id)
        now[0] = 4.9  # still trusted: no store query
        assert (await http.post("/graphql", json={"query": ORDERS})).status_code == 200
        now[0] = 5.0
        assert "revoked" in refused(await http.post("/graphql", json={"query": ORDERS}))


async def test_only_a_hash_of_the_secret_is_stored(gateway_app: Starlette) -> None:
    store = gateway_app.state.ordergate.store
    key = await api_keys.create(store, name="partner-x", scopes=[Scope.ORDERS_READ])
    [record] = [r for r in await api_keys.list_keys(store) if r.id == key.record.id]
    stored = " ".join(str(value) for value in record.model_dump().values())
    assert key.secret not in stored
    assert record.secret_hash == api_keys.secret_hash(key.secret)


async def test_the_graphiql_page_opens_without_a_credential(gateway_app: Starlette) -> None:
    async with client_of(gateway_app) as http:
        response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_anonymous_callers_are_served_only_where_a_setting_allows_it(
    settings: Settings,
) -> None:
    allowed = settings.model_copy(update={"auth": AuthSettings(anonymous=True)})
    async with running(allowed) as app, client_of(app) as http:
        body = (await http.post("/graphql", json={"query": "{ viewer { principal } }"})).json()
        assert "errors" not in body or body["errors"][0]["extensions"]["code"] != "UNAUTHENTICATED"
        answer = (await http.post("/graphql", json={"query": ORDERS})).json()
        assert answer["data"]["orders"]["edges"]  # anonymous has orders:read by default
        write = await http.post(
            "/graphql", json={"query": UPDATE, "variables": {"id": "x", "status": "CONFIRMED"}}
        )
        assert write.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- access tokens (JWT) ----------------------------------------------------------------


class IdentityProvider:
    """A test's own identity provider: RSA keys it makes, a JWKS it serves, tokens it signs."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": self.new_key()}
        self.jwks_reads = 0

    @staticmethod
    def new_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def app(self) -> Starlette:
        async def jwks(request: Request) -> JSONResponse:
            self.jwks_reads += 1
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/jwks.json", jwks)])

    def token(
        self,
        *,
        kid: str = "k1",
        key: rsa.RSAPrivateKey | None = None,
        scope: str | list[str] = "orders:read",
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "app-42",
            "iat": now,
            "exp": now + 300,
            **({"scope": scope} if isinstance(scope, str) else {"scp": scope}),
            **claims,
        }
        signing = key or self.keys[kid]
        return jwt.encode(body, signing, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[IdentityProvider, str]]:
    provider = IdentityProvider()
    with serving(provider.app()) as url:
        yield provider, f"{url}/jwks.json"


@pytest.fixture
async def token_gateway(
    settings: Settings, idp: tuple[IdentityProvider, str]
) -> AsyncIterator[Starlette]:
    _, jwks_url = idp
    auth = AuthSettings(
        jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwks_url=jwks_url, jwks_refresh_min_s=0
    )
    async with running(settings.model_copy(update={"auth": auth})) as app:
        yield app


async def ask(app: Starlette, token: str, query: str = ORDERS) -> httpx.Response:
    async with client_of(app, {"Authorization": f"Bearer {token}"}) as http:
        return await http.post("/graphql", json={"query": query})


async def test_a_valid_access_token_with_orders_read_reads(
    token_gateway: Starlette, idp: tuple[IdentityProvider, str]
) -> None:
    provider, _ = idp
    response = await ask(token_gateway, provider.token())
    assert response.status_code == 200
    assert response.json()["data"]["orders"]["edges"]
    viewer = (await ask(token_gateway, provider.token(), "{ viewer { principal kind } }")).json()
    assert viewer["data"]["viewer"] == {"principal": "app-42", "kind": "ACCESS_TOKEN"}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"key": IdentityProvider.new_key()}, "not valid"),  # same kid, another key
        ({"kid": "unknown"}, "unknown key"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "another-api"}, "not valid"),
        ({"iss": "https://evil.example.test/"}, "not valid"),
        ({"nbf": int(time.time()) + 3600}, "not valid"),
    ],
    ids=["another-signing-key", "unknown-kid", "expired", "other-audience", "other-issuer", "nbf"],
)
async def test_a_token_that_does_not_verify_is_refused(
    token_gateway: Starlette, idp: tuple[IdentityProvider, str], change: dict[str, Any], words: str
) -> None:
    provider, _ = idp
    kid = change.pop("kid", "k1")
    key = change.pop("key", None)
    if kid not in provider.keys and key is None:
        key = IdentityProvider.new_key()
    token = provider.token(kid=kid, key=key, **change)
    assert words in refused(await ask(token_gateway, token))


async def test_scopes_come_from_the_scp_claim_too(
    token_gateway: Starlette, idp: tuple[IdentityProvider, str]
) -> None:
    provider, _ = idp
    body = (await ask(token_gateway, provider.token(scope=["orders:read", "x:y"]))).json()
    assert body["data"]["orders"]["edges"]
    no_read = (await ask(token_gateway, provider.token(scope="profile email"))).json()
    assert no_read["data"] is None
    assert no_read["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_rotated_signing_key_is_fetched_once_when_a_token_names_it(
    token_gateway: Starlette, idp: tuple[IdentityProvider, str]
) -> None:
    provider, _ = idp
    assert (await ask(token_gateway, provider.token())).status_code == 200
    reads = provider.jwks_reads
    assert (await ask(token_gateway, provider.token())).status_code == 200
    assert provider.jwks_reads == reads  # cached
    provider.keys["k2"] = IdentityProvider.new_key()
    try:
        assert (await ask(token_gateway, provider.token(kid="k2"))).status_code == 200
        assert provider.jwks_reads == reads + 1
    finally:
        del provider.keys["k2"]


# --- authorization ----------------------------------------------------------------------


async def keyed(app: Starlette, **options: Any) -> GatewayClient:
    return GatewayClient(client_of(app, await bearer(app, **options)))


async def some_order(gateway: GatewayClient, source: OrderSource) -> dict[str, Any]:
    data = await gateway.data(FIRST_OF, {"s": [source.value]})
    node: dict[str, Any] = data["orders"]["edges"][0]["node"]
    return node


async def test_a_key_limited_to_one_source_sees_and_changes_only_that_source(
    gateway_app: Starlette, gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    webshop_order = await some_order(gateway, W)
    partner = await keyed(gateway_app, name="affiliate-partner", sources=[A])
    async with partner.http:
        listed = await partner.data(ORDERS)
        assert {edge["node"]["source"] for edge in listed["orders"]["edges"]} == {"AFFILIATE"}
        sims[W].reset_stats()
        hidden = await partner.query(ONE, {"id": webshop_order["id"]})
        assert hidden["data"]["order"] is None
        assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert "WEBSHOP" not in hidden["errors"][0]["message"]  # no hint that it exists
        node = await partner.query(NODE, {"id": webshop_order["id"]})
        assert node["data"]["node"] is None
        assert node["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        write = await partner.data(UPDATE, {"id": webshop_order["id"], "status": "CANCELLED"})
        [error] = write["updateStatus"]["userErrors"]
        assert error["code"] == "FORBIDDEN"
        assert sims[W].stats()["total"] == 0


CATALOG = "query($s: OrderSource!) { catalog(source: $s) { clients { id name } products { id } } }"


async def test_a_catalog_of_a_hidden_source_is_not_found_and_not_read(
    gateway_app: Starlette, sims: dict[OrderSource, SimControlClient]
) -> None:
    partner = await keyed(gateway_app, name="catalog-partner", sources=[A])
    async with partner.http:
        sims[B].reset_stats()
        hidden = await partner.query(CATALOG, {"s": "B2B"})
    assert hidden["data"] is None
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert sims[B].stats()["total"] == 0


async def test_a_catalog_names_people_only_for_callers_with_customers_read(
    gateway_app: Starlette, gateway: GatewayClient
) -> None:
    named = (await gateway.data(CATALOG, {"s": "B2B"}))["catalog"]["clients"]
    partner = await keyed(gateway_app, name="no-customers", scopes=["orders:read"])
    async with partner.http:
        unnamed = (await partner.data(CATALOG, {"s": "B2B"}))["catalog"]["clients"]
    assert any(c["name"] != c["id"] for c in named)
    assert unnamed == [{"id": c["id"], "name": c["id"]} for c in named]


async def test_without_customers_read_the_customer_fields_are_null_and_forbidden(
    gateway_app: Starlette, gateway: GatewayClient
) -> None:
    order = await some_order(gateway, W)
    partner = await keyed(gateway_app, name="no-pii", scopes=[Scope.ORDERS_READ])
    async with partner.http:
        body = await partner.query(CUSTOMER, {"id": order["id"]})
    served = body["data"]["order"]
    assert served["id"] == order["id"] and served["status"] and served["lines"]
    hidden = ["customer", "company", "agent", "shippingAddress", "billingAddress"]
    assert all(served[name] is None for name in hidden)
    forbidden = sorted(e["path"][-1] for e in body["errors"])
    assert forbidden == sorted(hidden)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    full = await gateway.data(CUSTOMER, {"id": order["id"]})
    assert full["order"]["customer"] is not None


SEARCH = """query($s: String!) { orders(first: 5, filter: {search: $s, sources: [WEBSHOP]}) {
  edges { node { id } } } }"""


async def test_without_customers_read_a_search_does_not_match_customer_names(
    gateway_app: Starlette, gateway: GatewayClient
) -> None:
    """Else a search would tell whether a named person has orders."""
    order = await some_order(gateway, W)
    name = (await gateway.data(CUSTOMER, {"id": order["id"]}))["order"]["customer"]["name"]
    found = await gateway.data(SEARCH, {"s": name})
    assert order["id"] in {e["node"]["id"] for e in found["orders"]["edges"]}
    partner = await keyed(gateway_app, name="no-pii-search", scopes=[Scope.ORDERS_READ])
    async with partner.http:
        blind = await partner.data(SEARCH, {"s": name})
        assert blind["orders"]["edges"] == []
        reference = (await partner.data(ONE_REF, {"id": order["id"]}))["order"]["reference"]
        by_reference = await partner.data(SEARCH, {"s": reference})
    assert order["id"] in {e["node"]["id"] for e in by_reference["orders"]["edges"]}


@pytest.mark.parametrize(
    ("scopes", "operation", "allowed"),
    [
        ([Scope.ORDERS_READ], ORDERS, True),
        ([Scope.ORDERS_WRITE], ORDERS, False),
        ([Scope.ORDERS_READ], UPDATE, False),
        ([Scope.ORDERS_WRITE], UPDATE, True),
    ],
    ids=["read-reads", "write-only-cannot-read", "read-only-cannot-write", "write-writes"],
)
async def test_each_root_field_needs_its_scope(
    gateway_app: Starlette,
    gateway: GatewayClient,
    sims: dict[OrderSource, SimControlClient],
    scopes: list[Scope],
    operation: str,
    allowed: bool,
) -> None:
    order = await some_order(gateway, A)
    caller = await keyed(gateway_app, name="scoped", scopes=scopes)
    for sim in sims.values():
        sim.reset_stats()
    async with caller.http:
        # Nothing may become PENDING: where the write is allowed at all, the state machine
        # refuses it, so no upstream changes either way.
        body = await caller.query(operation, {"id": order["id"], "status": "PENDING"})
    codes = {e["extensions"]["code"] for e in body.get("errors", [])}
    assert ("FORBIDDEN" not in codes) is allowed, body
    if not allowed:
        assert requests_served(sims) == 0


async def test_the_history_names_the_key_whatever_x_actor_says(
    gateway_app: Starlette, gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    sims[A].reset()
    try:
        pending = await gateway.data(TWO_PENDING)
        first, second = [e["node"] for e in pending["orders"]["edges"]]
        scopes = [Scope.ORDERS_READ, Scope.ORDERS_WRITE]
        partner = await keyed(gateway_app, name="partner-x", scopes=scopes)
        async with partner.http:
            response = await partner.post(
                UPDATE, {"id": first["id"], "status": "CONFIRMED"}, headers={"X-Actor": "ceo"}
            )
        [event] = response.json()["data"]["updateStatus"]["order"]["history"]
        assert event == {"actor": "partner-x"}
        # A key allowed to act for people records them "on behalf of".
        delegate = await keyed(gateway_app, name="back-office", scopes=ALL_SCOPES)
        async with delegate.http:
            response = await delegate.post(
                UPDATE, {"id": second["id"], "status": "CONFIRMED"}, headers={"X-Actor": "ann"}
            )
        [event] = response.json()["data"]["updateStatus"]["order"]["history"]
        assert event == {"actor": "back-office (on behalf of ann)"}
    finally:
        sims[A].reset()


# --- the key commands and the WebSocket door --------------------------------------------


def cli(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", *args],
        env={**os.environ, "ORDERGATE_DATABASE_URL": database},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keys_are_made_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/keys.db"
    made = cli(database, "create", "--name", "acme", "--scope", "orders:read",
               "--source", "AFFILIATE", "--rate", "5")  # fmt: skip
    assert made.returncode == 0, made.stderr
    secret = made.stdout.rstrip("\n").splitlines()[-1]
    assert secret.startswith("og_") and " " not in secret  # alone on the last line
    listed = cli(database, "list")
    assert "acme" in listed.stdout and "AFFILIATE" in listed.stdout and "active" in listed.stdout
    assert secret not in listed.stdout + listed.stderr
    key_id = listed.stdout.split()[0]
    revoked = cli(database, "revoke", key_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in cli(database, "list").stdout
    unknown = cli(database, "revoke", "999")
    assert unknown.returncode != 0 and "No API key has the id 999" in unknown.stderr


# --- what the reviewers tried -----------------------------------------------------------


@pytest.mark.parametrize("name", ["%71uery", "qu%65ry", "QUERY=x&query"])
async def test_an_encoded_query_parameter_does_not_pass_for_the_graphiql_page(
    gateway_app: Starlette, name: str
) -> None:
    async with client_of(gateway_app) as http:
        response = await http.get(
            f"/graphql?{name}={{viewer{{principal}}}}", headers={"Accept": "text/html"}
        )
    refused(response)


@pytest.mark.parametrize(
    "update",
    [{"simulators": True, "profile": "production"}, {"simulators": False}],
    ids=["production-profile", "no-simulators"],
)
async def test_the_published_demo_key_works_only_in_the_demo(
    settings: Settings, update: dict[str, Any]
) -> None:
    demo_key = {"Authorization": "Bearer og_demo_key_for_local_use_only"}
    demo = settings.model_copy(update={"simulators": True})
    async with running(demo) as app, client_of(app, demo_key) as http:
        assert (await http.post("/graphql", json={"query": ORDERS})).status_code == 200
    # The same store started outside the demo, even with another demo_key setting.
    other = settings.model_copy(update={**update, "auth": AuthSettings(demo_key=None)})
    app = create_app(other)
    async with app.router.lifespan_context(app), client_of(app, demo_key) as http:
        refused(await http.post("/graphql", json={"query": ORDERS}))


@pytest.mark.parametrize(
    ("update", "shown"),
    [
        ({"simulators": True}, True),
        ({"simulators": True, "profile": "production"}, False),
        ({"simulators": False}, False),
    ],
    ids=["demo", "production-profile", "real-upstreams"],
)
def test_the_demo_key_is_printed_and_filled_into_graphiql_only_in_the_demo(
    settings: Settings, capsys: pytest.CaptureFixture[str], update: dict[str, Any], shown: bool
) -> None:
    chosen = settings.model_copy(update=update)
    print_addresses(chosen, [])
    page = GraphQLView(ide_headers=ide_headers_of(chosen)).graphql_ide_html
    secret = "og_demo_key_for_local_use_only"
    assert (secret in capsys.readouterr().out) is shown
    assert (secret in page) is shown


async def test_the_name_of_the_demo_key_is_reserved(gateway_app: Starlette) -> None:
    with pytest.raises(ValidationError):
        await api_keys.create(gateway_app.state.ordergate.store, name="demo", scopes=[])


@pytest.mark.parametrize(
    ("claims", "sources"),
    [
        ({"ordergate_sources": ["AFFILIATE"]}, {"AFFILIATE"}),
        ({"ordergate_sources": "AFFILIATE"}, {"AFFILIATE"}),
        ({"ordergate_sources": "AFFILIATE WEBSHOP"}, {"AFFILIATE", "WEBSHOP"}),
        ({"ordergate_sources": []}, set()),
        ({}, {"AFFILIATE", "WEBSHOP", "CRM", "B2B"}),
    ],
    ids=["list", "string", "spaced-string", "empty", "absent"],
)
async def test_a_token_sources_claim_limits_never_widens(
    token_gateway: Starlette,
    idp: tuple[IdentityProvider, str],
    claims: dict[str, Any],
    sources: set[str],
) -> None:
    provider, _ = idp
    body = (await ask(token_gateway, provider.token(**claims), "{ viewer { sources } }")).json()
    assert set(body["data"]["viewer"]["sources"]) == sources


@pytest.mark.parametrize(
    "claims",
    [{"ordergate_sources": [{}]}, {"ordergate_sources": 5}, {"scope": 5}, {"scp": [1, 2]}],
    ids=["sources-objects", "sources-number", "scope-number", "scp-numbers"],
)
async def test_a_token_with_claims_of_the_wrong_type_is_refused_not_a_500(
    token_gateway: Starlette, idp: tuple[IdentityProvider, str], claims: dict[str, Any]
) -> None:
    provider, _ = idp
    token = provider.token(scope=[]) if "scp" in claims or "scope" in claims else provider.token()
    body = jwt.decode(token, options={"verify_signature": False})
    body.pop("scp", None)
    body.update(claims)
    signed = jwt.encode(body, provider.keys["k1"], algorithm="RS256", headers={"kid": "k1"})
    assert "not a list of names" in refused(await ask(token_gateway, signed))


async def test_order_by_reference_of_a_hidden_source_is_not_found(
    gateway_app: Starlette,
) -> None:
    partner = await keyed(gateway_app, name="affiliate-only", sources=[A])
    async with partner.http:
        body = await partner.query(
            '{ orderByReference(source: WEBSHOP, reference: "anything") { id } }'
        )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_idempotency_keys_are_each_callers_own(
    gateway_app: Starlette, gateway: GatewayClient
) -> None:
    order = await some_order(gateway, A)
    # Nothing may become PENDING: whatever the order's status, no upstream write happens.
    query = """mutation($id: ID!, $note: String) {
      updateStatus(input: {orderId: $id, status: PENDING, note: $note,
                           idempotencyKey: "same-text"}) { userErrors { code } } }"""
    first = await keyed(gateway_app, name="partner-a")
    second = await keyed(gateway_app, name="partner-b")
    async with first.http, second.http:
        await first.data(query, {"id": order["id"], "note": "a"})
        again = await first.data(query, {"id": order["id"], "note": "other input"})
        b = await second.data(query, {"id": order["id"], "note": "b"})
    # The same caller with another input is a CONFLICT; another caller's key is its own.
    assert [e["code"] for e in again["updateStatus"]["userErrors"]] == ["CONFLICT"]
    assert "CONFLICT" not in [e["code"] for e in b["updateStatus"]["userErrors"]]
