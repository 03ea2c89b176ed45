"""``HealthBySourceLoader``: each backend's health checked at most once per request, however
many aliases of ``backends { healthy }`` a query has."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from aiodataloader import DataLoader

from backends.base import OrderBackend
from backends.health import backend_health
from domain.models import OrderSource


class HealthBySourceLoader(DataLoader[OrderSource, bool]):
    def __init__(self, backends: Mapping[OrderSource, OrderBackend]) -> None:
        super().__init__()
        self.backends = backends

    async def batch_load_fn(self, keys: Sequence[OrderSource]) -> list[bool]:
        return list(await asyncio.gather(*(backend_health(self.backends[k]) for k in keys)))
