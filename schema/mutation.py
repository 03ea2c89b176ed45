"""The write side of the contract: ``Mutation``. Inputs live in ``schema.inputs``, payloads
in ``schema.payloads``; the work is ``resolvers.mutations``'."""

from __future__ import annotations

import enum
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

import strawberry

from domain import commands
from gateway.context import Context
from resolvers import mutations as resolve
from schema.inputs import (
    CreateOrderInput,
    DispatchInput,
    EditOrderLinesInput,
    MarkShippedInput,
    SetDiscountCodeInput,
    SetErpOrderNumberInput,
    SetGiftVoucherInput,
    SetShippingOptionInput,
    SetTaxCodeInput,
    SplitOrderInput,
    UpdateStatusInput,
)
from schema.keys import ApiKeyMutations
from schema.order import Order
from schema.payloads import (
    Delivery,
    DispatchPayload,
    OrderPayload,
    SplitOrderPayload,
    UserError,
    order_payload,
)
from schema.permissions import Requires
from schema.types import Shipment

Info = strawberry.Info[Context, None]


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
class Mutation(ApiKeyMutations):
    @strawberry.mutation(
        description="Move an order to another canonical status.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def update_status(self, info: Info, input: UpdateStatusInput) -> OrderPayload:
        response = await change(
            info,
            "updateStatus",
            input,
            lambda: commands.UpdateStatus(status=input.status, note=input.note),
        )
        return order_payload(response)

    @strawberry.mutation(
        description="Split lines off an order into one new order.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
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
        description="Dispatch an order: its upstream records the consignment number.",
        permission_classes=[Requires.ORDERS_WRITE],
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

    @strawberry.mutation(
        description="Apply a discount code (the code a shopper types).",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def set_discount_code(self, info: Info, input: SetDiscountCodeInput) -> OrderPayload:
        response = await change(
            info, "setDiscountCode", input, lambda: commands.SetDiscountCode(code=input.code)
        )
        return order_payload(response)

    @strawberry.mutation(
        description="Apply a gift voucher.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def set_gift_voucher(self, info: Info, input: SetGiftVoucherInput) -> OrderPayload:
        response = await change(
            info, "setGiftVoucher", input, lambda: commands.SetGiftVoucher(voucher=input.voucher)
        )
        return order_payload(response)

    @strawberry.mutation(
        description="Choose the shipping option.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def set_shipping_option(self, info: Info, input: SetShippingOptionInput) -> OrderPayload:
        response = await change(
            info,
            "setShippingOption",
            input,
            lambda: commands.SetShippingOption(option=input.option),
        )
        return order_payload(response)

    @strawberry.mutation(
        description="Set the tax code.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def set_tax_code(self, info: Info, input: SetTaxCodeInput) -> OrderPayload:
        response = await change(
            info, "setTaxCode", input, lambda: commands.SetTaxCode(code=input.code)
        )
        return order_payload(response)

    @strawberry.mutation(
        description="Mark the order's shipment sent without a despatch advice (WEBSHOP: "
        "`shipment_state` sent; the order reads DISPATCHED). Elsewhere UNSUPPORTED_BY_BACKEND: "
        "use `dispatch`.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def mark_shipped(self, info: Info, input: MarkShippedInput) -> OrderPayload:
        return order_payload(await change(info, "markShipped", input, commands.MarkShipped))

    @strawberry.mutation(
        description="Record the ERP order number and ERP line numbers.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
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

    @strawberry.mutation(
        description="Replace an order's lines (lines left out are removed).",
        permission_classes=[Requires.ORDERS_WRITE],
    )
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

    @strawberry.mutation(
        description="Create an order upstream (B2B), checked against its rules.",
        permission_classes=[Requires.ORDERS_CREATE],
    )
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
