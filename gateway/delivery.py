"""Delivering outbox entries to their upstreams: right away for a mutation, later by the worker.

Per order, entries go out strictly in the order they were made (``store.outbox.claim`` lets
only the oldest pending entry of an order be taken). A retryable failure leaves the entry
queued with a backoff; a refusal rejects it for good. Before an entry is sent again, the
order is read back and checked for the change (``OrderCommand.is_applied``), and every attempt
carries the same idempotency key, so the upstream sees each change once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from backends.base import OrderBackend, Snapshot, WriteResult
from backends.health import backend_health
from domain.commands import Dispatch, SplitOrder
from domain.errors import (
    OrdergateError,
    UpstreamCircuitOpenError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from domain.models import OrderSource
from feed.index import Observed
from gateway.settings import OutboxSettings
from store import idempotency, outbox, owners
from store.clock import utcnow
from store.engine import Store
from store.orders import Seen
from store.tables import ChangeEventRecord
from telemetry import metrics

log = logging.getLogger(__name__)
PURGE_EVERY_S = 3600.0  # how often the worker deletes expired idempotency keys


@dataclass(frozen=True, slots=True)
class Delivered:
    result: WriteResult
    attempts: int


@dataclass(frozen=True, slots=True)
class Queued:
    """Not delivered yet: it failed (``error``, after ``attempts``), or it waits behind an
    earlier change of its order or another replica's lease (no ``error``)."""

    error: OrdergateError | None
    attempts: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    error: OrdergateError
    attempts: int


Outcome = Delivered | Queued | Rejected


def outcome_label(outcome: Outcome) -> str:
    """An attempt's outcome as ``ordergate_outbox_delivery_attempts`` counts it: ``deferred``
    when nothing was sent (the breaker open)."""
    if isinstance(outcome, Delivered):
        return "delivered"
    if isinstance(outcome, Rejected):
        return "rejected"
    return "deferred" if isinstance(outcome.error, UpstreamCircuitOpenError) else "retry"


