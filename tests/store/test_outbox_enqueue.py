"""Queueing a change: the entry, its history event and the order's record are written
together; the queue-time re-check sees the status the order's pending changes will leave it
in (on PostgreSQL after every other replica's queueing for that order), and a re-check that
raises queues nothing."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.commands import Dispatch, MarkShipped, OrderCommand, SetDiscountCode, UpdateStatus
from domain.errors import InvalidTransitionError
from domain.models import OrderSource, OrderStatus
from store import outbox
from store.clock import utcnow
from store.engine import Store
from tests.store.outbox_support import (
    Row,
    all_entries,
    all_events,
    at,
    event_of,
    order_record,
    prepare,
    queue,
)

CONFIRMED, PROCESSING = OrderStatus.CONFIRMED, OrderStatus.PROCESSING
CANCELLED, DELIVERED = OrderStatus.CANCELLED, OrderStatus.DELIVERED
DISPATCHED = OrderStatus.DISPATCHED


def to(value: OrderStatus) -> UpdateStatus:
    return UpdateStatus(status=value)


CODE = SetDiscountCode(code="VIP15")
DISPATCH = Dispatch(consignment_number="CN1")
MARK_SHIPPED = MarkShipped()


@pytest.mark.parametrize(
    ("command", "kind", "detail"),
    [
        (to(CONFIRMED), "STATUS_CHANGED", "status=CONFIRMED, note=None"),
        (DISPATCH, "DISPATCHED", "consignment_number=CN1, carrier=None, tracking_url=None"),
        (CODE, "DISCOUNT_SET", "code=VIP15"),
    ],
    ids=["status change", "dispatch", "discount code"],
)
async def test_a_queued_change_is_recorded_with_its_event_and_its_order(
    store: Store, command: OrderCommand, kind: str, detail: str
) -> None:
    before = utcnow()
    change = await outbox.enqueue(
        store,
        order_id="order-7",
        source=OrderSource.B2B,
        upstream_id="7",
        reference="PO-7",
        command=command,
        idempotency_key="key-7",
        actor="alice",
        owner="replica-a",
        lease_s=30,
    )
    after = utcnow()

    assert change.command == command
    [row] = await all_entries(store)
    assert row.id == change.entry.id
    assert (row.order_id, row.source, row.upstream_id, row.idempotency_key, row.actor) == (
        "order-7",
        "B2B",
        "7",
        "key-7",
        "alice",
    )
    assert outbox.decode(row).command == command
    assert (row.status, row.attempts, row.last_error, row.outcome_unknown) == (
        "pending",
        0,
        None,
        False,
    )
    assert (row.lease_owner, row.delivered_at) == ("replica-a", None)
    created = at(row.created_at)
    assert created is not None and before <= created <= after
    assert at(row.next_attempt_at) == created
    assert at(row.lease_until) == created + timedelta(seconds=30)

    [event] = await all_events(store)
    assert (event.order_id, event.kind, event.detail, event.actor) == (
        "order-7",
        kind,
        detail,
        "alice",
    )
    assert (event.outcome, event.change_id, at(event.at)) == ("queued", row.id, created)

    record = await order_record(store, "order-7")
    assert record is not None
    assert (record.source, record.upstream_id, record.reference, record.order_source) == (
        "B2B",
        "7",
        "PO-7",
        "b2b",
    )


# What an order's outbox holds before the next enqueue, and the status it projects.
HISTORIES: list[tuple[list[Row], OrderStatus | None]] = [
    ([], None),
    ([Row("a", "order-1", to(CONFIRMED))], CONFIRMED),
    (
        [Row("a", "order-1", to(CONFIRMED)), Row("b", "order-1", to(PROCESSING))],
        PROCESSING,
    ),
    ([Row("a", "order-1", to(CONFIRMED)), Row("b", "order-1", DISPATCH)], DISPATCHED),
    ([Row("a", "order-1", to(CONFIRMED)), Row("b", "order-1", MARK_SHIPPED)], DISPATCHED),
    ([Row("a", "order-1", DISPATCH), Row("b", "order-1", to(DELIVERED))], DELIVERED),
    ([Row("a", "order-1", to(CONFIRMED)), Row("b", "order-1", CODE)], CONFIRMED),
    ([Row("a", "order-1", CODE)], None),
    (
        [Row("a", "order-1", to(CONFIRMED), status="delivered"), Row("b", "order-1", CODE)],
        None,
    ),
    (
        [
            Row("a", "order-1", to(CONFIRMED)),
            Row("b", "order-1", to(CANCELLED), status="rejected"),
        ],
        CONFIRMED,
    ),
    ([Row("a", "order-2", to(CANCELLED))], None),
    (
        [
            Row("a", "order-1", to(CONFIRMED)),
            Row("b", "order-2", to(CANCELLED)),
            Row("c", "order-1", CODE),
        ],
        CONFIRMED,
    ),
]
HISTORY_IDS = [
    "nothing queued",
    "a status change",
    "the last status change wins",
    "a dispatch projects DISPATCHED",
    "marking shipped projects DISPATCHED",
    "a status change after a dispatch",
    "other changes keep the status",
    "only other changes",
    "a delivered change no longer counts",
    "a rejected change never counts",
    "another order's change does not count",
    "another order's change in between",
]


@pytest.mark.parametrize(("rows", "projected"), HISTORIES, ids=HISTORY_IDS)
async def test_the_projected_status_is_what_the_pending_changes_leave(
    store: Store, rows: list[Row], projected: OrderStatus | None
) -> None:
    await prepare(store, rows)
    assert await outbox.projected_status(store, "order-1") is projected


@pytest.mark.parametrize(("rows", "projected"), HISTORIES, ids=HISTORY_IDS)
async def test_the_recheck_sees_the_status_the_pending_changes_leave(
    store: Store, rows: list[Row], projected: OrderStatus | None
) -> None:
    await prepare(store, rows)
    seen: list[OrderStatus | None] = []
    change = await queue(store, "order-1", CODE, 99, recheck=seen.append)
    assert seen == [projected]
    assert (await event_of(store, change.entry.id)).outcome == "queued"


def refuse(projected: OrderStatus | None) -> None:
    raise InvalidTransitionError(f"{projected} cannot take this change")


@pytest.mark.parametrize("known", [True, False], ids=["known order", "order never seen"])
async def test_a_recheck_that_raises_queues_nothing(store: Store, known: bool) -> None:
    if known:
        await queue(store, "order-1", to(CONFIRMED), 1, reference="R-1")
    entries, events = await all_entries(store), await all_events(store)
    record = await order_record(store, "order-1")

    with pytest.raises(InvalidTransitionError, match="^CONFIRMED cannot" if known else "^None"):
        await queue(store, "order-1", CODE, 2, reference="R-2", recheck=refuse)

    assert [e.id for e in await all_entries(store)] == [e.id for e in entries]
    assert [e.id for e in await all_events(store)] == [e.id for e in events]
    after = await order_record(store, "order-1")
    if record is None:
        assert after is None
    else:
        assert after is not None
        assert (after.reference, at(after.updated_at)) == ("R-1", at(record.updated_at))


async def test_the_next_enqueue_rechecks_against_the_change_queued_just_before(
    store: Store,
) -> None:
    """The SQLite twin of the replica race below: one after the other, the second sees the
    first's change (in one process, resolvers hold the order while they check and queue)."""
    seen: list[OrderStatus | None] = []
    await queue(store, "order-1", to(CONFIRMED), 1, recheck=seen.append)
    await queue(store, "order-1", to(PROCESSING), 2, recheck=seen.append)
    assert seen == [None, CONFIRMED]


