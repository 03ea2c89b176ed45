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
from backends.base import OrderPage, OrderQuery, Snapshot, WriteResult, status_entries
from backends.batching import gather_bounded
from backends.cache import TtlCache
from backends.config import AffiliateSettings
from backends.values import numeric_id, utc_timestamp
from domain.commands import (
    CreateAffiliateOrder,
    Dispatch,
    EditOrder,
    EditOrderLines,
    NewOrder,
    OrderCommand,
    PostalAddress,
    SplitOrder,
    UpdateStatus,
)
from domain.errors import (
    BackendError,
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamMalformedError,
    ValidationError,
)
from domain.models import (
    Address,
    Catalog,
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


def address(given: PostalAddress) -> wire.AddressInput:
    """An address as the platform's write bodies take it."""
    return wire.AddressInput(
        name=given.name,
        line1=given.street,
        city=given.city,
        state=given.state,
        postcode=given.postal_code,
        country=given.country,
    )


def order_edit(command: EditOrder) -> wire.OrderEdit:
    """The ``PUT /api/v1/orders/{id}`` body of an edit: only the fields the command gives."""
    fields: dict[str, object] = {}
    for name in ("shipping_address", "billing_address"):
        if name in command.model_fields_set and getattr(command, name) is not None:
            fields[name] = address(getattr(command, name)).model_dump()
    for name in ("coupon_code", "note"):
        if name in command.model_fields_set:
            fields[name] = getattr(command, name)
    return wire.OrderEdit.model_validate(fields)


def insert_request(command: CreateAffiliateOrder) -> wire.OrderCreate:
    """The "insert order" body of ``command`` (``docs/upstreams/affiliate.md``)."""

    return wire.OrderCreate(
        order_number=command.reference,
        currency=command.currency,
        affiliate_id=command.affiliate_id,
        customer=wire.CustomerInput(
            name=command.customer.name, email=command.customer.email, phone=command.customer.phone
        ),
        shipping_address=address(command.shipping_address),
        billing_address=None
        if command.billing_address is None
        else address(command.billing_address),
        items=[
            wire.ItemInput(
                sku=item.sku,
                name=item.name,
                quantity=item.quantity,
                unit_price=item.unit_price,
                discount=item.discount,
                tax_rate=item.tax_rate,
            )
            for item in command.items
        ],
        shipping=command.shipping,
        coupon_code=command.coupon_code,
        note=command.note,
    )


def answered(order: wire.Order) -> Snapshot:
    """The platform's answer (a read or a write's) as a snapshot for the next write."""
    return Snapshot(to_order(order), order)


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
        upstream_payment_status=order.payment_status,
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
            OrderCapability.EDIT_ORDER,
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
        self.reference_data = TtlCache(self._read_catalog)

    async def create_order(self, command: NewOrder, *, idempotency_key: str) -> Order:
        """The platform's "insert order" (``POST /api/v1/orders``): the new order, in status
        ``pending``, mapped from the platform's answer (it answers the order whole)."""
        if not isinstance(command, CreateAffiliateOrder):
            raise ValidationError(
                "An AFFILIATE order is given in `affiliate`", field=["input", "affiliate"]
            )
        created = await self.client.create_order(
            insert_request(command), idempotency_key=idempotency_key
        )
        return to_order(created)

    async def catalog(self) -> Catalog:
        """The platform's order statuses: its API lists no other reference data."""
        return await self.reference_data.get()

    async def _read_catalog(self) -> Catalog:
        return Catalog(statuses=status_entries(await self.status_catalog()))

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        statuses = upstream_values(STATUS_MAP, query.statuses)
        payment_statuses = upstream_values(PAYMENT_STATUS_MAP, query.payment_statuses)
        # No CloudSuite-style offline orders here: ``offline: true`` matches nothing.
        if statuses == frozenset() or payment_statuses == frozenset() or query.offline:
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

    async def find_by_reference(
        self, reference: str, *, webshop: str | None = None
    ) -> Order | None:
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

    async def snapshot(self, upstream_id: str) -> Snapshot | None:
        number = numeric_id(upstream_id)  # platform ids are integers
        found = None if number is None else await self.client.get_order(number)
        return None if found is None else answered(found)

    async def execute(
        self,
        upstream_id: str,
        command: OrderCommand,
        *,
        idempotency_key: str,
        known: Snapshot | None = None,
    ) -> WriteResult:
        """One write through the platform's own call(s), built from the order as read (or
        ``known``); the platform answers each write with the order after it, so nothing is
        read back.

        Every request carries ``Idempotency-Key``: the platform answers a repeated key with
        its first answer, so a redelivery after a lost answer changes nothing twice.
        """
        if isinstance(command, UpdateStatus) and command.status not in self.settable_statuses:
            raise UnsupportedByBackendError(
                f"{self.name} cannot set {command.status.value} by a status update"
            )
        if isinstance(command, EditOrder) and command.shipping_method is not None:
            raise ValidationError(
                f"{self.name} keeps a shipping cost, not a shipping method",
                field=["input", "shippingMethod"],
            )
        if not isinstance(
            command, UpdateStatus | Dispatch | SplitOrder | EditOrderLines | EditOrder
        ):
            raise UnsupportedByBackendError(f"{self.name} cannot do {command.capability.value}")
        order = await self._current(upstream_id, known)
        key, client = idempotency_key, self.client
        match command:
            case UpdateStatus():
                update = wire.StatusUpdate(
                    status=UPSTREAM_STATUS[command.status], note=command.note
                )
                after = await self._after(await self._move_to(order, update, key), order)
                return WriteResult(order=after.order, after=after)
            case Dispatch():
                update = wire.StatusUpdate(
                    status=UPSTREAM_STATUS[OrderStatus.DISPATCHED],
                    consignment_number=command.consignment_number,
                    carrier=command.carrier,
                    tracking_url=command.tracking_url,
                )
                after = await self._after(await self._move_to(order, update, key), order)
                shipment = command.shipment_in(after.order)
                return WriteResult(order=after.order, shipment=shipment, after=after)
            case SplitOrder():
                split = await client.split_order(
                    order.id, split_request(order, command), idempotency_key=key
                )
                after = await self._after(split.order, order)
                new_order = to_order(split.split_order)
                return WriteResult(order=after.order, new_orders=(new_order,), after=after)
            case EditOrderLines():
                edited = await client.edit_order(
                    order.id, edit_request(order, command), idempotency_key=key
                )
                after = await self._after(edited, order)
                return WriteResult(order=after.order, after=after)
            case EditOrder():
                edited = await client.edit_order(order.id, order_edit(command), idempotency_key=key)
                after = await self._after(edited, order)
                return WriteResult(order=after.order, after=after)

    async def _after(self, answer: wire.Order, built_on: wire.Order) -> Snapshot:
        """The order after a write: the platform's answer, unless that answer is older than
        the order the write was built on. The platform answers a repeated Idempotency-Key
        with its *first* answer: a redelivery after a lost answer gets the order as it was
        then, not as it has become since (confirmed by the merchant meanwhile...). Then the
        order is read once."""
        after = answered(answer)
        # Not newer (to the platform's precision) than what the write was built on: a replay.
        if after.order.updated_at <= parse_timestamp(built_on, "updated_at", built_on.updated_at):
            fresh = await self.snapshot(str(built_on.id))
            if fresh is not None:
                return fresh
        return after

    async def _current(self, upstream_id: str, known: Snapshot | None) -> wire.Order:
        """The order as the platform has it now (``known`` if given); ``NotFoundError`` when
        it has none."""
        if known is not None and isinstance(known.wire, wire.Order):
            return known.wire
        found = await self.snapshot(upstream_id)
        if found is None:
            raise NotFoundError(f"No affiliate order has the id {upstream_id!r}")
        assert isinstance(found.wire, wire.Order)
        return found.wire

    async def _move_to(self, order: wire.Order, update: wire.StatusUpdate, key: str) -> wire.Order:
        """Set ``update.status``, through ``confirmed`` first where the platform needs it;
        the order as the last request answered it."""
        *intermediate, _ = status_steps(order.status, update.status)
        for status in intermediate:
            # Each step is its own request, so it gets its own key (a key names one request).
            step = wire.StatusUpdate(status=status)
            await self.client.update_status(order.id, step, idempotency_key=f"{key}:{status}")
        return await self.client.update_status(order.id, update, idempotency_key=key)

    async def aclose(self) -> None:
        await self.client.aclose()
