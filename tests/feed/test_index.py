"""The index's rules (``feed.index``): each change recorded once with its kind, whichever of
several observers sees it first; a newer look never lost to an older one, at once or in the
same second; concurrent observers never deadlock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from backends.base import OrderQuery
from backends.registry import create_adapter
from domain import ids
from domain.models import Order, OrderSource, OrderStatus, Shipment
from feed import codec
from feed.index import ChangeOrigin, Observed, classify, observe
from gateway.settings import Settings
from store.clock import utcnow
from store.engine import Store
from store.tables import ChangeEventRecord, IndexedOrder
from tests.conftest import empty_store


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    if settings.database_url.startswith("postgresql"):
        await empty_store(settings.database_url)
    opened = Store(settings.database_url)
    await opened.migrate()
    yield opened
    await opened.aclose()


async def orders(settings: Settings, count: int = 2) -> list[Order]:
    adapter = create_adapter(OrderSource.AFFILIATE, settings.backend(OrderSource.AFFILIATE))
    try:
        return (await adapter.list_orders(OrderQuery(), offset=0, limit=count)).orders
    finally:
        await adapter.aclose()


def edited(order: Order, reference: str, seconds: float = 0) -> Order:
    return dataclasses.replace(
        order, reference=reference, updated_at=order.updated_at + timedelta(seconds=seconds)
    )


async def held(store: Store, order: Order) -> Order:
    async with store.session() as session:
        row = await session.get(IndexedOrder, ids.order_id(order.source, order.upstream_id))
    assert row is not None
    return codec.decode(row.order_json)


async def logged(store: Store) -> list[ChangeEventRecord]:
    async with store.session() as session:
        return list(await session.exec(select(ChangeEventRecord)))


@pytest.mark.parametrize("round_", range(5))  # races: several tries
async def test_of_two_concurrent_looks_the_newer_is_kept_and_logged(
    settings: Settings, store: Store, round_: int
) -> None:
    [v0] = await orders(settings, 1)
    await observe(store, [Observed(v0)], ChangeOrigin.POLL)
    older, newer = edited(v0, "first edit", 1), edited(v0, "second edit", 2)
    looks = [(older, ChangeOrigin.POLL), (newer, ChangeOrigin.WEBHOOK)]
    if round_ % 2:
        looks.reverse()
    await asyncio.gather(*(observe(store, [Observed(o)], origin) for o, origin in looks))
    assert (await held(store, v0)).reference == "second edit"
    assert any('"second edit"' in (e.order_json or "") for e in await logged(store))


@pytest.mark.parametrize("round_", range(3))
async def test_two_first_sightings_at_once_are_one_created_and_the_newer_look(
    settings: Settings, store: Store, round_: int
) -> None:
    [v0] = await orders(settings, 1)
    older, newer = edited(v0, "older look"), edited(v0, "newer look", 5)
    await asyncio.gather(
        observe(store, [Observed(older)], ChangeOrigin.POLL),
        observe(store, [Observed(newer)], ChangeOrigin.WEBHOOK),
    )
    assert (await held(store, v0)).reference == "newer look"
    assert sorted(e.kind for e in await logged(store))[0] == "CREATED"
    assert [e.kind for e in await logged(store)].count("CREATED") == 1


async def test_a_look_of_the_same_second_read_earlier_changes_nothing(
    settings: Settings, store: Store
) -> None:
    """B2B's change dates have whole seconds: a poll page read just before the gateway's own
    write, recorded after it, is not taken for news (it would revert the order)."""
    [v0] = await orders(settings, 1)
    read_early = utcnow()
    await observe(store, [Observed(edited(v0, "written"))], ChangeOrigin.GATEWAY)
    stale = Observed(edited(v0, "before the write"), read_at=read_early)
    assert await observe(store, [stale], ChangeOrigin.POLL) == []
    assert (await held(store, v0)).reference == "written"


async def test_concurrent_observers_of_overlapping_orders_do_not_deadlock(
    settings: Settings, store: Store
) -> None:
    """One page holds X unchanged and Y new, another observation changes X: each locks the
    index before it touches a row, so neither waits for the other's row."""
    x, y = await orders(settings, 2)
    await observe(store, [Observed(x)], ChangeOrigin.POLL)
    for n in range(10):
        results = await asyncio.gather(
            observe(store, [Observed(x), Observed(y)], ChangeOrigin.POLL),
            observe(store, [Observed(edited(x, f"changed {n}", n + 1))], ChangeOrigin.WEBHOOK),
            return_exceptions=True,
        )
        assert not [r for r in results if isinstance(r, BaseException)], results


PARCEL = Shipment(id="p2", consignment_number="CN-2")


@pytest.mark.parametrize(
    ("before", "after", "changed", "kind"),
    [
        (None, {"status": "PENDING"}, [], "CREATED"),
        ({"status": "PENDING"}, {"status": "CONFIRMED"}, ["status"], "STATUS_CHANGED"),
        ({"status": "PROCESSING"}, {"status": "DISPATCHED"}, ["status"], "DISPATCHED"),
        (
            {"status": "DISPATCHED"},
            {"status": "DISPATCHED", "parcel": True},
            ["shipments"],
            "DISPATCHED",
        ),
        ({"status": "PENDING"}, {"status": "PENDING", "split": True}, ["lines"], "SPLIT"),
        ({"status": "PENDING"}, {"status": "PENDING"}, ["reference"], "UPDATED"),
        ({"status": "PENDING"}, {"status": "PENDING", "deleted": True}, ["deleted"], "DELETED"),
    ],
)
async def test_each_change_gets_the_kind_it_is(
    settings: Settings,
    before: dict[str, str] | None,
    after: dict[str, Any],
    changed: list[str],
    kind: str,
) -> None:
    [order] = await orders(settings, 1)
    old = None
    if before is not None:
        old = dataclasses.replace(order, status=OrderStatus(before["status"]), shipments=())
    new = dataclasses.replace(
        order,
        status=OrderStatus(after["status"]),
        shipments=(PARCEL,) if after.get("parcel") else (),
        deleted=bool(after.get("deleted")),
    )
    assert classify(old, new, changed, split=bool(after.get("split"))).value == kind
