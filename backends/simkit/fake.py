"""Deterministic fake data for seeding simulators: the same seed gives the same orders.

Every simulator draws from its own ``random.Random(seed)``; nothing here reads the clock.
One shopper, the ``regular``, buys from every simulated upstream: the same name and e-mail in
all four, so that one customer can be followed (searched) across the systems.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

# Seed timestamps fall in the 180 days before this instant (fixed, so seeds are stable).
SEED_EPOCH = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

FIRST_NAMES = [
    "Emma",
    "Liam",
    "Sofia",
    "Noah",
    "Mila",
    "Lucas",
    "Julia",
    "Daan",
    "Sara",
    "Finn",
    "Anna",
    "Sem",
    "Eva",
    "Levi",
    "Lotte",
    "Hugo",
    "Nora",
    "Milan",
    "Zoe",
    "Jesse",
    "Fatima",
    "Omar",
    "Hira",
    "Ahmed",
    "Lena",
    "Jonas",
    "Clara",
    "Mateo",
    "Ines",
    "Pablo",
]
LAST_NAMES = [
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "de Boer",
    "Khan",
    "Akhtar",
    "Naseem",
    "Garcia",
    "Martinez",
    "Lopez",
    "Muller",
    "Schmidt",
    "Rossi",
    "Bianchi",
    "Dubois",
    "Laurent",
    "Novak",
    "Kowalski",
    "Andersen",
    "Berg",
]
CITIES = [
    ("Amsterdam", "Noord-Holland", "1011 AB", "NL"),
    ("Rotterdam", "Zuid-Holland", "3011 AD", "NL"),
    ("Utrecht", "Utrecht", "3511 LX", "NL"),
    ("Antwerp", "Antwerpen", "2000", "BE"),
    ("Berlin", "Berlin", "10115", "DE"),
    ("Munich", "Bayern", "80331", "DE"),
    ("Madrid", "Madrid", "28001", "ES"),
    ("Barcelona", "Catalonia", "08001", "ES"),
    ("Lahore", "Punjab", "54000", "PK"),
    ("London", "Greater London", "EC1A 1BB", "GB"),
    ("Paris", "Ile-de-France", "75001", "FR"),
    ("Milan", "Lombardy", "20121", "IT"),
]
STREETS = [
    "Keizersgracht",
    "Coolsingel",
    "Oudegracht",
    "Meir",
    "Friedrichstrasse",
    "Gran Via",
    "Mall Road",
    "Baker Street",
    "Rue de Rivoli",
    "Via Torino",
    "Damrak",
    "Kalverstraat",
]
PRODUCTS = [
    ("TSHIRT-ORG-M", "Organic cotton T-shirt, M", Decimal("24.95")),
    ("TSHIRT-ORG-L", "Organic cotton T-shirt, L", Decimal("24.95")),
    ("HOODIE-GRY-L", "Grey hoodie, L", Decimal("59.00")),
    ("JEANS-SLIM-32", "Slim jeans 32/32", Decimal("79.90")),
    ("SNEAKER-WHT-42", "White leather sneaker, 42", Decimal("119.00")),
    ("SOCKS-3PK", "Bamboo socks, 3-pack", Decimal("12.50")),
    ("CAP-NAVY", "Navy baseball cap", Decimal("19.99")),
    ("JACKET-RAIN-M", "Rain jacket, M", Decimal("149.00")),
    ("BELT-LTH-90", "Leather belt 90 cm", Decimal("34.50")),
    ("SCARF-WOOL", "Merino wool scarf", Decimal("45.00")),
    ("BAG-TOTE", "Canvas tote bag", Decimal("15.00")),
    ("DRESS-LIN-S", "Linen summer dress, S", Decimal("89.00")),
    ("SHIRT-OXF-40", "Oxford shirt, 40", Decimal("54.95")),
    ("COFFEE-1KG", "Espresso beans 1 kg", Decimal("21.40")),
    ("MUG-STONE", "Stoneware mug", Decimal("9.75")),
]
CARRIERS = ["PostNL", "DHL", "DPD", "UPS", "GLS", "TCS"]
CURRENCIES = ["EUR", "EUR", "EUR", "USD", "GBP", "PKR"]

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Person:
    first_name: str
    last_name: str
    email: str
    street: str
    city: str
    state: str
    postal_code: str
    country: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def person(rng: random.Random) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, state, postal_code, country = rng.choice(CITIES)
    email = f"{first}.{last}".lower().replace(" ", "") + f"{rng.randint(1, 99)}@example.com"
    street = f"{rng.choice(STREETS)} {rng.randint(1, 240)}"
    return Person(first, last, email, street, city, state, postal_code, country)


def regular(seed: int) -> Person:
    """The shopper every simulator with this seed has among its customers. Drawn from a
    generator of its own, so seating it changes no other seeded value."""
    return person(random.Random(f"regular customer {seed}"))


def moment(rng: random.Random, *, days_back: int = 180) -> datetime:
    """A seed timestamp, whole seconds, within ``days_back`` days before ``SEED_EPOCH``."""
    return SEED_EPOCH - timedelta(seconds=rng.randint(0, days_back * 86400))


def later(rng: random.Random, start: datetime, *, max_days: int = 20) -> datetime:
    return min(start + timedelta(seconds=rng.randint(60, max_days * 86400)), SEED_EPOCH)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT)
