"""The outbox: upstream writes recorded with the event they cause, then delivered in order.

An entry is written in the same transaction as its history event, so a change is never
lost between the two. Delivery claims an entry with a lease, and only the oldest pending
entry of an order can be claimed: per order, writes reach the upstream in the order they
were made, whichever replica or worker delivers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, update
from sqlalchemy import select as sql_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.commands import COMMAND, Dispatch, MarkShipped, OrderCommand, UpdateStatus
from domain.models import OrderSource, OrderStatus, Shipment
from feed.index import ChangeOrigin, Observed, observe_in
from store.clock import utcnow
from store.engine import Store
from store.orders import Seen, record_shipment, remember, touch_order
from store.tables import ChangeEventRecord, OrderEventRecord, OutboxEntry

PENDING, DELIVERED, REJECTED = "pending", "delivered", "rejected"


class LeaseLost(Exception):
    """The entry's lease expired and another deliverer holds it now; its record stands."""


# Event outcomes shown in an order's history.
QUEUED = "queued"


@dataclass(frozen=True, slots=True)
class Change:
    """An outbox entry with its command decoded."""

    entry: OutboxEntry
    command: OrderCommand

    @property
    def source(self) -> OrderSource:
        return OrderSource(self.entry.source)


def decode(entry: OutboxEntry) -> Change:
    return Change(entry, COMMAND.validate_json(entry.command))


async def enqueue(
    store: Store,
    *,
    order_id: str,
    source: OrderSource,
    upstream_id: str,
    reference: str | None,
    command: OrderCommand,
    idempotency_key: str,
    actor: str | None,
    owner: str,
    lease_s: float,
    recheck: Callable[[OrderStatus | None], None] | None = None,
) -> Change:
    """Record a write and the history event it causes, in one transaction. The entry starts
    leased to ``owner``, who delivers it next: no worker takes it from under them.

    ``recheck`` sees the status the order's pending changes will leave it in, read inside
    the transaction after every other replica's queueing for this order (a PostgreSQL
    advisory lock per order): raising there queues nothing.
    """
    now = utcnow()
    entry = OutboxEntry(
        lease_owner=owner,
        lease_until=now + timedelta(seconds=lease_s),
        order_id=order_id,
        source=source.value,
        upstream_id=upstream_id,
        command=command.model_dump_json(),
        idempotency_key=idempotency_key,
        next_attempt_at=now,
        actor=actor,
        created_at=now,
    )
    async with store.session() as session:
        if recheck is not None:
            if session.get_bind().dialect.name == "postgresql":
                lock = func.pg_advisory_xact_lock(func.hashtextextended(order_id, 0))
                await session.exec(select(lock))
            recheck(_projected(await _pending(session, order_id)))
        session.add(entry)
        await session.flush()
        session.add(
            OrderEventRecord(
                order_id=order_id,
                at=now,
                kind=command.event_kind,
                detail=command.describe(),
                actor=actor,
                outcome=QUEUED,
                change_id=entry.id,
            )
        )
        await touch_order(session, order_id, source, upstream_id, reference=reference)
        await session.commit()
    return Change(entry, command)


async def claim(store: Store, entry_id: int, *, owner: str, lease_s: float) -> Change | None:
    """Take the lease of an entry if it is pending, free (or already ``owner``'s), and the
    oldest of its order. Taking over a lease that was never given back (a crash mid-send)
    marks the outcome of that attempt unknown."""
    now = utcnow()
    earlier = aliased(OutboxEntry)
    statement = (
        update(OutboxEntry)
        .where(
            and_(
                col(OutboxEntry.id) == entry_id,
                col(OutboxEntry.status) == PENDING,
                (col(OutboxEntry.lease_until).is_(None))
                | (col(OutboxEntry.lease_until) < now)
                | (col(OutboxEntry.lease_owner) == owner),
                ~exists().where(
                    and_(
                        col(earlier.order_id) == col(OutboxEntry.order_id),
                        col(earlier.id) < col(OutboxEntry.id),
                        col(earlier.status) == PENDING,
                    )
                ),
            )
        )
        .values(
            lease_owner=owner,
            lease_until=now + timedelta(seconds=lease_s),
            outcome_unknown=case(
                (
                    col(OutboxEntry.lease_owner).is_not(None)
                    & (col(OutboxEntry.lease_owner) != owner),
                    True,
                ),
                else_=col(OutboxEntry.outcome_unknown),
            ),
        )
    )
    async with store.session() as session:
        result = await session.exec(statement)
        await session.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        entry = await session.get(OutboxEntry, entry_id)
    return None if entry is None else decode(entry)


async def pending_for_order(store: Store, order_id: str) -> list[OutboxEntry]:
    async with store.session() as session:
        return await _pending(session, order_id)


async def _pending(session: AsyncSession, order_id: str) -> list[OutboxEntry]:
    rows = await session.exec(
        select(OutboxEntry)
        .where(col(OutboxEntry.order_id) == order_id, col(OutboxEntry.status) == PENDING)
        .order_by(col(OutboxEntry.id))
    )
    return list(rows)


async def backlog(store: Store) -> dict[OrderSource, tuple[int, datetime]]:
    """Per source with changes waiting: how many, and when the oldest was queued."""
    async with store.session() as session:
        rows = await session.exec(
            select(col(OutboxEntry.source), func.count(), func.min(col(OutboxEntry.created_at)))
            .where(col(OutboxEntry.status) == PENDING)
            .group_by(col(OutboxEntry.source))
        )
        return {OrderSource(source): (count, oldest) for source, count, oldest in rows}


