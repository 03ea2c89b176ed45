"""Query limits and the cost budget, tried as attacks against the real app and simulators.

Every query bomb of issue 7 ("Why") is refused with ``QUERY_TOO_COMPLEX`` naming the limit it
breaks, its value and the maximum, before any resolver runs: the four simulators count zero
requests (``/_sim/stats``). A query within the limits is served and says what it cost
(``extensions.cost``, Shopify's shape). A caller that spends its bucket is refused with HTTP 429,
``Retry-After`` and ``RATE_LIMITED``, again without an upstream call; a bucket belongs to one
key, and two app instances on one Redis draw on the same bucket.

The test ``settings`` give every caller a budget no test exhausts; the rate-limit tests here
run apps with small buckets of their own (``with_limits``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from graphql import get_introspection_query
from starlette.applications import Starlette

from domain.models import OrderSource
from gateway.settings import Settings
from gateway.throttle import RedisBuckets
from schema import limits as schema_limits
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import SimControlClient, needs, requests_served

REDIS_URL = "redis://127.0.0.1:6379/15"

Sims = dict[OrderSource, SimControlClient]


def reset(sims: Sims) -> None:
    for sim in sims.values():
        sim.reset_stats()


def aliased(count: int, field: str) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def doubling(levels: int, on: str, leaf: str) -> str:
    """Fragments F1..F<levels>, each spreading the next twice: ``leaf`` 2**(levels-1) times."""
    fragments = [f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, levels)]
    return "\n".join([*fragments, f"fragment F{levels} on {on} {{ {leaf} }}"])


ORDERS_100 = "orders(first: 100) { edges { node { id reference status } } }"
# Per order: 4 parentOrder + 4 splitOrders reads; 100 orders from each of 4 sources:
# 100 * 4 + 100 * 8 = 1200 points, over the 1000 allowed, with no alias at all.
FAMILY = """edges { node { id
  parentOrder { parentOrder { parentOrder { parentOrder { id } } } }
  splitOrders { splitOrders { splitOrders { splitOrders { id } } } } } }"""
DEEP_ORDER = "orders(first: 1) { edges { node { " + "parentOrder { " * 9 + "id" + " }" * 12


@dataclass(frozen=True)
class Bomb:
    query: str
    limit: str  # the limit it breaks, as the refusal names it
    value: int
    maximum: int
    variables: dict[str, Any] | None = None


BOMBS: dict[str, Bomb] = {
    "20-aliases-of-orders-first-100": Bomb(aliased(20, ORDERS_100), "aliases", 20, 15),
    # Its 500 aliases need ~8,500 tokens: the parser stops at 2,000.
    "500-aliases-of-orders-first-100": Bomb(aliased(500, ORDERS_100), "tokens", 1001, 1000),
    "100-aliases-of-backends-healthy": Bomb(
        aliased(100, "backends { healthy }"), "aliases", 100, 15
    ),
    "a-10000-field-document": Bomb(
        "{ viewer { " + "principal " * 10_000 + "} }", "query size", 100_014, 100_000
    ),
    "a-2000-field-document": Bomb(
        "{ viewer { " + "principal " * 2_000 + "} }", "tokens", 1001, 1000
    ),
    "depth-13": Bomb("{ " + DEEP_ORDER + " }", "depth", 13, 12),
    "nested-5000-levels": Bomb("{ viewer " * 5000 + "}" * 5000, "tokens", 1001, 1000),
    "nested-300-levels-within-the-token-limit": Bomb(
        "{ viewer " * 300 + "}" * 300, "depth", 13, 12
    ),
    "50-directives-on-one-field": Bomb(
        "{ orders(first: 1) { edges { node { id" + " @include(if: true)" * 50 + " } } } }",
        "directives on one field",
        50,
        10,
    ),
    "11-root-fields": Bomb(aliased(11, "viewer { principal }"), "root fields", 11, 10),
    "cost-without-aliases": Bomb("{ orders(first: 100) { " + FAMILY + " } }", "cost", 1200, 1000),
    "cost-with-first-through-a-variable": Bomb(
        "query($n: Int!) { orders(first: $n) { " + FAMILY + " } }",
        "cost",
        1200,
        1000,
        variables={"n": 100},
    ),
    "cost-with-first-left-to-the-variable-default": Bomb(
        "query($n: Int = 100) { orders(first: $n) { " + FAMILY + " } }", "cost", 1200, 1000
    ),
    "cost-with-first-sent-as-100.0": Bomb(
        "query($n: Int) { orders(first: $n) { " + FAMILY + " } }",
        "cost",
        1200,
        1000,
        variables={"n": 100.0},
    ),
    "introspection-recursing-through-types": Bomb(
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        "nesting of introspection lists",
        4,
        3,
    ),
    "introspection-recursing-from-one-type": Bomb(
        '{ __type(name: "Order") { fields { type { fields { type { fields { type { fields '
        "{ name } } } } } } } } }",
        "nesting of introspection lists",
        4,
        3,
    ),
    "fragment-doubling-25-levels-aliased": Bomb(
        "{ ...F1 }\n" + doubling(25, "Query", "a: " + ORDERS_100), "aliases", 2**24, 15
    ),
    "fragment-doubling-25-levels-at-the-root": Bomb(
        "{ ...F1 }\n" + doubling(25, "Query", ORDERS_100), "root fields", 2**24, 10
    ),
    "fragment-doubling-25-levels-on-orders": Bomb(
        "{ orders(first: 1) { edges { node { ...F1 } } } }\n"
        + doubling(25, "Order", "parentOrder { id }"),
        "cost",
        1 * 4 + 2**24,
        1000,
    ),
}


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
async def test_a_query_bomb_is_refused_naming_the_limit_before_any_upstream_call(
    gateway: GatewayClient, sims: Sims, bomb: Bomb
) -> None:
    reset(sims)
    body = await gateway.query(bomb.query, bomb.variables)
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": bomb.limit,
        "value": bomb.value,
        "max": bomb.maximum,
    }
    assert bomb.limit in error["message"]
    assert requests_served(sims) == 0


async def test_a_clients_introspection_is_served_though_deeper_than_the_depth_limit(
    gateway: GatewayClient, sims: Sims
) -> None:
    """GraphiQL's (and graphql-core's) schema query is 15 deep: its ``ofType`` chain is one
    object in another, bounded by the nesting of its lists (3), not by ``max_depth``."""
    reset(sims)
    query = get_introspection_query(descriptions=True, specified_by_url=True)
    body = await gateway.query(query)
    assert "errors" not in body, body["errors"]
    assert any(t["name"] == "Order" for t in body["data"]["__schema"]["types"])
    assert requests_served(sims) == 0


async def test_a_query_within_the_limits_is_served_and_says_what_it_cost(
    gateway: GatewayClient,
) -> None:
    body = await gateway.query(
        "{ orders(first: 5) { edges { node { id parentOrder { id } } } } viewer { principal } }"
    )
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["orders"]["edges"]) == 5
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 5 * 4 + 5 * 1
    assert 0 <= cost["actualQueryCost"] <= cost["requestedQueryCost"]
    assert set(cost["throttleStatus"]) == {
        "maximumAvailable",
        "currentlyAvailable",
        "restoreRate",
    }


async def test_a_listing_that_ends_before_first_costs_the_orders_it_read(
    gateway: GatewayClient,
) -> None:
    # The platform filters by status itself: every order it sends back matches.
    body = await gateway.query(
        "{ orders(first: 100, filter: {sources: [AFFILIATE], statuses: [CANCELLED]}) {"
        " edges { node { id } } } }"
    )
    assert "errors" not in body, body["errors"]
    returned = len(body["data"]["orders"]["edges"])
    assert 0 < returned < 100
    cost = body["extensions"]["cost"]
    # one source, read to depth 100; a status filter may thin its pages: 4 more reads at 10
    assert cost["requestedQueryCost"] == 100 + 4 * 10
    assert cost["actualQueryCost"] == returned


async def test_a_search_that_matches_nothing_still_pays_for_what_it_read(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    for sim in sims.values():
        sim.reset_stats()
    body = await gateway.query(
        '{ orders(first: 20, filter: {search: "no order says this"}) { edges { cursor } } }'
    )
    assert body["data"]["orders"]["edges"] == []
    reads = sum(
        count
        for sim in sims.values()
        for route, count in sim.stats()["requests"].items()
        if route.startswith("GET ")  # sign-ins are no listing reads
    )
    assert reads > 4  # each backend read on past its first page
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 4 * (20 + 4 * 10)
    # Nothing came back, but it pays for each source's first 20 and 10 per read after that.
    assert cost["actualQueryCost"] == 4 * 20 + 10 * (reads - 4)


# --- the budget --------------------------------------------------------------------------

SPEND_40 = "{ orders(first: 10) { edges { node { id } } } }"  # 10 orders x 4 sources
VIEWER = "{ viewer { throttleStatus { maximumAvailable currentlyAvailable restoreRate } } }"
SLOW = 0.001  # points per second: a bucket that does not refill while a test runs


def with_limits(settings: Settings, **limits: Any) -> Settings:
    return settings.model_copy(update={"limits": settings.limits.model_copy(update=limits)})


async def available(client: GatewayClient) -> float:
    data = await client.data(VIEWER)
    points: float = data["viewer"]["throttleStatus"]["currentlyAvailable"]
    return points


def rate_limited(response: httpx.Response) -> int:
    """The ``Retry-After`` of a 429 refusal, after checking its shape."""
    assert response.status_code == 429, response.text
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": int(retry_after)}
    return int(retry_after)


@pytest.fixture
async def small_bucket(settings: Settings) -> AsyncIterator[Starlette]:
    """An app where each caller holds 100 points, refilled at 1 point a second."""
    async with running(with_limits(settings, bucket_size=100, restore_rate=1)) as app:
        yield app


async def test_a_caller_that_spent_its_bucket_is_refused_with_429_and_retry_after(
    small_bucket: Starlette, sims: Sims
) -> None:
    async with client_of(small_bucket, await bearer(small_bucket)) as http:
        client = GatewayClient(http)
        for _ in range(4):  # 100 points pay for two queries of 40, not for three
            reset(sims)
            response = await client.post(SPEND_40)
            if response.status_code != 200:
                break
            assert "errors" not in response.json()
        rate_limited(response)
        assert requests_served(sims) == 0


async def test_viewer_shows_the_bucket_drop_by_what_a_query_spent(settings: Settings) -> None:
    async with (
        running(with_limits(settings, bucket_size=1000, restore_rate=SLOW)) as app,
        client_of(app, await bearer(app)) as http,
    ):
        client = GatewayClient(http)
        before = await available(client)
        assert before == pytest.approx(1000, abs=0.2)
        spent = await client.query(SPEND_40)
        assert spent["extensions"]["cost"]["actualQueryCost"] == 40
        after = await available(client)
        assert before - after == pytest.approx(40, abs=0.2)
        status = spent["extensions"]["cost"]["throttleStatus"]
        assert status["currentlyAvailable"] == pytest.approx(after, abs=0.2)


async def test_each_key_has_its_own_bucket(settings: Settings) -> None:
    async with running(with_limits(settings, bucket_size=100, restore_rate=SLOW)) as app:
        async with (
            client_of(app, await bearer(app, name="spender")) as spender_http,
            client_of(app, await bearer(app, name="bystander")) as bystander_http,
        ):
            spender, bystander = GatewayClient(spender_http), GatewayClient(bystander_http)
            await spender.data(SPEND_40)
            await spender.data(SPEND_40)
            rate_limited(await spender.post(SPEND_40))
            assert await available(bystander) == pytest.approx(100, abs=0.2)
            assert (await bystander.post(SPEND_40)).status_code == 200


@pytest.fixture
def shared_redis() -> str:
    """Database 15 of the local Redis, without buckets of earlier runs."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        needs(f"Redis at {REDIS_URL} does not answer ({error}); the shared budget needs it")
    try:
        stale = list(client.scan_iter(f"{RedisBuckets.PREFIX}*"))
        if stale:
            client.delete(*stale)
    finally:
        client.close()
    return REDIS_URL


