"""The affiliate platform's own JSON shapes (``docs/upstreams/affiliate.md``), as on the wire.

Attribute names are the wire names (snake_case). Amounts are decimal strings, read as
``Decimal``; timestamps stay ``str`` here and ``adapter.to_order`` parses them. Answers are
read leniently (``extra="ignore"``); request bodies are strict, so the simulator rejects
unknown fields with a 422 just as it rejects bad values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OrderStatusCode = Literal[
    "pending",
    "confirmed",
    "processing",
    "dispatched",
    "delivered",
    "completed",
    "cancelled",
    "returned",
]
PaymentStatusCode = Literal["unpaid", "pending", "paid", "partially_paid", "refunded", "failed"]
WebhookEventName = Literal["order.created", "order.updated", "order.status_changed"]


class Wire(BaseModel):
    """An answer: lenient to fields the platform adds, strict about the ones we read."""

    model_config = ConfigDict(extra="ignore")


class Customer(Wire):
    id: int | None = None
    name: str
    email: str | None = None
    phone: str | None = None


class Address(Wire):
    name: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None


class Item(Wire):
    id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal("0.00")
    total: Decimal
    tax_rate: Decimal


class Totals(Wire):
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal


class AffiliateRef(Wire):
    id: int
    name: str


class Order(Wire):
    """One order with its items, as every read and write answers it."""

    id: int
    order_number: str
    order_source: str
    status: str
    payment_status: str
    currency: str
    customer: Customer
    shipping_address: Address | None = None
    billing_address: Address | None = None
    items: list[Item]
    totals: Totals
    coupon_code: str | None = None
    consignment_number: str | None = None
    carrier: str | None = None
    tracking_url: str | None = None
    dispatched_at: str | None = None
    affiliate: AffiliateRef
    commission_rate: Decimal
    commission_amount: Decimal
    parent_order_id: int | None = None
    split_order_ids: list[int] = []
    note: str | None = None
    status_note: str | None = None
    created_at: str
    updated_at: str


class ListMeta(Wire):
    offset: int
    limit: int
    total: int


class OrderList(Wire):
    """``GET /api/v1/orders``."""

    data: list[Order]
    meta: ListMeta


class OrderEnvelope(Wire):
    """``GET /api/v1/orders/{id}`` and every write on one order."""

    data: Order


class SplitResult(Wire):
    order: Order
    split_order: Order


class SplitEnvelope(Wire):
    """``POST /api/v1/orders/{id}/split``."""

    data: SplitResult


class OrderStatusInfo(Wire):
    code: str
    name: str
    final: bool
    next: list[str]


class OrderStatusList(Wire):
    """``GET /api/v1/order-statuses``."""

    data: list[OrderStatusInfo]


class Affiliate(Wire):
    id: int
    name: str
    commission_rate: Decimal


class AffiliateList(Wire):
    """``GET /api/v1/affiliates``."""

    data: list[Affiliate]


class Webhook(Wire):
    id: int
    url: str
    events: list[str]
    secret: str | None = None  # only in the answer that registers the webhook
    created_at: str


class WebhookEnvelope(Wire):
    """``POST /api/v1/webhooks``."""

    data: Webhook


class WebhookList(Wire):
    """``GET /api/v1/webhooks``."""

    data: list[Webhook]


class WebhookEvent(Wire):
    """The body the platform POSTs to a registered webhook URL."""

    id: str
    event: str
    created_at: str
    data: Order


class FieldError(Wire):
    field: str
    message: str


class ApiError(Wire):
    """Every 4xx answer."""

    error: str
    message: str
    errors: list[FieldError] = []


# Request bodies -------------------------------------------------------------------------


class Request(BaseModel):
    """A request body: unknown fields are a 422, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class CustomerInput(Request):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None


class AddressInput(Request):
    name: str | None = None
    line1: str = Field(min_length=1)
    line2: str | None = None
    city: str = Field(min_length=1)
    state: str | None = None
    postcode: str | None = None
    country: str = Field(pattern=r"^[A-Z]{2}$")


class ItemInput(Request):
    """One item of a create or edit; in an edit, ``id`` keeps an existing item's id."""

    id: int | None = None
    sku: str = Field(min_length=1)
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    unit_price: Decimal = Field(ge=0, decimal_places=2)
    discount: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2)
    tax_rate: Decimal = Field(ge=0, le=100, decimal_places=2)

    @model_validator(mode="after")
    def discount_within_price(self) -> ItemInput:
        if self.discount > self.quantity * self.unit_price:
            raise ValueError("discount exceeds quantity x unit_price")
        return self


class OrderCreate(Request):
    """``POST /api/v1/orders``."""

    order_number: str | None = Field(default=None, min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    affiliate_id: int
    customer: CustomerInput
    shipping_address: AddressInput
    billing_address: AddressInput | None = None
    items: list[ItemInput] = Field(min_length=1)
    shipping: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2)
    coupon_code: str | None = None
    payment_status: PaymentStatusCode = "unpaid"
    note: str | None = None


class StatusUpdate(Request):
    """``PATCH /api/v1/orders/{id}/status``."""

    status: OrderStatusCode
    consignment_number: str | None = Field(default=None, min_length=1)
    carrier: str | None = None
    tracking_url: str | None = None
    note: str | None = None


class OrderEdit(Request):
    """``PUT /api/v1/orders/{id}``: every field given replaces the order's own."""

    items: list[ItemInput] | None = Field(default=None, min_length=1)
    shipping_address: AddressInput | None = None
    billing_address: AddressInput | None = None
    shipping: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    coupon_code: str | None = None
    note: str | None = None


class SplitItem(Request):
    item_id: int
    quantity: int = Field(ge=1)


class SplitRequest(Request):
    """``POST /api/v1/orders/{id}/split``: what moves to the one new order."""

    items: list[SplitItem] = Field(min_length=1)


class WebhookCreate(Request):
    """``POST /api/v1/webhooks``."""

    url: str = Field(pattern=r"^https?://\S+$")
    events: list[WebhookEventName] = Field(min_length=1)
    secret: str | None = Field(default=None, min_length=8)
