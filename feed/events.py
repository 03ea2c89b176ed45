"""Reading the event log: positions as clients see them, filters, and pages after a position."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from domain import ids
from domain.errors import ValidationError
from domain.models import OrderSource
from feed.index import ChangeKind
from store.engine import Store
from store.tables import ChangeEventRecord

POSITION_DIGITS = 16  # zero-padded: positions sort as strings as they do as numbers


def encode_position(position: int) -> str:
    return f"{position:0{POSITION_DIGITS}d}"


def event_id(source: OrderSource, position: int) -> str:
    """An event's id: ``OrderChangeEvent.id``, a partner webhook's ``webhook-id``."""
    return ids.GlobalId("OrderChangeEvent", source, encode_position(position)).encode()


def decode_position(value: str | None, *, field: str = "after") -> int:
    """A position a client sent back (``None``/empty: the start of the log)."""
    if not value:
        return 0
    if not (value.isascii() and value.isdigit()) or len(value) > POSITION_DIGITS:
        raise ValidationError(
            f"{value!r} is not a position of the event log (pass an event's `position`).",
            field=[field],
        )
    return int(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """Which events a reader wants; ``None``: no filter on this. ``sources`` also carries what
    the reader may see (a key limited to some sources never gets the others)."""

    sources: frozenset[OrderSource] | None = None
    kinds: frozenset[ChangeKind] | None = None
    order_id: str | None = None

    def matches(self, event: ChangeEventRecord) -> bool:
        if self.sources is not None and OrderSource(event.source) not in self.sources:
            return False
        if self.kinds is not None and ChangeKind(event.kind) not in self.kinds:
            return False
        return self.order_id is None or event.order_id == self.order_id


async def read_after(
    store: Store, after: int, event_filter: EventFilter, *, limit: int
) -> list[ChangeEventRecord]:
    """Up to ``limit`` events past ``after`` that the filter lets through, oldest first."""
    statement = select(ChangeEventRecord).where(col(ChangeEventRecord.position) > after)
    if event_filter.sources is not None:
        statement = statement.where(
            col(ChangeEventRecord.source).in_([s.value for s in event_filter.sources])
        )
    if event_filter.kinds is not None:
        statement = statement.where(
            col(ChangeEventRecord.kind).in_([k.value for k in event_filter.kinds])
        )
    if event_filter.order_id is not None:
        statement = statement.where(col(ChangeEventRecord.order_id) == event_filter.order_id)
    statement = statement.order_by(col(ChangeEventRecord.position)).limit(limit)
    async with store.session() as session:
        return list(await session.exec(statement))


async def latest_position(store: Store) -> int:
    async with store.session() as session:
        result = await session.exec(select(func.max(ChangeEventRecord.position)))
        return result.one() or 0


async def events_of(store: Store, order_ids: Sequence[str]) -> dict[str, list[ChangeEventRecord]]:
    """Every event of these orders, oldest first (``Order.history``)."""
    by_order: dict[str, list[ChangeEventRecord]] = {}
    async with store.session() as session:
        rows = await session.exec(
            select(ChangeEventRecord)
            .where(col(ChangeEventRecord.order_id).in_(list(order_ids)))
            .order_by(col(ChangeEventRecord.position))
        )
        for row in rows:
            by_order.setdefault(row.order_id, []).append(row)
    return by_order
