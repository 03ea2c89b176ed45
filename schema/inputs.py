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


@strawberry.input(description="Move one line to another status of the upstream's catalog (B2B).")
class SetLineStatusInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    line_id: strawberry.ID = strawberry.field(description="The line's id (`OrderLine.id`).")
    status: str = strawberry.field(
        description="A line status id of the upstream (`catalog(source:).lineStatuses`)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="A postal address.")
class AddressInput:
    name: str | None = strawberry.field(default=None, description="Who receives it.")
    street: str | None = strawberry.field(default=None, description="Street and number.")
    city: str | None = strawberry.field(default=None, description="City.")
    state: str | None = strawberry.field(default=None, description="State or province.")
    postal_code: str | None = strawberry.field(default=None, description="Postal code.")
    country: str | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 country code, e.g. NL."
    )


@strawberry.input(
    description="Change an order's addresses, shipping method, coupon or note (AFFILIATE: "
    "addresses, coupon and note; each given replaces the order's own, at least one given)."
)
class EditOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    shipping_address: AddressInput | None = strawberry.field(
        default=None, description="The new shipping address (street, city and country)."
    )
    billing_address: AddressInput | None = strawberry.field(
        default=None, description="The new billing address (street, city and country)."
    )
    shipping_method: str | None = strawberry.field(
        default=None, description="A shipping method, where the upstream has methods."
    )
    coupon_code: str | None = strawberry.field(default=None, description="A coupon code.")
    note: str | None = strawberry.field(default=None, description="A note on the order.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input(description="Delete an order upstream (B2B, before it is worked on).")
class DeleteOrderInput:
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


@strawberry.input(description="A line of a new B2B order.")
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
    remote_id: str | None = strawberry.field(
        default=None, description="The merchant ERP's id of the line (B2B `idRemote`)."
    )


@strawberry.input(
    description="The B2B part of a new order: every id is the B2B API's own "
    "(`catalog(source: B2B)` lists them)."
)
class NewWholesaleOrderInput:
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
    observation: str | None = strawberry.field(default=None, description="Free text.")
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="Order discount in percent."
    )
    remote_id: str | None = strawberry.field(
        default=None, description="The merchant ERP's id of the order (B2B `idRemote`)."
    )
    lines: list[NewOrderLineInput] = strawberry.field(description="The order's lines.")


@strawberry.input(description="The customer of a new affiliate order.")
class NewCustomerInput:
    name: str = strawberry.field(description="The customer's name.")
    email: str = strawberry.field(description="The customer's e-mail address.")
    phone: str | None = strawberry.field(default=None, description="A phone number.")


@strawberry.input(description="An item of a new affiliate order.")
class NewAffiliateItemInput:
    sku: str = strawberry.field(description="The product's SKU.")
    name: str = strawberry.field(description="The product's name as the order shows it.")
    quantity: int = strawberry.field(description="Whole units, at least 1.")
    unit_price: Decimal = strawberry.field(description="Price of one unit, 2 decimals.")
    discount: Decimal = strawberry.field(
        default=Decimal("0.00"), description="Discount on the item (at most its total)."
    )
    tax_rate: Decimal = strawberry.field(description="Tax rate in percent.")


@strawberry.input(
    description="The AFFILIATE part of a new order: the platform's insert order call; the "
    "order starts pending, with its commission computed by the platform's rule."
)
class NewAffiliateOrderInput:
    affiliate_id: strawberry.ID = strawberry.field(description="The affiliate that sold it.")
    currency: str = strawberry.field(description="ISO 4217 currency, e.g. EUR.")
    customer: NewCustomerInput = strawberry.field(description="Who ordered.")
    shipping_address: AddressInput = strawberry.field(
        description="Where it goes (street, city and country needed)."
    )
    billing_address: AddressInput | None = strawberry.field(
        default=None, description="Where the invoice goes (default: the shipping address)."
    )
    items: list[NewAffiliateItemInput] = strawberry.field(description="At least one item.")
    shipping: Decimal = strawberry.field(default=Decimal("0.00"), description="Shipping cost.")
    coupon_code: str | None = strawberry.field(default=None, description="A coupon code.")
    note: str | None = strawberry.field(default=None, description="A note on the order.")


@strawberry.input(
    description="A new order for a backend that takes orders: `source` and the part of that "
    "source (`b2b` or `affiliate`; the other left out)."
)
class CreateOrderInput:
    source: OrderSource = strawberry.field(
        default=OrderSource.B2B, description="Which backend creates it (B2B or AFFILIATE)."
    )
    reference: str | None = strawberry.field(
        default=None,
        description="Your reference (AFFILIATE: the order number; generated if left out).",
    )
    b2b: NewWholesaleOrderInput | None = strawberry.field(
        default=None, description="The order, when `source` is B2B."
    )
    affiliate: NewAffiliateOrderInput | None = strawberry.field(
        default=None, description="The order, when `source` is AFFILIATE."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)
