"""The change feed across processes: a gateway killed (SIGKILL) while the upstreams change
records every change exactly once after its restart; two gateway instances on one PostgreSQL
and Redis hand a change one of them ingested to a subscriber of the other."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.registry import create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import ServerThread
from domain.models import OrderSource
from feed.events import EventFilter, encode_position, latest_position, read_after
from gateway.settings import Settings
from store.clock import utcnow
from tests.conftest import empty_store
from tests.feed.support import Served, move, next_event, serve, subscribed
from tests.support import GatewayProcess, bind_free_port, needs

RESTART_SIM = SimConfig(seed=23, orders=60)


@pytest.fixture
def restart_sims() -> Iterator[dict[OrderSource, str]]:
    apps = {source.value: create_simulator(source, RESTART_SIM) for source in OrderSource}
    with ServerThread(apps) as servers:
        yield {source: servers.urls[source.value] for source in OrderSource}


def gateway_process(database: str, sims: dict[OrderSource, str]) -> GatewayProcess:
    """``ordergate run`` as a process of its own, ingesting from ``sims``."""
    port = bind_free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ORDERGATE_SIMULATORS": "false",
        "ORDERGATE_PORT": str(port),
        "ORDERGATE_DATABASE_URL": database,
        "ORDERGATE_LOG_LEVEL": "warning",
        "ORDERGATE_FEED__POLL_INTERVAL_S": "0.2",
        "ORDERGATE_FEED__BACKUP_POLL_S": "0.5",
        "ORDERGATE_FEED__PUBLIC_URL": url,
        **{f"ORDERGATE_{s.value}__BASE_URL": sim for s, sim in sims.items()},
    }
    return GatewayProcess(env, port)


async def test_changes_made_while_the_gateway_is_killed_are_recorded_exactly_once(
    settings: Settings, restart_sims: dict[OrderSource, str], tmp_path: Path
) -> None:
    database = os.environ.get("ORDERGATE_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/feed.db"
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL"):
        await empty_store(database)
    gateway = gateway_process(database, restart_sims)
    # The test's own view of the store, and its way of changing the simulators.
    served = Served(settings.model_copy(update={"database_url": database}), restart_sims)
    store = served.store
    rng = random.Random(5)
    try:
        gateway.start()
        await served.wait_loaded()
        before = await latest_position(store)
        changed: list[str] = []
        for step in range(24):
            changed.append(await move(served, rng.choice(list(OrderSource))))
            if step == 8:
                gateway.kill()  # changes go on upstream while it is down
            if step == 16:
                gateway.start()
        for _ in range(600):  # until every changed order is in the log after the changes
            after = await read_after(store, before, EventFilter(), limit=1000)
            if {e.order_id for e in after} >= set(changed):
                break
            await asyncio.sleep(0.05)
        await served.polled_after(utcnow())  # one more round: a double count would show
        everything = await read_after(store, 0, EventFilter(), limit=100_000)
    finally:
        if gateway.process is not None and gateway.process.poll() is None:
            gateway.kill()
        await store.aclose()
    created = Counter(e.order_id for e in everything if e.kind == "CREATED")
    assert set(created.values()) == {1}  # the restart's new full load made no second CREATED
    moves = Counter(e.order_id for e in everything if e.kind == "STATUS_CHANGED")
    assert moves == Counter(changed)  # every change once: none lost, none twice
    positions = [e.position for e in everything]
    assert positions == sorted(positions)


async def test_a_change_ingested_by_one_instance_reaches_a_subscriber_of_the_other(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    """One ingests; the other ingests nothing and reads its log only when Redis wakes it
    (its own tick is an hour): the event can only reach its subscriber through Redis."""
    if not settings.database_url.startswith("postgresql"):
        needs("two instances share a PostgreSQL store (ORDERGATE_TEST_DATABASE_URL)")
    redis_url = os.environ.get("ORDERGATE_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(redis_url).ping()
    except Exception:
        needs(f"Redis at {redis_url}")
    shared = settings.model_copy(update={"redis_url": redis_url})
    async with serve(shared, own_sims, affiliate_webhooks=False) as ingesting:
        await ingesting.wait_loaded()
        async with serve(shared, own_sims, ingest=False, tick_s=3600, keep_store=True) as other:
            start = encode_position(await latest_position(other.store))
            async with subscribed(other.ws_url, await other.key(), {"after": start}) as ws:
                moved = await move(ingesting, OrderSource.CRM)
                event = await next_event(ws)
    assert (event["orderId"], event["origin"]) == (moved, "POLL")
