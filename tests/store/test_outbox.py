"""The outbox hands out changes oldest first per order, one holder at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.commands import Dispatch, SetDiscountCode, UpdateStatus
from domain.models import OrderSource, OrderStatus
from store import outbox
from store.clock import utcnow
from store.engine import Store
from store.events import events_for
from tests.store.outbox_support import Row, prepare, queue


async def test_a_change_and_its_event_are_recorded_together(store: Store) -> None:
    change = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 1)
    [event] = (await events_for(store, ["order-1"]))["order-1"]
    assert (event.kind, event.outcome, event.actor, event.change_id) == (
        "DISCOUNT_SET",
        "queued",
        "tester",
        change.entry.id,
    )
    assert (await outbox.entries(store, [change.entry.id]))[0].status == "pending"


async def test_only_the_oldest_pending_change_of_an_order_can_be_claimed(store: Store) -> None:
    first = await queue(store, "order-1", UpdateStatus(status=OrderStatus.CONFIRMED), 1)
    second = await queue(store, "order-1", UpdateStatus(status=OrderStatus.PROCESSING), 2)
    other = await queue(store, "order-2", UpdateStatus(status=OrderStatus.CANCELLED), 3)
    assert await outbox.claim(store, second.entry.id, owner="a", lease_s=30) is None
    claimed = await outbox.claim(store, first.entry.id, owner="a", lease_s=30)
    assert claimed is not None and claimed.command == UpdateStatus(status=OrderStatus.CONFIRMED)
    assert await outbox.claim(store, first.entry.id, owner="b", lease_s=30) is None  # leased
    assert await outbox.claim(store, other.entry.id, owner="b", lease_s=30) is not None

    await outbox.mark_delivered(store, claimed, seen=[], shipment=None)
    assert await outbox.claim(store, second.entry.id, owner="b", lease_s=30) is not None
    [event, _] = (await events_for(store, ["order-1"]))["order-1"]
    assert event.outcome == "delivered"


async def test_an_expired_lease_lets_another_deliverer_take_over(store: Store) -> None:
    change = await queue(store, "order-1", Dispatch(consignment_number="CN1"), 1)
    assert await outbox.claim(store, change.entry.id, owner="a", lease_s=0.0) is not None
    assert await outbox.claim(store, change.entry.id, owner="b", lease_s=30) is not None


async def test_a_retry_waits_for_its_time_unless_the_source_comes_back(store: Store) -> None:
    change = await queue(store, "order-1", UpdateStatus(status=OrderStatus.CONFIRMED), 1)
    claimed = await outbox.claim(store, change.entry.id, owner="a", lease_s=30)
    assert claimed is not None
    later = utcnow() + timedelta(minutes=5)
    await outbox.mark_retry(store, claimed, "503", retry_at=later, outcome_unknown=False)
    assert await outbox.due_heads(store, limit=10) == []
    assert await outbox.make_due(store, OrderSource.CRM) == 1
    [head] = await outbox.due_heads(store, limit=10)
    assert (head.id, head.attempts, head.last_error) == (change.entry.id, 1, "503")


async def test_a_rejected_change_no_longer_holds_up_its_order(store: Store) -> None:
    first = await queue(store, "order-1", SetDiscountCode(code="NOPE"), 1)
    second = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 2)
    claimed = await outbox.claim(store, first.entry.id, owner="a", lease_s=30)
    assert claimed is not None
    await outbox.mark_rejected(store, claimed, "No discount code 'NOPE'")
    [head] = await outbox.due_heads(store, limit=10)
    assert head.id == second.entry.id
    [event, _] = (await events_for(store, ["order-1"]))["order-1"]
    assert event.outcome == "rejected"
    assert "No discount code 'NOPE'" in (event.detail or "")


async def test_the_projected_status_is_the_last_queued_status_change(store: Store) -> None:
    assert await outbox.projected_status(store, "order-1") is None
    await queue(store, "order-1", UpdateStatus(status=OrderStatus.CONFIRMED), 1)
    await queue(store, "order-1", SetDiscountCode(code="VIP15"), 2)
    assert await outbox.projected_status(store, "order-1") is OrderStatus.CONFIRMED
    await queue(store, "order-1", Dispatch(consignment_number="CN1"), 3)
    assert await outbox.projected_status(store, "order-1") is OrderStatus.DISPATCHED


async def test_a_new_change_stays_with_its_enqueuer_until_its_lease_ends(store: Store) -> None:
    change = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 1, owner="a", lease_s=30)
    assert await outbox.due_heads(store, limit=10) == []  # no worker takes it from under "a"
    assert await outbox.claim(store, change.entry.id, owner="b", lease_s=30) is None
    claimed = await outbox.claim(store, change.entry.id, owner="a", lease_s=30)
    assert claimed is not None and claimed.entry.outcome_unknown is False


async def test_taking_over_a_lease_never_given_back_marks_the_outcome_unknown(
    store: Store,
) -> None:
    change = await queue(store, "order-1", Dispatch(consignment_number="CN1"), 1)
    first = await outbox.claim(store, change.entry.id, owner="a", lease_s=0.0)
    assert first is not None  # "a" crashes mid-send: its lease runs out
    second = await outbox.claim(store, change.entry.id, owner="b", lease_s=30)
    assert second is not None and second.entry.outcome_unknown is True


async def test_a_deliverer_whose_lease_passed_on_cannot_record_an_outcome(store: Store) -> None:
    change = await queue(store, "order-1", UpdateStatus(status=OrderStatus.CONFIRMED), 1)
    slow = await outbox.claim(store, change.entry.id, owner="slow", lease_s=0.0)
    fast = await outbox.claim(store, change.entry.id, owner="fast", lease_s=30)
    assert slow is not None and fast is not None
    await outbox.mark_delivered(store, fast, seen=[], shipment=None)
    with pytest.raises(outbox.LeaseLost):
        await outbox.mark_retry(store, slow, "timeout", retry_at=utcnow(), outcome_unknown=True)
    [entry] = await outbox.entries(store, [change.entry.id])
    assert (entry.status, entry.attempts) == ("delivered", 1)


async def test_entries_come_back_in_queue_order_whichever_order_they_are_asked_in(
    store: Store,
) -> None:
    ids = await prepare(
        store,
        [
            Row("first", "order-1", UpdateStatus(status=OrderStatus.CONFIRMED)),
            Row("second", "order-2", SetDiscountCode(code="VIP15")),
            Row("third", "order-1", Dispatch(consignment_number="CN1")),
        ],
    )
    asked = [ids["third"], ids["first"], ids["second"]]
    found = await outbox.entries(store, asked)
    assert [e.id for e in found] == [ids["first"], ids["second"], ids["third"]]
    assert await outbox.entries(store, [ids["third"] + 1]) == []
