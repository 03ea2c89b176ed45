"""The gateway's own order model: exact money, and the canonical vocabularies every backend
maps into (partners filter and branch on these names)."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import pytest

from domain.models import Money, OrderCapability, OrderSource, OrderStatus, PaymentStatus


@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP"])
def test_zero_is_an_exact_zero_in_the_currency_asked_for(currency: str) -> None:
    zero = Money.zero(currency)
    assert zero == Money(Decimal("0"), currency)
    assert (str(zero.amount), zero.currency) == ("0", currency)


@pytest.mark.parametrize(
    ("vocabulary", "names"),
    [
        (OrderSource, ["AFFILIATE", "WEBSHOP", "CRM", "B2B"]),
        (
            OrderStatus,
            [
                "PENDING",
                "CONFIRMED",
                "PROCESSING",
                "DISPATCHED",
                "DELIVERED",
                "COMPLETED",
                "CANCELLED",
                "RETURNED",
            ],
        ),
        (
            PaymentStatus,
            ["NONE", "PENDING", "PAID", "PARTIALLY_PAID", "INVOICED", "FAILED", "REFUNDED"],
        ),
        (
            OrderCapability,
            [
                "UPDATE_STATUS",
                "SPLIT",
                "DISPATCH",
                "SET_DISCOUNT_CODE",
                "SET_GIFT_VOUCHER",
                "SET_SHIPPING_OPTION",
                "SET_TAX_CODE",
                "SET_ERP_NUMBER",
                "EDIT_LINES",
                "MARK_SHIPPED",
                "SET_LINE_STATUS",
                "EDIT_ORDER",
            ],
        ),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_each_canonical_name_is_its_own_value(vocabulary: type[Enum], names: list[str]) -> None:
    assert [(member.name, member.value) for member in vocabulary] == [(n, n) for n in names]
