"""Partners' outgoing webhooks: a caller with `webhooks:manage` subscribes a URL to some kinds
and sources of order events; each such event is POSTed to it, signed per Standard Webhooks
(verified here with the `standardwebhooks` package), in position order, retried until it is
delivered or given up; one receiver's trouble holds up no other's.

Receivers are small Starlette apps over real sockets that keep what they get; events are made
as a poll makes them (``feed.index.observe``), and the feed is told of them as ingestion
tells it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backends.simkit.server import ServerThread
from domain.access import Scope
from domain.models import Money, Order, OrderSource, OrderStatus, OrderTotals, Party, PaymentStatus
from feed.events import event_id
from feed.index import ChangeKind, ChangeOrigin, Observed, observe
from gateway.app import create_app
from gateway.settings import Settings
from store import webhook_subscriptions
from store.engine import Store
from store.tables import ChangeEventRecord, WebhookSubscriptionRecord
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import bind_free_port, serving

ALL_KINDS = [kind.value for kind in ChangeKind]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

CREATE = """mutation($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(input: $input) {
    secret subscription { id url events sources createdAt } userErrors { code message field } } }"""
LIST = "{ webhookSubscriptions { id url events sources createdAt } }"
DELETE = """mutation($id: ID!) { deleteWebhookSubscription(id: $id) {
  deletedId userErrors { code message field } } }"""
EVENTS = "{ orderEvents(first: 50) { edges { node { id source } } } }"
DELIVERIES = """query($id: ID!) { webhookDeliveries(subscriptionId: $id) {
  id subscriptionId eventId status attempts lastError lastAttemptAt } }"""


# Receivers ---------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: bool = False

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """A partner's webhook endpoint: keeps every request; answers ``answer(request)`` (204 by
    default), or with ``hang``, nothing at all until ``released``."""

    def __init__(
        self, answer: Callable[[Received], int] = lambda _: 204, *, hang: bool = False
    ) -> None:
        self.received: list[Received] = []
        self.answer = answer
        self.hang = hang
        self.released = threading.Event()
        self.app = Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])

    async def endpoint(self, request: Request) -> Response:
        got = Received(dict(request.headers), await request.body())
        self.received.append(got)
        if self.hang:
            await asyncio.to_thread(self.released.wait)
        got.answered = True
        return Response(status_code=self.answer(got))

    def ids(self) -> list[str]:
        return [r.message_id for r in self.received]


class receiving:
    """``with receiving(receiver) as url``: the receiver served on a free port (or ``port``)."""

    def __init__(self, receiver: Receiver, port: int | None = None) -> None:
        self.receiver = receiver
        self.port = port

    def __enter__(self) -> str:
        if self.port is None:
            self._serving = serving(self.receiver.app)
            return self._serving.__enter__() + "/hook"
        self._serving = ServerThread({"app": self.receiver.app}, ports={"app": self.port})  # type: ignore[assignment]
        self._serving.__enter__()
        return f"http://127.0.0.1:{self.port}/hook"

    def __exit__(self, *exc: object) -> None:
        self.receiver.released.set()  # a hanging answer ends, so the server can stop
        self._serving.__exit__(*exc)


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The message, once its signature verifies (Standard Webhooks' own implementation)."""
    message: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return message


# The gateway and its callers ---------------------------------------------------------------


def webhook_settings(settings: Settings, **feed: Any) -> Settings:
    quick = {
        "tick_s": 0.1,
        "delivery_backoff_base_s": 0.05,
        "delivery_backoff_max_s": 0.2,
        "delivery_timeout_s": 2.0,
        "webhook_subscriptions_max": 3,
    }
    return settings.model_copy(update={"feed": settings.feed.model_copy(update={**quick, **feed})})


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async with running(webhook_settings(settings)) as app:
        yield app


async def partner(
    app: Starlette,
    name: str,
    *,
    scopes: Iterable[Scope] = (Scope.WEBHOOKS_MANAGE,),
    sources: Iterable[OrderSource] = (),
) -> GatewayClient:
    headers = await bearer(app, name=name, scopes=scopes, sources=sources)
    return GatewayClient(client_of(app, headers))


