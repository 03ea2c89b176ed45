"""Resolvers of the mutations: check, record in the outbox, deliver, answer.

Every write to an existing order goes the same way (``change_order``):
1. decode the id, find the backend, build the command; a backend without the capability
   answers UNSUPPORTED_BY_BACKEND and nothing is sent;
2. an idempotency key that was seen with the same input answers the first result again;
3. the order is read fresh from its upstream and the gateway's own rules are checked (the
   state machine, split quantities...) against it — or, when the upstream is down, against
   the status its queued changes will leave it in;
4. the change and its history event are recorded in one transaction, then delivered at once,
   after any earlier change of the same order; a retryable failure leaves it queued.
Expected failures come back as ``userErrors``, never as exceptions.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pydantic

from backends.base import OrderBackend, OrderCreator, OrderDeleter
from domain.commands import (
    Dispatch,
    EditOrderLines,
    ErpLineNumber,
    LineEdit,
    MarkShipped,
    NewOrder,
    OrderCommand,
    SetErpOrderNumber,
    SplitOrder,
    UpdateStatus,
)
from domain.errors import (
    BackendError,
    ConflictError,
    ErrorCode,
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    OrdergateError,
    ReplayedError,
    UnsupportedByBackendError,
    UpstreamUnavailableError,
    ValidationError,
)
from domain.ids import GlobalId, decode_order_id, order_id
from domain.models import Order, OrderSource, OrderStatus, Shipment
from domain.transitions import check_status_update, check_transition
from feed import index
from feed.index import ChangeOrigin
from gateway.context import Context
from gateway.delivery import Delivered, Outcome, Rejected
from store import idempotency, outbox
from store.events import record_event
from store.orders import Seen, last_status, record_orders
from telemetry import metrics


@dataclass(frozen=True, slots=True)
class DeliveryState:
    change_id: int
    status: str  # delivered | queued | rejected
    attempts: int
    last_error: str | None


@dataclass(slots=True)
class WriteResponse:
    order: Order | None = None
    deleted_order_id: str | None = None  # deleteOrder: the global id of the order deleted
    new_orders: list[Order] = field(default_factory=list)
    shipment: Shipment | None = None
    errors: list[OrdergateError] = field(default_factory=list)
    delivery: DeliveryState | None = None


def input_errors(
    exc: pydantic.ValidationError, *, under: tuple[str, ...] = ()
) -> list[OrdergateError]:
    """Input that the command's own constraints refuse, as VALIDATION errors with their path
    (``under``: the part of the input the command was built from)."""
    return [
        ValidationError(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}",
            field=["input", *under, *(_camel(str(p)) for p in error["loc"])],
        )
        for error in exc.errors()
    ]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def require_source(context: Context, source: OrderSource, *, field: list[str]) -> None:
    """A caller limited to some sources may not write to the others (``FORBIDDEN``; reads of
    them answer ``NOT_FOUND`` instead, as if they did not exist)."""
    if not context.principal.sees(source):
        raise ForbiddenError(f"This credential may not change {source.value} orders.", field=field)


def _owner(context: Context, raw_order_id: str) -> tuple[GlobalId, OrderBackend]:
    """The order's id and the backend that owns it, if this caller may change its orders."""
    gid = decode_order_id(raw_order_id)
    require_source(context, gid.source, field=["input", "orderId"])
    backend = context.backends.get(gid.source)
    if backend is None:
        raise NotFoundError(f"{gid.source.value} is not enabled on this gateway")
    return gid, backend


async def change_order(
    context: Context,
    *,
    operation: str,
    raw_order_id: str,
    build: Callable[[], OrderCommand],
    idempotency_key: str | None,
    raw_input: dict[str, Any],
) -> WriteResponse:
    try:
        gid, backend = _owner(context, raw_order_id)
        try:
            command = build()
        except pydantic.ValidationError as exc:
            return WriteResponse(errors=input_errors(exc))
        if command.capability not in backend.capabilities:
            raise UnsupportedByBackendError(
                f"{backend.name} ({gid.source.value}) does not support {operation}; "
                f"it supports: {', '.join(sorted(backend.capabilities))}."
            )
    except NotFoundError as error:
        error.field = ["input", "orderId"]
        return WriteResponse(errors=[error])
    except OrdergateError as error:
        return WriteResponse(errors=[error])

    async def run(change_key: str | None) -> WriteResponse:
        return await _change(context, gid, backend, command, change_key)

    return await _idempotent(context, operation, idempotency_key, raw_input, run)


