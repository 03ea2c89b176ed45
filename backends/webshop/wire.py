"""CloudSuite's own JSON shapes (Django REST Framework, snake_case), exactly as on the wire.

Attribute names are the wire names. Dates stay ``str`` here (the document's samples carry
placeholders); ``adapter.to_order`` parses them. Decimals are DRF decimal strings or JSON
numbers, read as ``Decimal`` without a detour through float.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    """Lenient to fields CloudSuite adds; strict about the ones we read."""

    model_config = ConfigDict(extra="ignore")


class Product(Wire):
    key: str
    origin: str | None = None


class OrderLineWrite(Wire):
    """One line of the ``PUT /api/order/{id}/`` body (doc step 3c)."""

    id: int | None = None
    product: Product
    description: str | None = None
    type: str = "line"
    quantity: Decimal
    erp_line_number: int | None = None
    price: Decimal | None = None


class OrderFields(Wire):
    """What reads and the full-order write share; related objects by id (doc step 3c)."""

    reference: str
    customer: int | None = None
    erp_order_number: str | None = None
    state: str
    currency: str
    shipment_address: int | None = None
    invoice_address: int | None = None
    webshop: int
    user: int | None = None


class OrderWrite(OrderFields):
    """The full order as ``PUT /api/order/{id}/`` takes it (doc step 3c)."""

    order_lines: list[OrderLineWrite]


class OrderPatch(Wire):
    """A ``PATCH /api/order/{id}/`` body (doc steps 3, 3b, 4): any of these fields."""

    state: str | None = None
    erp_order_number: str | None = None
    shipment_state: str | None = None


class OrderLine(OrderLineWrite):
    """A line as reads return it: the write shape plus its id, prices and VAT."""

    id: int
    price: Decimal
    total: Decimal
    vat_rate: Decimal


class CustomerDetails(Wire):
    id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


class AddressDetails(Wire):
    id: int
    name: str | None = None
    street: str | None = None
    house_number: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country: str | None = None


class DeliveryLine(Wire):
    erp_line_number: int
    quantity: Decimal


class Delivery(Wire):
    """A delivery a DESADV made (``desadv.py``), embedded read-only in the order."""

    id: int
    order: int
    track_and_trace: str | None = None
    carrier: str | None = None
    date: str | None = None
    lines: list[DeliveryLine] = []


class Order(OrderFields):
    """An order as ``GET /api/order/`` and ``GET /api/order/{id}/`` return it."""

    id: int
    payment_status: str
    offline: bool = False
    shipment_state: str
    order_lines: list[OrderLine]
    customer_details: CustomerDetails | None = None
    shipment_address_details: AddressDetails | None = None
    invoice_address_details: AddressDetails | None = None
    discount_code: str | None = None
    subtotal: Decimal
    discount_amount: Decimal
    shipping_costs: Decimal
    vat_amount: Decimal
    total: Decimal
    confirm_date: str | None = None
    created_date: str
    create_date: str | None = None
    order_date: str | None = None  # the day it was placed, YYYY-MM-DD
    customer_order_number: str | None = None  # the shopper's own order number
    modified_date: str
    deliveries: list[Delivery] = []

    def shipped_quantities(self) -> dict[int | None, Decimal]:
        """Quantity sent per ERP line number over every DESADV (lines are matched by it)."""
        shipped: dict[int | None, Decimal] = {}
        for delivery in self.deliveries:
            for line in delivery.lines:
                number = line.erp_line_number
                shipped[number] = shipped.get(number, Decimal(0)) + line.quantity
        return shipped


class OrderList(Wire):
    """DRF ``LimitOffsetPagination``: ``next``/``previous`` are absolute URLs or null."""

    count: int
    next: str | None = None
    previous: str | None = None
    results: list[Order]


class CatalogProduct(Wire):
    """A product as ``GET /api/product/`` lists it (not in doc 001: see the upstream's page)."""

    id: int
    key: str
    origin: str | None = None
    description: str | None = None
    price: Decimal


class ProductList(Wire):
    """``GET /api/product/``, paginated like the orders."""

    count: int
    next: str | None = None
    previous: str | None = None
    results: list[CatalogProduct]
