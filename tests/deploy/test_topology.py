"""deploy/compose.yaml's topology without containers: the four simulators started with their
own CLI (``ordergate-sim``), two gateway processes in the production profile on one
PostgreSQL and one Redis, configured by the compose file's own gateway environment with each
service's host name replaced by where it runs here.

A change sent to one replica reaches its upstream exactly once and the other replica reads
it; neither answers introspection, and both need a credential."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from domain.models import OrderSource
from tests.conftest import empty_store
from tests.deploy.support import compose_environment
from tests.support import GatewayProcess, SimControlClient, bind_free_port, needs, upstream_get

REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own on the shared Redis
A = OrderSource.AFFILIATE
PENDING = """
{ orders(first: 1, filter: {sources: [AFFILIATE], statuses: [PENDING]})
  { edges { node { id upstreamId } } } }
"""
CANCEL = """
mutation($id: ID!) {
  updateStatus(input: {orderId: $id, status: CANCELLED}) { userErrors { code } delivery { status } }
}
"""
READ = "query($id: ID!) { order(id: $id) { status } }"
PATCH = "PATCH /api/v1/orders/{order_id}/status"
CLI = [sys.executable, "-m", "gateway.cli"]  # `ordergate`
SIM_CLI = [sys.executable, "-m", "backends.simkit.cli"]  # `ordergate-sim`


def shared_stores() -> tuple[str, str]:
    """The PostgreSQL database and the Redis the replicas share (skips without them)."""
    database = os.environ.get("ORDERGATE_TEST_DATABASE_URL", "")
    if not database.startswith("postgresql"):
        needs("replicas share a PostgreSQL store (ORDERGATE_TEST_DATABASE_URL)")
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).ping()
    except Exception:
        needs(f"Redis at {REDIS_URL}")
    return database, REDIS_URL


@contextmanager
def started_simulators() -> Iterator[dict[OrderSource, str]]:
    """Each upstream's simulator as a process of its own, run by its CLI on a free port."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: dict[OrderSource, str] = {}
    try:
        for source in OrderSource:
            port = bind_free_port()
            processes.append(
                subprocess.Popen(
                    [*SIM_CLI, source.value.lower(), "--port", str(port), "--orders", "30"],
                    stdout=subprocess.DEVNULL,
                )
            )
            urls[source] = f"http://127.0.0.1:{port}"
        for url in urls.values():
            wait_until_served(f"{url}/_sim/stats")
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(timeout=10)


