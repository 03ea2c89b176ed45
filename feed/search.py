"""Listing orders from the order index: an ``OrderQuery`` over chosen sources, newest
``upstream_updated_at`` first (the id breaks ties), continued after a position (keyset
paging), answered by the store alone.

The filters with a column are SQL; the rest (``offline``) are checked on the decoded orders,
the query reading on until the page is full. ``search`` matches substrings, whatever their
case, of the reference and the number, and of the customer's e-mail and name only when the
query may look at customers (``OrderQuery.search_customers``): those columns are searched
apart, so a caller without customers:read learns nothing about them.

- SQLite: the FTS5 ``trigram`` table ``order_search`` (migration 0008), the needle one quoted
  phrase (its quotes doubled: FTS syntax in it is text); a needle of one or two characters has
  no trigram, so it is a LIKE on the columns themselves.
- PostgreSQL: ``lower(column) ILIKE '%needle%'`` per column, which the ``pg_trgm`` GIN indexes
  serve; ``%``, ``_`` and ``\\`` in the needle are escaped.

A source whose index was never loaded whole (no ``sync_checkpoints.last_full_at``) has none or
only some of its orders in the index: ``IndexSearch.not_loaded`` names such sources, so the
caller can say so.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, text, tuple_
from sqlmodel import col, select

from backends.base import OrderQuery
from domain.models import Order, OrderSource
from feed import codec
from store.clock import as_utc
from store.engine import Store
from store.tables import IndexedOrder, SyncCheckpoint

TRIGRAM = 3  # the shortest needle a trigram index can serve
LIKE_ESCAPE = "\\"
# Rows read at once when some filter is checked on the decoded orders (they may not match).
SCAN_CHUNK = 200

PUBLIC_COLUMNS = ("reference", "number")
CUSTOMER_COLUMNS = ("customer_email", "customer_name")


@dataclass(frozen=True, slots=True)
class Position:
    """Where an order stands in the index's order: its upstream change, then its id."""

    updated_at: datetime  # UTC
    order_id: str


@dataclass(frozen=True, slots=True)
class Hit:
    order: Order
    position: Position
    synced_at: datetime  # when ingestion last saw it upstream


@dataclass(frozen=True, slots=True)
class IndexPage:
    hits: list[Hit]
    has_more: bool  # orders matching after the last hit


def fts_phrase(needle: str, columns: Sequence[str]) -> str:
    """An FTS5 query finding ``needle`` as a substring of any of ``columns``: one string
    (quotes doubled), so nothing in it is query syntax (``OR``, ``NEAR(``, ``*``, ``:``)."""
    return "{" + " ".join(columns) + "} : " + '"' + needle.replace('"', '""') + '"'


