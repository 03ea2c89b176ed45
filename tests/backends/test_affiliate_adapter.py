"""``AffiliateAdapter`` against its running simulator: listings, batch reads, mapping, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import httpx
import pytest
from pydantic import SecretStr

from backends.affiliate.adapter import STATUS_MAP, AffiliateAdapter
from backends.affiliate.simulator import create_app
from backends.base import OrderBackend, OrderQuery
from backends.config import AffiliateSettings
from backends.simkit.app import SimConfig
from domain.errors import UpstreamMalformedError, UpstreamUnavailableError
from domain.models import Order, OrderCapability, OrderSource, OrderStatus, PaymentStatus
from tests.support import SimControlClient, serving

KEY = {"X-Api-Key": "demo-affiliate-key"}
EVERYTHING = OrderQuery()


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SimConfig(seed=11, orders=120))) as url:
        yield url


@pytest.fixture
def control(sim_url: str) -> SimControlClient:
    control = SimControlClient(sim_url)
    control.reset()
    return control


def settings(url: str, **overrides: object) -> AffiliateSettings:
    options: dict[str, object] = {
        "base_url": url,
        "retries": 1,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.02,
        "timeout_s": 2.0,
        **overrides,
    }
    return AffiliateSettings.model_validate(options)


@pytest.fixture
async def adapter(sim_url: str, control: SimControlClient) -> AsyncIterator[AffiliateAdapter]:
    adapter = AffiliateAdapter(settings(sim_url, page_size=25))
    yield adapter
    await adapter.aclose()


def upstream_listing(sim_url: str, **params: str) -> list[dict[str, object]]:
    """The newest-first listing as the simulator serves it, read directly."""
    seen: list[dict[str, object]] = []
    with httpx.Client(base_url=sim_url, headers=KEY) as client:
        while True:
            query: dict[str, str | int] = {"offset": len(seen), "limit": 100, "sort": "-updated_at"}
            query |= params
            body = client.get("/api/v1/orders", params=query).json()
            seen += body["data"]
            if len(seen) >= body["meta"]["total"]:
                return seen


async def walk(adapter: AffiliateAdapter, query: OrderQuery, limit: int) -> list[Order]:
    found: list[Order] = []
    while True:
        page = await adapter.list_orders(query, offset=len(found), limit=limit)
        found += page.orders
        if page.exhausted:
            return found


def test_adapter_is_an_order_backend(adapter: AffiliateAdapter) -> None:
    assert isinstance(adapter, OrderBackend)
    assert adapter.source is OrderSource.AFFILIATE
    assert adapter.capabilities == {
        OrderCapability.UPDATE_STATUS,
        OrderCapability.DISPATCH,
        OrderCapability.SPLIT,
        OrderCapability.EDIT_LINES,
        OrderCapability.EDIT_ORDER,
    }


async def test_listing_is_the_upstream_newest_first_in_one_request_per_call(
    adapter: AffiliateAdapter, sim_url: str, control: SimControlClient
) -> None:
    expected = [str(order["id"]) for order in upstream_listing(sim_url)]
    control.reset_stats()
    found = await walk(adapter, EVERYTHING, limit=40)  # page_size 25 caps every request
    assert [order.upstream_id for order in found] == expected
    assert control.stats() == {
        "total": -(-len(expected) // 25),
        "requests": {"GET /api/v1/orders": -(-len(expected) // 25)},
    }
    stamps = [(order.updated_at, int(order.upstream_id)) for order in found]
    assert stamps == sorted(stamps, reverse=True)


async def test_offsets_cross_page_boundaries_and_reach_the_end(
    adapter: AffiliateAdapter, sim_url: str
) -> None:
    expected = [str(order["id"]) for order in upstream_listing(sim_url)]
    page = await adapter.list_orders(EVERYTHING, offset=20, limit=30)
    assert [order.upstream_id for order in page.orders] == expected[20:45]
    assert (page.exhausted, page.total) == (False, len(expected))
    tail = await adapter.list_orders(EVERYTHING, offset=len(expected) - 3, limit=10)
    assert [order.upstream_id for order in tail.orders] == expected[-3:]
    assert tail.exhausted
    beyond = await adapter.list_orders(EVERYTHING, offset=len(expected) + 5, limit=10)
    assert (beyond.orders, beyond.exhausted) == ([], True)


async def test_status_filter_is_pushed_down(
    adapter: AffiliateAdapter, sim_url: str, control: SimControlClient
) -> None:
    query = OrderQuery(statuses=frozenset({OrderStatus.PENDING, OrderStatus.RETURNED}))
    expected = upstream_listing(sim_url, status="pending,returned")
    control.reset_stats()
    page = await adapter.list_orders(query, offset=0, limit=25)
    assert control.stats()["total"] == 1
    assert page.total == len(expected)
    assert [order.upstream_id for order in page.orders] == [str(o["id"]) for o in expected]
    assert {order.status for order in page.orders} == {OrderStatus.PENDING, OrderStatus.RETURNED}


async def test_payment_status_filter_is_pushed_down(adapter: AffiliateAdapter) -> None:
    query = OrderQuery(payment_statuses=frozenset({PaymentStatus.NONE, PaymentStatus.FAILED}))
    found = await walk(adapter, query, limit=25)
    assert found
    assert {order.upstream_status for order in found} <= set(STATUS_MAP)
    assert {order.payment_status for order in found} == {PaymentStatus.NONE, PaymentStatus.FAILED}


async def test_invoiced_alone_cannot_match_and_asks_nothing(
    adapter: AffiliateAdapter, control: SimControlClient
) -> None:
    control.reset_stats()
    query = OrderQuery(payment_statuses=frozenset({PaymentStatus.INVOICED}))
    page = await adapter.list_orders(query, offset=0, limit=10)
    assert (page.orders, page.exhausted) == ([], True)
    assert control.stats()["total"] == 0


async def test_updated_since_is_pushed_down(adapter: AffiliateAdapter, sim_url: str) -> None:
    listing = upstream_listing(sim_url)
    since = datetime.fromisoformat(str(listing[37]["updated_at"]))
    found = await walk(adapter, OrderQuery(updated_since=since), limit=25)
    assert found
    assert [order.upstream_id for order in found] == [
        str(order["id"])
        for order in listing
        if datetime.fromisoformat(str(order["updated_at"])) >= since
    ]


async def test_every_status_maps(adapter: AffiliateAdapter) -> None:
    for upstream, canonical in STATUS_MAP.items():
        page = await adapter.list_orders(
            OrderQuery(statuses=frozenset({canonical})), offset=0, limit=5
        )
        assert page.orders, upstream
        assert {(o.status, o.upstream_status) for o in page.orders} == {(canonical, upstream)}


async def test_get_orders_is_one_batch_request_in_key_order(
    adapter: AffiliateAdapter, sim_url: str, control: SimControlClient
) -> None:
    ids = [str(order["id"]) for order in upstream_listing(sim_url)[:4]]
    keys = [ids[2], "999999", ids[0], "not-an-id", ids[3], ids[2]]
    control.reset_stats()
    found = await adapter.get_orders(keys)
    assert control.stats() == {"total": 1, "requests": {"GET /api/v1/orders": 1}}
    assert [order and order.upstream_id for order in found] == [
        ids[2],
        None,
        ids[0],
        None,
        ids[3],
        ids[2],
    ]


async def test_get_orders_splits_large_batches_by_page_size(
    adapter: AffiliateAdapter, sim_url: str, control: SimControlClient
) -> None:
    ids = [str(order["id"]) for order in upstream_listing(sim_url)[:60]]
    control.reset_stats()
    found = await adapter.get_orders(ids)
    assert [order and order.upstream_id for order in found] == ids
    assert control.stats()["total"] == 3  # 25 + 25 + 10


async def test_orders_come_back_complete(adapter: AffiliateAdapter) -> None:
    shipped = await walk(adapter, OrderQuery(statuses=frozenset({OrderStatus.DELIVERED})), 25)
    order = shipped[0]
    assert order.lines and order.customer and order.agent and order.commission
    (shipment,) = order.shipments
    assert shipment.consignment_number and shipment.dispatched_at
    assert order.totals.total.amount == (
        order.totals.gross.amount
        - order.totals.discount.amount
        + order.totals.shipping.amount
        + order.totals.tax.amount
    )
    everything = await walk(adapter, EVERYTHING, 25)
    children = [o for o in everything if o.parent_upstream_id]
    assert children
    parents = await adapter.get_orders([child.parent_upstream_id or "" for child in children])
    for child, parent in zip(children, parents, strict=True):
        assert parent is not None and child.upstream_id in parent.split_upstream_ids


async def test_find_by_reference_is_one_exact_request(
    adapter: AffiliateAdapter, control: SimControlClient
) -> None:
    (order,) = (await adapter.list_orders(EVERYTHING, offset=70, limit=1)).orders
    assert order.reference is not None
    control.reset_stats()
    assert await adapter.find_by_reference(order.reference) == order
    assert await adapter.find_by_reference(f"{order.reference}-9") is None
    assert control.stats()["total"] == 2


async def test_status_catalog_and_health(adapter: AffiliateAdapter) -> None:
    catalog = await adapter.status_catalog()
    assert [(entry.id, entry.status) for entry in catalog] == list(STATUS_MAP.items())
    assert await adapter.check_health()


async def test_upstream_failure_is_unavailable(
    adapter: AffiliateAdapter, control: SimControlClient
) -> None:
    control.set_faults(error_rate=1.0)
    with pytest.raises(UpstreamUnavailableError) as caught:
        await adapter.list_orders(EVERYTHING, offset=0, limit=10)
    assert caught.value.status == 503
    with pytest.raises(UpstreamUnavailableError):
        await adapter.get_orders(["100001"])
    assert not await adapter.check_health()


async def test_malformed_answer_is_malformed(
    adapter: AffiliateAdapter, control: SimControlClient
) -> None:
    control.set_faults(malformed_rate=1.0)
    with pytest.raises(UpstreamMalformedError):
        await adapter.list_orders(EVERYTHING, offset=0, limit=10)
    with pytest.raises(UpstreamMalformedError):
        await adapter.get_orders(["100001"])


async def test_a_wrong_api_key_makes_the_platform_unavailable_not_a_refusal(
    sim_url: str, control: SimControlClient
) -> None:
    adapter = AffiliateAdapter(settings(sim_url, api_key=SecretStr("wrong")))
    try:
        with pytest.raises(UpstreamUnavailableError) as caught:
            await adapter.list_orders(EVERYTHING, offset=0, limit=10)
        assert caught.value.status == 401
        assert "X-Api-Key" in caught.value.message
        assert not await adapter.check_health()
    finally:
        await adapter.aclose()


async def test_reads_follow_writes(
    adapter: AffiliateAdapter, sim_url: str, control: SimControlClient
) -> None:
    pending = await adapter.list_orders(
        OrderQuery(statuses=frozenset({OrderStatus.PENDING})), offset=0, limit=1
    )
    order = pending.orders[0]
    async with httpx.AsyncClient(base_url=sim_url, headers=KEY) as client:
        path = f"/api/v1/orders/{order.upstream_id}/status"
        await client.patch(path, json={"status": "cancelled"})
    newest = await adapter.list_orders(EVERYTHING, offset=0, limit=1)
    (changed,) = newest.orders
    assert changed.upstream_id == order.upstream_id
    assert changed.status is OrderStatus.CANCELLED
    assert changed.commission is not None and changed.commission.amount == 0
    assert changed.updated_at > order.updated_at
