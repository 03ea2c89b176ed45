"""Idempotency keys: one winner, the same answer for the same input, a conflict otherwise."""

from __future__ import annotations

import asyncio

import pytest

from domain.errors import ConflictError
from store import idempotency
from store.engine import Store


async def test_the_first_claim_runs_and_later_ones_get_its_answer(store: Store) -> None:
    digest = idempotency.request_hash("updateStatus", {"status": "CONFIRMED"})
    first = await idempotency.claim(store, "op:k1", digest, wait_s=1)
    assert first.response is None
    waiting = asyncio.create_task(idempotency.claim(store, "op:k1", digest, wait_s=5))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # it waits for the first request's answer
    await idempotency.complete(store, "op:k1", {"order": ["CRM", "1"]})
    assert (await waiting).response == {"order": ["CRM", "1"]}


async def test_the_same_key_with_another_input_is_a_conflict(store: Store) -> None:
    await idempotency.claim(store, "op:k2", idempotency.request_hash("op", {"a": 1}), wait_s=1)
    with pytest.raises(ConflictError):
        await idempotency.claim(store, "op:k2", idempotency.request_hash("op", {"a": 2}), wait_s=1)


async def test_a_released_key_can_run_again(store: Store) -> None:
    digest = idempotency.request_hash("op", {})
    await idempotency.claim(store, "op:k3", digest, wait_s=1)
    await idempotency.release(store, "op:k3")
    assert (await idempotency.claim(store, "op:k3", digest, wait_s=1)).response is None
