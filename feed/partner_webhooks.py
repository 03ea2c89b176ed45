"""Partners' outgoing webhooks: every event of the log that a subscription wants, signed per
Standard Webhooks (https://www.standardwebhooks.com) and POSTed to it, in position order per
subscription, retried with backoff until it is delivered or given up.

Fan-out. The events past the position fanned out so far (the ``sync_checkpoints`` row
``webhooks``, its ``full_offset``) become one ``webhook_deliveries`` row for each live
subscription that wants the event's kind and source and existed when it occurred; then the
position moves past them. Rows are inserted or ignored (one per subscription and position)
and the position only moves forward, so two replicas doing the same work, or a restart
halfway through, neither skip nor repeat an event. The first start begins at the log's end.

Delivery. Per subscription only the oldest undelivered delivery is attempted, under a lease
(``lease_until``: no other replica takes it meanwhile). A 2xx answer delivers it; any other
answer, a timeout or no connection leaves it ``failing``, retried after an exponential backoff
with jitter (``feed.delivery_backoff_base_s`` up to ``_max_s``); once it has failed for
``feed.delivery_give_up_s`` since it reached the head of its subscription's line (its first
attempt) it is ``given_up``, and the next one goes. Each subscription is drained by a task
of its own, at most ``feed.delivery_concurrency`` sending at once: a receiver that hangs
holds up only its own deliveries, each attempt for at most ``feed.delivery_timeout_s``.
Redirects are not followed. A deleted subscription gets nothing more. Delivery is at least
once: a receiver whose answer was lost gets the same message (same ``webhook-id``) again.

The message (``message``): ``{"type": "order.<kind>", "timestamp", "data": {eventId,
position, kind, origin, source, orderId, changed, occurredAt, order}}`` where ``order`` is
the order's headline after the change (ids, reference, number, statuses, total, updatedAt;
null for DELETED). It carries no customer data: a partner reads more with ``order(id)``,
under its own key's scopes. Headers (``signed_headers``): ``webhook-id`` (the event's id,
``OrderChangeEvent.id``: the same on every retry, the receiver's deduplication key),
``webhook-timestamp`` (this attempt's Unix seconds) and ``webhook-signature: v1,<base64
HMAC-SHA256 of "<id>.<timestamp>.<body>">`` keyed with the subscription's secret.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import ColumnElement, and_, exists, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain import ids
from domain.models import Order, OrderSource
from feed import codec
from feed.events import EventFilter, encode_position, event_id, latest_position, read_after
from feed.webhook_destinations import destination_problem, private_allowed
from gateway.settings import FeedSettings, Settings
from store.clock import as_utc, utcnow
from store.engine import Store
from store.tables import (
    ChangeEventRecord,
    SyncCheckpoint,
    WebhookDeliveryRecord,
    WebhookSubscriptionRecord,
)
from store.webhook_subscriptions import signing_key
from telemetry import metrics

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILING, GIVEN_UP = "pending", "delivered", "failing", "given_up"
# An attempt's new status as ``ordergate_partner_webhook_deliveries`` counts it.
PARTNER_OUTCOMES = {DELIVERED: "delivered", FAILING: "retry", GIVEN_UP: "gave_up"}
UNDELIVERED = (PENDING, FAILING)
CHECKPOINT = "webhooks"  # the fan-out's row of sync_checkpoints: full_offset is its position
FAN_OUT_BATCH = 500  # events per fan-out step
INSERT_CHUNK = 500  # delivery rows per INSERT (SQLite bounds a statement's parameters)
DUE_BATCH = 200  # subscriptions a round starts draining at most
STOP_WAIT_S = 0.5  # how long deliveries under way may finish when the feed stops
LEASE_MARGIN_S = 30.0  # a lease outlasts its attempt (bounded by the timeout) by this much
ERROR_MAX = 200
USER_AGENT = "ordergate-webhooks/1"

Delivery = WebhookDeliveryRecord
Subscription = WebhookSubscriptionRecord


# The message -------------------------------------------------------------------------------


def headline(order: Order) -> dict[str, Any]:
    """What a message tells of the order: no customer, addresses or lines."""
    total = order.totals.total
    return {
        "id": ids.order_id(order.source, order.upstream_id),
        "source": order.source.value,
        "upstreamId": order.upstream_id,
        "reference": order.reference,
        "number": order.number,
        "status": order.status.value,
        "paymentStatus": order.payment_status.value,
        "total": {"amount": str(total.amount), "currency": total.currency},
        "updatedAt": order.updated_at.isoformat(),
    }


def message(event: ChangeEventRecord) -> bytes:
    """The body of the event's message: the same bytes on every attempt."""
    assert event.position is not None
    occurred_at = as_utc(event.occurred_at).isoformat()
    source = OrderSource(event.source)
    order = None if event.order_json is None else headline(codec.decode(event.order_json))
    data = {
        "eventId": event_id(source, event.position),
        "position": encode_position(event.position),
        "kind": event.kind,
        "origin": event.origin,
        "source": event.source,
        "orderId": event.order_id,
        "changed": event.changed.split(),
        "occurredAt": occurred_at,
        "order": order,
    }
    return orjson.dumps(
        {"type": f"order.{event.kind.lower()}", "timestamp": occurred_at, "data": data}
    )


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` of one attempt (scheme ``v1``: HMAC-SHA256)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, body: bytes, *, now: float) -> dict[str, str]:
    timestamp = int(now)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


# Fan-out -------------------------------------------------------------------------------


def wants(subscription: Subscription, event: ChangeEventRecord) -> bool:
    return (
        event.kind in subscription.events.split()
        and event.source in subscription.sources.split()
        and as_utc(event.occurred_at) >= as_utc(subscription.created_at)
    )


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def begin(store: Store) -> None:
    """The fan-out's position, at the log's end if it has none yet (another replica's stands)."""
    latest = await latest_position(store)
    async with store.session() as session:
        await session.exec(
            _insert(session)(SyncCheckpoint)
            .values(source=CHECKPOINT, full_offset=latest)
            .on_conflict_do_nothing()
        )
        await session.commit()


async def fanned_out(store: Store) -> int | None:
    """The position fanned out so far (``None``: not begun)."""
    async with store.session() as session:
        checkpoint = await session.get(SyncCheckpoint, CHECKPOINT)
    return None if checkpoint is None else checkpoint.full_offset or 0


async def fan_out(store: Store, *, limit: int = FAN_OUT_BATCH) -> int:
    """One step: the deliveries of up to ``limit`` events past the position, and the position
    moved past them. How many events it took (fewer than ``limit``: the log's end)."""
    after = await fanned_out(store)
    if after is None:
        await begin(store)
        return 0
    events = await read_after(store, after, EventFilter(), limit=limit)
    if not events:
        return 0
    async with store.session() as session:
        live = await session.exec(
            select(Subscription).where(col(Subscription.deleted_at).is_(None))
        )
        subscriptions = list(live)
    now = utcnow()
    rows = [
        {
            "subscription_id": subscription.id,
            "event_position": event.position,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for subscription in subscriptions
        if wants(subscription, event)
    ]
    last = events[-1].position
    # Written apart from the reads: an idempotent write needs no snapshot of its own (and
    # SQLite refuses to turn a stale read into a write).
    async with store.session() as session:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            await session.exec(_insert(session)(Delivery).values(chunk).on_conflict_do_nothing())
        await session.exec(
            update(SyncCheckpoint)
            .where(col(SyncCheckpoint.source) == CHECKPOINT, col(SyncCheckpoint.full_offset) < last)
            .values(full_offset=last)
        )
        await session.commit()
    return len(events)


# Delivery state ----------------------------------------------------------------------------


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(Delivery.status).in_(UNDELIVERED),
        col(Delivery.next_attempt_at) <= now,
        or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now),
    )


def _head_of_line() -> ColumnElement[bool]:
    """No earlier delivery of the same subscription is still undelivered."""
    earlier = aliased(Delivery)
    return ~exists().where(
        col(earlier.subscription_id) == col(Delivery.subscription_id),
        col(earlier.event_position) < col(Delivery.event_position),
        col(earlier.status).in_(UNDELIVERED),
    )


def _subscription_live() -> ColumnElement[bool]:
    return exists().where(
        col(Subscription.id) == col(Delivery.subscription_id),
        col(Subscription.deleted_at).is_(None),
    )


async def due_subscriptions(store: Store, *, excluding: Collection[int], limit: int) -> list[int]:
    """Live subscriptions whose oldest undelivered delivery is due and free, oldest first."""
    statement = select(Delivery.subscription_id).where(
        _due(utcnow()), _head_of_line(), _subscription_live()
    )
    if excluding:
        statement = statement.where(col(Delivery.subscription_id).not_in(list(excluding)))
    async with store.session() as session:
        rows = await session.exec(statement.order_by(col(Delivery.id)).limit(limit))
        return list(rows)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this process holds the lease of (until ``lease_until``)."""

    delivery: Delivery
    subscription: Subscription
    event: ChangeEventRecord | None  # None: no longer in the log
    lease_until: datetime


async def claim_head(store: Store, subscription_id: int, *, lease_s: float) -> Claimed | None:
    """The lease of the subscription's oldest undelivered delivery, if it is due and free."""
    async with store.session() as session:
        found = await session.exec(
            select(Delivery)
            .where(
                col(Delivery.subscription_id) == subscription_id,
                col(Delivery.status).in_(UNDELIVERED),
            )
            .order_by(col(Delivery.event_position))
            .limit(1)
        )
        head = found.first()
    if head is None:
        return None
    now = utcnow()
    until = now + timedelta(seconds=lease_s)
    async with store.session() as session:
        result = await session.exec(
            update(Delivery)
            .where(col(Delivery.id) == head.id, _due(now), _head_of_line(), _subscription_live())
            .values(lease_until=until)
        )
        await session.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        subscription = await session.get(Subscription, subscription_id)
        event = await session.get(ChangeEventRecord, head.event_position)
    assert subscription is not None
    return Claimed(head, subscription, event, until)


def backoff(attempts: int, options: FeedSettings) -> float:
    """Exponential backoff with jitter: half fixed, half random."""
    exponent = min(attempts, 32)  # 2**1000 seconds would overflow a float
    ceiling = min(options.delivery_backoff_max_s, options.delivery_backoff_base_s * 2**exponent)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


async def line_reached(store: Store, delivery: Delivery) -> datetime:
    """When the delivery reached the head of its subscription's line, so was first tried: its
    creation, or the last attempt of the delivery before it, whichever is later."""
    async with store.session() as session:
        result = await session.exec(
            select(func.max(Delivery.last_attempt_at)).where(
                col(Delivery.subscription_id) == delivery.subscription_id,
                col(Delivery.event_position) < delivery.event_position,
            )
        )
        previous = result.one()
    created = as_utc(delivery.created_at)
    return created if previous is None else max(created, as_utc(previous))


async def settle(
    store: Store, claimed: Claimed, error: str | None, options: FeedSettings
) -> str | None:
    """Record an attempt's outcome (``error``: why it failed); the delivery's new status, or
    ``None`` when the lease had run out (another replica's record stands)."""
    delivery, now = claimed.delivery, utcnow()
    values: dict[str, Any] = {
        "attempts": delivery.attempts + 1,
        "last_attempt_at": now,
        "last_error": None if error is None else error[:ERROR_MAX],
        "lease_until": None,
        "status": DELIVERED,
    }
    if error is not None:
        deadline = await line_reached(store, delivery) + timedelta(
            seconds=options.delivery_give_up_s
        )
        if claimed.event is None or now >= deadline:
            values["status"] = GIVEN_UP
        else:
            retry_at = now + timedelta(seconds=backoff(delivery.attempts, options))
            values.update(status=FAILING, next_attempt_at=min(retry_at, deadline))
    async with store.session() as session:
        result = await session.exec(
            update(Delivery)
            .where(
                col(Delivery.id) == delivery.id, col(Delivery.lease_until) == claimed.lease_until
            )
            .values(**values)
        )
        await session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("partner webhooks: delivery %s outlived its lease", delivery.id)
        return None
    status: str = values["status"]
    metrics.PARTNER_DELIVERIES.labels(PARTNER_OUTCOMES[status]).inc()
    if status == GIVEN_UP:
        log.info(
            "partner webhooks: delivery %s to subscription %s given up after %s attempts (%s)",
            delivery.id,
            delivery.subscription_id,
            values["attempts"],
            error,
        )
    return status


async def release(store: Store, claimed: Claimed) -> None:
    """Give the lease back without recording an attempt (stopped mid-send)."""
    async with store.session() as session:
        await session.exec(
            update(Delivery)
            .where(
                col(Delivery.id) == claimed.delivery.id,
                col(Delivery.lease_until) == claimed.lease_until,
            )
            .values(lease_until=None)
        )
        await session.commit()


# The process's part ------------------------------------------------------------------------


class PartnerWebhooks:
    """Fan-out and delivery in one process, until cancelled (started by ``feed.service``).

    A round fans out what is new, then starts a drain for each subscription with a due
    delivery that no drain of this process serves yet. Rounds run when told of new events
    (``on_events``, a listener of ``Feed.notify``), when a drain ends, and every ``tick_s``
    (retries coming due, other replicas' events).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.options = settings.feed
        self.allow_private = private_allowed(settings)
        self.transport = transport
        self._wake = asyncio.Event()
        self._draining: dict[int, asyncio.Task[None]] = {}
        self._sending = asyncio.Semaphore(self.options.delivery_concurrency)
        self._client: httpx.AsyncClient | None = None
        self._stopping = False

    def stop(self) -> None:
        """``run`` ends after the round in hand; deliveries under way get a moment to end."""
        self._stopping = True
        self._wake.set()

    async def on_events(self, events: list[ChangeEventRecord]) -> None:
        self._wake.set()

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.options.delivery_concurrency)
        async with httpx.AsyncClient(
            transport=self.transport,
            timeout=self.options.delivery_timeout_s,
            limits=limits,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the address checked is the one used
            headers={"user-agent": USER_AGENT},
        ) as client:
            self._client = client
            try:
                while not self._stopping:
                    self._wake.clear()  # before the round: a wake-up during it is not lost
                    try:
                        await self.round()
                    except Exception:  # the deliveries must outlive a bad moment of the store
                        log.exception("partner webhooks: a round failed")
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.options.tick_s):
                            await self._wake.wait()
            finally:
                drains = list(self._draining.values())
                if drains:  # a delivery cut off mid-query could leave a connection open
                    _, pending = await asyncio.wait(drains, timeout=STOP_WAIT_S)
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                self._client = None

    async def round(self) -> None:
        while await fan_out(self.store) == FAN_OUT_BATCH:
            pass
        due = await due_subscriptions(self.store, excluding=set(self._draining), limit=DUE_BATCH)
        for subscription_id in due:
            self._draining[subscription_id] = asyncio.create_task(self._drain(subscription_id))

    async def _drain(self, subscription_id: int) -> None:
        """The subscription's due deliveries one after another, while they are settled."""
        try:
            while True:
                async with self._sending:
                    went = await self._deliver_head(subscription_id)
                if not went:
                    return
        except Exception:
            log.exception("partner webhooks: draining subscription %s failed", subscription_id)
        finally:
            self._draining.pop(subscription_id, None)
            self._wake.set()  # what came in meanwhile is seen at once

    async def _deliver_head(self, subscription_id: int) -> bool:
        """One attempt at the subscription's head; whether it was settled (the next may go)."""
        lease_s = self.options.delivery_timeout_s + LEASE_MARGIN_S
        claimed = await claim_head(self.store, subscription_id, lease_s=lease_s)
        if claimed is None:
            return False
        try:
            error = await self._send(claimed)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(release(self.store, claimed))
            raise
        return await settle(self.store, claimed, error, self.options) in (DELIVERED, GIVEN_UP)

    async def _send(self, claimed: Claimed) -> str | None:
        """POST the message; ``None`` when the receiver took it (2xx), else why not (short,
        for ``lastError``: never the URL, a header or the secret)."""
        if claimed.event is None or claimed.event.position is None:
            return "the event is no longer in the log"
        url = claimed.subscription.url
        problem = await destination_problem(url, allow_private=self.allow_private)
        if problem is not None:
            return problem
        assert self._client is not None
        body = message(claimed.event)
        message_id = event_id(OrderSource(claimed.event.source), claimed.event.position)
        headers = signed_headers(claimed.subscription.secret, message_id, body, now=time.time())
        timeout = self.options.delivery_timeout_s
        try:
            async with asyncio.timeout(timeout):
                # Streamed, and the body never read: a receiver's answer is its status.
                async with self._client.stream(
                    "POST", url, content=body, headers=headers
                ) as answer:
                    status = answer.status_code
        except (TimeoutError, httpx.TimeoutException):
            return f"no answer within {timeout:g} s"
        except httpx.HTTPError as failure:
            return f"could not send ({type(failure).__name__})"
        if 200 <= status < 300:
            return None
        return f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
