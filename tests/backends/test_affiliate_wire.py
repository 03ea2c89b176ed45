"""The samples of ``docs/upstreams/affiliate.md`` parse through the wire models and ``to_order``.

The source document prints no samples (it is a work item), so the API page is the
specification and its samples are the fixtures; the first test keeps the two identical.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pydantic
import pytest

from backends.affiliate import wire
from backends.affiliate.adapter import STATUS_MAP, to_order
from domain.errors import UpstreamMalformedError
from domain.models import (
    DiscountKind,
    Money,
    OrderSource,
    OrderStatus,
    Party,
    PaymentStatus,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "affiliate"
API_PAGE = ROOT / "docs" / "upstreams" / "affiliate.md"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize("path", sorted(FIXTURES.iterdir()), ids=lambda path: path.name)
def test_every_fixture_is_printed_in_the_api_page(path: Path) -> None:
    block = f"`tests/fixtures/affiliate/{path.name}`"
    page = API_PAGE.read_text()
    assert block in page
    assert f"```json\n{path.read_text()}```" in page


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("order.json", wire.OrderEnvelope),
        ("orders-list.json", wire.OrderList),
        ("affiliates.json", wire.AffiliateList),
        ("order-statuses.json", wire.OrderStatusList),
        ("webhook.json", wire.WebhookEnvelope),
        ("error-401.json", wire.ApiError),
        ("error-403.json", wire.ApiError),
        ("error-409.json", wire.ApiError),
        ("error-422.json", wire.ApiError),
        ("create-order.request.json", wire.OrderCreate),
        ("dispatch.request.json", wire.StatusUpdate),
        ("edit-order.request.json", wire.OrderEdit),
        ("split.request.json", wire.SplitRequest),
        ("webhook.request.json", wire.WebhookCreate),
    ],
)
def test_sample_parses(name: str, model: type[pydantic.BaseModel]) -> None:
    parsed = model.model_validate_json(sample(name))
    assert parsed.model_dump(exclude_unset=True)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def test_full_order_maps_to_the_domain() -> None:
    order = to_order(wire.OrderEnvelope.model_validate_json(sample("order.json")).data)

    assert order.source is OrderSource.AFFILIATE
    assert (order.upstream_id, order.reference, order.number) == (
        "100042",
        "AFF-100042",
        "AFF-100042",
    )
    assert (order.status, order.upstream_status) == (OrderStatus.DISPATCHED, "dispatched")
    assert order.payment_status is PaymentStatus.PAID
    assert order.totals.gross == eur("69.89")
    assert order.totals.discount == eur("6.99")
    assert order.totals.shipping == eur("4.95")
    assert order.totals.tax == eur("13.21")
    assert order.totals.total == eur("81.06")
    assert order.totals.paid is None
    assert order.commission == eur("4.72")
    assert order.customer == Party(
        id="21873", name="Emma de Vries", email="emma.devries7@example.com"
    )
    assert order.agent == Party(id="2", name="DealHunters")
    assert order.shipping_address is not None
    assert order.shipping_address.street == "Keizersgracht 112, 3hoog"
    assert order.shipping_address.postal_code == "1011 AB"
    assert [line.id for line in order.lines] == ["500091", "500092"]
    first = order.lines[0]
    assert (first.line_number, first.sku, first.quantity) == (1, "TSHIRT-ORG-M", Decimal(2))
    assert (first.unit_price, first.total, first.tax_rate) == (eur("24.95"), eur("44.91"), 21.0)
    assert first.discounts[0].kind is DiscountKind.LINE
    assert first.discounts[0].amount == eur("4.99")
    assert [(d.kind, d.code, d.amount) for d in order.discounts] == [
        (DiscountKind.CODE, "AFF10", eur("6.99"))
    ]
    (shipment,) = order.shipments
    assert (shipment.id, shipment.carrier) == ("CN4820193746", "PostNL")
    assert shipment.dispatched_at == datetime(2026, 10, 12, 8, 15, tzinfo=UTC)
    assert order.payments == ()
    assert order.updated_at == datetime(2026, 10, 12, 8, 15, tzinfo=UTC)
    assert (order.parent_upstream_id, order.split_upstream_ids) == (None, ())


def test_sample_order_follows_the_documented_sums_and_commission_rule() -> None:
    for raw in (sample("order.json"), sample("orders-list.json")):
        body = json.loads(raw)["data"]
        for order in body if isinstance(body, list) else [body]:
            parsed = wire.Order.model_validate(order)
            items = parsed.items
            assert all(i.total == i.quantity * i.unit_price - i.discount for i in items)
            totals = parsed.totals
            assert totals.subtotal == sum(i.quantity * i.unit_price for i in items)
            assert totals.discount == sum(i.discount for i in items)
            assert totals.tax == sum(cents(i.total * i.tax_rate / 100) for i in items)
            assert totals.total == totals.subtotal - totals.discount + totals.shipping + totals.tax
            base = sum(i.total for i in items)
            assert parsed.commission_amount == cents(parsed.commission_rate * base / 100)


def test_split_order_in_the_listing_links_its_parent() -> None:
    listing = wire.OrderList.model_validate_json(sample("orders-list.json"))
    order = to_order(listing.data[0])
    assert order.parent_upstream_id == "100077"
    assert order.commission == Money(Decimal("5.02"), "GBP")  # 5.015 rounds half-up
    assert order.shipments == ()
    assert listing.meta.total == 16


def test_every_catalog_status_maps() -> None:
    catalog = wire.OrderStatusList.model_validate_json(sample("order-statuses.json"))
    assert {entry.code for entry in catalog.data} == set(STATUS_MAP)


def test_unknown_status_is_malformed() -> None:
    order = wire.OrderEnvelope.model_validate_json(sample("order.json")).data
    with pytest.raises(UpstreamMalformedError, match="unknown status 'on_hold'"):
        to_order(order.model_copy(update={"status": "on_hold"}))
    with pytest.raises(UpstreamMalformedError, match="unknown payment_status"):
        to_order(order.model_copy(update={"payment_status": "invoiced"}))


def test_bad_timestamp_is_malformed_and_naive_one_is_utc() -> None:
    order = wire.OrderEnvelope.model_validate_json(sample("order.json")).data
    with pytest.raises(UpstreamMalformedError, match="updated_at"):
        to_order(order.model_copy(update={"updated_at": "yesterday"}))
    naive = to_order(order.model_copy(update={"created_at": "2026-10-09 19:42:10"}))
    assert naive.created_at == datetime(2026, 10, 9, 19, 42, 10, tzinfo=UTC)


def test_request_models_refuse_what_the_platform_refuses() -> None:
    with pytest.raises(pydantic.ValidationError):
        wire.SplitRequest.model_validate({"items": [{"item_id": 1, "quantity": 0}]})
    with pytest.raises(pydantic.ValidationError):
        wire.StatusUpdate.model_validate({"status": "shipped"})
    with pytest.raises(pydantic.ValidationError, match="discount exceeds"):
        wire.ItemInput.model_validate(
            {
                "sku": "A",
                "name": "A",
                "quantity": 1,
                "unit_price": "5.00",
                "discount": "6.00",
                "tax_rate": "0",
            }
        )
    with pytest.raises(pydantic.ValidationError, match="extra"):
        wire.OrderEdit.model_validate({"itemz": []})