ON_POSTGRESQL = (os.environ.get("ORDERGATE_TEST_DATABASE_URL") or "").startswith("postgres")

WAITING_FOR_AN_ADVISORY_LOCK = text(
    "SELECT count(*) FROM pg_locks JOIN pg_database ON pg_database.oid = pg_locks.database"
    " WHERE locktype = 'advisory' AND NOT granted AND datname = current_database()"
)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="the advisory lock is PostgreSQL's")
async def test_replicas_queueing_for_one_order_recheck_one_after_the_other(store: Store) -> None:
    """Replica A is inside its re-check when replica B queues a change of the same order: B's
    re-check must wait for A's change and see it, not pass against the stale status."""
    a_rechecking, a_may_go = threading.Event(), threading.Event()
    seen_by_a: list[OrderStatus | None] = []
    seen_by_b: list[OrderStatus | None] = []

    def a_recheck(projected: OrderStatus | None) -> None:
        seen_by_a.append(projected)
        a_rechecking.set()
        a_may_go.wait(timeout=30)  # a safety net only: the test lets A go once B waits

    async def replica_a() -> None:
        other = Store(store.url)  # another replica: its own engine, in its own event loop
        try:
            await queue(other, "order-1", to(CONFIRMED), 1, recheck=a_recheck)
        finally:
            await other.aclose()

    a = asyncio.create_task(asyncio.to_thread(asyncio.run, replica_a()))
    try:
        for _ in range(3000):  # until A is inside its re-check
            if a_rechecking.is_set() or a.done():
                break
            await asyncio.sleep(0.01)
        if not a_rechecking.is_set():
            await a  # A failed before its re-check: its error is the test's
        assert a_rechecking.is_set()
        b = asyncio.create_task(
            queue(store, "order-1", to(PROCESSING), 2, recheck=seen_by_b.append)
        )
        async with store.engine.connect() as connection:
            for _ in range(3000):  # until B waits for A's lock (or, without one, is done)
                if b.done() or (await connection.scalar(WAITING_FOR_AN_ADVISORY_LOCK)):
                    break
                await asyncio.sleep(0.01)
    finally:
        a_may_go.set()
    await a
    change_b = await b
    assert (seen_by_a, seen_by_b) == ([None], [CONFIRMED])
    [first, second] = await all_entries(store)
    assert (first.idempotency_key, second.id) == ("order-1-1", change_b.entry.id)
