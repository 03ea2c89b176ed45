"""Change-feed benchmark (issue 11).

    .venv/bin/python bench/change_feed.py [--changes 20] [--orders 5000] [--subscribers 1000]

Prints four Markdown tables, each figure beside a floor measured in the same run:

1. **Upstream change -> subscriber**: the gateway (``ordergate run`` in a process of its own,
   simulators in another) ingesting, one graphql-transport-ws subscriber; ``--changes``
   status changes made directly in the affiliate platform (the webhook path) and in the CRM
   (the poll path, ``feed.poll_interval_s`` 1 s here); p50/p99 from the change's answer to the
   event at the subscriber. Floor: the change itself (the upstream write, called directly).
2. **Full load**: ``Poller.full`` of each backend at ``--orders`` orders (a simulator process
   of its own), orders/s; floor: the same pages read directly from the upstream, no parse.
3. **Fan-out**: one event to ``--subscribers`` subscribers of one process's hub (in process:
   the store read and the hand-out; each subscriber takes its event from its queue), p50/p99
   over 20 events, from the commit to the last subscriber; floor: one store read of one event.
4. **search**: ``orders(filter: {search: <customer e-mail>})`` answered from the index
   (SQLite FTS5), p50 over 50 requests to the gateway, beside the same search across the
   four upstreams (what ``orders`` did before the index: every backend's listing scanned).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.base import OrderQuery
from backends.registry import create_adapter
from backends.simkit.server import ServerThread
from bench.harness import measured_on, simulators_process
from domain.access import ALL_SCOPES
from domain.commands import UpdateStatus
from domain.models import Money, Order, OrderSource, OrderStatus, OrderTotals, PaymentStatus
from feed.events import EventFilter, read_after
from feed.hub import EventHub
from feed.index import ChangeOrigin, Observed, observe
from feed.poller import Poller
from gateway.app import create_app
from gateway.settings import Settings
from store import api_keys
from store.engine import Store

A, C = OrderSource.AFFILIATE, OrderSource.CRM
POLL_INTERVAL_S = 1.0
UNLIMITED = {"bucket_size": 1e9, "restore_rate": 1e9}  # benchmarks time work, not budgets
SUBSCRIPTION = """subscription($after: String) { orderEvents(after: $after) {
  position orderId origin } }"""


def an_order(version: int) -> Order:
    """One order whose every version is a change (its upstream status names the version)."""
    zero = Money(Decimal("0"), "EUR")
    now = datetime.now(UTC)
    return Order(
        source=A,
        upstream_id="1",
        status=OrderStatus.PENDING,
        upstream_status=f"v{version}",
        payment_status=PaymentStatus.NONE,
        currency="EUR",
        totals=OrderTotals(gross=zero, discount=zero, shipping=zero, tax=zero, total=zero),
        created_at=now,
        updated_at=now,
    )


def ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def row(
    name: str, figure: tuple[float, float], floor: tuple[float, float], unit: str = "ms"
) -> str:
    ratio = figure[0] / floor[0] if floor[0] else float("nan")
    return (
        f"| {name} | {figure[0]:.1f} / {figure[1]:.1f} {unit} | "
        f"{floor[0]:.1f} / {floor[1]:.1f} {unit} | {ratio:.1f} |"
    )


def settings_for(sims: dict[OrderSource, str], database: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database,
        simulators=False,
        **{s.value.lower(): {"base_url": url} for s, url in sims.items()},
        **extra,
    )


async def movable_ids(
    settings: Settings, source: OrderSource, count: int
) -> list[tuple[str, OrderStatus]]:
    adapter = create_adapter(source, settings.backend(source))
    try:
        found: list[tuple[str, OrderStatus]] = []
        offset = 0
        while len(found) < count:
            page = await adapter.list_orders(OrderQuery(), offset=offset, limit=100)
            nexts = {
                OrderStatus.PENDING: OrderStatus.CONFIRMED,
                OrderStatus.CONFIRMED: OrderStatus.PROCESSING,
            }
            found += [
                (o.upstream_id, nexts[o.status])
                for o in page.orders
                if o.status in nexts and not o.offline
            ]
            offset += len(page.orders)
            if page.exhausted:
                break
        return found[:count]
    finally:
        await adapter.aclose()


async def change_to_subscriber(changes: int) -> list[str]:
    with (
        simulators_process(orders=max(120, changes * 8)) as sims,
        tempfile.TemporaryDirectory() as tmp,
    ):
        database = f"sqlite:///{tmp}/feed.db"
        port = 18_931
        env = {
            **os.environ,
            "ORDERGATE_SIMULATORS": "false",
            "ORDERGATE_PORT": str(port),
            "ORDERGATE_DATABASE_URL": database,
            "ORDERGATE_LOG_LEVEL": "warning",
            "ORDERGATE_FEED__POLL_INTERVAL_S": str(POLL_INTERVAL_S),
            "ORDERGATE_FEED__PUBLIC_URL": f"http://127.0.0.1:{port}",
            **{f"ORDERGATE_{s.value}__BASE_URL": url for s, url in sims.items()},
        }
        gateway = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "gateway.cli", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(300):
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            settings = settings_for(sims, database)
            store = Store(database)
            secret = (await api_keys.create(store, name="bench", scopes=ALL_SCOPES)).secret
            await asyncio.sleep(3)  # the first full load and the webhook registration
            rows = []
            for source, path in ((A, "WEBHOOK"), (C, "POLL")):
                targets = await movable_ids(settings, source, changes)
                adapter = create_adapter(source, settings.backend(source))
                latencies, floors = [], []
                async with connect(
                    f"ws://127.0.0.1:{port}/graphql",
                    subprotocols=["graphql-transport-ws"],
                    additional_headers={"Authorization": f"Bearer {secret}"},
                ) as ws:
                    await ws.send(json.dumps({"type": "connection_init"}))
                    await ws.recv()
                    await ws.send(
                        json.dumps(
                            {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
                        )
                    )
                    await asyncio.sleep(0.5)
                    for upstream_id, status in targets:
                        # at a random moment of the poll interval, as changes come
                        await asyncio.sleep(random.uniform(0, POLL_INTERVAL_S))
                        sent = time.perf_counter()
                        await adapter.execute(
                            upstream_id,
                            UpdateStatus(status=status),
                            idempotency_key=uuid.uuid4().hex,
                        )
                        answered = time.perf_counter()
                        while True:
                            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                            event = message["payload"]["data"]["orderEvents"]
                            if event["origin"] == path:
                                break
                        latencies.append(time.perf_counter() - answered)
                        floors.append(answered - sent)
                await adapter.aclose()
                rows.append(row(f"{source.value} ({path.lower()})", ms(latencies), ms(floors)))
            await store.aclose()
            return rows
        finally:
            gateway.kill()
            await gateway.wait()


async def full_load(orders: int) -> list[str]:
    rows = []
    with simulators_process(orders=orders) as sims, tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/load.db"
        settings = settings_for(sims, database)
        store = Store(database)
        await store.migrate()
        backends = {s: create_adapter(s, settings.backend(s)) for s in OrderSource}
        poller = Poller(store, backends)
        for source, backend in backends.items():
            # floor: the same listing pages, read directly (the adapter's own HTTP client)
            started = time.perf_counter()
            offset = 0
            while True:
                page = await backend.list_orders(
                    OrderQuery(include_deleted=True), offset=offset, limit=100
                )
                offset += len(page.orders)
                if page.exhausted or not page.orders:
                    break
            direct = offset / (time.perf_counter() - started)
            started = time.perf_counter()
            await poller.full(source)
            loaded = offset / (time.perf_counter() - started)
            rows.append(
                f"| {source.value} | {offset} | {loaded:,.0f} orders/s | {direct:,.0f} orders/s "
                f"(read + parse only) | {direct / loaded:.1f} |"
            )
        await asyncio.gather(*(b.aclose() for b in backends.values()))
        await store.aclose()
    return rows


async def fan_out(subscribers: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/fan.db")
        await store.migrate()
        hub = EventHub(store, tick_s=60)
        runner = asyncio.create_task(hub.run())
        received: list[asyncio.Queue[float]] = [asyncio.Queue() for _ in range(subscribers)]

        async def subscriber(queue: asyncio.Queue[float]) -> None:
            async for _event in hub.subscribe(EventFilter(), after=None):
                queue.put_nowait(time.perf_counter())

        tasks = [asyncio.create_task(subscriber(q)) for q in received]
        for _ in range(1000):  # until every subscriber is registered with the hub
            if hub.subscribers == subscribers:
                break
            await asyncio.sleep(0.01)
        spans, floors = [], []
        for n in range(20):
            await observe(store, [Observed(an_order(n))], ChangeOrigin.POLL)
            committed = time.perf_counter()
            await hub.notify()
            last = max([await q.get() for q in received])
            spans.append(last - committed)
            started = time.perf_counter()
            await read_after(store, 0, EventFilter(), limit=1)
            floors.append(time.perf_counter() - started)
        for task in tasks:
            task.cancel()
        runner.cancel()
        await asyncio.gather(*tasks, runner, return_exceptions=True)
        await store.aclose()
    return [row(f"one event to {subscribers} subscribers", ms(spans), ms(floors))]


SEARCH = """query($q: String!) { orders(first: 50, filter: {search: $q}) {
  edges { node { id source } } } }"""


async def search(requests: int) -> list[str]:
    """One gateway answering from the index (ingesting), one searching the upstreams (the
    listing scan ``orders`` did before the index), the same simulators; the regular shopper's
    e-mail (every simulator of a seed has her)."""
    from backends.simkit.fake import regular

    needle = regular(42).email
    with simulators_process(orders=120) as sims, tempfile.TemporaryDirectory() as tmp:
        rows = []
        timings: dict[str, list[float]] = {}
        for name, feed in (
            ("index", {"ingest": True, "index_search": True, "poll_interval_s": 3600}),
            ("upstreams", {"ingest": False, "index_search": False}),
        ):
            database = f"sqlite+aiosqlite:///{tmp}/{name}.db"
            settings = settings_for(
                sims, database, feed=feed, log_level="warning", limits=UNLIMITED
            )
            with ServerThread({"gateway": create_app(settings)}) as server:
                store = Store(database)
                secret = (await api_keys.create(store, name="bench", scopes=ALL_SCOPES)).secret
                headers = {"Authorization": f"Bearer {secret}"}
                async with httpx.AsyncClient(
                    base_url=server.urls["gateway"], headers=headers
                ) as http:
                    for _ in range(600):  # until the index answers (its first load is done)
                        body = (
                            await http.post(
                                "/graphql", json={"query": SEARCH, "variables": {"q": needle}}
                            )
                        ).json()
                        if "errors" not in body:
                            break
                        await asyncio.sleep(0.1)
                    spent = []
                    for _ in range(requests):
                        started = time.perf_counter()
                        answer = await http.post(
                            "/graphql", json={"query": SEARCH, "variables": {"q": needle}}
                        )
                        spent.append(time.perf_counter() - started)
                        assert "errors" not in answer.json(), answer.text
                    timings[name] = spent
                    found = {e["node"]["source"] for e in answer.json()["data"]["orders"]["edges"]}
                await store.aclose()
            rows.append((name, found))
        index, live = ms(timings["index"]), ms(timings["upstreams"])
        sources = ", ".join(sorted(rows[0][1]))
        return [
            f"| from the index ({sources}) | {index[0]:.1f} / {index[1]:.1f} ms | "
            f"{live[0]:.1f} / {live[1]:.1f} ms | {live[0] / index[0]:.1f}x faster |"
        ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    print(measured_on("bench/change_feed.py"))
    print("\n1. upstream change -> subscriber (p50 / p99)\n")
    print("| path | change -> subscriber | floor: the upstream write | ratio |")
    print("|---|---:|---:|---:|")
    for line in await change_to_subscriber(args.changes):
        print(line)
    print(f"\n2. full load at {args.orders} orders per backend\n")
    print("| backend | orders | into the index | floor: the pages read directly | ratio |")
    print("|---|---:|---:|---:|---:|")
    for line in await full_load(args.orders):
        print(line)
    print("\n3. fan-out (p50 / p99)\n")
    print("| what | commit -> last subscriber | floor: one store read | ratio |")
    print("|---|---:|---:|---:|")
    for line in await fan_out(args.subscribers):
        print(line)
    print("\n4. search for a customer's e-mail (p50 / p99)\n")
    print("| answered | p50 / p99 | floor: across the four upstreams | ratio |")
    print("|---|---:|---:|---:|")
    for line in await search(50):
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
