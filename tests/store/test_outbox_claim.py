"""Claiming a change: only a pending change whose lease is free, its claimer's own or run out,
and that is the oldest pending change of its order, can be taken; taking over a lease that
was never given back marks that attempt's outcome unknown."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.commands import SetDiscountCode, UpdateStatus
from domain.models import OrderStatus
from store import outbox
from store.clock import utcnow
from store.engine import Store
from tests.store.outbox_support import at, entry, queue, set_entry, within

# The lease an entry is in before the claim: (lease_owner, lease_until from now).
LEASES: dict[str, tuple[str | None, timedelta | None]] = {
    "free": (None, None),
    "own": ("me", timedelta(seconds=30)),
    "another's live": ("other", timedelta(seconds=30)),
    "another's expired": ("other", timedelta(seconds=-30)),
}

CLAIMS = [
    # status of the entry, its lease, oldest pending of its order, claimed by "me"
    ("pending", "free", True, True),
    ("pending", "own", True, True),
    ("pending", "another's live", True, False),
    ("pending", "another's expired", True, True),
    ("pending", "free", False, False),
    ("pending", "own", False, False),
    ("pending", "another's live", False, False),
    ("pending", "another's expired", False, False),
    ("delivered", "free", True, False),
    ("delivered", "own", True, False),
    ("delivered", "another's live", True, False),
    ("delivered", "another's expired", True, False),
    ("delivered", "free", False, False),
    ("delivered", "own", False, False),
    ("delivered", "another's live", False, False),
    ("delivered", "another's expired", False, False),
    ("rejected", "free", True, False),
    ("rejected", "own", True, False),
    ("rejected", "another's live", True, False),
    ("rejected", "another's expired", True, False),
    ("rejected", "free", False, False),
    ("rejected", "own", False, False),
    ("rejected", "another's live", False, False),
    ("rejected", "another's expired", False, False),
]


@pytest.mark.parametrize(
    ("status", "lease", "oldest", "claimed"),
    CLAIMS,
    ids=[
        f"{status}-{lease} lease-{'oldest' if oldest else 'behind another'}"
        for status, lease, oldest, _ in CLAIMS
    ],
)
async def test_only_a_free_pending_change_at_the_head_of_its_order_can_be_claimed(
    store: Store, status: str, lease: str, oldest: bool, claimed: bool
) -> None:
    if not oldest:
        await queue(store, "order-1", UpdateStatus(status=OrderStatus.CONFIRMED), 0)
    change = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 1)
    owner, until = LEASES[lease]
    lease_until = None if until is None else utcnow() + until
    await set_entry(
        store, change.entry.id, status=status, lease_owner=owner, lease_until=lease_until
    )

    before = utcnow()
    result = await outbox.claim(store, change.entry.id, owner="me", lease_s=45)
    after = utcnow()

    row = await entry(store, change.entry.id)
    if claimed:
        assert result is not None
        assert (result.entry.id, result.command) == (change.entry.id, SetDiscountCode(code="VIP15"))
        assert result.entry.lease_owner == "me" == row.lease_owner
        lease_s = timedelta(seconds=45)
        assert within(row.lease_until, before + lease_s, after + lease_s)
    else:
        assert result is None
        assert (row.status, row.lease_owner, at(row.lease_until)) == (status, owner, lease_until)


@pytest.mark.parametrize(
    ("earlier_status", "earlier_order"),
    [
        ("delivered", "order-1"),
        ("rejected", "order-1"),
        ("pending", "order-2"),
    ],
    ids=[
        "a delivered earlier change of its order",
        "a rejected earlier change of its order",
        "a pending earlier change of another order",
    ],
)
async def test_only_a_pending_change_of_the_same_order_holds_a_change_back(
    store: Store, earlier_status: str, earlier_order: str
) -> None:
    earlier = await queue(store, earlier_order, UpdateStatus(status=OrderStatus.CONFIRMED), 0)
    await set_entry(store, earlier.entry.id, status=earlier_status)
    change = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 1)
    assert await outbox.claim(store, change.entry.id, owner="me", lease_s=30) is not None


@pytest.mark.parametrize(
    ("status", "error"),
    [("delivered", None), ("rejected", "No discount code 'NOPE'")],
    ids=["delivered", "rejected"],
)
async def test_a_finished_change_is_never_claimed_again(
    store: Store, status: str, error: str | None
) -> None:
    change = await queue(store, "order-1", SetDiscountCode(code="NOPE"), 1)
    claimed = await outbox.claim(store, change.entry.id, owner="a", lease_s=30)
    assert claimed is not None
    if status == "delivered":
        await outbox.mark_delivered(store, claimed, seen=[], shipment=None)
    else:
        await outbox.mark_rejected(store, claimed, "No discount code 'NOPE'")
    for owner in ("a", "b"):
        assert await outbox.claim(store, change.entry.id, owner=owner, lease_s=30) is None
    row = await entry(store, change.entry.id)
    assert (row.status, row.attempts, row.lease_owner, row.last_error) == (status, 1, None, error)


UNKNOWN_OUTCOMES = [
    # lease before the claim, outcome already unknown, outcome unknown after the claim
    ("free", False, False),
    ("free", True, True),
    ("own", False, False),
    ("own", True, True),
    ("another's expired", False, True),
    ("another's expired", True, True),
]


@pytest.mark.parametrize(
    ("lease", "unknown_before", "unknown_after"),
    UNKNOWN_OUTCOMES,
    ids=[f"{lease} lease-{'unknown' if u else 'known'} before" for lease, u, _ in UNKNOWN_OUTCOMES],
)
async def test_only_taking_over_another_deliverers_lease_makes_the_outcome_unknown(
    store: Store, lease: str, unknown_before: bool, unknown_after: bool
) -> None:
    change = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 1)
    owner, until = LEASES[lease]
    await set_entry(
        store,
        change.entry.id,
        lease_owner=owner,
        lease_until=None if until is None else utcnow() + until,
        outcome_unknown=unknown_before,
    )
    claimed = await outbox.claim(store, change.entry.id, owner="me", lease_s=30)
    assert claimed is not None and claimed.entry.outcome_unknown is unknown_after
    assert (await entry(store, change.entry.id)).outcome_unknown is unknown_after


async def test_a_lease_holds_until_its_last_instant(store: Store, frozen_clock: datetime) -> None:
    change = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 1)
    await set_entry(store, change.entry.id, lease_owner="other", lease_until=frozen_clock)
    assert await outbox.claim(store, change.entry.id, owner="me", lease_s=30) is None
    await set_entry(store, change.entry.id, lease_until=frozen_clock - timedelta(microseconds=1))
    assert await outbox.claim(store, change.entry.id, owner="me", lease_s=30) is not None


async def test_claiming_an_unknown_change_finds_nothing(store: Store) -> None:
    change = await queue(store, "order-1", SetDiscountCode(code="VIP15"), 1)
    assert change.entry.id is not None
    assert await outbox.claim(store, change.entry.id + 1, owner="me", lease_s=30) is None
