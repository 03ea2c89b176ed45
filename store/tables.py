"""The store's tables; the migrations in ``store/migrations/versions`` create them.

orders            one row per order the gateway has touched (global id, last status...)
shipments         dispatches the gateway sent, with their consignment numbers
order_events      the audit trail: every change, who made it, and its delivery outcome
outbox            upstream writes still to deliver, in order per order
idempotency_keys  client idempotency keys with the result they produced
api_keys          partners' API keys: a hash of each secret (never the secret), scopes, sources
shared_secrets    keys the gateway makes for itself, one per use, the same for every replica
order_index       every order of every enabled backend as last seen upstream (``feed.index``)
change_events     the change feed: each change seen, at an increasing position
sync_checkpoints  how far ingestion of each backend got (``feed.poller``)
webhook_receipts  affiliate webhook deliveries received, by delivery id (deduplication)
webhook_subscriptions  partners' outgoing webhooks (``feed.partner_webhooks``)
webhook_deliveries     one event to one subscription: its attempts and outcome
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utc_column(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class OrderRecord(SQLModel, table=True):
    __tablename__ = "orders"

    id: str = Field(primary_key=True, max_length=200, description="global order id")
    source: str = Field(max_length=20)
    upstream_id: str = Field(max_length=100)
    reference: str | None = Field(default=None, max_length=200)
    # The `order_source` column of the affiliate work item (000_*): affiliate, web, crm, b2b.
    order_source: str = Field(max_length=20)
    last_status: str | None = Field(default=None, max_length=20)
    parent_id: str | None = Field(default=None, max_length=200, index=True)
    first_seen_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class ShipmentRecord(SQLModel, table=True):
    __tablename__ = "shipments"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, max_length=200)
    consignment_number: str = Field(max_length=100)
    carrier: str | None = Field(default=None, max_length=100)
    tracking_url: str | None = Field(default=None)
    dispatched_at: datetime = Field(sa_column=utc_column())


class OrderEventRecord(SQLModel, table=True):
    """One entry of an order's audit trail."""

    __tablename__ = "order_events"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, max_length=200, description="global order id")
    at: datetime = Field(sa_column=utc_column())
    kind: str = Field(max_length=40)
    detail: str | None = Field(default=None)
    actor: str | None = Field(default=None, max_length=200)
    outcome: str | None = Field(default=None, max_length=20)
    change_id: int | None = Field(default=None, index=True, description="its outbox entry")


class OutboxEntry(SQLModel, table=True):
    """One upstream write; ``id`` order is delivery order within an order."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, max_length=200)
    source: str = Field(max_length=20)
    upstream_id: str = Field(max_length=100)
    command: str = Field(sa_column=Column(Text, nullable=False))
    idempotency_key: str = Field(max_length=200, unique=True)
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(index=True))
    last_error: str | None = None
    # A rejected change's ``extensions.code`` (``ErrorCode``), answered again to a retry.
    rejection_code: str | None = Field(default=None, max_length=40)
    outcome_unknown: bool = False
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    actor: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=utc_column())
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    key: str = Field(primary_key=True, max_length=300, description="operation:client key")
    request_hash: str = Field(max_length=64)
    status: str = Field(default="in_progress", max_length=20)
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The idempotency key of the outbox change this request queues (``outbox.idempotency_key``):
    # after a crash, a retry finds that change and answers its outcome.
    change_key: str | None = Field(default=None, max_length=100)
    # The process whose request holds the key (``store.owners``): one known gone gives it up.
    owner: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_column=utc_column())


class ApiKeyRecord(SQLModel, table=True):
    """A partner's API key. Only the SHA-256 of the secret is kept: a leaked table gives no
    working key, and the secret is shown once, when the key is made."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, description="who holds it; the actor in order histories")
    secret_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=500, description="space-separated scopes")
    sources: str | None = Field(default=None, max_length=200, description="space-separated")
    rate: float | None = Field(default=None, description="cost points per second")
    created_at: datetime = Field(sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class SharedSecretRecord(SQLModel, table=True):
    """A random key the gateway made on its first start (``store.shared_secrets``)."""

    __tablename__ = "shared_secrets"

    name: str = Field(primary_key=True, max_length=100, description="what the key is for")
    value: str = Field(max_length=200, description="URL-safe base64 of 32 random bytes")
    created_at: datetime = Field(sa_column=utc_column())


class IndexedOrder(SQLModel, table=True):
    """One order as ingestion last saw it upstream: the columns searches and filters use, and
    the mapped order itself (``order_json``, ``feed.codec``)."""

    __tablename__ = "order_index"

    id: str = Field(primary_key=True, max_length=200, description="global order id")
    source: str = Field(max_length=20, index=True)
    upstream_id: str = Field(max_length=100)
    order_source: str = Field(max_length=20, description="affiliate, web, crm or b2b")
    reference: str | None = Field(default=None, max_length=200)
    number: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=20)
    payment_status: str = Field(max_length=20)
    total: str = Field(max_length=40, description="exact decimal, as text")
    currency: str = Field(max_length=3)
    customer_email: str | None = Field(default=None, max_length=320, index=True)
    customer_name: str | None = Field(default=None, max_length=300)
    deleted: bool = False
    upstream_updated_at: datetime = Field(sa_column=utc_column(index=True))
    content_hash: str = Field(max_length=64)
    order_json: str = Field(sa_column=Column(Text, nullable=False))
    synced_at: datetime = Field(sa_column=utc_column())


class ChangeEventRecord(SQLModel, table=True):
    """One change of one order; ``position`` orders the feed (commit order, see
    ``feed.index``)."""

    __tablename__ = "change_events"

    position: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    order_id: str = Field(index=True, max_length=200)
    source: str = Field(max_length=20, index=True)
    kind: str = Field(max_length=20)
    origin: str = Field(max_length=20)
    changed: str = Field(max_length=1000, description="space-separated field names")
    order_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    occurred_at: datetime = Field(sa_column=utc_column())


class SyncCheckpoint(SQLModel, table=True):
    """How far ingestion of one backend got: the newest upstream change it has seen, and how
    far a full load got (to resume it)."""

    __tablename__ = "sync_checkpoints"

    source: str = Field(primary_key=True, max_length=20)
    watermark: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    full_offset: int | None = Field(default=None, description="a full load's next offset")
    full_started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_full_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_poll_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)


class WebhookReceipt(SQLModel, table=True):
    """One affiliate webhook delivery, kept by its id so that a repeat changes nothing."""

    __tablename__ = "webhook_receipts"

    delivery_id: str = Field(primary_key=True, max_length=100)
    event: str = Field(max_length=50)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=utc_column())
    processed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class WebhookSubscriptionRecord(SQLModel, table=True):
    """A partner's outgoing webhook: where to send which events, and the signing secret."""

    __tablename__ = "webhook_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: str = Field(max_length=200, description="space-separated OrderChangeKind values")
    sources: str = Field(max_length=200, description="space-separated OrderSource values")
    # Kept as it is (the gateway signs with it); never in a repr, so never in a log line.
    secret: str = Field(
        max_length=200, repr=False, description="whsec_...: the Standard Webhooks key"
    )
    owner: str = Field(max_length=200, description="the principal's identity that made it")
    created_at: datetime = Field(sa_column=utc_column())
    deleted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class WebhookDeliveryRecord(SQLModel, table=True):
    """One event on its way to one subscription; per subscription, sent in position order."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "event_position"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(index=True)
    event_position: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(index=True))
    last_error: str | None = Field(default=None, max_length=500)
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
