"""The change feed in GraphQL: events, their filter and connection, and the subscription.

``Subscription.orderEvents`` runs over graphql-transport-ws on ``/graphql``; ``Query.orderEvents``
pages the same log over HTTP. Both see only the sources the caller may see; an event's
``order`` is the Order type with its usual permissions (customer fields need customers:read).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from graphql import GraphQLError

from domain.errors import ErrorCode, OrdergateError, ValidationError
from domain.models import OrderSource
from feed import codec
from feed.events import EventFilter, decode_position, encode_position, event_id, read_after
from feed.index import ChangeKind, ChangeOrigin
from schema.order import Order
from schema.permissions import Requires
from schema.types import PageInfo
from store.clock import as_utc
from store.tables import ChangeEventRecord

if TYPE_CHECKING:
    from gateway.context import Context

log = logging.getLogger(__name__)
MAX_EVENTS_PAGE = 200


@strawberry.type(description="One change of one order, as the change feed recorded it.")
class OrderChangeEvent:
    record: strawberry.Private[ChangeEventRecord]
    id: strawberry.ID = strawberry.field(description="Opaque, stable id of this event.")
    position: str = strawberry.field(
        description="Opaque, increasing; pass it as `after` to resume."
    )
    kind: ChangeKind = strawberry.field(description="What the change was.")
    origin: ChangeOrigin = strawberry.field(description="How the gateway learned of it.")
    source: OrderSource = strawberry.field(description="The backend that owns the order.")
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    changed: list[str] = strawberry.field(
        description="Field names that changed, e.g. status, lines, shipments (empty when the "
        "order was created or is gone)."
    )
    occurred_at: datetime = strawberry.field(description="When the gateway recorded it.")

    @classmethod
    def from_record(cls, record: ChangeEventRecord) -> OrderChangeEvent:
        assert record.position is not None
        position = encode_position(record.position)
        source = OrderSource(record.source)
        return cls(
            record=record,
            id=strawberry.ID(event_id(source, record.position)),
            position=position,
            kind=ChangeKind(record.kind),
            origin=ChangeOrigin(record.origin),
            source=source,
            order_id=strawberry.ID(record.order_id),
            changed=record.changed.split(),
            occurred_at=as_utc(record.occurred_at),
        )

    @strawberry.field(description="The order as it is after the change (null for DELETED).")
    def order(self) -> Order | None:
        if self.record.order_json is None:
            return None
        return Order.from_domain(codec.decode(self.record.order_json))


@strawberry.input(description="Which events to read; every field narrows, none: every event.")
class OrderEventFilter:
    sources: list[OrderSource] | None = strawberry.field(
        default=None, description="Only events of these backends."
    )
    kinds: list[ChangeKind] | None = strawberry.field(
        default=None, description="Only these kinds of change."
    )
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only events of this order (its global id)."
    )


def event_filter(context: Context, given: OrderEventFilter | None) -> EventFilter:
    """The caller's filter within what the caller may see."""
    visible = frozenset(context.backends)
    sources = visible if given is None or given.sources is None else visible & set(given.sources)
    kinds = None if given is None or given.kinds is None else frozenset(given.kinds)
    order_id = None if given is None or given.order_id is None else str(given.order_id)
    return EventFilter(sources=sources, kinds=kinds, order_id=order_id)


@strawberry.type(description="An event in a connection, with the cursor that points after it.")
class OrderChangeEventEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this event.")
    node: OrderChangeEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of the event log, oldest first.")
class OrderChangeEventConnection:
    edges: list[OrderChangeEventEdge] = strawberry.field(description="The events of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


async def order_events_page(
    context: Context, given: OrderEventFilter | None, first: int, after: str | None
) -> OrderChangeEventConnection:
    if not 0 <= first <= MAX_EVENTS_PAGE:
        raise ValidationError(f"`first` must be between 0 and {MAX_EVENTS_PAGE}.", field=["first"])
    start = decode_position(after)
    records = await read_after(context.store, start, event_filter(context, given), limit=first + 1)
    events = [OrderChangeEvent.from_record(record) for record in records[:first]]
    return OrderChangeEventConnection(
        edges=[OrderChangeEventEdge(cursor=event.position, node=event) for event in events],
        page_info=PageInfo(
            has_next_page=len(records) > first,
            has_previous_page=start > 0,
            start_cursor=events[0].position if events else None,
            end_cursor=events[-1].position if events else after,
        ),
    )


@strawberry.type
class EventQueries:
    """``Query``'s reads of the event log (``schema.query.Query`` inherits them)."""

    @strawberry.field(
        description="The change feed's log over HTTP, oldest first: pass the last `cursor` "
        "(an event's `position`) as `after` to read on.",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def order_events(
        self,
        info: strawberry.Info[Context, None],
        filter: OrderEventFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> OrderChangeEventConnection:
        return await order_events_page(info.context, filter, 50 if first is None else first, after)


@strawberry.type(description="Live data over graphql-transport-ws on /graphql.")
class Subscription:
    @strawberry.subscription(
        description="Replays stored events after `after`, then streams live ones "
        "(graphql-transport-ws on /graphql). Without `after`, only events from now on. "
        "A client that reconnects with the last `position` it saw misses nothing.",
        permission_classes=[Requires.ORDERS_READ],
    )
    async def order_events(
        self,
        info: strawberry.Info[Context, None],
        filter: OrderEventFilter | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[OrderChangeEvent, None]:
        context = info.context
        wanted = event_filter(context, filter)
        start = decode_position(after) if after is not None else None
        # Between events too, a revoked key is noticed: every key-cache period at the least.
        idle_s = max(context.settings.auth.key_cache_s, context.settings.feed.tick_s)
        try:
            async for record in context.feed.hub.subscribe(wanted, after=start, idle_s=idle_s):
                await context.still_authorized()
                if record is None:
                    continue
                context.refresh_loaders()
                yield OrderChangeEvent.from_record(record)
        except OrdergateError:
            raise  # typed: the client is told what it is
        except Exception as error:  # never an exception's own words (SQL, paths) to a client
            log.exception("subscription orderEvents failed")
            raise GraphQLError(
                "Internal error", extensions={"code": ErrorCode.INTERNAL.value}
            ) from error
