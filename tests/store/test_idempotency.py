"""Idempotency keys: one winner, the same answer for the same input, a conflict for another
input; a key whose request died (held longer than STALE_S) is taken over, at once when its
change was queued (the change's outcome is the answer); a failed request gives its key back,
an answered one never; after TTL a key starts afresh."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Awaitable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy import update
from sqlmodel import col

from domain.commands import UpdateStatus
from domain.errors import ConflictError
from domain.models import OrderSource, OrderStatus
from store import idempotency, outbox, owners
from store.clock import as_utc, utcnow
from store.engine import Store
from store.tables import IdempotencyRecord

T = TypeVar("T")

ANOTHER_INPUT = "This idempotency key was used with another input."
STILL_RUNNING = "A request with this idempotency key is still running; retry shortly."
FIELD = ["input", "idempotencyKey"]
DIGEST = idempotency.request_hash("updateStatus", {"status": "CONFIRMED"})
OTHER_DIGEST = idempotency.request_hash("updateStatus", {"status": "CANCELLED"})
ANSWER = {"order": ["CRM", "1"], "delivery": {"status": "delivered", "attempts": 1}}


async def guarded(call: Awaitable[T]) -> T:
    """A safety net, not a timing: a claim that loops for ever fails the test instead."""
    return await asyncio.wait_for(call, timeout=10)


async def record(store: Store, key: str) -> IdempotencyRecord | None:
    async with store.session() as session:
        return await session.get(IdempotencyRecord, key)


async def set_created_at(store: Store, key: str, moment: datetime) -> None:
    async with store.session() as session:
        await session.exec(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == key)
            .values(created_at=moment)
        )
        await session.commit()


async def test_the_first_claim_wins_the_key_and_holds_it_in_progress(store: Store) -> None:
    before = utcnow()
    claim = await guarded(idempotency.claim(store, "op:k1", DIGEST, wait_s=1))
    after = utcnow()
    assert (claim.key, claim.response) == ("op:k1", None)
    row = await record(store, "op:k1")
    assert row is not None
    assert (row.request_hash, row.status, row.response) == (DIGEST, "in_progress", None)
    assert before <= as_utc(row.created_at) <= after


async def test_a_waiting_claim_gets_the_first_requests_answer(store: Store) -> None:
    first = await guarded(idempotency.claim(store, "op:k1", DIGEST, wait_s=1))
    assert first.response is None
    waiting = asyncio.create_task(idempotency.claim(store, "op:k1", DIGEST, wait_s=20))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # it waits for the first request's answer
    await idempotency.complete(store, "op:k1", ANSWER)
    claim = await guarded(waiting)
    assert (claim.key, claim.response) == ("op:k1", ANSWER)


CONFLICTS = [
    # the first request's state, this request's input, the answer it gets or the conflict
    ("running", DIGEST, STILL_RUNNING),
    ("running", OTHER_DIGEST, ANOTHER_INPUT),
    ("answered", DIGEST, ANSWER),
    ("answered", OTHER_DIGEST, ANOTHER_INPUT),
]


@pytest.mark.parametrize(
    ("first", "digest", "expected"),
    CONFLICTS,
    ids=[
        "running-same input: still running",
        "running-another input: a conflict",
        "answered-same input: the answer",
        "answered-another input: a conflict",
    ],
)
async def test_a_key_used_again_gets_the_answer_or_says_which_conflict(
    store: Store, first: str, digest: str, expected: str | dict[str, Any]
) -> None:
    await guarded(idempotency.claim(store, "op:k2", DIGEST, wait_s=0))
    if first == "answered":
        await idempotency.complete(store, "op:k2", ANSWER)
    if isinstance(expected, dict):
        claim = await guarded(idempotency.claim(store, "op:k2", digest, wait_s=0))
        assert (claim.key, claim.response) == ("op:k2", expected)
    else:
        with pytest.raises(ConflictError) as raised:
            await guarded(idempotency.claim(store, "op:k2", digest, wait_s=0))
        assert (raised.value.message, raised.value.field) == (expected, FIELD)


async def test_the_same_key_with_another_input_is_a_conflict_at_once(store: Store) -> None:
    """Not the "still running" timeout: the key's request is running and this one would wait
    an hour for it, yet the other input is refused straight away."""
    await guarded(idempotency.claim(store, "op:k2", DIGEST, wait_s=0))
    with pytest.raises(ConflictError) as raised:
        await guarded(idempotency.claim(store, "op:k2", OTHER_DIGEST, wait_s=3600))
    assert (raised.value.message, raised.value.field) == (ANOTHER_INPUT, FIELD)


async def test_a_request_still_running_when_the_wait_ends_is_a_conflict(store: Store) -> None:
    await guarded(idempotency.claim(store, "op:k3", DIGEST, wait_s=0))
    with pytest.raises(ConflictError) as raised:
        await guarded(idempotency.claim(store, "op:k3", DIGEST, wait_s=0.2))
    assert (raised.value.message, raised.value.field) == (STILL_RUNNING, FIELD)
    row = await record(store, "op:k3")
    assert row is not None and row.status == "in_progress"  # the first request keeps it


STALE = timedelta(seconds=idempotency.STALE_S)


@pytest.mark.parametrize(
    ("held_for", "taken_over"),
    [
        (STALE + timedelta(seconds=1), True),
        (STALE + timedelta(days=1), True),
        (STALE - timedelta(seconds=5), False),
    ],
    ids=["just over STALE_S", "a day over", "not yet STALE_S"],
)
async def test_a_key_held_longer_than_stale_s_is_taken_over(
    store: Store, held_for: timedelta, taken_over: bool
) -> None:
    await guarded(idempotency.claim(store, "op:k4", DIGEST, wait_s=0))
    await set_created_at(store, "op:k4", utcnow() - held_for)
    if taken_over:
        before = utcnow()
        claim = await guarded(idempotency.claim(store, "op:k4", DIGEST, wait_s=0))
        assert (claim.key, claim.response) == ("op:k4", None)  # this request runs now
        row = await record(store, "op:k4")
        assert row is not None and (row.status, row.request_hash) == ("in_progress", DIGEST)
        assert as_utc(row.created_at) >= before  # held afresh, by this request
    else:
        with pytest.raises(ConflictError) as raised:
            await guarded(idempotency.claim(store, "op:k4", DIGEST, wait_s=0))
        assert raised.value.message == STILL_RUNNING


async def test_a_key_held_exactly_stale_s_is_not_yet_taken_over(
    store: Store, frozen_clock: datetime
) -> None:
    await guarded(idempotency.claim(store, "op:k4", DIGEST, wait_s=0))
    await set_created_at(store, "op:k4", frozen_clock - STALE)
    with pytest.raises(ConflictError) as raised:
        await guarded(idempotency.claim(store, "op:k4", DIGEST, wait_s=0))
    assert raised.value.message == STILL_RUNNING


@pytest.mark.parametrize(
    ("digest", "expected"),
    [(DIGEST, ANSWER), (OTHER_DIGEST, ANOTHER_INPUT)],
    ids=["same input: the answer", "another input: a conflict"],
)
async def test_an_old_answer_stays_the_answer(
    store: Store, digest: str, expected: str | dict[str, Any]
) -> None:
    await guarded(idempotency.claim(store, "op:k5", DIGEST, wait_s=0))
    await idempotency.complete(store, "op:k5", ANSWER)
    await set_created_at(store, "op:k5", utcnow() - idempotency.TTL + timedelta(minutes=1))
    if isinstance(expected, dict):
        claim = await guarded(idempotency.claim(store, "op:k5", digest, wait_s=0))
        assert claim.response == expected
    else:
        with pytest.raises(ConflictError) as raised:
            await guarded(idempotency.claim(store, "op:k5", digest, wait_s=0))
        assert raised.value.message == expected


async def test_a_stale_key_used_with_another_input_is_still_a_conflict(store: Store) -> None:
    await guarded(idempotency.claim(store, "op:k6", DIGEST, wait_s=0))
    await set_created_at(store, "op:k6", utcnow() - STALE - timedelta(hours=1))
    with pytest.raises(ConflictError) as raised:
        await guarded(idempotency.claim(store, "op:k6", OTHER_DIGEST, wait_s=0))
    assert raised.value.message == ANOTHER_INPUT
    row = await record(store, "op:k6")
    assert row is not None and row.request_hash == DIGEST


async def test_a_key_given_back_while_we_looked_is_won_on_the_next_try(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our insert lost to a request that gave the key back before we could read its row."""
    insert = idempotency._insert
    tries: list[str] = []

    async def lose_the_first_race(store: Store, key: str, digest: str, change_key: str) -> bool:
        tries.append(key)
        return len(tries) > 1 and await insert(store, key, digest, change_key)

    monkeypatch.setattr(idempotency, "_insert", lose_the_first_race)
    claim = await guarded(idempotency.claim(store, "op:k7", DIGEST, wait_s=0))
    assert (claim.key, claim.response, tries) == ("op:k7", None, ["op:k7", "op:k7"])


