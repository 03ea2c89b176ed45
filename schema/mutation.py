"""The write side of the contract: ``Mutation``, its inputs and payloads."""

from __future__ import annotations

import enum
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

import strawberry

from domain import commands
from domain.errors import OrdergateError
from gateway.context import Context
from resolvers import mutations as resolve
from schema.enums import ErrorCode, OrderSource, OrderStatus
from schema.order import Order
from schema.types import Shipment

Info = strawberry.Info[Context, None]


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


IDEMPOTENCY = (
    "The same key with the same input returns the first result and writes nothing again; "
    "with another input it is a CONFLICT."
)


@strawberry.input(description="Move an order to another canonical status.")
class UpdateStatusInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    status: OrderStatus = strawberry.field(
        description="Target status (DISPATCHED goes through `dispatch`)."
    )
    note: str | None = strawberry.field(default=None, description="Why, for the audit trail.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="A line and how much of it moves to the new order.")
class SplitLineInput:
    line_id: strawberry.ID = strawberry.field(description="The line's id (`OrderLine.id`).")
    quantity: float = strawberry.field(description="How many units move; more than 0.")


@strawberry.input(description="Split lines off an order into one new order.")
class SplitOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    lines: list[SplitLineInput] = strawberry.field(
        description="The lines (and quantities) that move to ONE new order; "
        "what is left stays on the original."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="Dispatch an order with the carrier's consignment number.")
class DispatchInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    consignment_number: str = strawberry.field(description="The carrier's consignment number.")
    carrier: str | None = strawberry.field(default=None, description="The carrier.")
    tracking_url: str | None = strawberry.field(default=None, description="Track & trace URL.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="Apply a discount code to an order.")
class SetDiscountCodeInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    code: str = strawberry.field(
        description="The code a shopper types; the gateway finds the upstream's discount id."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="Apply a gift voucher to an order.")
class SetGiftVoucherInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    voucher: str = strawberry.field(description="The voucher's name or upstream id.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="Choose an order's shipping option.")
class SetShippingOptionInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    option: str = strawberry.field(description="The shipping option's name or upstream id.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="Set an order's tax code.")
class SetTaxCodeInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    code: str = strawberry.field(description="The tax code or its upstream id.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="The ERP line number of one order line.")
class ErpLineNumberInput:
    line_id: strawberry.ID = strawberry.field(description="The line's id (`OrderLine.id`).")
    erp_line_number: int = strawberry.field(description="Its line number in the ERP.")


@strawberry.input(description="Record the ERP's order number (and line numbers) on an order.")
class SetErpOrderNumberInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    erp_order_number: str = strawberry.field(description="The order number in the ERP.")
    lines: list[ErpLineNumberInput] = strawberry.field(
        default_factory=list, description="ERP line numbers per line (lines left out keep theirs)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="One line as it should be after an edit.")
class LineEditInput:
    line_id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing line's id; leave out for a new line."
    )
    sku: str | None = strawberry.field(default=None, description="Product key (new lines).")
    quantity: float = strawberry.field(description="Quantity; more than 0.")
    unit_price: Decimal | None = strawberry.field(default=None, description="Unit price.")
    description: str | None = strawberry.field(default=None, description="Line text.")


@strawberry.input(description="Replace an order's lines (lines left out are removed).")
class EditOrderLinesInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    lines: list[LineEditInput] = strawberry.field(description="Every line the order keeps or gets.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="A line of a new order.")
class NewOrderLineInput:
    product_id: strawberry.ID = strawberry.field(description="The upstream's product id.")
    quantity: float = strawberry.field(description="Quantity; more than 0.")
    price: Decimal | None = strawberry.field(default=None, description="Unit price.")
    line_status_id: strawberry.ID | None = strawberry.field(
        default=None, description="The upstream's line status id."
    )
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="Line discount in percent."
    )


@strawberry.input(description="A new order for a backend that takes orders (B2B).")
class CreateOrderInput:
    source: OrderSource = strawberry.field(
        default=OrderSource.B2B, description="Which backend creates it."
    )
    company_id: strawberry.ID = strawberry.field(description="The ordering company.")
    client_id: strawberry.ID = strawberry.field(
        description="The client: a business partner with role Client in that company."
    )
    agent_id: strawberry.ID = strawberry.field(
        description="The sales agent: a business partner with role Representant in that company."
    )
    season_id: strawberry.ID | None = strawberry.field(default=None, description="The season.")
    shipping_address_id: strawberry.ID = strawberry.field(
        description="A shipping location of the client."
    )
    billing_address_id: strawberry.ID = strawberry.field(
        description="A billing location of the client."
    )
    status_id: strawberry.ID = strawberry.field(description="The upstream's order status id.")
    reference: str | None = strawberry.field(default=None, description="Your reference.")
    observation: str | None = strawberry.field(default=None, description="Free text.")
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="Order discount in percent."
    )
    lines: list[NewOrderLineInput] = strawberry.field(description="The order's lines.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


def plain(value: Any) -> Any:
    """An input object as plain JSON-able data (for idempotency fingerprints)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal | float):
        return str(value)
    return value


def order_payload(response: resolve.WriteResponse) -> OrderPayload:
    return OrderPayload(
        order=None if response.order is None else Order.from_domain(response.order),
        user_errors=[UserError.from_error(e) for e in response.errors],
        delivery=Delivery.from_state(response.delivery),
    )


async def change(info: Info, operation: str, input: Any, build: Any) -> resolve.WriteResponse:
    raw = plain(input)
    raw.pop("idempotency_key", None)
    return await resolve.change_order(
        info.context,
        operation=operation,
        raw_order_id=str(input.order_id),
        build=build,
        idempotency_key=input.idempotency_key,
        raw_input=raw,
    )


@strawberry.type(description="Changes to orders, each sent to the upstream that owns the order.")
class Mutation:
    @strawberry.mutation(description="Move an order to another canonical status.")
    async def update_status(self, info: Info, input: UpdateStatusInput) -> OrderPayload:
        response = await change(
            info,
            "updateStatus",
            input,
            lambda: commands.UpdateStatus(status=input.status, note=input.note),
        )
        return order_payload(response)

    @strawberry.mutation(description="Split lines off an order into one new order.")
    async def split_order(self, info: Info, input: SplitOrderInput) -> SplitOrderPayload:
        response = await change(
            info,
            "splitOrder",
            input,
            lambda: commands.SplitOrder(
                lines=tuple(
                    commands.SplitLine(
                        line_id=str(line.line_id), quantity=Decimal(str(line.quantity))
                    )
                    for line in input.lines
                )
            ),
        )
        return SplitOrderPayload(
            order=None if response.order is None else Order.from_domain(response.order),
            new_orders=[Order.from_domain(o) for o in response.new_orders],
            user_errors=[UserError.from_error(e) for e in response.errors],
            delivery=Delivery.from_state(response.delivery),
        )

    @strawberry.mutation(
        description="Dispatch an order: its upstream records the consignment number."
    )
    async def dispatch(self, info: Info, input: DispatchInput) -> DispatchPayload:
        response = await change(
            info,
            "dispatch",
            input,
            lambda: commands.Dispatch(
                consignment_number=input.consignment_number,
                carrier=input.carrier,
                tracking_url=input.tracking_url,
            ),
        )
        return DispatchPayload(
            order=None if response.order is None else Order.from_domain(response.order),
            shipment=None if response.shipment is None else Shipment.from_domain(response.shipment),
            user_errors=[UserError.from_error(e) for e in response.errors],
            delivery=Delivery.from_state(response.delivery),
        )

    @strawberry.mutation(description="Apply a discount code (the code a shopper types).")
    async def set_discount_code(self, info: Info, input: SetDiscountCodeInput) -> OrderPayload:
        response = await change(
            info, "setDiscountCode", input, lambda: commands.SetDiscountCode(code=input.code)
        )
        return order_payload(response)

    @strawberry.mutation(description="Apply a gift voucher.")
    async def set_gift_voucher(self, info: Info, input: SetGiftVoucherInput) -> OrderPayload:
        response = await change(
            info, "setGiftVoucher", input, lambda: commands.SetGiftVoucher(voucher=input.voucher)
        )
        return order_payload(response)

    @strawberry.mutation(description="Choose the shipping option.")
    async def set_shipping_option(self, info: Info, input: SetShippingOptionInput) -> OrderPayload:
        response = await change(
            info,
            "setShippingOption",
            input,
            lambda: commands.SetShippingOption(option=input.option),
        )
        return order_payload(response)

    @strawberry.mutation(description="Set the tax code.")
    async def set_tax_code(self, info: Info, input: SetTaxCodeInput) -> OrderPayload:
        response = await change(
            info, "setTaxCode", input, lambda: commands.SetTaxCode(code=input.code)
        )
        return order_payload(response)

    @strawberry.mutation(description="Record the ERP order number and ERP line numbers.")
    async def set_erp_order_number(self, info: Info, input: SetErpOrderNumberInput) -> OrderPayload:
        response = await change(
            info,
            "setErpOrderNumber",
            input,
            lambda: commands.SetErpOrderNumber(
                erp_order_number=input.erp_order_number,
                lines=tuple(
                    commands.ErpLineNumber(
                        line_id=str(line.line_id), erp_line_number=line.erp_line_number
                    )
                    for line in input.lines
                ),
            ),
        )
        return order_payload(response)

    @strawberry.mutation(description="Replace an order's lines (lines left out are removed).")
    async def edit_order_lines(self, info: Info, input: EditOrderLinesInput) -> OrderPayload:
        response = await change(
            info,
            "editOrderLines",
            input,
            lambda: commands.EditOrderLines(
                lines=tuple(
                    commands.LineEdit(
                        line_id=None if line.line_id is None else str(line.line_id),
                        sku=line.sku,
                        quantity=Decimal(str(line.quantity)),
                        unit_price=line.unit_price,
                        description=line.description,
                    )
                    for line in input.lines
                )
            ),
        )
        return order_payload(response)

    @strawberry.mutation(description="Create an order upstream (B2B), checked against its rules.")
    async def create_order(self, info: Info, input: CreateOrderInput) -> OrderPayload:
        raw = plain(input)
        raw.pop("idempotency_key", None)
        response = await resolve.create_order(
            info.context,
            source=input.source,
            build=lambda: commands.CreateWholesaleOrder(
                company_id=str(input.company_id),
                client_id=str(input.client_id),
                agent_id=str(input.agent_id),
                season_id=None if input.season_id is None else str(input.season_id),
                shipping_address_id=str(input.shipping_address_id),
                billing_address_id=str(input.billing_address_id),
                status_id=str(input.status_id),
                reference=input.reference,
                observation=input.observation,
                discount_percent=input.discount_percent,
                lines=tuple(
                    commands.NewOrderLine(
                        product_id=str(line.product_id),
                        quantity=Decimal(str(line.quantity)),
                        price=line.price,
                        line_status_id=None
                        if line.line_status_id is None
                        else str(line.line_status_id),
                        discount_percent=line.discount_percent,
                    )
                    for line in input.lines
                ),
            ),
            idempotency_key=input.idempotency_key,
            raw_input=raw,
        )
        return order_payload(response)
