"""The B2B adapter against its running simulator, in JSON and in XML."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from backends.b2b.adapter import STATUS_TABLE, B2BAdapter
from backends.b2b.simulator import create_app
from backends.base import OrderBackend, OrderQuery
from backends.config import B2BSettings
from backends.simkit.app import SimConfig
from domain.errors import UpstreamMalformedError, UpstreamUnavailableError
from domain.models import DiscountKind, Order, OrderCapability, OrderStatus, PaymentStatus
from tests.support import SimControlClient, serving

ORDERS = 120
EVERYTHING = OrderQuery()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(create_app(SimConfig(orders=ORDERS))) as base_url:
        yield base_url


@pytest.fixture
def control(url: str) -> SimControlClient:
    """The simulator's control API, after a reset to its seed."""
    control = SimControlClient(url)
    control.reset()
    return control


def settings(url: str, **overrides: Any) -> B2BSettings:
    return B2BSettings(
        base_url=url, retries=1, backoff_base_s=0.001, backoff_max_s=0.01, **overrides
    )


@pytest.fixture(params=["json", "xml"])
async def adapter(
    request: pytest.FixtureRequest, url: str, control: SimControlClient
) -> AsyncIterator[B2BAdapter]:
    async with aclosing(B2BAdapter(settings(url, format=request.param))) as adapter:
        yield adapter


async def read_all(adapter: B2BAdapter, query: OrderQuery, *, limit: int = 50) -> list[Order]:
    """Every order of a listing, offset after offset, as the gateway reads it."""
    orders: list[Order] = []
    while True:
        page = await adapter.list_orders(query, offset=len(orders), limit=limit)
        orders.extend(page.orders)
        if page.exhausted:
            return orders


def upstream_requests(control: SimControlClient) -> dict[str, int]:
    """Requests counted since the last stats reset, logins aside."""
    requests: dict[str, int] = control.stats()["requests"]
    return {route: n for route, n in requests.items() if route != "POST /api/login"}


async def test_is_an_order_backend(adapter: B2BAdapter) -> None:
    assert isinstance(adapter, OrderBackend)
    assert adapter.capabilities == {OrderCapability.UPDATE_STATUS, OrderCapability.SET_LINE_STATUS}
    assert await adapter.check_health()


