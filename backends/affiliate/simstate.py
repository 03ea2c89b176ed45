"""The simulated affiliate platform's data: seeded orders and the validated writes on them.

All state lives in one ``AffiliatePlatform``, seeded from ``random.Random(config.seed)``
(same seed, same bytes) and reset by ``/_sim/reset``. Writes use the real clock, recompute
totals and commission, and notify registered webhooks without waiting for them.
``simulator.py`` serves it over HTTP as ``docs/upstreams/affiliate.md`` describes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from backends.affiliate import wire
from backends.affiliate.simwebhooks import WebhookHub
from backends.simkit import fake
from backends.simkit.app import SimConfig

# id -> (name, commission rate in percent)
AFFILIATES: dict[int, tuple[str, Decimal]] = {
    1: ("StyleBloggers NL", Decimal("5.00")),
    2: ("DealHunters", Decimal("7.50")),
    3: ("Outdoor Insiders", Decimal("10.00")),
    4: ("Lahore Lifestyle Network", Decimal("7.50")),
    5: ("Cashback Club", Decimal("5.00")),
}

# status -> (display name, statuses it may move to)
STATUSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pending": ("Pending", ("confirmed", "cancelled")),
    "confirmed": ("Confirmed", ("processing", "dispatched", "cancelled")),
    "processing": ("Processing", ("dispatched", "cancelled")),
    "dispatched": ("Dispatched", ("delivered", "returned")),
    "delivered": ("Delivered", ("completed", "returned")),
    "completed": ("Completed", ("returned",)),
    "cancelled": ("Cancelled", ()),
    "returned": ("Returned", ()),
}
STATUS_WEIGHTS = [12, 12, 14, 16, 14, 20, 7, 5]
PAYMENT_STATUSES = ("unpaid", "pending", "paid", "partially_paid", "refunded", "failed")
EDITABLE = frozenset({"pending", "confirmed", "processing"})
SHIPPED = frozenset({"dispatched", "delivered", "completed", "returned"})
NO_COMMISSION = frozenset({"cancelled", "returned"})

TAX_RATES = {"NL": "21.00", "BE": "21.00", "DE": "19.00", "ES": "21.00", "PK": "17.00"}
TAX_RATES |= {"GB": "20.00", "FR": "20.00", "IT": "22.00"}
PHONE_PREFIXES = {"NL": "+31 6", "BE": "+32 4", "DE": "+49 15", "ES": "+34 6", "PK": "+92 3"}
PHONE_PREFIXES |= {"GB": "+44 7", "FR": "+33 6", "IT": "+39 3"}
PRICE_FACTORS = {"EUR": Decimal(1), "USD": Decimal("1.10"), "GBP": Decimal("0.85")}
PRICE_FACTORS |= {"PKR": Decimal(300)}
COUPONS = ["AFF10", "WELCOME10", "BLOGGER10"]


def cents(value: Decimal) -> Decimal:
    return value.quantize(fake.CENT, rounding=ROUND_HALF_UP)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


class ApiProblem(Exception):
    """A 4xx answer in the platform's error shape."""

    def __init__(
        self, status: int, error: str, message: str, *, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.errors = errors or []

    @property
    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "errors": self.errors}


def invalid(field: str, message: str) -> ApiProblem:
    errors = [{"field": field, "message": message}]
    return ApiProblem(422, "validation_failed", f"{field}: {message}", errors=errors)


@dataclass
class SimItem:
    id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    tax_rate: Decimal
    discount: Decimal = Decimal("0.00")

    @property
    def total(self) -> Decimal:
        return cents(self.quantity * self.unit_price - self.discount)

    @property
    def tax(self) -> Decimal:
        return cents(self.total * self.tax_rate / 100)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": str(self.unit_price),
            "discount": str(self.discount),
            "total": str(self.total),
            "tax_rate": str(self.tax_rate),
        }


