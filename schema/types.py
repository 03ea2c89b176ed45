"""GraphQL value types: read-only views of the domain's value objects.

Each type has one ``from_domain`` constructor; none of them knows an upstream's shape.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain import models
from schema.enums import DiscountKind, OrderCapability, OrderSource


@strawberry.type(description="An exact amount of money in one currency.")
class Money:
    amount: Decimal = strawberry.field(description='Exact decimal amount, e.g. "12.50".')
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR.")

    @classmethod
    def from_domain(cls, money: models.Money | None) -> Money | None:
        return None if money is None else cls(amount=money.amount, currency=money.currency)


def _money(money: models.Money) -> Money:
    return Money(amount=money.amount, currency=money.currency)


@strawberry.type(description="A postal address as the upstream holds it.")
class Address:
    name: str | None = strawberry.field(description="Addressee.")
    street: str | None = strawberry.field(description="Street and house number.")
    city: str | None = strawberry.field(description="City.")
    state: str | None = strawberry.field(description="State, province or region.")
    postal_code: str | None = strawberry.field(description="Postal or ZIP code.")
    country: str | None = strawberry.field(description="Country, as the upstream gives it.")

    @classmethod
    def from_domain(cls, address: models.Address | None) -> Address | None:
        if address is None:
            return None
        return cls(
            name=address.name,
            street=address.street,
            city=address.city,
            state=address.state,
            postal_code=address.postal_code,
            country=address.country,
        )


@strawberry.type(description="A customer, company or sales agent as the upstream knows them.")
class Party:
    id: strawberry.ID | None = strawberry.field(description="The upstream's own id of the party.")
    name: str | None = strawberry.field(description="Display name.")
    email: str | None = strawberry.field(description="E-mail address, where the upstream has one.")

    @classmethod
    def from_domain(cls, party: models.Party | None) -> Party | None:
        if party is None:
            return None
        return cls(
            id=None if party.id is None else strawberry.ID(party.id),
            name=party.name,
            email=party.email,
        )


@strawberry.type(description="The money side of an order, in the order's currency.")
class OrderTotals:
    gross: Money = strawberry.field(description="Sum of the lines before discounts.")
    discount: Money = strawberry.field(description="All discounts together (a positive amount).")
    shipping: Money = strawberry.field(description="Shipping cost.")
    tax: Money = strawberry.field(
        description="Tax: inside `total` when `taxIncluded`, on top of the rest otherwise."
    )
    total: Money = strawberry.field(description="What the customer pays in all.")
    tax_included: bool = strawberry.field(
        description="Whether prices (and so `total`) include `tax` (VAT-inclusive webshops)."
    )
    paid: Money | None = strawberry.field(description="Paid so far, where the upstream says.")
    pending: Money | None = strawberry.field(
        description="Still to be paid, where the upstream says."
    )

    @classmethod
    def from_domain(cls, totals: models.OrderTotals) -> OrderTotals:
        return cls(
            gross=_money(totals.gross),
            discount=_money(totals.discount),
            shipping=_money(totals.shipping),
            tax=_money(totals.tax),
            total=_money(totals.total),
            paid=Money.from_domain(totals.paid),
            pending=Money.from_domain(totals.pending),
            tax_included=totals.tax_included,
        )


@strawberry.type(description="A discount on an order or on one of its lines.")
class Discount:
    kind: DiscountKind = strawberry.field(description="Where the discount comes from.")
    code: str | None = strawberry.field(description="The code a shopper types, if any.")
    name: str | None = strawberry.field(description="Display name of the discount.")
    amount: Money | None = strawberry.field(description="The amount taken off, if known.")
    percent: float | None = strawberry.field(description="The percentage taken off, if known.")
    sequence: int | None = strawberry.field(description="Order in which cascading discounts apply.")

    @classmethod
    def from_domain(cls, discount: models.Discount) -> Discount:
        return cls(
            kind=discount.kind,
            code=discount.code,
            name=discount.name,
            amount=Money.from_domain(discount.amount),
            percent=discount.percent,
            sequence=discount.sequence,
        )


@strawberry.type(description="One product at one price within an order line.")
class LineDetail:
    sku: str | None = strawberry.field(description="Product key or SKU of this detail.")
    product_name: str | None = strawberry.field(description="Product name, where known.")
    quantity: Decimal = strawberry.field(description="Quantity of this product in the line.")
    unit_price: Money | None = strawberry.field(description="Price of one unit.")
    retail_price: Money | None = strawberry.field(
        description="The recommended retail price of one unit (B2B), where the upstream has one."
    )
    remote_id: str | None = strawberry.field(
        description="The id the merchant's ERP keeps for this detail (B2B `idRemote`)."
    )

    @classmethod
    def from_domain(cls, detail: models.LineDetail) -> LineDetail:
        return cls(
            sku=detail.sku,
            product_name=detail.product_name,
            quantity=detail.quantity,
            unit_price=Money.from_domain(detail.unit_price),
            retail_price=Money.from_domain(detail.retail_price),
            remote_id=detail.remote_id,
        )


@strawberry.type(description="One line of an order: a product or service and its quantity.")
class OrderLine:
    id: strawberry.ID = strawberry.field(description="The upstream's id of the line.")
    line_number: int | None = strawberry.field(description="Position of the line in the order.")
    sku: str | None = strawberry.field(description="Product key or SKU.")
    product_name: str | None = strawberry.field(description="Product name.")
    description: str | None = strawberry.field(description="Free text of the line.")
    quantity: float = strawberry.field(description="Quantity ordered.")
    quantity_shipped: float | None = strawberry.field(description="Quantity shipped so far.")
    unit_price: Money | None = strawberry.field(description="Price of one unit.")
    total: Money | None = strawberry.field(description="Line total.")
    tax_rate: float | None = strawberry.field(description="Tax rate in percent.")
    status: str | None = strawberry.field(description="The upstream's own line status.")
    erp_line_number: int | None = strawberry.field(description="Line number in the ERP.")
    discounts: list[Discount] = strawberry.field(description="Discounts on this line.")
    deleted: bool = strawberry.field(
        description="The line was deleted upstream (B2B line status DELETED); it is still listed."
    )
    remote_id: str | None = strawberry.field(
        description="The id the merchant's ERP keeps for the line (B2B `idRemote`)."
    )
    delivery_date: str | None = strawberry.field(
        description="The planned delivery day of the line, as the upstream sends it (B2B)."
    )
    cancelled_at: datetime | None = strawberry.field(
        description="When the line was cancelled (B2B `cancellationDate`)."
    )
    quantity_from_stock: Decimal | None = strawberry.field(
        description="How much of the quantity is served from stock (B2B)."
    )
    line: strawberry.Private[models.OrderLine]

    @strawberry.field(
        description="Every product and price of the line: the upstream's own list (B2B "
        "`lineDetail`), or one detail made of the line where the upstream has no such list."
    )
    def details(self) -> list[LineDetail]:
        return [LineDetail.from_domain(detail) for detail in self.line.product_details()]

    @classmethod
    def from_domain(cls, line: models.OrderLine) -> OrderLine:
        return cls(
            id=strawberry.ID(line.id),
            line_number=line.line_number,
            sku=line.sku,
            product_name=line.product_name,
            description=line.description,
            quantity=float(line.quantity),
            quantity_shipped=None
            if line.quantity_shipped is None
            else float(line.quantity_shipped),
            unit_price=Money.from_domain(line.unit_price),
            total=Money.from_domain(line.total),
            tax_rate=line.tax_rate,
            status=line.status,
            erp_line_number=line.erp_line_number,
            discounts=[Discount.from_domain(discount) for discount in line.discounts],
            deleted=line.deleted,
            remote_id=line.remote_id,
            delivery_date=line.delivery_date,
            cancelled_at=line.cancelled_at,
            quantity_from_stock=line.quantity_from_stock,
            line=line,
        )


@strawberry.type(description="A dispatch of (part of) an order.")
class Shipment:
    id: strawberry.ID = strawberry.field(description="Id of the shipment.")
    consignment_number: str | None = strawberry.field(
        description="The carrier's consignment (track & trace, AWB) number."
    )
    carrier: str | None = strawberry.field(description="The carrier.")
    tracking_url: str | None = strawberry.field(description="Where the shipment can be tracked.")
    dispatched_at: datetime | None = strawberry.field(description="When it was dispatched.")

    @classmethod
    def from_domain(cls, shipment: models.Shipment) -> Shipment:
        return cls(
            id=strawberry.ID(shipment.id),
            consignment_number=shipment.consignment_number,
            carrier=shipment.carrier,
            tracking_url=shipment.tracking_url,
            dispatched_at=shipment.dispatched_at,
        )


@strawberry.type(description="A payment made or attempted for an order.")
class Payment:
    id: strawberry.ID = strawberry.field(description="The upstream's id of the payment.")
    amount: Money = strawberry.field(description="Amount of the payment.")
    status: str | None = strawberry.field(description="The upstream's own payment status.")
    method: str | None = strawberry.field(description="Payment method or gateway.")
    created_at: datetime | None = strawberry.field(description="When the payment was made.")

    @classmethod
    def from_domain(cls, payment: models.Payment) -> Payment:
        return cls(
            id=strawberry.ID(payment.id),
            amount=_money(payment.amount),
            status=payment.status,
            method=payment.method,
            created_at=payment.created_at,
        )


@strawberry.type(description="One entry of the gateway's audit trail for an order.")
class OrderEvent:
    at: datetime = strawberry.field(description="When it happened.")
    kind: str = strawberry.field(
        description="What happened: STATUS_CHANGED, SPLIT, DISPATCHED, DISCOUNT_SET, SYNCED, ..."
    )
    detail: str | None = strawberry.field(description="Details, including the delivery outcome.")
    actor: str | None = strawberry.field(
        description="Who made the change: the key name or token subject, with the X-Actor "
        "header as '(on behalf of ...)' where the key may act for people."
    )
    outcome: str | None = strawberry.field(
        description="For changes sent upstream: delivered, queued (will be retried) or rejected."
    )

    @classmethod
    def from_domain(cls, event: models.OrderEvent) -> OrderEvent:
        return cls(
            at=event.at,
            kind=event.kind,
            detail=event.detail,
            actor=event.actor,
            outcome=event.outcome,
        )


@strawberry.type(description="Pagination state of a connection (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more edges follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether edges precede this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Pass it as `after` for the next page. Usually the last edge's cursor; when "
        "a filter matched little and the scan limit ended the page early (fewer than `first` "
        "edges, perhaps none, with hasNextPage true), it points past what was read."
    )


@strawberry.type(description="An upstream order system the gateway talks to.")
class Backend:
    source: OrderSource = strawberry.field(description="Which upstream this is.")
    name: str = strawberry.field(description="Human name of the upstream system.")
    healthy: bool = strawberry.field(description="Whether it answered a health read just now.")
    capabilities: list[OrderCapability] = strawberry.field(
        description="The writes this backend supports."
    )
