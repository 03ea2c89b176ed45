"""The change feed (issue 11): the order index, the event log, ingestion checkpoints, affiliate
webhook receipts, and partners' outgoing webhooks with their deliveries.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def utc(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "order_index",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False, index=True),
        sa.Column("upstream_id", sa.String(100), nullable=False),
        sa.Column("order_source", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("number", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payment_status", sa.String(20), nullable=False),
        sa.Column("total", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("customer_email", sa.String(320), index=True),
        sa.Column("customer_name", sa.String(300)),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("upstream_updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("order_json", sa.Text(), nullable=False),
        utc("synced_at"),
    )
    op.create_table(
        "change_events",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("order_id", sa.String(200), nullable=False, index=True),
        sa.Column("source", sa.String(20), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("changed", sa.String(1000), nullable=False),
        sa.Column("order_json", sa.Text()),
        utc("occurred_at"),
    )
    op.create_table(
        "sync_checkpoints",
        sa.Column("source", sa.String(20), primary_key=True),
        utc("watermark", nullable=True),
        sa.Column("full_offset", sa.Integer()),
        utc("full_started_at", nullable=True),
        utc("last_full_at", nullable=True),
        utc("last_poll_at", nullable=True),
        sa.Column("last_error", sa.String(500)),
    )
    op.create_table(
        "webhook_receipts",
        sa.Column("delivery_id", sa.String(100), primary_key=True),
        sa.Column("event", sa.String(50), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        utc("received_at"),
        utc("processed_at", nullable=True),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.String(200), nullable=False),
        sa.Column("sources", sa.String(200), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        utc("created_at"),
        utc("deleted_at", nullable=True),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.Integer(), nullable=False, index=True),
        sa.Column("event_position", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("last_error", sa.String(500)),
        utc("last_attempt_at", nullable=True),
        utc("lease_until", nullable=True),
        utc("created_at"),
        sa.UniqueConstraint("subscription_id", "event_position"),
    )


def downgrade() -> None:
    for table in (
        "webhook_deliveries",
        "webhook_subscriptions",
        "webhook_receipts",
        "sync_checkpoints",
        "change_events",
        "order_index",
    ):
        op.drop_table(table)
