"""Merged paging across backends, on in-memory listings with known shapes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backends.base import OrderPage, OrderQuery
from domain.errors import UpstreamUnavailableError, ValidationError
from domain.models import (
    Money,
    Order,
    OrderSource,
    OrderStatus,
    OrderTotals,
    PaymentStatus,
    UpstreamStatus,
)
from resolvers.pagination import page_orders

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def make_order(source: OrderSource, n: int, *, minutes: int, status=OrderStatus.CONFIRMED) -> Order:
    zero = Money.zero("EUR")
    return Order(
        source=source,
        upstream_id=str(n),
        reference=f"{source.value[:2]}-{n}",
        status=status,
        upstream_status=status.value.lower(),
        payment_status=PaymentStatus.NONE,
        currency="EUR",
        totals=OrderTotals(
            gross=zero, discount=zero, shipping=zero, tax=zero, total=Money(Decimal(n), "EUR")
        ),
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
    )


class ListBackend:
    """An in-memory listing behind the ``OrderBackend`` protocol, paged like an upstream."""

    name = "in-memory"
    capabilities = frozenset()

    def __init__(self, source: OrderSource, orders: list[Order], *, upstream_page: int = 7) -> None:
        self.source = source
        self.orders = sorted(orders, key=lambda o: o.updated_at, reverse=True)
        self.upstream_page = upstream_page
        self.calls = 0
        self.failing = False

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        self.calls += 1
        if self.failing:
            raise UpstreamUnavailableError(self.source, "down")
        # Like a page-based upstream: never more than one upstream page per call.
        end = min(offset + limit, (offset // self.upstream_page + 1) * self.upstream_page)
        chunk = self.orders[offset:end]
        return OrderPage(orders=chunk, exhausted=end >= len(self.orders))

    async def get_orders(self, upstream_ids: Sequence[str]) -> list[Order | None]:
        by_id = {o.upstream_id: o for o in self.orders}
        return [by_id.get(i) for i in upstream_ids]

    async def find_by_reference(self, reference: str) -> Order | None:
        return None

    async def status_catalog(self) -> list[UpstreamStatus]:
        return []

    async def check_health(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def three_backends() -> dict[OrderSource, ListBackend]:
    # Interleaved timestamps, ties across sources, and very different sizes.
    return {
        OrderSource.WEBSHOP: ListBackend(
            OrderSource.WEBSHOP,
            [make_order(OrderSource.WEBSHOP, n, minutes=n * 3) for n in range(40)],
        ),
        OrderSource.CRM: ListBackend(
            OrderSource.CRM, [make_order(OrderSource.CRM, n, minutes=n * 5) for n in range(25)]
        ),
        OrderSource.B2B: ListBackend(
            OrderSource.B2B, [make_order(OrderSource.B2B, n, minutes=200 + n) for n in range(3)]
        ),
    }


async def walk(backends, query: OrderQuery, first: int) -> list[Order]:
    seen: list[Order] = []
    after = None
    while True:
        page = await page_orders(
            backends, query, first=first, after=after, page_size={s: 10 for s in backends}
        )
        seen.extend(edge.order for edge in page.edges)
        if not page.has_next_page:
            return seen
        assert page.edges, "a page that says more follows must not be empty"
        after = page.edges[-1].cursor


@pytest.mark.parametrize("first", [1, 4, 9, 25, 100])
async def test_paging_visits_every_order_once_newest_first(first: int) -> None:
    backends = three_backends()
    seen = await walk(backends, OrderQuery(), first)
    keys = [(o.source, o.upstream_id) for o in seen]
    assert len(keys) == len(set(keys)) == 40 + 25 + 3
    stamps = [o.updated_at for o in seen]
    assert stamps == sorted(stamps, reverse=True)


async def test_filters_the_upstream_cannot_apply_are_applied_by_the_gateway() -> None:
    backends = three_backends()
    backends[OrderSource.WEBSHOP].orders = [
        make_order(
            OrderSource.WEBSHOP,
            n,
            minutes=n,
            status=OrderStatus.CANCELLED if n % 4 else OrderStatus.PROCESSING,
        )
        for n in range(40)
    ][::-1]
    query = OrderQuery(statuses=frozenset({OrderStatus.PROCESSING}))
    seen = await walk(backends, query, 3)
    assert {o.status for o in seen} == {OrderStatus.PROCESSING}
    assert len(seen) == 10


async def test_a_failing_backend_is_reported_and_keeps_its_position() -> None:
    backends = three_backends()
    backends[OrderSource.CRM].failing = True
    page = await page_orders(
        backends, OrderQuery(), first=10, after=None, page_size={s: 10 for s in backends}
    )
    assert [e.source for e in page.unavailable] == [OrderSource.CRM]
    assert {edge.order.source for edge in page.edges} <= {OrderSource.WEBSHOP, OrderSource.B2B}
    assert page.has_next_page

    # Once it is back, paging on from that cursor still yields every CRM order.
    backends[OrderSource.CRM].failing = False
    after = page.edges[-1].cursor
    rest: list[Order] = []
    while after is not None:
        next_page = await page_orders(
            backends, OrderQuery(), first=10, after=after, page_size={s: 10 for s in backends}
        )
        rest.extend(edge.order for edge in next_page.edges)
        after = next_page.edges[-1].cursor if next_page.has_next_page else None
    crm = [o for o in rest if o.source is OrderSource.CRM]
    assert len(crm) == 25


async def test_a_page_reads_each_backend_once_when_its_first_read_suffices() -> None:
    backends = three_backends()
    await page_orders(
        backends, OrderQuery(), first=5, after=None, page_size={s: 10 for s in backends}
    )
    assert [b.calls for b in backends.values()] == [1, 1, 1]


async def test_a_cursor_does_not_continue_a_listing_with_other_filters() -> None:
    backends = three_backends()
    page = await page_orders(
        backends, OrderQuery(), first=5, after=None, page_size={s: 10 for s in backends}
    )
    with pytest.raises(ValidationError, match="other filters"):
        await page_orders(
            backends,
            OrderQuery(search="x"),
            first=5,
            after=page.edges[-1].cursor,
            page_size={s: 10 for s in backends},
        )


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "eyJ2IjoxfQ==", "W10="])
async def test_garbage_cursors_are_validation_errors(cursor: str) -> None:
    with pytest.raises(ValidationError):
        await page_orders(
            three_backends(),
            OrderQuery(),
            first=5,
            after=cursor,
            page_size={s: 10 for s in OrderSource},
        )
