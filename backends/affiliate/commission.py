"""The affiliate's commission on an order, by the platform's documented rule.

``docs/upstreams/affiliate.md`` ("Commission"): the order's ``commission_rate`` percent of
its items after their discounts (no shipping, no tax), half-up to the cent, and nothing
while the order is cancelled or returned. The adapter computes it itself (issue 3 §3)
rather than trusting ``commission_amount``, so the rule is ours and tested against it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from backends.affiliate import wire

CENT = Decimal("0.01")
# Statuses in which the affiliate earns nothing: the sale did not stand.
NO_COMMISSION_STATUSES = frozenset({"cancelled", "returned"})


def commission(order: wire.Order) -> Decimal:
    """``commission_rate`` x the sum of the item totals / 100, half-up to the cent."""
    if order.status in NO_COMMISSION_STATUSES:
        return Decimal("0.00")
    items_total = sum((item.total for item in order.items), Decimal(0))
    return (order.commission_rate * items_total / 100).quantize(CENT, rounding=ROUND_HALF_UP)
