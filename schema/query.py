"""The read side of the contract: ``Query``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from domain.errors import NotIndexedError
from gateway.context import Context
from gateway.limits import Listing
from resolvers import orders as resolve
from resolvers.catalog import catalog as read_catalog
from schema.catalog import Catalog
from schema.enums import OrderSource, OrderStatus, PaymentStatus
from schema.events import EventQueries
from schema.keys import ApiKeyQueries
from schema.order import Node, Order, OrderConnection, OrderEdge
from schema.permissions import Requires
from schema.types import Backend, PageInfo
from schema.viewer import Viewer
from schema.webhooks import WebhookQueries


@strawberry.input(description="Which orders `orders` returns; every filter given must match.")
class OrderFilter:
    sources: list[OrderSource] | None = strawberry.field(
        default=None, description="Only these backends (default: all)."
    )
    statuses: list[OrderStatus] | None = strawberry.field(
        default=None, description="Only orders in one of these canonical statuses."
    )
    payment_statuses: list[PaymentStatus] | None = strawberry.field(
        default=None, description="Only orders in one of these payment statuses."
    )
    updated_since: datetime | None = strawberry.field(
        default=None, description="Only orders changed at or after this instant (with offset)."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Case-insensitive text in the reference, number, customer e-mail or "
        "customer name (e-mail and name only for callers with customers:read). Answered from "
        "the order index across every source at once, newest first (a source not loaded into "
        "it yet is named in a NOT_INDEXED error); where the gateway reads the upstreams "
        "instead (`feed.index_search` off), each page reads a bounded number of upstream pages "
        "(`max_scan_pages`): a rare match may take several pages, some empty, until "
        "hasNextPage is false.",
    )
    include_deleted: bool | None = strawberry.field(
        default=False,
        description="Also orders their upstream marks deleted but still lists (CRM "
        "`IsDeleted`; `Order.deleted` says which). Default: left out.",
    )
    offline: bool | None = strawberry.field(
        default=None,
        description="Only CloudSuite offline orders (true), or only orders that are not "
        "(false; every other backend's are not). Default: both.",
    )


Info = strawberry.Info[Context, None]


@strawberry.type(description="Reading orders from every backend through one API.")
class Query(ApiKeyQueries, EventQueries, WebhookQueries):
    @strawberry.field(description="Who is calling: principal, scopes, sources, budget.")
    async def viewer(self, info: Info) -> Viewer:
        return await Viewer.of(info.context)

    @strawberry.field(
        description="Any object by its global id; null (and NOT_FOUND) if unknown.",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return Order.from_domain(await resolve.order_by_id(info.context, id))

    @strawberry.field(
        description="An order by its global id; null (and NOT_FOUND) if unknown.",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        return Order.from_domain(await resolve.order_by_id(info.context, id))

    @strawberry.field(
        description="A backend's reference data: the ids its writes take (`createOrder`'s "
        "companies, clients, agents, seasons, locations, products and statuses on B2B; "
        "discount codes, gift vouchers, shipping options and tax codes on CRM). NOT_FOUND "
        "for a backend the caller does not read; without customers:read, business partners "
        "and locations are named by their ids (their names are people's).",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def catalog(
        self,
        info: Info,
        # Not `source` in Python: permission extensions take the parent object by that name.
        of: Annotated[OrderSource, strawberry.argument(name="source")],
    ) -> Catalog:
        return Catalog.from_domain(of, await read_catalog(info.context, of))

    @strawberry.field(
        description="An order by the reference its backend gives it (WEBSHOP also "
        "`ext:<ERP order number>`: CloudSuite's read by the ERP's key).",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def order_by_reference(
        self,
        info: Info,
        # Not `source` in Python: permission extensions take the parent object by that name.
        of: Annotated[OrderSource, strawberry.argument(name="source")],
        reference: str,
        webshop: Annotated[
            str | None,
            strawberry.argument(
                description="The CloudSuite webshop (WEBSHOP only): a WEBSHOP reference can "
                "repeat across webshops, and without it such a reference is a VALIDATION "
                "error whose `extensions.candidates` list each order's id and webshop."
            ),
        ] = None,
    ) -> Order | None:
        return Order.from_domain(
            await resolve.order_by_reference(info.context, of, reference, webshop)
        )

    @strawberry.field(
        description="Newest first by updatedAt.",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def orders(
        self,
        info: Info,
        filter: OrderFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> OrderConnection:
        filter = filter or OrderFilter()
        first = 20 if first is None else first
        page = await resolve.list_orders(
            info.context,
            sources=filter.sources,
            statuses=filter.statuses,
            payment_statuses=filter.payment_statuses,
            updated_since=filter.updated_since,
            search=filter.search,
            include_deleted=bool(filter.include_deleted),
            offline=filter.offline,
            first=first,
            after=after,
        )
        missing = [
            *page.unavailable,
            *([NotIndexedError(page.not_indexed)] if page.not_indexed else []),
        ]
        for error in missing:
            info.context.partial_errors.append(
                GraphQLError(error.message, path=info.path.as_list(), extensions=error.extensions)
            )
        edges = [OrderEdge(edge=e, node=Order.from_domain(e.order)) for e in page.edges]
        if len(info.path.as_list()) == 1:
            info.context.listings[str(info.path.key)] = Listing(
                first_reads=page.first_reads, later_reads=page.later_reads, edges=len(edges)
            )
        return OrderConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=after is not None,
                start_cursor=page.edges[0].cursor if page.edges else None,
                end_cursor=page.continuation or (page.edges[-1].cursor if page.edges else after),
            ),
            unavailable_sources=[error.source for error in page.unavailable] + page.not_indexed,
        )

    @strawberry.field(
        description="The upstream systems behind the gateway, with their health.",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def backends(self, info: Info) -> list[Backend]:
        backends = info.context.backends
        healthy = await info.context.loaders.health_by_source.load_many(list(backends))
        return [
            Backend(
                source=backend.source,
                name=backend.name,
                healthy=ok,
                capabilities=sorted(backend.capabilities),
            )
            for backend, ok in zip(backends.values(), healthy, strict=True)
        ]
