"""`/ready` with ingestion on: each backend up, degraded (its last poll failed) or down (its
health check fails), with how far behind its ingestion is; 200 while the store answers."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette

from domain.models import OrderSource
from tests.conftest import client_of
from tests.support import SimControlClient


async def test_a_backend_whose_simulator_fails_is_named_and_the_gateway_still_serves(
    feed_app: Starlette, own_sims: dict[OrderSource, str]
) -> None:
    crm = SimControlClient(own_sims[OrderSource.CRM])
    async with client_of(feed_app) as http:
        for _ in range(300):  # every backend polled once at least
            body = (await http.get("/ready")).json()
            if all(b["ingestionLagS"] is not None for b in body["backends"].values()):
                break
            await asyncio.sleep(0.05)
        assert body["status"] == "ready"
        assert {b["state"] for b in body["backends"].values()} == {"up"}
        crm.set_faults(error_rate=1.0)
        try:
            for _ in range(300):  # until a poll of the CRM has failed
                answer = await http.get("/ready")
                if answer.json()["backends"]["CRM"]["lastError"]:
                    break
                await asyncio.sleep(0.05)
            down = answer.json()
        finally:
            crm.reset_faults()
        for _ in range(300):  # the CRM answers again: the next poll clears its error
            up = (await http.get("/ready")).json()
            if up["backends"]["CRM"]["state"] == "up":
                break
            await asyncio.sleep(0.05)
    assert answer.status_code == 200  # the store answers: the other backends are served
    assert down["status"] == "degraded"
    assert down["backends"]["CRM"]["state"] == "down"
    assert "CRM" in down["backends"]["CRM"]["lastError"]  # what the last poll met
    assert down["backends"]["WEBSHOP"]["state"] == "up"
    assert up["status"] == "ready" and up["backends"]["CRM"]["lastError"] is None
    assert all(isinstance(b["ingestionLagS"], float) for b in up["backends"].values())
