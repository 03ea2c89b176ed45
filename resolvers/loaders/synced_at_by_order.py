"""``SyncedAtByOrderLoader``: when the order index last saw each order a request shows, in one
store query (``feed.index.indexed``); orders a listing read from the index come primed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from aiodataloader import DataLoader

from feed.index import indexed
from store.clock import as_utc
from store.engine import Store


class SyncedAtByOrderLoader(DataLoader[str, datetime | None]):
    """Global order id -> ``synced_at`` of its index row (``None``: never indexed)."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    async def batch_load_fn(self, keys: Sequence[str]) -> list[datetime | None]:
        rows = await indexed(self.store, keys)
        return [as_utc(rows[key].synced_at) if key in rows else None for key in keys]

    def prime_many(self, synced: Mapping[str, datetime]) -> None:
        for order_id, moment in synced.items():
            self.prime(order_id, moment)