async def subscribe(caller: GatewayClient, url: str, **input: Any) -> dict[str, Any]:
    input.setdefault("events", ALL_KINDS)
    answer = await caller.data(CREATE, {"input": {"url": url, **input}})
    made: dict[str, Any] = answer["createWebhookSubscription"]
    return made


async def made(caller: GatewayClient, url: str, **input: Any) -> tuple[str, str]:
    """A new subscription's id and secret."""
    answer = await subscribe(caller, url, **input)
    assert answer["userErrors"] == []
    return answer["subscription"]["id"], answer["secret"]


async def deliveries(caller: GatewayClient, subscription_id: str) -> list[dict[str, Any]]:
    """Oldest event first."""
    rows: list[dict[str, Any]] = (await caller.data(DELIVERIES, {"id": subscription_id}))[
        "webhookDeliveries"
    ]
    return rows[::-1]


# Events --------------------------------------------------------------------------------------


def an_order(
    source: OrderSource, upstream_id: str, status: OrderStatus = OrderStatus.PENDING, *, at: int = 0
) -> Order:
    """An order as its upstream shows it ``at`` minutes after T0, with a customer."""
    zero, total = Money(Decimal("0"), "EUR"), Money(Decimal("12.50"), "EUR")
    return Order(
        source=source,
        upstream_id=upstream_id,
        status=status,
        upstream_status=status.value.lower(),
        payment_status=PaymentStatus.NONE,
        currency="EUR",
        totals=OrderTotals(gross=total, discount=zero, shipping=zero, tax=zero, total=total),
        created_at=T0,
        updated_at=T0 + timedelta(minutes=at),
        reference=f"R-{upstream_id}",
        customer=Party(name="Ada Lovelace", email="ada@example.com"),
    )


async def happen(app: Starlette, *orders: Order) -> list[ChangeEventRecord]:
    """Orders as a poll just saw them: their events, and the feed told of them."""
    state = app.state.ordergate
    events = await observe(state.store, [Observed(o) for o in orders], ChangeOrigin.POLL)
    await state.feed.notify(events)
    return events


def ids_of(events: Iterable[ChangeEventRecord]) -> list[str]:
    assert all(e.position is not None for e in events)
    return [event_id(OrderSource(e.source), e.position) for e in events]  # type: ignore[arg-type]


async def eventually(check: Callable[[], Awaitable[bool]], *, rounds: int = 200) -> None:
    for _ in range(rounds):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the rounds given")


