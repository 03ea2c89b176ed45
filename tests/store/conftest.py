"""A migrated, empty store per test (a temporary SQLite file, or the test PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
