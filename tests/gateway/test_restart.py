"""Queued changes survive a gateway restart and reach the upstream once each, in order.

The gateway runs as a real process here (``python -m gateway.cli run``), killed while the
upstream is down and started again once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.models import OrderSource
from tests.conftest import empty_store
from tests.support import GatewayProcess, SimControlClient, bind_free_port, upstream_get

A = OrderSource.AFFILIATE
STEPS = [
    ("updateStatus", {"status": "CONFIRMED"}),
    ("updateStatus", {"status": "PROCESSING"}),
    ("dispatch", {"consignmentNumber": "CN-{n}"}),
    ("updateStatus", {"status": "DELIVERED"}),
    ("updateStatus", {"status": "COMPLETED"}),
]


@pytest.fixture
def gateway_process(
    simulator_urls: dict[OrderSource, str], tmp_path: Path
) -> Iterator[GatewayProcess]:
    database = os.environ.get("ORDERGATE_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/gw.db"
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL"):
        asyncio.run(empty_store(database))
    port = bind_free_port()
    env = {
        **os.environ,
        "ORDERGATE_SIMULATORS": "false",
        "ORDERGATE_PORT": str(port),
        "ORDERGATE_DATABASE_URL": database,
        "ORDERGATE_LOG_LEVEL": "warning",
        "ORDERGATE_FEED__INGEST": "false",  # the shared simulators: no polling of them
        "ORDERGATE_FEED__INDEX_SEARCH": "false",  # so, without an index, searches read upstream
        # This test is about restarts, not credentials: its gateway serves anonymous callers.
        "ORDERGATE_AUTH__ANONYMOUS": "true",
        "ORDERGATE_AUTH__ANONYMOUS_SCOPES": '["orders:read", "orders:write"]',
        "ORDERGATE_OUTBOX__POLL_INTERVAL_S": "0.2",
        "ORDERGATE_OUTBOX__BACKOFF_BASE_S": "0.2",
        "ORDERGATE_OUTBOX__BACKOFF_MAX_S": "1",
        "ORDERGATE_OUTBOX__LEASE_S": "2",
        **{f"ORDERGATE_{s.value}__BASE_URL": url for s, url in simulator_urls.items()},
        **{f"ORDERGATE_{s.value}__TIMEOUT_S": "2" for s in OrderSource},
    }
    gateway = GatewayProcess(env, port)
    yield gateway
    if gateway.process is not None and gateway.process.poll() is None:
        gateway.kill()


PENDING_ORDERS = """
{ orders(first: 4, filter: {sources: [AFFILIATE], statuses: [PENDING]}) {
    edges { node { id upstreamId } } } }
"""
HISTORY = "query($id: ID!) { order(id: $id) { history { kind outcome } } }"


def mutation(
    name: str, order_id: str, fields: dict[str, str], n: int
) -> tuple[str, dict[str, Any]]:
    input_type = {"updateStatus": "UpdateStatusInput", "dispatch": "DispatchInput"}[name]
    values = {k: v.format(n=n) for k, v in fields.items()}
    query = (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        "{ userErrors { code message } delivery { status } } }"
    )
    return query, {"input": {"orderId": order_id, **values}}


def test_twenty_queued_changes_survive_a_restart_and_land_once_each_in_order(
    gateway_process: GatewayProcess, simulator_urls: dict[OrderSource, str]
) -> None:
    sim = SimControlClient(simulator_urls[A])
    sim.reset()
    try:
        gateway_process.start()
        orders = [e["node"] for e in gateway_process.graphql(PENDING_ORDERS, {})["orders"]["edges"]]
        assert len(orders) == 4

        sim.set_faults(error_rate=1.0)
        for name, fields in STEPS:
            for n, order in enumerate(orders):
                query, variables = mutation(name, order["id"], fields, n)
                [payload] = gateway_process.graphql(query, variables).values()
                assert payload["delivery"] == {"status": "QUEUED"}, payload
                assert payload["userErrors"][0]["code"] == "UPSTREAM_UNAVAILABLE"

        gateway_process.kill()
        sim.reset_faults()
        sim.reset_stats()
        gateway_process.start()

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            outcomes = [
                event["outcome"]
                for order in orders
                for event in gateway_process.graphql(HISTORY, {"id": order["id"]})["order"][
                    "history"
                ]
            ]
            if outcomes == ["delivered"] * 20:
                break
            assert "rejected" not in outcomes, outcomes
            time.sleep(0.2)
        else:
            pytest.fail(f"not all delivered: {outcomes}")

        patches = sim.stats()["requests"].get("PATCH /api/v1/orders/{order_id}/status", 0)
        assert patches == 20  # once each: no change was sent twice
        for n, order in enumerate(orders):
            upstream = upstream_get(A, simulator_urls[A], f"/api/v1/orders/{order['upstreamId']}")
            assert upstream["data"]["status"] == "completed"
            assert upstream["data"]["consignment_number"] == f"CN-{n}"
    finally:
        sim.reset()


KEYED_CONFIRM = """mutation($input: UpdateStatusInput!) { updateStatus(input: $input) {
  userErrors { code message } delivery { status changeId } } }"""


def test_a_retry_after_a_crash_between_queueing_and_answering_gets_the_change_at_once(
    gateway_process: GatewayProcess, simulator_urls: dict[OrderSource, str]
) -> None:
    sim = SimControlClient(simulator_urls[A])
    sim.reset()
    try:
        gateway_process.start()
        [order, *_] = [
            e["node"] for e in gateway_process.graphql(PENDING_ORDERS, {})["orders"]["edges"]
        ]
        variables = {
            "input": {"orderId": order["id"], "status": "CONFIRMED", "idempotencyKey": "crash-1"}
        }
        sim.set_faults(latency_ms=3_000)  # the delivery is still in flight when the process dies
        sim.reset_stats()
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(
                httpx.post,
                f"{gateway_process.url}/graphql",
                json={"query": KEYED_CONFIRM, "variables": variables},
                timeout=30,
            )
            patch = "PATCH /api/v1/orders/{order_id}/status"
            for _ in range(400):  # until the queued change is on its way (the write arrived)
                if sim.stats()["requests"].get(patch):
                    break
                time.sleep(0.05)
            gateway_process.kill()
            with contextlib.suppress(httpx.TransportError):
                first.result()  # the answer never came
        sim.reset_faults()
        gateway_process.start()
        answers = [gateway_process.graphql(KEYED_CONFIRM, variables) for _ in range(2)]
        deliveries = [a["updateStatus"]["delivery"] for a in answers]
        assert deliveries[0]["changeId"] and deliveries[0]["changeId"] == deliveries[1]["changeId"]
        for answer in answers:
            assert answer["updateStatus"]["delivery"]["status"] in ("QUEUED", "DELIVERED")
            codes = {e["code"] for e in answer["updateStatus"]["userErrors"]}
            assert "CONFLICT" not in codes
        deadline = time.monotonic() + 30  # the restarted worker delivers it, once
        while time.monotonic() < deadline:
            upstream = upstream_get(A, simulator_urls[A], f"/api/v1/orders/{order['upstreamId']}")
            if upstream["data"]["status"] == "confirmed":
                break
            time.sleep(0.2)
        assert upstream["data"]["status"] == "confirmed"
        assert sim.stats()["requests"].get(patch, 0) <= 2  # the first, and one redelivery at most
    finally:
        sim.reset()
