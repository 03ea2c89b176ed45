"""What an observation of orders changes in the index, recorded as events in the same
transaction.

An observation is a set of orders as an upstream just showed them (a poll's page, a webhook's
order, a write's answer) with its origin. Each order's content hash is compared with the
index: new orders are ``CREATED``, changed ones get one event of the kind the change is, and
unchanged ones only have their ``synced_at`` moved. The index row and the event commit
together, and a row is only replaced when it still holds what this observation compared it
with (another replica may have got there first), so a change is recorded exactly once,
whichever of its observers (webhook, poll, the gateway's own write) sees it first. An
observation older than what the index holds (an upstream ``updatedAt`` before the row's) is
no change: a slow poll must not undo a webhook's newer news.

Positions are the commit order of the events: on PostgreSQL, writers of events take one
transaction-scoped advisory lock, so no event becomes visible after a later position (a
reader resuming from a position could otherwise skip it); SQLite has one writer anyway.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from domain import ids
from domain.models import Order, OrderSource, OrderStatus
from feed import codec
from store.clock import as_utc, utcnow
from store.engine import Store
from store.orders import ORDER_SOURCE
from store.tables import ChangeEventRecord, IndexedOrder

INSERT_CHUNK = 500  # rows per INSERT: 500 x 17 columns stays under 32,766 bound values
INDEX_LOCK = 7_412_011  # PostgreSQL advisory lock: one writer of the index at a time


class ChangeKind(enum.StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    DISPATCHED = "DISPATCHED"
    SPLIT = "SPLIT"
    DELETED = "DELETED"


class ChangeOrigin(enum.StrEnum):
    WEBHOOK = "WEBHOOK"
    POLL = "POLL"
    GATEWAY = "GATEWAY"


@dataclass(frozen=True, slots=True)
class Observed:
    """One order as an upstream showed it; ``split``: the gateway just split it; ``read_at``:
    when the upstream answered (by default: when this was made, right after the answer)."""

    order: Order
    split: bool = False
    read_at: datetime = field(default_factory=utcnow)


def classify(
    before: Order | None, after: Order, changed: Sequence[str], *, split: bool
) -> ChangeKind:
    """The kind of change from ``before`` (``None``: not indexed yet) to ``after``."""
    if before is None:
        return ChangeKind.CREATED
    if after.deleted and not before.deleted:
        return ChangeKind.DELETED
    if split:
        return ChangeKind.SPLIT
    if after.status is OrderStatus.DISPATCHED and before.status is not OrderStatus.DISPATCHED:
        return ChangeKind.DISPATCHED
    if len(after.shipments) > len(before.shipments):
        return ChangeKind.DISPATCHED
    if "status" in changed:
        return ChangeKind.STATUS_CHANGED
    return ChangeKind.UPDATED


def _older(item: Observed, updated_at: datetime, read_at: datetime) -> bool:
    """Whether a look is older than the index's: an earlier upstream change date, or the
    same one (B2B's has whole seconds) read before the index's look was."""
    order_updated = item.order.updated_at
    return order_updated < updated_at or (order_updated == updated_at and item.read_at < read_at)


def _row(order: Order, data: dict[str, Any], digest: str, read_at: datetime) -> dict[str, Any]:
    customer = order.customer
    return {
        "id": ids.order_id(order.source, order.upstream_id),
        "source": order.source.value,
        "upstream_id": order.upstream_id,
        "order_source": ORDER_SOURCE[order.source],
        "reference": order.reference,
        "number": order.number,
        "status": order.status.value,
        "payment_status": order.payment_status.value,
        "total": str(order.totals.total.amount),
        "currency": order.currency[:3],
        "customer_email": customer.email.casefold() if customer and customer.email else None,
        "customer_name": customer.name if customer else None,
        "deleted": order.deleted,
        "upstream_updated_at": order.updated_at.astimezone(UTC),
        "content_hash": digest,
        "order_json": codec.encode(order),
        "synced_at": read_at,
    }


async def _lock_index(session: AsyncSession) -> None:
    """This transaction is the index's one writer until it ends, before it reads a row: an
    observer that read first and locked later could compare with a look another replaced
    meanwhile (and lose the newer one), or hold a row lock the lock's holder waits for.
    PostgreSQL: a transaction-scoped advisory lock; SQLite: the database's write lock, taken
    by a write that changes nothing (the driver starts the transaction at the first write)."""
    if session.get_bind().dialect.name == "postgresql":
        statement = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=INDEX_LOCK)
    else:
        statement = text("UPDATE sync_checkpoints SET source = source WHERE 1 = 0")
    await session.exec(statement)  # type: ignore[call-overload]


async def observe_in(
    session: AsyncSession,
    observed: Iterable[Observed],
    origin: ChangeOrigin,
    *,
    gone: Iterable[tuple[OrderSource, str]] = (),
) -> list[ChangeEventRecord]:
    """Apply an observation inside the caller's transaction (the caller commits); the events
    it made. ``gone``: orders the upstream no longer has (``DELETED``, with no order)."""
    now = utcnow()
    latest: dict[str, Observed] = {}
    for item in observed:  # one order seen twice in one observation: its newest look
        key = ids.order_id(item.order.source, item.order.upstream_id)
        earlier = latest.get(key)
        if earlier is None or item.order.updated_at >= earlier.order.updated_at or item.split:
            split = item.split or (earlier is not None and earlier.split)
            latest[key] = Observed(item.order, split, item.read_at)
    gone_ids = {ids.order_id(source, upstream_id): source for source, upstream_id in gone}
    keys = list(latest) + list(gone_ids)
    if not keys:
        return []
    await _lock_index(session)
    rows = await session.exec(
        select(
            IndexedOrder.id,
            IndexedOrder.content_hash,
            IndexedOrder.upstream_updated_at,
            IndexedOrder.synced_at,
        ).where(col(IndexedOrder.id).in_(keys))
    )
    held_rows = {row[0]: (row[1], as_utc(row[2]), as_utc(row[3])) for row in rows}
    unchanged: list[str] = []
    candidates: list[tuple[str, Observed, dict[str, Any], str]] = []
    for key, item in latest.items():
        data = codec.dump(item.order)
        digest = codec.content_hash(data)
        row = held_rows.get(key)
        if row is not None and (row[0] == digest or _older(item, row[1], row[2])):
            unchanged.append(key)
        else:
            candidates.append((key, item, data, digest))
    by_read: dict[datetime, list[str]] = defaultdict(list)
    for key in unchanged:
        by_read[latest[key].read_at].append(key)
    for read_at, same in by_read.items():  # one statement for a page (one read)
        await session.exec(
            update(IndexedOrder).where(col(IndexedOrder.id).in_(same)).values(synced_at=read_at)
        )
    gone_keys = [key for key in gone_ids if key in held_rows]
    if not candidates and not gone_keys:
        return []
    events = await _insert_new(
        session, [c for c in candidates if c[0] not in held_rows], origin, now
    )
    for key, item, data, digest in candidates:
        if key in held_rows:
            event = await _replace(session, key, item, data, digest, held_rows[key], origin, now)
            if event is not None:
                events.append(event)
    for key in gone_keys:
        result = await session.exec(
            delete(IndexedOrder).where(
                col(IndexedOrder.id) == key, col(IndexedOrder.content_hash) == held_rows[key][0]
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            events.append(_event(key, gone_ids[key], ChangeKind.DELETED, origin, [], None, now))
    session.add_all(events)
    await session.flush()
    return events


async def _insert_new(
    session: AsyncSession,
    new: list[tuple[str, Observed, dict[str, Any], str]],
    origin: ChangeOrigin,
    now: datetime,
) -> list[ChangeEventRecord]:
    """Orders not indexed yet, in one statement; a ``CREATED`` event for each row this
    statement inserted (one another writer inserted first is that writer's)."""
    if not new:
        return []
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [_row(item.order, data, digest, item.read_at) for _, item, data, digest in new]
    table = IndexedOrder.__table__  # type: ignore[attr-defined]
    inserted: set[str] = set()
    for start in range(0, len(rows), INSERT_CHUNK):  # within the databases' bind limits
        result = await session.exec(  # type: ignore[call-overload]
            insert(table)
            .values(rows[start : start + INSERT_CHUNK])
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        inserted.update(result.scalars())
    return [
        _event(row["id"], item.order.source, ChangeKind.CREATED, origin, [], row["order_json"], now)
        for row, (_, item, _, _) in zip(rows, new, strict=True)
        if row["id"] in inserted
    ]


async def _replace(
    session: AsyncSession,
    key: str,
    item: Observed,
    data: dict[str, Any],
    digest: str,
    held: tuple[str, datetime, datetime],
    origin: ChangeOrigin,
    now: datetime,
) -> ChangeEventRecord | None:
    """Replace one row if it still holds ``held``, and make its event; ``None`` when another
    writer changed the row first (its event is that writer's)."""
    stored = await session.exec(select(IndexedOrder.order_json).where(col(IndexedOrder.id) == key))
    before_json = stored.first()
    if before_json is None:
        return None
    before = codec.decode(before_json)
    changed = codec.changed_fields(codec.dump(before), data)
    values = _row(item.order, data, digest, item.read_at)
    result = await session.exec(
        update(IndexedOrder)
        .where(col(IndexedOrder.id) == key, col(IndexedOrder.content_hash) == held[0])
        .values(**values)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    kind = classify(before, item.order, changed, split=item.split)
    order_json = None if kind is ChangeKind.DELETED else values["order_json"]
    return _event(key, item.order.source, kind, origin, changed, order_json, now)


def _event(
    key: str,
    source: OrderSource,
    kind: ChangeKind,
    origin: ChangeOrigin,
    changed: Sequence[str],
    order_json: str | None,
    now: datetime,
) -> ChangeEventRecord:
    return ChangeEventRecord(
        order_id=key,
        source=source.value,
        kind=kind.value,
        origin=origin.value,
        changed=" ".join(changed),
        order_json=order_json,
        occurred_at=now,
    )


async def observe(
    store: Store,
    observed: Iterable[Observed],
    origin: ChangeOrigin,
    *,
    gone: Iterable[tuple[OrderSource, str]] = (),
) -> list[ChangeEventRecord]:
    """``observe_in`` in a transaction of its own."""
    async with store.session() as session:
        events = await observe_in(session, observed, origin, gone=gone)
        await session.commit()
    return events


async def indexed(store: Store, order_ids: Sequence[str]) -> dict[str, IndexedOrder]:
    """The index rows of these orders (those it has), in one query."""
    async with store.session() as session:
        rows = await session.exec(
            select(IndexedOrder).where(col(IndexedOrder.id).in_(list(order_ids)))
        )
        return {row.id: row for row in rows}


async def last_seen(store: Store, order_id: str) -> Order | None:
    """The order as the index last saw it upstream (``None``: never indexed)."""
    rows = await indexed(store, [order_id])
    row = rows.get(order_id)
    return None if row is None else codec.decode(row.order_json)
