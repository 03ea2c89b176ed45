"""Resolvers of the order queries: ``node``, ``order``, ``orderByReference``, ``orders``
(read from the upstreams, or from the order index: ``resolvers.indexed``)."""

from __future__ import annotations

from datetime import UTC, datetime

from backends.base import OrderQuery
from domain.access import Scope
from domain.errors import NotFoundError, ValidationError
from domain.ids import decode_order_id
from domain.models import Order, OrderSource, OrderStatus, PaymentStatus
from gateway.context import Context
from resolvers.indexed import answers_from_index, page_index
from resolvers.pagination import OrdersPage, page_orders


async def order_by_id(context: Context, order_id: str) -> Order:
    """The order with this global id; ``NotFoundError`` for malformed or unknown ids."""
    gid = decode_order_id(order_id)
    # A source that is disabled, or hidden from this caller, has no orders to show.
    order = None
    if gid.source in context.backends:
        order = await context.loaders.order(gid.source, gid.upstream_id)
    if order is None:
        raise NotFoundError(f"No order has the id {order_id!r}", field=["id"])
    return order


async def order_by_reference(
    context: Context, source: OrderSource, reference: str, webshop: str | None = None
) -> Order:
    if webshop is not None and not webshop.isdigit():
        raise ValidationError('A webshop is its number, e.g. "1"', field=["webshop"])
    if webshop is not None and source is not OrderSource.WEBSHOP:
        raise ValidationError(
            f"Only WEBSHOP orders belong to a webshop; {source.value} takes no `webshop`",
            field=["webshop"],
        )
    backend = context.backends.get(source)
    # A source that is disabled, or hidden from this caller, has no orders to find.
    order = None if backend is None else await backend.find_by_reference(reference, webshop=webshop)
    if order is None:
        raise NotFoundError(
            f"{source.value} has no order with the reference {reference!r}", field=["reference"]
        )
    context.loaders.prime([order])
    return order


async def list_orders(
    context: Context,
    *,
    sources: list[OrderSource] | None,
    statuses: list[OrderStatus] | None,
    payment_statuses: list[PaymentStatus] | None,
    updated_since: datetime | None,
    search: str | None,
    include_deleted: bool = False,
    offline: bool | None = None,
    first: int,
    after: str | None,
) -> OrdersPage:
    limit = context.settings.max_page_size
    if not 0 <= first <= limit:
        raise ValidationError(f"`first` must be between 0 and {limit}", field=["first"])
    if updated_since is not None and updated_since.tzinfo is None:
        raise ValidationError("`updatedSince` needs a UTC offset", field=["filter", "updatedSince"])
    try:
        updated_since = None if updated_since is None else updated_since.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-01:00 is past the last UTC instant
        raise ValidationError(
            "`updatedSince` is out of range", field=["filter", "updatedSince"]
        ) from None
    query = OrderQuery(
        statuses=frozenset(statuses) if statuses is not None else None,
        payment_statuses=frozenset(payment_statuses) if payment_statuses is not None else None,
        updated_since=updated_since,
        search=search.strip() or None if search else None,
        search_customers=context.principal.may(Scope.CUSTOMERS_READ),
        include_deleted=include_deleted,
        offline=offline,
    )
    if query.statuses == frozenset() or query.payment_statuses == frozenset():
        return OrdersPage(edges=[], has_next_page=False, unavailable=[])  # matches nothing
    wanted = sources if sources is not None else list(OrderSource)
    backends = {s: b for s, b in context.backends.items() if s in wanted}
    if answers_from_index(context, query):
        page = await page_index(context, query, list(backends), first=first, after=after)
        context.loaders.prime([edge.order for edge in page.edges])
        return page
    page = await page_orders(
        backends,
        query,
        first=first,
        after=after,
        page_size={source: context.settings.backend(source).page_size for source in backends},
        cursors=context.cursors,
        max_reads=context.settings.max_scan_pages,
    )
    context.loaders.prime([edge.order for edge in page.edges])
    return page
