"""``Query.viewer``: who the caller is, what it may do, and what is left of its budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from domain.access import PrincipalKind
from gateway.throttle import ThrottleStatus as Bucket
from schema.enums import OrderSource

if TYPE_CHECKING:
    from gateway.context import Context

strawberry.enum(PrincipalKind, description="How the caller proved who it is.")


@strawberry.type(description="A caller's cost budget: a leaky bucket of points (Shopify's model).")
class ThrottleStatus:
    maximum_available: float = strawberry.field(description="Points the bucket holds when full.")
    currently_available: float = strawberry.field(description="Points it holds now.")
    restore_rate: float = strawberry.field(description="Points it regains per second.")

    @classmethod
    def from_bucket(cls, bucket: Bucket) -> ThrottleStatus:
        return cls(
            maximum_available=bucket.maximum_available,
            currently_available=round(bucket.currently_available, 1),
            restore_rate=bucket.restore_rate,
        )


@strawberry.type(description="Who is calling, as the gateway authenticated them.")
class Viewer:
    principal: str = strawberry.field(
        description="Key name or token subject; what Order.history records as the actor."
    )
    kind: PrincipalKind = strawberry.field(description="API key, access token or anonymous.")
    scopes: list[str] = strawberry.field(
        description="What the caller may do: orders:read, orders:write, customers:read, ..."
    )
    sources: list[OrderSource] = strawberry.field(
        description="The sources this caller may see; every source when unrestricted."
    )
    throttle_status: ThrottleStatus = strawberry.field(
        description="The caller's cost budget after this request took its cost."
    )

    @classmethod
    async def of(cls, context: Context) -> Viewer:
        principal = context.principal
        bucket = context.cost.status if context.cost is not None else None
        if bucket is None:  # not metered (no operation measured): read the bucket
            budget = context.budget()
            take = await context.buckets.take(budget.key, 0, size=budget.size, rate=budget.rate)
            bucket = take.status
        return cls(
            principal=principal.name,
            kind=principal.kind,
            scopes=sorted(principal.scopes),
            sources=sorted(context.backends, key=list(OrderSource).index),
            throttle_status=ThrottleStatus.from_bucket(bucket),
        )
