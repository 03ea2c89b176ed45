"""Client idempotency keys: the same key and input give the first result, once.

A key is claimed by inserting its row (the primary key makes concurrent claims race to one
winner); the winner stores the result, the others wait for it. The same key with another
input is a ``ConflictError``.

Each claim carries a ``change_key``: the idempotency key of the outbox change its request
queues. A retry that finds the first request unanswered but its change queued answers that
change's outcome: at once when no live delivery holds the change's lease (the first
request's process died between queueing and answering), else once its wait is over (never
CONFLICT).
Keys expire after ``TTL`` (24 h, as Stripe's): the same key then starts afresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from domain.errors import ConflictError
from store import outbox, owners
from store.clock import as_utc, utcnow
from store.engine import Store
from store.tables import IdempotencyRecord, OutboxEntry

IN_PROGRESS, DONE = "in_progress", "done"
WAIT_STEP_S = 0.05
STALE_S = 300.0  # a request holding its key longer than this has died
TTL = timedelta(hours=24)  # a key's answer is kept this long
KEY_MAX = 200  # longest client key (the store keeps "operation:caller:key")


def request_hash(operation: str, payload: Any) -> str:
    body = json.dumps({"operation": operation, "input": payload}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """``response``: the stored result of an earlier identical request. ``change_id``: the
    change an earlier identical request queued but did not answer. Neither: this request won
    the key and must run (then ``complete`` it), queueing its change under ``change_key``."""

    key: str
    response: dict[str, Any] | None
    change_key: str = ""
    change_id: int | None = None


async def claim(store: Store, key: str, digest: str, *, wait_s: float) -> Claim:
    """Win the key, or wait (up to ``wait_s``) for the answer of the request that won it.

    A key still running after ``STALE_S``, or held by a process known gone (``store.owners``),
    belongs to a request that died (a crash between claiming and answering): it is taken over
    rather than refused for ever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        change_key = f"og-{uuid.uuid4().hex}"
        if await _insert(store, key, digest, change_key):
            return Claim(key, None, change_key)
        async with store.session() as session:
            record = await session.get(IdempotencyRecord, key)
        if record is None:
            continue  # its request gave it back (``release``): try to win it again
        queued = await outbox.entry_by_key(store, record.change_key) if record.change_key else None
        waiting = queued is not None and queued.status == outbox.PENDING
        if utcnow() - as_utc(record.created_at) > TTL and not waiting:
            await _forget(store, record)  # expired: the key starts afresh
            continue
        if record.request_hash != digest:
            raise ConflictError(
                "This idempotency key was used with another input.",
                field=["input", "idempotencyKey"],
            )
        if record.status == DONE and record.response is not None:
            return Claim(key, json.loads(record.response))
        if queued is not None:
            # Its delivery still leased by a live holder: the first request is at it, its
            # answer is near. Otherwise (that request died, or the wait is over): the change
            # answers.
            lease = queued.lease_until
            delivering = (
                lease is not None
                and as_utc(lease) > utcnow()
                and not owners.is_gone(queued.lease_owner)
            )
            if not delivering or loop.time() > deadline:
                return Claim(key, None, record.change_key or "", change_id=queued.id)
        elif owners.is_gone(record.owner) or (
            utcnow() - as_utc(record.created_at) > timedelta(seconds=STALE_S)
        ):
            await _forget(store, record, only_in_progress=True)  # its request died
            continue
        if loop.time() > deadline:
            raise ConflictError(
                "A request with this idempotency key is still running; retry shortly.",
                field=["input", "idempotencyKey"],
            )
        await asyncio.sleep(WAIT_STEP_S)


async def _insert(store: Store, key: str, digest: str, change_key: str) -> bool:
    try:
        async with store.session() as session:
            session.add(
                IdempotencyRecord(
                    key=key,
                    request_hash=digest,
                    change_key=change_key,
                    owner=owners.this_process(),
                    created_at=utcnow(),
                )
            )
            await session.commit()
    except IntegrityError:
        return False
    return True


async def complete(store: Store, key: str, response: dict[str, Any]) -> None:
    async with store.session() as session:
        record = await session.get(IdempotencyRecord, key)
        assert record is not None
        record.status = DONE
        record.response = json.dumps(response)
        session.add(record)
        await session.commit()


async def _forget(
    store: Store, record: IdempotencyRecord, *, only_in_progress: bool = False
) -> None:
    """Delete the row as it was read, and only that: if another request has replaced it
    meanwhile (it forgot the same row first and won the key), theirs stays."""
    condition = [
        col(IdempotencyRecord.key) == record.key,
        col(IdempotencyRecord.change_key) == record.change_key,
    ]
    if only_in_progress:
        condition.append(col(IdempotencyRecord.status) == IN_PROGRESS)
    async with store.session() as session:
        await session.exec(delete(IdempotencyRecord).where(*condition))
        await session.commit()


async def release(store: Store, key: str) -> None:
    """Forget a claim whose request failed before producing a result (it may be retried) —
    unless its change was queued: then a retry must find that change, not queue another."""
    async with store.session() as session:
        record = await session.get(IdempotencyRecord, key)
    if record is None or record.status != IN_PROGRESS:
        return
    if record.change_key and await outbox.entry_by_key(store, record.change_key) is not None:
        return
    await _forget(store, record, only_in_progress=True)


async def purge_expired(store: Store) -> int:
    """Delete the keys past ``TTL`` (a claim would start them afresh anyway), but for those
    whose change still waits in the outbox; how many went."""
    waiting = exists().where(
        (col(OutboxEntry.idempotency_key) == col(IdempotencyRecord.change_key))
        & (col(OutboxEntry.status) == outbox.PENDING)
    )
    statement = delete(IdempotencyRecord).where(
        col(IdempotencyRecord.created_at) < utcnow() - TTL, ~waiting
    )
    async with store.session() as session:
        result = await session.exec(statement)
        await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
