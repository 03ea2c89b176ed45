"""The contract's enums: strawberry registers the domain's own enums, so there is one list of
values. Importing this module registers them; the names re-exported here are the domain's."""

from __future__ import annotations

import strawberry

from domain.errors import ErrorCode
from domain.models import DiscountKind, OrderCapability, OrderSource, OrderStatus, PaymentStatus
from feed.index import ChangeKind, ChangeOrigin

strawberry.enum(OrderSource, description="Which upstream order system owns an order.")
strawberry.enum(
    OrderStatus,
    description="The gateway's canonical order status; each backend maps its own states onto it.",
)
strawberry.enum(
    PaymentStatus,
    description="The gateway's canonical payment status; each backend maps its own values onto it.",
)
strawberry.enum(
    DiscountKind,
    description="Where a discount comes from: a typed code, a gift voucher, the order or a line.",
)
strawberry.enum(
    OrderCapability,
    description=(
        "What an order's backend can do; mutations not listed fail with UNSUPPORTED_BY_BACKEND."
    ),
)
OrderChangeKind = strawberry.enum(
    ChangeKind,
    name="OrderChangeKind",
    description="What a change of an order was (the change feed's events).",
)
strawberry.enum(
    ChangeOrigin,
    name="ChangeOrigin",
    description="How the gateway learned of a change: an upstream's webhook, a poll of the "
    "upstream, or its own write.",
)
strawberry.enum(
    ErrorCode,
    description="Machine-readable kind of an error, in `userErrors` and `extensions.code`.",
)

__all__ = [
    "ChangeKind",
    "ChangeOrigin",
    "DiscountKind",
    "ErrorCode",
    "OrderCapability",
    "OrderSource",
    "OrderStatus",
    "PaymentStatus",
]
