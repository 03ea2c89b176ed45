"""`backends { healthy }` checks each upstream once per request, however it is asked."""

from __future__ import annotations

from domain.models import OrderSource
from tests.conftest import GatewayClient
from tests.support import SimControlClient


async def test_aliases_of_backends_share_one_health_check_per_backend(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    await gateway.data("{ backends { healthy } }")  # tokens fetched: later counts are checks
    for sim in sims.values():
        sim.reset_stats()
    once = await gateway.data("{ backends { source healthy } }")
    single = {source: sim.stats()["total"] for source, sim in sims.items()}
    for sim in sims.values():
        sim.reset_stats()
    aliases = " ".join(f"b{n}: backends {{ source healthy }}" for n in range(10))
    data = await gateway.data(f"{{ {aliases} }}")
    assert all(data[f"b{n}"] == once["backends"] for n in range(10))
    assert {source: sim.stats()["total"] for source, sim in sims.items()} == single
    assert all(n >= 1 for n in single.values())
