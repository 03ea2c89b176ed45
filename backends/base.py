"""The one typed protocol every backend adapter implements, and the shapes it speaks.

An adapter turns the gateway's questions (``OrderQuery`` + offset/limit, a batch of
upstream ids) into its upstream's own calls, and maps the upstream's wire models into
``domain.models.Order`` with one mapping function. It raises only ``domain.errors`` types at
its edge: ``BackendError`` subclasses for the upstream's failures, ``NotFoundError``,
``ValidationError`` and ``UnsupportedByBackendError`` for writes it refuses to send.

Ordering contract for ``list_orders``: the upstream list is read newest first by the
order's last modification, and ``offset`` counts positions in that upstream list *after
the filters the adapter pushed down*. The gateway re-applies every filter of the query
to what comes back (cheap and idempotent), so an adapter may push down as much or as
little as its upstream allows; it must only never drop an order the query matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from backends.resilience import CircuitBreaker
from domain.commands import NewOrder, OrderCommand
from domain.models import (
    Catalog,
    CatalogEntry,
    Order,
    OrderCapability,
    OrderSource,
    OrderStatus,
    PaymentStatus,
    Shipment,
    UpstreamStatus,
)


def status_entries(statuses: Sequence[UpstreamStatus]) -> tuple[CatalogEntry, ...]:
    """A status catalog as catalog entries (the id is also the code writes send)."""
    return tuple(CatalogEntry(id=s.id, code=s.id, name=s.name) for s in statuses)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderQuery:
    """Filters for one listing; ``None`` means "no filter on this"."""

    statuses: frozenset[OrderStatus] | None = None
    payment_statuses: frozenset[PaymentStatus] | None = None
    updated_since: datetime | None = None
    search: str | None = None
    # Whether ``search`` looks at customers' e-mails and names too (only for callers who may
    # read them: a search must not tell whether a named person has orders).
    search_customers: bool = True
    # Orders the upstream marks deleted but still lists (CRM ``IsDeleted``) are left out
    # unless asked for.
    include_deleted: bool = False
    # CloudSuite's offline orders only (True), or none of them (False); None: either.
    offline: bool | None = None

    def matches(self, order: Order) -> bool:
        """Whether an order satisfies every filter (the gateway's own, exact check)."""
        if order.deleted and not self.include_deleted:
            return False
        if self.offline is not None and order.offline is not self.offline:
            return False
        if self.statuses is not None and order.status not in self.statuses:
            return False
        if self.payment_statuses is not None and order.payment_status not in self.payment_statuses:
            return False
        if self.updated_since is not None and order.updated_at < self.updated_since:
            return False
        if self.search:
            needle = self.search.casefold()
            haystack = [order.reference, order.number]
            if order.customer is not None and self.search_customers:
                haystack += [order.customer.email, order.customer.name]
            if not any(value and needle in value.casefold() for value in haystack):
                return False
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPage:
    """One upstream read of a listing.

    ``orders`` are the upstream positions ``[offset, offset + len(orders))``, newest first.
    An adapter may return fewer than ``limit`` (e.g. at an upstream page boundary); the
    gateway then asks again from the next offset. ``exhausted`` is true when there is
    nothing after the last order returned.
    """

    orders: list[Order]
    exhausted: bool
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One order as its upstream answered it a moment ago: the domain order, and the adapter's
    own wire model of it (``wire``, which only that adapter reads), so that a write can build
    its requests from it instead of reading the order again."""

    order: Order
    wire: object


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteResult:
    """What one upstream write leaves behind, as the upstream answered or read it back."""

    order: Order
    new_orders: tuple[Order, ...] = ()  # SplitOrder: the order(s) it created
    shipment: Shipment | None = None  # Dispatch: the shipment it recorded
    # ``order`` with the adapter's wire model, for the next write to the same order.
    after: Snapshot | None = None


@runtime_checkable
class OrderBackend(Protocol):
    """What the gateway needs from one upstream order system."""

    source: OrderSource
    name: str
    capabilities: frozenset[OrderCapability]
    # The canonical statuses ``UpdateStatus`` can set on this backend (DISPATCHED is never
    # among them: it needs a consignment number, so it is ``Dispatch``'s).
    settable_statuses: frozenset[OrderStatus]
    # The backend's circuit breaker (``backends.resilience``): open, nothing is sent to it.
    breaker: CircuitBreaker

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        """Read upstream positions ``offset..offset+limit`` of the newest-first listing."""
        ...

    async def get_orders(self, upstream_ids: Sequence[str]) -> list[Order | None]:
        """Read many orders at once; the result is in key order, ``None`` for unknown ids.

        Uses the upstream's batch read where it has one, otherwise bounded concurrent
        single reads. Raises ``BackendError`` when the upstream fails as a whole.
        """
        ...

    async def find_by_reference(
        self, reference: str, *, webshop: str | None = None
    ) -> Order | None:
        """The order with this reference (as mapped to ``Order.reference``), or ``None``.

        Uses the upstream's own reference filter where it has one. ``webshop`` narrows the
        search where the upstream has webshops (WEBSHOP, whose references repeat across them:
        ``AmbiguousReferenceError`` without it); the resolver refuses it elsewhere.
        """
        ...

    async def status_catalog(self) -> list[UpstreamStatus]:
        """The upstream's own order statuses, each with the canonical status it maps to."""
        ...

    async def catalog(self) -> Catalog:
        """The upstream's reference data writes name by id (statuses, products, companies,
        discount codes, ...), read through its own endpoints and kept for ``CATALOG_TTL_S``."""
        ...

    async def check_health(self) -> bool:
        """A cheap authenticated read; ``True`` when the upstream answers correctly."""
        ...

    async def snapshot(self, upstream_id: str) -> Snapshot | None:
        """One order read for a write (``None`` when the upstream has no such order)."""
        ...

    async def execute(
        self,
        upstream_id: str,
        command: OrderCommand,
        *,
        idempotency_key: str,
        known: Snapshot | None = None,
    ) -> WriteResult:
        """Carry out one write on the order upstream; the result as the upstream answered it
        (read back only where the write's answer is not the order).

        ``known``: this adapter's snapshot of the order taken a moment ago (a redelivery's look
        before resending, or the previous write's answer); an adapter that needs the order to
        build its requests uses it instead of reading again. ``idempotency_key`` is stable
        across redeliveries of the same write; adapters send it where the upstream honours one
        (``Idempotency-Key``). Raises ``ValidationError``
        (naming the field) for input the upstream's own data refuses before anything is sent,
        e.g. an unknown discount code; ``UnsupportedByBackendError`` for a command outside
        ``capabilities``; ``NotFoundError`` for an unknown order; ``UpstreamRejectedError``
        for a 4xx; ``UpstreamUnavailableError`` when it may work later.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class OrderDeleter(Protocol):
    """A backend that deletes orders through the gateway (B2B)."""

    async def delete_order(self, upstream_id: str, *, idempotency_key: str) -> None:
        """Delete the order upstream; ``NotFoundError`` when the upstream does not know it,
        ``UpstreamRejectedError`` with its words when it will not delete it."""
        ...


@runtime_checkable
class OrderCreator(Protocol):
    """A backend that creates orders through the gateway (B2B, AFFILIATE)."""

    async def create_order(self, command: NewOrder, *, idempotency_key: str) -> Order:
        """Validate against the upstream's rules (each broken one a ``ValidationError``
        naming the field, nothing sent; a command of another backend's kind is one too),
        then create and read back. ``idempotency_key`` goes out as ``Idempotency-Key``."""
        ...
