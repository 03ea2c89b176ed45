"""The CRM document's own samples (doc 002) through the wire models and the mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backends.crm import wire
from backends.crm.adapter import to_order
from domain.errors import UpstreamMalformedError
from domain.models import DiscountKind, OrderSource, OrderStatus, PaymentStatus

FIXTURES = Path(__file__).parent.parent / "fixtures" / "crm"
WRITES = ["discount_code", "gift_voucher", "shipping", "tax"]


def sample_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sample_text(name))
    return data


@pytest.mark.parametrize(
    ("name", "model", "field"),
    [
        ("discount_code_request", wire.SetDiscountCode, "DiscountId"),
        ("gift_voucher_request", wire.SetGiftVoucher, "GiftVoucherId"),
        ("shipping_request", wire.SetShippingOption, "ShippingOptionId"),
        ("tax_request", wire.SetTaxCode, "TaxId"),
    ],
)
def test_request_samples_parse_as_their_write_bodies(
    name: str, model: type[wire.WireModel], field: str
) -> None:
    body = model.model_validate_json(sample_text(name))
    assert getattr(body, field) == "string"


@pytest.mark.parametrize("write", WRITES)
def test_response_samples_parse_as_the_full_order(write: str) -> None:
    order = wire.Order.model_validate_json(sample_text(f"{write}_response"))
    assert (order.Id, order.AWBNumber, order.Currency, order.InvoiceNumber) == (
        0,
        "string",
        "string",
        0,
    )
    assert (order.PaymentState, order.StatusId, order.TotalCost) == ("None", 0, Decimal("0"))
    assert order.CreatedDateTime == "2024-05-17T18:47:19.762Z"
    assert order.ModifiedDateTime is None  # the simulator's extension, absent in the document
    assert order.StatusShort == wire.OrderStatusRef(Id=0, Name="string")
    assert order.Discount == wire.AppliedDiscount(Code="string", Cost=Decimal("0"))
    assert order.GiftVoucher == wire.AppliedGiftVoucher(Name="string", Cost=Decimal("0"))
    assert order.Tax == wire.AppliedTax(Code="string", Rate=Decimal("0"))
    assert order.ShippingInfo is not None and order.ShippingInfo.Zipcode == "string"
    assert order.Member is not None and order.Member.FirstName == "string"
    [line] = order.OrderLines
    assert (line.EntityType, line.Quantity, line.IsDownload) == ("Form", Decimal("0"), True)
    assert line.Attributes == [wire.LineAttribute(AttributeId=0, OptionsIds=["string"])]
    [payment] = order.Payments
    assert (payment.PaymentType, payment.PaymentGatewayType) == ("CreditCard", "stripe")
    assert order.CustomCrmGroups == {
        "<GroupAlias1>": {"<FieldAlias1>": "<value>", "<FieldAlias2>": False, "<FieldAlias3>": 0}
    }


def test_the_printed_order_does_not_map_its_placeholder_status() -> None:
    order = wire.Order.model_validate(sample("discount_code_response"))
    with pytest.raises(UpstreamMalformedError, match="unknown status 'string'"):
        to_order(order)


def test_the_printed_order_maps_once_its_status_is_a_real_one() -> None:
    raw = {**sample("tax_response"), "StatusShort": {"Id": 4, "Name": "Shipped"}}
    order = to_order(wire.Order.model_validate(raw))

    assert (order.source, order.upstream_id) == (OrderSource.CRM, "0")
    assert (order.status, order.upstream_status) == (OrderStatus.DISPATCHED, "Shipped")
    assert order.payment_status is PaymentStatus.NONE
    assert order.created_at == datetime(2024, 5, 17, 18, 47, 19, 762000, tzinfo=UTC)
    assert order.updated_at == order.created_at  # no ModifiedDateTime: falls back
    assert (order.reference, order.number, order.parent_upstream_id) == ("string", None, None)
    assert order.customer is not None
    assert (order.customer.id, order.customer.name) == ("0", "string string")
    assert order.shipping_address is not None and order.shipping_address.postal_code == "string"
    assert [(d.kind, d.code, d.name) for d in order.discounts] == [
        (DiscountKind.CODE, "string", None),
        (DiscountKind.GIFT_VOUCHER, None, "string"),
    ]
    [shipment] = order.shipments
    assert (shipment.consignment_number, shipment.tracking_url) == ("string", "string")
    [line] = order.lines
    assert (line.id, line.product_name, line.tax_rate) == ("0", "string", 0.0)
    [payment] = order.payments
    assert (payment.status, payment.method) == ("string", "CreditCard")
    assert order.totals.total.amount == Decimal("0")


def test_amounts_stay_exact_and_the_tax_is_what_the_total_charges_beyond_the_rest() -> None:
    raw = {
        **sample("shipping_response"),
        "StatusShort": {"Id": 1, "Name": "New"},
        "Currency": "EUR",
        "OrderLines": [{"Id": 1, "Quantity": 3, "UnitPrice": 19.99, "TotalPrice": 59.97}],
        "Discount": {"Code": "WELCOME10", "Cost": 6.0},
        "GiftVoucher": None,
        "ShippingInfo": {"Name": "Standard delivery", "Cost": 4.95},
        "TotalCost": 71.28,
    }
    order = to_order(wire.Order.model_validate_json(json.dumps(raw)))
    totals = order.totals
    assert (totals.gross.amount, totals.discount.amount, totals.shipping.amount) == (
        Decimal("59.97"),
        Decimal("6.0"),
        Decimal("4.95"),
    )
    assert totals.tax.amount == Decimal("12.36")
    assert order.lines[0].unit_price is not None
    assert order.lines[0].unit_price.amount == Decimal("19.99")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"StatusShort": None}, "unknown status"),
        ({"PaymentState": "Lost"}, "unknown PaymentState 'Lost'"),
        ({"CreatedDateTime": "yesterday"}, "not a timestamp: 'yesterday'"),
    ],
)
def test_garbage_is_a_malformed_answer(changes: dict[str, Any], problem: str) -> None:
    raw = {**sample("gift_voucher_response"), "StatusShort": {"Id": 2, "Name": "Confirmed"}}
    with pytest.raises(UpstreamMalformedError, match=problem):
        to_order(wire.Order.model_validate({**raw, **changes}))


def test_a_timestamp_without_offset_is_utc() -> None:
    raw = {
        **sample("gift_voucher_response"),
        "StatusShort": {"Id": 2, "Name": "Confirmed"},
        "ModifiedDateTime": "2024-05-18T08:00:00",
    }
    order = to_order(wire.Order.model_validate(raw))
    assert order.updated_at == datetime(2024, 5, 18, 8, tzinfo=UTC)
