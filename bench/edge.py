"""Edge benchmark: how fast query bombs are refused under load, and what authentication and
query limits add to a normal ``order(id)`` request.

    .venv/bin/python bench/edge.py [--tries 50] [--runs 200]

Starts the four simulators and the gateway (default limits; anonymous callers allowed so the
same request can be timed with and without an API key) each in a process of its own, so
neither shares a GIL with the clients that time them, then prints three Markdown tables:

1. ``order(id)`` with no other traffic, over ``--runs`` interleaved rounds: the upstream's own
   detail endpoint called directly (the floor), the gateway with an API key, the gateway
   anonymously; p50/p99 in ms and their ratio to the floor measured in the same rounds;
2. the same work in process, without HTTP: the key lookup (``store.api_keys.authenticate``
   on the same SQLite store) and what ``schema.limits.QueryLimits`` adds to a request
   (``measure`` before and after, a bucket take; its parse with the token limit replaces
   the parse every request has), beside a plain ``graphql.parse`` for scale;
3. each query bomb of issue 7 (and a 1.1 MB body), ``--tries`` times with no other traffic
   and again while another process keeps 8 normal queries in flight: p50/p99 in ms to the
   refusal and the p50's ratio to the floor measured in the same conditions. Every answer
   is checked to be the expected refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import measured_on, simulators_process
from domain.access import ALL_SCOPES
from domain.models import OrderSource
from gateway.settings import AuthSettings, Settings

LOAD_CONCURRENCY = 8
ORDER_BY_ID = "query One($id: ID!) { order(id: $id) { id reference status lines { sku } } }"
FIRST_AFFILIATE = """{ orders(first: 1, filter: {sources: [AFFILIATE]}) {
  edges { node { id upstreamId } } } }"""
LOAD_LISTING = "{ orders(first: 10) { edges { node { id status totals { total { amount } } } } } }"
AFFILIATE_HEADERS = {"X-Api-Key": "demo-affiliate-key"}  # the simulator's demo credential


# --- the query bombs of issue 7 -----------------------------------------------------------


def aliased(count: int, field: str) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def doubling(levels: int, leaf: str) -> str:
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, levels)]
    return "\n".join(["{ ...F1 }", *fragments, f"fragment F{levels} on Query {{ {leaf} }}"])


ORDERS_100 = "orders(first: 100) { edges { node { id reference status } } }"
FAMILY = """edges { node { id
  parentOrder { parentOrder { parentOrder { parentOrder { id } } } }
  splitOrders { splitOrders { splitOrders { splitOrders { id } } } } } }"""


@dataclass(frozen=True)
class Bomb:
    name: str
    body: bytes
    status: int  # the HTTP status of its refusal (application/json)
    code: str


def bomb(name: str, query: str, variables: dict[str, Any] | None = None) -> Bomb:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return Bomb(name, body, 200, "QUERY_TOO_COMPLEX")


BOMBS = [
    bomb("20 aliases of orders(first: 100)", aliased(20, ORDERS_100)),
    bomb("500 aliases of orders(first: 100) (tokens)", aliased(500, ORDERS_100)),
    bomb("100 aliases of backends { healthy }", aliased(100, "backends { healthy }")),
    bomb("10,000-field document (query size)", "{ viewer { " + "principal " * 10_000 + "} }"),
    bomb("2,000-field document (tokens)", "{ viewer { " + "principal " * 2_000 + "} }"),
    bomb(
        "depth 13",
        "{ orders(first: 1) { edges { node { " + "parentOrder { " * 9 + "id" + " }" * 12 + " }",
    ),
    bomb("nested 5,000 levels", "{ viewer " * 5000 + "}" * 5000),
    bomb(
        "50 directives on one field",
        "{ orders(first: 1) { edges { node { id" + " @include(if: true)" * 50 + " } } } }",
    ),
    bomb("11 root fields", aliased(11, "viewer { principal }")),
    bomb(
        "cost 1,200, first through a variable",
        "query($n: Int!) { orders(first: $n) { " + FAMILY + " } }",
        {"n": 100},
    ),
    bomb("fragment doubling, 25 levels", doubling(25, "a: " + ORDERS_100)),
    Bomb(
        "1.1 MB body (HTTP 413)",
        json.dumps(
            {"query": "{ viewer { principal } }", "variables": {"pad": "x" * 1_100_000}}
        ).encode(),
        413,
        "QUERY_TOO_COMPLEX",
    ),
]


# --- processes ----------------------------------------------------------------------------


def gateway_settings(urls: dict[OrderSource, str], database: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        simulators=False,
        database_url=f"sqlite+aiosqlite:///{database}",
        log_level="warning",
        auth=AuthSettings(anonymous=True),
        feed={"ingest": False},  # the read path alone: no polling beside it
        **{s.value.lower(): {"base_url": url} for s, url in urls.items()},
    )


def _serve_gateway(
    urls: dict[OrderSource, str], database: Path, ready: multiprocessing.Queue, stop: Any
) -> None:
    from backends.simkit.server import ServerThread
    from gateway.app import create_app

    with ServerThread({"gateway": create_app(gateway_settings(urls, database))}) as server:
        ready.put(server.urls["gateway"])
        stop.wait()


@contextmanager
def gateway_process(urls: dict[OrderSource, str], database: Path) -> Iterator[str]:
    """The gateway in a process of its own (its store migrated once the URL is known)."""
    ready: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    process = multiprocessing.Process(
        target=_serve_gateway, args=(urls, database, ready, stop), daemon=True
    )
    process.start()
    try:
        yield ready.get(timeout=60)
    finally:
        stop.set()
        process.join(timeout=10)


async def _load_loop(url: str, headers: dict[str, str], order_id: str, stop: Any) -> list[int]:
    counts = [0, 0]  # answered, failed
    requests = [
        {"query": ORDER_BY_ID, "variables": {"id": order_id}},
        {"query": LOAD_LISTING},
    ]
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

        async def one(worker: int) -> None:
            n = worker
            while not stop.is_set():
                response = await client.post("/graphql", json=requests[n % 2])
                n += 1
                ok = response.status_code == 200 and not response.json().get("errors")
                counts[0 if ok else 1] += 1

        await asyncio.gather(*(one(worker) for worker in range(LOAD_CONCURRENCY)))
    return counts


def _load(url: str, headers: dict[str, str], order_id: str, stop: Any, done: Any) -> None:
    done.put(asyncio.run(_load_loop(url, headers, order_id, stop)))


@contextmanager
def load_process(url: str, headers: dict[str, str], order_id: str) -> Iterator[list[float]]:
    """Eight normal queries in flight from another process; yields [answered, failed, s]."""
    done: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    process = multiprocessing.Process(
        target=_load, args=(url, headers, order_id, stop, done), daemon=True
    )
    process.start()
    result: list[float] = []
    time.sleep(1.0)  # connections open, the gateway warm
    started = time.perf_counter()
    try:
        yield result
    finally:
        stop.set()
        answered, failed = done.get(timeout=60)
        result.extend([answered, failed, time.perf_counter() - started])
        process.join(timeout=10)


# --- figures ------------------------------------------------------------------------------


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def p50_p99(timings: list[float]) -> tuple[float, float]:
    return statistics.median(timings), statistics.quantiles(timings, n=100, method="inclusive")[98]


def timed(send: Callable[[], None], tries: int) -> list[float]:
    send()  # warm-up
    timings = []
    for _ in range(tries):
        start = time.perf_counter()
        send()
        timings.append(ms(start))
    return timings


def make_keys(database: Path) -> tuple[str, str]:
    """Two keys with every scope: one to time with, one for the load."""
    from store import api_keys
    from store.engine import Store

    async def create() -> tuple[str, str]:
        store = Store(f"sqlite+aiosqlite:///{database}")
        try:
            # Refused bombs take points too (`refusal_cost`): both keys refill at once.
            timed_key = await api_keys.create(
                store, name="bench", scopes=ALL_SCOPES, rate=1_000_000
            )
            load_key = await api_keys.create(
                store, name="bench-load", scopes=ALL_SCOPES, rate=1_000_000
            )
            return timed_key.secret, load_key.secret
        finally:
            await store.aclose()

    return asyncio.run(create())


def in_process(database: Path, secret: str, runs: int) -> list[tuple[str, float, float]]:
    """What the key lookup and the query limits cost one request, without HTTP."""
    from graphql import parse
    from starlette.datastructures import Headers

    from gateway.authentication import Authenticator
    from gateway.limits import measure, more_tokens_than, operation_of
    from gateway.settings import AuthSettings, LimitSettings
    from gateway.throttle import MemoryBuckets
    from gateway.tokens import TokenVerifier
    from store import api_keys
    from store.engine import Store

    limits = LimitSettings()
    variables = {"id": "T3JkZXI6QUZGSUxJQVRFOjE="}

    async def run() -> list[tuple[str, float, float]]:
        store = Store(f"sqlite+aiosqlite:///{database}")
        buckets = MemoryBuckets()
        try:
            auth = AuthSettings()
            authenticator = Authenticator(auth, store, TokenVerifier(auth))
            headers = Headers({"authorization": f"Bearer {secret}"})

            async def authenticate_cached() -> None:
                await authenticator.authenticate(headers)

            async def look_up() -> None:
                assert await api_keys.authenticate(store, secret) is not None

            document = parse(ORDER_BY_ID)
            operation = operation_of(document, None)
            assert operation is not None

            async def count_tokens() -> None:
                more_tokens_than(ORDER_BY_ID, limits.max_tokens)

            async def parse_alone() -> None:
                parse(ORDER_BY_ID)

            async def measure_and_take() -> None:
                before = measure(document, operation, variables=variables, sources=4)
                await buckets.take("key:1", before.cost, size=limits.bucket_size, rate=100)
                measure(document, operation, variables=variables, sources=4, listings={})

            async def added() -> None:  # what every request with a known document pays
                await authenticate_cached()
                await measure_and_take()

            rows = []
            for name, step in (
                ("authentication, key cached (every request)", authenticate_cached),
                ("key lookup in the store (once per key per `key_cache_s`)", look_up),
                ("limits: `measure` before and after, one bucket take", measure_and_take),
                ("**authentication + limits, per request**", added),
                ("limits: token count (a document not seen before)", count_tokens),
                ("for scale: `graphql.parse` of the same document", parse_alone),
            ):
                await step()
                timings = []
                for _ in range(runs):
                    start = time.perf_counter()
                    await step()
                    timings.append(ms(start))
                rows.append((name, *p50_p99(timings)))
            return rows
        finally:
            await store.aclose()

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=50, help="refusals timed per bomb")
    parser.add_argument("--runs", type=int, default=200, help="rounds of order(id) timings")
    args = parser.parse_args()

    with (
        simulators_process() as urls,
        tempfile.TemporaryDirectory() as tmp,
        gateway_process(urls, Path(tmp) / "bench.db") as gateway_url,
    ):
        database = Path(tmp) / "bench.db"
        timed_secret, load_secret = make_keys(database)
        keyed = httpx.Client(
            base_url=gateway_url, timeout=30, headers={"Authorization": f"Bearer {timed_secret}"}
        )
        anonymous = httpx.Client(base_url=gateway_url, timeout=30)
        upstream = httpx.Client(
            base_url=urls[OrderSource.AFFILIATE], timeout=30, headers=AFFILIATE_HEADERS
        )
        with keyed, anonymous, upstream:
            found = keyed.post("/graphql", json={"query": FIRST_AFFILIATE}).json()
            node = found["data"]["orders"]["edges"][0]["node"]
            order_id, upstream_id = node["id"], node["upstreamId"]
            one = {"query": ORDER_BY_ID, "variables": {"id": order_id}}

            def floor() -> None:
                upstream.get(f"/api/v1/orders/{upstream_id}").raise_for_status()

            def through(client: httpx.Client) -> Callable[[], None]:
                def send() -> None:
                    response = client.post("/graphql", json=one)
                    if response.status_code != 200 or response.json().get("errors"):
                        raise SystemExit(f"order(id) failed: {response.text[:300]}")

                return send

            # 1. order(id), quiet, interleaved so that drift hits every row alike.
            sends = {
                "upstream detail endpoint, direct (floor)": floor,
                "gateway `order(id)`, API key": through(keyed),
                "gateway `order(id)`, anonymous (no key lookup)": through(anonymous),
            }
            quiet: dict[str, list[float]] = {name: [] for name in sends}
            for send in sends.values():
                send()
            for _ in range(args.runs):
                for name, send in sends.items():
                    start = time.perf_counter()
                    send()
                    quiet[name].append(ms(start))

            # 2. the same work in process.
            parts = in_process(database, timed_secret, runs=max(args.runs, 500))

            # 3. bombs, with no other traffic and then under load.
            def refusal(case: Bomb) -> Callable[[], None]:
                def send() -> None:
                    response = keyed.post(
                        "/graphql", content=case.body, headers={"Content-Type": "application/json"}
                    )
                    code = response.json()["errors"][0]["extensions"]["code"]
                    if response.status_code != case.status or code != case.code:
                        raise SystemExit(f"{case.name}: {response.status_code} {code}")

                return send

            rows: dict[str, Callable[[], None]] = {
                "upstream detail endpoint, direct (floor)": floor,
                "gateway `order(id)`, API key": through(keyed),
                **{case.name: refusal(case) for case in BOMBS},
            }
            bombs_quiet = {name: p50_p99(timed(send, args.tries)) for name, send in rows.items()}
            load_headers = {"Authorization": f"Bearer {load_secret}"}
            with load_process(gateway_url, load_headers, order_id) as load:
                bombs_loaded = {
                    name: p50_p99(timed(send, args.tries)) for name, send in rows.items()
                }

    floor_quiet = statistics.median(quiet["upstream detail endpoint, direct (floor)"])
    print(f"{measured_on('edge')}, 4 simulators x 120 orders, default limits")
    print()
    print(f"`order(id)`, no other traffic, {args.runs} interleaved rounds")
    print()
    print("| request | p50 ms | p99 ms | p50 / floor |")
    print("|---|---:|---:|---:|")
    for name, timings in quiet.items():
        p50, p99 = p50_p99(timings)
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {p50 / floor_quiet:.2f} |")
    gateway_p50 = statistics.median(quiet["gateway `order(id)`, API key"])
    anonymous_p50 = statistics.median(quiet["gateway `order(id)`, anonymous (no key lookup)"])
    print(
        f"| gateway over floor (p50, API key) | {gateway_p50 - floor_quiet:.2f} | | "
        f"{(gateway_p50 - floor_quiet) / floor_quiet:.2f} |"
    )
    print(
        f"| API key over anonymous (p50) | {gateway_p50 - anonymous_p50:.2f} | | "
        f"{(gateway_p50 - anonymous_p50) / floor_quiet:.2f} |"
    )
    print()
    print(f"The same work in process, no HTTP, {max(args.runs, 500)} runs")
    print()
    print("| step | p50 ms | p99 ms | p50 / floor |")
    print("|---|---:|---:|---:|")
    for name, p50, p99 in parts:
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {p50 / floor_quiet:.3f} |")
    print()
    answered, failed, seconds = load
    print(
        f"Query bombs, {args.tries} tries each: with no other traffic, then while "
        f"{LOAD_CONCURRENCY} normal queries stay in flight from another process "
        f"(`order(id)` and `orders(first: 10)`, {answered / seconds:.0f}/s answered, "
        f"{failed:.0f} failed)"
    )
    print()
    print(
        "| request | quiet p50 ms | quiet p99 ms | p50 / floor "
        "| loaded p50 ms | loaded p99 ms | p50 / floor |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    quiet_floor = bombs_quiet["upstream detail endpoint, direct (floor)"][0]
    loaded_floor = bombs_loaded["upstream detail endpoint, direct (floor)"][0]
    for name, (p50, p99) in bombs_quiet.items():
        l50, l99 = bombs_loaded[name]
        print(
            f"| {name} | {p50:.2f} | {p99:.2f} | {p50 / quiet_floor:.2f} "
            f"| {l50:.2f} | {l99:.2f} | {l50 / loaded_floor:.2f} |"
        )


if __name__ == "__main__":
    main()
