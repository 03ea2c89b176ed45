"""``CrmAdapter.execute`` against its running simulator, each write checked through the CRM's
own API: the status, consignment, discount, voucher, shipping option and tax are really there."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backends.base import OrderBackend
from backends.config import CrmSettings
from backends.crm import simstate, wire
from backends.crm.adapter import CrmAdapter, to_order
from backends.crm.simulator import create_app
from backends.crm.writes import CATALOG_TTL_S, CrmCatalogs
from backends.simkit.app import SimConfig
from domain.commands import (
    Dispatch,
    OrderCommand,
    SetDiscountCode,
    SetErpOrderNumber,
    SetGiftVoucher,
    SetShippingOption,
    SetTaxCode,
    UpdateStatus,
)
from domain.errors import (
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from domain.models import DiscountKind, Order, OrderSource, OrderStatus
from tests.support import SimControlClient, serving, upstream_headers

CONFIG = SimConfig(seed=11, orders=60)
ADMIN = "/api/v2/admin"
KEY = "write-1"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(create_app(CONFIG)) as base_url:
        yield base_url


@pytest.fixture
def sim(url: str) -> SimControlClient:
    control = SimControlClient(url)
    control.reset()
    return control


class Crm:
    """The simulated CRM read through its own API, as a script talking to it would."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.headers = upstream_headers(OrderSource.CRM, str(http.base_url))

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.http.get(f"{ADMIN}/orders/{order_id}", headers=self.headers)
        body: dict[str, Any] = json.loads(response.raise_for_status().content, parse_float=Decimal)
        return body

    def first(self, status_name: str) -> str:
        """The id of the first order in the status called ``status_name``."""
        response = self.http.get(f"{ADMIN}/orders", params={"Limit": 100}, headers=self.headers)
        for item in response.raise_for_status().json()["Items"]:
            if item["StatusShort"]["Name"] == status_name:
                return str(item["Id"])
        raise AssertionError(f"no {status_name} order in the seed")


@pytest.fixture(scope="module")
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture
def crm(http: httpx.Client, sim: SimControlClient) -> Crm:
    return Crm(http)


def writes_sent(sim: SimControlClient) -> dict[str, int]:
    return {route: n for route, n in sim.stats()["requests"].items() if route.startswith("PUT ")}


def read_back(raw: dict[str, Any]) -> Order:
    return to_order(wire.Order.model_validate(raw))


