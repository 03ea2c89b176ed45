"""``HistoryByOrderLoader``: the audit trail of every order a request shows, in one query."""

from __future__ import annotations

from collections.abc import Sequence

from aiodataloader import DataLoader

from domain.ids import order_id
from domain.models import OrderEvent, OrderSource
from store.clock import as_utc
from store.engine import Store
from store.events import events_for


class HistoryByOrderLoader(DataLoader[tuple[OrderSource, str], list[OrderEvent]]):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    async def batch_load_fn(
        self, keys: Sequence[tuple[OrderSource, str]]
    ) -> list[list[OrderEvent]]:
        global_ids = [order_id(source, upstream_id) for source, upstream_id in keys]
        by_order = await events_for(self.store, global_ids)
        return [
            [
                OrderEvent(
                    at=as_utc(event.at),
                    kind=event.kind,
                    detail=event.detail,
                    actor=event.actor,
                    outcome=event.outcome,
                )
                for event in by_order.get(global_id, [])
            ]
            for global_id in global_ids
        ]
