"""The HTTP edge: what is refused before any GraphQL work, and the safe defaults of a
production profile. Each refusal is tried as an attacker would send it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from typing import Any

import pytest

from domain.models import OrderSource
from gateway.edge import BoundedBody
from gateway.settings import Settings
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import SimControlClient, requests_served

ORDERS = "{ orders(first: 5) { edges { node { id } } } }"


async def test_the_graphiql_page_loads_every_file_from_the_gateway_itself(
    gateway: GatewayClient,
) -> None:
    """No CDN: the page works on a closed network, and each file is the one its SRI names."""
    response = await gateway.http.get("/graphql", headers={"Accept": "text/html"})
    page, policy = response.text, response.headers["content-security-policy"]
    assert "https://" not in policy
    assets = re.findall(r'(?:src|href)="([^"]+)"\s*integrity="sha384-([^"]+)"', page)
    assert len(assets) == 7
    assert not re.search(r'(?:src|href)="https?://', page)
    for path, sri in assets:
        assert path.startswith("/ide/")
        served = await gateway.http.get(path)  # no credential: GraphiQL's own files
        assert served.status_code == 200, path
        assert base64.b64encode(hashlib.sha384(served.content).digest()).decode() == sri


@pytest.mark.parametrize("size", [1_000_001, 10_000_000], ids=["1MB", "10MB"])
async def test_a_body_over_the_limit_is_refused_with_413_before_it_is_parsed(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient], size: int
) -> None:
    for sim in sims.values():
        sim.reset_stats()
    padding = " " * size
    body = json.dumps({"query": ORDERS + padding}).encode()
    response = await gateway.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "bodyBytes",
        "value": len(body),
        "max": 1_000_000,
    }
    assert requests_served(sims) == 0


async def test_a_body_without_content_length_over_the_limit_is_refused_too(
    gateway: GatewayClient,
) -> None:
    async def chunks() -> Any:
        for _ in range(30):
            yield b" " * 50_000

    response = await gateway.http.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("content_type", "headers", "allowed"),
    [
        ("application/json", {}, True),
        ("text/plain", {}, False),
        ("application/x-www-form-urlencoded", {}, False),
        ("text/plain", {"Apollo-Require-Preflight": "true"}, True),
    ],
    ids=["json", "text-plain", "form", "text-plain-with-preflight-header"],
)
async def test_a_request_a_browser_could_send_cross_site_is_refused(
    settings: Settings, content_type: str, headers: dict[str, str], allowed: bool
) -> None:
    # Anonymous access: the one case where no Authorization header forces a preflight.
    anonymous = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"anonymous": True})}
    )
    async with running(anonymous) as app, client_of(app) as http:
        response = await http.post(
            "/graphql",
            content=json.dumps({"query": "{ viewer { principal } }"}),
            headers={"Content-Type": content_type, **headers},
        )
        # A simple GET with an operation but no header is refused as well.
        get = await http.get("/graphql", params={"query": "{ viewer { principal } }"})
    if allowed:
        assert "CSRF" not in response.text
    else:
        assert response.status_code == 400
        assert "CSRF" in response.json()["errors"][0]["message"]
    assert get.status_code == 400 and "CSRF" in get.text


async def test_cors_preflight_passes_for_an_allowed_origin_only(settings: Settings) -> None:
    allowed = settings.model_copy(update={"cors_origins": ["https://app.example.test"]})
    async with running(allowed) as app, client_of(app) as http:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        ok = await http.options(
            "/graphql", headers={"Origin": "https://app.example.test", **preflight}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example.test"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        evil = await http.options(
            "/graphql", headers={"Origin": "https://evil.example.test", **preflight}
        )
        assert evil.status_code == 400
        assert "access-control-allow-origin" not in evil.headers
        # The actual request from the allowed origin is readable by that origin.
        headers = {"Origin": "https://app.example.test", **(await bearer(app))}
        response = await http.post("/graphql", json={"query": ORDERS}, headers=headers)
        assert response.headers["access-control-allow-origin"] == "https://app.example.test"


async def test_the_graphiql_page_carries_security_headers(gateway: GatewayClient) -> None:
    response = await gateway.http.get("/graphql", headers={"Accept": "text/html"})
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'sha256-" in policy and "'unsafe-eval'" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("profile", "introspection", "suggestions"),
    [("demo", True, True), ("production", False, False)],
)
async def test_the_production_profile_turns_introspection_and_suggestions_off(
    settings: Settings, profile: str, introspection: bool, suggestions: bool
) -> None:
    async with running(settings.model_copy(update={"profile": profile})) as app:
        async with client_of(app, await bearer(app)) as http:
            schema = (
                await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
            ).json()
            typo = (
                await http.post("/graphql", json={"query": "{ ordrs { edges { cursor } } }"})
            ).json()
            page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert ("errors" not in schema) is introspection, schema
    message = typo["errors"][0]["message"]
    assert "Cannot query field 'ordrs'" in message
    assert ("Did you mean" in message) is suggestions
    assert (page.status_code == 200) is (profile == "demo")


async def test_a_client_that_disconnects_cancels_the_work_it_started() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        started.set()
        try:
            await asyncio.sleep(60)  # an upstream call that takes long
        except asyncio.CancelledError:
            cancelled.set()
            raise

    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await messages.put({"type": "http.request", "body": b"{}", "more_body": False})
    edge = BoundedBody(slow_app, max_bytes=1000)
    scope = {"type": "http", "method": "POST", "headers": [], "path": "/graphql"}

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent to a client that left")

    task = asyncio.ensure_future(edge(scope, messages.get, send))
    await started.wait()
    await messages.put({"type": "http.disconnect"})
    await asyncio.wait_for(task, timeout=10)
    assert cancelled.is_set()
