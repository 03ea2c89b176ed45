"""The simulated CRM's data: seeded orders, the status and asset catalogs, and the writes.

Everything is seeded from ``random.Random(seed)`` and ``backends/simkit/fake.py`` (never the
clock). Orders are kept in their wire shape (PascalCase keys) with Python values (``Decimal``,
``datetime``) that ``simulator.py`` renders as JSON.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from backends.crm import wire
from backends.simkit import fake
from backends.simkit.app import SimConfig

FIRST_ORDER_ID = 10001
DELETED_EVERY = 25  # one order in 25 is deleted (IsDeleted) but still listed

STATUSES: dict[int, str] = {
    1: "New",
    2: "Confirmed",
    3: "Processing",
    4: "Shipped",
    5: "Delivered",
    6: "Completed",
    7: "Cancelled",
    8: "Returned",
}
# Seed weights per status id, and the payment states an order in that status can be in.
STATUS_WEIGHTS = [14, 10, 12, 16, 14, 22, 7, 5]
PAYMENT_STATES: dict[str, list[str]] = {
    "New": ["None", "Pending", "Pending", "Failed"],
    "Confirmed": ["Paid", "Paid", "PartiallyPaid", "Invoiced"],
    "Processing": ["Paid", "Paid", "Invoiced"],
    "Shipped": ["Paid", "Paid", "Invoiced", "PartiallyPaid"],
    "Delivered": ["Paid", "Paid", "Invoiced"],
    "Completed": ["Paid"],
    "Cancelled": ["Refunded", "None", "Failed"],
    "Returned": ["Refunded"],
}
DISPATCHED = {"Shipped", "Delivered", "Completed", "Returned"}
INVOICED = {"Paid", "PartiallyPaid", "Invoiced", "Refunded"}

# Asset catalogs. Amounts are in EUR, converted into an order's currency when applied.
DISCOUNT_CODES: list[dict[str, Any]] = [
    {"Id": 1, "Code": "WELCOME10", "Type": "Percent", "Value": Decimal("10")},
    {"Id": 2, "Code": "SUMMER25", "Type": "Percent", "Value": Decimal("25")},
    {"Id": 3, "Code": "VIP15", "Type": "Percent", "Value": Decimal("15")},
    {"Id": 4, "Code": "FIVEOFF", "Type": "Fixed", "Value": Decimal("5.00")},
    {"Id": 5, "Code": "TWENTYOFF", "Type": "Fixed", "Value": Decimal("20.00")},
]
GIFT_VOUCHERS: list[dict[str, Any]] = [
    {"Id": 1, "Name": "Gift card 25", "Amount": Decimal("25.00")},
    {"Id": 2, "Name": "Gift card 50", "Amount": Decimal("50.00")},
    {"Id": 3, "Name": "Gift card 100", "Amount": Decimal("100.00")},
]
SHIPPING_OPTIONS: list[dict[str, Any]] = [
    {"Id": 1, "Name": "Standard delivery", "Cost": Decimal("4.95")},
    {"Id": 2, "Name": "Express delivery", "Cost": Decimal("9.95")},
    {"Id": 3, "Name": "Pick-up point", "Cost": Decimal("2.95")},
    {"Id": 4, "Name": "Collect in store", "Cost": Decimal("0.00")},
]
TAX_CODES: list[dict[str, Any]] = [
    {"Id": 1, "Code": "VAT21", "Rate": Decimal("21")},
    {"Id": 2, "Code": "VAT19", "Rate": Decimal("19")},
    {"Id": 3, "Code": "VAT20", "Rate": Decimal("20")},
    {"Id": 4, "Code": "VAT22", "Rate": Decimal("22")},
    {"Id": 5, "Code": "GST18", "Rate": Decimal("18")},
    {"Id": 6, "Code": "VAT9", "Rate": Decimal("9")},
    {"Id": 7, "Code": "ZERO", "Rate": Decimal("0")},
]
TAX_CODE_BY_COUNTRY = {
    "NL": "VAT21",
    "BE": "VAT21",
    "ES": "VAT21",
    "DE": "VAT19",
    "FR": "VAT20",
    "GB": "VAT20",
    "IT": "VAT22",
    "PK": "GST18",
}
PRICE_FACTOR = {
    "EUR": Decimal("1"),
    "USD": Decimal("1.08"),
    "GBP": Decimal("0.86"),
    "PKR": Decimal("300"),
}
CURRENCY_COUNTRY = {"EUR": "EU", "USD": "US", "GBP": "GB", "PKR": "PK"}
PAYMENT_GATEWAYS = {"CreditCard": "stripe", "PayPal": "paypal", "iDEAL": "mollie"}
# Payments[].Status per PaymentState; any other state's payment "Succeeded".
PAYMENT_RESULT = {"Refunded": "Refunded", "Failed": "Failed", "Pending": "Pending"}


class Rejected(Exception):
    """A request the CRM refuses with a 4xx and a ``Message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def find(catalog: list[dict[str, Any]], key: str, value: object) -> dict[str, Any] | None:
    return next((entry for entry in catalog if entry[key] == value), None)