async def _idempotent(
    context: Context,
    operation: str,
    key: str | None,
    raw_input: dict[str, Any],
    run: Callable[[str | None], Any],
) -> WriteResponse:
    """``run(change_key)`` once per key and input; a change it queues uses ``change_key``."""
    if key is None:
        response: WriteResponse = await run(None)
        return response
    store = context.store
    # Keys are the caller's own: another partner's key of the same text is another key.
    caller = hashlib.sha256(context.principal.identity.encode()).hexdigest()[:12]
    scoped = f"{operation}:{caller}:{key}"
    try:
        claim = await idempotency.claim(
            store,
            scoped,
            idempotency.request_hash(operation, raw_input),
            wait_s=context.settings.idempotency_wait_s,
        )
    except OrdergateError as error:
        return WriteResponse(errors=[error])
    if claim.response is not None:
        return await _replay(context, claim.response)
    if claim.change_id is not None:  # queued by a request that has not answered (or died)
        return await _replay(context, await _answer_of_change(context, claim.change_id))
    try:
        response = await run(claim.change_key)
    except BaseException:
        await idempotency.release(store, scoped)
        raise
    await idempotency.complete(store, scoped, _stored(response))
    return response


async def _read_current(backend: OrderBackend, upstream_id: str) -> tuple[Order | None, bool]:
    """The order as its upstream has it now, and whether the upstream answered at all."""
    try:
        [current] = await backend.get_orders([upstream_id])
    except UpstreamUnavailableError:
        return None, False
    return current, True


async def _change(
    context: Context,
    gid: GlobalId,
    backend: OrderBackend,
    command: OrderCommand,
    change_key: str | None,
) -> WriteResponse:
    # One change of an order at a time in this process: two concurrent status changes
    # must not both pass the state machine against the same starting status.
    async with context.deliverer.holding(gid.encode()):
        return await _check_queue_deliver(context, gid, backend, command, change_key)


async def _check(
    context: Context, gid: GlobalId, backend: OrderBackend, command: OrderCommand
) -> tuple[Order | None, bool]:
    """The gateway's own rules; the order as read now (the upstream down: as the index last
    saw it, or none), and whether there is anything to send."""
    store, global_id = context.store, gid.encode()
    current, answered = await _read_current(backend, gid.upstream_id)
    if answered and current is None:
        raise NotFoundError(
            f"{gid.source.value} has no order {gid.upstream_id}", field=["input", "orderId"]
        )
    # Without a fresh read, the index's last look at the order (its `syncedAt` says when).
    seen = None if answered else await index.last_seen(store, global_id)
    projected = await outbox.projected_status(store, global_id)
    known = current or seen
    status = projected or (known.status if known else _known(await last_status(store, global_id)))
    if isinstance(command, UpdateStatus):
        # "Already there" only from a fresh read or from what is queued: the store's last
        # recorded status may be stale (the upstream moved on while it was down), and then the
        # change is queued, not answered as done.
        fresh = current is not None or projected is not None
        if status is command.status and fresh:
            return current, False  # already there: nothing to send
        # Not fresh and seemingly there: whether the move is allowed cannot be known now.
        check_status_update(
            status if fresh or status is not command.status else None, command.status
        )
        if command.status not in backend.settable_statuses:
            raise UnsupportedByBackendError(
                f"{backend.name} has no status for {command.status.value}.",
                field=["input", "status"],
            )
    elif isinstance(command, Dispatch | MarkShipped) and status is not None:
        if isinstance(command, Dispatch) and current and command.shipment_in(current):
            # The same delivery again (CloudSuite takes a despatch advice once): a conflict
            # with what the order holds, not a move the state machine should judge.
            raise ConflictError(
                f"The order was dispatched with consignment {command.consignment_number!r} already",
                field=["input", "consignmentNumber"],
            )
        check_transition(status, OrderStatus.DISPATCHED, field=["input", "orderId"])
    if current is not None:
        check_lines(command, current)  # lines only from a fresh read: lines change too
    return known, True


