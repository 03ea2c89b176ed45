"""Write path: order records, shipments, the outbox, idempotency keys, event outcomes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def utc(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("upstream_id", sa.String(100), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("order_source", sa.String(20), nullable=False),
        sa.Column("last_status", sa.String(20), nullable=True),
        sa.Column("parent_id", sa.String(200), nullable=True),
        utc("first_seen_at"),
        utc("updated_at"),
    )
    op.create_index("ix_orders_parent_id", "orders", ["parent_id"])
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("consignment_number", sa.String(100), nullable=False),
        sa.Column("carrier", sa.String(100), nullable=True),
        sa.Column("tracking_url", sa.Text(), nullable=True),
        utc("dispatched_at"),
    )
    op.create_index("ix_shipments_order_id", "shipments", ["order_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("upstream_id", sa.String(100), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        utc("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("outcome_unknown", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        utc("lease_until", nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        utc("created_at"),
        utc("delivered_at", nullable=True),
    )
    op.create_index("ix_outbox_order_id", "outbox", ["order_id"])
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_index("ix_outbox_next_attempt_at", "outbox", ["next_attempt_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        utc("created_at"),
    )
    with op.batch_alter_table("order_events") as batch:
        batch.add_column(sa.Column("outcome", sa.String(20), nullable=True))
        batch.add_column(sa.Column("change_id", sa.Integer(), nullable=True))
        batch.create_index("ix_order_events_change_id", ["change_id"])


def downgrade() -> None:
    with op.batch_alter_table("order_events") as batch:
        batch.drop_index("ix_order_events_change_id")
        batch.drop_column("change_id")
        batch.drop_column("outcome")
    op.drop_table("idempotency_keys")
    op.drop_table("outbox")
    op.drop_table("shipments")
    op.drop_table("orders")