async def test_complete_stores_the_answer_for_later_requests(store: Store) -> None:
    await guarded(idempotency.claim(store, "op:k8", DIGEST, wait_s=0))
    await idempotency.complete(store, "op:k8", ANSWER)
    row = await record(store, "op:k8")
    assert row is not None and (row.status, row.request_hash) == ("done", DIGEST)
    assert row.response is not None and json.loads(row.response) == ANSWER


@pytest.mark.parametrize(
    ("answered", "runs_again"),
    [(False, True), (True, False)],
    ids=["running: given back", "answered: kept"],
)
async def test_release_gives_back_only_a_key_still_in_progress(
    store: Store, answered: bool, runs_again: bool
) -> None:
    await guarded(idempotency.claim(store, "op:k9", DIGEST, wait_s=0))
    if answered:
        await idempotency.complete(store, "op:k9", ANSWER)
    await idempotency.release(store, "op:k9")
    claim = await guarded(idempotency.claim(store, "op:k9", DIGEST, wait_s=0))
    assert claim.response == (None if runs_again else ANSWER)


async def test_releasing_a_key_nobody_holds_does_nothing(store: Store) -> None:
    await idempotency.release(store, "op:never-claimed")
    assert await record(store, "op:never-claimed") is None


def sha256(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


@pytest.mark.parametrize(
    ("operation", "payload", "body"),
    [
        (
            "updateStatus",
            {"status": "CONFIRMED", "orderId": "T3JkZXI6Q1JNOjE"},
            '{"input": {"orderId": "T3JkZXI6Q1JNOjE", "status": "CONFIRMED"},'
            ' "operation": "updateStatus"}',
        ),
        (
            "splitOrder",
            {"lines": [{"quantity": Decimal("1.5"), "lineId": "L1"}]},
            '{"input": {"lines": [{"lineId": "L1", "quantity": "1.5"}]},'
            ' "operation": "splitOrder"}',
        ),
        ("setDiscountCode", None, '{"input": null, "operation": "setDiscountCode"}'),
    ],
    ids=["plain input", "decimals hash as their text", "no input"],
)
def test_the_request_hash_is_the_sha256_of_the_sorted_json(
    operation: str, payload: Any, body: str
) -> None:
    """Hashes stored by an earlier release must still match: the format is fixed."""
    assert idempotency.request_hash(operation, payload) == sha256(body)


SAME_HASH = [
    ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"d": 3, "c": 2}, "a": 1}),
    ({"status": "CONFIRMED", "note": None}, {"note": None, "status": "CONFIRMED"}),
]


