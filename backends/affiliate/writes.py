"""Commands as the platform's write bodies, checked against the order before anything is sent.

The platform refuses (422) a split or an edit naming an item the order does not have, a
fractional quantity (items count whole units), a split that moves more than an item has or
everything, and a price with more than two decimals (``docs/upstreams/affiliate.md``,
"Writing orders"). Those are caught here as ``ValidationError``s naming the GraphQL input
field, so the upstream is never touched with a write it would refuse.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from backends.affiliate import wire
from backends.affiliate.commission import CENT
from domain.commands import EditOrderLines, LineEdit, SplitOrder
from domain.errors import ValidationError

# The platform's ``pending`` may only become ``confirmed`` or ``cancelled``
# (``GET /api/v1/order-statuses``), while the canonical PENDING may go straight to
# PROCESSING, and an order may be dispatched from pending: such an order is confirmed
# first, then moved on, as two status updates in this order.
STEPS_FROM_PENDING: dict[str, tuple[wire.OrderStatusCode, ...]] = {
    "processing": ("confirmed", "processing"),
    "dispatched": ("confirmed", "dispatched"),
}


def status_steps(current: str, target: wire.OrderStatusCode) -> tuple[wire.OrderStatusCode, ...]:
    """The platform statuses to set, in order, to move an order from ``current`` to ``target``."""
    if current == "pending":
        return STEPS_FROM_PENDING.get(target, (target,))
    return (target,)


def line_field(index: int, name: str) -> list[str]:
    return ["input", "lines", str(index), name]


def whole_units(quantity: Decimal, index: int) -> int:
    """The platform counts items in whole units; a fraction is refused before sending."""
    if quantity != quantity.to_integral_value():
        raise ValidationError(
            f"The affiliate platform counts whole units; {quantity} is not one",
            field=line_field(index, "quantity"),
        )
    return int(quantity)


def items_by_line_id(order: wire.Order, line_ids: list[str | None]) -> dict[int, wire.Item]:
    """The order's items each given line id names; an unknown or repeated id is refused."""
    own = {str(item.id): item for item in order.items}
    found: dict[int, wire.Item] = {}
    seen: set[str] = set()
    for index, line_id in enumerate(line_ids):
        if line_id is None:
            continue
        item = own.get(line_id)
        if item is None:
            raise ValidationError(
                f"Order {order.order_number} has no line '{line_id}'",
                field=line_field(index, "lineId"),
            )
        if line_id in seen:
            raise ValidationError(
                f"Line '{line_id}' is named twice", field=line_field(index, "lineId")
            )
        seen.add(line_id)
        found[index] = item
    return found


def split_request(order: wire.Order, command: SplitOrder) -> wire.SplitRequest:
    """``POST .../split``: every named line exists, moves 1..its quantity, and something stays."""
    items = items_by_line_id(order, [line.line_id for line in command.lines])
    moved: list[wire.SplitItem] = []
    for index, line in enumerate(command.lines):
        item, quantity = items[index], whole_units(line.quantity, index)
        if quantity > item.quantity:
            raise ValidationError(
                f"Line '{line.line_id}' has {item.quantity} unit(s); {quantity} cannot move",
                field=line_field(index, "quantity"),
            )
        moved.append(wire.SplitItem(item_id=item.id, quantity=quantity))
    moving = {part.item_id: part.quantity for part in moved}
    if all(moving.get(item.id) == item.quantity for item in order.items):
        raise ValidationError(
            f"Moving every unit of every line would leave order {order.order_number} empty",
            field=["input", "lines"],
        )
    return wire.SplitRequest(items=moved)


def price_in_cents(price: Decimal, index: int) -> Decimal:
    if price != price.quantize(CENT):
        raise ValidationError(
            f"The affiliate platform keeps prices in cents; {price} has more decimals",
            field=line_field(index, "unitPrice"),
        )
    return price.quantize(CENT)


def edit_request(order: wire.Order, command: EditOrderLines) -> wire.OrderEdit:
    """``PUT /api/v1/orders/{id}`` with the complete new ``items`` list.

    A line with ``line_id`` keeps that item (and its id), changing what the edit gives; a
    line without is a new item. The platform has no product catalog (an item is its sku,
    name and price), so a new line needs a ``sku`` and a ``unitPrice`` and any sku goes.
    """
    existing = items_by_line_id(order, [line.line_id for line in command.lines])
    # Every item of an order is taxed at its shipping country's rate (see the document's
    # sums); a new item takes that rate from the order's first item.
    tax_rate = order.items[0].tax_rate
    items = [
        edited_item(existing[index], line, index)
        if index in existing
        else new_item(line, index, tax_rate)
        for index, line in enumerate(command.lines)
    ]
    return wire.OrderEdit(items=items)


def edited_item(item: wire.Item, line: LineEdit, index: int) -> wire.ItemInput:
    """An existing item with the edit applied; its discount scales with its new gross amount,
    as the platform scales a discount for a split (``docs/upstreams/affiliate.md``)."""
    quantity = whole_units(line.quantity, index)
    unit_price = (
        item.unit_price if line.unit_price is None else price_in_cents(line.unit_price, index)
    )
    old_gross, new_gross = item.quantity * item.unit_price, quantity * unit_price
    discount = (
        (item.discount * new_gross / old_gross).quantize(CENT, rounding=ROUND_HALF_UP)
        if old_gross
        else Decimal("0.00")
    )
    return wire.ItemInput(
        id=item.id,
        sku=line.sku or item.sku,
        # The platform has one text per item, ``name``: a line's description replaces it.
        name=line.description or item.name,
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        tax_rate=item.tax_rate,
    )


def new_item(line: LineEdit, index: int, tax_rate: Decimal) -> wire.ItemInput:
    """A new item (no discount: the coupon's discounts were given when the order was placed)."""
    if not line.sku:
        raise ValidationError("A new line needs a sku", field=line_field(index, "sku"))
    if line.unit_price is None:
        raise ValidationError(
            f"A new line ('{line.sku}') needs a unit price: the affiliate platform has no "
            "product catalog to take it from",
            field=line_field(index, "unitPrice"),
        )
    return wire.ItemInput(
        sku=line.sku,
        name=line.description or line.sku,
        quantity=whole_units(line.quantity, index),
        unit_price=price_in_cents(line.unit_price, index),
        tax_rate=tax_rate,
    )
