"""Idempotency keys name the process that holds them while in progress (``store.owners``);
a rejected outbox change keeps its error code.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.add_column(sa.Column("owner", sa.String(100), nullable=True))
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("rejection_code", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.drop_column("rejection_code")
    with op.batch_alter_table("idempotency_keys") as table:
        table.drop_column("owner")