async def _check_queue_deliver(
    context: Context,
    gid: GlobalId,
    backend: OrderBackend,
    command: OrderCommand,
    change_key: str | None,
) -> WriteResponse:
    store, global_id, deliverer = context.store, gid.encode(), context.deliverer
    try:
        current, to_send = await _check(context, gid, backend, command)
    except OrdergateError as error:
        return WriteResponse(errors=[error])
    if not to_send:
        return WriteResponse(order=current)
    try:
        change = await outbox.enqueue(
            store,
            order_id=global_id,
            source=gid.source,
            upstream_id=gid.upstream_id,
            reference=current.reference if current else None,
            command=command,
            idempotency_key=change_key or f"og-{uuid.uuid4().hex}",
            actor=context.actor,
            owner=deliverer.owner,
            lease_s=deliverer.settings.lease_s,
            recheck=lambda projected: recheck_status(command, projected),
        )
    except OrdergateError as error:  # another replica queued a change of this order first
        return WriteResponse(order=current, errors=[error])
    assert change.entry.id is not None
    try:
        outcome = await deliverer.deliver_pending(global_id, through=change.entry.id)
    except asyncio.CancelledError:
        # Cut short (the gateway shutting down, the client gone) once the change was queued:
        # it stays queued and will be delivered; answer that, not a failure.
        return _cut_short(gid, current, change.entry.id, change.entry.attempts)
    delivery = await _delivery_state(context, change.entry.id, outcome)
    context.loaders.forget(gid.source, gid.upstream_id)  # this request reads it anew
    if isinstance(outcome, Delivered):
        result = outcome.result
        context.loaders.prime([result.order, *result.new_orders])
        return WriteResponse(
            order=result.order,
            new_orders=list(result.new_orders),
            shipment=result.shipment,
            delivery=delivery,
        )
    if isinstance(outcome, Rejected):
        return WriteResponse(order=current, errors=[outcome.error], delivery=delivery)
    reason = (
        outcome.error.message if outcome.error else "an earlier change of this order goes first"
    )
    queued = UpstreamUnavailableError(
        gid.source, f"not delivered yet ({reason}); the change is queued and will be delivered"
    )
    return WriteResponse(order=current, errors=[queued], delivery=delivery)


def _cut_short(
    gid: GlobalId, current: Order | None, change_id: int, attempts: int
) -> WriteResponse:
    reason = "the gateway stopped before the delivery ended"
    queued = UpstreamUnavailableError(
        gid.source, f"not delivered yet ({reason}); the change is queued and will be delivered"
    )
    delivery = DeliveryState(change_id, "queued", attempts, reason)
    return WriteResponse(order=current, errors=[queued], delivery=delivery)


async def _delivery_state(context: Context, change_id: int, outcome: Outcome) -> DeliveryState:
    if isinstance(outcome, Delivered):
        return DeliveryState(change_id, "delivered", outcome.attempts, None)
    if isinstance(outcome, Rejected):
        return DeliveryState(change_id, "rejected", outcome.attempts, outcome.error.message)
    if outcome.attempts is not None and outcome.error is not None:
        return DeliveryState(change_id, "queued", outcome.attempts, outcome.error.message)
    [entry] = await outbox.entries(context.store, [change_id])  # waiting behind another change
    return DeliveryState(
        change_id, _delivery_status(entry.status), entry.attempts, entry.last_error
    )


def _known(status: str | None) -> OrderStatus | None:
    return None if status is None else OrderStatus(status)


def _delivery_status(entry_status: str) -> str:
    return {outbox.PENDING: "queued"}.get(entry_status, entry_status)


def recheck_status(command: OrderCommand, projected: OrderStatus | None) -> None:
    """The state machine once more, against changes queued since the first check."""
    if projected is None:
        return
    if isinstance(command, UpdateStatus):
        check_status_update(projected, command.status)
    elif isinstance(command, Dispatch | MarkShipped):
        check_transition(projected, OrderStatus.DISPATCHED, field=["input", "orderId"])


