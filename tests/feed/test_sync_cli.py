"""`ordergate sync`: a first full load with a progress line per backend, resumable after
Ctrl-C; `ordergate webhooks register`: the receiver registered with the affiliate platform."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from domain.models import OrderSource
from feed.events import EventFilter, read_after
from store.engine import Store
from store.tables import SyncCheckpoint
from tests.conftest import empty_store
from tests.support import SimControlClient, upstream_get, upstream_requests, upstream_total


def every_order(source: OrderSource, url: str) -> int:
    """How many orders the upstream holds, those it marks deleted too (the index keeps them,
    flagged: a CRM order deleted later is a DELETED event)."""
    if source is OrderSource.CRM:
        return int(upstream_get(source, url, "/api/v2/admin/orders", Limit=1)["TotalItemsCount"])
    return upstream_total(source, url)


def command_env(database: str, sims: dict[OrderSource, str]) -> dict[str, str]:
    return {
        **os.environ,
        "ORDERGATE_DATABASE_URL": database,
        "ORDERGATE_LOG_LEVEL": "warning",
        "ORDERGATE_FEED__PAGE_SIZE": "10",
        "ORDERGATE_FEED__PUBLIC_URL": "http://gateway.example:8000",
        **{f"ORDERGATE_{s.value}__BASE_URL": url for s, url in sims.items()},
    }


def ordergate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = os.environ.get("ORDERGATE_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/sync.db"
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL"):
        await empty_store(url)
    store = Store(url)
    try:
        await store.migrate()  # the test reads it before the command has run
    finally:
        await store.aclose()
    return url


async def checkpoints(database: str) -> dict[str, SyncCheckpoint]:
    store = Store(database)
    try:
        async with store.session() as session:
            return {r.source: r for r in await session.exec(select(SyncCheckpoint))}
    finally:
        await store.aclose()


async def created(database: str) -> Counter[str]:
    store = Store(database)
    try:
        events = await read_after(store, 0, EventFilter(), limit=100_000)
    finally:
        await store.aclose()
    return Counter(e.source for e in events if e.kind == "CREATED")


async def test_sync_loads_every_order_of_every_backend_with_progress(
    own_sims: dict[OrderSource, str], database: str
) -> None:
    done = ordergate(command_env(database, own_sims), "sync")
    assert done.returncode == 0, done.stderr
    for source in OrderSource:
        assert f"{source.value}: in step" in done.stdout
        assert (
            f"  {source.value}" in done.stderr and "orders" in done.stderr and "/s" in done.stderr
        )
    counts = await created(database)
    for source in OrderSource:
        assert counts[source.value] == every_order(source, own_sims[source])
    again = ordergate(command_env(database, own_sims), "sync", "--source", "CRM")
    assert again.returncode == 0, again.stderr
    assert "CRM: in step, 0 changes recorded" in again.stdout  # nothing changed upstream


async def test_a_sync_stopped_with_ctrl_c_resumes_where_it_stopped(
    own_sims: dict[OrderSource, str], database: str
) -> None:
    """Stopped part-way (the CRM slowed down so it is still loading), then run again: the
    second run starts at the page the first one reached and records each order once."""
    crm = SimControlClient(own_sims[OrderSource.CRM])
    crm.set_faults(latency_ms=150)
    env = command_env(database, own_sims)
    try:
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "gateway.cli", "sync", "--source", "CRM"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(400):  # until it has read at least one page
            held = (await checkpoints(database)).get("CRM")
            if held is not None and held.full_offset:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            _, raw_stderr = await process.communicate()
        stderr = raw_stderr.decode()
    finally:
        crm.reset_faults()
    assert process.returncode == 130, stderr
    assert "resumes" in stderr
    stopped_at = (await checkpoints(database))["CRM"].full_offset
    assert stopped_at is not None and stopped_at > 0
    crm.reset_stats()
    resumed = ordergate(env, "sync", "--source", "CRM")
    assert resumed.returncode == 0, resumed.stderr
    resumed_reads = upstream_requests(crm)
    total = every_order(OrderSource.CRM, own_sims[OrderSource.CRM])
    assert (await created(database))["CRM"] == total  # each order once
    assert (await checkpoints(database))["CRM"].full_offset is None
    crm.reset_stats()
    from_start = ordergate(env, "sync", "--source", "CRM", "--full")
    assert from_start.returncode == 0, from_start.stderr
    assert resumed_reads < upstream_requests(crm)  # it did not start again from the top


async def test_webhooks_register_points_the_affiliate_platform_at_the_receiver(
    own_sims: dict[OrderSource, str], database: str
) -> None:
    env = command_env(database, own_sims)
    for _ in range(2):  # twice: the second replaces the first
        done = ordergate(env, "webhooks", "register")
        assert done.returncode == 0, done.stderr
    hooks = upstream_get(OrderSource.AFFILIATE, own_sims[OrderSource.AFFILIATE], "/api/v1/webhooks")
    assert [h["url"] for h in hooks["data"]] == ["http://gateway.example:8000/webhooks/affiliate"]
    assert "secret" not in done.stdout.lower() and "whsec" not in done.stdout
