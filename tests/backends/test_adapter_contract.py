"""The behaviour every adapter owes the gateway (``backends.base.OrderBackend``), checked the
same way against all four, each talking to its own running simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backends.base import OrderBackend, OrderQuery
from backends.config import BackendSettings
from backends.registry import create_adapter
from domain.errors import (
    UpstreamMalformedError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from domain.models import Order, OrderSource
from gateway.settings import Settings
from tests.support import SimControlClient, upstream_total


@pytest.fixture(params=list(OrderSource), ids=lambda s: s.value)
def source(request: pytest.FixtureRequest) -> OrderSource:
    return request.param  # type: ignore[no-any-return]


def section(source: OrderSource, url: str, **options: object) -> BackendSettings:
    defaults = Settings.model_fields[source.value.lower()].default_factory()  # type: ignore[misc]
    return defaults.model_copy(
        update={"base_url": url, "retries": 0, "timeout_s": 2.0, "page_size": 25, **options}
    )


@pytest.fixture
async def adapter(
    source: OrderSource, simulator_urls: dict[OrderSource, str]
) -> AsyncIterator[OrderBackend]:
    backend = create_adapter(source, section(source, simulator_urls[source]))
    yield backend
    await backend.aclose()


async def read_all(adapter: OrderBackend, query: OrderQuery, limit: int) -> list[Order]:
    orders: list[Order] = []
    while True:
        page = await adapter.list_orders(query, offset=len(orders), limit=limit)
        orders.extend(page.orders)
        if page.exhausted:
            return orders
        assert page.orders, "a page that is not the last must not be empty"


async def test_it_is_an_order_backend_of_its_source(
    adapter: OrderBackend, source: OrderSource
) -> None:
    assert isinstance(adapter, OrderBackend)
    assert adapter.source is source
    assert adapter.name
    assert adapter.capabilities


@pytest.mark.parametrize("limit", [7, 25])
async def test_the_listing_is_every_order_once_newest_first(
    adapter: OrderBackend,
    source: OrderSource,
    simulator_urls: dict[OrderSource, str],
    limit: int,
) -> None:
    orders = await read_all(adapter, OrderQuery(), limit)
    assert (
        len({o.upstream_id for o in orders})
        == len(orders)
        == upstream_total(source, simulator_urls[source])
    )
    assert all(o.source is source for o in orders)
    stamps = [o.updated_at for o in orders]
    assert stamps == sorted(stamps, reverse=True)
    assert all(o.updated_at.tzinfo is not None and o.created_at.tzinfo is not None for o in orders)


async def test_pushed_down_filters_never_drop_a_matching_order(adapter: OrderBackend) -> None:
    everything = await read_all(adapter, OrderQuery(), 25)
    cutoff = sorted(o.updated_at for o in everything)[len(everything) // 2]
    statuses = frozenset(o.status for o in everything[::3])
    query = OrderQuery(statuses=statuses, updated_since=cutoff)
    expected = {o.upstream_id for o in everything if query.matches(o)}
    got = {o.upstream_id for o in await read_all(adapter, query, 25) if query.matches(o)}
    assert got == expected and expected


async def test_a_batch_read_keeps_key_order_and_gives_none_for_unknown_ids(
    adapter: OrderBackend, simulator_urls: dict[OrderSource, str], source: OrderSource
) -> None:
    page = await adapter.list_orders(OrderQuery(), offset=0, limit=5)
    ids = [o.upstream_id for o in page.orders][::-1]
    sim = SimControlClient(simulator_urls[source])
    sim.reset_stats()
    got = await adapter.get_orders([ids[0], "999999999", *ids[1:], ids[0]])
    assert [o.upstream_id if o else None for o in got] == [ids[0], None, *ids[1:], ids[0]]
    assert got[0] == next(o for o in page.orders if o.upstream_id == ids[0])
    # One batch request where the upstream has a batch read; else one read per distinct id.
    reads = sum(n for route, n in sim.stats()["requests"].items() if route.startswith("GET"))
    assert reads in (1, len(set(ids)) + 1)


async def test_find_by_reference_returns_the_same_order(adapter: OrderBackend) -> None:
    [first, *_] = (await adapter.list_orders(OrderQuery(), offset=40, limit=3)).orders
    assert first.reference
    found = await adapter.find_by_reference(first.reference)
    assert found is not None and found.upstream_id == first.upstream_id
    assert await adapter.find_by_reference("NO-SUCH-REFERENCE-42") is None


async def test_the_status_catalog_maps_every_status_seen(adapter: OrderBackend) -> None:
    catalog = await adapter.status_catalog()
    orders = await read_all(adapter, OrderQuery(), 25)
    assert {o.upstream_status for o in orders} <= {entry.name for entry in catalog} | {
        entry.id for entry in catalog
    }
    assert await adapter.check_health() is True


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"error_rate": 1.0}, UpstreamUnavailableError),
        ({"error_rate": 1.0, "error_status": 502}, UpstreamUnavailableError),
        ({"malformed_rate": 1.0}, UpstreamMalformedError),
    ],
    ids=["503", "502", "garbage"],
)
async def test_upstream_failures_are_typed_errors_of_the_source(
    adapter: OrderBackend,
    source: OrderSource,
    sims: dict[OrderSource, SimControlClient],
    fault: dict[str, object],
    error: type[Exception],
) -> None:
    await adapter.check_health()  # credentials first: the fault is on the order read
    sims[source].set_faults(**fault)
    with pytest.raises(error) as raised:
        await adapter.list_orders(OrderQuery(), offset=0, limit=5)
    assert raised.value.source is source  # type: ignore[attr-defined]
    assert await adapter.check_health() is False


async def test_an_upstream_that_hangs_is_a_timeout_not_a_hang(
    source: OrderSource,
    simulator_urls: dict[OrderSource, str],
    sims: dict[OrderSource, SimControlClient],
) -> None:
    adapter = create_adapter(source, section(source, simulator_urls[source], timeout_s=0.3))
    try:
        await adapter.check_health()
        sims[source].set_faults(timeout_rate=1.0)
        with pytest.raises(UpstreamTimeoutError):
            await adapter.list_orders(OrderQuery(), offset=0, limit=5)
    finally:
        await adapter.aclose()


async def test_rate_limiting_honours_retry_after_then_gives_up_typed(
    source: OrderSource,
    simulator_urls: dict[OrderSource, str],
    sims: dict[OrderSource, SimControlClient],
) -> None:
    # One retry allowed, and Retry-After (1 s) is longer than this adapter may wait.
    adapter = create_adapter(
        source, section(source, simulator_urls[source], retries=1, max_retry_after_s=0.5)
    )
    try:
        await adapter.check_health()
        sims[source].set_faults(rate_limit_per_s=1)
        await adapter.list_orders(OrderQuery(), offset=0, limit=5)  # the one allowed this second
        with pytest.raises(UpstreamRateLimitedError) as raised:
            await adapter.list_orders(OrderQuery(), offset=0, limit=5)
        assert raised.value.retry_after == 1.0
    finally:
        await adapter.aclose()
