"""The B2B wholesale order API as an ``OrderBackend`` and ``OrderCreator``, and its one
wire->domain mapping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from backends.b2b import wire
from backends.b2b.client import B2BClient
from backends.b2b.reference import ReferenceData
from backends.b2b.writes import AGENT_ROLE, CLIENT_ROLE, new_order_body, refused_input
from backends.base import OrderPage, OrderQuery, Snapshot, WriteResult
from backends.batching import gather_bounded
from backends.config import B2BSettings
from backends.values import utc_timestamp
from domain.commands import (
    CreateWholesaleOrder,
    NewOrder,
    OrderCommand,
    SetLineStatus,
    UpdateStatus,
)
from domain.errors import (
    BackendError,
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamMalformedError,
    UpstreamRejectedError,
    ValidationError,
)
from domain.models import (
    Address,
    Catalog,
    CatalogEntry,
    Discount,
    DiscountKind,
    LineDetail,
    Money,
    Order,
    OrderCapability,
    OrderLine,
    OrderSource,
    OrderStatus,
    OrderTotals,
    Party,
    PaymentStatus,
    UpstreamStatus,
)

# Upstream order status id (``GET /Order/getOrder/Status``) -> canonical status.
STATUS_TABLE: dict[str, OrderStatus] = {
    "PENDING": OrderStatus.PENDING,
    "CONFIRMED": OrderStatus.CONFIRMED,
    "IN_PROGRESS": OrderStatus.PROCESSING,
    "SHIPPED": OrderStatus.DISPATCHED,
    "DELIVERED": OrderStatus.DELIVERED,
    "CLOSED": OrderStatus.COMPLETED,
    "CANCELLED": OrderStatus.CANCELLED,
}
# Canonical status -> the upstream status id ``PUT /Order/update/{id}`` sets: each one step,
# as the API enforces no transitions. Not DISPATCHED (``Dispatch``'s, which the API lacks)
# and not RETURNED (the catalog has no such status).
STATUS_UPDATES: dict[OrderStatus, str] = {
    OrderStatus.PENDING: "PENDING",
    OrderStatus.CONFIRMED: "CONFIRMED",
    OrderStatus.PROCESSING: "IN_PROGRESS",
    OrderStatus.DELIVERED: "DELIVERED",
    OrderStatus.COMPLETED: "CLOSED",
    OrderStatus.CANCELLED: "CANCELLED",
}

# The API carries no payment data at all (``003_*``): every B2B order's payment status is
# NONE, so there is no payment table to keep.
PAYMENT_STATUS = PaymentStatus.NONE
# The line status of a deleted line (the document: a line's status says "whether it has been
# deleted"; its line-status catalog names it DELETED).
DELETED_LINE_STATUS = "DELETED"

# The document does not say; the simulator answers 400 above this.
MAX_PAGE_SIZE = 100
# `updatedFrom` requires a date; a status-only listing asks from the document's default.
BEGINNING = datetime(1999, 1, 1, 1, 0, tzinfo=UTC)


class B2BAdapter:
    """Reads orders from the B2B API (``getOrder`` pages, ``updatedFrom`` for filters),
    changes their status and creates new ones."""

    source = OrderSource.B2B
    name = "B2B wholesale order API"
    capabilities = frozenset({OrderCapability.UPDATE_STATUS, OrderCapability.SET_LINE_STATUS})
    settable_statuses = frozenset(STATUS_UPDATES)

    def __init__(
        self, settings: B2BSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = B2BClient(settings, transport=transport)
        self.breaker = self.client.http.breaker
        self.reference = ReferenceData(self.client)

    async def catalog(self) -> Catalog:
        """Every id ``createOrder`` takes, from the API's catalogs (``ReferenceData``, kept
        a while): statuses, line statuses, companies, business partners (clients have the
        role Client, agents Representant), seasons, locations and products."""
        data = await self.reference.read()

        def statuses(entries: dict[str, wire.StatusEntry]) -> tuple[CatalogEntry, ...]:
            return tuple(
                CatalogEntry(id=e.id, code=e.id, name=e.description or e.id)
                for e in entries.values()
            )

        def partners(role: str | None) -> tuple[CatalogEntry, ...]:
            return tuple(
                CatalogEntry(
                    id=p.id,
                    code=p.idRemote,
                    name=p.contactName or p.id,
                    parent_id=p.company.id if p.company else None,
                )
                for p in data.partners.values()
                if role is None or role in p.roles
            )

        def location(entry: wire.Location) -> CatalogEntry:
            partner = data.partners.get(entry.businessPartnerId or "")
            owner = (partner.contactName if partner else None) or entry.businessPartnerId
            uses = [
                use
                for use, on in (
                    ("shipping", entry.shippingAddress),
                    ("billing", entry.billingAddress),
                )
                if on
            ]
            return CatalogEntry(
                id=entry.id,
                code=entry.idRemote,
                name=f"{owner}: {' and '.join(uses) or 'address'}",
                parent_id=entry.businessPartnerId,
            )

        return Catalog(
            statuses=statuses(data.order_statuses),
            line_statuses=statuses(data.line_statuses),
            companies=tuple(
                CatalogEntry(id=c.id, code=c.idRemote, name=c.companyName or c.id)
                for c in data.companies.values()
            ),
            clients=partners(CLIENT_ROLE),
            agents=partners(AGENT_ROLE),
            business_partners=partners(None),
            seasons=tuple(
                CatalogEntry(id=s.id, code=s.idRemote, name=s.description or s.id)
                for s in data.seasons.values()
            ),
            locations=tuple(location(entry) for entry in data.locations.values()),
            products=tuple(
                CatalogEntry(id=p.id, code=p.reference, name=p.name or p.reference or p.id)
                for p in data.products.values()
            ),
        )

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        if query.offline:  # B2B orders are never CloudSuite offline orders
            return OrderPage(orders=[], exhausted=True, total=0)
        page_size = min(limit, self.settings.page_size, MAX_PAGE_SIZE)
        page, skip = offset // page_size + 1, offset % page_size
        if query.updated_since is None and query.statuses is None:
            answer = await self.client.orders(page=page, page_size=page_size)
        else:
            statuses = upstream_statuses(query.statuses or frozenset())
            if query.statuses is not None and not statuses:
                # No upstream status maps onto the ones asked for (e.g. RETURNED).
                return OrderPage(orders=[], exhausted=True, total=0)
            answer = await self.client.orders_updated_from(
                query.updated_since or BEGINNING, statuses, page=page, page_size=page_size
            )
        pagination = answer.pagination
        return OrderPage(
            orders=[
                to_order(order, currency=self.settings.currency) for order in answer.data[skip:]
            ],
            exhausted=pagination.currentPage >= pagination.totalPages,
            total=pagination.totalItems,
        )

    async def get_orders(self, upstream_ids: Sequence[str]) -> list[Order | None]:
        # The API has no batch read: one `getOrder?id=` per order, a few at a time.
        orders = await gather_bounded(
            upstream_ids, self.client.order, concurrency=self.settings.read_concurrency
        )
        return [
            None if order is None else to_order(order, currency=self.settings.currency)
            for order in orders
        ]

    async def find_by_reference(
        self, reference: str, *, webshop: str | None = None
    ) -> Order | None:
        """The newest order whose ``reference`` is this one.

        The API cannot filter by reference, so this reads ``getOrder`` newest first, a full
        page at a time, until the reference shows up (one asked about is usually recent).
        """
        page_size = min(self.settings.page_size, MAX_PAGE_SIZE)
        page = 1
        while True:
            answer = await self.client.orders(page=page, page_size=page_size)
            for order in answer.data:
                if order.reference == reference:
                    return to_order(order, currency=self.settings.currency)
            if page >= answer.pagination.totalPages:
                return None
            page += 1

    async def status_catalog(self) -> list[UpstreamStatus]:
        answer = await self.client.order_statuses(page_size=MAX_PAGE_SIZE)
        return [
            UpstreamStatus(
                id=entry.id, name=entry.description or entry.id, status=STATUS_TABLE.get(entry.id)
            )
            for entry in answer.data
        ]

    async def check_health(self) -> bool:
        try:
            await self.client.order_statuses(page_size=1)
        except BackendError:
            return False
        return True

    async def snapshot(self, upstream_id: str) -> Snapshot | None:
        found = await self.client.order(upstream_id)
        return None if found is None else self._answered(found)

    async def execute(
        self,
        upstream_id: str,
        command: OrderCommand,
        *,
        idempotency_key: str,
        known: Snapshot | None = None,
    ) -> WriteResult:
        """The API's own write call; it answers the order after it (nothing read before or
        after, so ``known`` is not needed)."""
        match command:
            case UpdateStatus():
                updated = await self._update_status(upstream_id, command, idempotency_key)
            case SetLineStatus():
                updated = await self._set_line_status(upstream_id, command, idempotency_key)
            case _:
                raise UnsupportedByBackendError(f"The B2B API cannot {command.capability.value}")
        after = self._answered(updated)
        return WriteResult(order=after.order, after=after)

    def _answered(self, order: wire.Order) -> Snapshot:
        return Snapshot(to_order(order, currency=self.settings.currency), order)

    async def create_order(self, command: NewOrder, *, idempotency_key: str) -> Order:
        """``POST /Order/create`` after checking every rule of the document against the
        reference data; the API answers the new order whole, so that answer is mapped (a
        second read could fail after the order exists). ``idempotency_key`` goes out as
        ``Idempotency-Key``."""
        if not isinstance(command, CreateWholesaleOrder):
            raise ValidationError("A B2B order is given in `b2b`", field=["input", "b2b"])
        body = new_order_body(command, await self.reference.read())
        try:
            created = await self.client.create_order(body, idempotency_key=idempotency_key)
        except UpstreamRejectedError as exc:
            refused = refused_input(exc)
            if refused is None:
                raise
            # Our checks passed, so a catalog changed under the cache: read them anew next time.
            self.reference.expire()
            raise refused from exc
        return to_order(created, currency=self.settings.currency)

    async def _update_status(
        self, upstream_id: str, command: UpdateStatus, idempotency_key: str
    ) -> wire.Order:
        """``PUT /Order/update/{id}``; the API keeps no note, so ``command.note`` is not sent."""
        status_id = STATUS_UPDATES.get(command.status)
        if status_id is None or status_id not in await self.reference.order_statuses.get():
            raise ValidationError(
                f"The B2B API has no order status for {command.status.value}",
                field=["input", "status"],
            )
        updated = await self.client.update_status(
            upstream_id, status_id, idempotency_key=idempotency_key
        )
        if updated is None:
            raise NotFoundError(
                f"No B2B order has the id {upstream_id!r}", field=["input", "orderId"]
            )
        return updated

    async def delete_order(self, upstream_id: str, *, idempotency_key: str) -> None:
        """``DELETE /Order/delete/{id}`` (the document lists deletion; the call is our
        reading, ``docs/upstreams/b2b.md``); the API refuses an order that has shipped."""
        if not await self.client.delete_order(upstream_id, idempotency_key=idempotency_key):
            raise NotFoundError(
                f"No B2B order has the id {upstream_id!r}", field=["input", "orderId"]
            )

    async def _set_line_status(
        self, upstream_id: str, command: SetLineStatus, idempotency_key: str
    ) -> wire.Order:
        """``PUT /Order/update/{id}/line/{lineId}`` to a status of the line-status catalog."""
        if command.status not in await self.reference.line_statuses.get():
            raise ValidationError(
                f"The B2B API has no line status {command.status!r} (see catalog(source: B2B))",
                field=["input", "status"],
            )
        updated = await self.client.update_line_status(
            upstream_id, command.line_id, command.status, idempotency_key=idempotency_key
        )
        if updated is None:
            raise NotFoundError(
                f"The B2B order {upstream_id!r} has no line {command.line_id!r}",
                field=["input", "lineId"],
            )
        return updated

    async def aclose(self) -> None:
        await self.client.aclose()


def upstream_statuses(statuses: frozenset[OrderStatus]) -> list[str]:
    """The upstream status ids that map onto any of ``statuses``."""
    return [upstream for upstream, status in STATUS_TABLE.items() if status in statuses]


def to_order(order: wire.Order, *, currency: str) -> Order:
    """One upstream order as the gateway's ``Order``; ``currency`` comes from settings
    because the API carries none."""

    def money(amount: Decimal | None) -> Money:
        return Money(amount if amount is not None else Decimal("0"), currency)

    def optional_money(amount: Decimal | None) -> Money | None:
        return None if amount is None else Money(amount, currency)

    def discount(entry: wire.Discount, kind: DiscountKind) -> Discount:
        kind_of_type = entry.discountType
        return Discount(
            kind=kind,
            code=kind_of_type.code if kind_of_type else None,
            name=kind_of_type.name if kind_of_type else None,
            amount=optional_money(entry.amountDiscount),
            percent=None if entry.discount is None else float(entry.discount),
            sequence=entry.sequence,
        )

    def detail(entry: wire.LineDetail) -> LineDetail:
        return LineDetail(
            quantity=entry.quantity if entry.quantity is not None else Decimal("0"),
            sku=entry.product,
            unit_price=optional_money(entry.price),
            retail_price=optional_money(entry.retailPrice),
            remote_id=entry.idRemote,
        )

    def line(entry: wire.Line) -> OrderLine:
        # A line may carry several products and prices (``lineDetail``): all are kept in
        # ``details``; the line's own sku and unit price are its first detail's.
        first_detail = entry.lineDetail[0] if entry.lineDetail else None
        return OrderLine(
            id=entry.id,
            sku=first_detail.product if first_detail else None,
            description=entry.observations,
            quantity=entry.quantity,
            quantity_shipped=entry.quantityServed,
            unit_price=optional_money(first_detail.price) if first_detail else None,
            total=optional_money(entry.lineAmount),
            status=entry.lineStatus,
            discounts=tuple(discount(d, DiscountKind.LINE) for d in entry.discount),
            details=tuple(detail(d) for d in entry.lineDetail),
            deleted=entry.lineStatus == DELETED_LINE_STATUS,
            remote_id=entry.idRemote,
            delivery_date=entry.deliveryDate,
            cancelled_at=(
                None
                if entry.cancellationDate is None
                else parse_timestamp(entry.cancellationDate, order.id)
            ),
            quantity_from_stock=entry.quantityFromStock,
        )

    status = STATUS_TABLE.get(order.status)
    if status is None:
        raise UpstreamMalformedError(
            OrderSource.B2B, f"order {order.id}: unknown status {order.status!r}"
        )
    gross, base = money(order.grossAmount), money(order.baseAmount)
    return Order(
        source=OrderSource.B2B,
        upstream_id=order.id,
        status=status,
        upstream_status=order.status,
        payment_status=PAYMENT_STATUS,
        currency=currency,
        totals=OrderTotals(
            gross=gross,
            # Order-level discounts lie between the gross amount and the taxable base.
            discount=Money(gross.amount - base.amount, currency),
            shipping=money(order.shippingAmount),
            tax=money(order.taxAmount),
            total=money(order.totalAmount),
        ),
        created_at=parse_timestamp(order.createdAt, order.id),
        updated_at=parse_timestamp(order.dateModified, order.id),
        reference=order.reference,
        number=order.numOrder,
        erp_order_number=order.idRemote,
        customer=Party(id=order.client.id, name=order.client.contactName) if order.client else None,
        company=Party(id=order.company.id, name=order.company.companyName)
        if order.company
        else None,
        # The wire carries the agent as one string: the representative's name.
        agent=Party(name=order.agent) if order.agent else None,
        season=order.season.description if order.season else None,
        # Addresses are one free-text string; their parts cannot be split reliably.
        shipping_address=Address(street=order.shippingAddress) if order.shippingAddress else None,
        billing_address=Address(street=order.billingAddress) if order.billingAddress else None,
        lines=tuple(line(entry) for entry in order.lines),
        discounts=tuple(
            discount(d, DiscountKind.LINE if d.isLine else DiscountKind.ORDER)
            for d in order.discount
        ),
    )


def parse_timestamp(value: str, order_id: str) -> datetime:
    """``2026-05-01 10:00:00`` (naive: UTC) or ISO 8601 with an offset."""
    return utc_timestamp(OrderSource.B2B, value, what=f"order {order_id}")
