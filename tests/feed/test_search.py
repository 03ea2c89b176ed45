"""`orders(filter: {search})` answered from the order index: every source in one store query,
no upstream request; the customer's e-mail and name only for callers who may read customers;
the other filters and the caller's sources still apply; paging by the index's own cursors;
`Order.syncedAt`; and `feed.index_reads`, which serves every listing from the index.

The gateway ingests from simulators of its own (``tests/feed/conftest.py``); each test waits
until ingestion has loaded every source once (``sync_checkpoints.last_full_at``), and polls no
more after that (a long poll interval), so the simulators' counters move only for the request
under test. Every simulator seeded alike has one shopper in common (``fake.regular``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, select
from starlette.applications import Starlette

from backends.simkit import fake
from domain.access import Scope
from domain.models import OrderSource
from feed import codec
from feed.index import ChangeOrigin, Observed, indexed, observe
from gateway.settings import Settings
from store.clock import utcnow
from store.tables import SyncCheckpoint
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.feed.conftest import FEED_SIM, feed_settings
from tests.support import SimControlClient, requests_served

ALL = set(OrderSource)
REGULAR = fake.regular(FEED_SIM.seed)
LOAD_ROUNDS = 400  # x 0.05 s: how long the first full loads may take at most
QUIET = 3_600.0  # a poll interval no test outlasts: after the first load, nothing polls

PAGE = """
query($filter: OrderFilter, $first: Int, $after: String) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { cursor node {
      id source reference number status updatedAt syncedAt customer { email name }
    } }
    pageInfo { hasNextPage endCursor }
    unavailableSources
  }
}
"""
# The same without the customer (a caller without customers:read may not select it).
PUBLIC_PAGE = PAGE.replace("customer { email name }", "")


def searching(settings: Settings, urls: dict[OrderSource, str], **feed: Any) -> Settings:
    options = {"affiliate_webhooks": False, "index_search": True, "poll_interval_s": QUIET}
    return feed_settings(settings, urls, **{**options, **feed})


@pytest.fixture
async def search_app(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> AsyncIterator[Starlette]:
    """A gateway ingesting from its own simulators, each loaded into the index once."""
    async with running(searching(settings, own_sims)) as app:
        await loaded(app)
        yield app


@pytest.fixture
async def client(search_app: Starlette) -> AsyncIterator[GatewayClient]:
    async with client_of(search_app, await bearer(search_app)) as http:
        yield GatewayClient(http)


@pytest.fixture
def own_controls(own_sims: dict[OrderSource, str]) -> dict[OrderSource, SimControlClient]:
    return {source: SimControlClient(url) for source, url in own_sims.items()}


async def loaded(app: Starlette, sources: Iterable[OrderSource] = ALL) -> None:
    """Until ingestion has loaded each of ``sources`` whole once (bounded)."""
    store = app.state.ordergate.store
    wanted = {source.value for source in sources}
    for _ in range(LOAD_ROUNDS):
        async with store.session() as session:
            rows = await session.exec(
                select(SyncCheckpoint.source).where(col(SyncCheckpoint.last_full_at).is_not(None))
            )
            if wanted <= set(rows):
                return
        await asyncio.sleep(0.05)
    pytest.fail(f"ingestion did not load {sorted(wanted)}")


async def walk(
    client: GatewayClient,
    filter: dict[str, Any] | None = None,
    *,
    first: int = 100,
    query: str = PAGE,
) -> list[dict[str, Any]]:
    """Every order of a listing, page after page; no page may have an error."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await client.data(query, {"filter": filter, "first": first, "after": after})
        connection = data["orders"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


def literally(node: dict[str, Any], needle: str, *, customers: bool = True) -> bool:
    """What a search means: the needle, whatever its case, inside one of the texts."""
    customer = node.get("customer") or {}
    texts = [node["reference"], node["number"]]
    if customers:
        texts += [customer.get("email"), customer.get("name")]
    return any(text and needle.casefold() in text.casefold() for text in texts)


def ids(nodes: Iterable[dict[str, Any]]) -> list[str]:
    return [node["id"] for node in nodes]


def newest_first(nodes: list[dict[str, Any]]) -> bool:
    moments = [datetime.fromisoformat(node["updatedAt"]) for node in nodes]
    return moments == sorted(moments, reverse=True)


def reset(controls: dict[OrderSource, SimControlClient]) -> None:
    for control in controls.values():
        control.reset_stats()


@contextmanager
def statements(app: Starlette) -> Iterator[list[str]]:
    """The SQL statements the app's store runs meanwhile."""
    engine = app.state.ordergate.store.engine.sync_engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def reads_of_the_index(seen: list[str]) -> list[str]:
    # Not sync_checkpoints: the partners' webhook fan-out reads its row there every tick.
    tables = ("order_index", "order_search")
    return [statement for statement in seen if any(table in statement for table in tables)]


# --- the acceptance test ---------------------------------------------------------------


async def test_a_search_for_a_customer_email_finds_their_orders_in_every_source_with_no_upstream_request(  # noqa: E501
    client: GatewayClient, own_controls: dict[OrderSource, SimControlClient]
) -> None:
    everything = await walk(client)  # read upstream: what each system holds
    theirs = [n for n in everything if (n["customer"] or {}).get("email") == REGULAR.email]
    by_name = [n for n in everything if (n["customer"] or {}).get("name") == REGULAR.name]
    # B2B orders name their client by the contact name only (document 003): no e-mail.
    assert {n["source"] for n in theirs} == ALL - {OrderSource.B2B}
    assert {n["source"] for n in by_name} == ALL
    reset(own_controls)

    found = await walk(client, {"search": REGULAR.email.upper()})
    named = await walk(client, {"search": REGULAR.name})

    assert requests_served(own_controls) == 0  # not one upstream request, sign-ins neither
    assert sorted(ids(found)) == sorted(ids(theirs))
    assert {node["customer"]["email"] for node in found} == {REGULAR.email}
    assert {node["source"] for node in named} == ALL
    assert set(ids(by_name)) <= set(ids(named))
    assert all(literally(node, REGULAR.name) for node in named)
    assert newest_first(found) and newest_first(named)
    assert all(node["syncedAt"] is not None for node in found + named)


async def test_a_search_is_one_store_query(search_app: Starlette, client: GatewayClient) -> None:
    await client.data(PAGE, {"filter": {"search": REGULAR.name}})  # sources seen loaded once
    with statements(search_app) as seen:
        data = await client.data(PAGE, {"filter": {"search": REGULAR.name}, "first": 100})
    assert data["orders"]["edges"]
    assert len(reads_of_the_index(seen)) == 1, seen


async def test_a_search_costs_one_read_of_the_orders_it_returns(client: GatewayClient) -> None:
    body = await client.query(
        "query($s: String) { orders(first: 20, filter: {search: $s}) { edges { cursor } } }",
        {"s": REGULAR.name},
    )
    returned = len(body["data"]["orders"]["edges"])
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 20  # one read across every source, no scan
    assert cost["actualQueryCost"] == returned > 0


# --- who may find what -----------------------------------------------------------------


async def test_without_customers_read_a_search_matches_neither_emails_nor_names(
    search_app: Starlette, client: GatewayClient
) -> None:
    everything = await walk(client, {"includeDeleted": True})
    [order, *_] = await walk(client, {"search": REGULAR.email})
    needles = [REGULAR.email, REGULAR.name, REGULAR.last_name, "de", "9", order["reference"]]
    public = [Scope.ORDERS_READ]
    async with client_of(search_app, await bearer(search_app, scopes=public)) as http:
        partner = GatewayClient(http)
        found = {
            needle: await walk(
                partner, {"search": needle, "includeDeleted": True}, query=PUBLIC_PAGE
            )
            for needle in needles
        }
    for needle in (REGULAR.email, REGULAR.name, REGULAR.last_name):
        assert found[needle] == []
    for needle, nodes in found.items():
        expected = [n for n in everything if literally(n, needle, customers=False)]
        assert sorted(ids(nodes)) == sorted(ids(expected)), needle
    assert order["id"] in ids(found[order["reference"]])


async def test_a_key_limited_to_one_source_finds_only_that_sources_orders(
    search_app: Starlette,
) -> None:
    affiliate = [OrderSource.AFFILIATE]
    async with client_of(search_app, await bearer(search_app, sources=affiliate)) as http:
        partner = GatewayClient(http)
        body = await partner.query(PAGE, {"filter": {"search": REGULAR.name}})
        everywhere = await walk(partner, {"search": "example.com"})
    assert "errors" not in body, body["errors"]
    edges = body["data"]["orders"]["edges"]
    assert edges and {edge["node"]["source"] for edge in edges} == {"AFFILIATE"}
    assert everywhere and {node["source"] for node in everywhere} == {"AFFILIATE"}


async def test_the_search_follows_the_index_as_orders_change_and_go(
    search_app: Starlette, client: GatewayClient
) -> None:
    store = search_app.state.ordergate.store
    [node, *_] = await walk(client, {"search": REGULAR.email, "sources": ["CRM"]})
    order = (await indexed(store, [node["id"]]))[node["id"]]
    before = await walk(client, {"search": order.reference})
    seen = codec.decode(order.order_json)
    renamed = replace(seen, reference="ZZ-RENAMED-7", updated_at=utcnow())
    await observe(store, [Observed(renamed)], ChangeOrigin.POLL)

    assert ids(await walk(client, {"search": "zz-renamed"})) == [node["id"]]
    assert node["id"] in ids(before)
    assert node["id"] not in ids(await walk(client, {"search": order.reference}))
    await observe(store, [], ChangeOrigin.POLL, gone=[(seen.source, seen.upstream_id)])
    assert await walk(client, {"search": "zz-renamed"}) == []


# --- the other filters, paging, odd needles --------------------------------------------


@pytest.mark.parametrize(
    "filter",
    [
        {"search": "example", "statuses": ["DELIVERED", "CANCELLED"]},
        {"search": "o", "statuses": ["CONFIRMED"], "sources": ["CRM", "B2B"]},
        {"search": "a", "paymentStatuses": ["PAID"]},
        {"search": "a", "updatedSince": "2026-09-15T00:00:00+00:00"},
        {"search": "e", "offline": True},
        {"search": "e", "offline": False, "sources": ["WEBSHOP"]},
        {"search": "e", "includeDeleted": True, "sources": ["CRM"]},
    ],
    ids=lambda f: ",".join(f),
)
async def test_the_other_filters_combine_with_a_search(
    client: GatewayClient, filter: dict[str, Any]
) -> None:
    plain = {key: value for key, value in filter.items() if key != "search"}
    expected = [n for n in await walk(client, plain) if literally(n, filter["search"])]
    found = await walk(client, filter, first=3)
    assert sorted(ids(found)) == sorted(ids(expected))
    assert newest_first(found)


async def test_paging_through_a_search_takes_every_hit_once(client: GatewayClient) -> None:
    whole = await walk(client, {"search": "e"})
    assert len(whole) > 40
    for first in (1, 7, 40):
        paged = await walk(client, {"search": "e"}, first=first)
        assert ids(paged) == ids(whole)  # the same orders in the same order: none twice
    assert newest_first(whole)


ODD_NEEDLES = [
    '"',
    "'",
    '""',
    '"de boer"',
    "%",
    "_",
    "%_%",
    "\\",
    "\\%",
    "a%b",
    "OR",
    "de OR x",
    "NOT e",
    "e AND a",
    "NEAR(",
    "NEAR(de boer)",
    "*",
    "de*",
    "^de",
    "reference:CS",
    "{reference number} : x",
    "-",
    "e",
    "de",
    "Ü",
    "\u0000",
    "a\u0000b",
]


@pytest.mark.parametrize("needle", ODD_NEEDLES)
async def test_a_needle_with_query_syntax_in_it_is_no_error_and_matches_literally(
    client: GatewayClient, needle: str
) -> None:
    everything = await walk(client, {"includeDeleted": True})
    expected = [node for node in everything if literally(node, needle.strip())]
    found = await walk(client, {"search": needle, "includeDeleted": True})
    assert sorted(ids(found)) == sorted(ids(expected))


# --- syncedAt ----------------------------------------------------------------------------


async def test_synced_at_says_when_the_index_saw_each_order(
    search_app: Starlette, client: GatewayClient
) -> None:
    live = await walk(client)  # read upstream, `syncedAt` from the index
    assert live and all(datetime.fromisoformat(node["syncedAt"]) for node in live)
    await client.data(PAGE, {"first": 100})  # the sources' loads are known from here on
    with statements(search_app) as seen:
        await client.data(PAGE, {"first": 100})
    assert len(reads_of_the_index(seen)) == 1, seen  # a page's worth of orders, one query


async def test_synced_at_is_null_for_orders_never_indexed(gateway: GatewayClient) -> None:
    data = await gateway.data(PAGE, {"first": 100})  # no ingestion: the index is empty
    edges = data["orders"]["edges"]
    assert edges and all(edge["node"]["syncedAt"] is None for edge in edges)


# --- before the first load; index_reads --------------------------------------------------


async def test_a_search_before_the_first_load_names_the_sources_not_indexed(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> None:
    quiet = searching(settings, own_sims, ingest=False)
    async with running(quiet) as app:
        async with client_of(app, await bearer(app)) as http:
            body = await GatewayClient(http).query(PAGE, {"filter": {"search": "e"}})
        affiliate = [OrderSource.AFFILIATE]
        async with client_of(app, await bearer(app, sources=affiliate)) as http:
            limited = await GatewayClient(http).query(PAGE, {"filter": {"search": "e"}})
    assert body["data"]["orders"]["edges"] == []
    assert sorted(body["data"]["orders"]["unavailableSources"]) == sorted(s.value for s in ALL)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_INDEXED"
    assert sorted(error["extensions"]["sources"]) == sorted(s.value for s in ALL)
    assert error["path"] == ["orders"]
    assert [e["extensions"]["sources"] for e in limited["errors"]] == [["AFFILIATE"]]


async def test_index_reads_serves_a_plain_listing_without_upstream_requests(
    settings: Settings,
    own_sims: dict[OrderSource, str],
    own_controls: dict[OrderSource, SimControlClient],
) -> None:
    upstream = searching(settings, own_sims, ingest=False)
    async with running(upstream) as app:
        async with client_of(app, await bearer(app)) as http:
            expected = await walk(GatewayClient(http))
    async with running(searching(settings, own_sims, index_reads=True)) as app:
        await loaded(app)
        reset(own_controls)
        async with client_of(app, await bearer(app)) as http:
            client = GatewayClient(http)
            listed = await walk(client, first=30)
            page = await client.data(PAGE, {"first": 5})
        assert requests_served(own_controls) == 0
    assert sorted(ids(listed)) == sorted(ids(expected))
    assert newest_first(listed)
    assert all(node["syncedAt"] is not None for node in listed)

    # A cursor of the index is none of the upstream listing's, and the other way round.
    index_cursor = page["orders"]["pageInfo"]["endCursor"]
    async with running(upstream) as app:
        async with client_of(app, await bearer(app)) as http:
            client = GatewayClient(http)
            body = await client.query(PAGE, {"first": 5, "after": index_cursor})
            upstream_cursor = (await client.data(PAGE, {"first": 5}))["orders"]["pageInfo"]
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "order index" in body["errors"][0]["message"]
    async with running(searching(settings, own_sims, index_reads=True, ingest=False)) as app:
        async with client_of(app, await bearer(app)) as http:
            after = upstream_cursor["endCursor"]
            body = await GatewayClient(http).query(PAGE, {"first": 5, "after": after})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "read from the upstreams" in body["errors"][0]["message"]
