"""The B2B adapter's writes (status changes, new wholesale orders) against its running
simulator, each checked through the simulator's own API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backends.b2b import wire
from backends.b2b.adapter import STATUS_UPDATES, B2BAdapter, to_order
from backends.b2b.simulator import create_app
from backends.base import OrderCreator
from backends.config import B2BSettings
from backends.simkit.app import SimConfig
from domain.commands import CreateWholesaleOrder, NewOrderLine, SetDiscountCode, UpdateStatus
from domain.errors import (
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from domain.models import Order, OrderSource, OrderStatus
from tests.support import SimControlClient, serving, upstream_headers

CREATE = "POST /api/Order/create"
UPDATE = "PUT /api/Order/update/{id}"
# Seed 42's reference data (docs/upstreams/b2b.md's example body uses the same ids):
# company 1 has clients 201-208 and agents 209-210; client 201 has its head office 501
# (shipping and billing) and a shipping-only warehouse 502; 211/219 are company 2's.
NEW_ORDER = CreateWholesaleOrder(
    company_id="1",
    client_id="201",
    agent_id="209",
    season_id="2",
    shipping_address_id="502",
    billing_address_id="501",
    status_id="CONFIRMED",
    reference="PO-GATEWAY-1",
    observation="Deliver before season launch",
    discount_percent=Decimal(5),
    lines=(
        NewOrderLine(product_id="301", quantity=Decimal(12)),
        NewOrderLine(
            product_id="303",
            quantity=Decimal(6),
            price=Decimal("28.00"),
            line_status_id="IN_STOCK",
            discount_percent=Decimal(10),
        ),
    ),
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(create_app(SimConfig(orders=40))) as base_url:
        yield base_url


@pytest.fixture
def control(url: str) -> SimControlClient:
    """The simulator's control API, after a reset to its seed."""
    control = SimControlClient(url)
    control.reset()
    return control


