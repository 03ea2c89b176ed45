"""What delivering queued changes costs the upstream: each order is read at most once per
delivery attempt, and not at all when the order's previous delivery has just answered it
(counted in the simulators' own request statistics)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from domain.ids import decode_order_id
from domain.models import OrderSource
from gateway.settings import Settings
from store import outbox
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.resolvers.test_mutations import FIND, UPDATE_STATUS, raw_order
from tests.support import SimControlClient

ORDERS = 4

# Each upstream's routes that read orders (its catalogs and token endpoints are not counted).
ORDER_READS = {
    OrderSource.AFFILIATE: {"GET /api/v1/orders", "GET /api/v1/orders/{order_id}"},
    OrderSource.WEBSHOP: {"GET /api/order/", "GET /api/order/{id}/"},
    OrderSource.CRM: {"GET /api/v2/admin/orders", "GET /api/v2/admin/orders/{id}"},
    OrderSource.B2B: {"GET /api/Order/getOrder", "GET /api/Order/updatedFrom"},
}
# The status each upstream shows once both changes have landed.
PROCESSING: dict[OrderSource, Callable[[dict[str, Any]], bool]] = {
    OrderSource.AFFILIATE: lambda order: order["status"] == "processing",
    OrderSource.WEBSHOP: lambda order: order["state"] == "processing",
    OrderSource.CRM: lambda order: order["StatusShort"]["Name"] == "Processing",
    OrderSource.B2B: lambda order: order["status"] == "IN_PROGRESS",
}


def order_reads(sim: SimControlClient, source: OrderSource) -> int:
    counts = sim.stats()["requests"]
    return sum(counts.get(route, 0) for route in ORDER_READS[source])


async def queue_two_changes_each(
    gateway: GatewayClient, source: OrderSource, sim: SimControlClient
) -> list[dict[str, str]]:
    """``ORDERS`` pending orders, each given CONFIRMED then PROCESSING while the upstream fails
    every request: the first change is queued after a failed attempt, the second behind it."""
    data = await gateway.data(FIND, {"sources": [source.value], "statuses": ["PENDING"]})
    orders = [edge["node"] for edge in data["orders"]["edges"]][:ORDERS]
    assert len(orders) == ORDERS, f"the {source.value} seed has too few pending orders"
    sim.set_faults(error_rate=1.0)
    for order in orders:
        for status in ("CONFIRMED", "PROCESSING"):
            variables = {"input": {"orderId": order["id"], "status": status}}
            payload = (await gateway.data(UPDATE_STATUS, variables))["updateStatus"]
            assert payload["delivery"]["status"] == "QUEUED", payload
    sim.reset_faults()
    return orders


@pytest.mark.parametrize("source", list(OrderSource), ids=lambda s: s.value)
async def test_queued_changes_are_delivered_with_at_most_one_order_read_each(
    settings: Settings, fresh_sims: dict[OrderSource, SimControlClient], source: OrderSource
) -> None:
    sim, name = fresh_sims[source], source.value.lower()
    # Delivered only by the test; the failures that queue the changes open no breaker.
    patient = getattr(settings, name).model_copy(update={"breaker_failures": 1_000})
    quiet = settings.model_copy(
        update={"outbox": settings.outbox.model_copy(update={"worker": False}), name: patient}
    )
    async with running(quiet) as app, client_of(app, await bearer(app)) as http:
        orders = await queue_two_changes_each(GatewayClient(http), source, sim)
        sim.reset_stats()
        await deliver_all(app, orders)
        # 2 changes per order: the first (a redelivery) looks once before resending and its
        # write builds on that look; the second builds on the first's answer and reads nothing.
        assert order_reads(sim, source) == ORDERS
        for order in orders:
            assert PROCESSING[source](raw_order(source, sim.base_url, order["upstreamId"]))


async def deliver_all(app: Starlette, orders: list[dict[str, str]]) -> None:
    state = app.state.ordergate
    for order in orders:
        global_id = decode_order_id(order["id"]).encode()
        async with state.deliverer.holding(global_id):
            await state.deliverer.deliver_pending(global_id)
        assert await outbox.pending_for_order(state.store, global_id) == []
