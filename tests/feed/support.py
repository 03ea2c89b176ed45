"""Helpers of the change-feed tests that serve the gateway on a real port: a
graphql-transport-ws client, and changes made in the upstreams themselves."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import select
from websockets.asyncio.client import ClientConnection, connect

from backends.base import OrderQuery
from backends.registry import create_adapter
from backends.simkit.server import ServerThread
from domain import ids
from domain.access import Scope
from domain.commands import UpdateStatus
from domain.models import Order, OrderSource, OrderStatus
from feed.events import EventFilter, read_after
from gateway.app import create_app
from gateway.settings import Settings
from store import api_keys
from store.clock import as_utc
from store.engine import Store
from store.tables import SyncCheckpoint
from tests.conftest import empty_store
from tests.feed.conftest import change_upstream, feed_settings
from tests.support import bind_free_port

PROTOCOL = "graphql-transport-ws"
A, W, C, B = OrderSource.AFFILIATE, OrderSource.WEBSHOP, OrderSource.CRM, OrderSource.B2B

EVENTS = """
subscription($after: String, $filter: OrderEventFilter) {
  orderEvents(after: $after, filter: $filter) {
    position kind origin source orderId changed order { id status }
  }
}"""


class Served:
    """The gateway served on a real port, its store, and its simulators' URLs."""

    def __init__(self, settings: Settings, sims: dict[OrderSource, str]) -> None:
        self.settings = settings
        self.sims = sims
        self.ws_url = f"ws://127.0.0.1:{settings.port}/graphql"
        self.store = Store(settings.database_url)
        self.moved: dict[str, OrderStatus] = {}
        self._keys = 0

    async def key(self, *, sources: list[OrderSource] | None = None) -> str:
        self._keys += 1
        made = await api_keys.create(
            self.store,
            name=f"subscriber-{self._keys}",
            scopes=[Scope.ORDERS_READ],
            sources=sources or [],
        )
        return made.secret

    async def wait_loaded(self) -> None:
        """Until the first full load of every backend is done."""
        for _ in range(300):
            async with self.store.session() as session:
                rows = list(await session.exec(select(SyncCheckpoint)))
            if len([r for r in rows if r.last_full_at is not None]) == len(OrderSource):
                return
            await asyncio.sleep(0.05)
        pytest.fail("the first full load did not finish")

    async def polled_after(self, moment: datetime) -> None:
        """Until every backend has been polled again since ``moment``."""
        for _ in range(300):
            async with self.store.session() as session:
                rows = list(await session.exec(select(SyncCheckpoint)))
            done = [r for r in rows if r.last_poll_at and as_utc(r.last_poll_at) > moment]
            if len(done) == len(OrderSource):
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"not every backend was polled after {moment}")

    async def logged(self, count: int, after: int = 0) -> list[Any]:
        """Until the event log holds ``count`` events after ``after``."""
        for _ in range(300):
            events = await read_after(self.store, after, EventFilter(), limit=10_000)
            if len(events) >= count:
                return events
            await asyncio.sleep(0.05)
        pytest.fail(f"the log did not reach {count} events after {after}")


@asynccontextmanager
async def serve(
    settings: Settings, sims: dict[OrderSource, str], *, keep_store: bool = False, **feed: Any
) -> AsyncIterator[Served]:
    """The gateway on a free port, ingesting from ``sims`` (``feed``: its feed settings); a
    shared PostgreSQL store is emptied first unless ``keep_store`` (a second instance)."""
    port = bind_free_port()
    served_settings = feed_settings(settings, sims, **feed).model_copy(update={"port": port})
    served_settings.feed.public_url = f"http://127.0.0.1:{port}"
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL") and not keep_store:
        await empty_store(settings.database_url)
    app = create_app(served_settings)
    with ServerThread({"gateway": app}, {"gateway": port}):
        served = Served(served_settings, sims)
        try:
            yield served
        finally:
            await served.store.aclose()


@asynccontextmanager
async def subscribed(
    url: str, secret: str, variables: dict[str, Any] | None = None, *, in_payload: bool = False
) -> AsyncIterator[ClientConnection]:
    headers = {} if in_payload else {"Authorization": f"Bearer {secret}"}
    async with connect(url, subprotocols=[PROTOCOL], additional_headers=headers) as ws:
        init: dict[str, Any] = {"type": "connection_init"}
        if in_payload:
            init["payload"] = {"Authorization": f"Bearer {secret}"}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": EVENTS, "variables": variables or {}},
        }
        await ws.send(json.dumps(message))
        yield ws


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(30):  # a hang fails the test instead of blocking CI
        message = json.loads(await ws.recv())
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message["payload"]
    event: dict[str, Any] = message["payload"]["data"]["orderEvents"]
    return event


async def movable(
    settings: Settings, source: OrderSource, url: str, *, besides: Collection[str] = ()
) -> Order:
    """An order the upstream lets move on (``NEXT``), newest first, not one of ``besides``
    (global ids): a poll sees an order's state, not each of two quick moves."""
    adapter = create_adapter(source, settings.backend(source).model_copy(update={"base_url": url}))
    try:
        page = await adapter.list_orders(OrderQuery(), offset=0, limit=100)
    finally:
        await adapter.aclose()
    return next(
        o
        for o in page.orders
        if o.status in NEXT and not o.offline and ids.order_id(source, o.upstream_id) not in besides
    )


# A move each upstream allows, in the upstream itself: the order's next status.
NEXT = {OrderStatus.PENDING: OrderStatus.CONFIRMED, OrderStatus.CONFIRMED: OrderStatus.PROCESSING}


async def move(served: Served, source: OrderSource) -> str:
    """An order moved to its next status in the upstream itself (not through the gateway);
    its global id (``served.moved`` keeps the status it was moved to)."""
    url = served.sims[source]
    order = await movable(served.settings, source, url, besides=served.moved)
    target = NEXT[order.status]
    await change_upstream(
        served.settings, source, url, order.upstream_id, UpdateStatus(status=target)
    )
    order_id = ids.order_id(source, order.upstream_id)
    served.moved[order_id] = target
    return order_id
