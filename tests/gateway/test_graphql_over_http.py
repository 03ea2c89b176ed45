"""The gateway passes graphql-http's ``auditServer``: every MUST and SHOULD of GraphQL over HTTP.

The audit is the npm package ``graphql-http`` (pinned in ``tests/audit/package-lock.json``),
run by ``tests/audit/audit.mjs`` with Node against the gateway as a real process; every
request it sends carries an API key made in the gateway's store beforehand.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.access import ALL_SCOPES
from domain.models import OrderSource
from store import api_keys
from store.engine import Store
from tests.conftest import empty_store
from tests.support import bind_free_port, node_with

AUDIT = Path(__file__).parents[1] / "audit"


async def make_key(database: str) -> str:
    store = Store(database)
    try:
        await store.migrate()
        return (await api_keys.create(store, name="audit", scopes=ALL_SCOPES)).secret
    finally:
        await store.aclose()


@pytest.fixture
def gateway_url(
    simulator_urls: dict[OrderSource, str], tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """The URL of a running gateway's ``/graphql``, and an API key it accepts."""
    database = os.environ.get("ORDERGATE_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/gw.db"
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL"):
        asyncio.run(empty_store(database))
    key = asyncio.run(make_key(database))
    port = bind_free_port()
    env = {
        **os.environ,
        "ORDERGATE_SIMULATORS": "false",
        "ORDERGATE_PORT": str(port),
        "ORDERGATE_DATABASE_URL": database,
        "ORDERGATE_LOG_LEVEL": "warning",
        "ORDERGATE_OUTBOX__WORKER": "false",
        "ORDERGATE_FEED__INGEST": "false",
        **{f"ORDERGATE_{s.value}__BASE_URL": url for s, url in simulator_urls.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.1)
        yield f"{base}/graphql", key
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def audit_node() -> str:
    """``node``, with the audit's packages installed (``npm ci``) if they are not yet."""
    return node_with(AUDIT, "graphql-http", "the graphql-http audit")


@pytest.mark.slow
def test_graphql_http_audit_passes_every_must_and_should(
    audit_node: str, gateway_url: tuple[str, str]
) -> None:
    url, key = gateway_url
    audit = subprocess.run(
        [audit_node, "audit.mjs", url],
        cwd=AUDIT,
        env={**os.environ, "ORDERGATE_AUDIT_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(audit.stdout)  # every result, shown by `pytest -rA` or `-s`
    assert audit.returncode == 0, f"the audit failed:\n{audit.stdout}\n{audit.stderr}"
