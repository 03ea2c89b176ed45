"""A migrated, empty store per test (a temporary SQLite file, or the test PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from store import idempotency, outbox
from store.clock import utcnow
from store.engine import Store
from tests.conftest import database_url, empty_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = database_url(tmp_path)
    if os.environ.get("ORDERGATE_TEST_DATABASE_URL"):
        await empty_store(url)
    store = Store(url)
    await store.migrate()
    yield store
    await store.aclose()


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The outbox's and the idempotency keys' clock stopped at one instant, for the rules
    at the exact edge of a time (a lease that ends now, a retry due now)."""
    moment = utcnow().replace(microsecond=0)
    monkeypatch.setattr(outbox, "utcnow", lambda: moment)
    monkeypatch.setattr(idempotency, "utcnow", lambda: moment)
    return moment
