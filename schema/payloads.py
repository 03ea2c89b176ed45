"""What mutations answer: the changed order(s), ``userErrors`` and the change's delivery."""

from __future__ import annotations

import enum

import strawberry

from domain.errors import OrdergateError
from resolvers import mutations as resolve
from schema.enums import ErrorCode
from schema.order import Order
from schema.types import Shipment


@strawberry.type(description="An expected failure of a mutation, as data.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path of the input field at fault, e.g. [input, lines, 0, quantity]."
    )
    message: str = strawberry.field(description="What went wrong, for people.")
    code: ErrorCode = strawberry.field(description="What went wrong, for programs.")

    @classmethod
    def from_error(cls, error: OrdergateError) -> UserError:
        return cls(field=error.field, message=error.message, code=error.code)


@strawberry.enum(
    description="Where a change stands on its way to the upstream that owns the order."
)
class DeliveryStatus(enum.Enum):
    DELIVERED = "delivered"
    QUEUED = "queued"
    REJECTED = "rejected"


@strawberry.type(description="How the upstream write of a change went.")
class Delivery:
    change_id: strawberry.ID = strawberry.field(description="The change's id in the outbox.")
    status: DeliveryStatus = strawberry.field(
        description="DELIVERED; QUEUED (the upstream failed: it is retried until delivered); "
        "or REJECTED (the upstream refused it)."
    )
    attempts: int = strawberry.field(description="Delivery attempts so far.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed, if it did.")

    @classmethod
    def from_state(cls, state: resolve.DeliveryState | None) -> Delivery | None:
        if state is None:
            return None
        return cls(
            change_id=strawberry.ID(str(state.change_id)),
            status=DeliveryStatus(state.status),
            attempts=state.attempts,
            last_error=state.last_error,
        )


@strawberry.type(description="The result of a change to one order.")
class OrderPayload:
    order: Order | None = strawberry.field(
        description="The order as its upstream has it now (after the change, if delivered)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the change failed, if it did.")
    delivery: Delivery | None = strawberry.field(
        description="Delivery of the change upstream; null when nothing had to be sent."
    )


@strawberry.type(description="The result of deleting an order.")
class DeleteOrderPayload:
    deleted_order_id: strawberry.ID | None = strawberry.field(
        description="The global id of the order deleted; null when it was not."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was not, if it was not.")


@strawberry.type(description="The result of splitting an order.")
class SplitOrderPayload:
    order: Order | None = strawberry.field(description="The original order, after the split.")
    new_orders: list[Order] = strawberry.field(description="The orders the split created.")
    user_errors: list[UserError] = strawberry.field(description="Why the split failed, if it did.")
    delivery: Delivery | None = strawberry.field(description="Delivery of the split upstream.")


@strawberry.type(description="The result of dispatching an order.")
class DispatchPayload:
    order: Order | None = strawberry.field(description="The order after the dispatch.")
    shipment: Shipment | None = strawberry.field(
        description="The shipment recorded upstream, with its consignment number."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")
    delivery: Delivery | None = strawberry.field(description="Delivery of the dispatch upstream.")


def order_payload(response: resolve.WriteResponse) -> OrderPayload:
    return OrderPayload(
        order=None if response.order is None else Order.from_domain(response.order),
        user_errors=[UserError.from_error(e) for e in response.errors],
        delivery=Delivery.from_state(response.delivery),
    )
