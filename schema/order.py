"""The Order type, the Node interface it implements, and the order connection."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from domain import ids, models
from resolvers import pagination
from schema.enums import OrderCapability, OrderSource, OrderStatus, PaymentStatus
from schema.permissions import Requires
from schema.types import (
    Address,
    Discount,
    Money,
    OrderEvent,
    OrderLine,
    OrderTotals,
    PageInfo,
    Party,
    Payment,
    Shipment,
)

if TYPE_CHECKING:
    from gateway.context import Context


@strawberry.interface(description="An object with an opaque, stable global id.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id; stable across requests.")


@strawberry.type(description="An order, from whichever upstream system owns it.")
class Order(Node):
    order: strawberry.Private[models.Order]

    @classmethod
    def from_domain(cls, order: models.Order) -> Order:
        # Scalars are plain attributes (the executor reads them without a resolver call);
        # fields that build objects or read elsewhere resolve from ``order`` when selected.
        return cls(
            id=strawberry.ID(ids.order_id(order.source, order.upstream_id)),
            order=order,
            source=order.source,
            upstream_id=order.upstream_id,
            reference=order.reference,
            number=order.number,
            erp_order_number=order.erp_order_number,
            status=order.status,
            upstream_status=order.upstream_status,
            payment_status=order.payment_status,
            upstream_payment_status=order.upstream_payment_status,
            deleted=order.deleted,
            webshop=order.webshop,
            offline=order.offline,
            customer_order_number=order.customer_order_number,
            currency=order.currency,
            season=order.season,
            created_at=order.created_at,
            updated_at=order.updated_at,
        )

    source: OrderSource = strawberry.field(
        description="Which upstream order system owns this order."
    )

    upstream_id: str = strawberry.field(description="The owning upstream's own id of the order.")

    reference: str | None = strawberry.field(
        description="The order reference shoppers and operators quote."
    )

    number: str | None = strawberry.field(
        description="The upstream's order number, where it has one."
    )

    erp_order_number: str | None = strawberry.field(
        description="The order number in the merchant's ERP, once set."
    )

    status: OrderStatus = strawberry.field(
        description="Canonical status; see `upstreamStatus` for the raw one."
    )

    upstream_status: str = strawberry.field(description="The backend's own state name, untouched.")

    payment_status: PaymentStatus = strawberry.field(
        description="Canonical payment status; see `upstreamPaymentStatus` for the raw one."
    )

    upstream_payment_status: str | None = strawberry.field(
        description="The upstream's raw payment status value, untouched; null where the "
        "backend keeps none (B2B)."
    )

    currency: str = strawberry.field(description="ISO 4217 currency of the order's amounts.")

    webshop: str | None = strawberry.field(
        description="The CloudSuite webshop the order was placed in (WEBSHOP; null elsewhere)."
    )

    customer_order_number: str | None = strawberry.field(
        description="The shopper's own number for the order, where the shop asked for one "
        "(CloudSuite `customer_order_number`)."
    )

    offline: bool = strawberry.field(
        description="A CloudSuite offline order (WEBSHOP; false elsewhere): it can be marked "
        "shipped (`markShipped`) without a despatch advice."
    )

    deleted: bool = strawberry.field(
        description="The upstream marks the order deleted (CRM `IsDeleted`) but still lists "
        "it; `orders` leaves such orders out unless `filter.includeDeleted`."
    )

    @strawberry.field(description="Gross, discount, shipping, tax and total amounts.")
    def totals(self) -> OrderTotals:
        return OrderTotals.from_domain(self.order.totals)

    @strawberry.field(
        description="The customer who ordered. Needs customers:read.",
        permission_classes=[Requires.CUSTOMERS_READ],
    )
    def customer(self) -> Party | None:
        return Party.from_domain(self.order.customer)

    @strawberry.field(
        description="The company that receives the order (B2B). Needs customers:read.",
        permission_classes=[Requires.CUSTOMERS_READ],
    )
    def company(self) -> Party | None:
        return Party.from_domain(self.order.company)

    @strawberry.field(
        description="The sales agent who made the sale (B2B): a person, with contacts. "
        "Needs customers:read.",
        permission_classes=[Requires.CUSTOMERS_READ],
    )
    def agent(self) -> Party | None:
        return Party.from_domain(self.order.agent)

    season: str | None = strawberry.field(
        description="The season the order belongs to (B2B fashion)."
    )

    @strawberry.field(description="Affiliate orders: the affiliate's commission.")
    def commission(self) -> Money | None:
        return Money.from_domain(self.order.commission)

    @strawberry.field(
        description="Where the order is shipped. Needs customers:read.",
        permission_classes=[Requires.CUSTOMERS_READ],
    )
    def shipping_address(self) -> Address | None:
        return Address.from_domain(self.order.shipping_address)

    @strawberry.field(
        description="Where the order is invoiced. Needs customers:read.",
        permission_classes=[Requires.CUSTOMERS_READ],
    )
    def billing_address(self) -> Address | None:
        return Address.from_domain(self.order.billing_address)

    @strawberry.field(description="The order's lines.")
    def lines(self) -> list[OrderLine]:
        return [OrderLine.from_domain(line) for line in self.order.lines]

    @strawberry.field(
        description="The codes, vouchers and order discounts applied, each with what it takes "
        "off in all; the share each line bears is in `OrderLine.discounts` (do not add both)."
    )
    def discounts(self) -> list[Discount]:
        return [Discount.from_domain(discount) for discount in self.order.discounts]

    @strawberry.field(description="Dispatches of the order, with consignment numbers.")
    def shipments(self) -> list[Shipment]:
        return [Shipment.from_domain(shipment) for shipment in self.order.shipments]

    @strawberry.field(description="Payments made or attempted.")
    def payments(self) -> list[Payment]:
        return [Payment.from_domain(payment) for payment in self.order.payments]

    @strawberry.field(description="The order this one was split from, if any.")
    async def parent_order(self, info: strawberry.Info[Context, None]) -> Order | None:
        if self.order.parent_upstream_id is None:
            return None
        parent = await info.context.loaders.order(self.order.source, self.order.parent_upstream_id)
        return None if parent is None else Order.from_domain(parent)

    @strawberry.field(description="Orders split off from this one.")
    async def split_orders(self, info: strawberry.Info[Context, None]) -> list[Order]:
        children = await info.context.loaders.orders(
            self.order.source, self.order.split_upstream_ids
        )
        return [Order.from_domain(child) for child in children if child is not None]

    @strawberry.field(description="What this order's backend supports.")
    def capabilities(self, info: strawberry.Info[Context, None]) -> list[OrderCapability]:
        return sorted(info.context.backends[self.order.source].capabilities)

    @strawberry.field(description="The gateway's audit trail for this order, oldest first.")
    async def history(self, info: strawberry.Info[Context, None]) -> list[OrderEvent]:
        events = await info.context.loaders.history(self.order.source, self.order.upstream_id)
        return [OrderEvent.from_domain(event) for event in events]

    created_at: datetime = strawberry.field(description="When the order was placed.")

    updated_at: datetime = strawberry.field(description="When the order last changed upstream.")

    @strawberry.field(
        description="When the index last saw this order upstream (null if never indexed)."
    )
    async def synced_at(self, info: strawberry.Info[Context, None]) -> datetime | None:
        return await info.context.loaders.synced_at.load(str(self.id))


@strawberry.type(description="An order in a connection, with the cursor that points after it.")
class OrderEdge:
    edge: strawberry.Private[pagination.Edge]
    node: Order = strawberry.field(description="The order.")

    @strawberry.field(description="Pass as `after` to continue after this order.")
    def cursor(self) -> str:
        return self.edge.cursor


@strawberry.type(description="A page of orders, newest first by `updatedAt`.")
class OrderConnection:
    edges: list[OrderEdge] = strawberry.field(description="The orders of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    unavailable_sources: list[OrderSource] = strawberry.field(
        description="Backends missing from this page: they failed, or (a listing answered from "
        "the order index) ingestion has not loaded them yet; the page holds what the others "
        "returned."
    )
