"""Ingestion by polling: each backend read for what changed since its checkpoint, and now and
then read whole (a full load) to catch what a change date does not show.

Incremental: the newest-first listing filtered by ``updated_since`` (CloudSuite
``modified_date__gte``, B2B ``updatedFrom``, the CRM's ``ModifiedDateTime`` filter, the
affiliate platform's ``updated_since``) from the checkpoint minus ``overlap_s``, page by page
until an order older than that; every page is observed (``feed.index``), so what was already
seen is no event, and the checkpoint moves to the newest change seen. The overlap re-reads
the moments around the checkpoint: an order written in the same second, or by an upstream
whose clock is a little behind, is still read.

Full: every order, page by page, the page reached saved after each page so a stopped load
resumes there; at its end, the indexed orders the load did not see are read one by one, and
those the upstream no longer has are ``DELETED`` (an order that moved in the listing while
the load read it is still there, and stays).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from backends.base import OrderBackend, OrderQuery
from domain.models import OrderSource
from feed.index import ChangeOrigin, Observed, observe
from store.clock import as_utc, utcnow
from store.engine import Store
from store.tables import ChangeEventRecord, IndexedOrder, SyncCheckpoint

log = logging.getLogger(__name__)

EVERYTHING = OrderQuery(include_deleted=True)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a poll or load of one backend got: for progress bars and logs."""

    source: OrderSource
    orders: int  # orders read so far
    events: int  # events they made
    total: int | None  # the upstream's count, where it says


Reporter = Callable[[Progress], None]
Notify = Callable[[list[ChangeEventRecord]], Awaitable[None]]


def _in_utc(found: SyncCheckpoint) -> SyncCheckpoint:
    """A checkpoint as read, its moments in UTC (SQLite gives them back naive)."""
    for name in ("watermark", "full_started_at", "last_full_at", "last_poll_at"):
        moment = getattr(found, name)
        if moment is not None:
            setattr(found, name, as_utc(moment))
    return found


async def _checkpoint(store: Store, source: OrderSource) -> SyncCheckpoint:
    async with store.session() as session:
        found = await session.get(SyncCheckpoint, source.value)
    return SyncCheckpoint(source=source.value) if found is None else _in_utc(found)


async def checkpoints(store: Store) -> dict[OrderSource, SyncCheckpoint]:
    """Every backend's checkpoint the store holds (readiness and the metrics: how far behind
    ingestion is), in one query."""
    async with store.session() as session:
        rows = await session.exec(select(SyncCheckpoint))
        held = {row.source: row for row in rows}
    return {s: _in_utc(held[s.value]) for s in OrderSource if s.value in held}


def ingestion_lag_s(checkpoint: SyncCheckpoint | None, now: datetime) -> float | None:
    """Seconds since ingestion last read the backend in step (``None``: never yet)."""
    if checkpoint is None or checkpoint.last_poll_at is None:
        return None
    return (now - checkpoint.last_poll_at).total_seconds()


async def _save(store: Store, checkpoint: SyncCheckpoint) -> None:
    async with store.session() as session:
        await session.merge(checkpoint)
        await session.commit()


