"""Partners' API keys: made, listed, revoked, and found again by their secret.

A secret is ``og_`` + 32 random bytes (URL-safe base64); the store keeps its SHA-256 only, so
the secret exists once, in what ``create`` returns. With that much entropy a plain hash is
enough (no password-style stretching): nobody can guess a secret from its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import col, func, select

from domain.access import Principal, PrincipalKind, Scope, parse_scopes
from domain.errors import NotFoundError, ValidationError
from domain.models import OrderSource
from store.clock import utcnow
from store.engine import Store
from store.tables import ApiKeyRecord

PREFIX = "og_"
DEMO_NAME = "demo"  # reserved for the demo key (``ensure``); revoked outside the demo
NAME_MAX = 200
NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9 ._@-]{{0,{NAME_MAX - 1}}}")  # ASCII: no lookalikes


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


@dataclass(frozen=True, slots=True)
class NewKey:
    record: ApiKeyRecord
    secret: str  # shown once; not kept anywhere


async def create(
    store: Store,
    *,
    name: str,
    scopes: Iterable[Scope],
    sources: Iterable[OrderSource] = (),
    rate: float | None = None,
    secret: str | None = None,
) -> NewKey:
    """A new key. ``secret`` is for the demo key only (a known value); otherwise random."""
    name = name.strip()
    if not NAME.fullmatch(name):
        raise ValidationError(
            f"A key's name has 1 to {NAME_MAX} ASCII letters, digits, spaces and . _ @ - "
            "(it is the actor in order histories).",
            field=["name"],
        )
    if name.casefold() == DEMO_NAME and secret is None:
        raise ValidationError(f"The name {DEMO_NAME!r} is the demo key's.", field=["name"])
    if await _live_named(store, name):
        raise ValidationError(
            f"A live key is named {name!r} already: histories could not tell them apart.",
            field=["name"],
        )
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ValidationError("A key's rate is a positive number of points per second.")
    secret = secret or PREFIX + secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        name=name,
        secret_hash=secret_hash(secret),
        scopes=" ".join(sorted(set(scopes))),
        sources=" ".join(sorted({s.value for s in sources})) or None,
        rate=rate,
        created_at=utcnow(),
    )
    async with store.session() as session:
        session.add(record)
        await session.commit()
        await session.refresh(record)
    return NewKey(record, secret)


async def ensure(store: Store, *, name: str, secret: str, scopes: Iterable[Scope]) -> ApiKeyRecord:
    """The key with this secret, made if it does not exist (or was revoked): the demo key."""
    found = await _by_hash(store, secret_hash(secret))
    if found is not None and found.revoked_at is None:
        return found
    if found is not None:
        async with store.session() as session:
            found.revoked_at = None
            session.add(found)
            await session.commit()
            await session.refresh(found)
        return found
    return (await create(store, name=name, scopes=scopes, secret=secret)).record


async def retire_named(store: Store, name: str) -> None:
    """Revoke every live key of this name: the demo key, on a start outside the demo (a store
    first used for the demo must not keep a key whose secret is published)."""
    async with store.session() as session:
        rows = await session.exec(
            select(ApiKeyRecord).where(
                col(ApiKeyRecord.name) == name, col(ApiKeyRecord.revoked_at).is_(None)
            )
        )
        for record in rows:
            record.revoked_at = utcnow()
            session.add(record)
        await session.commit()


async def list_keys(store: Store) -> Sequence[ApiKeyRecord]:
    async with store.session() as session:
        return list(await session.exec(select(ApiKeyRecord).order_by(col(ApiKeyRecord.id))))


async def get(store: Store, key_id: int) -> ApiKeyRecord | None:
    async with store.session() as session:
        return await session.get(ApiKeyRecord, key_id)


async def revoke(store: Store, key_id: int) -> ApiKeyRecord:
    async with store.session() as session:
        record = await session.get(ApiKeyRecord, key_id)
        if record is None:
            raise NotFoundError(f"No API key has the id {key_id}.", field=["id"])
        if record.revoked_at is None:
            record.revoked_at = utcnow()
            session.add(record)
            await session.commit()
            await session.refresh(record)
        return record


async def authenticate(store: Store, secret: str) -> Principal | None:
    """The principal of a live key with this secret; ``None`` for unknown or revoked keys."""
    digest = secret_hash(secret)
    record = await _by_hash(store, digest)
    # The lookup is by hash, so comparing again costs nothing and keeps timing uniform.
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.secret_hash, digest):
        return None
    return principal_of(record)


def scopes_of(record: ApiKeyRecord) -> frozenset[Scope]:
    return parse_scopes(record.scopes.split())


def sources_of(record: ApiKeyRecord) -> frozenset[OrderSource]:
    """The sources a key is limited to; empty: every source."""
    return frozenset(OrderSource(s) for s in (record.sources or "").split())


def principal_of(record: ApiKeyRecord) -> Principal:
    return Principal(
        name=record.name,
        kind=PrincipalKind.API_KEY,
        scopes=scopes_of(record),
        sources=sources_of(record) or None,
        rate=record.rate,
        key_id=record.id,
    )


async def _live_named(store: Store, name: str) -> bool:
    """Whether a live key has this name, in any case ("Tester" is "tester")."""
    async with store.session() as session:
        rows = await session.exec(
            select(ApiKeyRecord.id).where(
                func.lower(ApiKeyRecord.name) == name.lower(),
                col(ApiKeyRecord.revoked_at).is_(None),
            )
        )
        return rows.first() is not None


async def _by_hash(store: Store, digest: str) -> ApiKeyRecord | None:
    async with store.session() as session:
        rows = await session.exec(
            select(ApiKeyRecord).where(col(ApiKeyRecord.secret_hash) == digest)
        )
        return rows.first()
