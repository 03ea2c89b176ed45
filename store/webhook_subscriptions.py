"""Partners' outgoing webhook subscriptions: made, listed and deleted by their owner, with the
deliveries each one got (``feed.partner_webhooks`` makes and sends those).

A subscription belongs to the principal that made it (``Principal.identity``): its owner is
part of every lookup, so another caller's subscription is as absent as one that never was.
The signing secret is ``whsec_`` + base64 of 24 random bytes (the Standard Webhooks form). It
is kept as it is, since the gateway signs with it; it is answered once, by ``create``, and a
record's ``repr`` leaves it out. Deleting is soft (``deleted_at``): the deliveries stay
readable in the store, and nothing more is sent.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, func, select, update

from domain.models import OrderSource
from feed.index import ChangeKind
from store.clock import utcnow
from store.engine import Store
from store.tables import ChangeEventRecord, WebhookDeliveryRecord, WebhookSubscriptionRecord

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def kinds_of(record: WebhookSubscriptionRecord) -> list[ChangeKind]:
    wanted = set(record.events.split())
    return [kind for kind in ChangeKind if kind.value in wanted]


def sources_of(record: WebhookSubscriptionRecord) -> list[OrderSource]:
    wanted = set(record.sources.split())
    return [source for source in OrderSource if source.value in wanted]


@dataclass(frozen=True, slots=True)
class NewSubscription:
    record: WebhookSubscriptionRecord
    secret: str  # answered once, to whoever made it


def _live(owner: str) -> tuple[object, object]:
    return (
        col(WebhookSubscriptionRecord.owner) == owner,
        col(WebhookSubscriptionRecord.deleted_at).is_(None),
    )


async def create(
    store: Store,
    *,
    owner: str,
    url: str,
    events: Sequence[ChangeKind],
    sources: Sequence[OrderSource],
) -> NewSubscription:
    secret = new_secret()
    record = WebhookSubscriptionRecord(
        url=url,
        events=" ".join(kind.value for kind in ChangeKind if kind in events),
        sources=" ".join(source.value for source in OrderSource if source in sources),
        secret=secret,
        owner=owner,
        created_at=utcnow(),
    )
    async with store.session() as session:
        session.add(record)
        await session.commit()
        await session.refresh(record)
    return NewSubscription(record, secret)


async def count_live(store: Store, owner: str) -> int:
    async with store.session() as session:
        result = await session.exec(
            select(func.count()).select_from(WebhookSubscriptionRecord).where(*_live(owner))  # type: ignore[arg-type]
        )
        return int(result.one())


async def list_live(store: Store, owner: str) -> list[WebhookSubscriptionRecord]:
    async with store.session() as session:
        rows = await session.exec(
            select(WebhookSubscriptionRecord)
            .where(*_live(owner))  # type: ignore[arg-type]
            .order_by(col(WebhookSubscriptionRecord.id))
        )
        return list(rows)


async def get_live(
    store: Store, owner: str, subscription_id: int
) -> WebhookSubscriptionRecord | None:
    async with store.session() as session:
        rows = await session.exec(
            select(WebhookSubscriptionRecord).where(
                col(WebhookSubscriptionRecord.id) == subscription_id,
                *_live(owner),  # type: ignore[arg-type]
            )
        )
        return rows.first()


async def delete(store: Store, owner: str, subscription_id: int) -> bool:
    """Whether a live subscription of this owner was deleted (now)."""
    async with store.session() as session:
        result = await session.exec(
            update(WebhookSubscriptionRecord)
            .where(col(WebhookSubscriptionRecord.id) == subscription_id, *_live(owner))  # type: ignore[arg-type]
            .values(deleted_at=utcnow())
        )
        await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SentEvent:
    """A delivery with the source of its event (whose id names both)."""

    delivery: WebhookDeliveryRecord
    source: OrderSource


async def deliveries(store: Store, subscription_id: int, *, first: int) -> list[SentEvent]:
    """The subscription's ``first`` latest deliveries, newest event first."""
    async with store.session() as session:
        rows = await session.exec(
            select(WebhookDeliveryRecord, ChangeEventRecord.source)
            .join(
                ChangeEventRecord,
                col(ChangeEventRecord.position) == col(WebhookDeliveryRecord.event_position),
            )
            .where(col(WebhookDeliveryRecord.subscription_id) == subscription_id)
            .order_by(col(WebhookDeliveryRecord.event_position).desc())
            .limit(first)
        )
        return [SentEvent(delivery, OrderSource(source)) for delivery, source in rows]
