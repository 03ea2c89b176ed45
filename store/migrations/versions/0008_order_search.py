"""Searching the order index (``feed.search``): substrings of the reference, the number, the
customer's e-mail and name, found through an index on each store.

SQLite: an FTS5 table with the ``trigram`` tokenizer (case-insensitive substrings of three
characters or more) holding each order's searchable text, kept in step with ``order_index``
by triggers. It keeps its own copy of the text with the order id, and ``order_search_rows``
maps each order to its FTS row (``order_index`` has no integer primary key: its implicit
rowids may change on VACUUM, so they cannot be the link).

PostgreSQL: ``pg_trgm`` GIN indexes on each lower-cased column, which ``ILIKE '%...%'``
uses. Where the extension may not be created (a managed database without the right), the
migration still succeeds: searches work the same with ILIKE, only without an index.

Revision ID: 0008
Revises: 0007
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

SEARCHABLE = ("reference", "number", "customer_email", "customer_name")
VALUES = ", ".join(SEARCHABLE)
CHANGED = " OR ".join(f"old.{name} IS NOT new.{name}" for name in ("id", *SEARCHABLE))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_upgrade(bind)
    elif bind.dialect.name == "postgresql":
        _postgresql_upgrade(bind)


def _sqlite_upgrade(bind: sa.Connection) -> None:
    bind.exec_driver_sql(
        "CREATE VIRTUAL TABLE order_search USING fts5("
        f"order_id UNINDEXED, {VALUES}, tokenize = 'trigram')"
    )
    # Which FTS row holds which order's text, so that a row is found by its key (an FTS5
    # table finds rows by its own rowid only; the rowids of its content table are stable).
    bind.exec_driver_sql(
        "CREATE TABLE order_search_rows ("
        "order_id VARCHAR(200) PRIMARY KEY, search_rowid INTEGER NOT NULL UNIQUE)"
    )
    bind.exec_driver_sql(
        f"INSERT INTO order_search (order_id, {VALUES}) SELECT id, {VALUES} FROM order_index"
    )
    bind.exec_driver_sql(
        "INSERT INTO order_search_rows (order_id, search_rowid) "
        "SELECT order_id, rowid FROM order_search"
    )
    new_row = "new.id, " + ", ".join(f"new.{name}" for name in SEARCHABLE)
    add = (
        f"INSERT INTO order_search (order_id, {VALUES}) VALUES ({new_row}); "
        "INSERT INTO order_search_rows (order_id, search_rowid) "
        "VALUES (new.id, last_insert_rowid());"
    )
    remove = (
        "DELETE FROM order_search WHERE rowid = "
        "(SELECT search_rowid FROM order_search_rows WHERE order_id = old.id); "
        "DELETE FROM order_search_rows WHERE order_id = old.id;"
    )
    bind.exec_driver_sql(
        f"CREATE TRIGGER order_search_insert AFTER INSERT ON order_index BEGIN {add} END"
    )
    bind.exec_driver_sql(
        f"CREATE TRIGGER order_search_delete AFTER DELETE ON order_index BEGIN {remove} END"
    )
    # Most updates change the status or synced_at only: the text is rewritten when it changed.
    bind.exec_driver_sql(
        f"CREATE TRIGGER order_search_update AFTER UPDATE ON order_index WHEN {CHANGED} "
        f"BEGIN {remove} {add} END"
    )


def _postgresql_upgrade(bind: sa.Connection) -> None:
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        log.warning(
            "pg_trgm could not be created (%s): order searches use ILIKE without an index",
            error.orig,
        )
        return
    for name in SEARCHABLE:
        bind.exec_driver_sql(
            f"CREATE INDEX order_index_{name}_trgm ON order_index "
            f"USING gin (lower({name}) gin_trgm_ops)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS order_search_{trigger}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS order_search_rows")
        bind.exec_driver_sql("DROP TABLE IF EXISTS order_search")
    elif bind.dialect.name == "postgresql":
        for name in SEARCHABLE:
            bind.exec_driver_sql(f"DROP INDEX IF EXISTS order_index_{name}_trgm")