async def test_two_instances_on_one_redis_share_one_budget(
    settings: Settings, shared_redis: str, sims: Sims
) -> None:
    shared = with_limits(settings, bucket_size=100, restore_rate=SLOW).model_copy(
        update={"redis_url": shared_redis}
    )
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(shared))
        second = await stack.enter_async_context(running(shared))  # same store, same keys
        headers = await bearer(first)
        one = GatewayClient(await stack.enter_async_context(client_of(first, headers)))
        two = GatewayClient(await stack.enter_async_context(client_of(second, headers)))
        await one.data(SPEND_40)
        await one.data(SPEND_40)
        assert await available(two) == pytest.approx(100 - 80, abs=0.2)
        reset(sims)
        rate_limited(await two.post(SPEND_40))
        assert requests_served(sims) == 0


async def test_a_rate_limit_store_that_is_down_fails_open_with_no_internal_address(
    settings: Settings,
) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with running(down) as app, client_of(app, await bearer(app)) as http:
        body = (await http.post("/graphql", json={"query": "{ viewer { principal } }"})).json()
    assert body["data"]["viewer"]["principal"] == "tester", body
    assert "127.0.0.1" not in str(body)


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf")])
async def test_a_key_rate_is_a_positive_finite_number(gateway_app: Starlette, rate: float) -> None:
    from domain.errors import ValidationError
    from store import api_keys

    with pytest.raises(ValidationError):
        await api_keys.create(gateway_app.state.ordergate.store, name="x", scopes=[], rate=rate)