def received(receiver: Receiver, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(receiver.received) >= count

    return check


# Managing subscriptions --------------------------------------------------------------------


async def test_a_subscription_answers_its_secret_once(app: Starlette) -> None:
    caller = await partner(app, "partner-a")
    async with caller.http:
        answer = await subscribe(caller, "http://127.0.0.1:9/hook", events=["STATUS_CHANGED"])
        listed = await caller.query(LIST)
    assert answer["userErrors"] == []
    subscription, secret = answer["subscription"], answer["secret"]
    assert subscription["events"] == ["STATUS_CHANGED"]
    assert subscription["sources"] == ["AFFILIATE", "WEBSHOP", "CRM", "B2B"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    assert listed["data"]["webhookSubscriptions"] == [subscription]
    assert secret not in str(listed)
    async with app.state.ordergate.store.session() as session:
        records = list(await session.exec(select(WebhookSubscriptionRecord)))
    assert [r.secret for r in records] == [secret]  # kept to sign with, but never shown
    assert secret not in repr(records)


@pytest.mark.parametrize("operation", [LIST, DELIVERIES, CREATE, DELETE])
async def test_without_webhooks_manage_every_webhook_operation_is_forbidden(
    app: Starlette, operation: str
) -> None:
    caller = await partner(app, "reader", scopes=[Scope.ORDERS_READ, Scope.KEYS_MANAGE])
    variables = {"id": "1", "input": {"url": "http://127.0.0.1:9/hook", "events": ALL_KINDS}}
    async with caller.http:
        body = await caller.query(operation, variables)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert "webhooks:manage" in body["errors"][0]["message"]


async def test_another_caller_neither_sees_nor_reads_nor_deletes_a_subscription(
    app: Starlette,
) -> None:
    owner, other = await partner(app, "owner"), await partner(app, "other")
    async with owner.http, other.http:
        subscription_id, _ = await made(owner, "http://127.0.0.1:9/hook")
        assert (await other.data(LIST))["webhookSubscriptions"] == []
        reading = await other.query(DELIVERIES, {"id": subscription_id})
        assert [e["extensions"]["code"] for e in reading["errors"]] == ["NOT_FOUND"]
        refused = (await other.data(DELETE, {"id": subscription_id}))["deleteWebhookSubscription"]
        assert refused["deletedId"] is None
        assert [e["code"] for e in refused["userErrors"]] == ["NOT_FOUND"]
        assert [s["id"] for s in (await owner.data(LIST))["webhookSubscriptions"]] == [
            subscription_id
        ]
        deleted = (await owner.data(DELETE, {"id": subscription_id}))["deleteWebhookSubscription"]
        assert deleted == {"deletedId": subscription_id, "userErrors": []}
        assert (await owner.data(LIST))["webhookSubscriptions"] == []
        again = (await owner.data(DELETE, {"id": subscription_id}))["deleteWebhookSubscription"]
        assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("input", "field"),
    [
        ({"url": "ftp://127.0.0.1/hook"}, ["input", "url"]),
        ({"url": "http://user:secret@127.0.0.1/hook"}, ["input", "url"]),
        ({"url": "http://127.0.0.1/" + "a" * 2000}, ["input", "url"]),
        ({"url": "no url at all"}, ["input", "url"]),
        ({"url": "http://127.0.0.1:99999/hook"}, ["input", "url"]),
        ({"events": []}, ["input", "events"]),
        ({"sources": []}, ["input", "sources"]),
    ],
)
async def test_a_bad_subscription_is_a_user_error(
    app: Starlette, input: dict[str, Any], field: list[str]
) -> None:
    caller = await partner(app, "partner-a")
    async with caller.http:
        answer = await subscribe(caller, **{"url": "http://127.0.0.1:9/hook", **input})
        assert (await caller.data(LIST))["webhookSubscriptions"] == []
    assert answer["subscription"] is None and answer["secret"] is None
    assert [(e["code"], e["field"]) for e in answer["userErrors"]] == [("VALIDATION", field)]


async def test_sources_default_to_those_the_caller_sees_and_go_no_further(
    app: Starlette,
) -> None:
    caller = await partner(app, "affiliate-partner", sources=[OrderSource.AFFILIATE])
    async with caller.http:
        default = await subscribe(caller, "http://127.0.0.1:9/hook")
        beyond = await subscribe(caller, "http://127.0.0.1:9/hook", sources=["AFFILIATE", "CRM"])
    assert default["subscription"]["sources"] == ["AFFILIATE"]
    assert beyond["subscription"] is None
    assert [(e["code"], e["field"]) for e in beyond["userErrors"]] == [
        ("FORBIDDEN", ["input", "sources"])
    ]


async def test_a_caller_has_a_limited_number_of_subscriptions(app: Starlette) -> None:
    caller = await partner(app, "busy-partner")
    async with caller.http:
        for _ in range(3):
            await made(caller, "http://127.0.0.1:9/hook")
        over = await subscribe(caller, "http://127.0.0.1:9/hook")
    assert over["subscription"] is None
    assert "at most 3" in over["userErrors"][0]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
async def test_in_production_a_url_into_the_gateways_own_network_is_refused(
    settings: Settings, url: str
) -> None:
    production = webhook_settings(settings).model_copy(update={"profile": "production"})
    async with running(production) as app:
        caller = await partner(app, "partner-a")
        async with caller.http:
            refused = await subscribe(caller, url)
            public = await subscribe(caller, "https://93.184.216.34/hook")
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("VALIDATION", ["input", "url"])
    ]
    assert public["userErrors"] == []


# Delivering ----------------------------------------------------------------------------------