class Recording(httpx.AsyncHTTPTransport):
    """The real transport, keeping every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await super().handle_async_request(request)


def settings(url: str) -> CrmSettings:
    return CrmSettings(base_url=url, retries=1, backoff_base_s=0.01, timeout_s=2.0)


@pytest.fixture
async def adapter(url: str) -> AsyncIterator[CrmAdapter]:
    crm = CrmAdapter(settings(url))
    yield crm
    await crm.aclose()


def test_every_status_but_dispatched_is_settable(url: str) -> None:
    crm = CrmAdapter(settings(url))
    assert isinstance(crm, OrderBackend)
    assert crm.settable_statuses == set(OrderStatus) - {OrderStatus.DISPATCHED}


@pytest.mark.parametrize(
    ("status", "name", "status_id"),
    [
        (OrderStatus.PENDING, "New", 1),
        (OrderStatus.CONFIRMED, "Confirmed", 2),
        (OrderStatus.PROCESSING, "Processing", 3),
        (OrderStatus.DELIVERED, "Delivered", 5),
        (OrderStatus.COMPLETED, "Completed", 6),
        (OrderStatus.CANCELLED, "Cancelled", 7),
        (OrderStatus.RETURNED, "Returned", 8),
    ],
)
async def test_update_status_sets_the_crm_status_of_that_name(
    adapter: CrmAdapter,
    crm: Crm,
    sim: SimControlClient,
    status: OrderStatus,
    name: str,
    status_id: int,
) -> None:
    order_id = crm.first("Shipped")
    command = UpdateStatus(status=status, note="checked by hand")

    result = await adapter.execute(order_id, command, idempotency_key=KEY)

    raw = crm.order(order_id)
    assert (raw["StatusId"], raw["StatusShort"]) == (status_id, {"Id": status_id, "Name": name})
    assert result.order == read_back(raw)
    assert command.is_applied(result.order)
    assert writes_sent(sim) == {f"PUT {ADMIN}/orders/{{id}}/status": 1}


async def test_dispatch_records_the_consignment_then_sets_shipped(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient
) -> None:
    order_id = crm.first("Processing")
    command = Dispatch(
        consignment_number="JD014600006281230010",
        carrier="DHL",
        tracking_url="https://track.example.com/dhl/JD014600006281230010",
    )

    result = await adapter.execute(order_id, command, idempotency_key=KEY)

    raw = crm.order(order_id)
    assert raw["AWBNumber"] == command.consignment_number
    assert raw["TrackingURL"] == command.tracking_url
    assert raw["StatusShort"]["Name"] == "Shipped"
    assert result.order == read_back(raw)
    assert result.order.status is OrderStatus.DISPATCHED
    assert result.shipment is not None
    assert result.shipment.consignment_number == command.consignment_number
    assert result.shipment.tracking_url == command.tracking_url
    assert command.is_applied(result.order)


async def test_set_discount_code_finds_the_code_in_any_case(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient
) -> None:
    order_id = crm.first("New")
    before = crm.order(order_id)
    command = SetDiscountCode(code="summer25")

    result = await adapter.execute(order_id, command, idempotency_key=KEY)

    raw = crm.order(order_id)
    assert raw["Discount"]["Code"] == "SUMMER25"
    items = sum(line["TotalPrice"] for line in raw["OrderLines"])
    assert raw["Discount"]["Cost"] == round(items * Decimal("0.25"), 2)
    assert raw["TotalCost"] != before["TotalCost"]
    assert result.order == read_back(raw)
    [code] = [d for d in result.order.discounts if d.kind is DiscountKind.CODE]
    assert code.code == "SUMMER25"
    assert command.is_applied(result.order)


@pytest.mark.parametrize("voucher", ["Gift card 50", "gift CARD 50", "2"])
async def test_set_gift_voucher_by_name_or_id(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient, voucher: str
) -> None:
    order_id = crm.first("Confirmed")

    result = await adapter.execute(order_id, SetGiftVoucher(voucher=voucher), idempotency_key=KEY)

    raw = crm.order(order_id)
    assert raw["GiftVoucher"]["Name"] == "Gift card 50"
    assert result.order == read_back(raw)


@pytest.mark.parametrize("option", ["Express delivery", "2"])
async def test_set_shipping_option_by_name_or_id_keeps_the_address(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient, option: str
) -> None:
    order_id = crm.first("Processing")
    before = crm.order(order_id)

    result = await adapter.execute(order_id, SetShippingOption(option=option), idempotency_key=KEY)

    raw = crm.order(order_id)
    assert raw["ShippingInfo"]["Name"] == "Express delivery"
    assert raw["ShippingInfo"]["Address"] == before["ShippingInfo"]["Address"]
    assert result.order == read_back(raw)


@pytest.mark.parametrize("code", ["VAT9", "vat9", "6"])
async def test_set_tax_code_by_code_or_id_sets_every_line_rate(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient, code: str
) -> None:
    order_id = crm.first("New")

    result = await adapter.execute(order_id, SetTaxCode(code=code), idempotency_key=KEY)

    raw = crm.order(order_id)
    assert raw["Tax"] == {"Code": "VAT9", "Rate": 9}
    assert {line["TaxRate"] for line in raw["OrderLines"]} == {9}
    assert result.order == read_back(raw)


async def test_bodies_and_idempotency_keys_on_the_wire(
    url: str, crm: Crm, sim: SimControlClient
) -> None:
    transport = Recording()
    adapter = CrmAdapter(settings(url), transport=transport)
    try:
        await adapter.execute(crm.first("New"), SetDiscountCode(code="VIP15"), idempotency_key=KEY)
        await adapter.execute(
            crm.first("Processing"), Dispatch(consignment_number="CN-1"), idempotency_key="d-1"
        )
    finally:
        await adapter.aclose()

    puts = [
        (r.url.path.rsplit("/", 1)[-1], json.loads(r.content), r.headers["Idempotency-Key"])
        for r in transport.requests
        if r.method == "PUT"
    ]
    assert puts == [
        ("discount-code", {"DiscountId": "3"}, KEY),  # the document's string id
        ("shipment", {"AWBNumber": "CN-1", "TrackingURL": None}, "d-1:shipment"),
        ("status", {"StatusId": 4}, "d-1:status"),
    ]


@pytest.mark.parametrize(
    ("command", "field", "named"),
    [
        (SetDiscountCode(code="NOPE10"), ["input", "code"], "No discount code 'NOPE10'"),
        (SetGiftVoucher(voucher="Gift card 7"), ["input", "voucher"], "'Gift card 7'"),
        (SetShippingOption(option="Drone"), ["input", "option"], "No shipping option 'Drone'"),
        (SetTaxCode(code="VAT99"), ["input", "code"], "No tax code 'VAT99'"),
    ],
)
async def test_input_the_crm_refuses_is_a_validation_error_and_nothing_is_sent(
    adapter: CrmAdapter,
    crm: Crm,
    sim: SimControlClient,
    command: OrderCommand,
    field: list[str],
    named: str,
) -> None:
    order_id = crm.first("Processing")
    before = crm.order(order_id)

    with pytest.raises(ValidationError) as refusal:
        await adapter.execute(order_id, command, idempotency_key=KEY)

    assert refusal.value.field == field
    assert named in refusal.value.message
    assert writes_sent(sim) == {}
    assert crm.order(order_id) == before


async def test_an_unknown_order_is_not_found(adapter: CrmAdapter, sim: SimControlClient) -> None:
    with pytest.raises(NotFoundError):
        await adapter.execute("99999", SetTaxCode(code="ZERO"), idempotency_key=KEY)
    sim.reset_stats()
    with pytest.raises(NotFoundError):
        await adapter.execute("ORD-1", SetTaxCode(code="ZERO"), idempotency_key=KEY)
    assert sim.stats()["total"] == 0  # not an integer: no CRM order can have it


@pytest.mark.parametrize(
    "command",
    [
        UpdateStatus(status=OrderStatus.DISPATCHED),
        SetErpOrderNumber(erp_order_number="ERP-1"),
    ],
)
async def test_writes_outside_the_crm_are_unsupported(
    adapter: CrmAdapter, sim: SimControlClient, command: OrderCommand
) -> None:
    with pytest.raises(UnsupportedByBackendError):
        await adapter.execute("10001", command, idempotency_key=KEY)
    assert sim.stats()["total"] == 0


async def test_an_upstream_refusal_is_rejected(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await adapter.execute(crm.first("New"), SetTaxCode(code="ZERO"), idempotency_key=KEY)
    # The site deletes tax code ZERO while the adapter still has it in its cached catalog.
    remaining = [tax for tax in simstate.TAX_CODES if tax["Code"] != "ZERO"]
    monkeypatch.setattr(simstate, "TAX_CODES", remaining)
    order_id = crm.first("Confirmed")
    before = crm.order(order_id)

    with pytest.raises(UpstreamRejectedError) as refusal:
        await adapter.execute(order_id, SetTaxCode(code="ZERO"), idempotency_key=KEY)

    assert refusal.value.status == 400
    assert "TaxId '7' does not exist" in refusal.value.message
    assert crm.order(order_id) == before


async def test_a_failing_upstream_is_unavailable_and_the_order_unchanged(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient
) -> None:
    await adapter.execute(crm.first("New"), SetDiscountCode(code="VIP15"), idempotency_key=KEY)
    order_id = crm.first("Confirmed")
    before = crm.order(order_id)
    sim.set_faults(error_rate=1.0)

    with pytest.raises(UpstreamUnavailableError):
        await adapter.execute(order_id, SetDiscountCode(code="VIP15"), idempotency_key=KEY)

    sim.reset_faults()
    assert writes_sent(sim) == {f"PUT {ADMIN}/orders/{{id}}/discount-code": 2}  # not retried
    assert crm.order(order_id) == before


async def test_catalogs_are_read_once_per_ttl(
    adapter: CrmAdapter, crm: Crm, sim: SimControlClient
) -> None:
    now = [0.0]
    adapter.catalogs = CrmCatalogs(adapter.client, clock=lambda: now[0])
    codes = f"GET {ADMIN}/discount-codes"

    for code in ("VIP15", "FIVEOFF", "welcome10"):
        await adapter.execute(crm.first("New"), SetDiscountCode(code=code), idempotency_key=KEY)
    assert sim.stats()["requests"][codes] == 1

    now[0] += CATALOG_TTL_S
    await adapter.execute(crm.first("New"), SetDiscountCode(code="VIP15"), idempotency_key=KEY)
    assert sim.stats()["requests"][codes] == 2