@pytest.mark.parametrize(
    ("one", "other"), SAME_HASH, ids=["nested keys reordered", "top-level keys reordered"]
)
def test_the_same_input_in_any_key_order_has_the_same_hash(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert idempotency.request_hash("op", one) == idempotency.request_hash("op", other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("updateStatus", {"status": "CONFIRMED"}), ("dispatchOrder", {"status": "CONFIRMED"})),
        (("updateStatus", {"status": "CONFIRMED"}), ("updateStatus", {"status": "CANCELLED"})),
        (("updateStatus", {"status": "CONFIRMED"}), ("updateStatus", {"state": "CONFIRMED"})),
        (("op", {"quantity": Decimal("1")}), ("op", {"quantity": Decimal("2")})),
    ],
    ids=["another operation", "another value", "another field", "another decimal"],
)
def test_another_operation_or_input_has_another_hash(
    one: tuple[str, Any], other: tuple[str, Any]
) -> None:
    assert idempotency.request_hash(*one) != idempotency.request_hash(*other)


# --- keys tied to their change, and their expiry ------------------------------------------


async def queued_under(
    store: Store, change_key: str, order: str, *, lease_s: float = 0, owner: str = "first"
) -> outbox.Change:
    """A change queued under the claim's ``change_key``; ``lease_s``: its delivery still held
    by ``owner`` (0: the request that queued it is gone)."""
    return await outbox.enqueue(
        store,
        order_id=order,
        source=OrderSource.CRM,
        upstream_id=order.removeprefix("order-"),
        reference=None,
        command=UpdateStatus(status=OrderStatus.CONFIRMED),
        idempotency_key=change_key,
        actor="tester",
        owner=owner,
        lease_s=lease_s,
    )


