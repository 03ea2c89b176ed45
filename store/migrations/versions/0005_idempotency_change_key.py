"""Idempotency keys point at the change they queued: the outbox entry's idempotency key.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.add_column(sa.Column("change_key", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.drop_column("change_key")
