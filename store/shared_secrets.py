"""Keys the gateway makes for itself: random on the first start, kept in the store, so every
replica on one store (and every restart) signs and checks with the same key."""

from __future__ import annotations

import base64
import secrets

from sqlalchemy.exc import IntegrityError

from store.clock import utcnow
from store.engine import Store
from store.tables import SharedSecretRecord


async def shared_secret(store: Store, name: str) -> bytes:
    """The key named ``name``, made now if no replica has made it yet."""
    async with store.session() as session:
        record = await session.get(SharedSecretRecord, name)
        if record is not None:
            return base64.urlsafe_b64decode(record.value)
        value = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        session.add(SharedSecretRecord(name=name, value=value, created_at=utcnow()))
        try:
            await session.commit()
        except IntegrityError:  # another replica made it first: use theirs
            await session.rollback()
            return await shared_secret(store, name)
        return base64.urlsafe_b64decode(value)
