"""The B2B simulator's data: catalogs and orders seeded from one ``random.Random(seed)``.

Everything is kept in the wire's own shape (the dicts the read endpoints answer), so reads
are a filter and a page, and writes edit these dicts. ``price_order`` is the order
arithmetic the seed and ``POST /api/Order/create`` share.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from backends.simkit import fake
from backends.simkit.app import SimConfig

Document = dict[str, Any]

TIMESTAMP = "%Y-%m-%d %H:%M:%S"  # the document's date format ("1999-01-01 01:00:00"), UTC
DAY = "%Y-%m-%d"

ORDER_STATUSES = [
    ("PENDING", "Pending"),
    ("CONFIRMED", "Confirmed"),
    ("IN_PROGRESS", "In progress"),
    ("SHIPPED", "Shipped"),
    ("DELIVERED", "Delivered"),
    ("CLOSED", "Closed"),
    ("CANCELLED", "Cancelled"),
]
STATUS_WEIGHTS = [14, 14, 18, 18, 14, 14, 8]
SHIPPED_STATUSES = {"SHIPPED", "DELIVERED", "CLOSED"}
# The document: a line status says "whether it is in stock, whether it is shipped or not,
# or whether it has been deleted".
LINE_STATUSES = [
    ("PENDING", "Pending"),
    ("IN_STOCK", "In stock"),
    ("OUT_OF_STOCK", "Out of stock"),
    ("SHIPPED", "Shipped"),
    ("DELETED", "Deleted"),
]
DISCOUNT_TYPES = [
    ("EARLY", "Early order", "Pre-season order discount"),
    ("VOLUME", "Volume", "Quantity break on one line"),
    ("PROMO", "Promotion", "Campaign discount"),
    ("PAYMENT", "Prompt payment", "Payment within 10 days"),
]
COMPANIES = ["Moda Textil S.L.", "Nordwind Fashion GmbH", "Atelier Verde B.V."]
SEASONS = [
    ("SS26", "Spring/Summer 2026"),
    ("FW26", "Fall/Winter 2026"),
    ("SS27", "Spring/Summer 2027"),
]
ORIGINS = ["B2B", "SalesApp", "ERP"]
OBSERVATIONS = ["Deliver before season launch", "Pack per size", "Call before delivery"]
CLIENTS_PER_COMPANY = 8
AGENTS_PER_COMPANY = 2

WHOLESALE_FACTOR = Decimal("0.5")
VAT = Decimal("0.21")
SHIPPING_FEE = Decimal("12.50")
FREE_SHIPPING_FROM = Decimal("300")
ZERO = Decimal("0.00")
# An order's amounts and quantities before ``price_order`` fills them in; spread into a new
# order where they go, to keep the document's field order.
UNPRICED: Document = {
    "grossAmount": ZERO,
    "baseAmount": ZERO,
    "shippingAmount": ZERO,
    "taxAmount": ZERO,
    "taxrecAmount": ZERO,
    "totalAmount": ZERO,
    "totalQuantity": 0,
    "quantityServed": 0,
    "quantityPending": 0,
}
# The API's own user, who makes the writes that arrive through it.
API_USER: Document = {"id": "1", "idRemote": None, "username": "demo"}


@dataclass
class B2BState:
    """Every entity of one simulator, by id, in wire shape."""

    companies: dict[str, Document] = field(default_factory=dict)
    partners: dict[str, Document] = field(default_factory=dict)
    locations: dict[str, Document] = field(default_factory=dict)
    seasons: dict[str, Document] = field(default_factory=dict)
    products: dict[str, Document] = field(default_factory=dict)
    discount_types: dict[str, Document] = field(default_factory=dict)
    order_statuses: dict[str, Document] = field(default_factory=dict)
    line_statuses: dict[str, Document] = field(default_factory=dict)
    users: dict[str, Document] = field(default_factory=dict)
    orders: dict[str, Document] = field(default_factory=dict)
    last_ids: Counter[str] = field(default_factory=Counter)

    def new_id(self, kind: str, start: int) -> str:
        """The next id of ``kind``: ``start``, ``start + 1``, ... (numeric strings)."""
        self.last_ids[kind] += 1
        return str(start + self.last_ids[kind] - 1)

    def new_order_id(self) -> str:
        return self.new_id("order", 10001)

    def new_line_id(self) -> str:
        return self.new_id("line", 50001)

    def new_line_detail_id(self) -> str:
        return self.new_id("lineDetail", 70001)

    def new_discount_id(self) -> str:
        return self.new_id("discount", 90001)


def timestamp(moment: datetime) -> str:
    return moment.strftime(TIMESTAMP)


def company_ref(company: Document) -> Document:
    return {key: company[key] for key in ("id", "idRemote", "companyName")}


def client_ref(partner: Document) -> Document:
    return {key: partner[key] for key in ("id", "idRemote", "contactName")}


def address_line(location: Document) -> str:
    """A location as the single string an order carries."""
    return (
        f"{location['address']}, {location['postalCode']} {location['city']}, {location['country']}"
    )


def discount_entry(
    state: B2BState,
    discount_type: Document,
    *,
    sequence: int,
    percent: Decimal,
    remote_id: str | None = None,
    is_line: bool | None = None,
) -> Document:
    """A discount with its amount still to be priced; line discounts carry no ``isLine``."""
    entry: Document = {
        "id": state.new_discount_id(),
        "idRemote": remote_id,
        "discountType": dict(discount_type),
        "sequence": sequence,
        "discount": percent,
        "amountDiscount": ZERO,
    }
    if is_line is not None:
        entry["isLine"] = is_line
    return entry


def price_order(order: Document) -> None:
    """Fill every amount and quantity of ``order`` from its details and discount percents.

    Discounts apply in ``sequence`` order, each on what the previous ones left. Line
    amounts are net of line discounts; ``grossAmount`` is their sum, ``baseAmount`` what
    the order discounts leave, and tax is VAT on base plus shipping.
    """
    for line in order["lines"]:
        gross = sum((d["quantity"] * d["price"] for d in line["lineDetail"]), ZERO)
        line["quantity"] = sum(d["quantity"] for d in line["lineDetail"])
        line["lineAmount"] = gross - _apply_discounts(line["discount"], gross)
    gross = sum((line["lineAmount"] for line in order["lines"]), ZERO)
    base = gross - _apply_discounts(order["discount"], gross)
    shipping = ZERO if base >= FREE_SHIPPING_FROM else SHIPPING_FEE
    tax = fake.money((base + shipping) * VAT)
    total_quantity = sum(line["quantity"] for line in order["lines"])
    served = sum(line["quantityServed"] for line in order["lines"])
    order.update(
        grossAmount=gross,
        baseAmount=base,
        shippingAmount=shipping,
        taxAmount=tax,
        taxrecAmount=ZERO,
        totalAmount=base + shipping + tax,
        totalQuantity=total_quantity,
        quantityServed=served,
        quantityPending=total_quantity - served,
    )


def _apply_discounts(discounts: list[Document], amount: Decimal) -> Decimal:
    remaining = amount
    for discount in sorted(discounts, key=lambda d: d["sequence"]):
        discount["amountDiscount"] = fake.money(remaining * discount["discount"] / 100)
        remaining -= discount["amountDiscount"]
    return amount - remaining


def seed_state(config: SimConfig) -> B2BState:
    """The same catalogs and ``config.orders`` orders for the same seed, never the clock."""
    rng = random.Random(config.seed)
    state = B2BState()
    state.users[API_USER["id"]] = API_USER
    for code, description in ORDER_STATUSES:
        state.order_statuses[code] = _status(code, description, len(state.order_statuses))
    for code, description in LINE_STATUSES:
        state.line_statuses[code] = _status(code, description, len(state.line_statuses))
    for code, name, description in DISCOUNT_TYPES:
        type_id = str(len(state.discount_types) + 1)
        state.discount_types[type_id] = {
            "id": type_id,
            "name": name,
            "code": code,
            "description": description,
        }
    for code, description in SEASONS:
        season_id = str(len(state.seasons) + 1)
        state.seasons[season_id] = {"id": season_id, "idRemote": code, "description": description}
    for sku, name, retail_price in fake.PRODUCTS:
        product_id = state.new_id("product", 301)
        state.products[product_id] = {
            "id": product_id,
            "idRemote": sku,
            "reference": sku,
            "name": name,
            "price": fake.money(retail_price * WHOLESALE_FACTOR),
            "retailPrice": retail_price,
        }
    for name in COMPANIES:
        _seed_company(rng, state, name)
    for _ in range(config.orders):
        _seed_order(rng, state)
    _seat_regular(state, fake.regular(config.seed))
    return state


def _seat_regular(state: B2BState, regular: fake.Person) -> None:
    """The client of the first order is the shopper every simulator has (its contact name
    and e-mail; a B2B order names its client by the contact name only)."""
    client_id = next(iter(state.orders.values()))["client"]["id"]
    state.partners[client_id].update(contactName=regular.name, email=regular.email)
    for order in state.orders.values():
        if order["client"]["id"] == client_id:
            order["client"]["contactName"] = regular.name


def _status(code: str, description: str, position: int) -> Document:
    return {"id": code, "idRemote": str(position + 1), "value": True, "description": description}


def _seed_company(rng: random.Random, state: B2BState, name: str) -> None:
    company_id = str(len(state.companies) + 1)
    company = {"id": company_id, "idRemote": f"C{company_id.zfill(3)}", "companyName": name}
    state.companies[company_id] = company
    for role, count in (("Client", CLIENTS_PER_COMPANY), ("Representant", AGENTS_PER_COMPANY)):
        for _ in range(count):
            contact = fake.person(rng)
            partner_id = state.new_id("partner", 201)
            state.partners[partner_id] = {
                "id": partner_id,
                "idRemote": f"BP{partner_id}",
                "contactName": contact.name,
                "email": contact.email,
                "roles": [role],
                "company": company_ref(company),
            }
            if role == "Client":
                _seed_locations(rng, state, partner_id, contact)
            else:
                user_id = str(len(state.users) + 1)
                username = f"{contact.first_name[0]}{contact.last_name}".lower().replace(" ", "")
                state.users[user_id] = {"id": user_id, "idRemote": None, "username": username}
                state.partners[partner_id]["userId"] = user_id


def _seed_locations(
    rng: random.Random, state: B2BState, partner_id: str, contact: fake.Person
) -> None:
    """A head office for billing and shipping, and sometimes a warehouse to ship to."""
    sites = [(contact, True, True)]
    if rng.random() < 0.4:
        sites.append((fake.person(rng), True, False))
    for site, ships, bills in sites:
        location_id = state.new_id("location", 501)
        state.locations[location_id] = {
            "id": location_id,
            "idRemote": None,
            "businessPartnerId": partner_id,
            "address": site.street,
            "postalCode": site.postal_code,
            "city": site.city,
            "country": site.country,
            "shippingAddress": ships,
            "billingAddress": bills,
        }


def _seed_order(rng: random.Random, state: B2BState) -> None:
    company = state.companies[rng.choice(list(state.companies))]
    partners = [p for p in state.partners.values() if p["company"]["id"] == company["id"]]
    client = rng.choice([p for p in partners if "Client" in p["roles"]])
    agent = rng.choice([p for p in partners if "Representant" in p["roles"]])
    locations = [
        loc for loc in state.locations.values() if loc["businessPartnerId"] == client["id"]
    ]
    shipping = rng.choice([loc for loc in locations if loc["shippingAddress"]])
    billing = next(loc for loc in locations if loc["billingAddress"])
    status = rng.choices([code for code, _ in ORDER_STATUSES], weights=STATUS_WEIGHTS)[0]
    created = fake.moment(rng)
    modified = fake.later(rng, created)
    agent_user = state.users[agent["userId"]]
    order_id = state.new_order_id()
    order: Document = {
        "id": order_id,
        "idRemote": None if status == "PENDING" else f"ERP{int(order_id) + 40000}",
        "reference": f"PO-{rng.randint(1000, 99999)}",
        "numOrder": f"SO-{created.year}-{len(state.orders) + 1:05d}",
        "company": company_ref(company),
        "client": client_ref(client),
        "agent": agent["contactName"],
        "status": status,
        "season": dict(state.seasons[rng.choice(list(state.seasons))]),
        "shippingAddress": address_line(shipping),
        "billingAddress": address_line(billing),
        "discount": _seed_order_discounts(rng, state),
        "lines": [
            _seed_line(rng, state, status, created, modified)
            for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4, 6]))
        ],
        "dateOrder": timestamp(created),
        "dateModified": timestamp(modified),
        "dateDelivery": (created + timedelta(days=rng.randint(30, 90))).strftime(DAY),
        "observation": rng.choice(OBSERVATIONS) if rng.random() < 0.2 else None,
        **UNPRICED,
        "shipper": rng.choice(fake.CARRIERS) if status in SHIPPED_STATUSES else None,
        "origin": rng.choice(ORIGINS),
        "isSale": True,
        "active": status != "CANCELLED",
        "createdBy": dict(agent_user),
        "updatedBy": dict(agent_user),
        "createdAt": timestamp(created),
        "updatedAt": timestamp(modified),
    }
    price_order(order)
    state.orders[order_id] = order


def _seed_order_discounts(rng: random.Random, state: B2BState) -> list[Document]:
    types = {t["code"]: t for t in state.discount_types.values()}
    discounts: list[Document] = []
    if rng.random() < 0.3:
        discounts.append(
            discount_entry(
                state,
                types["EARLY"],
                sequence=1,
                percent=Decimal(rng.choice([3, 5])),
                is_line=False,
            )
        )
    if rng.random() < 0.15:
        discounts.append(
            discount_entry(
                state,
                types["PAYMENT"],
                sequence=len(discounts) + 1,
                percent=Decimal(2),
                is_line=False,
            )
        )
    return discounts


def _seed_line(
    rng: random.Random, state: B2BState, status: str, created: datetime, modified: datetime
) -> Document:
    products = list(state.products.values())
    if status == "CANCELLED":
        line_status = "DELETED"
    elif status in SHIPPED_STATUSES:
        line_status = "SHIPPED"
    elif status == "IN_PROGRESS":
        line_status = rng.choice(["IN_STOCK", "OUT_OF_STOCK", "SHIPPED"])
    else:
        line_status = rng.choice(["PENDING", "IN_STOCK"])
    details = [
        line_detail(state, rng.choice(products), rng.choice([6, 12, 12, 24, 36, 48]))
        for _ in range(2 if rng.random() < 0.2 else 1)
    ]
    quantity = sum(detail["quantity"] for detail in details)
    volume = next(t for t in state.discount_types.values() if t["code"] == "VOLUME")
    discounts = (
        [discount_entry(state, volume, sequence=1, percent=Decimal(rng.choice([5, 10])))]
        if rng.random() < 0.2
        else []
    )
    served = quantity if line_status == "SHIPPED" else 0
    return {
        "id": state.new_line_id(),
        "idRemote": None,
        "lineStatus": line_status,
        "discount": discounts,
        "observations": rng.choice(OBSERVATIONS) if rng.random() < 0.1 else None,
        "deliveryDate": (created + timedelta(days=rng.randint(30, 90))).strftime(DAY),
        "cancellationDate": timestamp(modified) if line_status == "DELETED" else None,
        "lineAmount": ZERO,
        "quantity": quantity,
        "quantityServed": served,
        "quantityFromStock": served,
        "lineDetail": details,
    }


def line_detail(
    state: B2BState, product: Document, quantity: int, price: Decimal | None = None
) -> Document:
    """``quantity`` of ``product`` at ``price`` (default: the product's wholesale price)."""
    return {
        "id": state.new_line_detail_id(),
        "idRemote": None,
        "product": product["reference"],
        "quantity": quantity,
        "price": product["price"] if price is None else price,
        "retailPrice": product["retailPrice"],
    }
