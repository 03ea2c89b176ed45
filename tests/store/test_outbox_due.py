"""What the delivery worker picks up: the oldest pending change of every order whose attempt
is due and whose lease is free, in queue order; and a backend answering again makes only its
own waiting retries due."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.commands import Dispatch, SetDiscountCode, UpdateStatus
from domain.models import OrderSource, OrderStatus
from store import outbox
from store.clock import utcnow
from store.engine import Store
from tests.store.outbox_support import (
    EARLIER,
    LATER,
    Row,
    all_entries,
    at,
    prepare,
    set_entry,
)

CRM, WEBSHOP, B2B, AFFILIATE = (
    OrderSource.CRM,
    OrderSource.WEBSHOP,
    OrderSource.B2B,
    OrderSource.AFFILIATE,
)
CONFIRM = UpdateStatus(status=OrderStatus.CONFIRMED)
CODE = SetDiscountCode(code="VIP15")
DISPATCH = Dispatch(consignment_number="CN1")

HEADS = [
    (
        [
            Row("crm-1 first", "order-1", CONFIRM, CRM),
            Row("crm-1 second", "order-1", CODE, CRM),
            Row("web-2 first", "order-2", CONFIRM, WEBSHOP),
            Row("b2b-3 first", "order-3", DISPATCH, B2B),
            Row("b2b-3 second", "order-3", CODE, B2B),
            Row("aff-4 first", "order-4", CODE, AFFILIATE),
        ],
        ["crm-1 first", "web-2 first", "b2b-3 first", "aff-4 first"],
    ),
    (
        [
            Row("crm-1 first", "order-1", CONFIRM, next_attempt=LATER),
            Row("crm-1 second", "order-1", CODE),
            Row("crm-2 first", "order-2", CODE),
        ],
        ["crm-2 first"],
    ),
    (
        [
            Row("crm-1 first", "order-1", CONFIRM, lease="live"),
            Row("crm-1 second", "order-1", CODE),
            Row("web-2 first", "order-2", CODE, WEBSHOP, lease="expired"),
        ],
        ["web-2 first"],
    ),
    (
        [
            Row("crm-1 first", "order-1", CONFIRM, status="delivered"),
            Row("crm-1 second", "order-1", CODE),
            Row("web-2 first", "order-2", CONFIRM, WEBSHOP, status="rejected"),
            Row("web-2 second", "order-2", CODE, WEBSHOP),
            Row("b2b-3 first", "order-3", CODE, B2B, status="delivered"),
        ],
        ["crm-1 second", "web-2 second"],
    ),
    (
        [
            Row("crm-1 first", "order-1", CONFIRM, next_attempt=-timedelta(seconds=1)),
            Row("web-2 first", "order-2", CONFIRM, WEBSHOP, next_attempt=-timedelta(hours=2)),
            Row("b2b-3 first", "order-3", CONFIRM, B2B, next_attempt=-timedelta(minutes=5)),
        ],
        ["crm-1 first", "web-2 first", "b2b-3 first"],
    ),
]


@pytest.mark.parametrize(
    ("rows", "heads"),
    HEADS,
    ids=[
        "one head per order across backends",
        "a retry not yet due holds back its order",
        "a live lease holds back its order, an expired one does not",
        "delivered and rejected changes hold nothing back",
        "in queue order, not in the order they fell due",
    ],
)
async def test_the_due_heads_are_each_orders_oldest_free_pending_change(
    store: Store, rows: list[Row], heads: list[str]
) -> None:
    ids = await prepare(store, rows)
    due = await outbox.due_heads(store, limit=10)
    assert [e.id for e in due] == [ids[label] for label in heads]


@pytest.mark.parametrize(
    ("limit", "heads"),
    [(1, ["crm-1"]), (2, ["crm-1", "web-2"]), (3, ["crm-1", "web-2", "b2b-3"])],
    ids=["one", "two", "all three"],
)
async def test_the_due_heads_come_oldest_first_up_to_the_limit(
    store: Store, limit: int, heads: list[str]
) -> None:
    ids = await prepare(
        store,
        [
            Row("crm-1", "order-1", CONFIRM, CRM, next_attempt=-timedelta(seconds=1)),
            Row("web-2", "order-2", CONFIRM, WEBSHOP, next_attempt=-timedelta(hours=2)),
            Row("b2b-3", "order-3", CONFIRM, B2B, next_attempt=-timedelta(minutes=5)),
        ],
    )
    due = await outbox.due_heads(store, limit=limit)
    assert [e.id for e in due] == [ids[label] for label in heads]


async def test_a_change_due_this_instant_is_due_and_one_leased_until_now_is_not(
    store: Store, frozen_clock: datetime
) -> None:
    ids = await prepare(
        store,
        [Row("due now", "order-1", CODE), Row("leased until now", "order-2", CODE)],
    )
    await set_entry(store, ids["due now"], next_attempt_at=frozen_clock)
    await set_entry(
        store,
        ids["leased until now"],
        next_attempt_at=frozen_clock - timedelta(minutes=1),
        lease_owner="other",
        lease_until=frozen_clock,
    )
    assert [e.id for e in await outbox.due_heads(store, limit=10)] == [ids["due now"]]


MAKE_DUE_ROWS = [
    Row("crm waiting", "order-1", CONFIRM, CRM, next_attempt=LATER),
    Row("crm waiting, another order", "order-2", CODE, CRM, next_attempt=timedelta(minutes=2)),
    Row("crm due already", "order-3", CODE, CRM, next_attempt=EARLIER),
    Row("crm delivered", "order-4", CODE, CRM, status="delivered", next_attempt=LATER),
    Row("crm rejected", "order-5", CODE, CRM, status="rejected", next_attempt=LATER),
    Row("webshop waiting", "order-6", CODE, WEBSHOP, next_attempt=LATER),
    Row("b2b waiting", "order-7", CODE, B2B, next_attempt=LATER),
]


@pytest.mark.parametrize(
    ("source", "made_due"),
    [
        (CRM, ["crm waiting", "crm waiting, another order"]),
        (WEBSHOP, ["webshop waiting"]),
        (AFFILIATE, []),
    ],
    ids=["CRM", "WEBSHOP", "AFFILIATE (nothing waiting)"],
)
async def test_a_backend_answering_again_makes_only_its_own_waiting_retries_due(
    store: Store, source: OrderSource, made_due: list[str]
) -> None:
    ids = await prepare(store, MAKE_DUE_ROWS)
    labels = {entry_id: label for label, entry_id in ids.items()}
    before_rows = {e.id: at(e.next_attempt_at) for e in await all_entries(store)}

    before = utcnow()
    count = await outbox.make_due(store, source)
    after = utcnow()

    assert count == len(made_due)
    for row in await all_entries(store):
        moment = at(row.next_attempt_at)
        assert moment is not None
        if labels[row.id] in made_due:
            assert before <= moment <= after, labels[row.id]
        else:
            assert moment == before_rows[row.id], labels[row.id]


async def test_a_retry_made_due_is_due_at_once(store: Store) -> None:
    ids = await prepare(
        store,
        [
            Row("crm waiting", "order-1", CONFIRM, CRM, next_attempt=LATER),
            Row("webshop waiting", "order-2", CONFIRM, WEBSHOP, next_attempt=LATER),
        ],
    )
    assert await outbox.due_heads(store, limit=10) == []
    assert await outbox.make_due(store, CRM) == 1
    assert [e.id for e in await outbox.due_heads(store, limit=10)] == [ids["crm waiting"]]


async def test_a_retry_made_due_this_instant_is_due_this_instant(
    store: Store, frozen_clock: datetime
) -> None:
    ids = await prepare(store, [Row("crm waiting", "order-1", CONFIRM, CRM)])
    await set_entry(store, ids["crm waiting"], next_attempt_at=frozen_clock + LATER)
    assert await outbox.make_due(store, CRM) == 1
    assert [e.id for e in await outbox.due_heads(store, limit=10)] == [ids["crm waiting"]]


async def test_a_retry_due_this_instant_is_not_made_due_again(
    store: Store, frozen_clock: datetime
) -> None:
    ids = await prepare(store, [Row("crm due now", "order-1", CONFIRM, CRM)])
    await set_entry(store, ids["crm due now"], next_attempt_at=frozen_clock)
    assert await outbox.make_due(store, CRM) == 0