class Deliverer:
    """Sends outbox entries upstream; one per process, shared by mutations and the worker."""

    def __init__(
        self, store: Store, backends: Mapping[OrderSource, OrderBackend], settings: OutboxSettings
    ) -> None:
        self.store = store
        self.backends = backends
        self.settings = settings
        self.owner = owners.new_owner()
        self.wakeup = asyncio.Event()
        # One lock per order being delivered; weak, so orders done with leave no trace.
        self._order_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # Sources whose last delivery failed: when one answers again, its backlog is due.
        self._failing: set[OrderSource] = set()
        self._stopping = False
        self._purge_at = 0.0  # when the worker next deletes expired idempotency keys
        # Told of the change feed's events a delivery made (``feed.service.Feed.notify``).
        self.on_events: Callable[[list[ChangeEventRecord]], Awaitable[None]] | None = None

    def stop(self) -> None:
        """The worker finishes the round in hand (its leases given back) and ends."""
        self._stopping = True
        self.wakeup.set()

    @contextlib.asynccontextmanager
    async def holding(self, order: str) -> AsyncIterator[None]:
        """This process's turn at an order: checks, queueing and delivery of one change at a
        time (the outbox lease keeps other replicas out of the delivery itself)."""
        lock = self._order_locks.get(order)
        if lock is None:
            lock = self._order_locks[order] = asyncio.Lock()
        async with lock:
            yield

    async def deliver_pending(self, order: str, *, through: int | None = None) -> Outcome:
        """Deliver the order's pending entries in order, up to ``through`` (all by default),
        stopping at the first that is not delivered; the caller holds ``holding(order)``.
        The outcome is ``through``'s (``Queued`` without an error when an earlier entry could
        not go first), or the last entry's."""
        outcome: Outcome = Queued(None)
        known: Snapshot | None = None  # the order as the previous delivery left it
        for entry in await outbox.pending_for_order(self.store, order):
            assert entry.id is not None
            if through is not None and entry.id > through:
                break
            outcome = await self._deliver(entry.id, known)
            if isinstance(outcome, Queued):
                return outcome if entry.id == through else Queued(None)
            known = outcome.result.after if isinstance(outcome, Delivered) else None
        return outcome

    async def _deliver(self, entry_id: int, known: Snapshot | None) -> Outcome:
        change = await outbox.claim(
            self.store, entry_id, owner=self.owner, lease_s=self.settings.lease_s
        )
        if change is None:
            return Queued(None)
        try:
            outcome = await self._attempt(change, known)
        except outbox.LeaseLost as lost:
            log.warning("%s; its outcome stays with them", lost)
            return Queued(None)
        metrics.OUTBOX_ATTEMPTS.labels(change.source.value, outcome_label(outcome)).inc()
        return outcome

    async def _attempt(self, change: outbox.Change, known: Snapshot | None) -> Outcome:
        """One delivery attempt; it reads the order at most once (not at all with ``known``),
        and the adapter builds its requests from that same read."""
        backend = self.backends[change.source]
        entry = change.entry
        try:
            # An earlier attempt may have landed (a 5xx or a lost answer after the upstream
            # applied it, or a crash mid-send): look before sending again.
            redelivery = bool(entry.attempts or entry.outcome_unknown)
            if redelivery:
                known = known or await backend.snapshot(entry.upstream_id)
            if redelivery and known and change.command.is_applied(known.order) is True:
                shipment = (
                    change.command.shipment_in(known.order)
                    if isinstance(change.command, Dispatch)
                    else None
                )
                result = WriteResult(order=known.order, shipment=shipment, after=known)
            else:
                result = await backend.execute(
                    entry.upstream_id,
                    change.command,
                    idempotency_key=entry.idempotency_key,
                    known=known,
                )
        except asyncio.CancelledError:
            # Stopped mid-send (shutdown, a client gone): what reached the upstream is unknown,
            # so the next attempt looks first; the lease is given back now, not at its end.
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    outbox.mark_retry(
                        self.store,
                        change,
                        "the attempt was cut short",
                        retry_at=utcnow(),
                        outcome_unknown=True,
                    )
                )
            raise
        except UpstreamCircuitOpenError as error:
            # Nothing was sent: the change waits for the breaker, its attempts unchanged.
            await outbox.mark_retry(
                self.store,
                change,
                error.message,
                retry_at=utcnow() + timedelta(seconds=error.retry_in),
                # An adapter's later request may be the one refused: look before resending.
                outcome_unknown=True,
                attempted=False,
            )
            self._failing.add(change.source)
            return Queued(error, entry.attempts)
        except UpstreamUnavailableError as error:
            await outbox.mark_retry(
                self.store,
                change,
                error.message,
                retry_at=utcnow() + timedelta(seconds=self.backoff(entry.attempts)),
                outcome_unknown=entry.outcome_unknown or isinstance(error, UpstreamTimeoutError),
            )
            log.info("change %s queued (attempt %s): %s", entry.id, entry.attempts + 1, error)
            self._failing.add(change.source)
            return Queued(error, entry.attempts + 1)
        except OrdergateError as error:
            await outbox.mark_rejected(self.store, change, error.message, code=error.code.value)
            log.info("change %s rejected: %s", entry.id, error)
            return Rejected(error, entry.attempts + 1)
        except Exception as error:  # a bug must not lose the change: keep it queued
            log.exception("change %s failed unexpectedly; it stays queued", entry.id)
            message = f"internal error ({type(error).__name__}); the change stays queued"
            await outbox.mark_retry(
                self.store,
                change,
                message,
                retry_at=utcnow() + timedelta(seconds=self.backoff(entry.attempts)),
                outcome_unknown=True,
            )
            return Queued(OrdergateError(message), entry.attempts + 1)
        split = isinstance(change.command, SplitOrder)
        parent = change.entry.order_id if split else None
        events = await outbox.mark_delivered(
            self.store,
            change,
            seen=[Seen(result.order), *(Seen(o, parent) for o in result.new_orders)],
            shipment=result.shipment,
            observed=[Observed(result.order, split=split), *map(Observed, result.new_orders)],
        )
        if events and self.on_events is not None:
            await self.on_events(events)
        if change.source in self._failing:
            self._failing.discard(change.source)
            if await outbox.make_due(self.store, change.source):
                self.wakeup.set()
        return Delivered(result, entry.attempts + 1)

    async def _purge_expired_keys(self) -> None:
        """Once an hour: the idempotency keys past their 24 h go (each replica's worker does
        it; deleting what another already deleted is nothing)."""
        if time.monotonic() < self._purge_at:
            return
        self._purge_at = time.monotonic() + PURGE_EVERY_S
        if purged := await idempotency.purge_expired(self.store):
            log.info("%s expired idempotency keys deleted", purged)

    async def _probe_failing_sources(self) -> None:
        """A cheap read of each source whose deliveries fail; once one answers, its backlog is
        due at once instead of at each entry's backoff."""
        for source in list(self._failing):
            if await backend_health(self.backends[source]):
                self._failing.discard(source)
                await outbox.make_due(self.store, source)

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with jitter: half fixed, half random."""
        exponent = min(attempts, 32)  # 2**1000 seconds would overflow a float
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2**exponent)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def run_worker(self) -> None:
        """Deliver due entries until cancelled; new entries wake it early."""
        semaphore = asyncio.Semaphore(self.settings.concurrency)

        async def drain(order: str) -> None:
            async with semaphore, self.holding(order):
                await self.deliver_pending(order)

        while not self._stopping:
            self.wakeup.clear()  # before the round: a wake-up during it is not lost
            try:
                await self._probe_failing_sources()
                await self._purge_expired_keys()
                heads = await outbox.due_heads(self.store, limit=self.settings.batch_size)
                await asyncio.gather(*(drain(order) for order in {h.order_id: h for h in heads}))
            except Exception:  # the worker must outlive a bad moment of the database
                log.exception("outbox worker: delivery round failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_interval_s):
                    await self.wakeup.wait()
