"""Resolvers of API-key management over GraphQL (scope ``keys:manage``): the store functions
the ``ordergate keys`` CLI uses, within the caller's reach.

A key manager sees, makes and revokes only keys it *covers* (``Principal.covers``): scopes it
holds itself, and sources it may see. A manager limited to AFFILIATE cannot make an
unrestricted key, nor revoke the merchant's own; a key beyond its reach answers NOT_FOUND, as
an id that does not exist does (its existence is not given away). A revoked key stops working
within ``auth.key_cache_s`` on every replica, as with the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.access import Scope
from domain.errors import ForbiddenError, NotFoundError, ValidationError
from domain.models import OrderSource
from gateway.context import Context
from store import api_keys
from store.tables import ApiKeyRecord

KNOWN_SCOPES = {scope.value for scope in Scope}


def in_reach(context: Context, record: ApiKeyRecord) -> bool:
    return context.principal.covers(api_keys.scopes_of(record), api_keys.sources_of(record))


async def list_keys(context: Context) -> list[ApiKeyRecord]:
    return [r for r in await api_keys.list_keys(context.store) if in_reach(context, r)]


async def create_key(
    context: Context,
    *,
    name: str,
    scopes: Sequence[str],
    sources: Sequence[OrderSource] | None,
    rate: float | None,
) -> api_keys.NewKey:
    """A new key; without ``sources``, limited to the caller's own (if it is limited)."""
    for index, value in enumerate(scopes):
        if value not in KNOWN_SCOPES:
            raise ValidationError(
                f"Unknown scope {value!r}; the scopes are {', '.join(sorted(KNOWN_SCOPES))}.",
                field=["input", "scopes", str(index)],
            )
    wanted = [Scope(value) for value in scopes]
    if sources is not None and not sources:
        raise ValidationError(
            "Give the sources the key is limited to, or none at all for every source.",
            field=["input", "sources"],
        )
    if sources is None:
        sources = sorted(context.principal.sources or ())
    own_rate = context.budget().rate
    if rate is None:
        rate = context.principal.rate  # a manager's own rate, or (None) the gateway's
    if not context.principal.covers(wanted, sources) or (rate or own_rate) > own_rate:
        raise ForbiddenError(
            "A key manager gives only what it holds: scopes it has, sources it may see (a "
            "key limited to some sources cannot make an unrestricted one) and at most its "
            f"own rate ({own_rate:g} points per second)."
        )
    return await api_keys.create(
        context.store, name=name, scopes=wanted, sources=sources, rate=rate
    )


async def revoke_key(context: Context, raw_id: str) -> ApiKeyRecord:
    missing = NotFoundError(f"No API key has the id {raw_id!r}.", field=["input", "id"])
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18:
        raise missing
    key_id = int(raw_id)
    record = await api_keys.get(context.store, key_id)
    if record is None or not in_reach(context, record):
        raise missing
    return await api_keys.revoke(context.store, key_id)
