"""Order commands: what each write asks for, as partners see it again in the history
(``describe``), what it needs of a backend, what input it refuses before anything is sent,
and how a delivery whose outcome was unknown tells whether the upstream already shows it
(``is_applied``: ``True``, ``False``, or ``None`` when it cannot tell)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from domain.commands import (
    COMMAND,
    CreateWholesaleOrder,
    Dispatch,
    EditOrderLines,
    ErpLineNumber,
    LineEdit,
    NewOrderLine,
    OrderCommand,
    SetDiscountCode,
    SetErpOrderNumber,
    SetGiftVoucher,
    SetShippingOption,
    SetTaxCode,
    SplitLine,
    SplitOrder,
    UpdateStatus,
)
from domain.models import (
    Discount,
    DiscountKind,
    Money,
    Order,
    OrderCapability,
    OrderLine,
    OrderSource,
    OrderStatus,
    OrderTotals,
    PaymentStatus,
    Shipment,
)

S = OrderStatus
T0 = datetime(2026, 6, 1, tzinfo=UTC)
ZERO = Money(Decimal("0"), "EUR")
ORDER = Order(
    source=OrderSource.CRM,
    upstream_id="10001",
    status=S.PROCESSING,
    upstream_status="Processing",
    payment_status=PaymentStatus.PAID,
    currency="EUR",
    totals=OrderTotals(gross=ZERO, discount=ZERO, shipping=ZERO, tax=ZERO, total=ZERO),
    created_at=T0,
    updated_at=T0,
)


def order(**changes: Any) -> Order:
    return replace(ORDER, **changes)


def shipped(*numbers: str | None) -> tuple[Shipment, ...]:
    return tuple(Shipment(id=f"s{i}", consignment_number=n) for i, n in enumerate(numbers))


SPLIT = SplitOrder(lines=(SplitLine(line_id="l1", quantity=Decimal("2")),))
EDIT = EditOrderLines(lines=(LineEdit(line_id="l1", quantity=Decimal("1")),))


@pytest.mark.parametrize(
    ("command", "capability", "event_kind", "detail"),
    [
        (
            UpdateStatus(status=S.CONFIRMED, note="paid by phone"),
            "UPDATE_STATUS",
            "STATUS_CHANGED",
            "status=CONFIRMED, note=paid by phone",
        ),
        (
            UpdateStatus(status=S.CANCELLED),
            "UPDATE_STATUS",
            "STATUS_CHANGED",
            "status=CANCELLED, note=None",
        ),
        (
            Dispatch(consignment_number="CN123", carrier="DHL"),
            "DISPATCH",
            "DISPATCHED",
            "consignment_number=CN123, carrier=DHL, tracking_url=None",
        ),
        (SPLIT, "SPLIT", "SPLIT", "lines=({'line_id': 'l1', 'quantity': Decimal('2')},)"),
        (SetDiscountCode(code="SUMMER25"), "SET_DISCOUNT_CODE", "DISCOUNT_SET", "code=SUMMER25"),
        (
            SetGiftVoucher(voucher="Gift card 25"),
            "SET_GIFT_VOUCHER",
            "GIFT_VOUCHER_SET",
            "voucher=Gift card 25",
        ),
        (
            SetShippingOption(option="Express delivery"),
            "SET_SHIPPING_OPTION",
            "SHIPPING_OPTION_SET",
            "option=Express delivery",
        ),
        (SetTaxCode(code="VAT9"), "SET_TAX_CODE", "TAX_CODE_SET", "code=VAT9"),
        (
            SetErpOrderNumber(erp_order_number="ERP-7"),
            "SET_ERP_NUMBER",
            "ERP_NUMBER_SET",
            "erp_order_number=ERP-7, lines=()",
        ),
        (
            EDIT,
            "EDIT_LINES",
            "LINES_EDITED",
            "lines=({'line_id': 'l1', 'sku': None, 'quantity': Decimal('1'),"
            " 'unit_price': None, 'description': None},)",
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, OrderCommand) else None,
)
def test_a_command_names_its_capability_its_event_and_describes_itself_for_the_history(
    command: OrderCommand, capability: str, event_kind: str, detail: str
) -> None:
    assert command.capability is OrderCapability(capability)
    assert command.event_kind == event_kind
    assert command.describe() == detail


@pytest.mark.parametrize(
    "command",
    [
        UpdateStatus(status=S.CONFIRMED, note="n"),
        Dispatch(consignment_number="CN1", carrier="DHL", tracking_url="https://t/CN1"),
        SPLIT,
        SetDiscountCode(code="VIP15"),
        SetGiftVoucher(voucher="1"),
        SetShippingOption(option="2"),
        SetTaxCode(code="VAT21"),
        SetErpOrderNumber(
            erp_order_number="E1", lines=(ErpLineNumber(line_id="l1", erp_line_number=10),)
        ),
        EDIT,
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_command_stored_in_the_outbox_reads_back_as_the_same_command(
    command: OrderCommand,
) -> None:
    stored = COMMAND.dump_json(command)  # type: ignore[arg-type]
    assert f'"type":"{type(command).__name__}"'.encode() in stored
    assert COMMAND.validate_json(stored) == command


def test_surrounding_blanks_in_a_command_are_never_meant() -> None:
    assert Dispatch(consignment_number="  CN123 ").consignment_number == "CN123"
    assert SetDiscountCode(code=" summer25\t").code == "summer25"


@pytest.mark.parametrize(
    ("build", "refused_field"),
    [
        (lambda: Dispatch(consignment_number=""), "consignment_number"),
        (lambda: Dispatch(consignment_number="   "), "consignment_number"),
        (lambda: Dispatch(consignment_number="C" * 101), "consignment_number"),
        (lambda: Dispatch(consignment_number="CN\x01X"), "consignment_number"),
        (lambda: Dispatch(consignment_number="CN1", carrier="x\x0bY"), "carrier"),
        (lambda: Dispatch(consignment_number="CN1", tracking_url="https://t/\x7f"), "tracking_url"),
        (lambda: SplitOrder(lines=()), "lines"),
        (lambda: SplitLine(line_id="l1", quantity=Decimal("0")), "quantity"),
        (lambda: SetDiscountCode(code=""), "code"),
        (lambda: SetGiftVoucher(voucher=" "), "voucher"),
        (lambda: SetShippingOption(option=""), "option"),
        (lambda: SetTaxCode(code=""), "code"),
        (lambda: SetErpOrderNumber(erp_order_number=""), "erp_order_number"),
        (lambda: SetErpOrderNumber(erp_order_number="E" * 101), "erp_order_number"),
        (lambda: ErpLineNumber(line_id="l1", erp_line_number=-1), "erp_line_number"),
        (lambda: EditOrderLines(lines=()), "lines"),
        (lambda: LineEdit(quantity=Decimal("-1")), "quantity"),
        (lambda: LineEdit(quantity=Decimal("1"), unit_price=Decimal("-0.01")), "unit_price"),
        (lambda: NewOrderLine(product_id="p", quantity=Decimal("0")), "quantity"),
        (
            lambda: NewOrderLine(
                product_id="p", quantity=Decimal("1"), discount_percent=Decimal(101)
            ),
            "discount_percent",
        ),
        (lambda: UpdateStatus.model_validate({"status": "SHIPPED"}), "status"),
        (
            lambda: UpdateStatus.model_validate({"status": "CONFIRMED", "colour": "red"}),
            "colour",
        ),
    ],
    ids=[
        "dispatch-empty-consignment",
        "dispatch-blank-consignment",
        "dispatch-consignment-over-100",
        "dispatch-consignment-control-character",
        "dispatch-carrier-control-character",
        "dispatch-tracking-url-control-character",
        "split-no-lines",
        "split-zero-quantity",
        "discount-empty-code",
        "voucher-blank",
        "shipping-option-empty",
        "tax-code-empty",
        "erp-number-empty",
        "erp-number-over-100",
        "erp-line-number-negative",
        "edit-no-lines",
        "edit-negative-quantity",
        "edit-negative-price",
        "new-line-zero-quantity",
        "new-line-discount-over-100",
        "status-not-canonical",
        "unknown-field",
    ],
)
def test_a_command_refuses_input_its_rules_forbid(build: Any, refused_field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        build()
    assert [error["loc"][-1] for error in refused.value.errors()] == [refused_field]


def test_the_limits_themselves_are_accepted() -> None:
    assert len(Dispatch(consignment_number="C" * 100).consignment_number) == 100
    assert SetErpOrderNumber(erp_order_number="E" * 100).lines == ()
    assert ErpLineNumber(line_id="l1", erp_line_number=0).erp_line_number == 0
    assert LineEdit(quantity=Decimal("1"), unit_price=Decimal("0")).unit_price == 0
    assert NewOrderLine(product_id="p", quantity=Decimal("1"), discount_percent=Decimal(100))
    wholesale: dict[str, Any] = {
        "company_id": "1",
        "client_id": "201",
        "agent_id": "209",
        "shipping_address_id": "502",
        "billing_address_id": "501",
        "status_id": "CONFIRMED",
    }
    one_line = [{"product_id": "301", "quantity": 1}]
    assert CreateWholesaleOrder.model_validate({**wholesale, "lines": one_line})
    with pytest.raises(pydantic.ValidationError):
        CreateWholesaleOrder.model_validate({**wholesale, "lines": []})


@pytest.mark.parametrize(
    ("upstream_status", "target", "applied"),
    [
        (S.CONFIRMED, S.CONFIRMED, True),
        (S.PENDING, S.CONFIRMED, False),
        (S.CANCELLED, S.CANCELLED, True),
        (S.PROCESSING, S.CANCELLED, False),
    ],
    ids=lambda v: str(v),
)
def test_a_status_change_is_applied_when_the_upstream_shows_that_status(
    upstream_status: S, target: S, applied: bool
) -> None:
    assert UpdateStatus(status=target).is_applied(order(status=upstream_status)) is applied


# Dispatch CN1 is applied when BOTH show upstream: a status of DISPATCHED or later, and a
# shipment with its consignment number (some upstreams dispatch in two calls).
@pytest.mark.parametrize(
    ("status", "shipments", "applied"),
    [
        (S.PENDING, ("CN1",), False),
        (S.CONFIRMED, ("CN1",), False),
        (S.PROCESSING, ("CN1",), False),
        (S.DISPATCHED, ("CN1",), True),
        (S.DELIVERED, ("CN1",), True),
        (S.COMPLETED, ("CN1",), True),
        (S.CANCELLED, ("CN1",), False),
        (S.RETURNED, ("CN1",), True),
        (S.DISPATCHED, (), False),
        (S.DISPATCHED, ("CN2",), False),
        (S.DISPATCHED, (None, "CN2", "CN1"), True),
        (S.DELIVERED, ("CN10",), False),
    ],
    ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else str(v),
)
def test_a_dispatch_is_applied_when_the_status_and_its_consignment_both_show(
    status: S, shipments: tuple[str | None, ...], applied: bool
) -> None:
    assert (
        Dispatch(consignment_number="CN1").is_applied(
            order(status=status, shipments=shipped(*shipments))
        )
        is applied
    )


def test_a_dispatch_finds_its_own_shipment_among_the_orders_shipments() -> None:
    command = Dispatch(consignment_number="CN1")
    shipments = shipped("CN0", "CN1", "CN2")
    assert command.shipment_in(order(shipments=shipments)) is shipments[1]
    assert command.shipment_in(order(shipments=shipped("CN0", "CN2"))) is None
    assert command.shipment_in(order()) is None


def code(kind: DiscountKind, value: str | None) -> Discount:
    return Discount(kind=kind, code=value)


@pytest.mark.parametrize(
    ("discounts", "applied"),
    [
        ((code(DiscountKind.CODE, "SUMMER25"),), True),
        ((code(DiscountKind.CODE, "summer25"),), True),
        ((code(DiscountKind.CODE, "Summer25"),), True),
        ((code(DiscountKind.CODE, "WELCOME10"), code(DiscountKind.CODE, "SUMMER25")), True),
        ((code(DiscountKind.CODE, "WELCOME10"),), False),
        ((code(DiscountKind.GIFT_VOUCHER, "SUMMER25"),), False),
        ((code(DiscountKind.ORDER, "SUMMER25"),), False),
        ((code(DiscountKind.CODE, None),), False),
        ((), False),
    ],
    ids=[
        "same",
        "lower-case-upstream",
        "mixed-case-upstream",
        "among-others",
        "another-code",
        "a-voucher-of-that-name",
        "an-order-discount-of-that-name",
        "a-code-discount-without-a-code",
        "no-discounts",
    ],
)
def test_a_discount_code_is_applied_when_the_order_has_that_code_in_any_case(
    discounts: tuple[Discount, ...], applied: bool
) -> None:
    assert SetDiscountCode(code="SuMMer25").is_applied(order(discounts=discounts)) is applied


def line(line_id: str, erp: int | None) -> OrderLine:
    return OrderLine(id=line_id, quantity=Decimal("1"), erp_line_number=erp)


@pytest.mark.parametrize(
    ("erp_number", "lines", "applied"),
    [
        ("ERP-7", (line("l1", 10), line("l2", 20)), True),
        (None, (line("l1", 10), line("l2", 20)), False),
        ("ERP-8", (line("l1", 10), line("l2", 20)), False),
        ("ERP-7", (line("l1", 10), line("l2", None)), False),
        ("ERP-7", (line("l1", 11), line("l2", 20)), False),
        ("ERP-7", (line("l1", 10),), False),
    ],
    ids=[
        "both",
        "no-number",
        "another-number",
        "a-line-unnumbered",
        "a-line-differs",
        "a-line-missing",
    ],
)
def test_an_erp_number_is_applied_when_the_order_and_every_named_line_carry_it(
    erp_number: str | None, lines: tuple[OrderLine, ...], applied: bool
) -> None:
    command = SetErpOrderNumber(
        erp_order_number="ERP-7",
        lines=(
            ErpLineNumber(line_id="l1", erp_line_number=10),
            ErpLineNumber(line_id="l2", erp_line_number=20),
        ),
    )
    assert command.is_applied(order(erp_order_number=erp_number, lines=lines)) is applied


def test_an_erp_number_alone_is_applied_when_the_order_carries_it() -> None:
    command = SetErpOrderNumber(erp_order_number="ERP-7")
    assert command.is_applied(order(erp_order_number="ERP-7", lines=(line("l1", None),))) is True
    assert command.is_applied(order(erp_order_number="ERP-6")) is False


@pytest.mark.parametrize(
    "command",
    [
        SPLIT,
        SetGiftVoucher(voucher="Gift card 25"),
        SetShippingOption(option="Express delivery"),
        SetTaxCode(code="VAT9"),
        EDIT,
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_change_an_order_read_back_cannot_confirm_is_unknown_not_false(
    command: OrderCommand,
) -> None:
    # Only True skips a resend: unknown is sent again, under the same idempotency key.
    assert command.is_applied(order()) is None
