"""``HistoryByOrderLoader``: the audit trail of every order a request shows, in one query."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiodataloader import DataLoader

from domain.ids import order_id
from domain.models import OrderEvent, OrderSource
from feed.events import events_of
from feed.index import ChangeOrigin
from store.clock import as_utc
from store.engine import Store
from store.events import events_for
from store.tables import ChangeEventRecord


class HistoryByOrderLoader(DataLoader[tuple[OrderSource, str], list[OrderEvent]]):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    async def batch_load_fn(
        self, keys: Sequence[tuple[OrderSource, str]]
    ) -> list[list[OrderEvent]]:
        global_ids = [order_id(source, upstream_id) for source, upstream_id in keys]
        by_order, seen = await asyncio.gather(
            events_for(self.store, global_ids), events_of(self.store, global_ids)
        )
        return [
            sorted(
                [
                    *(
                        OrderEvent(
                            at=as_utc(event.at),
                            kind=event.kind,
                            detail=event.detail,
                            actor=event.actor,
                            outcome=event.outcome,
                        )
                        for event in by_order.get(global_id, [])
                    ),
                    *(
                        seen_upstream(event)
                        for event in seen.get(global_id, [])
                        if event.origin != ChangeOrigin.GATEWAY
                    ),
                ],
                key=lambda event: event.at,
            )
            for global_id in global_ids
        ]


def seen_upstream(event: ChangeEventRecord) -> OrderEvent:
    """A change the change feed saw made upstream (by a webhook or a poll), in the history
    beside the gateway's own writes (those are already there, with their delivery)."""
    changed = f": {', '.join(event.changed.split())}" if event.changed else ""
    return OrderEvent(
        at=as_utc(event.occurred_at),
        kind=event.kind,
        detail=f"seen upstream ({event.origin.lower()}){changed}",
        actor="upstream",
    )