async def test_a_receiver_down_for_a_while_gets_every_event_once_it_is_back_signed(
    app: Starlette,
) -> None:
    port = bind_free_port()  # nothing listens there yet: the receiver is down
    caller = await partner(app, "partner-a", scopes=[Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ])
    receiver = Receiver()
    async with caller.http:
        subscription_id, secret = await made(
            caller, f"http://127.0.0.1:{port}/hook", sources=["CRM"]
        )
        events = await happen(app, an_order(OrderSource.CRM, "1"), an_order(OrderSource.CRM, "2"))
        events += await happen(app, an_order(OrderSource.WEBSHOP, "3"))  # not its source
        events += await happen(app, an_order(OrderSource.CRM, "1", OrderStatus.CONFIRMED, at=1))
        events += await happen(app, an_order(OrderSource.CRM, "2", OrderStatus.CANCELLED, at=1))
        wanted = [e for e in events if e.source == "CRM"]

        async def retried_while_down() -> bool:
            first = (await deliveries(caller, subscription_id))[0]
            return first["status"] == "failing" and first["attempts"] >= 2

        await eventually(retried_while_down)
        waiting = await deliveries(caller, subscription_id)
        assert [d["eventId"] for d in waiting] == ids_of(wanted)
        assert waiting[0]["lastError"].startswith("could not send")
        assert {d["status"] for d in waiting[1:]} == {"pending"}  # behind the first, in order

        with receiving(receiver, port):

            async def all_delivered() -> bool:
                rows = await deliveries(caller, subscription_id)
                return all(d["status"] == "delivered" for d in rows)

            await eventually(all_delivered)
        done = await deliveries(caller, subscription_id)
        log = (await caller.data(EVENTS))["orderEvents"]["edges"]

    assert receiver.ids() == ids_of(wanted)  # each once, in position order
    assert receiver.ids() == [e["node"]["id"] for e in log if e["node"]["source"] == "CRM"]
    assert [d["lastError"] for d in done] == [None] * len(wanted)
    messages = [verified(secret, r) for r in receiver.received]
    assert [m["type"] for m in messages] == [
        "order.created",
        "order.created",
        "order.status_changed",
        "order.status_changed",
    ]
    first = messages[2]["data"]
    assert first["eventId"] == receiver.received[2].message_id
    assert (first["kind"], first["origin"], first["source"]) == ("STATUS_CHANGED", "POLL", "CRM")
    assert first["changed"] == ["status", "upstreamStatus"]
    assert first["orderId"] == first["order"]["id"]
    assert first["order"]["status"] == "CONFIRMED"
    assert first["order"]["total"] == {"amount": "12.50", "currency": "EUR"}
    # No customer data: a partner reads it with order(id), under its own scopes.
    assert all(
        b"ada@example.com" not in r.body and b"Lovelace" not in r.body for r in receiver.received
    )


async def test_events_of_the_time_the_gateway_was_stopped_are_sent_after_its_restart(
    settings: Settings,
) -> None:
    options = webhook_settings(settings)
    receiver = Receiver()
    with receiving(receiver) as url:
        async with running(options) as app:
            caller = await partner(app, "partner-a")
            async with caller.http:
                _, secret = await made(caller, url)
            events = await happen(app, an_order(OrderSource.B2B, "1"))
            await eventually(received(receiver, 1))
        store = Store(options.database_url)  # the gateway is down; a replica records more
        try:
            later = await observe(
                store,
                [
                    Observed(an_order(OrderSource.B2B, "1", OrderStatus.CONFIRMED, at=1)),
                    Observed(an_order(OrderSource.B2B, "2", at=1)),
                ],
                ChangeOrigin.POLL,
            )
        finally:
            await store.aclose()
        restarted = create_app(options)  # on the same store: not emptied as `running` does
        async with restarted.router.lifespan_context(restarted):
            app = restarted
            await eventually(received(receiver, 3))
            events += await happen(app, an_order(OrderSource.B2B, "3"))
            await eventually(received(receiver, 4))
    assert receiver.ids() == ids_of([events[0], *later, events[1]])
    assert all(verified(secret, r) for r in receiver.received)


async def test_a_receiver_that_hangs_holds_up_no_other_subscription(settings: Settings) -> None:
    hanging, quick = Receiver(hang=True), Receiver()
    # The hanging receiver's first request stays open for the whole test.
    async with running(webhook_settings(settings, delivery_timeout_s=60.0)) as app:
        caller = await partner(app, "partner-a")
        with receiving(hanging) as hanging_url, receiving(quick) as quick_url:
            async with caller.http:
                await made(caller, hanging_url)
                await made(caller, quick_url)
            events = await happen(app, an_order(OrderSource.AFFILIATE, "1"))
            events += await happen(app, an_order(OrderSource.AFFILIATE, "2"))
            events += await happen(app, an_order(OrderSource.AFFILIATE, "3"))
            await eventually(received(quick, 3))
            assert quick.ids() == ids_of(events)
            # Meanwhile the other receiver still holds the first event's request, unanswered.
            assert hanging.ids() == ids_of(events[:1])
            assert not hanging.received[0].answered