async def test_listing_walks_every_order_newest_first(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    control.reset_stats()
    orders = await read_all(adapter, EVERYTHING, limit=25)

    assert len({order.upstream_id for order in orders}) == len(orders) == ORDERS
    assert [o.updated_at for o in orders] == sorted((o.updated_at for o in orders), reverse=True)
    assert upstream_requests(control) == {"GET /api/Order/getOrder": 5}


async def test_offsets_cross_upstream_pages_and_reach_the_end(adapter: B2BAdapter) -> None:
    ids = [order.upstream_id for order in await read_all(adapter, EVERYTHING, limit=100)]

    async def read(offset: int, limit: int) -> tuple[list[str], bool]:
        page = await adapter.list_orders(EVERYTHING, offset=offset, limit=limit)
        assert page.total == ORDERS
        return [order.upstream_id for order in page.orders], page.exhausted

    # Page 1 of 10 holds positions 0-9: from offset 5 the page boundary cuts at 10.
    assert await read(5, 10) == (ids[5:10], False)
    assert await read(10, 10) == (ids[10:20], False)
    assert await read(115, 10) == (ids[115:120], True)
    assert await read(118, 50) == (ids[118:], True)
    assert await read(120, 10) == ([], True)


async def test_upstream_pages_are_never_larger_than_page_size(
    url: str, control: SimControlClient
) -> None:
    async with aclosing(B2BAdapter(settings(url, page_size=20))) as adapter:
        page = await adapter.list_orders(EVERYTHING, offset=0, limit=50)

    assert len(page.orders) == 20 and not page.exhausted


async def test_updated_since_is_pushed_down(adapter: B2BAdapter, control: SimControlClient) -> None:
    everything = await read_all(adapter, EVERYTHING, limit=100)
    since = sorted(order.updated_at for order in everything)[ORDERS // 3]
    control.reset_stats()
    recent = await read_all(adapter, OrderQuery(updated_since=since), limit=30)

    assert {o.upstream_id for o in recent} == {
        o.upstream_id for o in everything if o.updated_at >= since
    }
    assert upstream_requests(control) == {"GET /api/Order/updatedFrom": 3}


async def test_statuses_are_pushed_down(adapter: B2BAdapter, control: SimControlClient) -> None:
    everything = await read_all(adapter, EVERYTHING, limit=100)
    wanted = frozenset({OrderStatus.DISPATCHED, OrderStatus.COMPLETED})
    since = datetime(2026, 9, 1, tzinfo=UTC)
    control.reset_stats()
    matching = await read_all(adapter, OrderQuery(statuses=wanted, updated_since=since))

    assert {o.upstream_id for o in matching} == {
        o.upstream_id for o in everything if o.status in wanted and o.updated_at >= since
    }
    assert {o.upstream_status for o in matching} == {"SHIPPED", "CLOSED"}
    assert upstream_requests(control) == {"GET /api/Order/updatedFrom": 1}


async def test_a_status_no_upstream_status_maps_to_asks_nothing(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    control.reset_stats()
    page = await adapter.list_orders(
        OrderQuery(statuses=frozenset({OrderStatus.RETURNED})), offset=0, limit=10
    )

    assert page.orders == [] and page.exhausted
    assert control.stats()["total"] == 0


async def test_get_orders_reads_each_known_id_once_in_key_order(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    control.reset_stats()
    orders = await adapter.get_orders(["10003", "999", "10042", "10003"])

    assert [order and order.upstream_id for order in orders] == ["10003", None, "10042", "10003"]
    assert upstream_requests(control) == {"GET /api/Order/getOrder": 3}


async def test_every_upstream_status_maps(adapter: B2BAdapter) -> None:
    orders = await read_all(adapter, EVERYTHING, limit=100)
    catalog = await adapter.status_catalog()

    assert {order.upstream_status for order in orders} == set(STATUS_TABLE)
    assert all(order.status is STATUS_TABLE[order.upstream_status] for order in orders)
    assert {(entry.id, entry.status) for entry in catalog} == set(STATUS_TABLE.items())
    assert {entry.name for entry in catalog} >= {"In progress", "Closed"}


async def test_json_and_xml_map_to_the_same_orders(url: str, control: SimControlClient) -> None:
    async def first_page(wire_format: str) -> list[Order]:
        async with aclosing(B2BAdapter(settings(url, format=wire_format))) as adapter:
            return (await adapter.list_orders(EVERYTHING, offset=0, limit=100)).orders

    assert await first_page("xml") == await first_page("json")


async def test_an_order_maps_field_by_field(url: str, control: SimControlClient) -> None:
    async with aclosing(B2BAdapter(settings(url, currency="GBP"))) as adapter:
        orders = await read_all(adapter, EVERYTHING, limit=100)
    order = next(o for o in orders if o.discounts and any(line.discounts for line in o.lines))
    raw = await raw_order(url, order.upstream_id)
    line, raw_line = next(
        (line, raw_line)
        for line, raw_line in zip(order.lines, raw["lines"], strict=True)
        if line.discounts
    )

    assert order.currency == "GBP" and order.payment_status is PaymentStatus.NONE
    assert order.number == raw["numOrder"] and order.reference == raw["reference"]
    assert order.erp_order_number == raw["idRemote"]
    assert order.customer is not None and order.customer.name == raw["client"]["contactName"]
    assert order.company is not None and order.company.name == raw["company"]["companyName"]
    assert order.agent is not None and order.agent.name == raw["agent"]
    assert order.season == raw["season"]["description"]
    assert order.shipping_address is not None
    assert order.shipping_address.street == raw["shippingAddress"]
    assert order.updated_at == datetime.fromisoformat(raw["dateModified"]).replace(tzinfo=UTC)
    assert order.totals.total.amount == Decimal(str(raw["totalAmount"]))
    assert order.totals.discount.amount == sum(
        Decimal(str(d["amountDiscount"])) for d in raw["discount"]
    )
    assert order.totals.gross.amount - order.totals.discount.amount == Decimal(
        str(raw["baseAmount"])
    )
    assert {d.kind for d in order.discounts} == {DiscountKind.ORDER}
    assert line.sku == raw_line["lineDetail"][0]["product"]
    assert line.unit_price is not None
    assert line.unit_price.amount == Decimal(str(raw_line["lineDetail"][0]["price"]))
    assert line.quantity == raw_line["quantity"]
    assert line.quantity_shipped == raw_line["quantityServed"]
    assert line.status == raw_line["lineStatus"]
    assert line.total is not None and line.total.amount == Decimal(str(raw_line["lineAmount"]))
    assert [(d.kind, d.code, d.percent) for d in line.discounts] == [
        (DiscountKind.LINE, "VOLUME", raw_line["discount"][0]["discount"])
    ]
    assert order.payments == () and order.shipments == ()


async def raw_order(url: str, order_id: str) -> dict[str, Any]:
    """The simulator's own JSON of one order, read past the adapter."""
    async with httpx.AsyncClient(base_url=url) as client:
        login = await client.post("/api/login", json={"_username": "demo", "_password": "demo"})
        response = await client.get(
            "/api/Order/getOrder",
            params={"id": order_id},
            headers={"Authorization": f"Bearer {login.json()['token']}"},
        )
    data: dict[str, Any] = response.json()["data"][0]
    return data


async def test_a_status_change_upstream_shows_first(url: str, control: SimControlClient) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        login = await client.post("/api/login", json={"_username": "demo", "_password": "demo"})
        await client.put(
            "/api/Order/update/10077",
            json={"status": "CANCELLED"},
            headers={"Authorization": f"Bearer {login.json()['token']}"},
        )
    async with aclosing(B2BAdapter(settings(url))) as adapter:
        page = await adapter.list_orders(EVERYTHING, offset=0, limit=1)

    assert page.orders[0].upstream_id == "10077"
    assert page.orders[0].status is OrderStatus.CANCELLED


async def test_expired_tokens_are_refreshed_transparently(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    await adapter.get_orders(["10001"])
    control.reset_stats()
    assert control.expire_tokens() == 1
    orders = await adapter.get_orders(["10002"])

    assert orders[0] is not None
    assert control.stats()["requests"] == {
        "GET /api/Order/getOrder": 2,  # refused with 401, replayed with the new token
        "POST /api/login": 1,
    }


async def test_upstream_failures_are_unavailable(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    assert await adapter.check_health()  # logged in before the failures start
    control.set_faults(error_rate=1.0)

    with pytest.raises(UpstreamUnavailableError) as failure:
        await adapter.list_orders(EVERYTHING, offset=0, limit=10)
    assert failure.value.status == 503
    with pytest.raises(UpstreamUnavailableError):
        await adapter.get_orders(["10001", "10002"])
    assert not await adapter.check_health()


async def test_garbage_answers_are_malformed(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    assert await adapter.check_health()
    control.set_faults(malformed_rate=1.0)

    with pytest.raises(UpstreamMalformedError):
        await adapter.list_orders(EVERYTHING, offset=0, limit=10)
    with pytest.raises(UpstreamMalformedError):
        await adapter.get_orders(["10001"])


async def test_wrong_credentials_make_the_upstream_unavailable_not_a_refusal(
    url: str, control: SimControlClient
) -> None:
    wrong = settings(url, password=SecretStr("wrong"))
    async with aclosing(B2BAdapter(wrong)) as adapter:
        with pytest.raises(UpstreamUnavailableError) as rejection:
            await adapter.list_orders(EVERYTHING, offset=0, limit=10)

    assert rejection.value.status == 401


async def test_find_by_reference_reads_newest_first_until_found(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    orders = await read_all(adapter, EVERYTHING, limit=100)
    oldest = orders[-1]
    assert oldest.reference is not None
    control.reset_stats()
    found = await adapter.find_by_reference(oldest.reference)
    missing = await adapter.find_by_reference("PO-NOT-THERE")

    assert found is not None
    assert found == next(o for o in orders if o.reference == oldest.reference)
    assert missing is None
    assert upstream_requests(control) == {"GET /api/Order/getOrder": 4}  # 2 pages of 100 each
