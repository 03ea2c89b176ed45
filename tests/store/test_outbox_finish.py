"""Ending an attempt: however it ends (delivered, rejected, to be retried) it is counted, the
lease is given back, and the change's event shows the outcome; a deliverer whose lease passed
on to another records nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from domain import ids
from domain.commands import SetDiscountCode, UpdateStatus
from domain.models import OrderSource, OrderStatus, Shipment
from store import outbox
from store.clock import utcnow
from store.engine import Store
from store.orders import Seen
from tests.store.outbox_support import (
    an_order,
    at,
    entry,
    event_of,
    order_record,
    queue,
    set_entry,
    shipments,
    within,
)

RETRY_IN = timedelta(minutes=5)

Finish = Callable[[Store, outbox.Change, datetime], Awaitable[None]]


def delivered(store: Store, change: outbox.Change, _retry_at: datetime) -> Awaitable[None]:
    return outbox.mark_delivered(store, change, seen=[], shipment=None)


def rejected(store: Store, change: outbox.Change, _retry_at: datetime) -> Awaitable[None]:
    return outbox.mark_rejected(store, change, "No discount code 'NOPE'")


def retry(store: Store, change: outbox.Change, retry_at: datetime) -> Awaitable[None]:
    return outbox.mark_retry(store, change, "503", retry_at=retry_at, outcome_unknown=False)


def retry_unknown(store: Store, change: outbox.Change, retry_at: datetime) -> Awaitable[None]:
    return outbox.mark_retry(store, change, "timeout", retry_at=retry_at, outcome_unknown=True)


FINISHES: list[tuple[Finish, str, str | None, bool, str, str]] = [
    # how it ends, entry status, last_error, outcome unknown, event outcome, event detail
    (delivered, "delivered", None, False, "delivered", "code=NOPE"),
    (
        rejected,
        "rejected",
        "No discount code 'NOPE'",
        False,
        "rejected",
        "code=NOPE — rejected: No discount code 'NOPE'",
    ),
    (retry, "pending", "503", False, "queued", "code=NOPE"),
    (retry_unknown, "pending", "timeout", True, "queued", "code=NOPE"),
]
FINISH_IDS = ["delivered", "rejected", "retry", "retry with the outcome unknown"]


@pytest.mark.parametrize(
    ("finish", "status", "last_error", "unknown", "outcome", "detail"), FINISHES, ids=FINISH_IDS
)
async def test_every_end_of_an_attempt_counts_it_and_gives_the_lease_back(
    store: Store,
    finish: Finish,
    status: str,
    last_error: str | None,
    unknown: bool,
    outcome: str,
    detail: str,
) -> None:
    change = await queue(store, "order-1", SetDiscountCode(code="NOPE"), 1)
    due_at = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    await set_entry(
        store,
        change.entry.id,
        attempts=2,
        last_error="earlier error",
        next_attempt_at=due_at,
        lease_owner=None,
        lease_until=None,
    )
    claimed = await outbox.claim(store, change.entry.id, owner="a", lease_s=30)
    assert claimed is not None
    retry_at = utcnow().replace(microsecond=0) + RETRY_IN

    before = utcnow()
    await finish(store, claimed, retry_at)
    after = utcnow()

    row = await entry(store, change.entry.id)
    assert (row.attempts, row.lease_owner, row.lease_until) == (3, None, None)
    assert (row.status, row.last_error, row.outcome_unknown) == (status, last_error, unknown)
    if status == "delivered":
        assert within(row.delivered_at, before, after)
    else:
        assert row.delivered_at is None
    assert at(row.next_attempt_at) == (retry_at if status == "pending" else due_at)
    event = await event_of(store, change.entry.id)
    assert (event.outcome, event.detail) == (outcome, detail)


async def test_a_postponement_with_nothing_sent_gives_the_lease_back_without_an_attempt(
    store: Store,
) -> None:
    # The backend's breaker was open: the change waits, its attempts as they were.
    change = await queue(store, "order-1", SetDiscountCode(code="NOPE"), 1)
    await set_entry(store, change.entry.id, attempts=2, lease_owner=None, lease_until=None)
    claimed = await outbox.claim(store, change.entry.id, owner="a", lease_s=30)
    assert claimed is not None
    retry_at = utcnow().replace(microsecond=0) + RETRY_IN
    await outbox.mark_retry(
        store, claimed, "circuit open", retry_at=retry_at, outcome_unknown=False, attempted=False
    )
    row = await entry(store, change.entry.id)
    assert (row.attempts, row.lease_owner, row.lease_until) == (2, None, None)
    assert (row.status, row.last_error, at(row.next_attempt_at)) == (
        "pending",
        "circuit open",
        retry_at,
    )


@pytest.mark.parametrize(
    ("finish", "next_claimable"),
    [(delivered, True), (rejected, True), (retry, False), (retry_unknown, False)],
    ids=FINISH_IDS,
)
async def test_the_next_change_of_an_order_waits_until_the_one_before_is_finished(
    store: Store, finish: Finish, next_claimable: bool
) -> None:
    first = await queue(store, "order-1", SetDiscountCode(code="NOPE"), 1)
    second = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 2)
    claimed = await outbox.claim(store, first.entry.id, owner="a", lease_s=30)
    assert claimed is not None
    await finish(store, claimed, utcnow() + RETRY_IN)
    taken = await outbox.claim(store, second.entry.id, owner="b", lease_s=30)
    assert (taken is not None) is next_claimable


@pytest.mark.parametrize("finish", [f for f, *_ in FINISHES], ids=FINISH_IDS)
async def test_a_deliverer_whose_lease_passed_on_records_nothing(
    store: Store, finish: Finish
) -> None:
    change = await queue(store, "order-1", UpdateStatus(status=OrderStatus.CONFIRMED), 1)
    slow = await outbox.claim(store, change.entry.id, owner="slow", lease_s=0.0)
    assert slow is not None  # "slow" stalls mid-send: its lease runs out
    fast = await outbox.claim(store, change.entry.id, owner="fast", lease_s=30)
    assert fast is not None

    with pytest.raises(outbox.LeaseLost, match=rf"^change {change.entry.id}: "):
        await finish(store, slow, utcnow() + RETRY_IN)

    row = await entry(store, change.entry.id)
    assert (row.status, row.attempts, row.lease_owner, row.last_error) == (
        "pending",
        0,
        "fast",
        None,
    )
    assert (await event_of(store, change.entry.id)).outcome == "queued"


@pytest.mark.parametrize("finish", [f for f, *_ in FINISHES], ids=FINISH_IDS)
async def test_ending_one_attempt_leaves_the_deliverers_other_changes_alone(
    store: Store, finish: Finish
) -> None:
    one = await queue(store, "order-1", SetDiscountCode(code="NOPE"), 1)
    other = await queue(store, "order-2", SetDiscountCode(code="VIP15"), 2)
    claimed = await outbox.claim(store, one.entry.id, owner="a", lease_s=30)
    held = await outbox.claim(store, other.entry.id, owner="a", lease_s=30)
    assert claimed is not None and held is not None

    await finish(store, claimed, utcnow() + RETRY_IN)

    row = await entry(store, other.entry.id)
    assert (row.status, row.attempts, row.lease_owner, row.last_error) == ("pending", 0, "a", None)
    assert at(row.lease_until) == at(held.entry.lease_until)
    assert (await event_of(store, other.entry.id)).outcome == "queued"


async def test_a_delivery_records_what_the_upstream_showed_and_the_shipment(store: Store) -> None:
    change = await queue(store, "order-1", UpdateStatus(status=OrderStatus.DISPATCHED), 1)
    claimed = await outbox.claim(store, change.entry.id, owner="a", lease_s=30)
    assert claimed is not None
    dispatched_at = utcnow().replace(microsecond=0) - timedelta(minutes=3)
    shipment = Shipment(
        id="s-1",
        consignment_number="CN1",
        carrier="DHL",
        tracking_url="https://track.example/CN1",
        dispatched_at=dispatched_at,
    )
    shown = an_order(OrderSource.CRM, "1", OrderStatus.DISPATCHED, reference="R-1")
    split = an_order(OrderSource.CRM, "2", OrderStatus.CONFIRMED)

    await outbox.mark_delivered(
        store, claimed, seen=[Seen(shown), Seen(split, parent="order-1")], shipment=shipment
    )

    record = await order_record(store, ids.order_id(OrderSource.CRM, "1"))
    assert record is not None and (record.last_status, record.reference) == ("DISPATCHED", "R-1")
    new = await order_record(store, ids.order_id(OrderSource.CRM, "2"))
    assert new is not None and (new.last_status, new.parent_id) == ("CONFIRMED", "order-1")
    [sent] = await shipments(store)
    assert (sent.order_id, sent.consignment_number, sent.carrier, sent.tracking_url) == (
        "order-1",
        "CN1",
        "DHL",
        "https://track.example/CN1",
    )
    assert at(sent.dispatched_at) == dispatched_at
