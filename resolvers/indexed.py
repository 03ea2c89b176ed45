"""Pages of ``orders`` answered from the order index (``feed.search``): every search, and
every listing with ``feed.index_reads``. One store query across every source, no upstream
request; the cursor is the last order's place in the index (``IndexCursor``).
"""

from __future__ import annotations

from backends.base import OrderQuery
from domain.models import OrderSource
from feed.search import Position
from gateway.context import Context
from resolvers.pagination import Edge, IndexCursor, OrdersPage, filter_key


def answers_from_index(context: Context, query: OrderQuery) -> bool:
    """Whether this listing is read from the index rather than the upstreams."""
    options = context.settings.feed
    return options.index_reads or (bool(query.search) and options.index_search)


async def page_index(
    context: Context,
    query: OrderQuery,
    sources: list[OrderSource],
    *,
    first: int,
    after: str | None,
) -> OrdersPage:
    key = filter_key(sources, query)
    position = None
    if after is not None:
        cursor = context.cursors.decode_index(after, key=key)
        position = Position(cursor.updated_at, cursor.order_id)
    search = context.feed.search
    not_indexed = await search.not_loaded(sources)
    page = await search.page(query, sources, first=first, after=position)
    edges = [
        Edge(
            hit.order,
            IndexCursor(key, hit.position.updated_at, hit.position.order_id),
            context.cursors,
        )
        for hit in page.hits
    ]
    context.loaders.synced_at.prime_many(
        {hit.position.order_id: hit.synced_at for hit in page.hits}
    )
    return OrdersPage(
        edges=edges,
        has_next_page=page.has_more,
        unavailable=[],
        # What it read is what it returned: one read, no upstream page after it.
        first_reads=len(edges),
        not_indexed=not_indexed,
    )
