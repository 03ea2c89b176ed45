"""The contract's enums, registered on the domain's own enums so there is one list of values."""

from __future__ import annotations

import strawberry

from domain import models
from domain.errors import ErrorCode as DomainErrorCode

OrderSource = strawberry.enum(
    models.OrderSource, name="OrderSource", description="Which upstream order system owns an order."
)
OrderStatus = strawberry.enum(
    models.OrderStatus,
    name="OrderStatus",
    description="The gateway's canonical order status; each backend maps its own states onto it.",
)
PaymentStatus = strawberry.enum(
    models.PaymentStatus,
    name="PaymentStatus",
    description="The gateway's canonical payment status; each backend maps its own values onto it.",
)
DiscountKind = strawberry.enum(
    models.DiscountKind,
    name="DiscountKind",
    description="Where a discount comes from: a typed code, a gift voucher, the order or a line.",
)
OrderCapability = strawberry.enum(
    models.OrderCapability,
    name="OrderCapability",
    description=(
        "What an order's backend can do; mutations not listed fail with UNSUPPORTED_BY_BACKEND."
    ),
)
ErrorCode = strawberry.enum(
    DomainErrorCode,
    name="ErrorCode",
    description="Machine-readable kind of an error, in `userErrors` and `extensions.code`.",
)