class Poller:
    def __init__(
        self,
        store: Store,
        backends: Mapping[OrderSource, OrderBackend],
        *,
        page_size: int = 100,
        overlap_s: float = 5.0,
        full_every_s: float = 3600.0,
        notify: Notify | None = None,
    ) -> None:
        self.store = store
        self.backends = backends
        self.page_size = page_size
        self.overlap = timedelta(seconds=overlap_s)
        self.full_every = timedelta(seconds=full_every_s)
        self.notify = notify

    async def _observe(self, observed: list[Observed], **gone: object) -> int:
        events = await observe(self.store, observed, ChangeOrigin.POLL, **gone)  # type: ignore[arg-type]
        if events and self.notify is not None:
            await self.notify(events)
        return len(events)

    async def poll(self, source: OrderSource, *, report: Reporter | None = None) -> int:
        """One round for one backend: a full load when none was ever made, one is under way,
        or the last is ``full_every_s`` old; otherwise the changes since the checkpoint.
        The number of events it made."""
        checkpoint = await _checkpoint(self.store, source)
        due = (
            checkpoint.last_full_at is None or utcnow() - checkpoint.last_full_at > self.full_every
        )
        if due or checkpoint.full_offset is not None or checkpoint.watermark is None:
            return await self.full(source, report=report)
        return await self.incremental(source, checkpoint)

    async def incremental(self, source: OrderSource, checkpoint: SyncCheckpoint) -> int:
        backend = self.backends[source]
        assert checkpoint.watermark is not None
        since = checkpoint.watermark - self.overlap
        query = OrderQuery(updated_since=since, include_deleted=True)
        newest, offset, events = checkpoint.watermark, 0, 0
        while True:
            page = await backend.list_orders(query, offset=offset, limit=self.page_size)
            fresh = [o for o in page.orders if o.updated_at >= since]
            events += await self._observe([Observed(o) for o in fresh])
            newest = max([newest, *(o.updated_at for o in fresh)])
            offset += len(page.orders)
            if page.exhausted or not page.orders or len(fresh) < len(page.orders):
                break
        checkpoint.watermark, checkpoint.last_poll_at, checkpoint.last_error = (
            newest,
            utcnow(),
            None,
        )
        await _save(self.store, checkpoint)
        return events

    async def full(
        self, source: OrderSource, *, report: Reporter | None = None, restart: bool = False
    ) -> int:
        """Read every order of one backend (resuming a load that was stopped, unless
        ``restart``); the number of events it made."""
        backend = self.backends[source]
        checkpoint = await _checkpoint(self.store, source)
        if restart or checkpoint.full_offset is None:
            checkpoint.full_offset, checkpoint.full_started_at = 0, utcnow()
            await _save(self.store, checkpoint)
        assert checkpoint.full_offset is not None and checkpoint.full_started_at is not None
        newest: datetime | None = checkpoint.watermark
        offset, read, events, total = checkpoint.full_offset, 0, 0, None
        while True:
            page = await backend.list_orders(EVERYTHING, offset=offset, limit=self.page_size)
            events += await self._observe([Observed(o) for o in page.orders])
            for order in page.orders:
                newest = order.updated_at if newest is None else max(newest, order.updated_at)
            offset += len(page.orders)
            read += len(page.orders)
            total = page.total if page.total is not None else total
            checkpoint.full_offset = offset
            await _save(self.store, checkpoint)
            if report is not None:
                report(Progress(source, offset, events, total))
            if page.exhausted or not page.orders:
                break
        events += await self._collect_gone(source, checkpoint.full_started_at)
        now = utcnow()
        checkpoint.full_offset, checkpoint.last_full_at, checkpoint.last_poll_at = None, now, now
        checkpoint.watermark = newest or now
        checkpoint.last_error = None
        await _save(self.store, checkpoint)
        return events

    async def _collect_gone(self, source: OrderSource, since: datetime) -> int:
        """The indexed orders a full load begun at ``since`` did not see: still upstream
        (they moved while it read) or gone (``DELETED``)."""
        async with self.store.session() as session:
            rows = await session.exec(
                select(IndexedOrder.upstream_id).where(
                    col(IndexedOrder.source) == source.value, col(IndexedOrder.synced_at) < since
                )
            )
            unseen = list(rows)
        events = 0
        for start in range(0, len(unseen), self.page_size):
            batch = unseen[start : start + self.page_size]
            found = await self.backends[source].get_orders(batch)
            still = [Observed(order) for order in found if order is not None]
            gone = [(source, uid) for uid, order in zip(batch, found, strict=True) if order is None]
            events += await self._observe(still, gone=gone)
        return events

    async def record_failure(self, source: OrderSource, error: Exception) -> None:
        checkpoint = await _checkpoint(self.store, source)
        checkpoint.last_error = f"{type(error).__name__}: {error}"[:500]
        await _save(self.store, checkpoint)
