"""The B2B API's reference data, read through its own catalog endpoints and kept a short while.

Every check before a write (``writes.py``) asks these catalogs; reading each in full at most
once per ``REFERENCE_TTL_S`` keeps that to a handful of requests a minute, and a catalog that
changed upstream is seen again within that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from backends.b2b import wire
from backends.b2b.client import B2BClient

# How long a catalog read stays good: new clients or products show up within a minute.
REFERENCE_TTL_S = 60.0


class Identified(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=Identified)


class CachedCatalog(Generic[E]):
    """One catalog by id, loaded on first use and again once ``ttl_s`` has passed."""

    def __init__(
        self,
        load: Callable[[], Awaitable[list[E]]],
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, E] = {}
        self._expires_at: float | None = None
        # Concurrent writes that find the catalog stale wait for one read, not one each.
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, E]:
        """The entries by id, read anew when the last read is older than the TTL."""
        async with self._lock:
            if self._expires_at is None or self._clock() >= self._expires_at:
                self._entries = {entry.id: entry for entry in await self._load()}
                self._expires_at = self._clock() + self._ttl_s
            return self._entries

    def expire(self) -> None:
        """Read the catalog anew on next use."""
        self._expires_at = None


@dataclass(frozen=True, slots=True)
class Catalogs:
    """Every catalog at one moment, by id: what a new order is checked against."""

    companies: dict[str, wire.Company]
    partners: dict[str, wire.BusinessPartner]
    locations: dict[str, wire.Location]
    seasons: dict[str, wire.Season]
    products: dict[str, wire.Product]
    discount_types: dict[str, wire.DiscountType]
    order_statuses: dict[str, wire.StatusEntry]
    line_statuses: dict[str, wire.StatusEntry]


class ReferenceData:
    """The catalogs a new order's ids and a status change are checked against."""

    def __init__(self, client: B2BClient, *, ttl_s: float = REFERENCE_TTL_S) -> None:
        self.companies: CachedCatalog[wire.Company] = CachedCatalog(client.companies, ttl_s=ttl_s)
        self.partners: CachedCatalog[wire.BusinessPartner] = CachedCatalog(
            client.business_partners, ttl_s=ttl_s
        )
        self.locations: CachedCatalog[wire.Location] = CachedCatalog(client.locations, ttl_s=ttl_s)
        self.seasons: CachedCatalog[wire.Season] = CachedCatalog(client.seasons, ttl_s=ttl_s)
        self.products: CachedCatalog[wire.Product] = CachedCatalog(client.products, ttl_s=ttl_s)
        self.discount_types: CachedCatalog[wire.DiscountType] = CachedCatalog(
            client.discount_types, ttl_s=ttl_s
        )
        self.order_statuses: CachedCatalog[wire.StatusEntry] = CachedCatalog(
            client.all_order_statuses, ttl_s=ttl_s
        )
        self.line_statuses: CachedCatalog[wire.StatusEntry] = CachedCatalog(
            client.line_statuses, ttl_s=ttl_s
        )

    def _all(self) -> tuple[CachedCatalog[Any], ...]:
        """Every catalog, in the order of ``Catalogs``' fields."""
        return (
            self.companies,
            self.partners,
            self.locations,
            self.seasons,
            self.products,
            self.discount_types,
            self.order_statuses,
            self.line_statuses,
        )

    async def read(self) -> Catalogs:
        """Every catalog, the stale ones read concurrently."""
        return Catalogs(*await asyncio.gather(*(catalog.get() for catalog in self._all())))

    def expire(self) -> None:
        """Forget every catalog: the upstream said one changed."""
        for catalog in self._all():
            catalog.expire()