async def test_a_retry_finds_the_change_an_unanswered_request_queued_at_once(
    store: Store,
) -> None:
    first = await guarded(idempotency.claim(store, "op:k20", DIGEST, wait_s=0))
    assert first.change_key.startswith("og-")
    # The first request queued its change, then its process died before it answered.
    change = await queued_under(store, first.change_key, "order-20")
    # wait_s=0: without the link the retry would be a "still running" conflict.
    retry = await guarded(idempotency.claim(store, "op:k20", DIGEST, wait_s=0))
    assert (retry.response, retry.change_id) == (None, change.entry.id)
    with pytest.raises(ConflictError, match="another input"):
        await guarded(idempotency.claim(store, "op:k20", OTHER_DIGEST, wait_s=0))


async def test_an_unanswered_request_with_nothing_queued_still_holds_its_key(
    store: Store,
) -> None:
    first = await guarded(idempotency.claim(store, "op:k21", DIGEST, wait_s=0))
    with pytest.raises(ConflictError) as raised:
        await guarded(idempotency.claim(store, "op:k21", DIGEST, wait_s=0))
    assert raised.value.message == STILL_RUNNING
    row = await record(store, "op:k21")
    assert row is not None and row.change_key == first.change_key


@pytest.mark.parametrize("done", [True, False], ids=["answered", "unanswered"])
async def test_after_its_ttl_a_key_starts_afresh(store: Store, done: bool) -> None:
    first = await guarded(idempotency.claim(store, "op:k22", DIGEST, wait_s=0))
    if done:
        await idempotency.complete(store, "op:k22", ANSWER)
    await set_created_at(store, "op:k22", utcnow() - idempotency.TTL - timedelta(seconds=1))
    again = await guarded(idempotency.claim(store, "op:k22", OTHER_DIGEST, wait_s=0))
    assert again.response is None and again.change_id is None
    assert again.change_key != first.change_key
    row = await record(store, "op:k22")
    assert row is not None and row.request_hash == OTHER_DIGEST


async def test_a_key_whose_change_was_queued_is_not_given_back(store: Store) -> None:
    first = await guarded(idempotency.claim(store, "op:k23", DIGEST, wait_s=0))
    change = await queued_under(store, first.change_key, "order-23")
    await idempotency.release(store, "op:k23")  # the request failed after queueing
    retry = await guarded(idempotency.claim(store, "op:k23", DIGEST, wait_s=0))
    assert retry.change_id == change.entry.id  # the same change, not a second one


async def test_a_key_whose_change_still_waits_does_not_expire(store: Store) -> None:
    first = await guarded(idempotency.claim(store, "op:k24", DIGEST, wait_s=0))
    change = await queued_under(store, first.change_key, "order-24")
    await set_created_at(store, "op:k24", utcnow() - idempotency.TTL - timedelta(hours=1))
    retry = await guarded(idempotency.claim(store, "op:k24", DIGEST, wait_s=0))
    assert retry.change_id == change.entry.id


