"""Alembic environment: runs on the connection ``store.engine.Store.migrate`` hands over."""

from alembic import context
from sqlmodel import SQLModel

import store.tables  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
