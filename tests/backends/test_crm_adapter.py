"""``CrmAdapter`` against its running simulator: paging, early stop, batch reads, errors, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from backends.base import OrderBackend, OrderQuery
from backends.config import CrmSettings
from backends.crm.adapter import PAYMENT_STATUS, STATUS_BY_NAME, CrmAdapter
from backends.crm.simulator import create_app
from backends.simkit.app import SimConfig
from domain.errors import (
    UpstreamMalformedError,
    UpstreamUnavailableError,
)
from domain.models import Order, OrderCapability, OrderSource, OrderStatus, PaymentStatus
from tests.support import SimControlClient, serving, upstream_get

CONFIG = SimConfig(seed=11, orders=130)
PAGE_SIZE = 25
LIST = "GET /api/v2/admin/orders"
READ = "GET /api/v2/admin/orders/{id}"
TOKEN = "POST /api/v1/oauth/token"
# Every seeded order, the deleted ones included (the listing leaves those out by default).
EVERYTHING = OrderQuery(include_deleted=True)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(create_app(CONFIG)) as base_url:
        yield base_url


@pytest.fixture
def sim(url: str) -> SimControlClient:
    control = SimControlClient(url)
    control.reset()
    return control


def settings(url: str, **changes: Any) -> CrmSettings:
    options: dict[str, Any] = {
        "base_url": url,
        "page_size": PAGE_SIZE,
        "retries": 1,
        "backoff_base_s": 0.01,
        "timeout_s": 2.0,
    }
    return CrmSettings(**{**options, **changes})


@pytest.fixture
async def adapter(url: str) -> AsyncIterator[CrmAdapter]:
    crm = CrmAdapter(settings(url))
    yield crm
    await crm.aclose()


async def walk(adapter: CrmAdapter, query: OrderQuery, *, limit: int) -> tuple[list[Order], int]:
    """Every order of a listing, the way the gateway pages; and how many calls it took."""
    orders: list[Order] = []
    calls = 0
    while True:
        page = await adapter.list_orders(query, offset=len(orders), limit=limit)
        orders += page.orders
        calls += 1
        if page.exhausted:
            return orders, calls


def test_the_adapter_is_an_order_backend_with_the_crm_writes(url: str) -> None:
    crm = CrmAdapter(settings(url))
    assert isinstance(crm, OrderBackend)
    assert crm.source is OrderSource.CRM
    assert crm.capabilities == {
        OrderCapability.UPDATE_STATUS,
        OrderCapability.DISPATCH,
        OrderCapability.SET_DISCOUNT_CODE,
        OrderCapability.SET_GIFT_VOUCHER,
        OrderCapability.SET_SHIPPING_OPTION,
        OrderCapability.SET_TAX_CODE,
    }


async def test_paging_reads_every_order_newest_first_one_request_per_call(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    orders, calls = await walk(adapter, EVERYTHING, limit=40)

    assert len({order.upstream_id for order in orders}) == len(orders) == CONFIG.orders
    updated = [order.updated_at for order in orders]
    assert updated == sorted(updated, reverse=True)
    assert calls == -(-CONFIG.orders // PAGE_SIZE)  # never more than page_size per request
    assert sim.stats()["requests"] == {TOKEN: 1, LIST: calls}


async def test_offsets_cross_page_boundaries_and_reach_the_end(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    everything, _ = await walk(adapter, EVERYTHING, limit=PAGE_SIZE)
    ids = [order.upstream_id for order in everything]

    middle = await adapter.list_orders(EVERYTHING, offset=20, limit=10)
    tail = await adapter.list_orders(EVERYTHING, offset=CONFIG.orders - 5, limit=PAGE_SIZE)
    beyond = await adapter.list_orders(EVERYTHING, offset=CONFIG.orders, limit=PAGE_SIZE)

    assert [order.upstream_id for order in middle.orders] == ids[20:30]
    assert (middle.exhausted, middle.total) == (False, CONFIG.orders)
    assert [order.upstream_id for order in tail.orders] == ids[-5:]
    assert tail.exhausted
    assert (beyond.orders, beyond.exhausted) == ([], True)


async def test_updated_since_is_filtered_by_the_crm(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    everything, _ = await walk(adapter, EVERYTHING, limit=PAGE_SIZE)
    since = everything[37].updated_at
    recent = [order.upstream_id for order in everything if order.updated_at >= since]
    sim.reset_stats()

    query = OrderQuery(updated_since=since, include_deleted=True)
    orders, calls = await walk(adapter, query, limit=PAGE_SIZE)

    assert [order.upstream_id for order in orders] == recent
    assert calls == -(-len(recent) // PAGE_SIZE)  # the CRM's pages hold only recent orders
    assert sim.stats()["requests"] == {LIST: calls}


FILTERED = [
    pytest.param(OrderQuery(statuses=frozenset({OrderStatus.CANCELLED})), id="statuses"),
    pytest.param(
        OrderQuery(payment_statuses=frozenset({PaymentStatus.REFUNDED, PaymentStatus.FAILED})),
        id="payment_statuses",
    ),
    pytest.param(
        OrderQuery(
            statuses=frozenset({OrderStatus.CANCELLED, OrderStatus.RETURNED}),
            payment_statuses=frozenset({PaymentStatus.REFUNDED}),
        ),
        id="both",
    ),
    pytest.param(OrderQuery(), id="deleted left out"),
]


@pytest.mark.parametrize("query", FILTERED)
async def test_statuses_payment_statuses_and_deleted_orders_are_filtered_by_the_crm(
    adapter: CrmAdapter, sim: SimControlClient, query: OrderQuery
) -> None:
    everything, _ = await walk(adapter, EVERYTHING, limit=PAGE_SIZE)
    expected = [order.upstream_id for order in everything if query.matches(order)]
    assert 0 < len(expected) < len(everything)
    await adapter.catalogs.statuses.get()  # status ids come from the cached catalog
    sim.reset_stats()

    orders, calls = await walk(adapter, query, limit=PAGE_SIZE)

    assert [order.upstream_id for order in orders] == expected
    # Filtered upstream: each page is full of matches, so no page was read for nothing.
    assert calls == max(1, -(-len(expected) // PAGE_SIZE))
    assert sim.stats()["requests"] == {LIST: calls}


async def test_a_search_is_left_to_the_gateway(adapter: CrmAdapter, sim: SimControlClient) -> None:
    plain = await adapter.list_orders(OrderQuery(), offset=0, limit=10)
    searched = await adapter.list_orders(OrderQuery(search="nobody"), offset=0, limit=10)
    assert searched == plain


async def test_deleted_orders_are_listed_when_asked_for_and_flagged(
    adapter: CrmAdapter, sim: SimControlClient, url: str
) -> None:
    everything, _ = await walk(adapter, EVERYTHING, limit=PAGE_SIZE)
    live, _ = await walk(adapter, OrderQuery(), limit=PAGE_SIZE)
    deleted = [order for order in everything if order.deleted]
    assert deleted and len(live) + len(deleted) == CONFIG.orders
    assert not any(order.deleted for order in live)
    raw = upstream_get(OrderSource.CRM, url, f"/api/v2/admin/orders/{deleted[0].upstream_id}")
    assert raw["IsDeleted"] is True  # the CRM's own record says so


async def test_every_crm_status_and_payment_state_maps(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    orders, _ = await walk(adapter, EVERYTHING, limit=PAGE_SIZE)
    catalog = await adapter.status_catalog()

    assert {order.upstream_status for order in orders} == set(STATUS_BY_NAME)
    assert {order.status for order in orders} == set(OrderStatus)
    assert {order.payment_status for order in orders} == set(PAYMENT_STATUS.values())
    assert [(entry.name, entry.status) for entry in catalog] == list(STATUS_BY_NAME.items())
    for order in orders:
        assert order.status is STATUS_BY_NAME[order.upstream_status]
        assert order.created_at <= order.updated_at
        totals = order.totals
        assert totals.total.amount == (
            totals.gross.amount
            - totals.discount.amount
            + totals.shipping.amount
            + totals.tax.amount
        )


async def test_orders_come_back_complete_from_a_list_page(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    orders, _ = await walk(adapter, EVERYTHING, limit=PAGE_SIZE)
    assert all(order.lines and order.customer and order.shipping_address for order in orders)
    assert any(order.shipments for order in orders)
    assert any(order.payments for order in orders)
    assert any(order.parent_upstream_id for order in orders)
    assert {discount.kind for order in orders for discount in order.discounts} == {
        "CODE",
        "GIFT_VOUCHER",
    }


async def test_get_orders_reads_each_id_once_keeps_key_order_and_knows_unknowns(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    await adapter.status_catalog()  # take the token first
    sim.reset_stats()

    orders = await adapter.get_orders(["10005", "99", "10001", "abc", "10005"])

    assert [order and order.upstream_id for order in orders] == [
        "10005",
        None,
        "10001",
        None,
        "10005",
    ]
    assert sim.stats()["requests"] == {READ: 3}  # "abc" cannot be a CRM id: not asked


async def test_find_by_reference_scans_the_newest_first_list(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    [oldest] = await adapter.get_orders(["10001"])
    assert oldest is not None and oldest.reference

    assert await adapter.find_by_reference(oldest.reference) == oldest
    assert await adapter.find_by_reference("ORD-1999-1") is None


async def test_asset_catalogs_read_through_the_client(adapter: CrmAdapter) -> None:
    client = adapter.client
    codes = await client.discount_codes()
    vouchers = await client.gift_vouchers()
    options = await client.shipping_options()
    taxes = await client.tax_codes()

    assert {"WELCOME10", "SUMMER25", "VIP15"} <= {code.Code for code in codes.Items}
    assert all(
        lst.TotalItemsCount == len(lst.Items) > 0 for lst in (codes, vouchers, options, taxes)
    )


async def test_an_upstream_failure_is_unavailable(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    sim.set_faults(error_rate=1.0)
    with pytest.raises(UpstreamUnavailableError) as failure:
        await adapter.list_orders(OrderQuery(), offset=0, limit=10)
    assert failure.value.source is OrderSource.CRM
    assert not await adapter.check_health()


async def test_a_garbage_answer_is_malformed(adapter: CrmAdapter, sim: SimControlClient) -> None:
    await adapter.status_catalog()  # a valid token first: the fault then hits the read itself
    sim.set_faults(malformed_rate=1.0)
    with pytest.raises(UpstreamMalformedError):
        await adapter.get_orders(["10010"])


async def test_an_expired_token_is_refreshed_transparently(
    adapter: CrmAdapter, sim: SimControlClient
) -> None:
    assert await adapter.check_health()
    assert sim.expire_tokens() == 1

    [order] = await adapter.get_orders(["10020"])

    assert order is not None
    assert sim.stats()["requests"][TOKEN] == 2
    assert adapter.client.auth.tokens_issued == 2


async def test_wrong_credentials_make_the_upstream_unavailable_not_a_refusal(
    url: str, sim: SimControlClient
) -> None:
    crm = CrmAdapter(settings(url, client_secret="guess"))
    try:
        with pytest.raises(UpstreamUnavailableError) as refusal:
            await crm.list_orders(OrderQuery(), offset=0, limit=5)
    finally:
        await crm.aclose()
    assert refusal.value.status == 401
