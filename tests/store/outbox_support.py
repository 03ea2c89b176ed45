"""Building outbox states for the store tests: queue changes, then set their rows directly.

Time is controlled through the rows (``next_attempt_at``, ``lease_until``), never by sleeping.
Row fields are set last row first: on PostgreSQL an updated row moves behind the others in
the table, so a query that forgot its ``ORDER BY`` comes back out of queue order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from domain.commands import OrderCommand
from domain.models import (
    Money,
    Order,
    OrderSource,
    OrderStatus,
    OrderTotals,
    PaymentStatus,
)
from store import outbox
from store.clock import as_utc, utcnow
from store.engine import Store
from store.tables import OrderEventRecord, OrderRecord, OutboxEntry, ShipmentRecord


async def queue(
    store: Store,
    order: str,
    command: OrderCommand,
    n: int,
    *,
    source: OrderSource = OrderSource.CRM,
    owner: str = "enqueuer",
    lease_s: float = 0.0,
    reference: str | None = None,
    actor: str | None = "tester",
    recheck: Callable[[OrderStatus | None], None] | None = None,
) -> outbox.Change:
    """A queued change whose enqueuer gave it up at once (``lease_s=0``) unless told otherwise."""
    return await outbox.enqueue(
        store,
        order_id=order,
        source=source,
        upstream_id=order.removeprefix("order-"),
        reference=reference,
        command=command,
        idempotency_key=f"{order}-{n}",
        actor=actor,
        owner=owner,
        lease_s=lease_s,
        recheck=recheck,
    )


async def set_entry(store: Store, entry_id: int | None, **values: Any) -> None:
    """Put an outbox row in a state directly (its status, lease, next attempt...)."""
    async with store.session() as session:
        await session.exec(
            update(OutboxEntry).where(col(OutboxEntry.id) == entry_id).values(**values)
        )
        await session.commit()


async def entry(store: Store, entry_id: int | None) -> OutboxEntry:
    assert entry_id is not None
    [row] = await outbox.entries(store, [entry_id])
    return row


async def all_entries(store: Store) -> list[OutboxEntry]:
    async with store.session() as session:
        return list(await session.exec(select(OutboxEntry).order_by(col(OutboxEntry.id))))


async def all_events(store: Store) -> list[OrderEventRecord]:
    async with store.session() as session:
        rows = await session.exec(select(OrderEventRecord).order_by(col(OrderEventRecord.id)))
        return list(rows)


async def event_of(store: Store, change_id: int | None) -> OrderEventRecord:
    [event] = [e for e in await all_events(store) if e.change_id == change_id]
    return event


async def order_record(store: Store, order_id: str) -> OrderRecord | None:
    async with store.session() as session:
        return await session.get(OrderRecord, order_id)


async def shipments(store: Store) -> list[ShipmentRecord]:
    async with store.session() as session:
        return list(await session.exec(select(ShipmentRecord).order_by(col(ShipmentRecord.id))))


def at(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands them back without their zone)."""
    return None if moment is None else as_utc(moment)


def within(moment: datetime | None, before: datetime, after: datetime) -> bool:
    """Whether a stored time was taken between two readings of the clock."""
    return moment is not None and before <= as_utc(moment) <= after


# Relative times far from any boundary: no test depends on how fast the machine is.
LATER = timedelta(hours=1)
EARLIER = -timedelta(hours=1)


def from_now(offset: timedelta) -> datetime:
    return utcnow() + offset


def an_order(
    source: OrderSource, upstream_id: str, status: OrderStatus, *, reference: str | None = None
) -> Order:
    """An order as an upstream shows it; only its identity, status and reference matter here."""
    zero = Money(Decimal("0"), "EUR")
    now = utcnow()
    return Order(
        source=source,
        upstream_id=upstream_id,
        status=status,
        upstream_status=status.value.lower(),
        payment_status=PaymentStatus.NONE,
        currency="EUR",
        totals=OrderTotals(gross=zero, discount=zero, shipping=zero, tax=zero, total=zero),
        created_at=now,
        updated_at=now,
        reference=reference,
    )


@dataclass(frozen=True)
class Row:
    """One change in a prepared outbox: its order and backend, and the state it is put in."""

    label: str
    order: str
    command: OrderCommand
    source: OrderSource = OrderSource.CRM
    status: str = outbox.PENDING
    next_attempt: timedelta = EARLIER
    lease: str = "free"  # free, live (another deliverer's), expired (another's, run out)
    values: dict[str, Any] = field(default_factory=dict)


LEASE_FIELDS: dict[str, tuple[str | None, timedelta | None]] = {
    "free": (None, None),
    "live": ("other", LATER),
    "expired": ("other", EARLIER),
}


async def prepare(store: Store, rows: list[Row]) -> dict[str, int]:
    """Queue the rows in order, then put each in its state (last row first); their ids."""
    ids: dict[str, int] = {}
    for n, row in enumerate(rows):
        change = await queue(store, row.order, row.command, n, source=row.source)
        assert change.entry.id is not None
        ids[row.label] = change.entry.id
    now = utcnow()
    for row in reversed(rows):
        owner, lease = LEASE_FIELDS[row.lease]
        await set_entry(
            store,
            ids[row.label],
            status=row.status,
            next_attempt_at=now + row.next_attempt,
            lease_owner=owner,
            lease_until=None if lease is None else now + lease,
            **row.values,
        )
    return ids
