"""The simulated CloudSuite's data: seeded customers, addresses, orders and deliveries.

``ShopState`` holds everything one simulator serves, seeds it from ``random.Random(seed)``
and ``backends/simkit/fake.py`` (never the clock), filters and sorts it as django-filter
and DRF's ``OrderingFilter`` would, renders it in CloudSuite's JSON, and applies writes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.datastructures import QueryParams

from backends.simkit import fake
from backends.simkit.app import SimConfig
from backends.webshop import wire
from backends.webshop.desadv import Desadv

FIRST_ORDER_ID = 12301  # so the document's own examples (``/api/order/12345/``) hit an order
WEBSHOPS = (1, 2)
REPEAT_EVERY = 40  # one order in 40 repeats the reference of the order before it
OFFLINE_EVERY = 12  # one order in 12 is an offline order
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}  # django-filter's BooleanFilter
STATES = ("draft", "quotation", "confirmed", "processing", "done", "cancel")
SHIPMENT_STATES = ("not_sent", "sent")
# Where each state may go next (the document's flow: confirmed -> processing -> done).
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"quotation", "confirmed", "cancel"}),
    "quotation": frozenset({"draft", "confirmed", "cancel"}),
    "confirmed": frozenset({"processing", "done", "cancel"}),
    "processing": frozenset({"done", "cancel"}),
    "done": frozenset(),
    "cancel": frozenset(),
}
ORDERING_FIELDS = ("id", "reference", "created_date", "modified_date", "confirm_date")

SHIPPING_KEY = "SHIPPING"
# product key -> (description, price incl. VAT, VAT rate %); the document's sample keys included.
CATALOG: dict[str, tuple[str, Decimal, Decimal]] = {
    **{
        sku: (name, price, Decimal("9") if sku == "COFFEE-1KG" else Decimal("21"))
        for sku, name, price in fake.PRODUCTS
    },
    "124_STUK": ("Sample article per piece", Decimal("3.50"), Decimal("21")),
    "123_KG": ("Sample article per kg", Decimal("7.80"), Decimal("9")),
    SHIPPING_KEY: ("Shipping costs", Decimal("4.95"), Decimal("21")),
}
DISCOUNT_CODES = {"WELCOME10": Decimal("0.10"), "SUMMER15": Decimal("0.15")}


def iso(moment: datetime | None) -> str | None:
    """DRF's ``DateTimeField`` output: ISO 8601, UTC written as ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_moment(value: str) -> datetime:
    """A filter or body timestamp; naive ones are UTC (the simulator's time zone)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


class InvalidRequest(Exception):
    """A 400 with DRF's field-keyed error body."""

    def __init__(self, errors: Mapping[str, Any]) -> None:
        super().__init__(json.dumps(errors))
        self.errors = dict(errors)


