"""Paging through every backend's orders as one list, newest first by ``updatedAt``.

Each backend's listing is a stream read from an offset (``SourceStream``); a page merges the
streams k-way. The cursor records, per source, the upstream position just after the last
order taken from it, so each backend is paged at its own depth and a page never repeats or
skips an order of a listing that does not change meanwhile. A backend that fails keeps its
position: the next page picks it up where it stood.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import heapq
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from backends.base import OrderBackend, OrderQuery
from domain.errors import BackendError, ValidationError
from domain.models import Order, OrderSource

log = logging.getLogger(__name__)

CURSOR_VERSION = 1


def filter_key(sources: Sequence[OrderSource], query: OrderQuery) -> str:
    """A short fingerprint of a listing's filters; a cursor only continues the same listing."""
    described = json.dumps(
        {
            "sources": sorted(sources),
            "statuses": sorted(query.statuses or []),
            "payment": sorted(query.payment_statuses or []),
            "since": query.updated_since.isoformat() if query.updated_since else None,
            "search": query.search,
        },
        sort_keys=True,
    )
    return hashlib.sha256(described.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Cursor:
    key: str
    offsets: Mapping[OrderSource, int]

    def encode(self) -> str:
        body = {
            "v": CURSOR_VERSION,
            "k": self.key,
            "o": {s.value: n for s, n in self.offsets.items()},
        }
        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()

    @classmethod
    def decode(cls, value: str, *, key: str) -> Cursor:
        try:
            body = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))
            offsets = {OrderSource(s): int(n) for s, n in body["o"].items()}
            cursor_key = body["k"]
            valid = body["v"] == CURSOR_VERSION and all(n >= 0 for n in offsets.values())
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeError, binascii.Error):
            valid = False
        if not valid:
            raise ValidationError(f"{value!r} is not a cursor of this API", field=["after"])
        if cursor_key != key:
            raise ValidationError(
                "The cursor belongs to a listing with other filters; start again without `after`.",
                field=["after"],
            )
        return cls(key, offsets)


@dataclass(slots=True)
class SourceStream:
    """One backend's newest-first listing from an offset, keeping only matching orders."""

    backend: OrderBackend
    query: OrderQuery
    next_offset: int
    page_size: int
    buffer: deque[tuple[int, Order]] = field(default_factory=deque)
    exhausted: bool = False
    start: int = -1  # where the stream began (``next_offset`` at creation)

    def __post_init__(self) -> None:
        self.start = self.next_offset

    @property
    def read(self) -> int:
        """Orders this stream read upstream (matching or not)."""
        return self.next_offset - self.start

    async def fill(self, wanted: int) -> None:
        """Read until ``wanted`` matching orders are buffered or the listing ends."""
        limit = min(wanted, self.page_size)
        while len(self.buffer) < wanted and not self.exhausted:
            page = await self.backend.list_orders(self.query, offset=self.next_offset, limit=limit)
            for position, order in enumerate(page.orders, start=self.next_offset):
                if self.query.matches(order):
                    self.buffer.append((position, order))
            self.next_offset += len(page.orders)
            self.exhausted = page.exhausted or not page.orders
            limit = self.page_size  # later reads only happen when filters thinned the first

    @property
    def has_more(self) -> bool:
        return bool(self.buffer) or not self.exhausted


@dataclass(frozen=True, slots=True)
class Edge:
    cursor: str
    order: Order


@dataclass(frozen=True, slots=True)
class OrdersPage:
    edges: list[Edge]
    has_next_page: bool
    unavailable: list[BackendError]
    read: int = 0  # orders read upstream for this page, every available source together


async def page_orders(
    backends: Mapping[OrderSource, OrderBackend],
    query: OrderQuery,
    *,
    first: int,
    after: str | None,
    page_size: Mapping[OrderSource, int],
) -> OrdersPage:
    """One page of ``first`` orders across ``backends``, merged newest first."""
    sources = list(backends)
    key = filter_key(sources, query)
    offsets = dict(Cursor.decode(after, key=key).offsets) if after is not None else {}
    streams = {
        source: SourceStream(backend, query, offsets.get(source, 0), page_size[source])
        for source, backend in backends.items()
    }
    offsets = {source: stream.next_offset for source, stream in streams.items()}
    outcomes = await asyncio.gather(
        *(stream.fill(first) for stream in streams.values()), return_exceptions=True
    )
    unavailable: list[BackendError] = []
    for source, outcome in zip(list(streams), outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, BackendError):
                raise outcome
            log.warning("orders: %s unavailable for this page: %s", source.value, outcome)
            unavailable.append(outcome)
            del streams[source]

    # k-way merge: newest first; ties keep each upstream's own order, then source order.
    rank = {source: index for index, source in enumerate(OrderSource)}
    heap = [
        (-stream.buffer[0][1].updated_at.timestamp(), rank[source], source)
        for source, stream in streams.items()
        if stream.buffer
    ]
    heapq.heapify(heap)
    edges: list[Edge] = []
    while heap and len(edges) < first:
        _, _, source = heapq.heappop(heap)
        stream = streams[source]
        position, order = stream.buffer.popleft()
        offsets[source] = position + 1
        edges.append(Edge(Cursor(key, dict(offsets)).encode(), order))
        if stream.buffer:
            heapq.heappush(
                heap, (-stream.buffer[0][1].updated_at.timestamp(), rank[source], source)
            )
    has_next = bool(unavailable) or any(stream.has_more for stream in streams.values())
    read = sum(stream.read for stream in streams.values())
    return OrdersPage(edges=edges, has_next_page=has_next, unavailable=unavailable, read=read)
