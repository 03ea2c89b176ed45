"""``CrmAdapter``: the CRM admin API as an ``OrderBackend``, with its one wire->domain mapping.

Every order endpoint answers the full order object, so a list page carries everything,
``get_orders`` needs one read per id (the CRM has no batch read), and a write's own answer
is the order read back after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from backends.base import OrderPage, OrderQuery, Snapshot, WriteResult, status_entries
from backends.batching import gather_bounded
from backends.cache import TtlCache
from backends.config import CrmSettings
from backends.crm import wire, writes
from backends.crm.client import CrmClient
from backends.values import numeric_id, utc_timestamp
from domain.commands import (
    Dispatch,
    OrderCommand,
    SetDiscountCode,
    SetGiftVoucher,
    SetShippingOption,
    SetTaxCode,
    UpdateStatus,
)
from domain.errors import (
    BackendError,
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamMalformedError,
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
    Payment,
    PaymentStatus,
    Shipment,
    UpstreamStatus,
)

# The CRM's order statuses are site-defined (ids differ per site): map them by name.
STATUS_BY_NAME: dict[str, OrderStatus] = {
    "New": OrderStatus.PENDING,
    "Confirmed": OrderStatus.CONFIRMED,
    "Processing": OrderStatus.PROCESSING,
    "Shipped": OrderStatus.DISPATCHED,
    "Delivered": OrderStatus.DELIVERED,
    "Completed": OrderStatus.COMPLETED,
    "Cancelled": OrderStatus.CANCELLED,
    "Returned": OrderStatus.RETURNED,
}
# Writes go the other way: the read table is one-to-one, so its inverse names the CRM status
# each canonical status is written as (by name too: ``CrmCatalogs`` finds the site's id).
STATUS_NAME: dict[OrderStatus, str] = {status: name for name, status in STATUS_BY_NAME.items()}

PAYMENT_STATUS: dict[str, PaymentStatus] = {
    "None": PaymentStatus.NONE,
    "Pending": PaymentStatus.PENDING,
    "Invoiced": PaymentStatus.INVOICED,
    "PartiallyPaid": PaymentStatus.PARTIALLY_PAID,
    "Paid": PaymentStatus.PAID,
    "Failed": PaymentStatus.FAILED,
    "Refunded": PaymentStatus.REFUNDED,
}


class CrmAdapter:
    """Reads CRM orders newest first by ``ModifiedDateTime`` with offset paging."""

    source = OrderSource.CRM
    name = "CRM Order Assets admin API"
    capabilities = frozenset(
        {
            OrderCapability.UPDATE_STATUS,
            OrderCapability.DISPATCH,
            OrderCapability.SET_DISCOUNT_CODE,
            OrderCapability.SET_GIFT_VOUCHER,
            OrderCapability.SET_SHIPPING_OPTION,
            OrderCapability.SET_TAX_CODE,
        }
    )
    # The CRM admin sets any status; Shipped (DISPATCHED) only through ``Dispatch``.
    settable_statuses = frozenset(STATUS_NAME) - {OrderStatus.DISPATCHED}

    def __init__(
        self, settings: CrmSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = CrmClient(settings, transport=transport)
        self.breaker = self.client.http.breaker
        self.catalogs = writes.CrmCatalogs(self.client)
        self.reference_data = TtlCache(self._read_catalog)

    async def catalog(self) -> Catalog:
        """The site's order statuses and the four Order Assets catalogs (document 002)."""
        return await self.reference_data.get()

    async def _read_catalog(self) -> Catalog:
        statuses, codes, vouchers, options, taxes = await asyncio.gather(
            self.status_catalog(),
            self.client.discount_codes(),
            self.client.gift_vouchers(),
            self.client.shipping_options(),
            self.client.tax_codes(),
        )
        return Catalog(
            statuses=status_entries(statuses),
            discount_codes=tuple(
                CatalogEntry(id=str(c.Id), code=c.Code, name=f"{c.Code} ({c.Type} {c.Value})")
                for c in codes.Items
            ),
            gift_vouchers=tuple(
                CatalogEntry(id=str(v.Id), name=f"{v.Name} ({v.Amount})") for v in vouchers.Items
            ),
            shipping_options=tuple(
                CatalogEntry(id=str(o.Id), name=f"{o.Name} ({o.Cost})") for o in options.Items
            ),
            tax_codes=tuple(
                CatalogEntry(id=str(t.Id), code=t.Code, name=f"{t.Code} ({t.Rate} %)")
                for t in taxes.Items
            ),
        )

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        """One offset page of the orders matching the query's ``Where`` (``where``): deleted
        orders, statuses, payment statuses and ``updated_since`` are filtered by the CRM;
        ``search`` is left to the gateway.

        The list is sorted by ``ModifiedDateTime`` descending, so once an order older than
        ``updated_since`` shows up every later position is older too: the listing ends there.
        """
        where = await self.where(query)
        if where is None:  # no CRM value maps to what was asked for
            return OrderPage(orders=[], exhausted=True, total=0)
        page = await self.client.list_orders(
            offset=offset, limit=max(1, min(limit, self.settings.page_size)), where=where
        )
        orders = [to_order(item) for item in page.Items]
        exhausted = offset + len(orders) >= page.TotalItemsCount
        since = query.updated_since
        if since is not None and any(
            item.ModifiedDateTime is not None and order.updated_at < since
            for item, order in zip(page.Items, orders, strict=True)
        ):
            exhausted = True
        return OrderPage(orders=orders, exhausted=exhausted, total=page.TotalItemsCount)

    async def where(self, query: OrderQuery) -> dict[str, object] | None:
        """The CRM ``Where`` of a listing; None when no CRM order can match it."""
        if query.offline:  # CRM orders are never CloudSuite offline orders
            return None
        where: dict[str, object] = {}
        if not query.include_deleted:
            where["IsDeleted"] = False
        if query.statuses is not None:
            ids = await self.catalogs.status_ids(STATUS_NAME[s] for s in query.statuses)
            if not ids:
                return None
            where["StatusId"] = {"$in": ids}
        if query.payment_statuses is not None:
            states = sorted(s for s, p in PAYMENT_STATUS.items() if p in query.payment_statuses)
            if not states:
                return None
            where["PaymentState"] = {"$in": states}
        if query.updated_since is not None:
            since = query.updated_since.astimezone(UTC).isoformat().replace("+00:00", "Z")
            where["ModifiedDateTime"] = {"$gte": since}
        return where

    async def get_orders(self, upstream_ids: Sequence[str]) -> list[Order | None]:
        async def read(upstream_id: str) -> Order | None:
            found = await self.snapshot(upstream_id)
            return None if found is None else found.order

        return await gather_bounded(upstream_ids, read, concurrency=self.settings.read_concurrency)

    async def snapshot(self, upstream_id: str) -> Snapshot | None:
        number = numeric_id(upstream_id)
        if number is None:
            return None  # CRM order ids are integers: no other id can exist
        order = await self.client.get_order(number)
        return None if order is None else Snapshot(to_order(order), order)

    async def find_by_reference(
        self, reference: str, *, webshop: str | None = None
    ) -> Order | None:
        """The order whose ``OrderName`` is ``reference``.

        The CRM cannot filter its list by name, so this reads it newest first, a page at a
        time, until the name shows up (a reference someone asks about is usually recent).
        """
        offset = 0
        while True:
            page = await self.client.list_orders(offset=offset, limit=self.settings.page_size)
            for item in page.Items:
                if item.OrderName == reference:
                    return to_order(item)
            offset += len(page.Items)
            if not page.Items or offset >= page.TotalItemsCount:
                return None

    async def status_catalog(self) -> list[UpstreamStatus]:
        statuses = await self.client.order_statuses()
        return [
            UpstreamStatus(id=str(entry.Id), name=entry.Name, status=STATUS_BY_NAME.get(entry.Name))
            for entry in statuses.Items
        ]

    async def check_health(self) -> bool:
        try:
            await self.client.order_statuses()
        except BackendError:
            return False
        return True

    async def execute(
        self,
        upstream_id: str,
        command: OrderCommand,
        *,
        idempotency_key: str,
        known: Snapshot | None = None,
    ) -> WriteResult:
        """Carry out ``command`` with the CRM's own write call(s) (crm.md, "Writes (adapter)").

        Every body is built (and checked against the catalogs) before anything is sent, without
        reading the order (so ``known`` is not needed). The CRM answers each write with the full
        order after it (document 002, "Data / Response"), so the last write's answer is the
        read-back: no extra GET.
        """
        order_id = _order_id(upstream_id)
        key = idempotency_key
        client, catalogs = self.client, self.catalogs
        answer: wire.Order | None
        match command:
            case UpdateStatus(status=status) if status in self.settable_statuses:
                body = await catalogs.status(STATUS_NAME[status])
                answer = await client.set_status(order_id, body, idempotency_key=key)
            case Dispatch():
                answer = await self._dispatch(order_id, command, key)
            case SetDiscountCode():
                discount = await catalogs.discount_code(command)
                answer = await client.set_discount_code(order_id, discount, idempotency_key=key)
            case SetGiftVoucher():
                voucher = await catalogs.gift_voucher(command)
                answer = await client.set_gift_voucher(order_id, voucher, idempotency_key=key)
            case SetShippingOption():
                option = await catalogs.shipping_option(command)
                answer = await client.set_shipping_option(order_id, option, idempotency_key=key)
            case SetTaxCode():
                tax = await catalogs.tax_code(command)
                answer = await client.set_tax_code(order_id, tax, idempotency_key=key)
            case _:
                raise UnsupportedByBackendError(
                    f"The CRM cannot carry out {type(command).__name__}({command.describe()})"
                )
        if answer is None:
            raise _unknown_order(upstream_id)
        after = Snapshot(to_order(answer), answer)
        shipment = command.shipment_in(after.order) if isinstance(command, Dispatch) else None
        return WriteResult(order=after.order, shipment=shipment, after=after)

    async def _dispatch(self, order_id: int, command: Dispatch, key: str) -> wire.Order | None:
        """The shipment update, then the status update to Shipped: the CRM's shipment update
        leaves the status alone (docs/upstreams/crm.md). Each step has its own idempotency key
        (an upstream that honours one refuses a key reused for a different request)."""
        shipment = writes.shipment(command)
        shipped = await self.catalogs.status(STATUS_NAME[OrderStatus.DISPATCHED])
        recorded = await self.client.set_shipment(
            order_id, shipment, idempotency_key=f"{key}:shipment"
        )
        if recorded is None:
            return None
        return await self.client.set_status(order_id, shipped, idempotency_key=f"{key}:status")

    async def aclose(self) -> None:
        await self.client.aclose()


