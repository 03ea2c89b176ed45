"""Two gateway replicas on one database do not both pass the state machine for one order.

Replicas share a server database: this runs on PostgreSQL (as CI does); one SQLite file is a
single process's store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from domain.models import OrderSource
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import GatewayClient, bearer, client_of, empty_store
from tests.support import SimControlClient, upstream_get

A = OrderSource.AFFILIATE
CHANGE = """
mutation($id: ID!, $status: OrderStatus!) {
  updateStatus(input: {orderId: $id, status: $status}) { userErrors { code } delivery { status } }
}
"""


@pytest.fixture
async def two_replicas(settings: Settings) -> AsyncIterator[tuple[GatewayClient, GatewayClient]]:
    """Two apps, each with its own process state, sharing the store and the upstreams."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL store (set ORDERGATE_TEST_DATABASE_URL)")
    await empty_store(settings.database_url)
    async with AsyncExitStack() as stack:
        apps = []
        for _ in range(2):
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps.append(app)
        headers = await bearer(apps[0])  # one store: the key works on both
        clients = [
            GatewayClient(await stack.enter_async_context(client_of(app, headers))) for app in apps
        ]
        yield clients[0], clients[1]


async def test_cancelling_at_once_on_two_replicas_sends_one_cancellation(
    two_replicas: tuple[GatewayClient, GatewayClient],
    simulator_urls: dict[OrderSource, str],
) -> None:
    sim = SimControlClient(simulator_urls[A])
    sim.reset()
    first, second = two_replicas
    try:
        pending = (
            "{ orders(first: 1, filter: {sources: [AFFILIATE], statuses: [PENDING]})"
            " { edges { node { id upstreamId } } } }"
        )
        found = await first.data(pending)
        await second.data(pending)  # both warm (key looked up, upstream token): a fair race
        order = found["orders"]["edges"][0]["node"]
        # Slow upstream: both replicas read PENDING before either has queued its change.
        sim.set_faults(latency_ms=300)
        sim.reset_stats()
        answers = await asyncio.gather(
            first.data(CHANGE, {"id": order["id"], "status": "CANCELLED"}),
            second.data(CHANGE, {"id": order["id"], "status": "CANCELLED"}),
        )
        payloads = [answer["updateStatus"] for answer in answers]
        codes = sorted(e["code"] for p in payloads for e in p["userErrors"])
        assert codes == ["INVALID_TRANSITION"], payloads
        [sent] = [p for p in payloads if not p["userErrors"]]
        assert sent["delivery"] == {"status": "DELIVERED"}
        patches = sim.stats()["requests"].get("PATCH /api/v1/orders/{order_id}/status", 0)
        assert patches == 1  # the refused change never reached the platform
        upstream = upstream_get(A, simulator_urls[A], f"/api/v1/orders/{order['upstreamId']}")
        assert upstream["data"]["status"] == "cancelled"
    finally:
        sim.reset()
