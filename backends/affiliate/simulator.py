"""The simulated affiliate-orders platform, speaking ``docs/upstreams/affiliate.md``.

All state lives in one ``AffiliatePlatform``, seeded from ``random.Random(config.seed)``
(same seed, same bytes) and reset by ``/_sim/reset``. Writes use the real clock, recompute
totals and commission, and notify registered webhooks without waiting for them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import random
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pydantic
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from backends.affiliate import wire
from backends.simkit import fake
from backends.simkit.app import SimConfig, simulator_app
from backends.simkit.auth import TokenStore
from backends.simkit.control import SimControl

READ, WRITE, WEBHOOKS = "orders:read", "orders:write", "webhooks:manage"
API_KEYS: dict[str, frozenset[str]] = {
    "demo-affiliate-key": frozenset({READ, WRITE, WEBHOOKS}),
    "demo-affiliate-readonly-key": frozenset({READ}),
}

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
SORTS = frozenset({"id", "-id", "created_at", "-created_at", "updated_at", "-updated_at"})
MAX_LIMIT, DEFAULT_LIMIT = 100, 50

TAX_RATES = {"NL": "21.00", "BE": "21.00", "DE": "19.00", "ES": "21.00", "PK": "17.00"}
TAX_RATES |= {"GB": "20.00", "FR": "20.00", "IT": "22.00"}
PHONE_PREFIXES = {"NL": "+31 6", "BE": "+32 4", "DE": "+49 15", "ES": "+34 6", "PK": "+92 3"}
PHONE_PREFIXES |= {"GB": "+44 7", "FR": "+33 6", "IT": "+39 3"}
PRICE_FACTORS = {"EUR": Decimal(1), "USD": Decimal("1.10"), "GBP": Decimal("0.85")}
PRICE_FACTORS |= {"PKR": Decimal(300)}
COUPONS = ["AFF10", "WELCOME10", "BLOGGER10"]
WEBHOOK_TIMEOUT_S = 2.0


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

    def response(self) -> JSONResponse:
        body = {"error": self.error, "message": self.message, "errors": self.errors}
        return JSONResponse(body, status_code=self.status)


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


class WebhookHub:
    """Registered receivers, each POSTed a signed event after every change it subscribed to."""

    def __init__(self) -> None:
        self.hooks: dict[int, dict[str, Any]] = {}
        self._next_id = 1
        self._deliveries: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        self.hooks.clear()
        self._next_id = 1

    def register(self, request: wire.WebhookCreate, now: datetime) -> dict[str, Any]:
        hook = {
            "id": self._next_id,
            "url": request.url,
            "events": list(dict.fromkeys(request.events)),
            "secret": request.secret or f"whsec_{secrets.token_hex(16)}",
            "created_at": iso(now),
        }
        self.hooks[self._next_id] = hook
        self._next_id += 1
        return hook

    def notify(self, event: str, order: SimOrder) -> None:
        for hook in self.hooks.values():
            if event in hook["events"]:
                body = {
                    "id": f"evt_{uuid.uuid4().hex}",
                    "event": event,
                    "created_at": iso(datetime.now(UTC)),
                    "data": order.to_wire(),
                }
                task = asyncio.ensure_future(self._deliver(hook, event, body))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    @staticmethod
    async def _deliver(hook: dict[str, Any], event: str, body: dict[str, Any]) -> None:
        content = json.dumps(body, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        signed = timestamp.encode() + b"." + content
        signature = hmac.new(hook["secret"].encode(), signed, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Affiliate-Event": event,
            "X-Affiliate-Delivery": body["id"],
            "X-Affiliate-Timestamp": timestamp,
            "X-Affiliate-Signature": f"sha256={signature}",
        }
        try:  # fire and forget: a slow or failing receiver never fails the write
            async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as client:
                await client.post(hook["url"], content=content, headers=headers)
        except httpx.HTTPError:
            pass


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

    def listing(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        offset = query_int(params.get("offset"), "offset", 0, minimum=0)
        limit = query_int(params.get("limit"), "limit", DEFAULT_LIMIT, minimum=1)
        if limit > MAX_LIMIT:
            raise ApiProblem(400, "bad_request", f"limit: at most {MAX_LIMIT}")
        statuses = query_list(params.getlist("status"), "status", STATUSES)
        payments = query_list(params.getlist("payment_status"), "payment_status", PAYMENT_STATUSES)
        ids = query_ids(params.get("ids"))
        since = query_time(params.get("updated_since"))
        order_number = params.get("order_number")
        sort = params.get("sort", "-created_at")
        if sort not in SORTS:
            raise ApiProblem(400, "bad_request", f"sort: one of {', '.join(sorted(SORTS))}")
        matches = [
            order
            for order in self.orders.values()
            if (statuses is None or order.status in statuses)
            and (payments is None or order.payment_status in payments)
            and (ids is None or order.id in ids)
            and (order_number is None or order.order_number == order_number)
            and (since is None or order.updated_at >= since)
        ]
        key = sort.lstrip("-")
        matches.sort(key=lambda order: (getattr(order, key), order.id), reverse=sort[0] == "-")
        page = matches[offset : offset + limit]
        return {
            "data": [order.to_wire() for order in page],
            "meta": {"offset": offset, "limit": limit, "total": len(matches)},
        }

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
        self.webhooks.notify("order.created", order)
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
        self.webhooks.notify("order.status_changed", order)
        self.webhooks.notify("order.updated", order)

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
        self.webhooks.notify("order.updated", order)

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
        self.webhooks.notify("order.updated", order)
        self.webhooks.notify("order.created", new_order)
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


# -- query parameters ---------------------------------------------------------------------


def query_int(raw: str | None, name: str, default: int, *, minimum: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ApiProblem(400, "bad_request", f"{name}: an integer of at least {minimum}")
    return int(raw)


def query_list(raw: list[str], name: str, allowed: Any) -> frozenset[str] | None:
    """A repeatable parameter whose values may also be comma lists."""
    if not raw:
        return None
    values = {value.strip() for entry in raw for value in entry.split(",") if value.strip()}
    unknown = sorted(values - set(allowed))
    if unknown:
        raise ApiProblem(400, "bad_request", f"{name}: unknown value(s) {', '.join(unknown)}")
    return frozenset(values)


def query_ids(raw: str | None) -> frozenset[int] | None:
    if raw is None:
        return None
    values = [value.strip() for value in raw.split(",") if value.strip()]
    if not all(value.isdigit() for value in values):
        raise ApiProblem(400, "bad_request", "ids: a comma-separated list of order ids")
    return frozenset(int(value) for value in values)


def query_time(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiProblem(400, "bad_request", "updated_since: an ISO 8601 timestamp") from None
    # A timestamp without offset is UTC, like every timestamp the platform writes.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- HTTP ---------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def api_key_scopes(headers: Headers) -> frozenset[str] | None:
    key = headers.get("x-api-key", "").encode()
    matches = (
        scopes for known, scopes in API_KEYS.items() if hmac.compare_digest(known.encode(), key)
    )
    return next(matches, None)


def endpoint(scope: str) -> Callable[[Handler], Handler]:
    """Checks the key's scope (403) and renders ``ApiProblem`` and body validation errors."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            try:
                if scope not in (api_key_scopes(request.headers) or ()):
                    raise ApiProblem(403, "forbidden", f"This API key lacks the {scope} scope")
                return await handler(request)
            except ApiProblem as problem:
                return problem.response()
            except pydantic.ValidationError as exc:
                return validation_problem(exc).response()

        return run

    return wrap


