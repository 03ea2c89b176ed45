"""`POST /webhooks/affiliate`: the affiliate platform's signed order events. The signature and
its timestamp are the credential: a forged, stale or unsigned delivery is 401 and stores
nothing; the same delivery twice is one event; what was accepted is processed even when the
platform could not be read at that moment."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import select
from starlette.applications import Starlette

from backends.registry import create_adapter
from domain import ids
from domain.commands import UpdateStatus
from domain.models import OrderSource, OrderStatus
from feed.affiliate_webhooks import Refused, verify
from feed.events import EventFilter, latest_position, read_after
from feed.service import Feed
from gateway.settings import Settings
from store.engine import Store
from store.tables import WebhookReceipt
from tests.conftest import client_of, empty_store, running
from tests.feed.conftest import change_upstream, feed_settings
from tests.support import SimControlClient, upstream_get, upstream_requests

A = OrderSource.AFFILIATE
SECRET = "a-test-webhook-secret-of-32-chars"


@pytest.fixture
async def receiving(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> AsyncIterator[Starlette]:
    """The gateway with ingestion on but AFFILIATE polled only every hour: what reaches the
    index about AFFILIATE here comes through the receiver."""
    configured = feed_settings(
        settings,
        own_sims,
        affiliate_webhooks=False,
        poll_interval_s=3600,
        webhook_secret=SecretStr(SECRET),
    )
    async with running(configured) as app:
        yield app


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Affiliate-Event": "order.status_changed",
        "X-Affiliate-Delivery": json.loads(body)["id"],
        "X-Affiliate-Timestamp": timestamp,
        "X-Affiliate-Signature": f"sha256={digest.hexdigest()}",
    }


def event_body(order: dict[str, Any], delivery: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": delivery or f"evt_{uuid.uuid4().hex}",
            "event": "order.status_changed",
            "created_at": "2026-12-03T10:00:00+00:00",
            "data": order,
        }
    ).encode()


async def moved_order(settings: Settings, url: str) -> dict[str, Any]:
    """An affiliate order moved to PROCESSING in the platform itself; its wire shape."""
    orders = upstream_get(A, url, "/api/v1/orders", limit=100)["data"]
    order = next(o for o in orders if o["status"] == "confirmed")
    await change_upstream(
        settings, A, url, str(order["id"]), UpdateStatus(status=OrderStatus.PROCESSING)
    )
    moved: dict[str, Any] = upstream_get(A, url, f"/api/v1/orders/{order['id']}")["data"]
    return moved


async def loaded(app: Starlette) -> int:
    """Until the first full load of AFFILIATE is in the log; the log's last position."""
    store = app.state.ordergate.store
    for _ in range(300):
        events = await read_after(store, 0, EventFilter(sources=frozenset({A})), limit=1000)
        if len(events) >= 25:
            return await latest_position(store)
        await asyncio.sleep(0.05)
    pytest.fail("AFFILIATE was not loaded")


async def events_after(
    app: Starlette, position: int, *, at_least: int = 0, wait_s: float = 5.0
) -> list[Any]:
    """AFFILIATE's events after ``position`` (waiting up to ``wait_s`` for ``at_least``)."""
    store = app.state.ordergate.store
    for _ in range(int(wait_s / 0.05)):
        events = await read_after(store, position, EventFilter(sources=frozenset({A})), limit=100)
        if len(events) >= at_least:
            return events
        await asyncio.sleep(0.05)
    return events


async def receipts(app: Starlette) -> list[WebhookReceipt]:
    async with app.state.ordergate.store.session() as session:
        return list(await session.exec(select(WebhookReceipt)))


