"""Partners' outgoing webhooks managed over GraphQL (scope ``webhooks:manage``).

``Query.webhookSubscriptions``, ``Query.webhookDeliveries``, ``Mutation.createWebhookSubscription``
and ``Mutation.deleteWebhookSubscription`` live on the mixins below, which ``Query`` and
``Mutation`` inherit; the work is ``resolvers.webhooks``', the sending ``feed.partner_webhooks``'.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.errors import OrdergateError
from feed.events import event_id
from gateway.context import Context
from resolvers import webhooks as resolve
from schema.enums import ChangeKind, OrderSource
from schema.payloads import UserError
from schema.permissions import Requires
from store import webhook_subscriptions
from store.tables import WebhookSubscriptionRecord

Info = strawberry.Info[Context, None]


@strawberry.type(
    description="A partner's outgoing webhook: the order events of some kinds and sources, "
    "POSTed to a URL and signed per Standard Webhooks (its secret is never shown again)."
)
class WebhookSubscription:
    id: strawberry.ID = strawberry.field(description="The subscription's id.")
    url: str = strawberry.field(description="Where the events are POSTed.")
    events: list[ChangeKind] = strawberry.field(description="The kinds of change sent.")
    sources: list[OrderSource] = strawberry.field(
        description="The backends whose orders' events are sent."
    )
    created_at: datetime = strawberry.field(
        description="When it was made: it gets the events from then on."
    )

    @classmethod
    def from_record(cls, record: WebhookSubscriptionRecord) -> WebhookSubscription:
        return cls(
            id=strawberry.ID(str(record.id)),
            url=record.url,
            events=webhook_subscriptions.kinds_of(record),
            sources=webhook_subscriptions.sources_of(record),
            created_at=record.created_at,
        )


@strawberry.type(description="One event on its way to one webhook subscription.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The delivery's id.")
    subscription_id: strawberry.ID = strawberry.field(description="Its subscription's id.")
    event_id: strawberry.ID = strawberry.field(
        description="The event's id (`OrderChangeEvent.id`): the message's `webhook-id` and "
        "`data.eventId`."
    )
    status: str = strawberry.field(
        description="pending (not tried yet), delivered (the receiver answered 2xx), failing "
        "(retried with backoff) or given_up (failed for the whole retry window; the next "
        "event went on)."
    )
    attempts: int = strawberry.field(description="Attempts so far.")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed, e.g. HTTP 503; null once delivered."
    )
    last_attempt_at: datetime | None = strawberry.field(
        description="When it was last tried (null: not yet)."
    )

    @classmethod
    def from_store(cls, sent: webhook_subscriptions.SentEvent) -> WebhookDelivery:
        record = sent.delivery
        return cls(
            id=strawberry.ID(str(record.id)),
            subscription_id=strawberry.ID(str(record.subscription_id)),
            event_id=strawberry.ID(event_id(sent.source, record.event_position)),
            status=record.status,
            attempts=record.attempts,
            last_error=record.last_error,
            last_attempt_at=record.last_attempt_at,
        )


@strawberry.input(description="A new outgoing webhook.")
class CreateWebhookSubscriptionInput:
    url: str = strawberry.field(
        description="Where to POST the events: http:// or https://, no user:pass@, at most "
        "2000 characters; in production, a public address."
    )
    events: list[ChangeKind] = strawberry.field(
        description="The kinds of change to send (at least one)."
    )
    sources: list[OrderSource] | None = strawberry.field(
        default=None,
        description="Only these backends' orders (default: every source the caller may see).",
    )


@strawberry.type(description="The result of making an outgoing webhook.")
class CreateWebhookSubscriptionPayload:
    subscription: WebhookSubscription | None = strawberry.field(description="The new subscription.")
    secret: str | None = strawberry.field(
        description="The signing secret (Standard Webhooks, whsec_...), shown once."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")


@strawberry.type(description="The result of deleting an outgoing webhook.")
class DeleteWebhookSubscriptionPayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="The deleted subscription's id: nothing more is sent to it."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="The caller's own outgoing webhook subscriptions (never their secrets).",
        permission_classes=[Requires.WEBHOOKS_MANAGE],
    )
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        records = await resolve.list_subscriptions(info.context)
        return [WebhookSubscription.from_record(r) for r in records]

    @strawberry.field(
        description="The latest deliveries of one of the caller's subscriptions, newest event "
        "first (`first`: 1 to 200).",
        permission_classes=[Requires.WEBHOOKS_MANAGE],
    )
    async def webhook_deliveries(
        self, info: Info, subscription_id: strawberry.ID, first: int | None = 50
    ) -> list[WebhookDelivery]:
        records = await resolve.list_deliveries(
            info.context, str(subscription_id), first=50 if first is None else first
        )
        return [WebhookDelivery.from_store(sent) for sent in records]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Send the order events of some kinds and sources to a URL from now on, "
        "signed per Standard Webhooks with the secret answered here once.",
        permission_classes=[Requires.WEBHOOKS_MANAGE],
    )
    async def create_webhook_subscription(
        self, info: Info, input: CreateWebhookSubscriptionInput
    ) -> CreateWebhookSubscriptionPayload:
        try:
            new = await resolve.create_subscription(
                info.context, url=input.url, events=input.events, sources=input.sources
            )
        except OrdergateError as error:
            return CreateWebhookSubscriptionPayload(
                subscription=None, secret=None, user_errors=[UserError.from_error(error)]
            )
        return CreateWebhookSubscriptionPayload(
            subscription=WebhookSubscription.from_record(new.record),
            secret=new.secret,
            user_errors=[],
        )

    @strawberry.mutation(
        description="Delete one of the caller's webhook subscriptions: nothing more is sent.",
        permission_classes=[Requires.WEBHOOKS_MANAGE],
    )
    async def delete_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> DeleteWebhookSubscriptionPayload:
        try:
            deleted = await resolve.delete_subscription(info.context, str(id))
        except OrdergateError as error:
            return DeleteWebhookSubscriptionPayload(
                deleted_id=None, user_errors=[UserError.from_error(error)]
            )
        return DeleteWebhookSubscriptionPayload(
            deleted_id=strawberry.ID(str(deleted)), user_errors=[]
        )
