"""Resilience through the simulators' fault API: a hanging backend costs a query no more than
its deadline, then nothing at all while its breaker is open; a 429 limit is respected."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.models import OrderSource
from gateway.settings import Settings
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import SimControlClient, upstream_requests

C = OrderSource.CRM
CRM_PAGE = (
    "query($first: Int) { orders(first: $first, filter: {sources: [CRM]}) { edges { cursor } } }"
)
ALL_SOURCES = """{ orders(first: 5) { edges { node { source } } unavailableSources } }"""


def resilient(settings: Settings, **crm: Any) -> Settings:
    """Settings with a 1 s request deadline and the CRM section changed."""
    section = settings.crm.model_copy(update={"timeout_s": 30.0, "retries": 2, **crm})
    return settings.model_copy(update={"request_deadline_s": 1.0, "crm": section})


async def test_a_hanging_backend_is_cut_at_the_deadline_then_left_alone_until_it_recovers(
    settings: Settings, sims: dict[OrderSource, SimControlClient]
) -> None:
    crm = sims[C]
    # Each CRM attempt times out after 0.5 s; the queries' own deadline is 1 s.
    tuned = resilient(settings, timeout_s=0.5, breaker_failures=2, breaker_cooldown_s=3.0)
    async with running(tuned) as app:
        async with client_of(app, await bearer(app)) as http:
            client = GatewayClient(http)
            await client.data(ALL_SOURCES)  # tokens fetched while CRM still answers
            crm.set_faults(timeout_rate=1.0)
            # Two queries: each answers by its deadline with the other three sources.
            for _ in range(2):
                body = await asyncio.wait_for(client.query(ALL_SOURCES), timeout=30)
                orders = body["data"]["orders"]
                assert orders["unavailableSources"] == ["CRM"]
                assert {e["node"]["source"] for e in orders["edges"]} <= {
                    "AFFILIATE",
                    "WEBSHOP",
                    "B2B",
                }
                [error] = body["errors"]
                assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
                assert any(w in error["message"] for w in ("timed out", "deadline", "circuit open"))
            # The breaker is open: ten more queries send CRM nothing.
            crm.reset_stats()
            for _ in range(10):
                body = await client.query(ALL_SOURCES)
                assert body["data"]["orders"]["unavailableSources"] == ["CRM"]
                assert "circuit open" in body["errors"][0]["message"]
            assert upstream_requests(crm) == 0
            ready = (await http.get("/ready")).json()
            assert ready["status"] == "degraded"
            crm_ready = ready["backends"]["CRM"]
            assert (crm_ready["state"], crm_ready["healthy"], crm_ready["breaker"]) == (
                "down",
                False,
                "open",
            )
            # CRM answers again: after the cool-down a probe goes, and reads resume.
            crm.reset_faults()
            for _ in range(100):
                await asyncio.sleep(0.1)
                body = await client.query(ALL_SOURCES)
                if not body["data"]["orders"]["unavailableSources"]:
                    break
            assert "errors" not in body, body["errors"]
            assert (await http.get("/ready")).json()["backends"]["CRM"]["breaker"] == "closed"


async def test_under_a_429_limit_requests_stay_within_it(
    settings: Settings, sims: dict[OrderSource, SimControlClient]
) -> None:
    crm = sims[C]
    async with running(resilient(settings)) as app:
        async with client_of(app, await bearer(app)) as http:
            client = GatewayClient(http)
            await client.data(ALL_SOURCES)
            crm.reset_stats()
            crm.set_faults(rate_limit_per_s=5)

            async def reader(n: int) -> None:
                for i in range(8):  # different pages: no two reads are the same request
                    await client.query(CRM_PAGE, {"first": 1 + n * 8 + i})

            await asyncio.gather(*(reader(n) for n in range(4)))
    log = [entry["arrived"] for entry in crm.request_log()]
    assert len(log) >= 10
    span = max(log) - min(log)
    # What reached CRM, per second of the simulator's own clock, stays within 5 x 1.2.
    assert len(log) <= 6 * (span + 1), (len(log), span)
