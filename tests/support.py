"""Test helpers: simulators over real sockets, their control API, their own reads."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from starlette.types import ASGIApp

from backends.simkit.server import ServerThread
from backends.transport import Http11Transport
from domain.models import OrderSource


def needs(what: str) -> NoReturn:
    """Skip a test for lack of ``what`` (Redis, Node.js) -- or fail it where every part is
    meant to be there: CI sets ``ORDERGATE_TEST_STRICT`` so no acceptance test goes unrun."""
    if os.environ.get("ORDERGATE_TEST_STRICT"):
        pytest.fail(f"{what} (ORDERGATE_TEST_STRICT is set: CI has it)")
    pytest.skip(what)


def node_with(directory: Path, package: str, purpose: str) -> str:
    """``node``, with ``directory``'s npm packages installed (``npm ci``, from its lock file)
    when ``package`` is not there yet; ``needs`` Node.js for ``purpose``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        needs(f"{purpose} needs Node.js: `node` and `npm` are not on PATH")
    if not (directory / "node_modules" / package).is_dir():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    return node


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve one app on a free 127.0.0.1 port for the duration; yields its base URL."""
    with ServerThread({"app": app}) as servers:
        yield servers.urls["app"]


class SimControlClient:
    """The ``/_sim/`` control API of one running simulator (never the gateway's code path)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _post(self, path: str, body: Any = None) -> Any:
        response = httpx.post(f"{self.base_url}{path}", json=body if body is not None else {})
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base_url}/_sim/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def reset_stats(self) -> None:
        self._post("/_sim/stats/reset")

    def request_log(self) -> list[dict[str, Any]]:
        """The requests served since the last reset: route, arrived, answered (seconds)."""
        response = httpx.get(f"{self.base_url}/_sim/requests")
        response.raise_for_status()
        log: list[dict[str, Any]] = response.json()["requests"]
        return log

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/_sim/faults", faults)
        return result

    def reset_faults(self) -> None:
        self._post("/_sim/faults/reset")

    def reset(self) -> None:
        self._post("/_sim/reset")

    def expire_tokens(self) -> int:
        return int(self._post("/_sim/auth/expire")["expired"])


def requests_served(sims: dict[OrderSource, SimControlClient]) -> int:
    """Requests the simulators served since their counters were last reset, all together."""
    return sum(sim.stats()["total"] for sim in sims.values())


def upstream_requests(sim: SimControlClient) -> int:
    """Requests a simulator served since its counters were reset, authentication excluded."""
    counts = sim.stats()["requests"]
    return sum(n for route, n in counts.items() if not is_auth(route))


def is_auth(route: str) -> bool:
    return route.endswith(("/openid-connect/token", "/oauth/token", "/api/login"))


def upstream_headers(source: OrderSource, base_url: str) -> dict[str, str]:
    """Demo credentials of a simulator, as a script talking to it directly would use them."""
    if source is OrderSource.AFFILIATE:
        return {"X-Api-Key": "demo-affiliate-key"}
    if source is OrderSource.B2B:
        login = httpx.post(f"{base_url}/api/login", json={"_username": "demo", "_password": "demo"})
        return {"Authorization": f"Bearer {login.raise_for_status().json()['token']}"}
    token_path = {
        OrderSource.WEBSHOP: "/realms/CloudSuite/protocol/openid-connect/token",
        OrderSource.CRM: "/api/v1/oauth/token",
    }[source]
    token = httpx.post(
        f"{base_url}{token_path}",
        data={
            "grant_type": "client_credentials",
            "client_id": "ordergate-demo",
            "client_secret": "demo-secret",
        },
    )
    return {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}


def upstream_status(source: OrderSource, base_url: str, path: str, **params: Any) -> int:
    """The HTTP status of a raw read from the simulator's own API (404: it has no such thing)."""
    response = httpx.get(
        f"{base_url}{path}", params=params, headers=upstream_headers(source, base_url)
    )
    return response.status_code


def webshop_orders(base_url: str) -> list[dict[str, Any]]:
    """Every order of the CloudSuite simulator, as its own API answers them."""
    orders: list[dict[str, Any]] = []
    while True:
        body = upstream_get(
            OrderSource.WEBSHOP, base_url, "/api/order/", limit=100, offset=len(orders)
        )
        orders += body["results"]
        if len(orders) >= body["count"] or not body["results"]:
            return orders


def upstream_total(source: OrderSource, base_url: str) -> int:
    """How many orders the simulator's own list endpoint says it has (live ones: those the
    gateway lists by default)."""
    headers = upstream_headers(source, base_url)
    path, params, total = {
        OrderSource.AFFILIATE: ("/api/v1/orders", {"limit": 1}, lambda b: b["meta"]["total"]),
        OrderSource.WEBSHOP: ("/api/order/", {"limit": 1}, lambda b: b["count"]),
        # Deleted CRM orders are still listed upstream; the gateway leaves them out.
        OrderSource.CRM: (
            "/api/v2/admin/orders",
            {"Limit": 1, "Where": '{"IsDeleted":false}'},
            lambda b: b["TotalItemsCount"],
        ),
        OrderSource.B2B: (
            "/api/Order/getOrder",
            {"pageSize": 1},
            lambda b: b["pagination"]["totalItems"],
        ),
    }[source]
    response = httpx.get(f"{base_url}{path}", params=params, headers=headers)
    return int(total(response.raise_for_status().json()))


def upstream_get(source: OrderSource, base_url: str, path: str, **params: Any) -> Any:
    """A raw read from the simulator's own API, with its demo credentials."""
    response = httpx.get(
        f"{base_url}{path}", params=params, headers=upstream_headers(source, base_url)
    )
    return response.raise_for_status().json()


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport, keeping every request an adapter sends (what it asked upstream)."""

    def __init__(self) -> None:
        self.inner = Http11Transport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def bind_free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    """`ordergate run` as a process of its own (``env``: its settings), on ``port``."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.url = env, f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the gateway did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=20
        )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]