def check_lines(command: OrderCommand, order: Order) -> None:
    """Line ids must be the order's own; a split moves some, never all, of what a line has."""
    lines = {line.id: line for line in order.lines}
    if isinstance(command, SplitOrder):
        moved: dict[str, Decimal] = {}
        for index, split in enumerate(command.lines):
            if split.line_id not in lines:
                raise ValidationError(
                    f"The order has no line {split.line_id!r}",
                    field=["input", "lines", str(index), "lineId"],
                )
            moved[split.line_id] = moved.get(split.line_id, Decimal(0)) + split.quantity
            if moved[split.line_id] > lines[split.line_id].quantity:
                raise ValidationError(
                    f"Line {split.line_id!r} has {lines[split.line_id].quantity}; "
                    f"cannot move {moved[split.line_id]}",
                    field=["input", "lines", str(index), "quantity"],
                )
        if all(moved.get(line_id, 0) >= line.quantity for line_id, line in lines.items()):
            raise ValidationError(
                "A split must leave something on the original order; this moves every line.",
                field=["input", "lines"],
            )
    elif isinstance(command, SetErpOrderNumber | EditOrderLines):
        named: Sequence[ErpLineNumber | LineEdit] = command.lines
        for index, line in enumerate(named):
            if line.line_id is not None and line.line_id not in lines:
                raise ValidationError(
                    f"The order has no line {line.line_id!r}",
                    field=["input", "lines", str(index), "lineId"],
                )


def _stored(response: WriteResponse) -> dict[str, Any]:
    """What an idempotency key keeps: references and errors, re-read on replay."""
    return {
        "order": _ref(response.order),
        "new_orders": [_ref(o) for o in response.new_orders],
        "shipment_consignment": response.shipment.consignment_number if response.shipment else None,
        "errors": [
            {"code": e.code.value, "message": e.message, "field": e.field} for e in response.errors
        ],
        "change_id": response.delivery.change_id if response.delivery else None,
        "deleted": response.deleted_order_id,
    }


def _ref(order: Order | None) -> list[str] | None:
    return None if order is None else [order.source.value, order.upstream_id]


async def _replay(context: Context, stored: dict[str, Any]) -> WriteResponse:
    """The first request's result again, with the orders as they are now. Sends nothing."""
    metrics.IDEMPOTENCY_REPLAYS.inc()

    async def read(ref: list[str] | None) -> Order | None:
        return None if ref is None else await context.loaders.order(OrderSource(ref[0]), ref[1])

    errors: list[OrdergateError] = [_stored_error(e) for e in stored["errors"]]
    try:  # one batch per backend: the loaders gather these
        orders = await asyncio.gather(*map(read, [stored["order"], *stored["new_orders"]]))
    except BackendError as unavailable:  # the answer stands; only today's view is missing
        orders, errors = [None], [*errors, unavailable]
    delivery = None
    if stored["change_id"] is not None:
        [entry] = await outbox.entries(context.store, [stored["change_id"]])
        assert entry.id is not None
        delivery = DeliveryState(
            entry.id, _delivery_status(entry.status), entry.attempts, entry.last_error
        )
        if delivery.status != "queued":  # it has been delivered (or refused) since
            errors = [e for e in errors if e.code.value != "UPSTREAM_UNAVAILABLE"]
    order = orders[0]
    shipment = None
    if stored["shipment_consignment"] and order is not None:
        shipment = next(
            (s for s in order.shipments if s.consignment_number == stored["shipment_consignment"]),
            None,
        )
    return WriteResponse(
        order=order,
        deleted_order_id=stored.get("deleted"),
        new_orders=[o for o in orders[1:] if o is not None],
        shipment=shipment,
        errors=errors,
        delivery=delivery,
    )


async def _answer_of_change(context: Context, change_id: int) -> dict[str, Any]:
    """What the request that queued this change would have answered, as ``_replay`` reads
    it: the order, and the change's outcome now (queued, delivered or rejected)."""
    [entry] = await outbox.entries(context.store, [change_id])
    errors = []
    if entry.status == outbox.REJECTED:
        code = entry.rejection_code or ErrorCode.UPSTREAM_REJECTED.value
        errors = [{"code": code, "message": entry.last_error or "", "field": None}]
    elif entry.status == outbox.PENDING:
        message = f"{entry.source}: not delivered yet; the change is queued and will be delivered"
        errors = [{"code": "UPSTREAM_UNAVAILABLE", "message": message, "field": None}]
    return {
        "order": [entry.source, entry.upstream_id],
        "new_orders": [],
        "errors": errors,
        "change_id": change_id,
        "shipment_consignment": None,
    }


def _stored_error(stored: dict[str, Any]) -> OrdergateError:
    return ReplayedError(ErrorCode(stored["code"]), stored["message"], field=stored["field"])


