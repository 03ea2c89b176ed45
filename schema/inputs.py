"""The mutations' input types."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.enums import OrderSource, OrderStatus

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


@strawberry.input(
    description="Mark an order's shipment sent without a despatch advice (WEBSHOP: doc 001 "
    "step 4, for orders whose delivery is not sent as a DESADV, offline orders included)."
)
class MarkShippedInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
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