def in_currency(amount: Decimal, currency: str) -> Decimal:
    """A catalog amount (EUR) in an order's currency, at the simulator's fixed rates."""
    return fake.money(amount * PRICE_FACTOR[currency])


def recompute(order: dict[str, Any]) -> None:
    """TotalCost = items - discount code + shipping + tax on that, minus the gift voucher.

    A gift voucher pays like money (after tax) and never for more than what is left.
    """
    subtotal = sum((line["TotalPrice"] for line in order["OrderLines"]), Decimal("0"))
    discount = Decimal("0")
    if order["Discount"] is not None:
        code = find(DISCOUNT_CODES, "Code", order["Discount"]["Code"])
        assert code is not None  # only catalog codes are ever set
        if code["Type"] == "Percent":
            discount = fake.money(subtotal * code["Value"] / 100)
        else:
            discount = min(in_currency(code["Value"], order["Currency"]), subtotal)
        order["Discount"]["Cost"] = discount
    shipping = order["ShippingInfo"]["Cost"]
    rate = order["Tax"]["Rate"] if order["Tax"] is not None else Decimal("0")
    taxable = subtotal - discount + shipping
    due = taxable + fake.money(taxable * rate / 100)
    if order["GiftVoucher"] is not None:
        voucher = find(GIFT_VOUCHERS, "Name", order["GiftVoucher"]["Name"])
        assert voucher is not None
        order["GiftVoucher"]["Cost"] = min(in_currency(voucher["Amount"], order["Currency"]), due)
        due -= order["GiftVoucher"]["Cost"]
    order["TotalCost"] = due
    if order["PaymentState"] != "Refunded":
        order["AmountPending"] = max(due - order["AmountPaid"], Decimal("0"))


