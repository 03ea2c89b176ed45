"""An upstream's reference data for ``catalog(source:)``."""

from __future__ import annotations

from dataclasses import replace

from domain.access import Scope
from domain.errors import NotFoundError
from domain.models import Catalog, CatalogEntry, OrderSource
from gateway.context import Context


async def catalog(context: Context, source: OrderSource) -> Catalog:
    """The backend's catalog; the names of people (business partners and their locations)
    only for callers with customers:read, who may read them on orders too."""
    backend = context.backends.get(source)
    if backend is None:  # disabled, or not among this caller's sources
        raise NotFoundError(f"{source.value} is not a backend this caller reads", field=["source"])
    found = await backend.catalog()
    if context.principal.may(Scope.CUSTOMERS_READ):
        return found
    return replace(
        found,
        clients=_unnamed(found.clients),
        agents=_unnamed(found.agents),
        business_partners=_unnamed(found.business_partners),
        locations=_unnamed(found.locations),
    )


def _unnamed(entries: tuple[CatalogEntry, ...]) -> tuple[CatalogEntry, ...]:
    return tuple(replace(entry, name=entry.id) for entry in entries)