async def delete_order(
    context: Context, *, raw_order_id: str, idempotency_key: str | None, raw_input: dict[str, Any]
) -> WriteResponse:
    """Delete an order upstream (B2B), not queued: an order with changes still queued, or past
    the statuses it may be deleted in, is refused before anything is sent."""
    try:
        gid, backend = _owner(context, raw_order_id)
        if not isinstance(backend, OrderDeleter):
            raise UnsupportedByBackendError(
                f"{backend.name} ({gid.source.value}) does not delete orders through the gateway"
            )
    except NotFoundError as error:
        error.field = ["input", "orderId"]
        return WriteResponse(errors=[error])
    except OrdergateError as error:
        return WriteResponse(errors=[error])
    deleter = backend

    async def run(_change_key: str | None) -> WriteResponse:  # nothing is queued
        global_id = gid.encode()
        try:
            async with context.deliverer.holding(global_id):
                [current] = await backend.get_orders([gid.upstream_id])  # down: said so
                if current is None:
                    raise NotFoundError(
                        f"{gid.source.value} has no order {gid.upstream_id}",
                        field=["input", "orderId"],
                    )
                if await outbox.pending_for_order(context.store, global_id):
                    raise ConflictError(
                        "Changes to this order are still queued: delete it once they are "
                        "delivered (or refused)",
                        field=["input", "orderId"],
                    )
                if current.status not in DELETABLE:
                    raise InvalidTransitionError(
                        f"An order in {current.status.value} cannot be deleted; only "
                        f"{', '.join(sorted(DELETABLE))} orders can.",
                        field=["input", "orderId"],
                    )
                await deleter.delete_order(
                    gid.upstream_id,
                    idempotency_key=f"og-delete-{idempotency_key or uuid.uuid4().hex}",
                )
        except OrdergateError as error:
            return WriteResponse(errors=[error])
        await record_event(
            context.store,
            global_id,
            "DELETED",
            detail=f"reference={current.reference}",
            actor=context.actor,
            outcome="delivered",
        )
        gone = await index.observe(
            context.store, [], ChangeOrigin.GATEWAY, gone=[(gid.source, gid.upstream_id)]
        )
        if gone:
            await context.feed.notify(gone)
        return WriteResponse(deleted_order_id=global_id)

    return await _idempotent(context, "deleteOrder", idempotency_key, raw_input, run)


# An order may be deleted before it is worked on: afterwards it is the upstream's record of
# goods that moved, and cancelling it (updateStatus) is the way out.
DELETABLE = frozenset({OrderStatus.PENDING, OrderStatus.CONFIRMED})


async def create_order(
    context: Context,
    *,
    source: OrderSource,
    part: str,
    build: Callable[[], NewOrder],
    idempotency_key: str | None,
    raw_input: dict[str, Any],
) -> WriteResponse:
    """A new order upstream (B2B, AFFILIATE), validated against the upstream's rules first;
    ``build`` makes the command of the input's ``part`` for that source."""
    try:
        require_source(context, source, field=["input", "source"])
    except ForbiddenError as error:
        return WriteResponse(errors=[error])
    backend = context.backends.get(source)
    if backend is None or not isinstance(backend, OrderCreator):
        return WriteResponse(
            errors=[
                UnsupportedByBackendError(
                    f"{source.value} does not create orders through the gateway",
                    field=["input", "source"],
                )
            ]
        )
    try:
        command = build()
    except pydantic.ValidationError as exc:
        return WriteResponse(errors=input_errors(exc, under=(part,)))
    except ValidationError as error:
        return WriteResponse(errors=[error])

    async def run(_change_key: str | None) -> WriteResponse:  # nothing is queued
        try:
            created = await backend.create_order(
                command, idempotency_key=f"og-create-{idempotency_key or uuid.uuid4().hex}"
            )
        except OrdergateError as error:
            return WriteResponse(errors=[error])
        gid = order_id(created.source, created.upstream_id)
        await record_orders(context.store, [Seen(created)])
        await record_event(
            context.store,
            gid,
            "CREATED",
            detail=f"reference={created.reference}",
            actor=context.actor,
            outcome="delivered",
        )
        context.loaders.prime([created])
        return WriteResponse(order=created)

    return await _idempotent(context, "createOrder", idempotency_key, raw_input, run)