class CrmState:
    """The simulator's orders, rebuilt from the seed by ``reset``."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.orders: dict[int, dict[str, Any]] = {}
        self.reset()

    def reset(self) -> None:
        self.orders = seed_orders(random.Random(self.config.seed), self.config.orders)
        seat_regular(self.orders, fake.regular(self.config.seed))


def seat_regular(orders: dict[int, dict[str, Any]], regular: fake.Person) -> None:
    """The member of the first order is the shopper every simulator has (name and e-mail, on
    each of the member's orders)."""
    member_id = orders[FIRST_ORDER_ID]["Member"]["Id"]
    for order in orders.values():
        if order["Member"]["Id"] == member_id:
            order["Member"].update(
                Email=regular.email, FirstName=regular.first_name, LastName=regular.last_name
            )


def seed_orders(rng: random.Random, count: int) -> dict[int, dict[str, Any]]:
    members = [(5001 + n, fake.person(rng)) for n in range(max(count // 2, 1))]
    created = sorted(fake.moment(rng) for _ in range(count))
    orders: dict[int, dict[str, Any]] = {}
    for index, moment in enumerate(created):
        order_id = FIRST_ORDER_ID + index
        # A few orders are split off an earlier one (MainOrderId), once each.
        parent = (
            rng.randint(FIRST_ORDER_ID, order_id - 1) if index > 10 and rng.random() < 0.06 else 0
        )
        if parent and any(o["MainOrderId"] == parent for o in orders.values()):
            parent = 0
        order = seed_order(rng, order_id, moment, rng.choice(members), parent)
        if parent:
            # A split changes the original too: both carry the moment of the split as
            # their last modification (and so sit together in a newest-first list).
            split_at = max(orders[parent]["ModifiedDateTime"], order["ModifiedDateTime"])
            orders[parent]["ModifiedDateTime"] = order["ModifiedDateTime"] = split_at
        orders[order_id] = order
    return orders


def seed_order(
    rng: random.Random,
    order_id: int,
    created: datetime,
    member: tuple[int, fake.Person],
    parent_id: int,
) -> dict[str, Any]:
    member_id, person = member
    currency = rng.choice(fake.CURRENCIES)
    status_id = rng.choices(list(STATUSES), weights=STATUS_WEIGHTS)[0]
    status = STATUSES[status_id]
    payment_state = rng.choice(PAYMENT_STATES[status])
    tax = find(TAX_CODES, "Code", TAX_CODE_BY_COUNTRY[person.country])
    assert tax is not None
    shipping = rng.choice(SHIPPING_OPTIONS)
    products = rng.sample(range(len(fake.PRODUCTS)), rng.choices([1, 2, 3, 4], [50, 25, 15, 10])[0])
    lines = []
    for position, product in enumerate(products, start=1):
        _, product_name, price = fake.PRODUCTS[product]
        unit_price = in_currency(price, currency)
        quantity = rng.choice([1, 1, 1, 2, 3])
        lines.append(
            {
                "Id": order_id * 10 + position,
                "EntityType": "Product",
                "ProductId": 2001 + product,
                "ModuleId": 1501,
                "ProductName": product_name,
                "Quantity": quantity,
                "TaxRate": tax["Rate"],
                "UnitPrice": unit_price,
                "TotalPrice": unit_price * quantity,
                "FileName": None,
                "IsDownload": False,
                "Attributes": [],
            }
        )
    invoiced = payment_state in INVOICED
    dispatched = status in DISPATCHED
    awb_number = f"{rng.randint(10**11, 10**12 - 1)}" if dispatched else None
    carrier = rng.choice(fake.CARRIERS).lower()
    order: dict[str, Any] = {
        "Id": order_id,
        "AWBNumber": awb_number,
        "CurrencyCountry": CURRENCY_COUNTRY[currency],
        "Currency": currency,
        "Country": person.country,
        "InvoiceDate": fake.later(rng, created, max_days=1) if invoiced else None,
        "InvoiceNumber": 240000 + order_id if invoiced else 0,
        # A few orders are deleted but still listed (the order object carries IsDeleted).
        "IsDeleted": order_id % DELETED_EVERY == 0,
        "IsRecurring": False,
        "MainOrderId": parent_id,
        "MemberId": member_id,
        "OrderName": f"ORD-{created:%Y}-{order_id}",
        "PaymentState": payment_state,
        "StatusId": status_id,
        "TotalCost": Decimal("0"),
        "CreatedDateTime": created,
        "ModifiedDateTime": created if status == "New" else modified_after(rng, created),
        "HasSubscriptions": False,
        "HasPaidSubscription": False,
        "TrackingURL": f"https://track.example.com/{carrier}/{awb_number}" if dispatched else None,
        "TransactionId": None,
        "AmountPaid": Decimal("0"),
        "AmountPending": Decimal("0"),
        "OrderCaseType": "FormCase",
        "StatusShort": {"Id": status_id, "Name": status},
        "Discount": (
            {"Code": rng.choice(DISCOUNT_CODES)["Code"], "Cost": Decimal("0")}
            if rng.random() < 0.25
            else None
        ),
        "GiftVoucher": (
            {"Name": rng.choice(GIFT_VOUCHERS)["Name"], "Cost": Decimal("0")}
            if rng.random() < 0.1
            else None
        ),
        "Tax": {"Code": tax["Code"], "Rate": tax["Rate"]},
        "ShippingInfo": {
            "Name": shipping["Name"],
            "Cost": in_currency(shipping["Cost"], currency),
            "Address": person.street,
            "City": person.city,
            "State": person.state,
            "Zipcode": person.postal_code,
            "Country": person.country,
        },
        "Member": {
            "Id": member_id,
            "Email": person.email,
            "FirstName": person.first_name,
            "LastName": person.last_name,
        },
        "OrderLines": lines,
        "Payments": [],
        "CustomCrmGroups": (
            {"GiftOptions": {"GiftWrap": True, "GiftMessage": "Happy birthday!"}}
            if rng.random() < 0.15
            else {}
        ),
    }
    recompute(order)
    seed_payment(rng, order, created)
    return order


def modified_after(rng: random.Random, created: datetime) -> datetime:
    """A last change up to 20 days after ``created``, never past the seed epoch."""
    span = int((fake.SEED_EPOCH - created).total_seconds())
    return created + timedelta(seconds=rng.randint(0, min(span, 20 * 86400)))


def seed_payment(rng: random.Random, order: dict[str, Any], created: datetime) -> None:
    """One payment matching ``PaymentState``, and the paid/pending amounts it leaves."""
    state, total = order["PaymentState"], order["TotalCost"]
    if state in {"None", "Invoiced"}:
        return
    amount = (
        fake.money(total * Decimal(rng.choice(["0.3", "0.5"])))
        if state == "PartiallyPaid"
        else total
    )
    captured = amount if state in {"Paid", "PartiallyPaid", "Refunded"} else Decimal("0")
    payment_type = rng.choice(list(PAYMENT_GATEWAYS))
    transaction_id = f"tr_{rng.getrandbits(48):012x}"
    order["TransactionId"] = transaction_id
    order["Payments"] = [
        {
            "Id": order["Id"] * 10 + 1,
            "Amount": amount,
            "AmountCaptured": captured,
            "GatewayReason": "card_declined" if state == "Failed" else None,
            "TransactionId": transaction_id,
            "Status": PAYMENT_RESULT.get(state, "Succeeded"),
            "PaymentType": payment_type,
            "PaymentGatewayType": PAYMENT_GATEWAYS[payment_type],
            "Notes": None,
            "CreatedDateTime": fake.later(rng, created, max_days=2),
        }
    ]
    order["AmountPaid"] = captured if state != "Refunded" else Decimal("0")
    order["AmountPending"] = Decimal("0") if state == "Refunded" else total - order["AmountPaid"]


# The writes: each checks its request before it changes anything (a refusal changes nothing).


def asset_id(value: str, catalog: list[dict[str, Any]], field: str) -> dict[str, Any]:
    """The catalog entry a write names; the document types asset ids as strings."""
    digits = value.strip()
    entry = find(catalog, "Id", int(digits)) if digits.isascii() and digits.isdigit() else None
    if entry is None:
        raise Rejected(f"{field} '{value}' does not exist.")
    return entry


def set_discount_code(order: dict[str, Any], body: wire.SetDiscountCode) -> None:
    code = asset_id(body.DiscountId, DISCOUNT_CODES, "DiscountId")
    order["Discount"] = {"Code": code["Code"], "Cost": Decimal("0")}


def set_gift_voucher(order: dict[str, Any], body: wire.SetGiftVoucher) -> None:
    voucher = asset_id(body.GiftVoucherId, GIFT_VOUCHERS, "GiftVoucherId")
    order["GiftVoucher"] = {"Name": voucher["Name"], "Cost": Decimal("0")}


def set_shipping_option(order: dict[str, Any], body: wire.SetShippingOption) -> None:
    option = asset_id(body.ShippingOptionId, SHIPPING_OPTIONS, "ShippingOptionId")
    order["ShippingInfo"] = {
        **order["ShippingInfo"],
        "Name": option["Name"],
        "Cost": in_currency(option["Cost"], order["Currency"]),
    }


def set_tax_code(order: dict[str, Any], body: wire.SetTaxCode) -> None:
    tax = asset_id(body.TaxId, TAX_CODES, "TaxId")
    order["Tax"] = {"Code": tax["Code"], "Rate": tax["Rate"]}
    for line in order["OrderLines"]:
        line["TaxRate"] = tax["Rate"]


def set_status(order: dict[str, Any], body: wire.SetStatus) -> None:
    if body.StatusId not in STATUSES:
        raise Rejected(f"StatusId {body.StatusId} does not exist.")
    order["StatusId"] = body.StatusId
    order["StatusShort"] = {"Id": body.StatusId, "Name": STATUSES[body.StatusId]}


def set_shipment(order: dict[str, Any], body: wire.SetShipment) -> None:
    if not body.AWBNumber.strip():
        raise Rejected("AWBNumber must not be empty.")
    order["AWBNumber"] = body.AWBNumber.strip()
    order["TrackingURL"] = body.TrackingURL
