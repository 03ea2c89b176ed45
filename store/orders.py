"""The gateway's own record of the orders it touched, and the shipments it sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain import ids
from domain.models import Order, OrderSource, Shipment
from store.clock import utcnow
from store.engine import Store
from store.tables import OrderRecord, ShipmentRecord

# The `order_source` values of the affiliate work item (000_*): "affiliate, web" — and ours.
ORDER_SOURCE = {
    OrderSource.AFFILIATE: "affiliate",
    OrderSource.WEBSHOP: "web",
    OrderSource.CRM: "crm",
    OrderSource.B2B: "b2b",
}


async def touch_order(
    session: AsyncSession,
    order_id: str,
    source: OrderSource,
    upstream_id: str,
    *,
    reference: str | None = None,
    status: str | None = None,
    parent_id: str | None = None,
) -> None:
    """Create or update the record of an order (inside the caller's transaction), in one
    statement: concurrent first writes to one order must not race to insert it twice."""
    now = utcnow()
    bind = session.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    known = {"reference": reference, "last_status": status, "parent_id": parent_id}
    statement = (
        insert(OrderRecord)
        .values(
            id=order_id,
            source=source.value,
            upstream_id=upstream_id,
            order_source=ORDER_SOURCE[source],
            first_seen_at=now,
            updated_at=now,
            **known,
        )
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"updated_at": now, **{k: v for k, v in known.items() if v is not None}},
        )
    )
    await session.exec(statement)


@dataclass(frozen=True, slots=True)
class Seen:
    """An order as an upstream just showed it, to remember (``parent``: split from)."""

    order: Order
    parent: str | None = None


async def remember(session: AsyncSession, seen: Sequence[Seen]) -> None:
    """Record orders as the upstream just showed them (inside the caller's transaction)."""
    for item in seen:
        order = item.order
        await touch_order(
            session,
            ids.order_id(order.source, order.upstream_id),
            order.source,
            order.upstream_id,
            reference=order.reference,
            status=order.status.value,
            parent_id=item.parent,
        )


async def record_orders(store: Store, seen: Sequence[Seen]) -> None:
    async with store.session() as session:
        await remember(session, seen)
        await session.commit()


async def last_status(store: Store, order_id: str) -> str | None:
    async with store.session() as session:
        record = await session.get(OrderRecord, order_id)
        return None if record is None else record.last_status


async def record_shipment(session: AsyncSession, order: str, shipment: Shipment) -> None:
    """Remember a shipment the gateway sent (inside the caller's transaction), once."""
    existing = await session.exec(
        select(ShipmentRecord).where(
            ShipmentRecord.order_id == order,
            ShipmentRecord.consignment_number == shipment.consignment_number,
        )
    )
    if existing.first() is None:
        session.add(
            ShipmentRecord(
                order_id=order,
                consignment_number=shipment.consignment_number or "",
                carrier=shipment.carrier,
                tracking_url=shipment.tracking_url,
                dispatched_at=shipment.dispatched_at or utcnow(),
            )
        )
