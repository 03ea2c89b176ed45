"""No silent drift in the demo: the simulators seed their orders afresh on every start, and
so does the demo's store — its history, queued changes and index never tell of states the
simulators no longer hold. Outside the demo, nothing is forgotten."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from domain.access import Scope
from gateway.app import prepare_store
from gateway.settings import Settings
from store import api_keys
from store.engine import Store
from store.events import record_event
from tests.conftest import empty_store


async def rows(store: Store, table: str) -> int:
    async with store.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


@pytest.mark.parametrize("demo", [True, False])
async def test_a_demo_start_forgets_the_orders_of_the_last_run_and_keeps_the_keys(
    settings: Settings, demo: bool
) -> None:
    if settings.database_url.startswith("postgresql"):
        await empty_store(settings.database_url)  # a shared database: no earlier test's rows
    store = Store(settings.database_url)
    try:
        await store.migrate()
        await record_event(store, "T3JkZXI6Q1JNOjE", "STATUS_CHANGED", detail="from a last run")
        await api_keys.create(store, name="partner", scopes=[Scope.ORDERS_READ])
        restarted = settings.model_copy(update={"simulators": demo})
        await prepare_store(restarted, store)
        assert await rows(store, "order_events") == (0 if demo else 1)
        names = {k.name for k in await api_keys.list_keys(store)}
        assert "partner" in names
    finally:
        await store.aclose()