async def test_a_signed_delivery_is_accepted_and_becomes_one_event(
    receiving: Starlette, settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    start = await loaded(receiving)
    order = await moved_order(settings, own_sims[A])
    body = event_body(order)
    async with client_of(receiving) as http:
        first = await http.post("/webhooks/affiliate", content=body, headers=signed(body))
        again = await http.post("/webhooks/affiliate", content=body, headers=signed(body))
    assert first.status_code == 202 and first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json()["duplicate"] is True
    [event] = await events_after(receiving, start, at_least=1)
    assert (event.kind, event.origin, event.source) == ("STATUS_CHANGED", "WEBHOOK", "AFFILIATE")
    assert len(await receipts(receiving)) == 1


@pytest.mark.parametrize(
    "tamper",
    ["forged signature", "other secret", "stale", "from the future", "unsigned", "body changed"],
)
async def test_a_forged_or_stale_delivery_is_401_and_stores_nothing(
    receiving: Starlette, settings: Settings, own_sims: dict[OrderSource, str], tamper: str
) -> None:
    start = await loaded(receiving)
    order = await moved_order(settings, own_sims[A])
    body = event_body(order)
    headers = signed(body)
    if tamper == "forged signature":
        headers["X-Affiliate-Signature"] = "sha256=" + "0" * 64
    elif tamper == "other secret":
        headers = signed(body, secret="not-the-secret-at-all")
    elif tamper == "stale":
        headers = signed(body, at=time.time() - 301)
    elif tamper == "from the future":
        headers = signed(body, at=time.time() + 301)
    elif tamper == "unsigned":
        del headers["X-Affiliate-Signature"]
    else:
        body = body.replace(b"processing", b"cancelled")
    async with client_of(receiving) as http:
        answer = await http.post("/webhooks/affiliate", content=body, headers=headers)
    assert answer.status_code == 401
    assert "error" in answer.json() and SECRET not in answer.text
    assert await receipts(receiving) == []
    assert await events_after(receiving, start) == []


@pytest.mark.parametrize(
    "body", [b"not json", b"{}", b'{"id": "evt_1", "event": "order.updated", "data": {}}']
)
async def test_a_signed_body_that_is_no_order_event_is_400(
    receiving: Starlette, body: bytes
) -> None:
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {
        "X-Affiliate-Timestamp": timestamp,
        "X-Affiliate-Signature": f"sha256={digest.hexdigest()}",
    }
    async with client_of(receiving) as http:
        answer = await http.post("/webhooks/affiliate", content=body, headers=headers)
    assert answer.status_code == 400
    assert await receipts(receiving) == []


async def test_an_accepted_delivery_waits_out_an_unreadable_platform(
    receiving: Starlette, settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    """Accepted is never lost: the order could not be read when the delivery came (the
    platform failing); it is read, and the event made, once the platform answers again."""
    start = await loaded(receiving)
    order = await moved_order(settings, own_sims[A])
    body = event_body(order)
    platform = SimControlClient(own_sims[A])
    platform.set_faults(error_rate=1.0)
    platform.reset_stats()
    try:
        async with client_of(receiving) as http:
            answer = await http.post("/webhooks/affiliate", content=body, headers=signed(body))
        assert answer.status_code == 202
        for _ in range(200):  # until the gateway tried to read the order (and was refused)
            if upstream_requests(platform) >= 2:
                break
            await asyncio.sleep(0.05)
        assert await events_after(receiving, start) == []
    finally:
        platform.reset_faults()
    # The failures may have opened the backend's breaker (a busy machine lets the gateway
    # try more often before the loop above sees it): the read waits out its cooldown.
    cooldown = settings.affiliate.breaker_cooldown_s
    [event] = await events_after(receiving, start, at_least=1, wait_s=cooldown + 5)
    assert event.origin == "WEBHOOK"


def test_the_signature_check_is_the_documented_algorithm() -> None:
    """HMAC-SHA256 of `<timestamp>.<raw body>`, hex, prefixed `sha256=`, within 300 s."""
    body, now = b'{"id":"evt_x"}', 1_700_000_000
    good = "sha256=" + hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    verify(b"k", "1700000000", good, body, now=now + 300, tolerance_s=300)
    for timestamp, signature, at in [
        ("1700000000", good, now + 301),
        ("1700000000", good.upper(), now),
        ("1700000001", good, now),
        ("17e8", good, now),
        (None, good, now),
        ("1700000000", None, now),
    ]:
        with pytest.raises(Refused):
            verify(b"k", timestamp, signature, body, now=at, tolerance_s=300)


async def test_delivery_ids_are_kept_whole(
    receiving: Starlette, own_sims: dict[OrderSource, str]
) -> None:
    """Two deliveries whose ids share their first 100 characters are two deliveries; an id
    longer than the store keeps is refused, not cut (it would become another's)."""
    orders = upstream_get(A, own_sims[A], "/api/v1/orders", limit=2)["data"]
    long_ids = ["evt_" + "0" * 100 + str(n) for n in range(2)]
    async with client_of(receiving) as http:
        answers = [
            await http.post("/webhooks/affiliate", content=body, headers=signed(body))
            for body in (event_body(o, d) for o, d in zip(orders, long_ids, strict=True))
        ]
    assert [a.status_code for a in answers] == [400, 400]
    assert await receipts(receiving) == []


async def test_one_order_the_platform_answers_wrongly_holds_back_no_other(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    """A receipt whose order the platform answers with garbage is given up (the poll reads
    that order); the receipts after it are processed."""
    from domain.errors import UpstreamMalformedError
    from feed.affiliate_webhooks import process_receipts
    from store.clock import utcnow
    from store.engine import Store

    good = upstream_get(A, own_sims[A], "/api/v1/orders", limit=1)["data"][0]

    class Platform:  # the one order answered wrongly; the other as it is
        async def get_orders(self, upstream_ids: list[str]) -> list[Any]:
            if "999" in upstream_ids:
                raise UpstreamMalformedError(A, "order 999: unknown status 'weird'")
            adapter = create_adapter(
                A, settings.backend(A).model_copy(update={"base_url": own_sims[A]})
            )
            try:
                return await adapter.get_orders(upstream_ids)
            finally:
                await adapter.aclose()

    if settings.database_url.startswith("postgresql"):
        await empty_store(settings.database_url)  # a shared database: no earlier test's index
    store = Store(settings.database_url)
    try:
        await store.migrate()
        start = await latest_position(store)
        async with store.session() as session:
            for n, order_id in enumerate([999, good["id"]]):
                session.add(
                    WebhookReceipt(
                        delivery_id=f"evt_poison_{n}",
                        event="order.updated",
                        body=json.dumps({"data": {"id": order_id}}),
                        received_at=utcnow(),
                    )
                )
            await session.commit()

        async def nothing(events: list[Any]) -> None:
            return None

        await process_receipts(store, Platform(), nothing)  # type: ignore[arg-type]
        async with store.session() as session:
            done = {
                r.delivery_id: r.processed_at for r in await session.exec(select(WebhookReceipt))
            }
        events = await read_after(store, start, EventFilter(), limit=10)
    finally:
        await store.aclose()
    assert all(done.values()), done  # the garbage one given up, the good one processed
    assert [e.order_id for e in events] == [ids.order_id(A, str(good["id"]))]


@pytest.mark.parametrize(
    ("host", "public_url", "reachable"),
    [
        ("127.0.0.1", None, True),
        ("0.0.0.0", None, False),  # the image's default: no address the platform could call
        ("::", None, False),
        ("0.0.0.0", "https://orders.example.com", True),
    ],
)
async def test_the_receiver_is_registered_only_at_an_address_the_platform_can_call(
    settings: Settings, host: str, public_url: str | None, reachable: bool
) -> None:
    feed_settings = settings.feed.model_copy(update={"public_url": public_url})
    configured = settings.model_copy(update={"host": host, "feed": feed_settings})
    store = Store(configured.database_url)
    try:
        assert Feed(configured, store, {}).receiver_reachable is reachable
    finally:
        await store.aclose()