async def test_a_delivery_failing_past_the_retry_window_is_given_up_and_the_next_goes_on(
    settings: Settings,
) -> None:
    refused: set[str] = set()
    receiver = Receiver(lambda r: 503 if r.message_id in refused else 204)
    async with running(webhook_settings(settings, delivery_give_up_s=0.3)) as app:
        caller = await partner(app, "partner-a")
        with receiving(receiver) as url:
            async with caller.http:
                subscription_id, secret = await made(caller, url)
                first = await happen(app, an_order(OrderSource.WEBSHOP, "1"))
                refused.update(ids_of(first))
                second = await happen(app, an_order(OrderSource.WEBSHOP, "2"))

                async def settled() -> bool:
                    rows = await deliveries(caller, subscription_id)
                    return [d["status"] for d in rows] == ["given_up", "delivered"]

                await eventually(settled)
                given_up, delivered = await deliveries(caller, subscription_id)
    assert given_up["eventId"] == ids_of(first)[0] and given_up["attempts"] >= 2
    assert given_up["lastError"] == "HTTP 503" and given_up["lastAttemptAt"] is not None
    assert delivered["eventId"] == ids_of(second)[0]
    assert (delivered["attempts"], delivered["lastError"]) == (1, None)
    # Every attempt at the first event was the same message; the second came after them all.
    tries = [r for r in receiver.received if r.message_id in refused]
    assert len(tries) == given_up["attempts"] and len({r.body for r in tries}) == 1
    assert receiver.ids() == ids_of(first) * len(tries) + ids_of(second)
    assert all(verified(secret, r) for r in receiver.received)


async def test_a_subscription_gets_only_what_it_asked_for_from_its_creation_on(
    app: Starlette,
) -> None:
    everything, narrow = Receiver(), Receiver()
    caller = await partner(app, "partner-a")
    with receiving(everything) as everything_url, receiving(narrow) as narrow_url:
        async with caller.http:
            await made(caller, everything_url)
            before = await happen(app, an_order(OrderSource.CRM, "1"))
            await eventually(received(everything, 1))
            narrow_id, _ = await made(
                caller, narrow_url, events=["STATUS_CHANGED"], sources=["CRM"]
            )
            after = await happen(
                app,
                an_order(OrderSource.CRM, "1", OrderStatus.CONFIRMED, at=1),  # wanted
                an_order(OrderSource.CRM, "2"),  # CREATED: not its kind
                an_order(OrderSource.B2B, "3"),  # not its source
            )
            after += await happen(app, an_order(OrderSource.B2B, "3", OrderStatus.CONFIRMED, at=1))
            await eventually(received(everything, 5))
            await eventually(received(narrow, 1))
            rows = await deliveries(caller, narrow_id)
    assert everything.ids() == ids_of(before + after)
    wanted = [e for e in after if (e.kind, e.source) == ("STATUS_CHANGED", "CRM")]
    assert narrow.ids() == ids_of(wanted) == [d["eventId"] for d in rows]


async def test_a_deleted_subscription_gets_nothing_more(app: Starlette) -> None:
    kept, deleted = Receiver(), Receiver()
    caller = await partner(app, "partner-a")
    with receiving(kept) as kept_url, receiving(deleted) as deleted_url:
        async with caller.http:
            await made(caller, kept_url)
            deleted_id, _ = await made(caller, deleted_url)
            first = await happen(app, an_order(OrderSource.AFFILIATE, "1"))
            await eventually(received(deleted, 1))
            await caller.data(DELETE, {"id": deleted_id})
            second = await happen(app, an_order(OrderSource.AFFILIATE, "2"))
            await eventually(received(kept, 2))  # the second event is fanned out
    assert kept.ids() == ids_of(first + second)
    assert deleted.ids() == ids_of(first)
    store = app.state.ordergate.store
    sent = await webhook_subscriptions.deliveries(store, int(deleted_id), first=10)
    assert [s.delivery.event_position for s in sent] == [first[0].position]  # none for the second
