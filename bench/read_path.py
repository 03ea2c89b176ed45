"""Read-path benchmark: upstream requests and latency of typical queries.

    .venv/bin/python bench/read_path.py [--runs 40]

Starts the four simulators (in a process of their own) and the gateway on free 127.0.0.1
ports, then times each scenario over ``--runs`` requests from a client in another
thread and prints a Markdown table: upstream requests per query (from the simulators'
``/_sim/stats``, authentication excluded) and p50/p95 latency in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import gateway_client, measured_on, simulators_process
from domain.models import OrderSource

AUTH_ROUTES = ("/realms/", "/oauth/token", "/api/login")

ORDERS_NESTED = """
query Orders($first: Int!) {
  orders(first: $first) {
    edges { node {
      id source reference status updatedAt
      totals { total { amount currency } }
      customer { name email }
      lines { sku quantity unitPrice { amount } discounts { kind amount { amount } } }
      discounts { kind code amount { amount } }
      shipments { consignmentNumber carrier }
      payments { amount { amount } status }
    } }
    pageInfo { hasNextPage endCursor }
    unavailableSources
  }
}
"""
ORDER_BY_ID = "query One($id: ID!) { order(id: $id) { id reference status lines { sku } } }"


def upstream_requests(urls: dict[OrderSource, str]) -> int:
    total = 0
    for url in urls.values():
        counts = httpx.get(f"{url}/_sim/stats").json()["requests"]
        total += sum(n for route, n in counts.items() if not any(a in route for a in AUTH_ROUTES))
    return total


def reset_stats(urls: dict[OrderSource, str]) -> None:
    for url in urls.values():
        httpx.post(f"{url}/_sim/stats/reset")


def set_latency(urls: dict[OrderSource, str], latency_ms: float) -> None:
    for url in urls.values():
        httpx.post(f"{url}/_sim/faults", json={"latency_ms": latency_ms})


def measure(
    client: httpx.Client, urls: dict[OrderSource, str], runs: int, send: Callable[[], Any]
) -> tuple[float, float, float]:
    send()  # warm-up: tokens, connections
    reset_stats(urls)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        send()
        timings.append((time.perf_counter() - start) * 1000)
    per_query = upstream_requests(urls) / runs
    quantiles = statistics.quantiles(timings, n=20)
    return per_query, statistics.median(timings), quantiles[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    with (
        simulators_process() as urls,
        tempfile.TemporaryDirectory() as tmp,
        gateway_client(urls, Path(tmp) / "bench.db", timeout_s=30) as client,
    ):

        def post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = client.post("/graphql", json={"query": query, "variables": variables})
            body: dict[str, Any] = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise SystemExit(f"benchmark query failed: {response.text[:500]}")
            return body

        first = post(ORDERS_NESTED, {"first": 1})
        order_id = first["data"]["orders"]["edges"][0]["node"]["id"]
        rows = [
            ("order(id)", lambda: post(ORDER_BY_ID, {"id": order_id})),
            ("orders(first: 100), nested", lambda: post(ORDERS_NESTED, {"first": 100})),
        ]
        results = [(name, *measure(client, urls, args.runs, send)) for name, send in rows]
        set_latency(urls, 20)
        results.append(
            (
                "orders(first: 100), nested, 20 ms upstream latency",
                *measure(client, urls, args.runs, rows[1][1]),
            )
        )
        set_latency(urls, 0)

    print(f"{measured_on('read path')}, {args.runs} runs per scenario, 4 simulators x 120 orders")
    print()
    print("| scenario | upstream requests per query | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|")
    for name, requests, p50, p95 in results:
        print(f"| {name} | {requests:.1f} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
