"""The gateway's own store (sqlmodel): SQLite by default, PostgreSQL by URL, migrated by alembic."""
