"""Reading and writing the order audit trail."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlmodel import col, select

from store.clock import utcnow
from store.engine import Store
from store.tables import OrderEventRecord


async def record_event(
    store: Store,
    order_id: str,
    kind: str,
    *,
    detail: str | None = None,
    actor: str | None = None,
    outcome: str | None = None,
) -> OrderEventRecord:
    """An event that needs no delivery (those of queued changes come with ``outbox.enqueue``)."""
    event = OrderEventRecord(
        order_id=order_id,
        at=utcnow(),
        kind=kind,
        detail=detail,
        actor=actor,
        outcome=outcome,
    )
    async with store.session() as session:
        session.add(event)
        await session.commit()
    return event


async def events_for(store: Store, order_ids: Sequence[str]) -> dict[str, list[OrderEventRecord]]:
    """Every event of the given orders, oldest first, in one query."""
    by_order: dict[str, list[OrderEventRecord]] = defaultdict(list)
    async with store.session() as session:
        rows = await session.exec(
            select(OrderEventRecord)
            .where(col(OrderEventRecord.order_id).in_(list(order_ids)))
            .order_by(col(OrderEventRecord.at), col(OrderEventRecord.id))
        )
        for row in rows:
            by_order[row.order_id].append(row)
    return by_order
