"""`subscription { orderEvents }` over graphql-transport-ws, against the gateway served by
uvicorn and ingesting from simulators of its own: changes made in the upstreams themselves
(not through the gateway) reach a subscribed client — AFFILIATE's through its webhook, the
others' through polling — and a client that reconnects with `after` misses nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from domain.access import Scope
from domain.models import OrderSource
from feed.events import encode_position, latest_position
from gateway.settings import Settings
from store import api_keys
from tests.feed.support import PROTOCOL, A, B, C, W, move, next_event, serve, subscribed
from tests.support import upstream_get


async def test_a_change_made_in_each_upstream_reaches_a_subscriber(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    """AFFILIATE's through the webhook the gateway registered (its polling is only a backup,
    an hour away here), the others' through polling."""
    async with serve(settings, own_sims, affiliate_webhooks=True, backup_poll_s=3600) as served:
        await served.wait_loaded()
        hooks = upstream_get(A, own_sims[A], "/api/v1/webhooks")["data"]
        assert [h["url"] for h in hooks] == [
            served.settings.feed.public_url + "/webhooks/affiliate"
        ]
        start = encode_position(await latest_position(served.store))
        async with subscribed(served.ws_url, await served.key(), {"after": start}) as ws:
            moved = {source: await move(served, source) for source in OrderSource}
            seen = {}
            while len(seen) < len(OrderSource):
                event = await next_event(ws)
                seen[OrderSource(event["source"])] = event
    for source, event in seen.items():
        assert event["orderId"] == moved[source]
        assert event["kind"] == "STATUS_CHANGED"
        assert "status" in event["changed"]
        assert event["order"] == {"id": moved[source], "status": served.moved[moved[source]]}
        assert event["origin"] == ("WEBHOOK" if source is A else "POLL")


async def test_a_subscriber_reconnecting_with_after_gets_what_it_missed_in_order_then_live(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    async with serve(settings, own_sims) as served:
        await served.wait_loaded()
        secret = await served.key()
        start = encode_position(await latest_position(served.store))
        async with subscribed(served.ws_url, secret, {"after": start}) as ws:
            first = await move(served, W)
            seen = await next_event(ws)
            assert seen["orderId"] == first
        # disconnected: three changes happen meanwhile
        missed = [await move(served, s) for s in (C, B, A)]
        logged = await served.logged(3, int(seen["position"]))
        async with subscribed(served.ws_url, secret, {"after": seen["position"]}) as ws:
            replayed = [await next_event(ws) for _ in missed]
            live = await move(served, W)
            after_replay = await next_event(ws)
    assert [e["orderId"] for e in replayed] == [e.order_id for e in logged[:3]]
    assert sorted(e["orderId"] for e in replayed) == sorted(missed)
    positions = [e["position"] for e in [*replayed, after_replay]]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert after_replay["orderId"] == live


async def test_a_key_limited_to_affiliate_receives_only_affiliate_events(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    async with serve(settings, own_sims) as served:
        await served.wait_loaded()
        start = await latest_position(served.store)
        async with subscribed(
            served.ws_url, await served.key(sources=[A]), {"after": encode_position(start)}
        ) as ws:
            for source in (W, C, B):
                await move(served, source)
            await served.logged(3, start)  # the others' changes are in the log first
            last = await move(served, A)
            event = await next_event(ws)
    # Had any other source's event leaked, it (an earlier position) would have come first.
    assert (event["source"], event["orderId"]) == ("AFFILIATE", last)


async def test_the_credential_may_come_in_the_connection_init_payload(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    """Browsers cannot set headers on a WebSocket: graphql-ws clients send connectionParams."""
    async with serve(settings, own_sims) as served:
        await served.wait_loaded()
        start = encode_position(await latest_position(served.store))
        async with subscribed(
            served.ws_url, await served.key(), {"after": start}, in_payload=True
        ) as ws:
            moved = await move(served, C)
            assert (await next_event(ws))["orderId"] == moved


@pytest.mark.parametrize("payload", [None, {"Authorization": "Bearer og_made_up"}])
async def test_a_socket_with_no_valid_credential_in_either_place_is_closed_4401(
    settings: Settings, own_sims: dict[OrderSource, str], payload: dict[str, str] | None
) -> None:
    async with serve(settings, own_sims, ingest=False) as served:
        async with connect(served.ws_url, subprotocols=[PROTOCOL]) as ws:
            init: dict[str, Any] = {"type": "connection_init"}
            if payload is not None:
                init["payload"] = payload
            await ws.send(json.dumps(init))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "credential" in closed.value.rcvd.reason or "key" in closed.value.rcvd.reason


async def test_a_revoked_key_stops_its_open_subscription(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    settings = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"key_cache_s": 0})}
    )
    async with serve(settings, own_sims) as served:
        await served.wait_loaded()
        made = await api_keys.create(served.store, name="leaver", scopes=[Scope.ORDERS_READ])
        start = encode_position(await latest_position(served.store))
        async with subscribed(served.ws_url, made.secret, {"after": start}) as ws:
            await move(served, C)
            await next_event(ws)
            assert made.record.id is not None
            await api_keys.revoke(served.store, made.record.id)
            await move(served, B)
            async with asyncio.timeout(30):
                message = json.loads(await ws.recv())
    assert message["type"] == "error" or "errors" in message["payload"], message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revoked_key_ends_even_a_quiet_subscription(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    """No event matches its filter, so none arrives to check the key on: it is checked
    between events too, every key-cache period."""
    settings = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"key_cache_s": 0})}
    )
    async with serve(settings, own_sims, ingest=False) as served:
        made = await api_keys.create(served.store, name="quiet", scopes=[Scope.ORDERS_READ])
        async with subscribed(served.ws_url, made.secret, {"filter": {"kinds": ["DELETED"]}}) as ws:
            assert made.record.id is not None
            await api_keys.revoke(served.store, made.record.id)
            async with asyncio.timeout(30):
                message = json.loads(await ws.recv())
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("after", ["²", "١٢", "-1", "999999999999999999999", "abc", "1e3"])
async def test_a_position_that_is_none_is_a_validation_error(gateway: Any, after: str) -> None:
    """Over HTTP and over the socket alike: never an internal error, never its words."""
    answer = await gateway.query(
        "query($a: String) { orderEvents(after: $a, first: 1) { edges { cursor } } }", {"a": after}
    )
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["VALIDATION"]
