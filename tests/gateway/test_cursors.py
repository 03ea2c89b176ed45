"""Cursors of `orders` through the real app: signed, so a client can hand one back but not
make or edit one; shared by every replica; and a scan limit that answers a continuation.

The paging rules themselves are pinned on in-memory listings in
``tests/resolvers/test_pagination.py``; here: the HTTP answer, the keys, the upstream calls.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from domain.models import OrderSource
from gateway.settings import Settings
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import SimControlClient, requests_served, upstream_requests

PAGE = """
query($after: String, $filter: OrderFilter, $first: Int) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
NOTHING = {"search": "no order says this"}


async def page(client: GatewayClient, **variables: Any) -> dict[str, Any]:
    body = await client.query(PAGE, {"first": 5, **variables})
    return body


def edited(cursor: str, **changes: Any) -> str:
    """The cursor with its body changed and its signature kept, as a client could try."""
    body_text, _, mac = cursor.partition(".")
    body = json.loads(base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4)))
    body.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return f"{raw}.{mac}"


async def test_a_cursor_continues_the_listing_it_came_from(gateway: GatewayClient) -> None:
    first = (await page(gateway))["data"]["orders"]
    second = (await page(gateway, after=first["pageInfo"]["endCursor"]))["data"]["orders"]
    ids = [edge["node"]["id"] for edge in first["edges"] + second["edges"]]
    assert len(set(ids)) == 10


async def test_an_edited_or_made_up_cursor_is_a_validation_error_and_reads_nothing(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    cursor = (await page(gateway))["data"]["orders"]["pageInfo"]["endCursor"]
    deep = edited(cursor, o={"WEBSHOP": 9_999_999})
    unsigned = cursor.partition(".")[0]
    for sim in sims.values():
        sim.reset_stats()
    for bad in [deep, unsigned, "x" * 5_000, "bm90LWEtY3Vyc29y"]:
        body = await page(gateway, after=bad)
        assert body["data"] is None  # `orders` is non-null: its error empties `data`
        [error] = body["errors"]
        assert error["extensions"]["code"] == "VALIDATION"
        assert error["message"].startswith("`after` is not a cursor of this API")
        assert bad not in error["message"]  # a client's junk is not echoed back
    assert requests_served(sims) == 0


async def test_replicas_on_one_store_take_each_others_cursors(settings: Settings) -> None:
    # No cursor_secret set: each replica finds the key the first one put in the store.
    settings = settings.model_copy(update={"cursor_secret": None})
    async with running(settings) as one:
        async with client_of(one, await bearer(one)) as http:
            data = (await page(GatewayClient(http)))["data"]
    async with running(settings) as other:
        async with client_of(other, await bearer(other)) as http:
            body = await page(GatewayClient(http), after=data["orders"]["pageInfo"]["endCursor"])
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["orders"]["edges"]) == 5


async def test_cursor_secret_signs_every_cursor(settings: Settings, tmp_path: Path) -> None:
    shared = SecretStr("a key the operators share between deployments")
    signed = settings.model_copy(update={"cursor_secret": shared})
    async with running(signed) as one:
        async with client_of(one, await bearer(one)) as http:
            cursor = (await page(GatewayClient(http)))["data"]["orders"]["pageInfo"]["endCursor"]
    # Another store, the same configured key: the cursor holds.
    elsewhere = signed.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/elsewhere.db"}
    )
    async with running(elsewhere) as other:
        async with client_of(other, await bearer(other)) as http:
            body = await page(GatewayClient(http), after=cursor)
    assert "errors" not in body, body["errors"]
    # The store's own key is another key: the cursor is not one of its cursors.
    async with running(settings) as unset:
        async with client_of(unset, await bearer(unset)) as http:
            body = await page(GatewayClient(http), after=cursor)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_a_search_that_matches_nothing_reads_a_bounded_number_of_upstream_pages(
    settings: Settings, sims: dict[OrderSource, SimControlClient]
) -> None:
    # 120 orders per simulator, pages of 10 asked for, 2 pages per backend per request.
    narrow = settings.model_copy(update={"max_scan_pages": 2})
    for source in OrderSource:
        section = narrow.backend(source).model_copy(update={"page_size": 10})
        narrow = narrow.model_copy(update={source.value.lower(): section})
    async with running(narrow) as app:
        async with client_of(app, await bearer(app)) as http:
            client = GatewayClient(http)
            after, requests = None, 0
            while True:
                for sim in sims.values():
                    sim.reset_stats()
                body = await page(client, first=10, filter=NOTHING, after=after)
                assert "errors" not in body, body["errors"]
                connection = body["data"]["orders"]
                assert connection["edges"] == []
                for sim in sims.values():
                    assert upstream_requests(sim) <= 2
                requests += 1
                if not connection["pageInfo"]["hasNextPage"]:
                    break
                after = connection["pageInfo"]["endCursor"]
                assert after is not None
    # 120 orders in reads of 10, two per request: 6 requests, and one that finds the end.
    assert 6 <= requests <= 7