class Recorder(httpx.AsyncBaseTransport):
    """Sends every request on to the simulator and keeps it, to look at its headers."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def settings(url: str, **overrides: Any) -> B2BSettings:
    return B2BSettings(
        base_url=url, retries=1, backoff_base_s=0.001, backoff_max_s=0.01, **overrides
    )


@pytest.fixture
async def adapter(url: str, control: SimControlClient) -> AsyncIterator[B2BAdapter]:
    async with aclosing(B2BAdapter(settings(url))) as adapter:
        yield adapter


@pytest.fixture(params=["json", "xml"])
async def adapter_in_each_format(
    request: pytest.FixtureRequest, url: str, control: SimControlClient
) -> AsyncIterator[B2BAdapter]:
    async with aclosing(B2BAdapter(settings(url, format=request.param))) as adapter:
        yield adapter


class Upstream:
    """The simulator's own JSON API, read past the adapter."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, headers=upstream_headers(OrderSource.B2B, url))

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        return json.loads(response.raise_for_status().content, parse_float=Decimal)

    def order(self, order_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.get("/api/Order/getOrder", id=order_id)["data"][0]
        return data

    def newest_orders(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.get("/api/Order/getOrder", pageSize=100)["data"]
        return data

    def as_order(self, raw: dict[str, Any]) -> Order:
        """What the adapter must answer for this raw order."""
        return to_order(wire.Order.model_validate(raw), currency="EUR")


@pytest.fixture
def upstream(url: str, control: SimControlClient) -> Iterator[Upstream]:
    """The simulator's own API, logged in after the reset."""
    upstream = Upstream(url)
    yield upstream
    upstream.client.close()


def writes(control: SimControlClient) -> dict[str, int]:
    """Write requests counted since the last stats reset."""
    requests: dict[str, int] = control.stats()["requests"]
    return {route: n for route, n in requests.items() if route in {CREATE, UPDATE}}


def order_in(upstream: Upstream, status: str) -> dict[str, Any]:
    return next(o for o in upstream.newest_orders() if o["status"] == status)


# -- UpdateStatus ------------------------------------------------------------------------


def test_settable_statuses_are_those_with_an_upstream_status() -> None:
    assert B2BAdapter.settable_statuses == {
        OrderStatus.PENDING,
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    }


@pytest.mark.parametrize("status", sorted(STATUS_UPDATES))
async def test_update_status_sets_the_upstream_status(
    adapter: B2BAdapter, upstream: Upstream, status: OrderStatus
) -> None:
    before = order_in(upstream, "PENDING" if status is not OrderStatus.PENDING else "CONFIRMED")

    result = await adapter.execute(before["id"], UpdateStatus(status=status), idempotency_key="k")

    after = upstream.order(before["id"])
    assert after["status"] == STATUS_UPDATES[status]
    assert after["dateModified"] >= before["dateModified"]
    assert after["active"] is (status is not OrderStatus.CANCELLED)
    assert result.order == upstream.as_order(after)
    assert result.order.status is status and result.new_orders == () and result.shipment is None
    assert UpdateStatus(status=status).is_applied(result.order)


async def test_writes_send_the_idempotency_key(url: str, upstream: Upstream) -> None:
    recorder = Recorder()
    order_id = order_in(upstream, "PENDING")["id"]
    async with aclosing(B2BAdapter(settings(url), transport=recorder)) as adapter:
        await adapter.execute(
            order_id, UpdateStatus(status=OrderStatus.CONFIRMED), idempotency_key="key-1"
        )
        await adapter.create_order(NEW_ORDER, idempotency_key="key-2")

    keys = {f"{r.method} {r.url.path}": r.headers.get("Idempotency-Key") for r in recorder.requests}
    assert keys[f"PUT /api/Order/update/{order_id}"] == "key-1"
    assert keys["POST /api/Order/create"] == "key-2"


async def test_an_unknown_order_is_not_found(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await adapter.execute(
            "999", UpdateStatus(status=OrderStatus.CONFIRMED), idempotency_key="k"
        )
    assert caught.value.field == ["input", "orderId"]


@pytest.mark.parametrize("status", [OrderStatus.RETURNED, OrderStatus.DISPATCHED])
async def test_a_status_the_api_lacks_is_refused_before_sending(
    adapter: B2BAdapter, upstream: Upstream, control: SimControlClient, status: OrderStatus
) -> None:
    before = order_in(upstream, "SHIPPED")
    control.reset_stats()

    with pytest.raises(ValidationError) as caught:
        await adapter.execute(before["id"], UpdateStatus(status=status), idempotency_key="k")

    assert caught.value.field == ["input", "status"]
    assert writes(control) == {} and upstream.order(before["id"]) == before


async def test_other_commands_are_unsupported(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    with pytest.raises(UnsupportedByBackendError):
        await adapter.execute("10001", SetDiscountCode(code="EARLY"), idempotency_key="k")
    assert control.stats()["total"] == 0


async def test_an_upstream_refusal_is_rejected(
    adapter: B2BAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = order_in(upstream, "PENDING")
    await adapter.reference.order_statuses.get()  # the catalog read is not the one refused
    control.set_faults(error_rate=1.0, error_status=409)

    with pytest.raises(UpstreamRejectedError):
        await adapter.execute(
            before["id"], UpdateStatus(status=OrderStatus.CONFIRMED), idempotency_key="k"
        )

    control.reset_faults()
    assert upstream.order(before["id"]) == before


async def test_a_failing_upstream_is_unavailable_and_unchanged(
    adapter: B2BAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = order_in(upstream, "PENDING")
    await adapter.reference.order_statuses.get()
    control.reset_stats()
    control.set_faults(error_rate=1.0)

    with pytest.raises(UpstreamUnavailableError):
        await adapter.execute(
            before["id"], UpdateStatus(status=OrderStatus.CONFIRMED), idempotency_key="k"
        )

    control.reset_faults()
    assert writes(control) == {UPDATE: 1}  # a write is not retried: the outbox does that
    assert upstream.order(before["id"]) == before


# -- create_order ------------------------------------------------------------------------


async def test_create_order_is_visible_upstream(
    adapter_in_each_format: B2BAdapter, upstream: Upstream
) -> None:
    adapter = adapter_in_each_format
    assert isinstance(adapter, OrderCreator)

    order = await adapter.create_order(NEW_ORDER, idempotency_key="create-1")

    raw = upstream.order(order.upstream_id)
    assert order == upstream.as_order(raw)
    assert upstream.newest_orders()[0]["id"] == raw["id"]
    assert raw["origin"] == "API" and raw["status"] == "CONFIRMED"
    assert raw["reference"] == "PO-GATEWAY-1" and raw["observation"] == NEW_ORDER.observation
    agent = upstream.get("/api/BusinessPartner/getBusinessPartner", id="209")["data"][0]
    warehouse = upstream.get("/api/Location/getLocation", id="502")["data"][0]
    head_office = upstream.get("/api/Location/getLocation", id="501")["data"][0]
    assert (raw["company"]["id"], raw["client"]["id"]) == ("1", "201")
    assert raw["agent"] == agent["contactName"] and raw["season"]["id"] == "2"
    assert raw["shippingAddress"].startswith(warehouse["address"])
    assert raw["billingAddress"].startswith(head_office["address"])
    assert [(d["discountType"]["code"], d["discount"], d["isLine"]) for d in raw["discount"]] == [
        ("PROMO", 5, False)
    ]
    first, second = raw["lines"]
    assert (first["lineStatus"], first["quantity"], first["discount"]) == ("PENDING", 12, [])
    assert first["lineDetail"][0]["product"] == "TSHIRT-ORG-M"
    assert first["lineDetail"][0]["price"] == Decimal("12.48")  # the product's wholesale price
    assert (second["lineStatus"], second["quantity"]) == ("IN_STOCK", 6)
    assert (second["lineDetail"][0]["product"], second["lineDetail"][0]["price"]) == (
        "HOODIE-GRY-L",
        28,
    )
    assert [(d["discountType"]["code"], d["discount"]) for d in second["discount"]] == [
        ("VOLUME", 10)
    ]


def broken(**changes: Any) -> CreateWholesaleOrder:
    return NEW_ORDER.model_copy(update=changes)


def broken_line(index: int, **changes: Any) -> CreateWholesaleOrder:
    lines = list(NEW_ORDER.lines)
    lines[index] = lines[index].model_copy(update=changes)
    return broken(lines=tuple(lines))


@pytest.mark.parametrize(
    ("command", "field", "named"),
    [
        (broken(company_id="9"), ["companyId"], "'9'"),
        (broken(client_id="299"), ["clientId"], "'299'"),
        (broken(client_id="209"), ["clientId"], "Client"),  # an agent
        (broken(client_id="211"), ["clientId"], "'211'"),  # company 2's
        (broken(agent_id="202"), ["agentId"], "Representant"),  # a client
        (broken(agent_id="219"), ["agentId"], "'219'"),  # company 2's
        (broken(season_id="7"), ["seasonId"], "'7'"),
        (broken(shipping_address_id="503"), ["shippingAddressId"], "'503'"),  # client 202's
        (broken(billing_address_id="502"), ["billingAddressId"], "billing"),  # shipping only
        (broken(billing_address_id="999"), ["billingAddressId"], "'999'"),
        (broken(status_id="ON_HOLD"), ["statusId"], "'ON_HOLD'"),
        (broken_line(1, product_id="399"), ["lines", "1", "productId"], "'399'"),
        (broken_line(1, line_status_id="LOST"), ["lines", "1", "lineStatusId"], "'LOST'"),
        (broken_line(0, quantity=Decimal("1.5")), ["lines", "0", "quantity"], "1.5"),
    ],
    ids=lambda value: "/".join(value) if isinstance(value, list) else None,
)
async def test_a_broken_rule_is_refused_before_sending(
    adapter: B2BAdapter,
    upstream: Upstream,
    control: SimControlClient,
    command: CreateWholesaleOrder,
    field: list[str],
    named: str,
) -> None:
    before = upstream.newest_orders()
    control.reset_stats()

    with pytest.raises(ValidationError) as caught:
        await adapter.create_order(command, idempotency_key="create-2")

    assert caught.value.field == ["input", "b2b", *field]
    assert named in caught.value.message
    assert writes(control) == {} and upstream.newest_orders() == before


async def test_reference_data_is_read_once_per_ttl(
    adapter: B2BAdapter, control: SimControlClient
) -> None:
    await adapter.create_order(NEW_ORDER, idempotency_key="create-3")
    await adapter.create_order(NEW_ORDER, idempotency_key="create-4")

    reads = dict(control.stats()["requests"])
    assert reads.pop(CREATE) == 2  # and no read back: the answer is the new order
    assert reads.pop("POST /api/login") == 1
    assert len(reads) == 8 and set(reads.values()) == {1}  # each catalog, once


class RefusingCreate(Recorder):
    """The simulator, except that ``POST /Order/create`` answers this 400: reference data
    that changed after the adapter read it."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__()
        self.body = body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/Order/create":
            self.requests.append(request)
            return httpx.Response(400, json=self.body)
        return await super().handle_async_request(request)


def catalog_requests(recorder: Recorder) -> int:
    return sum(request.method == "GET" for request in recorder.requests)


@pytest.mark.parametrize(
    ("upstream_field", "field"),
    [
        ("clientId", ["clientId"]),
        ("lines[1].productId", ["lines", "1", "productId"]),
        ("lines[1].discount[0].discountTypeId", ["lines", "1", "discountPercent"]),
    ],
)
async def test_a_400_naming_a_field_is_a_validation_error(
    url: str, control: SimControlClient, upstream_field: str, field: list[str]
) -> None:
    body = {"code": 400, "message": f"{upstream_field}: gone", "field": upstream_field}
    refusing = RefusingCreate(body)
    async with aclosing(B2BAdapter(settings(url), transport=refusing)) as adapter:
        with pytest.raises(ValidationError) as caught:
            await adapter.create_order(NEW_ORDER, idempotency_key="create-5")
        catalog_reads = catalog_requests(refusing)
        await adapter.reference.read()

    assert caught.value.field == ["input", "b2b", *field]
    assert catalog_requests(refusing) == 2 * catalog_reads == 16  # every catalog read anew


async def test_a_400_naming_no_field_stays_rejected(url: str, control: SimControlClient) -> None:
    refusing = RefusingCreate({"code": 400, "message": "Invalid JSON."})
    async with aclosing(B2BAdapter(settings(url), transport=refusing)) as adapter:
        with pytest.raises(UpstreamRejectedError):
            await adapter.create_order(NEW_ORDER, idempotency_key="create-6")


async def test_create_on_a_failing_upstream_is_unavailable(
    adapter: B2BAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.newest_orders()
    await adapter.reference.read()
    control.set_faults(error_rate=1.0)

    with pytest.raises(UpstreamUnavailableError):
        await adapter.create_order(NEW_ORDER, idempotency_key="create-7")

    control.reset_faults()
    assert upstream.newest_orders() == before
