"""Write-path benchmark: mutation latency, and how fast the outbox drains after an outage.

    .venv/bin/python bench/write_path.py [--runs 30] [--backlog 1000]

Starts the four simulators (a process of their own, 2,000 orders each) and the gateway (its
default outbox settings, SQLite) on free 127.0.0.1 ports. Prints p50/p95 latency of each
mutation, each delivered upstream; then takes the affiliate platform down, queues
``--backlog`` status changes and dispatches (five per order, in order), brings it back and
times until the outbox is empty.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import gateway_client, measured_on, simulators_process
from domain.models import OrderSource

FIND = """
query($after: String, $s: [OrderSource!], $st: [OrderStatus!]) {
  orders(first: 100, after: $after, filter: {sources: $s, statuses: $st}) {
    edges { node { id lines { id quantity } } } pageInfo { hasNextPage endCursor } } }
"""
STEPS = [
    ("updateStatus", "UpdateStatusInput", {"status": "CONFIRMED"}),
    ("updateStatus", "UpdateStatusInput", {"status": "PROCESSING"}),
    ("dispatch", "DispatchInput", {"consignmentNumber": "CN-BENCH"}),
    ("updateStatus", "UpdateStatusInput", {"status": "DELIVERED"}),
    ("updateStatus", "UpdateStatusInput", {"status": "COMPLETED"}),
]


class Gateway:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.client.post(
            "/graphql", json={"query": query, "variables": variables}
        ).json()
        if body.get("errors"):
            raise SystemExit(f"benchmark request failed: {body['errors']}")
        return body["data"]  # type: ignore[no-any-return]

    def mutate(self, name: str, input_type: str, input: dict[str, Any]) -> dict[str, Any]:
        query = (
            f"mutation($input: {input_type}!) {{ {name}(input: $input) "
            "{ userErrors { code message } delivery { status } } }"
        )
        payload: dict[str, Any] = self.post(query, {"input": input})[name]
        return payload

    def orders(self, source: OrderSource, status: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.post(FIND, {"s": [source.value], "st": [status], "after": after})["orders"]
            found += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]


def timed(runs: list[Callable[[], dict[str, Any]]]) -> tuple[float, float]:
    timings = []
    for run in runs:
        start = time.perf_counter()
        payload = run()
        timings.append((time.perf_counter() - start) * 1000)
        if payload["userErrors"] or payload["delivery"]["status"] != "DELIVERED":
            raise SystemExit(f"a benchmarked mutation was not delivered: {payload}")
    return statistics.median(timings), statistics.quantiles(timings, n=20)[18]


def latency_rows(gateway: Gateway, runs: int) -> list[tuple[str, float, float]]:
    pending = gateway.orders(OrderSource.AFFILIATE, "PENDING")[:runs]
    processing = gateway.orders(OrderSource.WEBSHOP, "PROCESSING")[:runs]
    splittable = [
        o
        for o in gateway.orders(OrderSource.AFFILIATE, "CONFIRMED")
        if len(o["lines"]) > 1 or o["lines"][0]["quantity"] >= 2
    ][:runs]
    [crm_order, *_] = gateway.orders(OrderSource.CRM, "PENDING")
    [webshop_order, *_] = gateway.orders(OrderSource.WEBSHOP, "CONFIRMED")
    codes = ["WELCOME10", "SUMMER25", "VIP15"]
    return [
        (
            "updateStatus (AFFILIATE)",
            *timed(
                [
                    lambda o=o: gateway.mutate(
                        "updateStatus",
                        "UpdateStatusInput",
                        {"orderId": o["id"], "status": "CONFIRMED"},
                    )
                    for o in pending
                ]
            ),
        ),
        (
            "dispatch (WEBSHOP: DESADV)",
            *timed(
                [
                    lambda o=o, n=n: gateway.mutate(
                        "dispatch",
                        "DispatchInput",
                        {"orderId": o["id"], "consignmentNumber": f"CN{n}"},
                    )
                    for n, o in enumerate(processing)
                ]
            ),
        ),
        (
            "splitOrder (AFFILIATE)",
            *timed(
                [
                    lambda o=o: gateway.mutate(
                        "splitOrder",
                        "SplitOrderInput",
                        {
                            "orderId": o["id"],
                            "lines": [{"lineId": o["lines"][0]["id"], "quantity": 1}],
                        },
                    )
                    for o in splittable
                ]
            ),
        ),
        (
            "setDiscountCode (CRM: catalog + PUT)",
            *timed(
                [
                    lambda n=n: gateway.mutate(
                        "setDiscountCode",
                        "SetDiscountCodeInput",
                        {"orderId": crm_order["id"], "code": codes[n % 3]},
                    )
                    for n in range(runs)
                ]
            ),
        ),
        (
            "setErpOrderNumber (WEBSHOP: PATCH + PUT)",
            *timed(
                [
                    lambda n=n: gateway.mutate(
                        "setErpOrderNumber",
                        "SetErpOrderNumberInput",
                        {
                            "orderId": webshop_order["id"],
                            "erpOrderNumber": f"ERP-{n}",
                            "lines": [
                                {"lineId": line["id"], "erpLineNumber": 10 * i + n}
                                for i, line in enumerate(webshop_order["lines"], start=1)
                            ],
                        },
                    )
                    for n in range(runs)
                ]
            ),
        ),
    ]


def pending_changes(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        [(count,)] = connection.execute("SELECT count(*) FROM outbox WHERE status = 'pending'")
        return int(count)


def drain(
    gateway: Gateway, affiliate_url: str, database: Path, backlog: int
) -> tuple[float, float]:
    orders = gateway.orders(OrderSource.AFFILIATE, "PENDING")[: backlog // len(STEPS)]
    if len(orders) * len(STEPS) < backlog:
        raise SystemExit(f"only {len(orders)} pending affiliate orders for a backlog of {backlog}")
    httpx.post(f"{affiliate_url}/_sim/faults", json={"error_rate": 1.0})
    start = time.perf_counter()

    def queue(order: dict[str, Any]) -> None:
        for name, input_type, fields in STEPS:
            payload = gateway.mutate(name, input_type, {"orderId": order["id"], **fields})
            if payload["delivery"]["status"] != "QUEUED":
                raise SystemExit(f"expected a queued change: {payload}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(queue, orders))
    queued_s = time.perf_counter() - start
    assert pending_changes(database) == backlog
    httpx.post(f"{affiliate_url}/_sim/faults/reset")
    start = time.perf_counter()
    while pending_changes(database):
        time.sleep(0.05)
    return queued_s, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backlog", type=int, default=1000)
    args = parser.parse_args()
    with (
        simulators_process(orders=2000) as urls,
        tempfile.TemporaryDirectory() as tmp,
        gateway_client(urls, Path(tmp) / "bench.db") as client,
    ):
        gateway = Gateway(client)
        rows = latency_rows(gateway, args.runs)
        queued_s, drained_s = drain(
            gateway, urls[OrderSource.AFFILIATE], Path(tmp) / "bench.db", args.backlog
        )
    print(f"{measured_on('write path')}, {args.runs} runs per mutation, SQLite store")
    print()
    print("| mutation (delivered upstream) | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    for name, p50, p95 in rows:
        print(f"| {name} | {p50:.1f} | {p95:.1f} |")
    print()
    print("| outbox, AFFILIATE down then back | figure |")
    print("|---|---:|")
    print(f"| changes queued while down | {args.backlog} |")
    print(f"| time to queue them (8 clients) | {queued_s:.1f} s |")
    print(f"| time to drain once the upstream is back | {drained_s:.1f} s |")
    print(f"| drain rate | {args.backlog / drained_s:.0f} changes/s |")


if __name__ == "__main__":
    main()