async def test_two_retries_of_an_expired_key_do_not_both_win_it(store: Store) -> None:
    await guarded(idempotency.claim(store, "op:k25", DIGEST, wait_s=0))
    await set_created_at(store, "op:k25", utcnow() - idempotency.TTL - timedelta(hours=1))
    outcomes = await asyncio.gather(
        *(guarded(idempotency.claim(store, "op:k25", DIGEST, wait_s=0)) for _ in range(2)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, idempotency.Claim) and o.response is None]
    assert len(winners) == 1, outcomes
    [loser] = [o for o in outcomes if o not in winners]
    assert isinstance(loser, ConflictError) and loser.message == STILL_RUNNING


async def test_while_its_change_is_being_delivered_a_retry_waits_for_the_first_answer(
    store: Store,
) -> None:
    first = await guarded(idempotency.claim(store, "op:k26", DIGEST, wait_s=0))
    change = await queued_under(store, first.change_key, "order-26", lease_s=60)
    waiting = asyncio.ensure_future(idempotency.claim(store, "op:k26", DIGEST, wait_s=30))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # it waits for the answer, not for the change's state
    await idempotency.complete(store, "op:k26", ANSWER)
    assert (await guarded(waiting)).response == ANSWER
    assert change.entry.id is not None


async def test_a_wait_that_ends_during_the_delivery_answers_the_change_not_conflict(
    store: Store,
) -> None:
    first = await guarded(idempotency.claim(store, "op:k27", DIGEST, wait_s=0))
    change = await queued_under(store, first.change_key, "order-27", lease_s=60)
    retry = await guarded(idempotency.claim(store, "op:k27", DIGEST, wait_s=0))
    assert retry.change_id == change.entry.id


# This pid under a process started at another time: a holder killed with kill -9, its pid
# since reused (on this host, in this PID namespace).
GONE = f"{owners.HOST}:{owners.SPACE}:{os.getpid()}:1:h"


async def test_a_retry_answers_at_once_a_change_a_gone_process_was_delivering(
    store: Store,
) -> None:
    first = await guarded(idempotency.claim(store, "op:k28", DIGEST, wait_s=0))
    change = await queued_under(store, first.change_key, "order-28", lease_s=60, owner=GONE)
    # Its lease runs 60 s more, yet the retry does not wait for it (a live holder: it would).
    retry = await guarded(idempotency.claim(store, "op:k28", DIGEST, wait_s=3600))
    assert retry.change_id == change.entry.id


async def test_a_key_a_gone_process_held_before_queueing_is_taken_over_at_once(
    store: Store,
) -> None:
    first = await guarded(idempotency.claim(store, "op:k29", DIGEST, wait_s=0))
    async with store.session() as session:
        await session.exec(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == "op:k29")
            .values(owner=GONE)
        )
        await session.commit()
    # Well inside STALE_S, yet the key is taken over: its holder is known gone.
    again = await guarded(idempotency.claim(store, "op:k29", DIGEST, wait_s=3600))
    assert (again.response, again.change_id) == (None, None)
    assert again.change_key != first.change_key
    row = await record(store, "op:k29")
    assert row is not None and row.owner == owners.this_process()


async def test_purging_deletes_expired_keys_but_those_whose_change_still_waits(
    store: Store,
) -> None:
    old = utcnow() - idempotency.TTL - timedelta(seconds=1)
    for key in ("op:answered", "op:unanswered", "op:waiting", "op:fresh"):
        await guarded(idempotency.claim(store, key, DIGEST, wait_s=0))
    await idempotency.complete(store, "op:answered", ANSWER)
    waiting = await record(store, "op:waiting")
    assert waiting is not None and waiting.change_key
    await queued_under(store, waiting.change_key, "order-30")
    for key in ("op:answered", "op:unanswered", "op:waiting"):
        await set_created_at(store, key, old)
    assert await idempotency.purge_expired(store) == 2
    assert await record(store, "op:answered") is None
    assert await record(store, "op:unanswered") is None
    assert await record(store, "op:waiting") is not None  # its change is still to be answered
    assert await record(store, "op:fresh") is not None
