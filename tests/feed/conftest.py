"""Fixtures of the change-feed tests: simulators of their own (a feed test changes their
orders, and its polling would count in the shared simulators' stats) and a gateway ingesting
from them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from backends.registry import create_adapter, create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import ServerThread
from domain.commands import OrderCommand
from domain.models import Order, OrderSource
from gateway.settings import Settings
from tests.conftest import running

FEED_SIM = SimConfig(seed=11, orders=25)


@pytest.fixture
def own_sims() -> Iterator[dict[OrderSource, str]]:
    apps = {source.value: create_simulator(source, FEED_SIM) for source in OrderSource}
    with ServerThread(apps) as servers:
        yield {source: servers.urls[source.value] for source in OrderSource}


def feed_settings(settings: Settings, urls: dict[OrderSource, str], **feed: Any) -> Settings:
    """``settings`` aimed at ``urls``, ingesting (quick polls, no full re-reads)."""
    options = {"ingest": True, "poll_interval_s": 0.2, "tick_s": 0.2, "overlap_s": 2.0}
    update: dict[str, Any] = {
        "feed": settings.feed.model_copy(update={**options, **feed}),
    }
    for source, url in urls.items():
        section = settings.backend(source)
        update[source.value.lower()] = section.model_copy(update={"base_url": url})
    return settings.model_copy(update=update)


@pytest.fixture
async def feed_app(
    settings: Settings, own_sims: dict[OrderSource, str]
) -> AsyncIterator[Starlette]:
    async with running(feed_settings(settings, own_sims, affiliate_webhooks=False)) as app:
        yield app


async def change_upstream(
    settings: Settings, source: OrderSource, url: str, upstream_id: str, command: OrderCommand
) -> Order:
    """Make a change in the upstream itself, as another of its clients would (its own
    adapter, not the gateway under test)."""
    section = settings.backend(source).model_copy(update={"base_url": url})
    adapter = create_adapter(source, section)
    try:
        result = await adapter.execute(upstream_id, command, idempotency_key=uuid.uuid4().hex)
        return result.order
    finally:
        await adapter.aclose()
