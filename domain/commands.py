"""Writes to an existing order, as values: what a mutation asks, what the outbox stores, what
an adapter's ``execute`` carries out upstream.

Each command names the capability it needs and the history event it causes, and can say
whether an order read back from the upstream already shows it (``is_applied``), so that a
delivery whose outcome was unknown (a timeout, a crash) is not sent twice.
Commands serialise to JSON with a ``type`` discriminator (``COMMAND.dump_json``/``validate_json``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from domain.models import DiscountKind, Order, OrderCapability, OrderStatus, Shipment

DISPATCHED_OR_LATER = frozenset(
    {OrderStatus.DISPATCHED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.RETURNED}
)


class OrderCommand(BaseModel):
    # Surrounding blanks are never meant (" CN123 "): strip them, so blank is empty.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    capability: ClassVar[OrderCapability]
    event_kind: ClassVar[str]

    def is_applied(self, order: Order) -> bool | None:
        """Whether ``order`` (read back upstream) already shows this change; ``None``: unknown."""
        return None

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.model_dump(exclude={"type"}).items())


class NewCustomer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None


class PostalAddress(BaseModel):
    """An address as a person writes it; the adapter maps it to its upstream's fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str | None = None
    street: str = Field(min_length=1)
    city: str = Field(min_length=1)
    state: str | None = None
    postal_code: str | None = None
    country: str = Field(pattern=r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2


class UpdateStatus(OrderCommand):
    type: Literal["UpdateStatus"] = "UpdateStatus"
    status: OrderStatus
    note: str | None = None

    capability = OrderCapability.UPDATE_STATUS
    event_kind = "STATUS_CHANGED"

    def is_applied(self, order: Order) -> bool:
        return order.status is self.status


class Dispatch(OrderCommand):
    type: Literal["Dispatch"] = "Dispatch"
    consignment_number: str = Field(min_length=1, max_length=100)
    carrier: str | None = None
    tracking_url: str | None = None

    capability = OrderCapability.DISPATCH
    event_kind = "DISPATCHED"

    @field_validator("consignment_number", "carrier", "tracking_url")
    @classmethod
    def printable(cls, value: str | None) -> str | None:
        """Carriers' numbers and names are text: a control character is a typo (and no
        upstream document, JSON or XML, can carry every one of them)."""
        if value is not None and any(c < " " or "\x7f" <= c < "\xa0" for c in value):
            raise ValueError("must not contain control characters")
        return value

    def is_applied(self, order: Order) -> bool:
        # Some upstreams dispatch in two calls (consignment, then status): both must show.
        return order.status in DISPATCHED_OR_LATER and self.shipment_in(order) is not None

    def shipment_in(self, order: Order) -> Shipment | None:
        return next(
            (s for s in order.shipments if s.consignment_number == self.consignment_number), None
        )


class MarkShipped(OrderCommand):
    """The order's shipment sent without a despatch advice (CloudSuite, doc 001 step 4: "when
    you don't send a delivery (DESADV)", and for offline orders)."""

    type: Literal["MarkShipped"] = "MarkShipped"

    capability = OrderCapability.MARK_SHIPPED
    event_kind = "MARKED_SHIPPED"

    def is_applied(self, order: Order) -> bool:
        return order.status in DISPATCHED_OR_LATER

    def describe(self) -> str:
        return "shipment sent, no despatch advice"


class SetLineStatus(OrderCommand):
    """One line to another status of the upstream's line-status catalog (B2B: stock,
    shipped, deleted, ...)."""

    type: Literal["SetLineStatus"] = "SetLineStatus"
    line_id: str = Field(min_length=1)
    status: str = Field(min_length=1)

    capability = OrderCapability.SET_LINE_STATUS
    event_kind = "LINE_STATUS_SET"

    def is_applied(self, order: Order) -> bool:
        return any(line.id == self.line_id and line.status == self.status for line in order.lines)


class EditOrder(OrderCommand):
    """An order's addresses, shipping method, coupon or note (each given one replaces the
    order's own; at least one given)."""

    type: Literal["EditOrder"] = "EditOrder"
    shipping_address: PostalAddress | None = None
    billing_address: PostalAddress | None = None
    shipping_method: str | None = Field(default=None, min_length=1)
    coupon_code: str | None = None
    note: str | None = None

    capability = OrderCapability.EDIT_ORDER
    event_kind = "ORDER_EDITED"

    @model_validator(mode="after")
    def something_to_change(self) -> EditOrder:
        if not self.model_fields_set - {"type"}:
            raise ValueError("nothing to change: give an address, shipping method, coupon or note")
        return self


class SplitLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str
    quantity: Decimal = Field(gt=0)


class SplitOrder(OrderCommand):
    """Move these lines (and quantities) to ONE new order; the rest stays on the original."""

    type: Literal["SplitOrder"] = "SplitOrder"
    lines: tuple[SplitLine, ...] = Field(min_length=1)

    capability = OrderCapability.SPLIT
    event_kind = "SPLIT"


class SetDiscountCode(OrderCommand):
    type: Literal["SetDiscountCode"] = "SetDiscountCode"
    code: str = Field(min_length=1, description="the code a shopper types")

    capability = OrderCapability.SET_DISCOUNT_CODE
    event_kind = "DISCOUNT_SET"

    def is_applied(self, order: Order) -> bool:
        return any(
            d.kind is DiscountKind.CODE and (d.code or "").casefold() == self.code.casefold()
            for d in order.discounts
        )


class SetGiftVoucher(OrderCommand):
    type: Literal["SetGiftVoucher"] = "SetGiftVoucher"
    voucher: str = Field(min_length=1, description="the voucher's name or upstream id")

    capability = OrderCapability.SET_GIFT_VOUCHER
    event_kind = "GIFT_VOUCHER_SET"


class SetShippingOption(OrderCommand):
    type: Literal["SetShippingOption"] = "SetShippingOption"
    option: str = Field(min_length=1, description="the shipping option's name or upstream id")

    capability = OrderCapability.SET_SHIPPING_OPTION
    event_kind = "SHIPPING_OPTION_SET"


class SetTaxCode(OrderCommand):
    type: Literal["SetTaxCode"] = "SetTaxCode"
    code: str = Field(min_length=1, description="the tax code or its upstream id")

    capability = OrderCapability.SET_TAX_CODE
    event_kind = "TAX_CODE_SET"


class ErpLineNumber(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str
    erp_line_number: int = Field(ge=0)


class SetErpOrderNumber(OrderCommand):
    type: Literal["SetErpOrderNumber"] = "SetErpOrderNumber"
    erp_order_number: str = Field(min_length=1, max_length=100)
    lines: tuple[ErpLineNumber, ...] = ()

    capability = OrderCapability.SET_ERP_NUMBER
    event_kind = "ERP_NUMBER_SET"

    def is_applied(self, order: Order) -> bool:
        numbers = {line.id: line.erp_line_number for line in order.lines}
        return order.erp_order_number == self.erp_order_number and all(
            numbers.get(line.line_id) == line.erp_line_number for line in self.lines
        )


class LineEdit(BaseModel):
    """One line as it should be after the edit: an existing line (``line_id``) or a new one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str | None = None
    sku: str | None = None
    quantity: Decimal = Field(gt=0)
    unit_price: Decimal | None = Field(default=None, ge=0)
    description: str | None = None


class EditOrderLines(OrderCommand):
    """Replace the order's lines with these (lines left out are removed)."""

    type: Literal["EditOrderLines"] = "EditOrderLines"
    lines: tuple[LineEdit, ...] = Field(min_length=1)

    capability = OrderCapability.EDIT_LINES
    event_kind = "LINES_EDITED"


class NewOrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    quantity: Decimal = Field(gt=0)
    price: Decimal | None = Field(default=None, ge=0)
    line_status_id: str | None = None
    discount_percent: Decimal | None = Field(default=None, ge=0, le=100)
    remote_id: str | None = Field(default=None, min_length=1)  # the merchant ERP's line id


class CreateWholesaleOrder(BaseModel):
    """A new B2B order (``POST /Order/create``): every id is the upstream's own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company_id: str
    client_id: str
    agent_id: str
    season_id: str | None = None
    shipping_address_id: str
    billing_address_id: str
    status_id: str
    reference: str | None = None
    observation: str | None = None
    discount_percent: Decimal | None = Field(default=None, ge=0, le=100)
    lines: tuple[NewOrderLine, ...] = Field(min_length=1)
    remote_id: str | None = Field(default=None, min_length=1)  # the merchant ERP's order id


class NewAffiliateItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    sku: str = Field(min_length=1)
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    unit_price: Decimal = Field(ge=0, decimal_places=2)
    discount: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2)
    tax_rate: Decimal = Field(ge=0, le=100, decimal_places=2)

    @model_validator(mode="after")
    def discount_within_price(self) -> NewAffiliateItem:
        if self.discount > self.quantity * self.unit_price:
            raise ValueError("the discount is more than quantity x unit price")
        return self


class CreateAffiliateOrder(BaseModel):
    """A new affiliate-platform order (its "insert order" call, ``POST /api/v1/orders``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    reference: str | None = Field(default=None, min_length=1)  # the order number
    affiliate_id: int
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    customer: NewCustomer
    shipping_address: PostalAddress
    billing_address: PostalAddress | None = None
    items: tuple[NewAffiliateItem, ...] = Field(min_length=1)
    shipping: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2)
    coupon_code: str | None = None
    note: str | None = None


NewOrder = CreateWholesaleOrder | CreateAffiliateOrder


AnyOrderCommand = Annotated[
    UpdateStatus
    | Dispatch
    | MarkShipped
    | SetLineStatus
    | EditOrder
    | SplitOrder
    | SetDiscountCode
    | SetGiftVoucher
    | SetShippingOption
    | SetTaxCode
    | SetErpOrderNumber
    | EditOrderLines,
    Field(discriminator="type"),
]
COMMAND: TypeAdapter[AnyOrderCommand] = TypeAdapter(AnyOrderCommand)