CENT = Decimal("0.01")


def to_order(order: wire.Order) -> Order:
    """Map one CRM order object onto the domain; garbage raises ``UpstreamMalformedError``."""
    status_name = order.StatusShort.Name if order.StatusShort is not None else ""
    status = STATUS_BY_NAME.get(status_name)
    if status is None:
        raise _malformed(order, f"unknown status {status_name!r} (StatusId {order.StatusId})")
    payment_status = PAYMENT_STATUS.get(order.PaymentState)
    if payment_status is None:
        raise _malformed(order, f"unknown PaymentState {order.PaymentState!r}")
    currency = order.Currency

    def money(amount: Decimal) -> Money:
        # The CRM writes amounts as bare JSON numbers (4.5 for 4.50): show them in cents.
        return Money(amount.quantize(CENT) if amount == amount.quantize(CENT) else amount, currency)

    discounts: list[Discount] = []
    if order.Discount is not None:
        discounts.append(
            Discount(
                kind=DiscountKind.CODE, code=order.Discount.Code, amount=money(order.Discount.Cost)
            )
        )
    if order.GiftVoucher is not None:
        voucher = order.GiftVoucher
        discounts.append(
            Discount(kind=DiscountKind.GIFT_VOUCHER, name=voucher.Name, amount=money(voucher.Cost))
        )
    gross = sum((line.TotalPrice for line in order.OrderLines), Decimal("0"))
    discount = sum((d.amount.amount for d in discounts if d.amount is not None), Decimal("0"))
    shipping = order.ShippingInfo.Cost if order.ShippingInfo is not None else Decimal("0")
    # The CRM carries a tax rate but no tax amount: the tax is what TotalCost charges beyond
    # the items, the discounts and the shipping (docs/upstreams/crm.md, "Totals").
    tax = order.TotalCost - (gross - discount + shipping)
    created_at = _timestamp(order, order.CreatedDateTime)
    return Order(
        source=OrderSource.CRM,
        upstream_id=str(order.Id),
        status=status,
        upstream_status=status_name,
        payment_status=payment_status,
        upstream_payment_status=order.PaymentState,
        deleted=order.IsDeleted,
        currency=currency,
        totals=OrderTotals(
            gross=money(gross),
            discount=money(discount),
            shipping=money(shipping),
            tax=money(tax),
            total=money(order.TotalCost),
            paid=None if order.AmountPaid is None else money(order.AmountPaid),
            pending=None if order.AmountPending is None else money(order.AmountPending),
        ),
        created_at=created_at,
        updated_at=(
            _timestamp(order, order.ModifiedDateTime) if order.ModifiedDateTime else created_at
        ),
        reference=order.OrderName,
        number=str(order.InvoiceNumber) if order.InvoiceNumber else None,
        customer=_customer(order),
        shipping_address=(
            Address(
                street=info.Address,
                city=info.City,
                state=info.State,
                postal_code=info.Zipcode,
                country=info.Country,
            )
            if (info := order.ShippingInfo) is not None
            else None
        ),
        lines=tuple(
            OrderLine(
                id=str(line.Id),
                quantity=line.Quantity,
                sku=str(line.ProductId) if line.ProductId else None,
                product_name=line.ProductName,
                unit_price=money(line.UnitPrice),
                total=money(line.TotalPrice),
                tax_rate=None if line.TaxRate is None else float(line.TaxRate),
            )
            for line in order.OrderLines
        ),
        discounts=tuple(discounts),
        # The CRM keeps one consignment per order (AWBNumber + TrackingURL).
        shipments=(
            (
                Shipment(
                    id=str(order.Id),
                    consignment_number=order.AWBNumber or None,
                    tracking_url=order.TrackingURL or None,
                ),
            )
            if order.AWBNumber or order.TrackingURL
            else ()
        ),
        payments=tuple(
            Payment(
                id=str(payment.Id),
                amount=money(payment.Amount),
                status=payment.Status,
                method=payment.PaymentType,
                created_at=(
                    _timestamp(order, payment.CreatedDateTime) if payment.CreatedDateTime else None
                ),
            )
            for payment in order.Payments
        ),
        parent_upstream_id=str(order.MainOrderId) if order.MainOrderId else None,
    )


def _order_id(upstream_id: str) -> int:
    """CRM order ids are integers: any other id is unknown without asking."""
    number = numeric_id(upstream_id)
    if number is None:
        raise _unknown_order(upstream_id)
    return number


def _unknown_order(upstream_id: str) -> NotFoundError:
    return NotFoundError(f"No CRM order has the id {upstream_id!r}", field=["input", "orderId"])


def _customer(order: wire.Order) -> Party | None:
    member = order.Member
    if member is None:
        return Party(id=str(order.MemberId)) if order.MemberId else None
    full_name = " ".join(part for part in (member.FirstName, member.LastName) if part)
    return Party(id=str(member.Id), name=full_name or None, email=member.Email)


def _timestamp(order: wire.Order, value: str) -> datetime:
    """An ISO 8601 timestamp; one without an offset is UTC (the document prints ``Z``)."""
    return utc_timestamp(OrderSource.CRM, value, what=f"order {order.Id}")


def _malformed(order: wire.Order, problem: str) -> UpstreamMalformedError:
    return UpstreamMalformedError(OrderSource.CRM, f"order {order.Id}: {problem}")
