"""GraphiQL renders and runs a query in headless Chromium with the network to anything but
127.0.0.1 blocked (issue 12): the gateway's page needs nothing from outside.

The browser is Debian's ``chromium`` (``ORDERGATE_CHROMIUM`` to use another), driven by the
npm package ``playwright-core`` (pinned in ``tests/browser/package-lock.json``) from
``tests/browser/graphiql.mjs``, against the gateway as a real process. Every request the
page makes to another host is aborted and recorded; the script also checks the page's
console, the query's result, the credential it was sent with and the explorer plugin.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from domain.models import OrderSource
from tests.conftest import empty_store
from tests.support import GatewayProcess, bind_free_port, needs, node_with

BROWSER = Path(__file__).parent
CHROMIUM = os.environ.get("ORDERGATE_CHROMIUM", "/usr/bin/chromium")
# What needs the schema GraphiQL introspects: its answer, and the explorer built from it.
SCHEMA_CHECKS = {"schema", "explorer lists the schema"}


@dataclass
class Run:
    """One run of graphiql.mjs: its exit status, its JSON summary and all it printed."""

    returncode: int
    summary: dict[str, Any]
    output: str

    def failed(self, names: set[str] | None = None) -> list[str]:
        """The checks that failed (of ``names``, or all of them), and a fatal error if any."""
        checks: dict[str, dict[str, Any]] = self.summary.get("checks", {})
        failed = [
            name
            for name, check in checks.items()
            if not check["ok"] and (names is None or name in names)
        ]
        if self.summary.get("fatal") or not checks:
            failed.append("fatal")
        return failed


@pytest.fixture(scope="module")
def browser_node() -> str:
    """``node``, with playwright-core installed (``npm ci``) if it is not yet, and Chromium."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        needs(f"the GraphiQL browser test needs Chromium at {CHROMIUM} (apt-get install chromium)")
    return node_with(BROWSER, "playwright-core", "the GraphiQL browser test")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The demo as `make run` serves it: GraphiQL with the demo key in its headers editor,
    the simulators in the gateway's process (on free ports: the simulators serve on their
    backends' URLs)."""
    database = (
        os.environ.get("ORDERGATE_TEST_DATABASE_URL")
        or f"sqlite:///{tmp_path_factory.mktemp('graphiql')}/gw.db"
    )
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL"):
        asyncio.run(empty_store(database))
    port = bind_free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ORDERGATE_")},
        "ORDERGATE_PROFILE": "demo",
        "ORDERGATE_SIMULATORS": "true",
        "ORDERGATE_PORT": str(port),
        "ORDERGATE_DATABASE_URL": database,
        "ORDERGATE_LOG_LEVEL": "warning",
        "ORDERGATE_FEED__INGEST": "false",
        **{
            f"ORDERGATE_{s.value}__BASE_URL": f"http://127.0.0.1:{bind_free_port()}"
            for s in OrderSource
        },
    }
    process = GatewayProcess(env, port)
    try:
        process.start()
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.kill()


@pytest.fixture(scope="module")
def graphiql_run(
    browser_node: str,
    gateway: GatewayProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Run:
    """graphiql.mjs, once, against the gateway (its screenshot in a temporary directory);
    without ``ORDERGATE_BROWSER_KEY`` it expects the demo key already in the headers editor."""
    process = gateway
    screenshot = tmp_path_factory.mktemp("graphiql-screenshot") / "graphiql.png"
    ran = subprocess.run(
        [browser_node, "graphiql.mjs", process.url, str(screenshot)],
        cwd=BROWSER,
        env={
            **{k: v for k, v in os.environ.items() if k != "ORDERGATE_BROWSER_KEY"},
            "ORDERGATE_CHROMIUM": CHROMIUM,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"{ran.stdout}\n{ran.stderr}\n(screenshot: {screenshot})"
    try:
        summary = json.loads(ran.stdout)
    except json.JSONDecodeError:
        summary = {}
    print(output)  # every check, shown by `pytest -rA` or `-s`
    return Run(ran.returncode, summary, output)


@pytest.mark.slow
def test_graphiql_renders_and_runs_a_query_with_nothing_but_the_gateway_reachable(
    graphiql_run: Run,
) -> None:
    checks = set(graphiql_run.summary.get("checks", {}))
    failed = graphiql_run.failed(checks - SCHEMA_CHECKS)
    assert not failed, f"graphiql.mjs failed {failed}:\n{graphiql_run.output}"


@pytest.mark.slow
def test_graphiql_loads_the_schema_for_its_docs_and_explorer(graphiql_run: Run) -> None:
    failed = graphiql_run.failed(SCHEMA_CHECKS)
    assert not failed, f"graphiql.mjs failed {failed}:\n{graphiql_run.output}"
