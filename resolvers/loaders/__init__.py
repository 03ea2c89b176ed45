"""The request-scoped dataloaders, gathered in one ``DataLoaders`` per request.

Loaders live exactly as long as one GraphQL request (strawberry's dataloader guide: a
module-level loader would serve one user's cached data to another).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from backends.base import OrderBackend
from domain.ids import order_id
from domain.models import Order, OrderEvent, OrderSource
from resolvers.loaders.health_by_source import HealthBySourceLoader
from resolvers.loaders.history_by_order import HistoryByOrderLoader
from resolvers.loaders.order_by_id import OrderByIdLoader
from resolvers.loaders.synced_at_by_order import SyncedAtByOrderLoader
from store.engine import Store


@dataclass(frozen=True, slots=True)
class DataLoaders:
    order_by_id: Mapping[OrderSource, OrderByIdLoader]
    history_by_order: HistoryByOrderLoader
    health_by_source: HealthBySourceLoader
    synced_at: SyncedAtByOrderLoader

    @classmethod
    def create(
        cls, backends: Mapping[OrderSource, OrderBackend], store: Store, *, max_batch_size: int
    ) -> DataLoaders:
        return cls(
            order_by_id={
                source: OrderByIdLoader(backend, max_batch_size=max_batch_size)
                for source, backend in backends.items()
            },
            history_by_order=HistoryByOrderLoader(store),
            health_by_source=HealthBySourceLoader(backends),
            synced_at=SyncedAtByOrderLoader(store),
        )

    async def order(self, source: OrderSource, upstream_id: str) -> Order | None:
        return await self.order_by_id[source].load(upstream_id)

    async def orders(self, source: OrderSource, upstream_ids: Sequence[str]) -> list[Order | None]:
        if not upstream_ids:
            return []
        return list(await self.order_by_id[source].load_many(list(upstream_ids)))

    def prime(self, orders: Sequence[Order]) -> None:
        """Orders read by a listing need no second read when a field asks for them by id."""
        for order in orders:
            self.order_by_id[order.source].prime(order.upstream_id, order)

    def forget(self, source: OrderSource, upstream_id: str) -> None:
        """An order this request changed: its next read (and its history) is fresh."""
        self.order_by_id[source].clear(upstream_id)
        self.history_by_order.clear((source, upstream_id))
        self.synced_at.clear(order_id(source, upstream_id))

    async def history(self, source: OrderSource, upstream_id: str) -> list[OrderEvent]:
        return await self.history_by_order.load((source, upstream_id))
