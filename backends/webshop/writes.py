"""WEBSHOP writes: the gateway's commands as CloudSuite's own order flow (doc 001, steps 3-4).

``OrderWrites`` checks the command against the order as read (and against the product
catalogue) before anything is sent, then makes the document's calls in order, answering the
order as CloudSuite's last ``PATCH``/``PUT`` answered it. Mapping it is the adapter's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backends.cache import TtlCache
from backends.webshop import wire
from backends.webshop.client import CloudSuiteClient
from backends.webshop.desadv import Desadv, LineItem, to_xml
from domain.commands import Dispatch, EditOrderLines, LineEdit, SetErpOrderNumber
from domain.errors import ConflictError, NotFoundError, UpstreamRejectedError, ValidationError

CATALOG_PAGE = 100  # CloudSuite's LimitOffsetPagination cap
UNCONFIRMED = frozenset({"draft", "quotation"})
PLANNED_DELIVERY_DAYS = 1  # the DESADV's PlannedDeliveryDate: the day after it is sent
ALREADY_RECEIVED = 409  # CloudSuite's answer to a DESADV number it has taken before


def state_steps(current: str, target: str) -> list[str]:
    """The states to ``PATCH`` in order to take an order from ``current`` to ``target``.

    CloudSuite processes or finishes only confirmed orders (doc 001: confirmed -> processing;
    the simulator's ``TRANSITIONS``), so a draft or quotation is confirmed first.
    """
    if current == target:
        return []
    if current in UNCONFIRMED and target in ("processing", "done"):
        return ["confirmed", target]
    return [target]


def desadv_lines(order: wire.Order, erp_order_number: str) -> tuple[LineItem, ...]:
    """What a DESADV still has to cover: each line's quantity not yet sent (matched by ERP
    line number, doc 001 step 3: ``dispatch`` refuses an order with a line without one)."""
    shipped = order.shipped_quantities()
    lines = []
    for line in _product_lines(order):
        if line.erp_line_number is None:
            continue
        outstanding = line.quantity - shipped.get(line.erp_line_number, Decimal(0))
        if outstanding > 0:
            lines.append(
                LineItem(line.erp_line_number, erp_order_number, outstanding, line.product.key)
            )
    return tuple(lines)


def desadv_number(idempotency_key: str) -> str:
    """The DESADV's unique number, the same for every attempt of one change: CloudSuite takes
    a number once, so a redelivery after an unknown outcome cannot post a second DESADV."""
    return "OG" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:18].upper()


def numbered_lines(order: wire.Order, command: SetErpOrderNumber) -> list[wire.OrderLineWrite]:
    """Every line of ``order`` for the ``PUT``, with the ERP line numbers ``command`` sets."""
    known = _lines_by_id(order)
    numbers: dict[int, int] = {}
    for index, named in enumerate(command.lines):
        line = known.get(named.line_id)
        if line is None:
            raise ValidationError(
                f"Order {order.id} has no line {named.line_id!r}",
                field=["input", "lines", str(index), "lineId"],
            )
        numbers[line.id] = named.erp_line_number
    return [
        _as_write(line, erp_line_number=numbers.get(line.id, line.erp_line_number))
        for line in order.order_lines
    ]


def check_line_edits(order: wire.Order, edits: Sequence[LineEdit]) -> dict[int, str]:
    """Refuse line ids the order does not have (or that repeat) and new lines without a sku.

    Returns, by the edit's index, the product keys the catalogue has to know: those of new
    lines and of lines given another product.
    """
    known = _lines_by_id(order)
    seen: set[str] = set()
    new_products: dict[int, str] = {}
    for index, edit in enumerate(edits):
        field = ["input", "lines", str(index)]
        if edit.line_id is None:
            if edit.sku is None:
                raise ValidationError("A new line needs a sku", field=[*field, "sku"])
            new_products[index] = edit.sku
            continue
        line = known.get(edit.line_id)
        if line is None:
            raise ValidationError(
                f"Order {order.id} has no line {edit.line_id!r}", field=[*field, "lineId"]
            )
        if edit.line_id in seen:
            raise ValidationError(f"Line {edit.line_id!r} is named twice", field=[*field, "lineId"])
        seen.add(edit.line_id)
        if edit.sku is not None and edit.sku != line.product.key:
            new_products[index] = edit.sku
    return new_products


def check_products(skus: Mapping[int, str], catalog: Mapping[str, wire.CatalogProduct]) -> None:
    """Refuse a product key the catalogue does not have (CloudSuite's ``PUT`` would)."""
    for index, sku in skus.items():
        if sku not in catalog:
            raise ValidationError(
                f"No product with key {sku!r} exists in CloudSuite",
                field=["input", "lines", str(index), "sku"],
            )


def edited_lines(
    order: wire.Order, edits: Sequence[LineEdit], catalog: Mapping[str, wire.CatalogProduct]
) -> list[wire.OrderLineWrite]:
    """The order's lines after checked ``edits``, for the ``PUT``.

    A line keeps its id, ERP line number and whatever the edit leaves out. A new product
    (a new line, or another sku on a line) starts from the catalogue's description and
    price unless the edit gives them. Shipping lines are not the domain's lines: they stay.
    """
    known = _lines_by_id(order)
    lines = [_edited_line(known, edit, catalog) for edit in edits]
    return lines + [_as_write(line) for line in order.order_lines if line.type != "line"]


def _edited_line(
    known: Mapping[str, wire.OrderLine],
    edit: LineEdit,
    catalog: Mapping[str, wire.CatalogProduct],
) -> wire.OrderLineWrite:
    line = None if edit.line_id is None else known[edit.line_id]
    if line is not None and edit.sku in (None, line.product.key):
        return _as_write(
            line,
            quantity=edit.quantity,
            description=line.description if edit.description is None else edit.description,
            price=line.price if edit.unit_price is None else edit.unit_price,
        )
    assert edit.sku is not None  # check_line_edits refused a new line without one
    product = catalog[edit.sku]
    return wire.OrderLineWrite(
        id=None if line is None else line.id,
        product=wire.Product(key=product.key, origin=product.origin),
        description=edit.description,  # None: the product's own, as CloudSuite fills it in
        quantity=edit.quantity,
        erp_line_number=None if line is None else line.erp_line_number,
        price=edit.unit_price,  # None: the catalogue price
    )


def _product_lines(order: wire.Order) -> list[wire.OrderLine]:
    """The lines the domain sees (``to_order``): shipping lines are totals, not lines."""
    return [line for line in order.order_lines if line.type == "line"]


def _lines_by_id(order: wire.Order) -> dict[str, wire.OrderLine]:
    return {str(line.id): line for line in _product_lines(order)}


def _as_write(line: wire.OrderLine, **changes: object) -> wire.OrderLineWrite:
    """A line as read, in the ``PUT`` shape (its id kept so CloudSuite keeps the line)."""
    return wire.OrderLineWrite.model_validate(line.model_dump() | changes)


def order_write(order: wire.Order, lines: Sequence[wire.OrderLineWrite]) -> wire.OrderWrite:
    """The full order for ``PUT /api/order/{id}/`` (doc step 3c): its fields as read, ``lines``."""
    fields = order.model_dump(include=set(wire.OrderFields.model_fields))
    return wire.OrderWrite(**fields, order_lines=list(lines))


def product_catalog(client: CloudSuiteClient) -> TtlCache[dict[str, wire.CatalogProduct]]:
    """CloudSuite's products by key, read whole at most once per TTL."""

    async def read_all() -> dict[str, wire.CatalogProduct]:
        products: list[wire.CatalogProduct] = []
        while True:
            page = await client.list_products({"limit": CATALOG_PAGE, "offset": len(products)})
            products.extend(page.results)
            if page.next is None or not page.results:
                return {product.key: product for product in products}

    return TtlCache(read_all)


class OrderWrites:
    """Each command as CloudSuite calls, sent only after the command has been checked."""

    def __init__(self, client: CloudSuiteClient) -> None:
        self.client = client
        self.catalog = product_catalog(client)

    async def current(self, order_id: int) -> wire.Order:
        """The order as CloudSuite has it now; ``NotFoundError`` when it has none."""
        order = await self.client.get_order(order_id)
        if order is None:
            raise NotFoundError(f"CloudSuite has no order {order_id}")
        return order

    async def update_status(
        self, order: wire.Order, state: str, idempotency_key: str
    ) -> wire.Order:
        """``PATCH {"state"}`` (doc step 3), once per step ``state_steps`` gives; the order as
        the last ``PATCH`` answered it."""
        for step in state_steps(order.state, state):
            order = await self.client.patch_order(
                order.id, wire.OrderPatch(state=step), idempotency_key=idempotency_key
            )
        return order

    async def dispatch(self, order: wire.Order, command: Dispatch, idempotency_key: str) -> None:
        """The XML DESADV (doc step 3d, ``desadv.py``) with the consignment number as track &
        trace, for the order's webshop and user, matched by its ERP order number.

        CloudSuite sets ``shipment_state`` to ``sent`` with it, so step 4's ``PATCH`` is not
        needed. The DESADV has no field for a tracking URL: it is not sent. Its number comes
        from the change (``desadv_number``): CloudSuite refusing it as already received means
        an earlier attempt of this same change arrived, which is this change done.
        """
        if any(d.track_and_trace == command.consignment_number for d in order.deliveries):
            raise ConflictError(
                f"A DESADV for consignment {command.consignment_number!r} was sent for this "
                "order already; CloudSuite takes a DESADV once",
                field=["input", "consignmentNumber"],
            )
        if not order.erp_order_number:
            raise ValidationError(
                "CloudSuite matches a DESADV by the ERP order number, which this order has not "
                "got: set it first (setErpOrderNumber), or mark the order shipped without a "
                "DESADV (markShipped)",
                field=["input", "orderId"],
            )
        unnumbered = [line.id for line in _product_lines(order) if line.erp_line_number is None]
        if unnumbered:
            raise ValidationError(
                "CloudSuite matches a DESADV's lines by ERP line number (doc 001: the ERP "
                f"order number and lines must be sent); lines {unnumbered} have none: set them "
                "with setErpOrderNumber first",
                field=["input", "orderId"],
            )
        today = datetime.now(UTC).date()
        document = Desadv(
            number=desadv_number(idempotency_key),
            desadv_date=today,
            planned_delivery_date=today + timedelta(days=PLANNED_DELIVERY_DAYS),
            order_num=order.erp_order_number,
            track_and_trace=command.consignment_number,
            carrier=command.carrier,
            lines=desadv_lines(order, order.erp_order_number),
        )
        try:
            await self.client.send_desadv(
                to_xml(document),
                shop=order.webshop,
                user=order.user,
                idempotency_key=idempotency_key,
            )
        except UpstreamRejectedError as refusal:
            if refusal.status != ALREADY_RECEIVED:
                raise

    async def mark_shipped(self, order: wire.Order, idempotency_key: str) -> wire.Order:
        """``PATCH {"shipment_state": "sent"}`` (doc step 4): shipped without a DESADV, as the
        document allows, offline orders included."""
        return await self.client.patch_order(
            order.id, wire.OrderPatch(shipment_state="sent"), idempotency_key=idempotency_key
        )

    async def set_erp_order_number(
        self, order: wire.Order, command: SetErpOrderNumber, idempotency_key: str
    ) -> wire.Order:
        """``PATCH {"erp_order_number"}`` (step 3b), then the lines' numbers by ``PUT`` (3c).

        The ``PUT`` is built from the ``PATCH``'s answer, so it carries the new ERP number;
        without line numbers to set it would change nothing and is not sent.
        """
        lines = numbered_lines(order, command)
        patched = await self.client.patch_order(
            order.id,
            wire.OrderPatch(erp_order_number=command.erp_order_number),
            idempotency_key=idempotency_key,
        )
        if not command.lines:
            return patched
        return await self.client.put_order(
            order.id, order_write(patched, lines), idempotency_key=idempotency_key
        )

    async def edit_lines(
        self, order: wire.Order, command: EditOrderLines, idempotency_key: str
    ) -> wire.Order:
        """The full ``PUT`` (doc step 3c) with the edited lines in place of the old ones."""
        new_products = check_line_edits(order, command.lines)
        catalog = await self.catalog.get() if new_products else {}
        check_products(new_products, catalog)
        lines = edited_lines(order, command.lines, catalog)
        return await self.client.put_order(
            order.id, order_write(order, lines), idempotency_key=idempotency_key
        )
