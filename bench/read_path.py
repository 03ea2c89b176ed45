"""Read-path benchmark: every target of the fast-path issue, each beside a floor of the same run.

    .venv/bin/python bench/read_path.py [--quick] [--workers N] [--rows 1,3]

Starts the four simulators (one process of their own, 120 orders each) and the gateway as
``ordergate run`` (another process: SQLite store in a temporary directory, default limits,
``--workers N`` passed on only when N > 1), makes an API key with every scope whose bucket
refills at once (``ordergate keys create``), and prints one Markdown table. The machine is
shared and noisy, so every figure stands beside a floor measured in the same run, and their
ratio. Gateway CPU and memory are read from ``/proc`` for the gateway's process and all its
descendants (its workers): CPU = utime + stime (in clock ticks, 10 ms: hence hundreds of
requests per CPU figure), memory = VmRSS.

Rows, in the order the issue lists them (they are measured in another order: memory first,
on a gateway that has served nothing else; the latency row last):

1. ``order(id)`` of a WEBSHOP order with lines, warm, with the API key and the query limits:
   gateway CPU per request over sequential requests. Floor: the simulators' process CPU per
   direct ``GET /api/order/{id}/`` (the same order), over as many sequential requests.
   Target: at most 1 ms (the ratio is for scale: the floor is not what the target is about).
2. The same ``order(id)`` at 32 connections: requests/s through the gateway against requests/s
   of the WEBSHOP simulator's own detail endpoint at 32 connections, in alternating rounds of
   a fixed duration. The load comes from another process (asyncio, one ``httpx.AsyncClient``,
   32 tasks), so the client shares no GIL with what it times. Target ratio: at least 0.8.
3. ``orders(first: 100, filter: {sources: [WEBSHOP]})`` with lines: p50 latency through the
   gateway against the p50 of the upstream call the WEBSHOP adapter makes for it
   (``GET /api/order/?ordering=-modified_date,-id&limit=100&offset=0``), interleaved rounds.
   Target ratio: at most 1.2.
4. Every backend with 20 ms upstream latency (``POST /_sim/faults {"latency_ms": 20}``):
   p50 of ``orders(first: 20)`` with lines against the p50 of the four direct list calls the
   adapters make for it, sent at once; a round's floor is the slowest of the four (the
   critical path; the four simulators share one process, so the floor includes their
   queueing behind one another). Target ratio: at most 1.25. The latency is reset afterwards.
5. A fully nested page, ``orders(first: 100)`` with every field of Order and of the types
   under it: gateway CPU per resolved field (every key under ``data`` of the answer, leaf or
   object, counts as one). Floor, graphql-core's own figure: in this process, the same query
   executed by ``graphql.graphql_sync`` on a plain schema built from the gateway's SDL, with
   the answer's own ``data`` as root value (default resolvers read the dict keys); CPU per
   field by ``time.process_time``. Target: at most 8 us.
6. Memory: gateway RSS after 10,000 mixed requests (``order(id)``, ``orders(first: 20)``,
   ``backends { healthy }``, 8 in flight from another process) against its RSS after the
   first 1,000 of them. Target ratio: at most 1.10.

Default sizes take a few minutes, most of it row 6. ``--quick`` (one to two minutes, as
fast as the gateway serves row 6's mix): fewer requests everywhere, 2 s load rounds, 200 and
2,000 requests for memory. Under the table, notes give what some figures rest on: in row 2
the CPU of the load client, the gateway and the simulators as a share of one core (one near
100 % set the pace: with the client there, the ratio says little), and the upstream requests
per gateway query of rows 3 and 4 (1 and 4 if the floors are the calls the gateway makes),
and two costs of the stack itself, measured in the same run: the gateway CPU of a request
that reads nothing (``{ __typename }``, beside row 1's target), and the CPU of parsing and
validating row 3's upstream page as the gateway must (``json.loads(parse_float=Decimal)``
and the wire model's validation), as a share of row 3's floor. ``--rows`` runs only the rows
named. Nothing is asserted; the table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pydantic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.webshop import wire as webshop_wire
from bench.harness import measured_on, simulators_with_pid
from domain.access import Scope
from domain.models import OrderSource
from tests.support import is_auth, upstream_headers

LOAD_CONNECTIONS = 32
MIX_CONCURRENCY = 8
LATENCY_MS = 20

ORDER_BY_ID = "query One($id: ID!) { order(id: $id) { id reference status lines { sku } } }"
FIRST_WEBSHOP = """{ orders(first: 1, filter: {sources: [WEBSHOP]}) {
  edges { node { id upstreamId } } } }"""
ORDERS_WITH_LINES = """
query Orders($first: Int!, $filter: OrderFilter) {
  orders(first: $first, filter: $filter) {
    edges { node {
      id source reference status paymentStatus currency updatedAt
      totals { total { amount currency } }
      lines { id sku quantity unitPrice { amount currency } total { amount currency } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
BACKENDS_HEALTHY = "{ backends { healthy } }"
# Every field of Order and of the types under it (parentOrder and splitOrders: their ids).
ORDERS_NESTED = """
query Nested($first: Int!) {
  orders(first: $first) {
    edges { cursor node {
      id source upstreamId reference number erpOrderNumber status upstreamStatus
      paymentStatus currency season createdAt updatedAt capabilities
      totals {
        gross { ...M } discount { ...M } shipping { ...M } tax { ...M } total { ...M }
        taxIncluded paid { ...M } pending { ...M }
      }
      customer { ...P } company { ...P } agent { ...P }
      commission { ...M }
      shippingAddress { ...A } billingAddress { ...A }
      lines {
        id lineNumber sku productName description quantity quantityShipped
        unitPrice { ...M } total { ...M } taxRate status erpLineNumber discounts { ...D }
      }
      discounts { ...D }
      shipments { id consignmentNumber carrier trackingUrl dispatchedAt }
      payments { id amount { ...M } status method createdAt }
      parentOrder { id }
      splitOrders { id }
      history { at kind detail actor outcome }
    } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    unavailableSources
  }
}
fragment M on Money { amount currency }
fragment P on Party { id name email }
fragment A on Address { name street city state postalCode country }
fragment D on Discount { kind code name amount { ...M } percent sequence }
"""

# The list call each adapter makes for the first page of ``orders(first: n)``.
LIST_CALLS: dict[OrderSource, tuple[str, dict[str, str | int]]] = {
    OrderSource.AFFILIATE: ("/api/v1/orders", {"offset": 0, "sort": "-updated_at"}),
    OrderSource.WEBSHOP: ("/api/order/", {"ordering": "-modified_date,-id", "offset": 0}),
    OrderSource.CRM: ("/api/v2/admin/orders", {"Offset": 0, "Order_By": "ModifiedDateTime desc"}),
    OrderSource.B2B: ("/api/Order/getOrder", {"page": 1}),
}
LIMIT_PARAM = {
    OrderSource.AFFILIATE: "limit",
    OrderSource.WEBSHOP: "limit",
    OrderSource.CRM: "Limit",
    OrderSource.B2B: "pageSize",
}


@dataclass(frozen=True)
class Sizes:
    cpu_requests: int  # row 1, each side
    load_seconds: float  # row 2, one round of one side
    load_rounds: int  # row 2, rounds of each side, alternating
    rounds: int  # rows 3 and 4, interleaved rounds
    nested_requests: int  # row 5, through the gateway
    nested_floor_runs: int  # row 5, graphql-core executions
    memory: tuple[int, int]  # row 6, requests before each RSS reading


DEFAULT = Sizes(1_000, 5.0, 2, 60, 20, 10, (1_000, 10_000))
QUICK = Sizes(200, 2.0, 1, 20, 5, 3, (200, 2_000))


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    target: str
    ordergate: str
    floor: str
    ratio: float | None  # None: no floor to divide by
    goal: str

    def markdown(self) -> str:
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}"
        return f"| {self.target} | {self.ordergate} | {self.floor} | {ratio} | {self.goal} |"


def ratio(figure: float, floor: float) -> float | None:
    return figure / floor if floor > 0 else None


# --- /proc --------------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` from field 3 (state) on; the name in parentheses may hold spaces."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live descendant of it (a gateway's workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds (all their threads, live or ended)."""
    total = 0
    for pid in pids:
        with_state = _stat_fields(pid)
        total += int(with_state[11]) + int(with_state[12])
    return total / TICKS


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


# --- the gateway in its own process -------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    url: str
    pid: int
    env: dict[str, str]

    def cpu_seconds(self) -> float:
        return cpu_seconds(process_tree(self.pid))

    def rss_bytes(self) -> int:
        return rss_bytes(process_tree(self.pid))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gateway_env(urls: dict[OrderSource, str], database: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERGATE_")}
    env.update(
        ORDERGATE_SIMULATORS="false",
        ORDERGATE_HOST="127.0.0.1",
        ORDERGATE_PORT=str(port),
        ORDERGATE_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        ORDERGATE_LOG_LEVEL="warning",
        ORDERGATE_FEED__INGEST="false",  # the read path alone: no polling beside it
    )
    for source, url in urls.items():
        env[f"ORDERGATE_{source.value}__BASE_URL"] = url
    return env


def ordergate(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


@contextmanager
def gateway_process(
    urls: dict[OrderSource, str], tmp: Path, workers: int, extra: dict[str, str] | None = None
) -> Iterator[Gateway]:
    """``ordergate run`` aimed at the simulators, once ``GET /health`` answers; ``extra``:
    more of its environment."""
    port = free_port()
    env = {**gateway_env(urls, tmp / "bench.db", port), **(extra or {})}
    command = ordergate("run", *(["--workers", str(workers)] if workers > 1 else []))
    log = (tmp / "gateway.log").open("w")
    process = subprocess.Popen(command, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    gateway = Gateway(f"http://127.0.0.1:{port}", process.pid, env)
    try:
        wait_until_healthy(gateway, process, tmp / "gateway.log")
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_healthy(gateway: Gateway, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the gateway exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{gateway.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the gateway did not answer /health in 60 s:\n{log.read_text()}")


def create_key(gateway: Gateway) -> str:
    """An API key with every scope and a bucket that refills at once: the last stdout line."""
    scopes = [arg for scope in Scope for arg in ("--scope", scope.value)]
    command = ordergate("keys", "create", "--name", "bench", *scopes, "--rate", "1000000")
    done = subprocess.run(command, env=gateway.env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def served_sdl(gateway: Gateway) -> str:
    done = subprocess.run(
        ordergate("schema"), env=gateway.env, capture_output=True, text=True, check=True
    )
    return done.stdout


# --- load from another process ------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A pre-encoded request: a GET when ``body`` is None, else a JSON POST."""

    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Load:
    base_url: str
    headers: dict[str, str]
    requests: list[Request]  # cycled through
    concurrency: int
    seconds: float | None = None  # run this long after one warm-up request per connection
    count: int | None = None  # or send exactly this many (no warm-up)


@dataclass(frozen=True)
class LoadResult:
    answered: int
    failed: int
    seconds: float
    client_cpu_s: float  # the load process's own CPU over ``seconds``

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds

    @property
    def client_share(self) -> float:
        """The load process's CPU as a share of one core: near 1, it set the pace."""
        return self.client_cpu_s / self.seconds


def run_load(load: Load) -> LoadResult:
    """The load process's entry point."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_load(load))
    return uvloop.run(_load(load))


async def _load(load: Load) -> LoadResult:
    limits = httpx.Limits(max_connections=load.concurrency, max_keepalive_connections=None)
    headers = {**load.headers, "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=load.base_url, headers=headers, limits=limits, timeout=30
    ) as client:
        counts = [0, 0]  # answered, failed
        sent = [0]

        async def send(request: Request) -> None:
            sent[0] += 1
            if request.body is None:
                response = await client.get(request.path)
            else:
                response = await client.post(request.path, content=request.body)
            ok = response.status_code == 200 and b'"errors"' not in response.content
            counts[0 if ok else 1] += 1

        async def worker(index: int, deadline: float) -> None:
            n = index
            while time.perf_counter() < deadline and (load.count is None or sent[0] < load.count):
                await send(load.requests[n % len(load.requests)])
                n += 1

        if load.seconds is not None:
            await asyncio.gather(*(send(load.requests[0]) for _ in range(load.concurrency)))
            counts[:] = [0, 0]
        started, cpu = time.perf_counter(), time.process_time()
        deadline = started + (load.seconds if load.seconds is not None else 3600)
        await asyncio.gather(*(worker(i, deadline) for i in range(load.concurrency)))
        seconds = time.perf_counter() - started
        return LoadResult(counts[0], counts[1], seconds, time.process_time() - cpu)


def gateway_request(query: str, variables: dict[str, Any] | None = None) -> Request:
    return Request("/graphql", json.dumps({"query": query, "variables": variables or {}}).encode())


# --- the rows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """What every row needs: where things are and the WEBSHOP order the rows read."""

    gateway: Gateway
    urls: dict[OrderSource, str]
    simulators_pid: int
    key_headers: dict[str, str]
    upstream: dict[OrderSource, dict[str, str]]  # each simulator's demo credentials
    order_id: str
    webshop_id: str
    pool: ProcessPoolExecutor
    sizes: Sizes

    def gateway_client(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.url, headers=self.key_headers, timeout=60)

    def webshop_client(self) -> httpx.Client:
        url, headers = self.urls[OrderSource.WEBSHOP], self.upstream[OrderSource.WEBSHOP]
        return httpx.Client(base_url=url, headers=headers, timeout=60)


def post(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise SystemExit(f"benchmark query failed: {response.text[:500]}")
    return body


def cpu_per_call(pid_cpu: Callable[[], float], send: Callable[[], object], n: int) -> float:
    """CPU seconds (read by ``pid_cpu``) per call of ``send``, after a warm-up."""
    for _ in range(max(20, n // 20)):
        send()
    before = pid_cpu()
    for _ in range(n):
        send()
    return (pid_cpu() - before) / n


def order_cpu(s: Setting) -> tuple[Row, float]:
    """Row 1, and the gateway CPU of a request that reads nothing (``{ __typename }``)."""
    n = s.sizes.cpu_requests
    with s.gateway_client() as gateway, s.webshop_client() as webshop:
        variables = {"id": s.order_id}
        through = cpu_per_call(
            s.gateway.cpu_seconds, lambda: post(gateway, ORDER_BY_ID, variables), n
        )
        path = f"/api/order/{s.webshop_id}/"
        floor = cpu_per_call(
            lambda: cpu_seconds([s.simulators_pid]),
            lambda: webshop.get(path).raise_for_status(),
            n,
        )
        empty = cpu_per_call(s.gateway.cpu_seconds, lambda: post(gateway, "{ __typename }"), n)
    row = Row(
        f"1. `order(id)` with lines, warm, API key + limits: gateway CPU per request ({n})",
        f"{through * 1000:.2f} ms",
        f"{floor * 1000:.2f} ms (simulator CPU per direct `GET /api/order/{{id}}/`)",
        ratio(through, floor),
        "<= 1 ms",
    )
    return row, empty


@dataclass(frozen=True)
class Shares:
    """CPU of each process over a side's rounds, as a share of one core (warm-ups included)."""

    client: float
    gateway: float
    simulators: float

    def describe(self) -> str:
        return (
            f"client {self.client:.0%}, gateway {self.gateway:.0%}, "
            f"simulators {self.simulators:.0%}"
        )


@dataclass(frozen=True)
class Throughput:
    row: Row
    through: Shares
    direct: Shares


@dataclass(frozen=True)
class Round:
    """One round from the load process, and the CPU the servers spent meanwhile."""

    result: LoadResult
    wall_s: float
    gateway_cpu_s: float
    simulators_cpu_s: float


def loaded(s: Setting, load: Load) -> Round:
    gateway, simulators = s.gateway.cpu_seconds(), cpu_seconds([s.simulators_pid])
    started = time.perf_counter()
    result = s.pool.submit(run_load, load).result()
    return Round(
        result,
        time.perf_counter() - started,
        s.gateway.cpu_seconds() - gateway,
        cpu_seconds([s.simulators_pid]) - simulators,
    )


def shares(rounds: list[Round]) -> Shares:
    wall = sum(r.wall_s for r in rounds)
    return Shares(
        combined([r.result for r in rounds]).client_share,
        sum(r.gateway_cpu_s for r in rounds) / wall,
        sum(r.simulators_cpu_s for r in rounds) / wall,
    )


def order_throughput(s: Setting) -> Throughput:
    """Row 2: alternating rounds, the direct endpoint first."""
    through = Load(
        s.gateway.url,
        s.key_headers,
        [gateway_request(ORDER_BY_ID, {"id": s.order_id})],
        LOAD_CONNECTIONS,
        seconds=s.sizes.load_seconds,
    )
    direct = Load(
        s.urls[OrderSource.WEBSHOP],
        s.upstream[OrderSource.WEBSHOP],
        [Request(f"/api/order/{s.webshop_id}/")],
        LOAD_CONNECTIONS,
        seconds=s.sizes.load_seconds,
    )
    rounds: dict[str, list[Round]] = {"through": [], "direct": []}
    for _ in range(s.sizes.load_rounds):
        rounds["direct"].append(loaded(s, direct))
        rounds["through"].append(loaded(s, through))
    g = combined([r.result for r in rounds["through"]])
    d = combined([r.result for r in rounds["direct"]])
    row = Row(
        f"2. `order(id)` (WEBSHOP, lines) at {LOAD_CONNECTIONS} connections: requests/s",
        f"{g.per_second:.0f}/s ({g.failed} failed)",
        f"{d.per_second:.0f}/s (WEBSHOP simulator's detail endpoint)",
        ratio(g.per_second, d.per_second),
        ">= 0.8",
    )
    return Throughput(row, shares(rounds["through"]), shares(rounds["direct"]))


def combined(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        sum(r.answered for r in results),
        sum(r.failed for r in results),
        sum(r.seconds for r in results),
        sum(r.client_cpu_s for r in results),
    )


def list_call(source: OrderSource, first: int) -> tuple[str, dict[str, str | int]]:
    path, params = LIST_CALLS[source]
    return path, {**params, LIMIT_PARAM[source]: first}


async def paired_p50s(
    s: Setting, query: str, variables: dict[str, Any], sources: list[OrderSource], first: int
) -> tuple[float, float]:
    """p50 ms of the gateway query, and of the direct list calls of ``sources`` sent at once
    (each round: the slowest of them), over interleaved rounds after a warm-up."""
    body = {"query": query, "variables": variables}
    upstreams = {
        source: httpx.AsyncClient(base_url=s.urls[source], headers=s.upstream[source], timeout=60)
        for source in sources
    }
    gateway = httpx.AsyncClient(base_url=s.gateway.url, headers=s.key_headers, timeout=60)

    async def through() -> float:
        started = time.perf_counter()
        response = await gateway.post("/graphql", json=body)
        if response.status_code != 200 or response.json().get("errors"):
            raise SystemExit(f"benchmark query failed: {response.text[:500]}")
        return (time.perf_counter() - started) * 1000

    async def direct(source: OrderSource) -> float:
        path, params = list_call(source, first)
        started = time.perf_counter()
        (await upstreams[source].get(path, params=params)).raise_for_status()
        return (time.perf_counter() - started) * 1000

    async def slowest() -> float:
        return max(await asyncio.gather(*(direct(source) for source in sources)))

    try:
        for _ in range(3):
            await through()
            await slowest()
        timings: dict[str, list[float]] = {"gateway": [], "direct": []}
        for _ in range(s.sizes.rounds):
            timings["gateway"].append(await through())
            timings["direct"].append(await slowest())
        return statistics.median(timings["gateway"]), statistics.median(timings["direct"])
    finally:
        await gateway.aclose()
        for client in upstreams.values():
            await client.aclose()


def upstream_requests(s: Setting, send: Callable[[], object], n: int = 5) -> float:
    """Upstream requests (authentication excluded) per call of ``send``."""
    for url in s.urls.values():
        httpx.post(f"{url}/_sim/stats/reset").raise_for_status()
    for _ in range(n):
        send()
    total = 0
    for url in s.urls.values():
        counts = httpx.get(f"{url}/_sim/stats").json()["requests"]
        total += sum(count for route, count in counts.items() if not is_auth(route))
    return total / n


def webshop_page(s: Setting) -> tuple[Row, float, float]:
    """Row 3, the upstream requests the gateway made per query, and the CPU ms of parsing
    the upstream's page as the gateway does (``UpstreamHttp.parse``), in this process."""
    variables = {"first": 100, "filter": {"sources": ["WEBSHOP"]}}
    with s.gateway_client() as client:
        per_query = upstream_requests(s, lambda: post(client, ORDERS_WITH_LINES, variables))
    through, floor = asyncio.run(
        paired_p50s(s, ORDERS_WITH_LINES, variables, [OrderSource.WEBSHOP], 100)
    )
    row = Row(
        "3. `orders(first: 100, filter: {sources: [WEBSHOP]})` with lines: p50",
        f"{through:.1f} ms",
        f"{floor:.1f} ms (`GET /api/order/?limit=100`)",
        ratio(through, floor),
        "<= 1.2",
    )
    return row, per_query, parse_ms(s)


def parse_ms(s: Setting, runs: int = 50) -> float:
    """CPU ms of ``json.loads(parse_float=Decimal)`` + the wire model's validation of the
    WEBSHOP page of row 3: the least the gateway must do with the upstream's answer."""
    path, params = list_call(OrderSource.WEBSHOP, 100)
    with s.webshop_client() as webshop:
        body = webshop.get(path, params=params).raise_for_status().content
    adapter = pydantic.TypeAdapter(webshop_wire.OrderList)
    adapter.validate_python(json.loads(body, parse_float=Decimal))
    started = time.process_time()
    for _ in range(runs):
        adapter.validate_python(json.loads(body, parse_float=Decimal))
    return (time.process_time() - started) / runs * 1000


def set_latency(s: Setting, latency_ms: float) -> None:
    for url in s.urls.values():
        httpx.post(f"{url}/_sim/faults", json={"latency_ms": latency_ms}).raise_for_status()


def all_backends_slow(s: Setting) -> tuple[Row, float]:
    """Row 4, and the upstream requests the gateway made per query."""
    variables = {"first": 20}
    set_latency(s, LATENCY_MS)
    try:
        with s.gateway_client() as client:
            per_query = upstream_requests(s, lambda: post(client, ORDERS_WITH_LINES, variables))
        through, floor = asyncio.run(
            paired_p50s(s, ORDERS_WITH_LINES, variables, list(OrderSource), 20)
        )
    finally:
        set_latency(s, 0)
    row = Row(
        f"4. `orders(first: 20)` with lines, 4 backends at {LATENCY_MS} ms latency: p50",
        f"{through:.1f} ms",
        f"{floor:.1f} ms (slowest of the 4 list calls sent at once)",
        ratio(through, floor),
        "<= 1.25",
    )
    return row, per_query


def resolved_fields(value: Any) -> int:
    """Every key of every object under ``data``, leaf or object, is one resolved field."""
    if isinstance(value, dict):
        return sum(1 + resolved_fields(item) for item in value.values())
    if isinstance(value, list):
        return sum(resolved_fields(item) for item in value)
    return 0


def graphql_core_cpu_per_field(sdl: str, data: dict[str, Any], fields: int, runs: int) -> float:
    """graphql-core alone: the same query on a plain schema, the answer as root value."""
    from graphql import build_schema, graphql_sync

    schema = build_schema(sdl)
    variables = {"first": 100}
    result = graphql_sync(schema, ORDERS_NESTED, root_value=data, variable_values=variables)
    if result.errors:
        raise SystemExit(f"graphql-core floor failed: {result.errors[:3]}")
    started = time.process_time()
    for _ in range(runs):
        graphql_sync(schema, ORDERS_NESTED, root_value=data, variable_values=variables)
    return (time.process_time() - started) / runs / fields


def nested_page(s: Setting) -> Row:
    """Row 5."""
    n = s.sizes.nested_requests
    variables = {"first": 100}
    with s.gateway_client() as client:
        data = post(client, ORDERS_NESTED, variables)["data"]
        fields = resolved_fields(data)
        through = cpu_per_call(
            s.gateway.cpu_seconds, lambda: post(client, ORDERS_NESTED, variables), n
        )
    per_field = through / fields
    floor = graphql_core_cpu_per_field(
        served_sdl(s.gateway), data, fields, s.sizes.nested_floor_runs
    )
    return Row(
        f"5. `orders(first: 100)`, every field nested ({fields:,} fields): CPU per field",
        f"{per_field * 1e6:.2f} us",
        f"{floor * 1e6:.2f} us (graphql-core's own figure, in process)",
        ratio(per_field, floor),
        "<= 8 us",
    )


def memory(s: Setting) -> tuple[Row, LoadResult]:
    """Row 6 (run first: on a gateway that has served nothing but the setup)."""
    first, total = s.sizes.memory
    mix = [
        gateway_request(ORDER_BY_ID, {"id": s.order_id}),
        gateway_request(ORDERS_WITH_LINES, {"first": 20}),
        gateway_request(BACKENDS_HEALTHY),
    ]

    def send(count: int) -> LoadResult:
        load = Load(s.gateway.url, s.key_headers, mix, MIX_CONCURRENCY, count=count)
        return s.pool.submit(run_load, load).result()

    early = send(first)
    time.sleep(0.5)
    rss_first = s.gateway.rss_bytes()
    late = send(total - first)
    time.sleep(0.5)
    rss_total = s.gateway.rss_bytes()
    failed = early.failed + late.failed
    row = Row(
        f"6. gateway RSS after {total:,} mixed requests vs after {first:,}",
        f"{rss_total / 2**20:.1f} MB ({failed} failed)",
        f"{rss_first / 2**20:.1f} MB (after {first:,})",
        ratio(rss_total, rss_first),
        "<= 1.10",
    )
    return row, combined([early, late])


# --- main ---------------------------------------------------------------------------------


class SpanSink(ThreadingHTTPServer):
    """An OTLP/HTTP receiver that takes every export (200) and keeps only their sizes."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.exports = 0
        self.bytes = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _SinkHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length", 0))
        self.rfile.read(size)
        sink = self.server
        assert isinstance(sink, SpanSink)
        sink.exports += 1
        sink.bytes += size
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


# Row 7's two gateways: everything operators see, and nothing of it.
OBSERVED = {
    "ORDERGATE_METRICS": "true",
    "ORDERGATE_ACCESS_LOG": "true",
    "ORDERGATE_LOG_LEVEL": "info",  # the access line written, one per request
    "ORDERGATE_LOG_FORMAT": "json",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_TRACES_SAMPLER": "always_on",
}
UNOBSERVED = {
    "ORDERGATE_METRICS": "false",
    "ORDERGATE_ACCESS_LOG": "false",
    "ORDERGATE_LOG_LEVEL": "warning",
    "OTEL_SDK_DISABLED": "true",
}


@dataclass(frozen=True)
class Overhead:
    """Row 7, and the ratios of its two partial configurations (same run)."""

    row: Row
    without_traces: float  # metrics + access line, no tracing
    sampled_10: float  # everything, 10 % of the traces sampled


def telemetry_overhead(s: Setting, tmp: Path) -> Overhead:
    """Row 7: ``order(id)``'s gateway CPU with metrics, the access line and traces (every
    request sampled, exported over OTLP/HTTP to a receiver in this process) against the same
    gateway with all of it off, in short alternating rounds: each round's pair gives a ratio,
    the row shows their median (a busy moment of the machine lands on one pair, not on one
    side). Two more gateways in the same rounds: no tracing at all, and 10 % sampled."""
    rounds = 20 if s.sizes is DEFAULT else 6
    n = max(s.sizes.cpu_requests // 5, 100)
    sink = SpanSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    traced = {**OBSERVED, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint}
    sides = {
        "on": traced,
        "off": UNOBSERVED,
        "untraced": {**OBSERVED, "OTEL_SDK_DISABLED": "true"},
        "sampled": {
            **traced,
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        },
    }
    costs: dict[str, list[float]] = {name: [] for name in sides}
    with contextlib.ExitStack() as stack:
        senders: dict[str, tuple[Gateway, Callable[[], object]]] = {}
        for name, extra in sides.items():
            (tmp / name).mkdir()
            gateway = stack.enter_context(gateway_process(s.urls, tmp / name, 1, extra))
            headers = {"Authorization": f"Bearer {create_key(gateway)}"}
            variables = {"id": first_webshop_order(gateway, headers)[0]}
            client = stack.enter_context(
                httpx.Client(base_url=gateway.url, headers=headers, timeout=60)
            )
            senders[name] = (gateway, functools.partial(post, client, ORDER_BY_ID, variables))
        for _ in range(rounds):
            for name, (gateway, send) in senders.items():
                costs[name].append(cpu_per_call(gateway.cpu_seconds, send, n))
        time.sleep(6)  # the batch processor's next export (every 5 s) reaches the sink
    sink.shutdown()

    def paired(name: str) -> float:
        return statistics.median(a / b for a, b in zip(costs[name], costs["off"], strict=True))

    with_all, without = statistics.median(costs["on"]), statistics.median(costs["off"])
    row = Row(
        f"7. `order(id)` with metrics + access line + traces (100 % sampled, OTLP export: "
        f"{sink.exports} exports, {sink.bytes / 1024:.0f} KiB): gateway CPU per request, "
        f"median of {rounds} alternating rounds of {n}; ratio: the median round's",
        f"{with_all * 1000:.3f} ms",
        f"{without * 1000:.3f} ms (the same gateway, all of it off)",
        paired("on"),
        "<= 1.05",
    )
    return Overhead(row, paired("untraced"), paired("sampled"))


def first_webshop_order(gateway: Gateway, headers: dict[str, str]) -> tuple[str, str]:
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=60) as client:
        node = post(client, FIRST_WEBSHOP)["data"]["orders"]["edges"][0]["node"]
        return node["id"], node["upstreamId"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument(
        "--workers", type=int, default=1, help="`ordergate run --workers N` (only when N > 1)"
    )
    parser.add_argument(
        "--rows",
        type=lambda text: {int(row) for row in text.split(",")},
        default=set(range(1, 8)),
        help="only these rows, e.g. 1,3 (default: all seven)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else DEFAULT
    started = time.perf_counter()

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    with (
        pool,
        simulators_with_pid() as (urls, simulators_pid),
        tempfile.TemporaryDirectory() as tmp,
        gateway_process(urls, Path(tmp), args.workers) as gateway,
    ):
        key_headers = {"Authorization": f"Bearer {create_key(gateway)}"}
        order_id, webshop_id = first_webshop_order(gateway, key_headers)
        s = Setting(
            gateway,
            urls,
            simulators_pid,
            key_headers,
            {source: upstream_headers(source, url) for source, url in urls.items()},
            order_id,
            webshop_id,
            pool,
            sizes,
        )
        wanted = args.rows
        memory_row, mix = memory(s) if 6 in wanted else (None, None)
        cpu_row, empty_cpu = order_cpu(s) if 1 in wanted else (None, None)
        throughput = order_throughput(s) if 2 in wanted else None
        page_row, page_requests, page_parse = webshop_page(s) if 3 in wanted else (None, None, None)
        nested_row = nested_page(s) if 5 in wanted else None
        slow_row, slow_requests = all_backends_slow(s) if 4 in wanted else (None, None)
        overhead = telemetry_overhead(s, Path(tmp)) if 7 in wanted else None

    rows = [
        cpu_row,
        throughput and throughput.row,
        page_row,
        slow_row,
        nested_row,
        memory_row,
        overhead and overhead.row,
    ]
    print(
        f"{measured_on('read path, fast-path targets')}, gateway workers: {args.workers}, "
        f"4 simulators x 120 orders{', --quick' if args.quick else ''}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print()
    print("| target | ordergate | floor (direct upstream, same run) | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        if row is not None:
            print(row.markdown())
    print()
    if throughput is not None:
        print(
            f"- row 2: {sizes.load_rounds} x {sizes.load_seconds:g} s per side, alternating. "
            f"CPU as a share of one core, through the gateway: {throughput.through.describe()}; "
            f"direct: {throughput.direct.describe()} (a process near 100 % set the pace)"
        )
    requests = {3: page_requests, 4: slow_requests}
    if any(count is not None for count in requests.values()):
        counts = ", ".join(f"row {n} {c:.1f}" for n, c in requests.items() if c is not None)
        print(f"- upstream requests per gateway query (authentication excluded): {counts}")
    if empty_cpu is not None:
        print(
            f"- what a request costs before it reads anything: `{{ __typename }}` takes "
            f"{empty_cpu * 1000:.2f} ms of gateway CPU (uvicorn, starlette, the edge, "
            f"strawberry's view)"
        )
    if page_parse is not None:
        assert page_row is not None and page_row.ratio is not None
        floor_ms = float(page_row.floor.split()[0])
        print(
            f"- what row 3 must do with the upstream's answer: parsing and validating its "
            f"page takes {page_parse:.1f} ms of CPU ({page_parse / floor_ms:.2f} x the floor)"
        )
    if mix is not None:
        print(
            f"- row 6: {MIX_CONCURRENCY} in flight, {mix.per_second:.0f} requests/s, "
            f"{mix.failed} failed"
        )
    if overhead is not None:
        print(
            f"- row 7, the same rounds: metrics + access line without tracing "
            f"{overhead.without_traces:.2f} x; everything with 10 % of traces sampled "
            f"{overhead.sampled_10:.2f} x"
        )


if __name__ == "__main__":
    main()
