"""The CloudSuite document's own samples (doc 001) through the wire models and the mapping."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.config import WebshopSettings
from backends.http import UpstreamHttp
from backends.simkit.app import SimConfig
from backends.webshop import wire
from backends.webshop.adapter import to_order
from backends.webshop.simstate import ShopState
from domain.errors import UpstreamMalformedError
from domain.models import OrderSource, OrderStatus, PaymentStatus

FIXTURES = Path(__file__).parent.parent / "fixtures" / "webshop"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def read_order_from(put_body: dict[str, Any]) -> dict[str, Any]:
    """The PUT sample plus the read-only fields a ``GET`` adds (docs/upstreams/webshop.md)."""
    lines = [
        {**line, "id": 900 + n, "price": "3.50", "total": "3.50", "vat_rate": "21.00"}
        for n, line in enumerate(put_body["order_lines"])
    ]
    return {
        **put_body,
        "id": 12345,
        "order_lines": lines,
        "payment_status": "paid",
        "shipment_state": "not_sent",
        "subtotal": "7.00",
        "discount_amount": "0.00",
        "shipping_costs": "0.00",
        "vat_amount": "1.21",
        "total": "7.00",
        "created_date": "2021-06-29T08:00:00",
        "modified_date": "2021-06-29T09:30:00Z",
    }


def test_put_sample_parses_as_the_full_order_write() -> None:
    body = wire.OrderWrite.model_validate(sample("put_order_lines.json"))
    assert body.reference == "CS48193"
    assert body.customer == 1324
    assert body.state == "confirmed"
    assert [line.product.key for line in body.order_lines] == ["124_STUK", "123_KG"]
    assert [line.quantity for line in body.order_lines] == [Decimal("1.0"), Decimal("2.0")]
    assert [line.erp_line_number for line in body.order_lines] == [11, 22]
    assert (body.shipment_address, body.invoice_address, body.webshop, body.user) == (
        1695,
        1652,
        1,
        1260,
    )


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("patch_state_processing.json", "state", "processing"),
        ("patch_erp_order_number.json", "erp_order_number", "ERP-124578"),
        ("patch_shipment_state_sent.json", "shipment_state", "sent"),
    ],
)
def test_patch_samples_set_exactly_one_field(name: str, field: str, value: str) -> None:
    patch = wire.OrderPatch.model_validate(sample(name))
    assert patch.model_fields_set == {field}
    assert getattr(patch, field) == value


async def test_put_sample_is_not_a_read_answer() -> None:
    """A write body lacks the read-only fields (id, totals, dates): the typed error says so."""
    request = httpx.Request("GET", "http://cloudsuite.test/api/order/12345/")
    response = httpx.Response(200, json=sample("put_order_lines.json"), request=request)
    async with httpx.AsyncClient() as client:
        http = UpstreamHttp(OrderSource.WEBSHOP, client, WebshopSettings())
        with pytest.raises(UpstreamMalformedError):
            http.parse(response, wire.Order)


def test_put_sample_as_read_maps_to_an_order() -> None:
    order = to_order(wire.Order.model_validate(read_order_from(sample("put_order_lines.json"))))
    assert order.source is OrderSource.WEBSHOP
    assert order.upstream_id == "12345"
    assert order.reference == "CS48193"
    assert order.erp_order_number == "123456789"
    assert order.status is OrderStatus.CONFIRMED
    assert order.upstream_status == "confirmed"
    assert order.payment_status is PaymentStatus.PAID
    assert [(line.sku, line.erp_line_number) for line in order.lines] == [
        ("124_STUK", 11),
        ("123_KG", 22),
    ]
    assert order.totals.total.amount == Decimal("7.00")
    assert order.customer is not None and order.customer.id == "1324"
    # naive timestamps are UTC
    assert order.created_at.utcoffset() is not None
    assert order.created_at.isoformat() == "2021-06-29T08:00:00+00:00"


@pytest.mark.parametrize(
    ("field", "garbage"),
    [
        ("state", "shipped"),
        ("payment_status", "refunded"),
        ("shipment_state", "lost"),
        ("modified_date", "string"),
    ],
)
def test_garbage_in_a_read_order_is_malformed(field: str, garbage: str) -> None:
    data = {**read_order_from(sample("put_order_lines.json")), field: garbage}
    with pytest.raises(UpstreamMalformedError):
        to_order(wire.Order.model_validate(data))


def documented_read_example() -> dict[str, Any]:
    text = (Path(__file__).parents[2] / "docs" / "upstreams" / "webshop.md").read_text()
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    data: dict[str, Any] = json.loads(block)
    return data


def test_the_documented_read_example_maps_and_is_what_the_simulator_serves() -> None:
    example = documented_read_example()
    order = to_order(wire.Order.model_validate(example))
    assert order.status is OrderStatus.DISPATCHED
    assert order.payment_status is PaymentStatus.INVOICED
    assert order.customer is not None and order.customer.name == "Fatima Visser"
    assert [s.consignment_number for s in order.shipments] == ["3SDHL6944142262"]
    assert [line.quantity_shipped for line in order.lines] == [Decimal(1), Decimal(1)]
    shop = ShopState(SimConfig())
    assert shop.render_order(shop.orders[example["id"]]) == example