def validation_problem(exc: pydantic.ValidationError) -> ApiProblem:
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors()
    ]
    message = f"{errors[0]['field']}: {errors[0]['message']}"
    return ApiProblem(422, "validation_failed", message, errors=errors)


def routes(platform: AffiliatePlatform) -> list[BaseRoute]:
    def now() -> datetime:
        return datetime.now(UTC)

    def ok(data: Any, status_code: int = 200) -> JSONResponse:
        return JSONResponse({"data": data}, status_code=status_code)

    @endpoint(READ)
    async def list_orders(request: Request) -> Response:
        return JSONResponse(platform.listing(request))

    @endpoint(READ)
    async def get_order(request: Request) -> Response:
        return ok(platform.order(request.path_params["order_id"]).to_wire())

    @endpoint(WRITE)
    async def create_order(request: Request) -> Response:
        body = wire.OrderCreate.model_validate_json(await request.body())
        return ok(platform.create(body, now()).to_wire(), 201)

    @endpoint(WRITE)
    async def edit_order(request: Request) -> Response:
        order = platform.order(request.path_params["order_id"])
        platform.edit(order, wire.OrderEdit.model_validate_json(await request.body()), now())
        return ok(order.to_wire())

    @endpoint(WRITE)
    async def update_status(request: Request) -> Response:
        order = platform.order(request.path_params["order_id"])
        body = wire.StatusUpdate.model_validate_json(await request.body())
        platform.change_status(order, body, now())
        return ok(order.to_wire())

    @endpoint(WRITE)
    async def split_order(request: Request) -> Response:
        order = platform.order(request.path_params["order_id"])
        body = wire.SplitRequest.model_validate_json(await request.body())
        new_order = platform.split(order, body, now())
        return ok({"order": order.to_wire(), "split_order": new_order.to_wire()}, 201)

    @endpoint(READ)
    async def order_statuses(request: Request) -> Response:
        return ok(
            [
                {"code": code, "name": name, "final": not allowed, "next": list(allowed)}
                for code, (name, allowed) in STATUSES.items()
            ]
        )

    @endpoint(READ)
    async def affiliates(request: Request) -> Response:
        return ok(
            [
                {"id": id_, "name": name, "commission_rate": str(rate)}
                for id_, (name, rate) in AFFILIATES.items()
            ]
        )

    @endpoint(WEBHOOKS)
    async def create_webhook(request: Request) -> Response:
        body = wire.WebhookCreate.model_validate_json(await request.body())
        return ok(platform.webhooks.register(body, now()), 201)

    @endpoint(WEBHOOKS)
    async def list_webhooks(request: Request) -> Response:
        # The secret is shown once, in the answer that registers the webhook.
        hooks = platform.webhooks.hooks.values()
        return ok(
            [{key: value for key, value in hook.items() if key != "secret"} for hook in hooks]
        )

    @endpoint(WEBHOOKS)
    async def delete_webhook(request: Request) -> Response:
        raw_id = request.path_params["webhook_id"]
        if not raw_id.isdigit() or platform.webhooks.hooks.pop(int(raw_id), None) is None:
            raise ApiProblem(404, "not_found", f"Webhook {raw_id} not found")
        return Response(status_code=204)

    return [
        Route("/api/v1/orders", list_orders, methods=["GET"]),
        Route("/api/v1/orders", create_order, methods=["POST"]),
        Route("/api/v1/orders/{order_id}", get_order, methods=["GET"]),
        Route("/api/v1/orders/{order_id}", edit_order, methods=["PUT"]),
        Route("/api/v1/orders/{order_id}/status", update_status, methods=["PATCH"]),
        Route("/api/v1/orders/{order_id}/split", split_order, methods=["POST"]),
        Route("/api/v1/order-statuses", order_statuses, methods=["GET"]),
        Route("/api/v1/affiliates", affiliates, methods=["GET"]),
        Route("/api/v1/webhooks", create_webhook, methods=["POST"]),
        Route("/api/v1/webhooks", list_webhooks, methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    ]


def create_app(config: SimConfig) -> Starlette:
    """The affiliate platform on its own routes, behind ``X-Api-Key`` and the ``/_sim/`` layer."""
    platform = AffiliatePlatform(config)
    control = SimControl(
        seed=config.seed, tokens=TokenStore(config.token_ttl_s), reset_state=platform.reset
    )
    app = simulator_app(
        routes=routes(platform),
        control=control,
        auth_check=lambda headers: api_key_scopes(headers) is not None,
        unauthorized_body={"error": "unauthorized", "message": "Missing or invalid X-Api-Key"},
        malformed_body=b'{"data": [{"id": 100001, "order_number": ',
    )
    app.state.platform = platform
    return app