@dataclass
class SimOrder:
    id: int
    order_number: str
    status: str
    payment_status: str
    currency: str
    customer: dict[str, Any]
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    items: list[SimItem]
    shipping: Decimal
    affiliate_id: int
    commission_rate: Decimal
    created_at: datetime
    updated_at: datetime
    coupon_code: str | None = None
    consignment_number: str | None = None
    carrier: str | None = None
    tracking_url: str | None = None
    dispatched_at: datetime | None = None
    parent_order_id: int | None = None
    split_order_ids: list[int] = field(default_factory=list)
    note: str | None = None
    status_note: str | None = None

    @property
    def commission(self) -> Decimal:
        """The documented rule: rate x item totals after discount; nothing when undone."""
        if self.status in NO_COMMISSION:
            return Decimal("0.00")
        return cents(self.commission_rate * sum(item.total for item in self.items) / 100)

    def touch(self, now: datetime) -> None:
        """Every change moves ``updated_at`` strictly forward (whole seconds on the wire)."""
        self.updated_at = max(now.replace(microsecond=0), self.updated_at + timedelta(seconds=1))

    def to_wire(self) -> dict[str, Any]:
        subtotal = sum((item.quantity * item.unit_price for item in self.items), Decimal(0))
        discount = sum((item.discount for item in self.items), Decimal(0))
        tax = sum((item.tax for item in self.items), Decimal(0))
        return {
            "id": self.id,
            "order_number": self.order_number,
            "order_source": "affiliate",
            "status": self.status,
            "payment_status": self.payment_status,
            "currency": self.currency,
            "customer": self.customer,
            "shipping_address": self.shipping_address,
            "billing_address": self.billing_address,
            "items": [item.to_wire() for item in self.items],
            "totals": {
                "subtotal": str(cents(subtotal)),
                "discount": str(cents(discount)),
                "shipping": str(self.shipping),
                "tax": str(cents(tax)),
                "total": str(cents(subtotal - discount + self.shipping + tax)),
            },
            "coupon_code": self.coupon_code,
            "consignment_number": self.consignment_number,
            "carrier": self.carrier,
            "tracking_url": self.tracking_url,
            "dispatched_at": iso(self.dispatched_at),
            "affiliate": {"id": self.affiliate_id, "name": AFFILIATES[self.affiliate_id][0]},
            "commission_rate": str(self.commission_rate),
            "commission_amount": str(self.commission),
            "parent_order_id": self.parent_order_id,
            "split_order_ids": list(self.split_order_ids),
            "note": self.note,
            "status_note": self.status_note,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class AffiliatePlatform:
    """The platform's orders and webhooks: seeded reads, validated writes."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.webhooks = WebhookHub()
        self.reset()

    def reset(self) -> None:
        self.orders: dict[int, SimOrder] = {}
        self._next_order_id = 100001
        self._next_item_id = 500001
        self.webhooks.reset()
        rng = random.Random(self.config.seed)
        statuses = list(STATUSES)
        for index in range(self.config.orders):
            # The first eight cycle through every status, so each one is always present.
            status = statuses[index] if index < len(statuses) else None
            self._seed_order(rng, status or rng.choices(statuses, STATUS_WEIGHTS)[0])
        self._seat_regular(fake.regular(self.config.seed))

    def _seat_regular(self, regular: fake.Person) -> None:
        """The customer of the first order is the shopper every simulator has."""
        first = self.orders[min(self.orders)]
        first.customer.update(name=regular.name, email=regular.email)
        first.shipping_address["name"] = regular.name

    # -- seed -------------------------------------------------------------------------------

    def _seed_order(self, rng: random.Random, status: str) -> None:
        customer = fake.person(rng)
        created = fake.moment(rng)
        updated = fake.later(rng, created)
        currency = rng.choice(fake.CURRENCIES)
        tax_rate = Decimal(TAX_RATES[customer.country])
        coupon = rng.choice(COUPONS) if rng.random() < 0.2 else None
        items = []
        for sku, name, price in rng.sample(fake.PRODUCTS, rng.choice([1, 1, 1, 2, 2, 3, 4])):
            quantity = rng.choice([1, 1, 1, 2, 3])
            unit_price = cents(price * PRICE_FACTORS[currency])
            discount = Decimal("0.00")
            if coupon or rng.random() < 0.08:
                discount = cents(quantity * unit_price / 10)
            items.append(
                SimItem(self._item_id(), sku, name, quantity, unit_price, tax_rate, discount)
            )
        affiliate_id = rng.choice(list(AFFILIATES))
        address = self._address(customer)
        billing = address if rng.random() < 0.85 else self._address(fake.person(rng))
        order = SimOrder(
            id=self._order_id(),
            order_number="",
            status=status,
            payment_status=self._seed_payment_status(rng, status),
            currency=currency,
            customer={
                "id": rng.randint(20000, 29999),
                "name": customer.name,
                "email": customer.email,
                "phone": f"{PHONE_PREFIXES[customer.country]} {rng.randint(1000000, 9999999)}",
            },
            shipping_address=address,
            billing_address=billing,
            items=items,
            shipping=cents(rng.choice([Decimal(0), Decimal("4.95"), Decimal("6.95")])),
            affiliate_id=affiliate_id,
            commission_rate=AFFILIATES[affiliate_id][1],
            created_at=created,
            updated_at=updated,
            coupon_code=coupon,
            note=rng.choice([None, None, None, "Please leave at the door", "Gift wrap"]),
        )
        order.order_number = f"AFF-{order.id}"
        if status in SHIPPED:
            order.carrier = rng.choice(fake.CARRIERS)
            order.consignment_number = f"CN{rng.randint(10**9, 10**10 - 1)}"
            order.tracking_url = (
                f"https://track.example.com/{order.carrier.lower()}/{order.consignment_number}"
            )
            span = int((updated - created).total_seconds())
            order.dispatched_at = created + timedelta(seconds=rng.randint(span // 3, span))
        self.orders[order.id] = order
        if status in EDITABLE and len(items) > 1 and rng.random() < 0.3:
            moved = [wire.SplitItem(item_id=items[-1].id, quantity=items[-1].quantity)]
            self.split(order, wire.SplitRequest(items=moved), fake.later(rng, updated))

    @staticmethod
    def _seed_payment_status(rng: random.Random, status: str) -> str:
        if status == "pending":
            return rng.choices(["unpaid", "pending", "failed"], [5, 4, 1])[0]
        if status == "cancelled":
            return rng.choice(["unpaid", "refunded", "failed"])
        if status == "returned":
            return "refunded"
        return rng.choices(["paid", "partially_paid"], [9, 1])[0]

    @staticmethod
    def _address(person: fake.Person) -> dict[str, Any]:
        return {
            "name": person.name,
            "line1": person.street,
            "line2": None,
            "city": person.city,
            "state": person.state,
            "postcode": person.postal_code,
            "country": person.country,
        }

    def _order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id - 1

    def _item_id(self) -> int:
        self._next_item_id += 1
        return self._next_item_id - 1

    # -- reads ------------------------------------------------------------------------------

    def order(self, raw_id: str) -> SimOrder:
        order = self.orders.get(int(raw_id)) if raw_id.isdigit() else None
        if order is None:
            raise ApiProblem(404, "not_found", f"Order {raw_id} not found")
        return order

    # -- writes -----------------------------------------------------------------------------

    def create(self, request: wire.OrderCreate, now: datetime) -> SimOrder:
        if request.affiliate_id not in AFFILIATES:
            raise invalid("affiliate_id", f"no affiliate has the id {request.affiliate_id}")
        if request.order_number and any(
            order.order_number == request.order_number for order in self.orders.values()
        ):
            raise ApiProblem(409, "duplicate_order_number", "order_number already exists")
        for index, item in enumerate(request.items):
            if item.id is not None:
                raise invalid(f"items.{index}.id", "not accepted when creating an order")
        now = now.replace(microsecond=0)
        shipping_address = request.shipping_address.model_dump()
        order = SimOrder(
            id=self._order_id(),
            order_number=request.order_number or "",
            status="pending",
            payment_status=request.payment_status,
            currency=request.currency,
            customer={"id": None, **request.customer.model_dump()},
            shipping_address=shipping_address,
            billing_address=(
                request.billing_address.model_dump()
                if request.billing_address
                else shipping_address
            ),
            items=[self._new_item(item) for item in request.items],
            shipping=cents(request.shipping),
            affiliate_id=request.affiliate_id,
            commission_rate=AFFILIATES[request.affiliate_id][1],
            created_at=now,
            updated_at=now,
            coupon_code=request.coupon_code,
            note=request.note,
        )
        order.order_number = order.order_number or f"AFF-{order.id}"
        self.orders[order.id] = order
        self.webhooks.notify("order.created", order.to_wire())
        return order

    def change_status(self, order: SimOrder, request: wire.StatusUpdate, now: datetime) -> None:
        dispatch_fields = ("consignment_number", "carrier", "tracking_url")
        if request.status != "dispatched":
            for name in dispatch_fields:
                if getattr(request, name) is not None:
                    raise invalid(name, "only accepted with the status dispatched")
        if request.status == order.status:
            return  # repeating the current status changes nothing, so retries are safe
        allowed = STATUSES[order.status][1]
        if request.status not in allowed:
            raise ApiProblem(
                409,
                "invalid_transition",
                f"An order in status {order.status} cannot become {request.status}"
                f" (allowed: {', '.join(allowed) or 'none'})",
            )
        if request.status == "dispatched":
            if request.consignment_number is None:
                raise invalid("consignment_number", "required to dispatch an order")
            order.consignment_number = request.consignment_number
            order.carrier = request.carrier
            order.tracking_url = request.tracking_url
            order.dispatched_at = now.replace(microsecond=0)
        order.status = request.status
        order.status_note = request.note
        order.touch(now)
        self.webhooks.notify("order.status_changed", order.to_wire())
        self.webhooks.notify("order.updated", order.to_wire())

    def edit(self, order: SimOrder, request: wire.OrderEdit, now: datetime) -> None:
        self._require_editable(order, "edited")
        given = request.model_fields_set
        if request.items is not None:
            own = {item.id: item for item in order.items}
            kept = [item.id for item in request.items if item.id is not None]
            for index, item in enumerate(request.items):
                if item.id is not None and item.id not in own:
                    raise invalid(f"items.{index}.id", f"order {order.id} has no item {item.id}")
            if len(kept) != len(set(kept)):
                raise invalid("items", "an item id appears twice")
            order.items = [self._new_item(item, item.id) for item in request.items]
        if request.shipping_address is not None:
            order.shipping_address = request.shipping_address.model_dump()
        if request.billing_address is not None:
            order.billing_address = request.billing_address.model_dump()
        if request.shipping is not None:
            order.shipping = cents(request.shipping)
        if "coupon_code" in given:
            order.coupon_code = request.coupon_code
        if "note" in given:
            order.note = request.note
        order.touch(now)
        self.webhooks.notify("order.updated", order.to_wire())

    def split(self, order: SimOrder, request: wire.SplitRequest, now: datetime) -> SimOrder:
        self._require_editable(order, "split")
        own = {item.id: item for item in order.items}
        moving: dict[int, int] = {}
        for index, part in enumerate(request.items):
            item = own.get(part.item_id)
            if item is None:
                raise invalid(
                    f"items.{index}.item_id", f"order {order.id} has no item {part.item_id}"
                )
            if part.item_id in moving:
                raise invalid(f"items.{index}.item_id", "an item id appears twice")
            if part.quantity > item.quantity:
                raise invalid(f"items.{index}.quantity", f"item {item.id} has only {item.quantity}")
            moving[part.item_id] = part.quantity
        if all(moving.get(item.id) == item.quantity for item in order.items):
            raise invalid("items", "a split must leave at least one item on the order")
        moved_items = []
        for item in order.items:
            quantity = moving.get(item.id, 0)
            if quantity:
                discount = cents(item.discount * quantity / item.quantity)
                moved_items.append(
                    replace(item, id=self._item_id(), quantity=quantity, discount=discount)
                )
                item.quantity -= quantity
                item.discount -= discount
        order.items = [item for item in order.items if item.quantity]
        new_order = replace(
            order,
            id=self._order_id(),
            order_number=f"{order.order_number}-{len(order.split_order_ids) + 1}",
            items=moved_items,
            shipping=Decimal("0.00"),
            created_at=now.replace(microsecond=0),
            updated_at=now.replace(microsecond=0),
            parent_order_id=order.id,
            split_order_ids=[],
            status_note=None,
        )
        self.orders[new_order.id] = new_order
        order.split_order_ids.append(new_order.id)
        order.touch(now)
        self.webhooks.notify("order.updated", order.to_wire())
        self.webhooks.notify("order.created", new_order.to_wire())
        return new_order

    def _new_item(self, item: wire.ItemInput, item_id: int | None = None) -> SimItem:
        return SimItem(
            id=item_id or self._item_id(),
            sku=item.sku,
            name=item.name,
            quantity=item.quantity,
            unit_price=cents(item.unit_price),
            tax_rate=cents(item.tax_rate),
            discount=cents(item.discount),
        )

    @staticmethod
    def _require_editable(order: SimOrder, action: str) -> None:
        if order.status not in EDITABLE:
            raise ApiProblem(
                409, "order_locked", f"An order in status {order.status} cannot be {action}"
            )
