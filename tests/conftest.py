"""Fixtures shared by the suite: the four simulators over real sockets, and the gateway app.

The simulators run once per session in a background thread (``ServerThread``); tests that
change their state or faults reset them through the control API. The gateway runs under its
own lifespan in the test's event loop and is spoken to through ``httpx.ASGITransport``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from backends.registry import create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import ServerThread
from domain.access import ALL_SCOPES, Scope
from domain.models import OrderSource
from gateway.app import create_app
from gateway.settings import Settings
from store import api_keys
from store.engine import Store
from telemetry import logs
from tests.support import SimControlClient

SIM_CONFIG = SimConfig(seed=42, orders=120)
# A secret only the test settings hold: no log line of the whole suite may show it.
CURSOR_SECRET = "og-test-cursor-secret-never-logged"


class SecretWatch(logging.Handler):
    """Every line any test writes (INFO and up), checked for a secret: the test settings'
    ``SecretStr`` values and every API key the suite makes (``bearer``)."""

    watching: ClassVar[list[SecretWatch]] = []

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(logging.INFO)
        self.secrets = {s for s in secrets if len(s) >= logs.MIN_SECRET}
        self.leaks: list[str] = []
        SecretWatch.watching.append(self)

    def emit(self, line: logging.LogRecord) -> None:
        text = line.getMessage() + (self.format(line) if line.exc_info else "")
        for secret in self.secrets:
            if secret in text:
                self.leaks.append(f"{line.name}: {text[:300]}")


@pytest.fixture(scope="session", autouse=True)
def secret_watch() -> Iterator[SecretWatch]:
    settings = Settings(_env_file=None, cursor_secret=CURSOR_SECRET)  # type: ignore[call-arg]
    watch = SecretWatch(logs.secrets_of(settings))
    root = logging.getLogger()
    level = root.level
    root.addHandler(watch)
    root.setLevel(min(level or logging.WARNING, logging.INFO))
    yield watch
    root.removeHandler(watch)
    root.setLevel(level)
    assert not watch.leaks, "secrets in log lines:\n" + "\n".join(watch.leaks[:20])


@pytest.fixture(scope="session")
def simulator_urls() -> Iterator[dict[OrderSource, str]]:
    apps = {source.value: create_simulator(source, SIM_CONFIG) for source in OrderSource}
    with ServerThread(apps) as servers:
        yield {source: servers.urls[source.value] for source in OrderSource}


@pytest.fixture
def sims(simulator_urls: dict[OrderSource, str]) -> Iterator[dict[OrderSource, SimControlClient]]:
    """Control clients of the four simulators; faults and counters are cleared after the test."""
    clients = {source: SimControlClient(url) for source, url in simulator_urls.items()}
    yield clients
    for client in clients.values():
        client.reset_faults()
        client.reset_stats()


@pytest.fixture
def fresh_sims(
    sims: dict[OrderSource, SimControlClient],
) -> Iterator[dict[OrderSource, SimControlClient]]:
    """The simulators back at their seed before and after a test that writes."""
    for sim in sims.values():
        sim.reset()
    yield sims
    for sim in sims.values():
        sim.reset()


def database_url(tmp_path: Path) -> str:
    return (
        os.environ.get("ORDERGATE_TEST_DATABASE_URL")
        or f"sqlite+aiosqlite:///{tmp_path}/ordergate.db"
    )


@pytest.fixture
def settings(simulator_urls: dict[OrderSource, str], tmp_path: Path) -> Settings:
    """Gateway settings aimed at the session's simulators, with quick retries and timeouts."""
    backend_options: dict[str, Any] = {"timeout_s": 2.0, "retries": 1, "backoff_base_s": 0.01}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url(tmp_path),
        simulators=False,
        cursor_secret=CURSOR_SECRET,
        gc_gen0_threshold=0,  # the collector of the test process is left as it is
        outbox={"poll_interval_s": 0.1, "backoff_base_s": 0.1, "backoff_max_s": 1.0},
        # No polling of the shared simulators (it would count in their stats): feed tests
        # turn ingestion on with simulators of their own. Without an index, searches read the
        # upstreams (tests/feed/test_search.py searches the index).
        feed={"ingest": False, "tick_s": 0.2, "index_search": False},
        # A budget no test exhausts by accident; tests/gateway/test_limits.py sets its own.
        limits={"bucket_size": 1_000_000, "restore_rate": 1_000_000},
        **{
            source.value.lower(): {"base_url": url, **backend_options}
            for source, url in simulator_urls.items()
        },
    )


class GatewayClient:
    """A small GraphQL client over the app under test."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, **kw
        )

    async def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON body of a POST; asserts the HTTP exchange itself succeeded (200)."""
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """``data`` of a query that must not produce any error."""
        body = await self.query(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


WRITE_TABLES = (
    "outbox",
    "order_events",
    "idempotency_keys",
    "shipments",
    "orders",
    "api_keys",
    "order_index",
    "change_events",
    "sync_checkpoints",
    "webhook_receipts",
    "webhook_subscriptions",
    "webhook_deliveries",
)


async def empty_store(url: str) -> None:
    """A shared test database (PostgreSQL) starts each test without earlier tests' rows."""
    store = Store(url)
    try:
        await store.migrate()
        async with store.engine.begin() as connection:
            for table in WRITE_TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))
    finally:
        await store.aclose()


TESTER = "tester"  # the name of the key the `gateway` fixture sends: the actor in histories


async def bearer(
    app: Starlette,
    *,
    name: str | None = None,
    scopes: Iterable[Scope] = ALL_SCOPES,
    sources: Iterable[OrderSource] = (),
    rate: float | None = None,
) -> dict[str, str]:
    """The header of a new API key made in the running app's store. Without a ``name`` it is
    the first of "tester", "tester-2", ... that no live key has (names are unique)."""
    store = app.state.ordergate.store
    live = {r.name for r in await api_keys.list_keys(store) if r.revoked_at is None}
    if name is None:
        name = next(
            n for n in (TESTER, *(f"{TESTER}-{i}" for i in range(2, 10_000))) if n not in live
        )
    key = await api_keys.create(store, name=name, scopes=scopes, sources=sources, rate=rate)
    for watch in SecretWatch.watching:
        watch.secrets.add(key.secret)
    return {"Authorization": f"Bearer {key.secret}"}


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Starlette]:
    """The app under its lifespan (a shared PostgreSQL store emptied first)."""
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL"):
        await empty_store(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_of(app: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=headers)


@pytest.fixture
async def gateway_app(settings: Settings) -> AsyncIterator[Starlette]:
    async with running(settings) as app:
        yield app


@pytest.fixture
async def gateway(gateway_app: Starlette) -> AsyncIterator[GatewayClient]:
    """A client of the running app holding a key with every scope on every source."""
    async with client_of(gateway_app, await bearer(gateway_app)) as http:
        yield GatewayClient(http)
