"""`/graphql` over WebSocket (graphql-transport-ws), against the app served by uvicorn: the
same door as HTTP. No credential, a made-up or revoked key: the socket is closed with 4401
and the reason; a valid key is acknowledged, and its queries are sent to HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from domain.access import Scope
from gateway.app import create_app
from gateway.settings import Settings
from store import api_keys
from store.engine import Store
from tests.support import serving

PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def gateway_url(settings: Settings) -> Iterator[str]:
    with serving(create_app(settings)) as url:
        yield url.replace("http://", "ws://") + "/graphql"


async def new_key(settings: Settings, name: str, revoked: bool = False) -> str:
    store = Store(settings.database_url)
    try:
        key = await api_keys.create(store, name=name, scopes=[Scope.ORDERS_READ])
        if revoked:
            assert key.record.id is not None
            await api_keys.revoke(store, key.record.id)
        return key.secret
    finally:
        await store.aclose()


async def exchange(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    """The first answer to ``message`` (for an operation: its ``next`` or ``error``)."""
    await ws.send(json.dumps(message))
    while True:
        answer: dict[str, Any] = json.loads(await ws.recv())
        if answer.get("id") == message.get("id") and answer["type"] != "complete":
            return answer


@pytest.mark.parametrize("credential", [None, "og_made_up", "revoked"])
async def test_a_socket_without_a_valid_credential_is_closed_4401(
    settings: Settings, gateway_url: str, credential: str | None
) -> None:
    if credential == "revoked":
        credential = await new_key(settings, "gone", revoked=True)
    headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}
    async with connect(gateway_url, subprotocols=[PROTOCOL], additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await exchange(ws, {"type": "connection_init"})
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert "key" in closed.value.rcvd.reason or "credential" in closed.value.rcvd.reason


async def test_a_socket_with_a_valid_key_is_acknowledged_and_sends_queries_to_http(
    settings: Settings, gateway_url: str
) -> None:
    """One context serves a whole socket: queries and mutations, which cost per request,
    go over HTTP; the socket carries subscriptions (none exist yet)."""
    secret = await new_key(settings, "socket-partner")
    headers = {"Authorization": f"Bearer {secret}"}
    async with connect(gateway_url, subprotocols=[PROTOCOL], additional_headers=headers) as ws:
        assert ws.subprotocol == PROTOCOL
        assert (await exchange(ws, {"type": "connection_init"}))["type"] == "connection_ack"
        for n, query in enumerate(
            ["{ viewer { principal } }", "{ orders(first: 100) { edges { cursor } } }"]
        ):
            answer = await exchange(
                ws, {"id": str(n), "type": "subscribe", "payload": {"query": query}}
            )
            errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
            assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]
            assert "HTTP" in errors[0]["message"]