async def due_heads(store: Store, *, limit: int) -> list[OutboxEntry]:
    """The oldest pending entry of each order whose next attempt is due, oldest first."""
    now = utcnow()
    heads = (
        sql_select(func.min(OutboxEntry.id))
        .where(col(OutboxEntry.status) == PENDING)
        .group_by(col(OutboxEntry.order_id))
    )
    async with store.session() as session:
        rows = await session.exec(
            select(OutboxEntry)
            .where(
                col(OutboxEntry.id).in_(heads),
                col(OutboxEntry.next_attempt_at) <= now,
                (col(OutboxEntry.lease_until).is_(None)) | (col(OutboxEntry.lease_until) < now),
            )
            .order_by(col(OutboxEntry.id))
            .limit(limit)
        )
        return list(rows)


async def make_due(store: Store, source: OrderSource) -> int:
    """Every pending entry of ``source`` is due now (its upstream just answered again)."""
    async with store.session() as session:
        result = await session.exec(
            update(OutboxEntry)
            .where(
                col(OutboxEntry.source) == source.value,
                col(OutboxEntry.status) == PENDING,
                col(OutboxEntry.next_attempt_at) > utcnow(),
            )
            .values(next_attempt_at=utcnow())
        )
        await session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]


async def projected_status(store: Store, order_id: str) -> OrderStatus | None:
    """The status the order will have once its pending writes are delivered, if they set one."""
    return _projected(await pending_for_order(store, order_id))


def _projected(pending: Sequence[OutboxEntry]) -> OrderStatus | None:
    status: OrderStatus | None = None
    for entry in pending:
        command = COMMAND.validate_json(entry.command)
        if isinstance(command, UpdateStatus):
            status = command.status
        elif isinstance(command, Dispatch | MarkShipped):
            status = OrderStatus.DISPATCHED
    return status


async def _finish(
    session: AsyncSession,
    change: Change,
    *,
    values: dict[str, object],
    outcome: str,
    detail: str | None = None,
    attempted: bool = True,
) -> None:
    """Record how an attempt ended: one more attempt (unless nothing was sent), the lease
    given back, and ``values``; only if the lease is still the claimer's (a deliverer whose
    lease ran out must not overwrite what the one who took over recorded)."""
    result = await session.exec(
        update(OutboxEntry)
        .where(
            col(OutboxEntry.id) == change.entry.id,
            col(OutboxEntry.lease_owner) == change.entry.lease_owner,
        )
        .values(
            attempts=change.entry.attempts + int(attempted),
            lease_owner=None,
            lease_until=None,
            **values,
        )
    )
    if result.rowcount != 1:
        raise LeaseLost(f"change {change.entry.id}: the lease passed to another deliverer")
    event_values: dict[str, object] = {"outcome": outcome}
    if detail is not None:
        event_values["detail"] = detail
    await session.exec(
        update(OrderEventRecord)
        .where(col(OrderEventRecord.change_id) == change.entry.id)
        .values(**event_values)
    )


async def mark_delivered(
    store: Store,
    change: Change,
    *,
    seen: Sequence[Seen],
    shipment: Shipment | None,
    observed: Sequence[Observed] = (),
) -> list[ChangeEventRecord]:
    """Delivered: the entry, its event, what the upstream showed, and the change feed's
    events of it (origin ``GATEWAY``), in one transaction; the feed's events."""
    async with store.session() as session:
        await _finish(
            session,
            change,
            values={"status": DELIVERED, "delivered_at": utcnow(), "last_error": None},
            outcome=DELIVERED,
        )
        await remember(session, seen)
        if shipment is not None:
            await record_shipment(session, change.entry.order_id, shipment)
        events = await observe_in(session, observed, ChangeOrigin.GATEWAY)
        await session.commit()
    return events


async def mark_rejected(
    store: Store, change: Change, error: str, *, code: str = "UPSTREAM_REJECTED"
) -> None:
    """The change will never be delivered: ``error`` says why, ``code`` is its error code."""
    async with store.session() as session:
        await _finish(
            session,
            change,
            values={"status": REJECTED, "last_error": error, "rejection_code": code},
            outcome=REJECTED,
            detail=f"{change.command.describe()} — rejected: {error}",
        )
        await session.commit()


async def mark_retry(
    store: Store,
    change: Change,
    error: str,
    *,
    retry_at: datetime,
    outcome_unknown: bool,
    attempted: bool = True,
) -> None:
    """Still queued, due again at ``retry_at``; ``attempted=False``: nothing was sent (the
    backend's breaker is open), so the attempt does not count."""
    async with store.session() as session:
        await _finish(
            session,
            change,
            values={
                "next_attempt_at": retry_at,
                "last_error": error,
                "outcome_unknown": outcome_unknown,
            },
            outcome=QUEUED,
            attempted=attempted,
        )
        await session.commit()


async def entry_by_key(store: Store, idempotency_key: str) -> OutboxEntry | None:
    """The change queued under this idempotency key, if one was."""
    async with store.session() as session:
        rows = await session.exec(
            select(OutboxEntry).where(col(OutboxEntry.idempotency_key) == idempotency_key)
        )
        return rows.first()


async def entries(store: Store, ids: Sequence[int]) -> list[OutboxEntry]:
    async with store.session() as session:
        rows = await session.exec(
            select(OutboxEntry)
            .where(col(OutboxEntry.id).in_(list(ids)))
            .order_by(col(OutboxEntry.id))
        )
        return list(rows)
