"""The write side of the contract: ``Mutation``. Inputs live in ``schema.inputs``, payloads
in ``schema.payloads``; the work is ``resolvers.mutations``'."""

from __future__ import annotations

import enum
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

import strawberry

from domain import commands
from domain.errors import ValidationError
from domain.models import OrderSource
from gateway.context import Context
from resolvers import mutations as resolve
from schema.inputs import (
    CreateOrderInput,
    DeleteOrderInput,
    DispatchInput,
    EditOrderInput,
    EditOrderLinesInput,
    MarkShippedInput,
    NewAffiliateOrderInput,
    NewWholesaleOrderInput,
    SetDiscountCodeInput,
    SetErpOrderNumberInput,
    SetGiftVoucherInput,
    SetLineStatusInput,
    SetShippingOptionInput,
    SetTaxCodeInput,
    SplitOrderInput,
    UpdateStatusInput,
)
from schema.keys import ApiKeyMutations
from schema.order import Order
from schema.payloads import (
    DeleteOrderPayload,
    Delivery,
    DispatchPayload,
    OrderPayload,
    SplitOrderPayload,
    UserError,
    order_payload,
)
from schema.permissions import Requires
from schema.types import Shipment
from schema.webhooks import WebhookMutations

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
class Mutation(ApiKeyMutations, WebhookMutations):
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
        description="Move one line to another line status of its upstream (B2B: in stock, "
        "shipped, deleted, ...; `catalog(source: B2B).lineStatuses`). Elsewhere "
        "UNSUPPORTED_BY_BACKEND.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def set_line_status(self, info: Info, input: SetLineStatusInput) -> OrderPayload:
        return order_payload(
            await change(
                info,
                "setLineStatus",
                input,
                lambda: commands.SetLineStatus(line_id=str(input.line_id), status=input.status),
            )
        )

    @strawberry.mutation(
        description="Change an order's addresses, shipping method, coupon or note (AFFILIATE: "
        "addresses, coupon and note). Elsewhere UNSUPPORTED_BY_BACKEND.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def edit_order(self, info: Info, input: EditOrderInput) -> OrderPayload:
        given = {k: v for k, v in plain(input).items() if k not in ("order_id", "idempotency_key")}
        fields = {k: v for k, v in given.items() if v is not None}
        return order_payload(
            await change(
                info, "editOrder", input, lambda: commands.EditOrder.model_validate(fields)
            )
        )

    @strawberry.mutation(
        description="Delete an order upstream (B2B), while it is PENDING or CONFIRMED and "
        "has no changes queued; not queued itself. Elsewhere UNSUPPORTED_BY_BACKEND.",
        permission_classes=[Requires.ORDERS_WRITE],
    )
    async def delete_order(self, info: Info, input: DeleteOrderInput) -> DeleteOrderPayload:
        raw = plain(input)
        raw.pop("idempotency_key", None)
        response = await resolve.delete_order(
            info.context,
            raw_order_id=str(input.order_id),
            idempotency_key=input.idempotency_key,
            raw_input=raw,
        )
        return DeleteOrderPayload(
            deleted_order_id=None
            if response.deleted_order_id is None
            else strawberry.ID(response.deleted_order_id),
            user_errors=[UserError.from_error(e) for e in response.errors],
        )

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
        description="Create an order upstream (B2B: `b2b`; AFFILIATE: `affiliate`), checked "
        "against the upstream's rules; nothing is created when one is broken.",
        permission_classes=[Requires.ORDERS_CREATE],
    )
    async def create_order(self, info: Info, input: CreateOrderInput) -> OrderPayload:
        raw = plain(input)
        raw.pop("idempotency_key", None)
        part = "affiliate" if input.source is OrderSource.AFFILIATE else "b2b"
        response = await resolve.create_order(
            info.context,
            source=input.source,
            part=part,
            build=lambda: new_order(input),
            idempotency_key=input.idempotency_key,
            raw_input=raw,
        )
        return order_payload(response)


def new_order(input: CreateOrderInput) -> commands.NewOrder:
    """The command of the input's part for its source; the other part must be left out."""
    wanted, other = (
        ("affiliate", "b2b") if input.source is OrderSource.AFFILIATE else ("b2b", "affiliate")
    )
    if getattr(input, other) is not None:
        raise ValidationError(
            f"A {input.source.value} order is given in `{wanted}`; leave `{other}` out",
            field=["input", other],
        )
    if input.source is OrderSource.AFFILIATE and input.affiliate is not None:
        return affiliate_order(input.reference, input.affiliate)
    if input.b2b is None:
        raise ValidationError(f"Give the order in `{wanted}`", field=["input", wanted])
    return wholesale_order(input.reference, input.b2b)


def wholesale_order(reference: str | None, given: NewWholesaleOrderInput) -> commands.NewOrder:
    return commands.CreateWholesaleOrder(
        company_id=str(given.company_id),
        client_id=str(given.client_id),
        agent_id=str(given.agent_id),
        season_id=None if given.season_id is None else str(given.season_id),
        shipping_address_id=str(given.shipping_address_id),
        billing_address_id=str(given.billing_address_id),
        status_id=str(given.status_id),
        reference=reference,
        observation=given.observation,
        discount_percent=given.discount_percent,
        remote_id=given.remote_id,
        lines=tuple(
            commands.NewOrderLine(
                product_id=str(line.product_id),
                quantity=Decimal(str(line.quantity)),
                price=line.price,
                line_status_id=None if line.line_status_id is None else str(line.line_status_id),
                discount_percent=line.discount_percent,
                remote_id=line.remote_id,
            )
            for line in given.lines
        ),
    )


def affiliate_order(reference: str | None, given: NewAffiliateOrderInput) -> commands.NewOrder:
    if not given.affiliate_id.isdigit():
        raise ValidationError(
            "An affiliate is its number", field=["input", "affiliate", "affiliateId"]
        )
    # One validation of the whole part, so that a refusal names its path in the input.
    return commands.CreateAffiliateOrder.model_validate(
        {
            **plain(given),
            "reference": reference,
            "affiliate_id": int(given.affiliate_id),
            "shipping": given.shipping,
        }
    )
