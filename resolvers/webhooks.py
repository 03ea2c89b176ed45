"""Resolvers of partners' outgoing webhooks over GraphQL (scope ``webhooks:manage``).

A caller sees, reads the deliveries of and deletes only the subscriptions it made (their
owner is its ``Principal.identity``); another caller's id answers NOT_FOUND, as an id that
does not exist does. A subscription's sources default to every source the caller may see,
and may not go beyond them; where its URL may point is ``feed.webhook_destinations``'.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import ForbiddenError, NotFoundError, ValidationError
from domain.models import OrderSource
from feed.index import ChangeKind
from feed.webhook_destinations import destination_problem, private_allowed
from gateway.context import Context
from store import webhook_subscriptions
from store.tables import WebhookSubscriptionRecord

DELIVERIES_MAX = 200


def _id(raw_id: str, field: list[str]) -> int:
    if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
        return int(raw_id)
    raise NotFoundError(f"No webhook subscription has the id {raw_id!r}.", field=field)


def _owner(context: Context) -> str:
    return context.principal.identity


async def list_subscriptions(context: Context) -> list[WebhookSubscriptionRecord]:
    return await webhook_subscriptions.list_live(context.store, _owner(context))


async def create_subscription(
    context: Context,
    *,
    url: str,
    events: Sequence[ChangeKind],
    sources: Sequence[OrderSource] | None,
) -> webhook_subscriptions.NewSubscription:
    principal = context.principal
    if not events:
        raise ValidationError(
            "Name at least one kind of change to send.", field=["input", "events"]
        )
    if sources is None:
        sources = [source for source in OrderSource if principal.sees(source)]
    elif not sources:
        raise ValidationError(
            "Give the sources whose events to send, or none at all for every source the "
            "credential may see.",
            field=["input", "sources"],
        )
    outside = [source.value for source in sources if not principal.sees(source)]
    if outside:
        raise ForbiddenError(
            f"This credential does not see {', '.join(outside)}: a subscription gets only "
            "events of sources its maker may see.",
            field=["input", "sources"],
        )
    url = url.strip()
    problem = await destination_problem(url, allow_private=private_allowed(context.settings))
    if problem is not None:
        raise ValidationError(problem, field=["input", "url"])
    limit = context.settings.feed.webhook_subscriptions_max
    if await webhook_subscriptions.count_live(context.store, _owner(context)) >= limit:
        raise ValidationError(
            f"A caller has at most {limit} webhook subscriptions: delete one first.",
            field=["input"],
        )
    return await webhook_subscriptions.create(
        context.store, owner=_owner(context), url=url, events=events, sources=sources
    )


async def delete_subscription(context: Context, raw_id: str) -> int:
    subscription_id = _id(raw_id, ["id"])
    if not await webhook_subscriptions.delete(context.store, _owner(context), subscription_id):
        raise NotFoundError(f"No webhook subscription has the id {raw_id!r}.", field=["id"])
    return subscription_id


async def list_deliveries(
    context: Context, raw_id: str, *, first: int
) -> list[webhook_subscriptions.SentEvent]:
    subscription_id = _id(raw_id, ["subscriptionId"])
    if not 1 <= first <= DELIVERIES_MAX:
        raise ValidationError(f"`first` is 1 to {DELIVERIES_MAX}.", field=["first"])
    found = await webhook_subscriptions.get_live(context.store, _owner(context), subscription_id)
    if found is None:
        raise NotFoundError(
            f"No webhook subscription has the id {raw_id!r}.", field=["subscriptionId"]
        )
    return await webhook_subscriptions.deliveries(context.store, subscription_id, first=first)
