"""Opening the store: the async engine, migrations on start, and a readiness ping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from telemetry import tracing

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs; use their async drivers."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


# What the store knows of orders, as opposed to its keys and settings (``forget_orders``).
ORDER_TABLES = (
    "outbox",
    "order_events",
    "idempotency_keys",
    "shipments",
    "orders",
    "order_index",
    "change_events",
    "sync_checkpoints",
    "webhook_receipts",
    "webhook_deliveries",
)

# Any constant: replicas starting together take turns migrating (PostgreSQL advisory lock).
MIGRATION_LOCK = 7_412_001


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer, and commits no longer wait for two fsyncs;
    busy_timeout makes concurrent writers queue instead of failing."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


QUERY_SPAN = "ordergate_span"  # where a statement's span waits for its end


def _trace_queries(engine: Any) -> None:
    """A span per statement, a child of the request's (``telemetry.tracing``; off: nothing)."""
    system = engine.dialect.name

    def before(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if tracing.enabled():
            context = args[-2]  # (parameters, context, executemany)
            if context is not None:
                context.__dict__[QUERY_SPAN] = tracing.query_span(system, statement)

    def after(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        context = args[-2]
        span = None if context is None else context.__dict__.pop(QUERY_SPAN, None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = None if context is None else context.__dict__.pop(QUERY_SPAN, None)
        if span is not None:
            tracing.failed(span, exception_context.original_exception)
            span.end()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


class Store:
    """The engine and session factory of the gateway's database."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        sqlite = self.url.startswith("sqlite")
        # A server's connections can drop between uses (pre-ping); a file's cannot.
        self.engine: AsyncEngine = create_async_engine(self.url, pool_pre_ping=not sqlite)
        if sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        _trace_queries(self.engine.sync_engine)

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (run at start-up)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    async def forget_orders(self) -> None:
        """Delete what the store knows of orders (history, queued changes, the index and the
        event log, idempotency keys); keys, secrets and webhook subscriptions stay."""
        async with self.engine.begin() as connection:
            for table in ORDER_TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # readiness reports any database failure as "not ready"
            return False
        return True

    async def aclose(self) -> None:
        await self.engine.dispose()
