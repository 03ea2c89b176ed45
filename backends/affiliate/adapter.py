"""AFFILIATE as an ``OrderBackend``: listing, batch reads, writes and the one wire -> domain
mapping.

The platform filters by status, payment status, ``updated_since``, ids and order number,
sorts by ``-updated_at`` and pages by offset/limit, so every read here is one request.
Writes (``execute``) read the order, check the command against it (``writes.py``), send the
platform's own write call(s) and read the result back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TypeVar

import httpx

from backends.affiliate import wire
from backends.affiliate.client import MAX_LIMIT, AffiliateClient
from backends.affiliate.commission import commission
from backends.affiliate.writes import edit_request, split_request, status_steps
from backends.base import OrderPage, OrderQuery, WriteResult
from backends.batching import gather_bounded
from backends.config import AffiliateSettings
from backends.values import numeric_id, utc_timestamp
from domain.commands import Dispatch, EditOrderLines, OrderCommand, SplitOrder, UpdateStatus
from domain.errors import (
    BackendError,
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamMalformedError,
)
from domain.models import (
    Address,
    Discount,
    DiscountKind,
    Money,
    Order,
    OrderCapability,
    OrderLine,
    OrderSource,
    OrderStatus,
    OrderTotals,
    Party,
    PaymentStatus,
    Shipment,
    UpstreamStatus,
)

E = TypeVar("E", bound=Enum)

# The platform's order statuses are the canonical ones, one to one.
STATUS_MAP: dict[str, OrderStatus] = {
    "pending": OrderStatus.PENDING,
    "confirmed": OrderStatus.CONFIRMED,
    "processing": OrderStatus.PROCESSING,
    "dispatched": OrderStatus.DISPATCHED,
    "delivered": OrderStatus.DELIVERED,
    "completed": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
    "returned": OrderStatus.RETURNED,
}

# Canonical -> the platform status a write sends: the read table inverted. DISPATCHED is
# sent only by ``Dispatch`` (the platform requires the consignment number with it); PENDING
# is missing: no platform status may go back to ``pending``. From ``pending`` the platform
# only allows ``confirmed``/``cancelled``, so PENDING -> PROCESSING and a dispatch from
# pending are two updates, ``confirmed`` first (``writes.status_steps``).
UPSTREAM_STATUS: dict[OrderStatus, wire.OrderStatusCode] = {
    OrderStatus.CONFIRMED: "confirmed",
    OrderStatus.PROCESSING: "processing",
    OrderStatus.DISPATCHED: "dispatched",
    OrderStatus.DELIVERED: "delivered",
    OrderStatus.COMPLETED: "completed",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.RETURNED: "returned",
}

# "unpaid" is an order nobody has tried to pay yet: no payment at all, hence NONE.
# The platform does not invoice, so nothing maps to INVOICED.
PAYMENT_STATUS_MAP: dict[str, PaymentStatus] = {
    "unpaid": PaymentStatus.NONE,
    "pending": PaymentStatus.PENDING,
    "paid": PaymentStatus.PAID,
    "partially_paid": PaymentStatus.PARTIALLY_PAID,
    "refunded": PaymentStatus.REFUNDED,
    "failed": PaymentStatus.FAILED,
}


def malformed(order: wire.Order, message: str) -> UpstreamMalformedError:
    return UpstreamMalformedError(OrderSource.AFFILIATE, f"order {order.id}: {message}")


def parse_timestamp(order: wire.Order, name: str, value: str) -> datetime:
    """ISO 8601 with offset; a naive one is UTC, as the platform writes every timestamp."""
    return utc_timestamp(OrderSource.AFFILIATE, value, what=f"order {order.id}: {name}")


def to_address(address: wire.Address | None) -> Address | None:
    if address is None:
        return None
    street = ", ".join(part for part in (address.line1, address.line2) if part)
    return Address(
        name=address.name,
        street=street or None,
        city=address.city,
        state=address.state,
        postal_code=address.postcode,
        country=address.country,
    )


def to_order(order: wire.Order) -> Order:
    """One platform order, with its items, as the gateway's ``Order``."""
    status = STATUS_MAP.get(order.status)
    if status is None:
        raise malformed(order, f"unknown status {order.status!r}")
    payment_status = PAYMENT_STATUS_MAP.get(order.payment_status)
    if payment_status is None:
        raise malformed(order, f"unknown payment_status {order.payment_status!r}")

    def money(amount: Decimal) -> Money:
        return Money(amount, order.currency)

    totals = order.totals
    coupon = order.coupon_code
    lines = tuple(
        OrderLine(
            id=str(item.id),
            line_number=number,
            sku=item.sku,
            product_name=item.name,
            quantity=Decimal(item.quantity),
            unit_price=money(item.unit_price),
            total=money(item.total),
            tax_rate=float(item.tax_rate),
            discounts=(
                (Discount(kind=DiscountKind.LINE, code=coupon, amount=money(item.discount)),)
                if item.discount
                else ()
            ),
        )
        for number, item in enumerate(order.items, start=1)
    )
    shipments: tuple[Shipment, ...] = ()
    if order.consignment_number:
        dispatched_at = order.dispatched_at
        shipments = (
            Shipment(
                id=order.consignment_number,
                consignment_number=order.consignment_number,
                carrier=order.carrier,
                tracking_url=order.tracking_url,
                dispatched_at=(
                    parse_timestamp(order, "dispatched_at", dispatched_at)
                    if dispatched_at
                    else None
                ),
            ),
        )
    return Order(
        source=OrderSource.AFFILIATE,
        upstream_id=str(order.id),
        reference=order.order_number,
        number=order.order_number,
        status=status,
        upstream_status=order.status,
        payment_status=payment_status,
        currency=order.currency,
        totals=OrderTotals(
            gross=money(totals.subtotal),
            discount=money(totals.discount),
            shipping=money(totals.shipping),
            tax=money(totals.tax),
            total=money(totals.total),
        ),
        customer=Party(
            id=None if order.customer.id is None else str(order.customer.id),
            name=order.customer.name,
            email=order.customer.email,
        ),
        agent=Party(id=str(order.affiliate.id), name=order.affiliate.name),
        commission=money(commission(order)),
        shipping_address=to_address(order.shipping_address),
        billing_address=to_address(order.billing_address),
        lines=lines,
        discounts=(
            (Discount(kind=DiscountKind.CODE, code=coupon, amount=money(totals.discount)),)
            if coupon and totals.discount
            else ()
        ),
        shipments=shipments,
        parent_upstream_id=None if order.parent_order_id is None else str(order.parent_order_id),
        split_upstream_ids=tuple(str(split_id) for split_id in order.split_order_ids),
        created_at=parse_timestamp(order, "created_at", order.created_at),
        updated_at=parse_timestamp(order, "updated_at", order.updated_at),
    )