def wait_until_served(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing serves {url}")


def replica_environment(
    compose_service: str, port: int, database: str, redis_url: str, sims: dict[OrderSource, str]
) -> dict[str, str]:
    """The compose service's environment, with its service names resolved to this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERGATE_")}
    env |= compose_environment(compose_service)
    env |= {
        "ORDERGATE_SIMULATORS": "false",  # the profile's default; the contract's ports are not ours
        "ORDERGATE_PORT": str(port),
        "ORDERGATE_DATABASE_URL": database,
        "ORDERGATE_REDIS_URL": redis_url,
        "ORDERGATE_FEED__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ORDERGATE_LOG_LEVEL": "warning",
        "ORDERGATE_OUTBOX__POLL_INTERVAL_S": "0.2",
        **{f"ORDERGATE_{source.value}__BASE_URL": url for source, url in sims.items()},
    }
    return env


@dataclass
class Topology:
    replicas: list[GatewayProcess]
    sims: dict[OrderSource, str]
    key: str

    def post(self, replica: int, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = httpx.post(
            f"{self.replicas[replica].url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=20,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, replica: int, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = self.post(replica, query, variables)
        assert "errors" not in body, body
        return body["data"]


def create_key(env: dict[str, str], name: str = "topo", *options: str) -> str:
    """A key made with the CLI, as an operator would: production has no demo key."""
    write = ("--scope", "orders:write")
    made = subprocess.run(
        [*CLI, "keys", "create", "--name", name, "--scope", "orders:read", *write, *options],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    """The whole topology, once for this module's tests (they change one order between them)."""
    database, redis_url = shared_stores()
    asyncio.run(empty_store(database))
    replicas: list[GatewayProcess] = []
    with started_simulators() as sims:
        try:
            for service in ("gateway-1", "gateway-2"):
                port = bind_free_port()
                env = replica_environment(service, port, database, redis_url, sims)
                replicas.append(GatewayProcess(env, port))
            # Both replicas start at once, as in compose (they take turns migrating the store);
            # the operator makes a key meanwhile.
            with ThreadPoolExecutor(len(replicas) + 1) as pool:
                key = pool.submit(create_key, replicas[0].env)
                list(pool.map(GatewayProcess.start, replicas))
            yield Topology(replicas, sims, key.result())
        finally:
            for replica in replicas:
                if replica.process is not None and replica.process.poll() is None:
                    replica.kill()


def test_both_replicas_are_live_and_ready_on_the_shared_store(topology: Topology) -> None:
    for replica in topology.replicas:
        assert httpx.get(f"{replica.url}/health").json() == {"status": "ok"}
        assert httpx.get(f"{replica.url}/ready").json() == {"status": "ready"}  # no token
        assert httpx.get(f"{replica.url}/metrics").status_code == 401
        operator = {"Authorization": f"Bearer {replica.env['ORDERGATE_OPERATOR_TOKEN']}"}
        assert httpx.get(f"{replica.url}/metrics", headers=operator).status_code == 200
        ready = httpx.get(f"{replica.url}/ready", headers=operator)
        assert ready.status_code == 200
        body = ready.json()
        assert body["store"] is True
        assert set(body["backends"]) == {source.value for source in OrderSource}
        assert all(backend["healthy"] for backend in body["backends"].values()), body


def test_a_change_sent_to_one_replica_reaches_its_upstream_once_and_the_other_reads_it(
    topology: Topology,
) -> None:
    sim = SimControlClient(topology.sims[A])
    order = topology.data(0, PENDING)["orders"]["edges"][0]["node"]
    assert topology.data(1, READ, {"id": order["id"]}) == {"order": {"status": "PENDING"}}
    sim.reset_stats()
    answer = topology.data(0, CANCEL, {"id": order["id"]})["updateStatus"]
    assert answer == {"userErrors": [], "delivery": {"status": "DELIVERED"}}
    # Both replicas run an outbox worker: a few of their rounds later, still one request.
    time.sleep(1.0)
    assert sim.stats()["requests"].get(PATCH, 0) == 1
    upstream = upstream_get(A, topology.sims[A], f"/api/v1/orders/{order['upstreamId']}")
    assert upstream["data"]["status"] == "cancelled"
    assert topology.data(1, READ, {"id": order["id"]}) == {"order": {"status": "CANCELLED"}}


def test_a_change_queued_while_its_upstream_fails_is_delivered_once_by_the_two_workers(
    topology: Topology,
) -> None:
    """Queued, the change is due for both replicas' outbox workers at once: a lease in the
    shared store lets one of them deliver it, once."""
    sim = SimControlClient(topology.sims[A])
    order = topology.data(0, PENDING)["orders"]["edges"][0]["node"]
    sim.set_faults(error_rate=1.0)
    try:
        answer = topology.data(0, CANCEL, {"id": order["id"]})["updateStatus"]
    finally:
        sim.reset_faults()
    assert answer["delivery"]["status"] == "QUEUED", answer
    sim.reset_stats()
    path = f"/api/v1/orders/{order['upstreamId']}"
    for _ in range(300):  # the workers retry after the backoff (about a second)
        if upstream_get(A, topology.sims[A], path)["data"]["status"] == "cancelled":
            break
        time.sleep(0.1)
    time.sleep(1.0)  # both workers' next rounds: neither sends it again
    assert sim.stats()["requests"].get(PATCH, 0) == 1


def test_a_budget_spent_on_one_replica_is_spent_on_the_other(topology: Topology) -> None:
    """The rate-limit buckets live in the shared Redis: a key that spent its points through
    one replica is refused by the other, which never saw its requests."""
    key = create_key(topology.replicas[0].env, "budget", "--rate", "0.01")
    expensive = "{ orders(first: 100) { edges { node { id parentOrder { id } } } } }"

    def status(replica: int) -> int:
        return httpx.post(
            f"{topology.replicas[replica].url}/graphql",
            json={"query": expensive},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).status_code

    statuses = []
    for _ in range(10):
        statuses.append(status(0))
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}, statuses
    assert status(1) == 429


def test_the_replicas_refuse_introspection_and_requests_without_a_credential(
    topology: Topology,
) -> None:
    for replica in range(2):
        body = topology.post(replica, "{ __schema { types { name } } }")
        assert body.get("errors") and not body.get("data"), body
        anonymous = httpx.post(
            f"{topology.replicas[replica].url}/graphql", json={"query": "{ __typename }"}
        )
        assert anonymous.status_code == 401
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