class ShopState:
    """Every customer, address, order and delivery of the simulated CloudSuite."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        rng = random.Random(self.config.seed)
        self.customers: dict[int, dict[str, Any]] = {}
        self.addresses: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.deliveries: dict[int, dict[str, Any]] = {}
        self.desadv_numbers: dict[str, int] = {}  # DESADV number -> the delivery it made
        self._next_line_id = 50001
        self._next_delivery_id = 7001
        for index in range(max(10, self.config.orders // 3)):
            self._seed_customer(rng, 1301 + index)
        references = rng.sample(range(40000, 99999), self.config.orders)
        for index, reference in enumerate(references):
            self._seed_order(rng, FIRST_ORDER_ID + index, f"CS{reference}")
        # Document 001: a reference can repeat across webshops ("If multiple records are
        # returned also add the webshop as a parameter"): a few orders share the reference
        # of the order before them, in the other webshop.
        for order_id in range(
            FIRST_ORDER_ID + REPEAT_EVERY, FIRST_ORDER_ID + len(references), REPEAT_EVERY
        ):
            earlier = self.orders[order_id - 1]
            self.orders[order_id]["reference"] = earlier["reference"]
            self.orders[order_id]["webshop"] = next(w for w in WEBSHOPS if w != earlier["webshop"])
        self._seat_regular(fake.regular(self.config.seed))

    def _seat_regular(self, regular: fake.Person) -> None:
        """The customer of the first order is the shopper every simulator has (its name and
        e-mail; the rest of its seeded data stays)."""
        customer = self.customers[self.orders[FIRST_ORDER_ID]["customer"]]
        customer.update(
            first_name=regular.first_name, last_name=regular.last_name, email=regular.email
        )
        self.addresses[customer["address"]]["name"] = regular.name

    def _seed_customer(self, rng: random.Random, customer_id: int) -> None:
        person = fake.person(rng)
        street, _, house_number = person.street.rpartition(" ")
        address_id = 1601 + len(self.addresses)
        self.addresses[address_id] = {
            "id": address_id,
            "name": person.name,
            "street": street,
            "house_number": house_number,
            "zip_code": person.postal_code,
            "city": person.city,
            "country": person.country,
        }
        self.customers[customer_id] = {
            "id": customer_id,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "address": address_id,
            "user": 1201 + len(self.customers) if rng.random() < 0.7 else None,
        }

    def _new_line(self, key: str, quantity: Decimal, erp_line_number: int | None) -> dict[str, Any]:
        description, price, vat_rate = CATALOG[key]
        line_id, self._next_line_id = self._next_line_id, self._next_line_id + 1
        return {
            "id": line_id,
            "product": {"key": key, "origin": "cloudsuite"},
            "description": description,
            "type": "shipping" if key == SHIPPING_KEY else "line",
            "quantity": quantity,
            "erp_line_number": erp_line_number,
            "price": price,
            "vat_rate": vat_rate,
        }

    def _seed_order(self, rng: random.Random, order_id: int, reference: str) -> None:
        customer = self.customers[rng.choice(list(self.customers))]
        state = rng.choices(STATES, weights=[4, 4, 25, 25, 32, 10])[0]
        in_erp = state in ("processing", "done") or (state == "confirmed" and rng.random() < 0.3)
        created = fake.moment(rng)
        confirmed = (
            None if state in ("draft", "quotation") else fake.later(rng, created, max_days=1)
        )
        products = rng.sample(fake.PRODUCTS, rng.choices([1, 2, 3, 4], weights=[50, 25, 15, 10])[0])
        lines = [
            self._new_line(sku, Decimal(rng.randint(1, 3)), 10 * (n + 1) if in_erp else None)
            for n, (sku, _, _) in enumerate(products)
        ]
        subtotal = sum(line["price"] * line["quantity"] for line in lines)
        if subtotal < 50:
            lines.append(self._new_line(SHIPPING_KEY, Decimal(1), None))
        discount_code = rng.choice([*DISCOUNT_CODES, None, None, None, None, None, None, None])
        sent_share = {"done": 0.85, "processing": 0.4, "confirmed": 0.08}.get(state, 0.0)
        shipment_state = "sent" if rng.random() < sent_share else "not_sent"
        order = {
            "id": order_id,
            "reference": reference,
            "customer": customer["id"],
            "webshop": rng.choice(WEBSHOPS),
            "user": customer["user"],
            "erp_order_number": f"ERP-{rng.randint(100000, 999999)}" if in_erp else None,
            "state": state,
            "payment_status": self._seed_payment_status(rng, state),
            "shipment_state": shipment_state,
            # Document 001: offline orders (placed offline, not in the shop) exist beside
            # the online ones; one in OFFLINE_EVERY is.
            "offline": order_id % OFFLINE_EVERY == 0,
            "currency": rng.choice(fake.CURRENCIES),
            "discount_code": discount_code,
            "discount_amount": fake.money(subtotal * DISCOUNT_CODES[discount_code])
            if discount_code
            else Decimal("0.00"),
            "order_lines": lines,
            "shipment_address": customer["address"],
            "invoice_address": customer["address"],
            "confirm_date": confirmed,
            "created_date": created,
            "modified_date": created,
            # The shopper's own order number, where the shop asked for one (one in three).
            "customer_order_number": f"PO-{order_id}" if order_id % 3 == 0 else None,
        }
        last_event = confirmed or created
        if shipment_state == "sent" and in_erp and rng.random() < 0.8:
            last_event = self._seed_deliveries(rng, order, last_event)
        order["modified_date"] = fake.later(rng, last_event, max_days=10)
        self.orders[order_id] = order

    @staticmethod
    def _seed_payment_status(rng: random.Random, state: str) -> str:
        if state == "cancel":
            return rng.choice(["closed_canceled", "closed_canceled", "none"])
        if state in ("draft", "quotation"):
            return rng.choice(["started", "none"])
        options = ["paid", "closed_success", "account", "none"]
        return rng.choices(
            [*options, "started"], weights=[40, 30, 20, 10, 8 if state == "confirmed" else 0]
        )[0]

    def _seed_deliveries(
        self, rng: random.Random, order: dict[str, Any], start: datetime
    ) -> datetime:
        product_lines = [line for line in order["order_lines"] if line["type"] == "line"]
        parts = [product_lines]
        if len(product_lines) > 1 and rng.random() < 0.3:
            parts = [product_lines[:1], product_lines[1:]]
        moment = start
        for part in parts:
            moment = fake.later(rng, moment, max_days=4)
            carrier = rng.choice(fake.CARRIERS)
            self._record_delivery(
                order,
                track_and_trace=f"3S{carrier[:3].upper()}{rng.randint(10**9, 10**10 - 1)}",
                carrier=carrier,
                date=moment,
                lines=[(line["erp_line_number"], line["quantity"]) for line in part],
            )
        return moment

    def _record_delivery(
        self,
        order: dict[str, Any],
        *,
        track_and_trace: str,
        carrier: str | None,
        date: datetime,
        lines: list[tuple[int, Decimal]],
    ) -> dict[str, Any]:
        delivery_id, self._next_delivery_id = self._next_delivery_id, self._next_delivery_id + 1
        delivery = {
            "id": delivery_id,
            "order": order["id"],
            "track_and_trace": track_and_trace,
            "carrier": carrier,
            "date": date,
            "lines": [{"erp_line_number": number, "quantity": qty} for number, qty in lines],
        }
        self.deliveries[delivery_id] = delivery
        return delivery

    # -- reads ---------------------------------------------------------------------------

    def select(self, params: QueryParams) -> list[dict[str, Any]]:
        """The orders the django-filter style filters in ``params`` keep, ordered."""
        orders = list(self.orders.values())
        for keep in self._filters(params).values():
            orders = [order for order in orders if keep(order)]
        return self._order_by(orders, params.get("ordering", ""))

    def _filters(self, params: QueryParams) -> dict[str, Callable[[dict[str, Any]], bool]]:
        filters: dict[str, Callable[[dict[str, Any]], bool]] = {}
        errors: dict[str, list[str]] = {}

        def value(name: str) -> str | None:
            return params.get(name) or None  # django-filter ignores empty values

        if (state := value("state")) is not None:
            if state not in STATES:
                errors["state"] = [
                    f"Select a valid choice. {state} is not one of the available choices."
                ]
            filters["state"] = lambda order: order["state"] == state
        if (states := value("state__in")) is not None:
            wanted = set(states.split(","))
            if not wanted <= set(STATES):
                errors["state__in"] = [
                    "Select a valid choice. That choice is not one of the available choices."
                ]
            filters["state__in"] = lambda order: order["state"] in wanted
        for name, field, after in (
            ("confirm_date__gte", "confirm_date", True),
            ("confirm_date__lte", "confirm_date", False),
            ("modified_date__gte", "modified_date", True),
        ):
            if (raw := value(name)) is None:
                continue
            try:
                bound = parse_moment(raw)
            except ValueError:
                errors[name] = ["Enter a valid date/time."]
                continue
            filters[name] = _date_filter(field, bound, after=after)
        if (offline := value("offline")) is not None:
            if offline.lower() not in BOOLEANS:
                errors["offline"] = ["Select a valid choice."]
            else:
                wanted_offline = BOOLEANS[offline.lower()]
                filters["offline"] = lambda order: order["offline"] is wanted_offline
        if (reference := value("reference")) is not None:
            filters["reference"] = lambda order: order["reference"] == reference
        for name, field in (("webshop", "webshop"), ("id__in", "id")):
            if (raw := value(name)) is None:
                continue
            try:
                numbers = {int(part) for part in raw.split(",")}
            except ValueError:
                errors[name] = ["Enter a number."]
                continue
            filters[name] = _in_filter(field, numbers)
        if errors:
            raise InvalidRequest(errors)
        return filters

    @staticmethod
    def _order_by(orders: list[dict[str, Any]], ordering: str) -> list[dict[str, Any]]:
        """DRF ``OrderingFilter``: unknown fields are dropped; none left means ``-id``."""
        terms = [term.strip() for term in ordering.split(",")]
        terms = [term for term in terms if term.lstrip("-") in ORDERING_FIELDS] or ["-id"]
        for term in reversed(terms):  # stable sorts, least significant key first
            field = term.lstrip("-")
            # NULLs sort as the largest value, as in PostgreSQL.
            orders.sort(
                key=lambda order: (order[field] is None, order[field]), reverse=term[0] == "-"
            )
        return orders

    def render_order(self, order: dict[str, Any]) -> dict[str, Any]:
        """An order as the API serializes it: totals computed, related objects embedded."""
        lines = order["order_lines"]
        subtotal = sum((line_total(line) for line in lines if line["type"] == "line"), Decimal(0))
        shipping = sum((line_total(line) for line in lines if line["type"] != "line"), Decimal(0))
        discount = min(order["discount_amount"], subtotal)
        total = subtotal - discount + shipping
        # Prices include VAT; the discount lowers each rate's share alike.
        included_vat = sum(
            (line_total(line) * line["vat_rate"] / (100 + line["vat_rate"]) for line in lines),
            Decimal(0),
        )
        vat = included_vat * total / (subtotal + shipping) if subtotal + shipping else Decimal(0)
        customer = self.customers.get(order["customer"])
        deliveries = [d for d in self.deliveries.values() if d["order"] == order["id"]]
        return {
            "id": order["id"],
            "reference": order["reference"],
            "customer": order["customer"],
            "customer_details": None
            if customer is None
            else {key: customer[key] for key in ("id", "first_name", "last_name", "email")},
            "webshop": order["webshop"],
            "user": order["user"],
            "erp_order_number": order["erp_order_number"],
            "state": order["state"],
            "payment_status": order["payment_status"],
            "shipment_state": order["shipment_state"],
            "offline": order["offline"],
            "currency": order["currency"],
            "order_lines": [render_line(line) for line in lines],
            "discount_code": order["discount_code"],
            "subtotal": str(fake.money(subtotal)),
            "discount_amount": str(fake.money(discount)),
            "shipping_costs": str(fake.money(shipping)),
            "vat_amount": str(fake.money(vat)),
            "total": str(fake.money(total)),
            "shipment_address": order["shipment_address"],
            "shipment_address_details": self.addresses.get(order["shipment_address"]),
            "invoice_address": order["invoice_address"],
            "invoice_address_details": self.addresses.get(order["invoice_address"]),
            "confirm_date": iso(order["confirm_date"]),
            "created_date": iso(order["created_date"]),
            "modified_date": iso(order["modified_date"]),
            # CloudSuite's order also carries the day it was placed and its create_date
            # (the record's own creation), beside created_date.
            "create_date": iso(order["created_date"]),
            "order_date": order["created_date"].date().isoformat(),
            "customer_order_number": order["customer_order_number"],
            "deliveries": [render_delivery(delivery) for delivery in deliveries],
        }

    # -- writes --------------------------------------------------------------------------

    def change_state(self, order: dict[str, Any], state: str) -> None:
        """Move ``order`` to ``state`` if the flow allows it (staying put always does)."""
        if state not in STATES:
            raise InvalidRequest({"state": [f'"{state}" is not a valid choice.']})
        if state != order["state"] and state not in TRANSITIONS[order["state"]]:
            raise InvalidRequest(
                {"state": [f'Cannot change state from "{order["state"]}" to "{state}".']}
            )
        if state == "confirmed" and order["confirm_date"] is None:
            order["confirm_date"] = now()
        order["state"] = state

    def patch(self, order: dict[str, Any], body: wire.OrderPatch) -> None:
        """``PATCH``: only the fields sent change; DRF ignores the ones it does not know."""
        sent = body.model_fields_set
        if "shipment_state" in sent and body.shipment_state not in SHIPMENT_STATES:
            raise InvalidRequest(
                {"shipment_state": [f'"{body.shipment_state}" is not a valid choice.']}
            )
        if "state" in sent:
            if body.state is None:
                raise InvalidRequest({"state": ["This field may not be null."]})
            self.change_state(order, body.state)
        if "erp_order_number" in sent:
            order["erp_order_number"] = body.erp_order_number
        if "shipment_state" in sent:
            order["shipment_state"] = body.shipment_state
        order["modified_date"] = now()

    def put(self, order: dict[str, Any], body: wire.OrderWrite) -> None:
        """``PUT``: the whole order; its lines replace the old ones (doc step 3c)."""
        errors: dict[str, Any] = {}
        if body.customer is not None and body.customer not in self.customers:
            errors["customer"] = [f'Invalid pk "{body.customer}" - object does not exist.']
        for field in ("shipment_address", "invoice_address"):
            address = getattr(body, field)
            if address is not None and address not in self.addresses:
                errors[field] = [f'Invalid pk "{address}" - object does not exist.']
        if body.webshop not in WEBSHOPS:
            errors["webshop"] = [f'Invalid pk "{body.webshop}" - object does not exist.']
        if len(body.currency) != 3 or not body.currency.isupper():
            errors["currency"] = [f'"{body.currency}" is not a valid choice.']
        line_errors = [_line_errors(line) for line in body.order_lines]
        if any(line_errors):
            errors["order_lines"] = line_errors
        if errors:
            raise InvalidRequest(errors)
        self.change_state(order, body.state)
        known_ids = {line["id"] for line in order["order_lines"]}
        lines = []
        for line in body.order_lines:
            new_line = self._new_line(line.product.key, line.quantity, line.erp_line_number)
            if line.id in known_ids:
                new_line["id"] = line.id
            new_line["product"]["origin"] = line.product.origin
            new_line["type"] = line.type
            if line.description is not None:
                new_line["description"] = line.description
            if line.price is not None:
                new_line["price"] = line.price
            lines.append(new_line)
        order.update(
            body.model_dump(exclude={"order_lines"}),
            order_lines=lines,
            modified_date=now(),
        )

    def receive_desadv(self, desadv: Desadv, *, shop: int, user: int | None) -> dict[str, Any]:
        """A DESADV (``desadv``): record the delivery and mark the order's shipment sent.

        The order is the one with the DESADV's ERP order number in ``shop``; its lines are
        matched by ERP line number and must name that line's product. A DESADV number is
        taken once ("a DESADV can only be sent once"): ``AlreadyReceived`` again.
        """
        if desadv.number in self.desadv_numbers:
            raise AlreadyReceived(desadv.number)
        order = next(
            (
                o
                for o in self.orders.values()
                if o["webshop"] == shop and o["erp_order_number"] == desadv.order_num
            ),
            None,
        )
        if order is None:
            raise InvalidRequest(
                {
                    "OrderNum": [
                        f"No order with ERP order number {desadv.order_num!r} in shop {shop}."
                    ]
                }
            )
        errors: dict[str, list[str]] = {}
        if user is not None and user != order["user"]:
            errors["user"] = [f"User {user} did not place order {desadv.order_num!r}."]
        if order["state"] not in ("confirmed", "processing", "done"):
            errors["OrderNum"] = [f'Cannot send a DESADV for an order in state "{order["state"]}".']
        keys = {
            line["erp_line_number"]: line["product"]["key"]
            for line in order["order_lines"]
            if line["erp_line_number"] is not None
        }
        for index, line in enumerate(desadv.lines):
            if line.order_num != desadv.order_num:
                errors[f"LineItems[{index}].OrderNum"] = ["Not the DESADV's order."]
            elif line.item_num not in keys:
                errors[f"LineItems[{index}].ItemNum"] = [
                    f"Unknown ERP line number {line.item_num}."
                ]
            elif keys[line.item_num] != line.seller_item_id:
                errors[f"LineItems[{index}].SellerItemID"] = [
                    f"Line {line.item_num} is {keys[line.item_num]!r}, not {line.seller_item_id!r}."
                ]
        if errors:
            raise InvalidRequest(errors)
        delivery = self._record_delivery(
            order,
            track_and_trace=desadv.track_and_trace,
            carrier=desadv.carrier,
            date=now(),
            lines=[(line.item_num, line.quantity) for line in desadv.lines],
        )
        self.desadv_numbers[desadv.number] = delivery["id"]
        order["shipment_state"] = "sent"
        order["modified_date"] = now()
        return delivery


class AlreadyReceived(Exception):
    """A DESADV number the shop has taken before."""


def _date_filter(field: str, bound: datetime, *, after: bool) -> Callable[[dict[str, Any]], bool]:
    def keep(order: dict[str, Any]) -> bool:
        value = order[field]
        return value is not None and (value >= bound if after else value <= bound)

    return keep


def _in_filter(field: str, values: set[int]) -> Callable[[dict[str, Any]], bool]:
    return lambda order: order[field] in values


def _line_errors(line: wire.OrderLineWrite) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if line.product.key not in CATALOG:
        errors["product"] = [f"Object with key={line.product.key} does not exist."]
    if line.type not in ("line", "shipping"):
        errors["type"] = [f'"{line.type}" is not a valid choice.']
    if line.quantity <= 0:
        errors["quantity"] = ["Ensure this value is greater than 0."]
    return errors


def line_total(line: Mapping[str, Any]) -> Decimal:
    return fake.money(line["price"] * line["quantity"])


def render_line(line: Mapping[str, Any]) -> dict[str, Any]:
    """Quantities as JSON numbers (like the document's sample), money as DRF decimal strings."""
    return {
        "id": line["id"],
        "product": dict(line["product"]),
        "description": line["description"],
        "type": line["type"],
        "quantity": float(line["quantity"]),
        "erp_line_number": line["erp_line_number"],
        "price": str(line["price"]),
        "total": str(line_total(line)),
        "vat_rate": str(line["vat_rate"].quantize(Decimal("0.01"))),
    }


def render_products() -> list[dict[str, Any]]:
    """The catalogue as ``GET /api/product/`` lists it, by id (one id per key, from 901)."""
    return [
        {
            "id": 901 + index,
            "key": key,
            "origin": "cloudsuite",
            "description": description,
            "price": str(price),
        }
        for index, (key, (description, price, _)) in enumerate(CATALOG.items())
    ]


def render_delivery(delivery: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": delivery["id"],
        "order": delivery["order"],
        "track_and_trace": delivery["track_and_trace"],
        "carrier": delivery["carrier"],
        "date": iso(delivery["date"]),
        "lines": [
            {"erp_line_number": line["erp_line_number"], "quantity": float(line["quantity"])}
            for line in delivery["lines"]
        ],
    }
