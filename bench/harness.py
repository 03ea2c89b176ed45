"""What the benchmarks share: simulators in a process of their own, a gateway on a free port,
and the line that says where the figures were measured."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import platform
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from backends.registry import create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import ServerThread
from domain.access import ALL_SCOPES
from domain.models import OrderSource
from gateway.app import create_app
from gateway.settings import Settings
from store import api_keys
from store.engine import Store


def _serve_simulators(urls: multiprocessing.Queue, stop: Any, orders: int) -> None:
    sims = {s.value: create_simulator(s, SimConfig(seed=42, orders=orders)) for s in OrderSource}
    with ServerThread(sims) as servers:
        urls.put({s: servers.urls[s.value] for s in OrderSource})
        stop.wait()


@contextlib.contextmanager
def simulators_process(orders: int = 120) -> Iterator[dict[OrderSource, str]]:
    """The simulators in a process of their own, so they do not share the gateway's GIL."""
    with simulators_with_pid(orders) as (urls, _pid):
        yield urls


@contextlib.contextmanager
def gateway_client(
    urls: dict[OrderSource, str], database: Path, *, timeout_s: float = 60
) -> Iterator[httpx.Client]:
    """The gateway (default settings, a SQLite store at ``database``) aimed at the simulators,
    serving on a free port, and a client of it holding an API key with every scope."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        simulators=False,
        database_url=f"sqlite+aiosqlite:///{database}",
        log_level="warning",
        feed={"ingest": False},  # the request path alone: no polling beside it
        **{s.value.lower(): {"base_url": url} for s, url in urls.items()},
    )
    with ServerThread({"gateway": create_app(settings)}) as server:
        headers = {"Authorization": f"Bearer {asyncio.run(_bench_key(settings.database_url))}"}
        with httpx.Client(
            base_url=server.urls["gateway"], timeout=timeout_s, headers=headers
        ) as client:
            yield client


async def _bench_key(database_url: str) -> str:
    """A key with every scope whose bucket refills at once: benchmarks time work, not budgets.
    Made in the gateway's store once it has started (and migrated it)."""
    store = Store(database_url)
    try:
        key = await api_keys.create(store, name="bench", scopes=ALL_SCOPES, rate=1_000_000)
        return key.secret
    finally:
        await store.aclose()


def measured_on(what: str) -> str:
    """The first line of a benchmark's output: what, when, and on which machine."""
    return (
        f"{what}, {datetime.now(UTC):%Y-%m-%d}, {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


@contextlib.contextmanager
def simulators_with_pid(orders: int = 120) -> Iterator[tuple[dict[OrderSource, str], int]]:
    """``simulators_process``, also giving that process's pid (to read its CPU time in /proc)."""
    urls: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    process = multiprocessing.Process(
        target=_serve_simulators, args=(urls, stop, orders), daemon=True
    )
    process.start()
    try:
        assert process.pid is not None
        yield urls.get(timeout=30), process.pid
    finally:
        stop.set()
        process.join(timeout=10)
