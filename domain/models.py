"""The gateway's own order model: what every backend adapter maps its wire shapes into.

Nothing here knows an upstream's field names. GraphQL types (``schema/``) read these
objects; adapters (``backends/*/adapter.py``) build them with one mapping function each.
Amounts are exact ``Decimal``s; timestamps are timezone-aware ``datetime``s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class OrderSource(StrEnum):
    """Which upstream order system owns an order."""

    AFFILIATE = "AFFILIATE"
    WEBSHOP = "WEBSHOP"
    CRM = "CRM"
    B2B = "B2B"


class OrderStatus(StrEnum):
    """The gateway's canonical order status."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    PROCESSING = "PROCESSING"
    DISPATCHED = "DISPATCHED"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"


class PaymentStatus(StrEnum):
    """The gateway's canonical payment status of an order."""

    NONE = "NONE"
    PENDING = "PENDING"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    INVOICED = "INVOICED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


class DiscountKind(StrEnum):
    """Where a discount comes from."""

    CODE = "CODE"
    GIFT_VOUCHER = "GIFT_VOUCHER"
    ORDER = "ORDER"
    LINE = "LINE"


class OrderCapability(StrEnum):
    """A write an order's backend supports."""

    UPDATE_STATUS = "UPDATE_STATUS"
    SPLIT = "SPLIT"
    DISPATCH = "DISPATCH"
    SET_DISCOUNT_CODE = "SET_DISCOUNT_CODE"
    SET_GIFT_VOUCHER = "SET_GIFT_VOUCHER"
    SET_SHIPPING_OPTION = "SET_SHIPPING_OPTION"
    SET_TAX_CODE = "SET_TAX_CODE"
    SET_ERP_NUMBER = "SET_ERP_NUMBER"
    EDIT_LINES = "EDIT_LINES"
    MARK_SHIPPED = "MARK_SHIPPED"
    SET_LINE_STATUS = "SET_LINE_STATUS"
    EDIT_ORDER = "EDIT_ORDER"


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency (ISO 4217 code)."""

    amount: Decimal
    currency: str

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0"), currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    name: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """A customer, company or sales agent as the upstream knows them."""

    id: str | None = None
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Discount:
    kind: DiscountKind
    code: str | None = None
    name: str | None = None
    amount: Money | None = None
    percent: float | None = None
    sequence: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineDetail:
    """One product at one price within a line (a B2B line may carry several)."""

    quantity: Decimal
    sku: str | None = None
    product_name: str | None = None
    unit_price: Money | None = None
    retail_price: Money | None = None
    remote_id: str | None = None  # the id the merchant's ERP keeps for it


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLine:
    id: str
    quantity: Decimal
    line_number: int | None = None
    sku: str | None = None
    product_name: str | None = None
    description: str | None = None
    quantity_shipped: Decimal | None = None
    unit_price: Money | None = None
    total: Money | None = None
    tax_rate: float | None = None
    status: str | None = None
    erp_line_number: int | None = None
    discounts: tuple[Discount, ...] = ()
    details: tuple[LineDetail, ...] = ()  # the upstream's own list; empty where it has none
    deleted: bool = False
    remote_id: str | None = None
    delivery_date: str | None = None  # the planned delivery day, as the upstream sends it
    cancelled_at: datetime | None = None
    quantity_from_stock: Decimal | None = None

    def product_details(self) -> tuple[LineDetail, ...]:
        """The line's details: the upstream's list, or one detail made of the line itself."""
        if self.details:
            return self.details
        return (
            LineDetail(
                quantity=self.quantity,
                sku=self.sku,
                product_name=self.product_name,
                unit_price=self.unit_price,
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Shipment:
    id: str
    consignment_number: str | None = None
    carrier: str | None = None
    tracking_url: str | None = None
    dispatched_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    id: str
    amount: Money
    status: str | None = None
    method: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTotals:
    """The money side of an order, as its upstream states it.

    ``total`` is what the customer pays. ``tax`` is part of ``total`` already when
    ``tax_included`` (prices with VAT in them, as CloudSuite's are); otherwise it comes on
    top: ``total = gross - discount + shipping + tax`` (give or take upstream rounding).
    """

    gross: Money
    discount: Money
    shipping: Money
    tax: Money
    total: Money
    paid: Money | None = None
    pending: Money | None = None
    tax_included: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One order as the gateway sees it, whichever backend owns it."""

    source: OrderSource
    upstream_id: str
    status: OrderStatus
    upstream_status: str
    payment_status: PaymentStatus
    currency: str
    totals: OrderTotals
    created_at: datetime
    updated_at: datetime
    reference: str | None = None
    number: str | None = None
    erp_order_number: str | None = None
    customer: Party | None = None
    company: Party | None = None
    agent: Party | None = None
    season: str | None = None
    commission: Money | None = None
    shipping_address: Address | None = None
    billing_address: Address | None = None
    lines: tuple[OrderLine, ...] = ()
    discounts: tuple[Discount, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    payments: tuple[Payment, ...] = ()
    parent_upstream_id: str | None = None
    split_upstream_ids: tuple[str, ...] = field(default=())
    upstream_payment_status: str | None = None  # the backend's own value, where it has one
    deleted: bool = False  # deleted upstream but still listed there (listings leave it out)
    webshop: str | None = None  # the CloudSuite webshop it was placed in (WEBSHOP only)
    offline: bool = False  # a CloudSuite offline order (false elsewhere)
    customer_order_number: str | None = None  # the shopper's own number for it (WEBSHOP)


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogEntry:
    """One entry of an upstream's reference data: what a write names by ``id``."""

    id: str
    name: str
    code: str | None = None
    parent_id: str | None = None  # what it belongs to: a partner's company, a location's partner


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """An upstream's reference data, each list empty where the upstream has no such thing."""

    statuses: tuple[CatalogEntry, ...] = ()
    line_statuses: tuple[CatalogEntry, ...] = ()
    discount_codes: tuple[CatalogEntry, ...] = ()
    gift_vouchers: tuple[CatalogEntry, ...] = ()
    shipping_options: tuple[CatalogEntry, ...] = ()
    tax_codes: tuple[CatalogEntry, ...] = ()
    companies: tuple[CatalogEntry, ...] = ()
    clients: tuple[CatalogEntry, ...] = ()
    agents: tuple[CatalogEntry, ...] = ()
    seasons: tuple[CatalogEntry, ...] = ()
    business_partners: tuple[CatalogEntry, ...] = ()
    locations: tuple[CatalogEntry, ...] = ()
    products: tuple[CatalogEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamStatus:
    """One entry of a backend's own status catalog, with the canonical status it maps to."""

    id: str
    name: str
    status: OrderStatus | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    """One entry of the gateway's audit trail for an order."""

    at: datetime
    kind: str
    detail: str | None = None
    actor: str | None = None
    outcome: str | None = None  # delivered, queued or rejected, for changes sent upstream
