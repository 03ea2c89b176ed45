"""SIGTERM during a burst: requests finish within the grace period or answer 503 UNAVAILABLE
(never a plain-text 500), a write cut after its change was queued says so, a write that
answered "failed" changed nothing upstream, and the process exits within grace + 5 s.

The gateway runs as a real process (``tests/gateway/test_restart.py``'s harness); the
affiliate simulator answers slowly, so the burst is still in flight when the signal comes.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from domain.models import OrderSource
from tests.gateway.test_restart import GatewayProcess, gateway_process  # noqa: F401  (fixture)
from tests.support import SimControlClient, upstream_get

A = OrderSource.AFFILIATE
GRACE_S = 1
PENDING = """{ orders(first: 10, filter: {sources: [AFFILIATE], statuses: [PENDING]}) {
  edges { node { id upstreamId } } } }"""
CONFIRM = """mutation($input: UpdateStatusInput!) { updateStatus(input: $input) {
  userErrors { code } delivery { status changeId } } }"""
# A search that matches nothing reads page after page: it outlasts the grace period.
SCAN = """query($n: Int) { orders(first: $n, filter: {sources: [AFFILIATE], search: "zz-none"}) {
  edges { cursor } } }"""


def post(url: str, query: str, variables: dict[str, Any]) -> httpx.Response | Exception:
    try:
        return httpx.post(
            f"{url}/graphql", json={"query": query, "variables": variables}, timeout=30
        )
    except httpx.TransportError as error:  # sent after the listener closed
        return error


def test_sigterm_during_a_burst_answers_every_request_it_took_and_exits_in_time(
    gateway_process: GatewayProcess,  # noqa: F811
    simulator_urls: dict[OrderSource, str],
) -> None:
    sim = SimControlClient(simulator_urls[A])
    sim.reset()
    gateway_process.env["ORDERGATE_SHUTDOWN_GRACE_S"] = str(GRACE_S)
    try:
        gateway_process.start()
        orders = [e["node"] for e in gateway_process.graphql(PENDING, {})["orders"]["edges"]]
        assert len(orders) >= 5
        sim.set_faults(latency_ms=1_200)  # each upstream call outlasts the grace period
        url = gateway_process.url
        requests = [
            (CONFIRM, {"input": {"orderId": o["id"], "status": "CONFIRMED"}}) for o in orders
        ]
        requests += [(SCAN, {"n": 1 + n}) for n in range(30 - len(orders))]
        with ThreadPoolExecutor(len(requests)) as pool:
            futures = [pool.submit(post, url, query, variables) for query, variables in requests]
            threading.Event().wait(0.4)  # the burst is in flight
            assert gateway_process.process is not None
            signalled = time.monotonic()
            gateway_process.process.send_signal(signal.SIGTERM)
            gateway_process.process.wait(timeout=GRACE_S + 5)
            exited_after = time.monotonic() - signalled
            answers = [future.result() for future in futures]
        assert exited_after <= GRACE_S + 5

        for answer in answers:
            if isinstance(answer, Exception):
                continue  # refused at the door: nothing was started
            assert answer.status_code in (200, 503), answer.text
            body = answer.json()  # JSON, never a plain-text 500
            if answer.status_code == 503:
                assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        codes = {a.status_code for a in answers if not isinstance(a, Exception)}
        assert 503 in codes  # the scans were cut by the grace period

        queued = [
            a.json()["data"]["updateStatus"]["delivery"]
            for a in answers[: len(orders)]
            if not isinstance(a, Exception) and a.status_code == 200
        ]
        # The writes were cut mid-delivery (1.2 s upstream, 1 s of grace): they say QUEUED.
        assert any(d and d["status"] == "QUEUED" and d["changeId"] for d in queued), queued

        sim.reset_faults()
        for order, answer in zip(orders, answers, strict=False):
            upstream = upstream_get(A, simulator_urls[A], f"/api/v1/orders/{order['upstreamId']}")
            status = upstream["data"]["status"]
            payload = (
                None
                if isinstance(answer, Exception) or answer.status_code != 200
                else (answer.json()["data"]["updateStatus"])
            )
            if payload is None or payload["delivery"] is None:
                assert status == "pending", (answer, status)  # "failed": nothing changed
            else:
                assert payload["delivery"]["status"] in ("QUEUED", "DELIVERED")
                assert payload["delivery"]["changeId"]
    finally:
        sim.reset()
