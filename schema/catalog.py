"""``catalog(source:)``: an upstream's reference data, the ids its writes take."""

from __future__ import annotations

import strawberry

from domain import models
from schema.enums import OrderSource


@strawberry.type(description="One entry of an upstream's reference data.")
class CatalogEntry:
    id: strawberry.ID = strawberry.field(description="The upstream's id: what writes send.")
    code: str | None = strawberry.field(
        description="The code the upstream shows beside it (a SKU, a discount code, a status "
        "code, a remote id), where it has one."
    )
    name: str = strawberry.field(description="What the entry is called (its id if it has no name).")
    parent_id: strawberry.ID | None = strawberry.field(
        description="The entry this one belongs to, where it belongs to one: a business "
        "partner's company, a location's business partner (B2B)."
    )

    @classmethod
    def list_of(cls, entries: tuple[models.CatalogEntry, ...]) -> list[CatalogEntry]:
        return [
            cls(
                id=strawberry.ID(e.id),
                code=e.code,
                name=e.name,
                parent_id=None if e.parent_id is None else strawberry.ID(e.parent_id),
            )
            for e in entries
        ]


@strawberry.type(
    description="What an upstream's writes name by id; each list is empty where the upstream "
    "has no such thing. Read from the upstream and kept for a minute."
)
class Catalog:
    source: OrderSource = strawberry.field(description="Whose reference data this is.")
    statuses: list[CatalogEntry] = strawberry.field(description="Order statuses.")
    line_statuses: list[CatalogEntry] = strawberry.field(description="Line statuses (B2B).")
    discount_codes: list[CatalogEntry] = strawberry.field(description="Discount codes (CRM).")
    gift_vouchers: list[CatalogEntry] = strawberry.field(description="Gift vouchers (CRM).")
    shipping_options: list[CatalogEntry] = strawberry.field(description="Shipping options (CRM).")
    tax_codes: list[CatalogEntry] = strawberry.field(description="Tax codes (CRM).")
    companies: list[CatalogEntry] = strawberry.field(description="Companies (B2B).")
    clients: list[CatalogEntry] = strawberry.field(
        description="Business partners with the role Client (B2B): `createOrder`'s clientId."
    )
    agents: list[CatalogEntry] = strawberry.field(
        description="Business partners with the role Representant (B2B): `createOrder`'s agentId."
    )
    seasons: list[CatalogEntry] = strawberry.field(description="Seasons (B2B).")
    business_partners: list[CatalogEntry] = strawberry.field(
        description="Every business partner (B2B), whatever its roles."
    )
    locations: list[CatalogEntry] = strawberry.field(
        description="Shipping and billing locations of business partners (B2B)."
    )
    products: list[CatalogEntry] = strawberry.field(
        description="Products: their ids, SKUs as codes and names (B2B, WEBSHOP)."
    )

    @classmethod
    def from_domain(cls, source: models.OrderSource, catalog: models.Catalog) -> Catalog:
        return cls(
            source=source,
            statuses=CatalogEntry.list_of(catalog.statuses),
            line_statuses=CatalogEntry.list_of(catalog.line_statuses),
            discount_codes=CatalogEntry.list_of(catalog.discount_codes),
            gift_vouchers=CatalogEntry.list_of(catalog.gift_vouchers),
            shipping_options=CatalogEntry.list_of(catalog.shipping_options),
            tax_codes=CatalogEntry.list_of(catalog.tax_codes),
            companies=CatalogEntry.list_of(catalog.companies),
            clients=CatalogEntry.list_of(catalog.clients),
            agents=CatalogEntry.list_of(catalog.agents),
            seasons=CatalogEntry.list_of(catalog.seasons),
            business_partners=CatalogEntry.list_of(catalog.business_partners),
            locations=CatalogEntry.list_of(catalog.locations),
            products=CatalogEntry.list_of(catalog.products),
        )