def like_pattern(needle: str) -> str:
    """``%needle%`` with LIKE's own characters in the needle taken literally."""
    escaped = (
        needle.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def _column(name: str) -> Any:
    return getattr(IndexedOrder, name)


def text_match(dialect: str, needle: str, *, customers: bool) -> ColumnElement[bool]:
    """Where an index row holds ``needle`` in a searchable column."""
    columns = PUBLIC_COLUMNS + (CUSTOMER_COLUMNS if customers else ())
    if dialect == "sqlite" and len(needle) >= TRIGRAM:
        found = text(
            "order_index.id IN (SELECT order_id FROM order_search WHERE order_search MATCH :fts)"
        ).bindparams(fts=fts_phrase(needle, columns))
        return found  # type: ignore[return-value]
    pattern = like_pattern(needle)
    if dialect == "postgresql":
        return or_(
            *(func.lower(_column(name)).ilike(pattern, escape=LIKE_ESCAPE) for name in columns)
        )
    # SQLite's LIKE ignores the case of ASCII letters (the e-mails are stored casefolded).
    return or_(*(_column(name).like(pattern, escape=LIKE_ESCAPE) for name in columns))


def conditions(
    query: OrderQuery, sources: Collection[OrderSource], dialect: str
) -> list[ColumnElement[bool]]:
    """The query's filters that have a column, in SQL."""
    where: list[ColumnElement[bool]] = [
        col(IndexedOrder.source).in_(sorted(source.value for source in sources))
    ]
    if not query.include_deleted:
        where.append(col(IndexedOrder.deleted).is_(False))
    if query.statuses is not None:
        where.append(col(IndexedOrder.status).in_(sorted(s.value for s in query.statuses)))
    if query.payment_statuses is not None:
        payment = sorted(s.value for s in query.payment_statuses)
        where.append(col(IndexedOrder.payment_status).in_(payment))
    if query.updated_since is not None:
        where.append(col(IndexedOrder.upstream_updated_at) >= query.updated_since.astimezone(UTC))
    if query.search:
        where.append(text_match(dialect, query.search, customers=query.search_customers))
    return where


def _after(position: Position) -> ColumnElement[bool]:
    return tuple_(col(IndexedOrder.upstream_updated_at), col(IndexedOrder.id)) < tuple_(
        position.updated_at.astimezone(UTC), position.order_id
    )


class IndexSearch:
    """Reads of the order index for listings; remembers which sources it saw loaded (a load,
    once made, stays made), so that a listing costs one store query once all are."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._loaded: set[OrderSource] = set()

    async def not_loaded(self, sources: Collection[OrderSource]) -> list[OrderSource]:
        """The sources among ``sources`` ingestion has never loaded whole."""
        unknown = [source for source in sources if source not in self._loaded]
        if unknown:
            async with self.store.session() as session:
                rows = await session.exec(
                    select(SyncCheckpoint.source).where(
                        col(SyncCheckpoint.source).in_([source.value for source in unknown]),
                        col(SyncCheckpoint.last_full_at).is_not(None),
                    )
                )
                self._loaded.update(OrderSource(source) for source in rows)
        return [source for source in sources if source not in self._loaded]

    async def page(
        self,
        query: OrderQuery,
        sources: Collection[OrderSource],
        *,
        first: int,
        after: Position | None = None,
    ) -> IndexPage:
        """The first ``first`` indexed orders matching ``query`` after ``after``."""
        if query.offline:  # only CloudSuite has offline orders
            sources = [source for source in sources if source is OrderSource.WEBSHOP]
        # No stored text holds a NUL (PostgreSQL's cannot; SQLite's LIKE ends the pattern there).
        if not sources or (query.search and "\x00" in query.search):
            return IndexPage(hits=[], has_more=False)
        # What has no column is checked on the orders (the search is SQL's alone); until a
        # page is full, reading on in chunks when that may leave rows out.
        rest = replace(query, search=None)
        exact = query.offline is None
        wanted = first + 1  # one more tells whether another page follows
        hits: list[Hit] = []
        async with self.store.session() as session:
            where = conditions(query, sources, session.get_bind().dialect.name)
            while len(hits) < wanted:
                chunk = wanted - len(hits) if exact else max(wanted, SCAN_CHUNK)
                statement = (
                    select(
                        IndexedOrder.id,
                        IndexedOrder.upstream_updated_at,
                        IndexedOrder.synced_at,
                        IndexedOrder.order_json,
                    )
                    .where(*where, *([_after(after)] if after is not None else []))
                    .order_by(
                        col(IndexedOrder.upstream_updated_at).desc(), col(IndexedOrder.id).desc()
                    )
                    .limit(chunk)
                )
                rows = list(await session.exec(statement))
                for order_id, updated_at, synced_at, order_json in rows:
                    after = Position(as_utc(updated_at), order_id)
                    order = codec.decode(order_json)
                    if rest.matches(order) and len(hits) < wanted:
                        hits.append(Hit(order, after, as_utc(synced_at)))
                if len(rows) < chunk:
                    break
        return IndexPage(hits=hits[:first], has_more=len(hits) > first)
