"""The WEBSHOP adapter against its running simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from backends.base import OrderBackend, OrderQuery
from backends.config import WebshopSettings
from backends.simkit.app import SimConfig
from backends.webshop import wire
from backends.webshop.adapter import PAYMENT_TABLE, STATUS_TABLE, WebshopAdapter
from backends.webshop.desadv import Desadv, LineItem, to_xml
from backends.webshop.simulator import TOKEN_PATH, create_app
from domain import ids
from domain.errors import (
    AmbiguousReferenceError,
    UpstreamMalformedError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
)
from domain.models import Order, OrderCapability, OrderSource, OrderStatus
from tests.support import SimControlClient, serving, webshop_orders

ORDERS = 120
LIST = "GET /api/order/"
TOKEN = f"POST {TOKEN_PATH}"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SimConfig(seed=11, orders=ORDERS))) as url:
        yield url


@pytest.fixture
def control(sim_url: str) -> SimControlClient:
    control = SimControlClient(sim_url)
    control.reset()
    return control


def settings(url: str, **overrides: Any) -> WebshopSettings:
    return WebshopSettings(
        base_url=url, retries=1, backoff_base_s=0.01, backoff_max_s=0.02, timeout_s=2, **overrides
    )


@pytest.fixture
async def adapter(sim_url: str, control: SimControlClient) -> AsyncIterator[WebshopAdapter]:
    adapter = WebshopAdapter(settings(sim_url))
    yield adapter
    await adapter.aclose()


async def walk(
    adapter: WebshopAdapter, query: OrderQuery, *, limit: int = 50
) -> tuple[list[Order], int]:
    """Every order of a listing, as the gateway pages through it; and how many calls it took."""
    orders: list[Order] = []
    calls = 0
    while True:
        page = await adapter.list_orders(query, offset=len(orders), limit=limit)
        calls += 1
        orders.extend(page.orders)
        if page.exhausted:
            return orders, calls


def test_the_adapter_is_an_order_backend(sim_url: str) -> None:
    adapter = WebshopAdapter(settings(sim_url))
    assert isinstance(adapter, OrderBackend)
    assert adapter.capabilities == {
        OrderCapability.UPDATE_STATUS,
        OrderCapability.DISPATCH,
        OrderCapability.SET_ERP_NUMBER,
        OrderCapability.EDIT_LINES,
        OrderCapability.MARK_SHIPPED,
    }


async def test_listing_is_newest_first_one_request_per_call(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    control.reset_stats()
    orders, calls = await walk(adapter, OrderQuery())
    assert len({order.upstream_id for order in orders}) == len(orders) == ORDERS
    stamps = [order.updated_at for order in orders]
    assert stamps == sorted(stamps, reverse=True)
    assert control.stats()["requests"] == {TOKEN: 1, LIST: calls}


async def test_offsets_cross_upstream_pages_and_reach_the_end(
    sim_url: str, control: SimControlClient
) -> None:
    adapter = WebshopAdapter(settings(sim_url, page_size=7))
    try:
        page = await adapter.list_orders(OrderQuery(), offset=5, limit=10)
        assert len(page.orders) == 7 and not page.exhausted and page.total == ORDERS
        paged, calls = await walk(adapter, OrderQuery(), limit=10)
        assert calls == -(-ORDERS // 7)
        whole, _ = await walk(adapter, OrderQuery())
        assert [o.upstream_id for o in paged] == [o.upstream_id for o in whole]
        assert page.orders == paged[5:12]
        end = await adapter.list_orders(OrderQuery(), offset=ORDERS - 3, limit=10)
        assert len(end.orders) == 3 and end.exhausted
        beyond = await adapter.list_orders(OrderQuery(), offset=ORDERS + 5, limit=10)
        assert beyond.orders == [] and beyond.exhausted
    finally:
        await adapter.aclose()


@pytest.mark.parametrize(
    "statuses",
    [
        {OrderStatus.CONFIRMED},
        {OrderStatus.DISPATCHED},
        {OrderStatus.PENDING, OrderStatus.CANCELLED},
        {OrderStatus.COMPLETED},
    ],
)
async def test_status_filter_is_pushed_down(
    adapter: WebshopAdapter, statuses: set[OrderStatus]
) -> None:
    everything, _ = await walk(adapter, OrderQuery())
    query = OrderQuery(statuses=frozenset(statuses))
    filtered, _ = await walk(adapter, query)
    wanted_states = {
        state for state, by_ship in STATUS_TABLE.items() if statuses & set(by_ship.values())
    }
    assert {order.upstream_status for order in filtered} == wanted_states
    # pushed down by state, so the gateway's own check keeps exactly the matching ones
    assert [o for o in filtered if query.matches(o)] == [o for o in everything if query.matches(o)]
    assert len(filtered) < len(everything)


async def test_a_status_no_state_maps_to_needs_no_request(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    control.reset_stats()
    page = await adapter.list_orders(
        OrderQuery(statuses=frozenset({OrderStatus.DELIVERED})), offset=0, limit=10
    )
    assert page.orders == [] and page.exhausted
    assert control.stats()["total"] == 0


async def test_updated_since_is_pushed_down(adapter: WebshopAdapter) -> None:
    everything, _ = await walk(adapter, OrderQuery())
    since = everything[40].updated_at
    recent, _ = await walk(adapter, OrderQuery(updated_since=since))
    assert recent == [order for order in everything if order.updated_at >= since]
    later, _ = await walk(adapter, OrderQuery(updated_since=since + timedelta(days=3650)))
    assert later == []


async def test_get_orders_is_one_batch_request_in_key_order(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    await adapter.check_health()  # the token is fetched before counting
    control.reset_stats()
    keys = ["12310", "999999", "12301", "not-a-number", "12310", "12420"]
    orders = await adapter.get_orders(keys)
    found = [order.upstream_id if order else None for order in orders]
    assert found == ["12310", None, "12301", None, "12310", "12420"]
    assert control.stats()["requests"] == {LIST: 1}


async def test_get_orders_splits_long_batches_by_page_size(
    sim_url: str, control: SimControlClient
) -> None:
    adapter = WebshopAdapter(settings(sim_url, page_size=25))
    try:
        keys = [str(12301 + n) for n in range(ORDERS)]
        orders = await adapter.get_orders(keys)
        assert [order.upstream_id for order in orders if order] == keys
        assert control.stats()["requests"][LIST] == ORDERS // 25 + 1
    finally:
        await adapter.aclose()


async def test_every_state_and_payment_status_maps(adapter: WebshopAdapter) -> None:
    orders, _ = await walk(adapter, OrderQuery())
    by_id = {
        order.id: order for order in await _wire_orders(adapter, [o.upstream_id for o in orders])
    }
    for order in orders:
        raw = by_id[int(order.upstream_id)]
        assert order.status is STATUS_TABLE[raw.state][raw.shipment_state]
        assert order.payment_status is PAYMENT_TABLE[raw.payment_status]
    assert {order.upstream_status for order in orders} == set(STATUS_TABLE)
    assert {raw.payment_status for raw in by_id.values()} == set(PAYMENT_TABLE)
    assert {order.status for order in orders} == {
        OrderStatus.PENDING,
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.DISPATCHED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    }
    catalog = await adapter.status_catalog()
    assert {entry.id: entry.status for entry in catalog} == {
        state: by_ship["not_sent"] for state, by_ship in STATUS_TABLE.items()
    }


async def _wire_orders(adapter: WebshopAdapter, ids: list[str]) -> list[wire.Order]:
    pages = [ids[i : i + 100] for i in range(0, len(ids), 100)]
    return [
        order
        for page in pages
        for order in (
            await adapter.client.list_orders({"id__in": ",".join(page), "limit": 100})
        ).results
    ]


async def test_orders_come_back_complete(adapter: WebshopAdapter) -> None:
    orders, _ = await walk(adapter, OrderQuery())
    order = next(o for o in orders if o.shipments and len(o.lines) > 1)
    assert order.erp_order_number and order.erp_order_number.startswith("ERP-")
    assert all(line.erp_line_number for line in order.lines)
    assert all(line.quantity_shipped for line in order.lines)
    assert all(shipment.consignment_number and shipment.carrier for shipment in order.shipments)
    assert order.customer is not None and order.customer.name and order.customer.email
    assert order.shipping_address is not None and order.shipping_address.city
    totals = order.totals
    assert totals.total.amount == (
        totals.gross.amount - totals.discount.amount + totals.shipping.amount
    )
    assert totals.gross.amount == sum(
        (line.total.amount for line in order.lines if line.total), Decimal(0)
    )
    assert isinstance(order.lines[0].quantity, Decimal)
    discounted = next(o for o in orders if o.discounts)
    assert discounted.discounts[0].code and discounted.totals.discount.amount > 0
    shipped = next(o for o in orders if o.totals.shipping.amount)
    assert all(line.sku != "SHIPPING" for line in shipped.lines)
    assert all(o.payments == () for o in orders)


async def test_upstream_failures_are_unavailable(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    await adapter.check_health()
    control.set_faults(error_rate=1.0)
    with pytest.raises(UpstreamUnavailableError) as failure:
        await adapter.list_orders(OrderQuery(), offset=0, limit=10)
    assert failure.value.status == 503
    with pytest.raises(UpstreamUnavailableError):
        await adapter.get_orders(["12301"])
    assert await adapter.check_health() is False


async def test_garbage_answers_are_malformed(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    await adapter.check_health()
    control.set_faults(malformed_rate=1.0)
    with pytest.raises(UpstreamMalformedError):
        await adapter.list_orders(OrderQuery(), offset=0, limit=10)
    with pytest.raises(UpstreamMalformedError):
        await adapter.get_orders(["12301"])


async def test_expired_tokens_are_refreshed_transparently(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    await adapter.list_orders(OrderQuery(), offset=0, limit=5)
    assert control.expire_tokens() == 1
    page = await adapter.list_orders(OrderQuery(), offset=0, limit=5)
    assert len(page.orders) == 5
    assert adapter.client.auth.tokens_issued == 2
    assert control.stats()["requests"][TOKEN] == 2


async def test_wrong_credentials_make_the_upstream_unavailable_not_a_refusal(
    sim_url: str, control: SimControlClient
) -> None:
    adapter = WebshopAdapter(settings(sim_url, client_secret="wrong"))
    try:
        with pytest.raises(UpstreamUnavailableError) as refusal:
            await adapter.list_orders(OrderQuery(), offset=0, limit=5)
        assert refusal.value.status == 401
        assert await adapter.check_health() is False
    finally:
        await adapter.aclose()


async def test_client_writes_reach_the_simulator(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    client = adapter.client
    confirmed = (await client.list_orders({"state": "confirmed", "limit": 1})).results[0]
    changed = await client.patch_order(
        confirmed.id,
        wire.OrderPatch(state="processing", erp_order_number="ERP-1"),
        idempotency_key="k1",
    )
    assert (changed.state, changed.erp_order_number) == ("processing", "ERP-1")
    body = wire.OrderWrite.model_validate(
        {
            **changed.model_dump(),
            "order_lines": [
                {"product": {"key": "MUG-STONE"}, "quantity": "2", "erp_line_number": 10}
            ],
        }
    )
    replaced = await client.put_order(confirmed.id, body, idempotency_key="k2")
    assert [(line.product.key, line.erp_line_number) for line in replaced.order_lines] == [
        ("MUG-STONE", 10)
    ]
    await client.send_desadv(
        to_xml(
            Desadv(
                number="K3",
                desadv_date=date(2026, 12, 1),
                planned_delivery_date=date(2026, 12, 2),
                order_num="ERP-1",
                track_and_trace="3STEST",
                carrier="DHL",
                lines=(LineItem(10, "ERP-1", Decimal(2), "MUG-STONE"),),
            )
        ),
        shop=confirmed.webshop,
        user=confirmed.user,
        idempotency_key="k3",
    )
    [order] = await adapter.get_orders([str(confirmed.id)])
    assert order is not None and order.status is OrderStatus.DISPATCHED
    assert [s.consignment_number for s in order.shipments] == ["3STEST"]
    assert order.lines[0].quantity_shipped == 2
    with pytest.raises(UpstreamRejectedError) as refusal:
        await client.patch_order(confirmed.id, wire.OrderPatch(state="draft"), idempotency_key="k4")
    assert refusal.value.status == 400 and "Cannot change state" in refusal.value.message


async def test_find_by_reference_uses_the_reference_filter(
    adapter: WebshopAdapter, control: SimControlClient
) -> None:
    [known] = await adapter.get_orders(["12345"])
    assert known is not None and known.reference
    control.reset_stats()
    found = await adapter.find_by_reference(known.reference)
    assert found == known
    assert await adapter.find_by_reference("CS00000") is None
    assert control.stats()["requests"] == {LIST: 2}


def repeated_reference(sim_url: str) -> tuple[str, list[dict[str, Any]]]:
    """A reference two webshops' orders carry, and those orders (the simulator's own)."""
    raw = webshop_orders(sim_url)
    by_reference: dict[str, list[dict[str, Any]]] = {}
    for order in raw:
        by_reference.setdefault(order["reference"], []).append(order)
    reference, orders = next((r, o) for r, o in by_reference.items() if len(o) > 1)
    assert len({order["webshop"] for order in orders}) == 2
    return reference, orders


async def test_a_reference_in_two_webshops_is_ambiguous_without_the_webshop(
    adapter: WebshopAdapter, sim_url: str
) -> None:
    reference, orders = repeated_reference(sim_url)

    with pytest.raises(AmbiguousReferenceError) as caught:
        await adapter.find_by_reference(reference)

    assert caught.value.field == ["webshop"]
    assert sorted(caught.value.candidates, key=lambda c: c["webshop"]) == sorted(
        (
            {"id": ids.order_id(OrderSource.WEBSHOP, str(o["id"])), "webshop": str(o["webshop"])}
            for o in orders
        ),
        key=lambda c: c["webshop"],
    )
    for order in orders:
        found = await adapter.find_by_reference(reference, webshop=str(order["webshop"]))
        assert found is not None
        assert (found.upstream_id, found.webshop) == (str(order["id"]), str(order["webshop"]))
    assert await adapter.find_by_reference(reference, webshop="99") is None
    assert await adapter.find_by_reference(reference, webshop="shop") is None
