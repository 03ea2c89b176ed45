"""Paging through every backend's orders as one list, newest first by ``updatedAt``.

Each backend's listing is a stream read from an offset (``SourceStream``); a page merges the
streams k-way. The cursor records, per source, the upstream position just after the last
order taken from it, so each backend is paged at its own depth and a page never repeats or
skips an order of a listing that does not change meanwhile. A backend that fails keeps its
position: the next page picks it up where it stood.

Cursors are signed (``CursorCodec``): every offset a client hands back is one this gateway
wrote. A listing answered from the order index (``resolvers.indexed``) has cursors of its own
kind (``IndexCursor``: the last order's place in the index); each kind of listing refuses the
other's. A page reads at most ``max_reads`` upstream pages per backend; a filter that matches
little ends the page early with a continuation cursor past what it read, taking only the
matches no unread order could precede.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import heapq
import hmac
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from backends.base import OrderBackend, OrderQuery
from domain.errors import BackendError, ValidationError
from domain.models import Order, OrderSource

log = logging.getLogger(__name__)

# 2: signed (a version-1 cursor of an older deploy is refused); 3: CRM offsets count only the
# orders its Where filter keeps (deleted ones left out), so a version-2 CRM position is not one.
CURSOR_VERSION = 3
MAC_BYTES = 16  # of the HMAC-SHA256, in every cursor: 128 bits no client can guess
# No upstream listing is this deep; an offset past it was not written by this gateway.
MAX_OFFSET = 10_000_000


def filter_key(sources: Sequence[OrderSource], query: OrderQuery) -> str:
    """A short fingerprint of a listing's filters; a cursor only continues the same listing."""
    described = json.dumps(
        {
            "sources": sorted(sources),
            "statuses": sorted(query.statuses or []),
            "payment": sorted(query.payment_statuses or []),
            "since": query.updated_since.isoformat() if query.updated_since else None,
            "search": query.search,
            **({"deleted": True} if query.include_deleted else {}),
            **({"offline": query.offline} if query.offline is not None else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(described.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing stands: per source, the upstream position to read on from."""

    key: str  # the listing's ``filter_key``
    offsets: Mapping[OrderSource, int]


@dataclass(frozen=True, slots=True)
class IndexCursor:
    """Where a listing of the order index stands: after the order with this upstream change
    time (UTC) and id."""

    key: str  # the listing's ``filter_key``
    updated_at: datetime
    order_id: str


ORDER_ID_MAX = 200  # the store's column


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Cursors as opaque strings, signed with HMAC-SHA256: a client can hand one back, not
    make or edit one, so every offset in a cursor is one this gateway wrote.

    ``secret`` is shared by every replica (``cursor_secret``, or the store's own key).
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> str:
        return _b64(hmac.new(self._secret, body, hashlib.sha256).digest()[:MAC_BYTES])

    def encode(self, cursor: Cursor | IndexCursor) -> str:
        fields: dict[str, object] = {"v": CURSOR_VERSION, "k": cursor.key}
        if isinstance(cursor, IndexCursor):
            fields["i"] = [cursor.updated_at.isoformat(), cursor.order_id]
        else:
            fields["o"] = {s.value: n for s, n in cursor.offsets.items()}
        body = json.dumps(fields, separators=(",", ":")).encode()
        return f"{_b64(body)}.{self._mac(body)}"

    def decode(self, value: str, *, key: str) -> Cursor:
        """The upstream listing's cursor ``value`` holds; ``ValidationError`` for anything
        this API did not write, for a cursor of a listing with other filters than ``key``'s,
        and for a cursor of the order index."""
        cursor = self._checked(value, key)
        if isinstance(cursor, IndexCursor):
            raise ValidationError(
                "The cursor belongs to a listing answered from the order index, and this one "
                "reads the upstreams; start again without `after`.",
                field=["after"],
            )
        return cursor

    def decode_index(self, value: str, *, key: str) -> IndexCursor:
        """``decode`` for a listing of the order index: its cursors only."""
        cursor = self._checked(value, key)
        if isinstance(cursor, Cursor):
            raise ValidationError(
                "The cursor belongs to a listing read from the upstreams, and this one is "
                "answered from the order index; start again without `after`.",
                field=["after"],
            )
        return cursor

    def _checked(self, value: str, key: str) -> Cursor | IndexCursor:
        cursor = self._verified(value)
        if cursor is None:
            raise ValidationError(
                "`after` is not a cursor of this API; use a cursor from `pageInfo` or an edge.",
                field=["after"],
            )
        if cursor.key != key:
            raise ValidationError(
                "The cursor belongs to a listing with other filters; start again without `after`.",
                field=["after"],
            )
        return cursor

    def _verified(self, value: str) -> Cursor | IndexCursor | None:
        body_text, _, mac = value.partition(".")
        try:
            body = _unb64(body_text)
            signed = hmac.compare_digest(mac.encode("ascii"), self._mac(body).encode("ascii"))
        except (ValueError, UnicodeError, binascii.Error):
            return None
        # Only the text this gateway writes: base64's decoder would skip stray characters.
        if not signed or _b64(body) != body_text:
            return None
        try:
            fields = json.loads(body)
            cursor_key = fields["k"]
            if fields["v"] != CURSOR_VERSION or not isinstance(cursor_key, str):
                return None
            if "i" in fields:
                moment, order_id = fields["i"]
                updated_at = datetime.fromisoformat(moment)
                if updated_at.tzinfo is None or not isinstance(order_id, str):
                    return None
                if len(order_id) > ORDER_ID_MAX:
                    return None
                return IndexCursor(cursor_key, updated_at, order_id)
            offsets = {OrderSource(s): n for s, n in fields["o"].items()}
            valid = all(type(n) is int and 0 <= n <= MAX_OFFSET for n in offsets.values())
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return Cursor(cursor_key, offsets) if valid else None


@dataclass(slots=True)
class SourceStream:
    """One backend's newest-first listing from an offset, keeping only matching orders."""

    backend: OrderBackend
    query: OrderQuery
    next_offset: int
    page_size: int
    buffer: deque[tuple[int, Order]] = field(default_factory=deque)
    exhausted: bool = False
    last_read: Order | None = None  # the last order read upstream, matching or not
    reads: int = 0  # upstream reads this page made
    first_read: int = 0  # orders the first of them answered

    async def fill(self, wanted: int, *, max_reads: int) -> None:
        """Read until ``wanted`` matching orders are buffered, the listing ends, or
        ``max_reads`` upstream pages have been read (filters that match little)."""
        limit = min(wanted, self.page_size)
        for _ in range(max_reads):
            if len(self.buffer) >= wanted or self.exhausted:
                return
            page = await self.backend.list_orders(self.query, offset=self.next_offset, limit=limit)
            self.reads += 1
            if self.reads == 1:
                self.first_read = len(page.orders)
            for position, order in enumerate(page.orders, start=self.next_offset):
                if self.query.matches(order):
                    self.buffer.append((position, order))
            self.next_offset += len(page.orders)
            self.exhausted = page.exhausted or not page.orders
            if page.orders:
                self.last_read = page.orders[-1]
            limit = self.page_size  # later reads only happen when filters thinned the first

    @property
    def has_more(self) -> bool:
        return bool(self.buffer) or not self.exhausted

    @property
    def resume_at(self) -> int:
        """The position a later page reads on from: its first match not taken, or, with none
        buffered, the first order not read yet."""
        return self.buffer[0][0] if self.buffer else self.next_offset


def _rank(order: Order, source: OrderSource) -> tuple[float, int]:
    """Merge order: newest first; ties keep source order (then each upstream's own order)."""
    return (-order.updated_at.timestamp(), SOURCE_RANK[source])


SOURCE_RANK = {source: index for index, source in enumerate(OrderSource)}


@dataclass(frozen=True, slots=True)
class Edge:
    """An order of a page, and where the listing reads on after it; its cursor is signed
    only when asked for (a page of 100 orders rarely wants 100 cursors)."""

    order: Order
    position: Cursor | IndexCursor
    codec: CursorCodec

    @property
    def cursor(self) -> str:
        return self.codec.encode(self.position)


@dataclass(frozen=True, slots=True)
class OrdersPage:
    edges: list[Edge]
    has_next_page: bool
    unavailable: list[BackendError]
    # What the page cost upstream (``gateway.limits``): the orders of each source's first read,
    # and the reads after the first (a filter thinning the upstream pages), sources together.
    first_reads: int = 0
    later_reads: int = 0
    # Set when the scan limit ended the page before `first` orders: where the next page reads
    # on from (past what was read and did not match). Otherwise the last edge's cursor.
    continuation: str | None = None
    # A listing of the order index: the sources ingestion has not loaded into it yet (their
    # orders are missing, or some of them).
    not_indexed: list[OrderSource] = field(default_factory=list)


async def page_orders(
    backends: Mapping[OrderSource, OrderBackend],
    query: OrderQuery,
    *,
    first: int,
    after: str | None,
    page_size: Mapping[OrderSource, int],
    cursors: CursorCodec,
    max_reads: int,
) -> OrdersPage:
    """One page of ``first`` orders across ``backends``, merged newest first, reading at most
    ``max_reads`` upstream pages from each backend."""
    sources = list(backends)
    key = filter_key(sources, query)
    offsets = dict(cursors.decode(after, key=key).offsets) if after is not None else {}
    streams = {
        source: SourceStream(backend, query, offsets.get(source, 0), page_size[source])
        for source, backend in backends.items()
    }
    offsets = {source: stream.next_offset for source, stream in streams.items()}
    outcomes = await asyncio.gather(
        *(stream.fill(first, max_reads=max_reads) for stream in streams.values()),
        return_exceptions=True,
    )
    unavailable: list[BackendError] = []
    for source, outcome in zip(list(streams), outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, BackendError):
                raise outcome
            log.warning("orders: %s unavailable for this page: %s", source.value, outcome)
            unavailable.append(outcome)
            del streams[source]

    # A stream the scan limit stopped short has orders not read yet, none newer than the last
    # it read: nothing ranked after that may be taken from any stream on this page.
    stop = min(
        (
            _rank(stream.last_read, source)
            for source, stream in streams.items()
            if stream.last_read is not None and len(stream.buffer) < first and not stream.exhausted
        ),
        default=None,
    )

    # k-way merge over each stream's buffered matches.
    heap = [
        (*_rank(stream.buffer[0][1], source), source)
        for source, stream in streams.items()
        if stream.buffer
    ]
    heapq.heapify(heap)
    # Whether the page moves on even with no edge (past orders read that did not match). If
    # not, the first edge is taken whatever the stop: only an upstream that does not list
    # newest first can get here, and holding it back would repeat this page for ever.
    advanced = any(stream.resume_at > offsets[source] for source, stream in streams.items())
    edges: list[Edge] = []
    while heap and len(edges) < first:
        *rank, source = heap[0]
        if stop is not None and tuple(rank) > stop and (edges or advanced):
            break
        heapq.heappop(heap)
        stream = streams[source]
        position, order = stream.buffer.popleft()
        offsets[source] = position + 1
        edges.append(Edge(order, Cursor(key, dict(offsets)), cursors))
        if stream.buffer:
            heapq.heappush(heap, (*_rank(stream.buffer[0][1], source), source))
    has_next = bool(unavailable) or any(stream.has_more for stream in streams.values())
    continuation = None
    if stop is not None and len(edges) < first:
        offsets.update({source: stream.resume_at for source, stream in streams.items()})
        continuation = cursors.encode(Cursor(key, offsets))
    return OrdersPage(
        edges=edges,
        has_next_page=has_next,
        unavailable=unavailable,
        first_reads=sum(stream.first_read for stream in streams.values()),
        later_reads=sum(max(0, stream.reads - 1) for stream in streams.values()),
        continuation=continuation,
    )