async def test_an_ordinary_syntax_error_is_not_taken_for_the_token_limit(
    gateway: GatewayClient,
) -> None:
    body = (await gateway.post("{ __typename } tokens")).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


REFUSED = {
    "syntax": "{ viewer { principal }",
    "validation": "{ viewer { nosuchfield } }",
    "a-limit": "{ " + DEEP_ORDER + " }",
    "no-such-operation": "query A { viewer { principal } }",
}


@pytest.mark.parametrize("query", REFUSED.values(), ids=REFUSED.keys())
async def test_a_refused_document_takes_the_refusal_cost_from_the_bucket(
    settings: Settings, query: str
) -> None:
    async with (
        running(with_limits(settings, bucket_size=1000, restore_rate=SLOW)) as app,
        client_of(app, await bearer(app)) as http,
    ):
        client = GatewayClient(http)
        before = await available(client)
        extra = {"operationName": "B"} if "query A" in query else {}
        response = await http.post("/graphql", json={"query": query, **extra})
        assert response.json().get("data") is None and response.json()["errors"]
        assert before - await available(client) == pytest.approx(10, abs=0.2)


async def test_a_caller_who_cannot_pay_for_a_refusal_has_no_new_document_parsed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real_parse = schema_limits.parse

    def counting_parse(source: str, **options: Any) -> Any:
        parsed.append(source)
        return real_parse(source, **options)

    monkeypatch.setattr(schema_limits, "parse", counting_parse)
    async with (
        running(with_limits(settings, bucket_size=25, restore_rate=SLOW)) as app,
        client_of(app, await bearer(app)) as http,
    ):
        client = GatewayClient(http)
        await available(client)  # VIEWER is known from now on
        for n in range(2):  # 2 x 10 points: 5 are left
            assert "errors" in (await client.post(f"{{ viewer {{ no{n} }} }}")).json()
        before = len(parsed)
        retry_after = rate_limited(await client.post("{ viewer { principal kind } }"))
        assert retry_after >= 5 / SLOW - 1
        assert len(parsed) == before  # refused unread
        assert await available(client) == pytest.approx(5, abs=0.2)  # a known document runs


async def test_comments_are_not_tokens(gateway: GatewayClient) -> None:
    """graphql-core's parser counts only lexical tokens against the limit, as the regular
    expression before it does: a well-commented document is no bomb."""
    commented = "{ viewer { principal } }\n" + "# a comment line\n" * 1_500
    body = await gateway.query(commented)
    assert "errors" not in body, body["errors"]


@pytest.mark.parametrize("empty", ["statuses", "paymentStatuses"])
async def test_an_empty_status_list_matches_nothing_and_reads_nothing(
    gateway: GatewayClient, sims: Sims, empty: str
) -> None:
    reset(sims)
    body = await gateway.query(
        f"{{ orders(first: 5, filter: {{{empty}: []}}) {{ edges {{ cursor }} }} }}"
    )
    assert body["data"]["orders"]["edges"] == []
    assert requests_served(sims) == 0
    assert body["extensions"]["cost"]["actualQueryCost"] == 0
