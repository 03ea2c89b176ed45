"""The B2B API's reference data, read through its own catalog endpoints and kept a short while.

Every check before a write (``writes.py``) asks these catalogs; reading each in full at most
once per ``REFERENCE_TTL_S`` keeps that to a handful of requests a minute, and a catalog that
changed upstream is seen again within that time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from backends.b2b import wire
from backends.b2b.client import B2BClient
from backends.cache import CATALOG_TTL_S, TtlCache

# How long a catalog read stays good: new clients or products show up within a minute.
REFERENCE_TTL_S = CATALOG_TTL_S


class Identified(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=Identified)


def by_id(load: Callable[[], Awaitable[list[E]]], *, ttl_s: float) -> TtlCache[dict[str, E]]:
    """One catalog by id, loaded on first use and again once ``ttl_s`` has passed."""

    async def load_by_id() -> dict[str, E]:
        return {entry.id: entry for entry in await load()}

    return TtlCache(load_by_id, ttl_s=ttl_s)


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
        self.companies: TtlCache[dict[str, wire.Company]] = by_id(client.companies, ttl_s=ttl_s)
        self.partners: TtlCache[dict[str, wire.BusinessPartner]] = by_id(
            client.business_partners, ttl_s=ttl_s
        )
        self.locations: TtlCache[dict[str, wire.Location]] = by_id(client.locations, ttl_s=ttl_s)
        self.seasons: TtlCache[dict[str, wire.Season]] = by_id(client.seasons, ttl_s=ttl_s)
        self.products: TtlCache[dict[str, wire.Product]] = by_id(client.products, ttl_s=ttl_s)
        self.discount_types: TtlCache[dict[str, wire.DiscountType]] = by_id(
            client.discount_types, ttl_s=ttl_s
        )
        self.order_statuses: TtlCache[dict[str, wire.StatusEntry]] = by_id(
            client.all_order_statuses, ttl_s=ttl_s
        )
        self.line_statuses: TtlCache[dict[str, wire.StatusEntry]] = by_id(
            client.line_statuses, ttl_s=ttl_s
        )

    def _all(self) -> tuple[TtlCache[dict[str, Any]], ...]:
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
