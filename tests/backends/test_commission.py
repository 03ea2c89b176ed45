"""The affiliate's commission rule (``backends/affiliate/commission.py``), as a table.

``docs/upstreams/affiliate.md`` ("Commission"): ``commission_rate`` / 100 x the sum of the
item ``total``s (after their discounts; no shipping, no tax), rounded half-up to the cent,
and nothing while the order is ``cancelled`` or ``returned``. Every expected amount below is
worked out by hand from that sentence.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backends.affiliate import wire
from backends.affiliate.commission import commission

FIXTURE = Path(__file__).parent.parent / "fixtures" / "affiliate" / "order.json"


def order(*, status: str = "confirmed", rate: str, items: list[str]) -> wire.Order:
    """The fixture order with the given status, commission rate and item totals."""
    raw: dict[str, Any] = json.loads(FIXTURE.read_text())["data"]
    template = raw["items"][0]
    raw["items"] = [{**template, "id": n, "total": total} for n, total in enumerate(items)]
    return wire.Order.model_validate(
        {**raw, "status": status, "commission_rate": rate, "commission_amount": "999.99"}
    )


# rate, item totals -> commission (the fixture order's shipping 4.95 and tax 13.21 never count)
AMOUNTS = [
    ("fixture-order", "7.50", ["44.91", "17.99"], "4.72"),  # 4.7175
    ("one-item", "10.00", ["50.20"], "5.02"),
    ("whole-percent", "5", ["100.00"], "5.00"),
    ("three-items", "5.00", ["10.00", "20.00", "30.00"], "3.00"),
    ("half-cent-rounds-up", "10.00", ["0.05"], "0.01"),  # 0.005, half-even would be 0.00
    ("half-cent-up-from-even", "10.00", ["0.25"], "0.03"),  # 0.025, half-even would be 0.02
    ("just-under-half-rounds-down", "10.00", ["0.049"], "0.00"),  # 0.0049
    ("just-over-half-rounds-up", "7.50", ["0.07"], "0.01"),  # 0.00525
    ("fractional-rate", "12.345", ["200.00"], "24.69"),
    ("zero-rate", "0.00", ["80.00"], "0.00"),
    ("no-items", "7.50", [], "0.00"),
    ("free-items", "7.50", ["0.00", "0.00"], "0.00"),
    ("hundred-percent", "100", ["12.34", "0.01"], "12.35"),
]


@pytest.mark.parametrize(
    ("rate", "items", "amount"), [row[1:] for row in AMOUNTS], ids=[row[0] for row in AMOUNTS]
)
def test_commission_is_the_rate_of_the_item_totals_half_up_to_the_cent(
    rate: str, items: list[str], amount: str
) -> None:
    result = commission(order(rate=rate, items=items))
    assert result == Decimal(amount)
    assert str(result) == amount  # to the cent, always two places


# Every affiliate status: does the affiliate earn on an order in it?
STATUSES = [
    ("pending", "4.72"),
    ("confirmed", "4.72"),
    ("processing", "4.72"),
    ("dispatched", "4.72"),
    ("delivered", "4.72"),
    ("completed", "4.72"),
    ("cancelled", "0.00"),
    ("returned", "0.00"),
]


@pytest.mark.parametrize(("status", "amount"), STATUSES, ids=[s for s, _ in STATUSES])
def test_a_cancelled_or_returned_order_earns_nothing(status: str, amount: str) -> None:
    result = commission(order(status=status, rate="7.50", items=["44.91", "17.99"]))
    assert str(result) == amount
