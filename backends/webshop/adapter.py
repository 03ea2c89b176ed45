"""WEBSHOP: CloudSuite orders read through its REST API and mapped into the domain.

Listing is one ``GET /api/order/`` per call (``ordering=-modified_date,-id``, limit/offset
pagination); batch reads are one ``GET /api/order/?id__in=...`` per page of ids. Every
order comes back complete: lines, deliveries, customer and addresses are embedded.
Writes follow the document's order flow (``writes.py``) and read the order back once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import httpx

from backends.base import OrderPage, OrderQuery, Snapshot, WriteResult, status_entries
from backends.batching import gather_bounded
from backends.config import WebshopSettings
from backends.values import numeric_id, utc_timestamp
from backends.webshop import wire
from backends.webshop.client import CloudSuiteClient
from backends.webshop.writes import OrderWrites
from domain import ids
from domain.commands import (
    Dispatch,
    EditOrderLines,
    MarkShipped,
    OrderCommand,
    SetErpOrderNumber,
    UpdateStatus,
)
from domain.errors import (
    AmbiguousReferenceError,
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

SOURCE = OrderSource.WEBSHOP
MAX_LIMIT = 100
V = TypeVar("V")

# CloudSuite ``state`` -> our status, by ``shipment_state``. A confirmed order can be
# marked sent without processing ("OFFLINE orders ... shipment-state is sent", doc 001).
STATUS_TABLE: dict[str, dict[str, OrderStatus]] = {
    "draft": {"not_sent": OrderStatus.PENDING, "sent": OrderStatus.PENDING},
    "quotation": {"not_sent": OrderStatus.PENDING, "sent": OrderStatus.PENDING},
    "confirmed": {"not_sent": OrderStatus.CONFIRMED, "sent": OrderStatus.DISPATCHED},
    "processing": {"not_sent": OrderStatus.PROCESSING, "sent": OrderStatus.DISPATCHED},
    "done": {"not_sent": OrderStatus.COMPLETED, "sent": OrderStatus.COMPLETED},
    "cancel": {"not_sent": OrderStatus.CANCELLED, "sent": OrderStatus.CANCELLED},
}

# Our status -> the CloudSuite ``state`` ``UpdateStatus`` PATCHes (doc 001, step 3); a draft
# or quotation is confirmed first on its way to processing or done (``writes.state_steps``).
# CloudSuite has no state for DELIVERED or RETURNED; DISPATCHED is a DESADV (``Dispatch``).
STATE_FOR_STATUS: dict[OrderStatus, str] = {
    OrderStatus.PENDING: "draft",
    OrderStatus.CONFIRMED: "confirmed",
    OrderStatus.PROCESSING: "processing",
    OrderStatus.COMPLETED: "done",
    OrderStatus.CANCELLED: "cancel",
}

# CloudSuite ``payment_status`` -> ours (doc 001, step 1).
PAYMENT_TABLE: dict[str, PaymentStatus] = {
    "closed_success": PaymentStatus.PAID,  # successful payment
    "paid": PaymentStatus.PAID,  # successful payment
    "closed_canceled": PaymentStatus.NONE,  # no payment
    "started": PaymentStatus.NONE,  # no payment
    "account": PaymentStatus.INVOICED,  # no payment needed, invoiced afterwards
    "none": PaymentStatus.NONE,  # no payment
}

STATE_NAMES = {
    "draft": "Draft",
    "quotation": "Quotation",
    "confirmed": "Confirmed",
    "processing": "Processing",
    "done": "Done",
    "cancel": "Cancelled",
}

NEWEST_FIRST = "-modified_date,-id"  # id breaks ties so pages never overlap
EXTERNAL_KEY = "ext:"  # ``orderByReference(reference: "ext:<ERP order number>")``
MAX_REFERENCE_MATCHES = 10  # a reference names one order per webshop: more is not expected


def answered(order: wire.Order) -> Snapshot:
    """CloudSuite's answer (a read or a write's) as a snapshot for the next write."""
    return Snapshot(to_order(order), order)


def to_order(order: wire.Order) -> Order:
    """One CloudSuite order as a domain ``Order``; garbage raises ``UpstreamMalformedError``."""

    def money(amount: Decimal) -> Money:
        return Money(amount, order.currency)

    shipped = order.shipped_quantities()
    product_lines = [line for line in order.order_lines if line.type == "line"]
    return Order(
        source=SOURCE,
        upstream_id=str(order.id),
        status=order_status(order.state, order.shipment_state),
        upstream_status=order.state,
        payment_status=_lookup(PAYMENT_TABLE, order.payment_status, "payment_status"),
        upstream_payment_status=order.payment_status,
        webshop=str(order.webshop),
        offline=order.offline,
        customer_order_number=order.customer_order_number,
        currency=order.currency,
        totals=OrderTotals(
            gross=money(order.subtotal),
            discount=money(order.discount_amount),
            shipping=money(order.shipping_costs),
            tax=money(order.vat_amount),
            total=money(order.total),
            tax_included=True,  # CloudSuite prices carry VAT; vat_amount is the part of total
        ),
        created_at=_moment(order.created_date),
        updated_at=_moment(order.modified_date),
        reference=order.reference,
        erp_order_number=order.erp_order_number,
        customer=_customer(order),
        shipping_address=_address(order.shipment_address_details),
        billing_address=_address(order.invoice_address_details),
        lines=tuple(
            OrderLine(
                id=str(line.id),
                line_number=position,
                quantity=line.quantity,
                sku=line.product.key,
                description=line.description,
                quantity_shipped=shipped.get(line.erp_line_number),
                unit_price=money(line.price),
                total=money(line.total),
                tax_rate=float(line.vat_rate),
                erp_line_number=line.erp_line_number,
            )
            for position, line in enumerate(product_lines, start=1)
        ),
        discounts=_discounts(order, money(order.discount_amount)),
        shipments=tuple(
            Shipment(
                id=str(delivery.id),
                consignment_number=delivery.track_and_trace,
                carrier=delivery.carrier,
                dispatched_at=None if delivery.date is None else _moment(delivery.date),
            )
            for delivery in order.deliveries
        ),
    )


def order_status(state: str, shipment_state: str) -> OrderStatus:
    """The canonical status of a CloudSuite ``state`` with its ``shipment_state``."""
    by_shipment = _lookup(STATUS_TABLE, state, "state")
    return _lookup(by_shipment, shipment_state, "shipment_state")


def _lookup(table: Mapping[str, V], value: str, field: str) -> V:
    try:
        return table[value]
    except KeyError:
        raise UpstreamMalformedError(SOURCE, f"unknown {field} {value!r}") from None


def _moment(value: str) -> datetime:
    """A DRF timestamp; a naive one is UTC (the simulator's and our documented choice)."""
    return utc_timestamp(SOURCE, value, what="order")


def _customer(order: wire.Order) -> Party | None:
    details = order.customer_details
    if details is None:
        return None if order.customer is None else Party(id=str(order.customer))
    name = " ".join(part for part in (details.first_name, details.last_name) if part)
    return Party(id=str(details.id), name=name or None, email=details.email)


def _address(details: wire.AddressDetails | None) -> Address | None:
    if details is None:
        return None
    street = " ".join(part for part in (details.street, details.house_number) if part)
    return Address(
        name=details.name,
        street=street or None,
        city=details.city,
        postal_code=details.zip_code,
        country=details.country,
    )


def _discounts(order: wire.Order, amount: Money) -> tuple[Discount, ...]:
    if order.discount_code:
        return (Discount(kind=DiscountKind.CODE, code=order.discount_code, amount=amount),)
    if amount.amount:
        return (Discount(kind=DiscountKind.ORDER, amount=amount),)
    return ()


class WebshopAdapter:
    """The CloudSuite webshop as an ``OrderBackend``."""

    source = SOURCE
    name = "CloudSuite webshop"
    capabilities = frozenset(
        {
            OrderCapability.UPDATE_STATUS,
            OrderCapability.DISPATCH,
            OrderCapability.SET_ERP_NUMBER,
            OrderCapability.EDIT_LINES,
            OrderCapability.MARK_SHIPPED,
        }
    )
    settable_statuses = frozenset(STATE_FOR_STATUS)

    def __init__(
        self, settings: WebshopSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = CloudSuiteClient(settings, transport=transport)
        self.breaker = self.client.http.breaker
        self.writes = OrderWrites(self.client)
        # CloudSuite's LimitOffsetPagination caps ``limit`` at 100.
        self.page_size = min(settings.page_size, MAX_LIMIT)

    async def catalog(self) -> Catalog:
        """CloudSuite's states (its status table: it has no endpoint for them) and products
        (``GET /api/product/``, the catalogue writes check lines against, kept a while)."""
        products = await self.writes.catalog.get()
        return Catalog(
            statuses=status_entries(await self.status_catalog()),
            products=tuple(
                CatalogEntry(id=str(p.id), code=p.key, name=p.description or p.key)
                for p in products.values()
            ),
        )

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        params: dict[str, str | int] = {
            "ordering": NEWEST_FIRST,
            "limit": max(1, min(limit, self.page_size)),
            "offset": offset,
        }
        if query.statuses is not None:
            states = sorted(
                state
                for state, by_shipment in STATUS_TABLE.items()
                if query.statuses & set(by_shipment.values())
            )
            if not states:  # no CloudSuite state maps to the statuses asked for
                return OrderPage(orders=[], exhausted=True, total=0)
            params["state__in"] = ",".join(states)
        if query.updated_since is not None:
            params["modified_date__gte"] = query.updated_since.astimezone(UTC).isoformat()
        if query.offline is not None:
            params["offline"] = "true" if query.offline else "false"
        page = await self.client.list_orders(params)
        return OrderPage(
            orders=[to_order(order) for order in page.results],
            exhausted=page.next is None,
            total=page.count,
        )

    async def get_orders(self, upstream_ids: Sequence[str]) -> list[Order | None]:
        """``id__in`` batch reads, one request per page of ids; non-numeric ids are unknown."""
        numeric = sorted({n for key in upstream_ids if (n := numeric_id(key)) is not None})
        chunks = [
            tuple(numeric[i : i + self.page_size]) for i in range(0, len(numeric), self.page_size)
        ]
        pages = await gather_bounded(
            chunks, self._read_batch, concurrency=self.settings.read_concurrency
        )
        found = {str(order.id): order for page in pages for order in page}
        return [to_order(found[key]) if key in found else None for key in upstream_ids]

    async def _read_batch(self, ids: tuple[int, ...]) -> list[wire.Order]:
        page = await self.client.list_orders({"id__in": ",".join(map(str, ids)), "limit": len(ids)})
        return page.results

    async def find_by_reference(
        self, reference: str, *, webshop: str | None = None
    ) -> Order | None:
        """CloudSuite's own ``reference`` filter (doc 001, step 3), within ``webshop`` if given.

        A reference can repeat across webshops ("If multiple records are returned also add
        the webshop as a parameter"): without ``webshop``, matches in more than one webshop
        are ``AmbiguousReferenceError`` naming them. Within one webshop the most recently
        modified match wins.
        """
        if reference.startswith(EXTERNAL_KEY):  # the ERP's key: CloudSuite's ext: read
            found_by_key = await self.client.get_order_by_external_key(
                reference.removeprefix(EXTERNAL_KEY)
            )
            return None if found_by_key is None else to_order(found_by_key)
        params: dict[str, str | int] = {
            "reference": reference,
            "ordering": NEWEST_FIRST,
            "limit": MAX_REFERENCE_MATCHES,
        }
        if webshop is not None:
            shop = numeric_id(webshop)
            if shop is None:
                return None  # webshop ids are numbers: no order is in this one
            params["webshop"] = shop
        found = (await self.client.list_orders(params)).results
        if len({order.webshop for order in found}) > 1:
            candidates = [
                {"id": ids.order_id(SOURCE, str(order.id)), "webshop": str(order.webshop)}
                for order in found
            ]
            shops = ", ".join(sorted({c["webshop"] for c in candidates}))
            raise AmbiguousReferenceError(
                f"WEBSHOP: the reference {reference!r} is in webshops {shops}: "
                "give `webshop` (the candidates are in this error's extensions)",
                candidates=candidates,
                field=["webshop"],
            )
        return to_order(found[0]) if found else None

    async def status_catalog(self) -> list[UpstreamStatus]:
        """The status table itself: CloudSuite has no endpoint listing its states."""
        return [
            UpstreamStatus(id=state, name=STATE_NAMES[state], status=by_shipment["not_sent"])
            for state, by_shipment in STATUS_TABLE.items()
        ]

    async def check_health(self) -> bool:
        try:
            await self.client.list_orders({"limit": 1})
        except BackendError:
            return False
        return True

    async def snapshot(self, upstream_id: str) -> Snapshot | None:
        order_id = numeric_id(upstream_id)
        found = None if order_id is None else await self.client.get_order(order_id)
        return None if found is None else answered(found)

    async def execute(
        self,
        upstream_id: str,
        command: OrderCommand,
        *,
        idempotency_key: str,
        known: Snapshot | None = None,
    ) -> WriteResult:
        """One command as CloudSuite's own calls (``writes.OrderWrites``), built from the order
        as read (or ``known``). ``PATCH`` and ``PUT`` answer the order after them; a DESADV
        answers only its receipt, so a dispatch reads the order back."""
        key = idempotency_key
        match command:
            case UpdateStatus(status=status) if status not in STATE_FOR_STATUS:
                raise ValidationError(
                    f"CloudSuite has no state for {status.value}", field=["input", "status"]
                )
            case (
                UpdateStatus() | Dispatch() | MarkShipped() | SetErpOrderNumber() | EditOrderLines()
            ):
                order = await self._current(upstream_id, known)
            case _:
                raise UnsupportedByBackendError(
                    f"The CloudSuite webshop does not support {type(command).__name__}"
                )
        match command:
            case UpdateStatus(status=status):
                after = await self.writes.update_status(order, STATE_FOR_STATUS[status], key)
            case SetErpOrderNumber():
                after = await self.writes.set_erp_order_number(order, command, key)
            case MarkShipped():
                after = await self.writes.mark_shipped(order, key)
            case EditOrderLines():
                after = await self.writes.edit_lines(order, command, key)
            case Dispatch():
                await self.writes.dispatch(order, command, key)
                dispatched = answered(await self.writes.current(order.id))
                shipment = command.shipment_in(dispatched.order)
                if shipment is None or not command.is_applied(dispatched.order):
                    # CloudSuite matched the DESADV by ERP order number: one it took, or a 409
                    # for its number, that this order does not show went somewhere else.
                    raise UpstreamRejectedError(
                        SOURCE,
                        f"the DESADV for ERP order number {order.erp_order_number!r} did not "
                        f"reach order {order.id}: another order of webshop {order.webshop} may "
                        "carry that ERP order number",
                    )
                return WriteResult(order=dispatched.order, shipment=shipment, after=dispatched)
        snapshot = answered(after)
        return WriteResult(order=snapshot.order, after=snapshot)

    async def _current(self, upstream_id: str, known: Snapshot | None) -> wire.Order:
        if known is not None and isinstance(known.wire, wire.Order):
            return known.wire
        found = await self.snapshot(upstream_id)
        if found is None:
            raise NotFoundError(f"CloudSuite has no order {upstream_id!r}")
        assert isinstance(found.wire, wire.Order)
        return found.wire

    async def aclose(self) -> None:
        await self.client.aclose()