def upstream_values(table: Mapping[str, E], wanted: frozenset[E] | None) -> frozenset[str] | None:
    """The upstream values that map onto ``wanted`` (``None``: no filter)."""
    if wanted is None:
        return None
    return frozenset(value for value, canonical in table.items() if canonical in wanted)


class AffiliateAdapter:
    """The affiliate-orders platform behind the ``OrderBackend`` protocol."""

    source = OrderSource.AFFILIATE
    name = "Affiliate orders (Crewlogix)"
    capabilities = frozenset(
        {
            OrderCapability.UPDATE_STATUS,
            OrderCapability.DISPATCH,
            OrderCapability.SPLIT,
            OrderCapability.EDIT_LINES,
        }
    )
    settable_statuses = frozenset(UPSTREAM_STATUS) - {OrderStatus.DISPATCHED}

    def __init__(
        self, settings: AffiliateSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = AffiliateClient(settings, transport=transport)
        self.breaker = self.client.http.breaker
        self.page_size = min(settings.page_size, MAX_LIMIT)

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        statuses = upstream_values(STATUS_MAP, query.statuses)
        payment_statuses = upstream_values(PAYMENT_STATUS_MAP, query.payment_statuses)
        if statuses == frozenset() or payment_statuses == frozenset():
            return OrderPage(orders=[], exhausted=True, total=0)  # e.g. only INVOICED asked
        page = await self.client.list_orders(
            offset=offset,
            limit=min(limit, self.page_size),
            statuses=statuses,
            payment_statuses=payment_statuses,
            updated_since=query.updated_since,
        )
        orders = [to_order(order) for order in page.data]
        return OrderPage(
            orders=orders, exhausted=offset + len(orders) >= page.meta.total, total=page.meta.total
        )

    async def get_orders(self, upstream_ids: Sequence[str]) -> list[Order | None]:
        # Platform ids are integers; anything else cannot be one of its orders.
        wanted = [
            number for key in dict.fromkeys(upstream_ids) if (number := numeric_id(key)) is not None
        ]
        batches = [
            tuple(wanted[start : start + self.page_size])
            for start in range(0, len(wanted), self.page_size)
        ]

        async def read_batch(ids: tuple[int, ...]) -> wire.OrderList:
            return await self.client.list_orders(offset=0, limit=len(ids), ids=ids)

        pages = await gather_bounded(
            batches, read_batch, concurrency=self.settings.read_concurrency
        )
        found = {str(order.id): to_order(order) for page in pages for order in page.data}
        return [found.get(key) for key in upstream_ids]

    async def find_by_reference(self, reference: str) -> Order | None:
        # The reference is the order number, which the platform filters on exactly.
        page = await self.client.list_orders(offset=0, limit=1, order_number=reference)
        return to_order(page.data[0]) if page.data else None

    async def status_catalog(self) -> list[UpstreamStatus]:
        catalog = await self.client.order_statuses()
        return [
            UpstreamStatus(id=entry.code, name=entry.name, status=STATUS_MAP.get(entry.code))
            for entry in catalog.data
        ]

    async def check_health(self) -> bool:
        try:
            await self.client.order_statuses()
        except BackendError:
            return False
        return True

    async def execute(
        self, upstream_id: str, command: OrderCommand, *, idempotency_key: str
    ) -> WriteResult:
        """One write through the platform's own call(s), then one read back of the result.

        Every request carries ``Idempotency-Key``: the platform answers a repeated key with
        its first answer, so a redelivery after a lost answer changes nothing twice.
        """
        match command:
            case UpdateStatus():
                return await self.update_status(upstream_id, command, idempotency_key)
            case Dispatch():
                return await self.dispatch(upstream_id, command, idempotency_key)
            case SplitOrder():
                return await self.split_order(upstream_id, command, idempotency_key)
            case EditOrderLines():
                return await self.edit_lines(upstream_id, command, idempotency_key)
            case _:
                raise UnsupportedByBackendError(f"{self.name} cannot do {command.capability.value}")

    async def update_status(
        self, upstream_id: str, command: UpdateStatus, idempotency_key: str
    ) -> WriteResult:
        """``PATCH .../status`` with the platform status (through ``confirmed`` if need be)."""
        if command.status not in self.settable_statuses:
            raise UnsupportedByBackendError(
                f"{self.name} cannot set {command.status.value} by a status update"
            )
        order = await self._current(upstream_id)
        update = wire.StatusUpdate(status=UPSTREAM_STATUS[command.status], note=command.note)
        await self._move_to(order, update, idempotency_key)
        [updated] = await self._read_back(order.id)
        return WriteResult(order=updated)

    async def dispatch(
        self, upstream_id: str, command: Dispatch, idempotency_key: str
    ) -> WriteResult:
        """``PATCH .../status`` to ``dispatched`` with the consignment, carrier and tracking."""
        order = await self._current(upstream_id)
        update = wire.StatusUpdate(
            status=UPSTREAM_STATUS[OrderStatus.DISPATCHED],
            consignment_number=command.consignment_number,
            carrier=command.carrier,
            tracking_url=command.tracking_url,
        )
        await self._move_to(order, update, idempotency_key)
        [dispatched] = await self._read_back(order.id)
        shipment = next(
            (
                shipment
                for shipment in dispatched.shipments
                if shipment.consignment_number == command.consignment_number
            ),
            None,
        )
        return WriteResult(order=dispatched, shipment=shipment)

    async def split_order(
        self, upstream_id: str, command: SplitOrder, idempotency_key: str
    ) -> WriteResult:
        """``POST .../split``; the original after the split and the one order it created."""
        order = await self._current(upstream_id)
        body = split_request(order, command)
        split = await self.client.split_order(order.id, body, idempotency_key=idempotency_key)
        original, new_order = await self._read_back(order.id, split.split_order.id)
        return WriteResult(order=original, new_orders=(new_order,))

    async def edit_lines(
        self, upstream_id: str, command: EditOrderLines, idempotency_key: str
    ) -> WriteResult:
        """``PUT /api/v1/orders/{id}`` with the complete new item list."""
        order = await self._current(upstream_id)
        body = edit_request(order, command)
        await self.client.edit_order(order.id, body, idempotency_key=idempotency_key)
        [edited] = await self._read_back(order.id)
        return WriteResult(order=edited)

    async def _current(self, upstream_id: str) -> wire.Order:
        """The order as the platform has it now; ``NotFoundError`` when it has none."""
        # Platform ids are integers; anything else cannot be one of its orders.
        number = numeric_id(upstream_id)
        found = None if number is None else await self.client.get_order(number)
        if found is None:
            raise NotFoundError(f"No affiliate order has the id {upstream_id!r}")
        return found

    async def _move_to(self, order: wire.Order, update: wire.StatusUpdate, key: str) -> None:
        """Set ``update.status``, through ``confirmed`` first where the platform needs it."""
        *intermediate, _ = status_steps(order.status, update.status)
        for status in intermediate:
            # Each step is its own request, so it gets its own key (a key names one request).
            step = wire.StatusUpdate(status=status)
            await self.client.update_status(order.id, step, idempotency_key=f"{key}:{status}")
        await self.client.update_status(order.id, update, idempotency_key=key)

    async def _read_back(self, *order_ids: int) -> list[Order]:
        """The orders after a write, in ``order_ids`` order, in one batch read."""
        page = await self.client.list_orders(offset=0, limit=len(order_ids), ids=order_ids)
        found = {order.id: to_order(order) for order in page.data}
        for order_id in order_ids:
            if order_id not in found:
                raise UpstreamMalformedError(self.source, f"order {order_id} vanished on write")
        return [found[order_id] for order_id in order_ids]

    async def aclose(self) -> None:
        await self.client.aclose()
