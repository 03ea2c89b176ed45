"""API keys managed over GraphQL (scope ``keys:manage``), beside the ``ordergate keys`` CLI.

``Query.apiKeys``, ``Mutation.createApiKey`` and ``Mutation.revokeApiKey`` live on the mixins
below, which ``Query`` and ``Mutation`` inherit; the work is ``resolvers.keys``'.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.errors import OrdergateError
from gateway.context import Context
from resolvers import keys as resolve
from schema.enums import OrderSource
from schema.payloads import UserError
from schema.permissions import Requires
from store import api_keys
from store.tables import ApiKeyRecord

Info = strawberry.Info[Context, None]


@strawberry.type(description="A partner's API key. Its secret is never shown again.")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="The key's id (`ordergate keys list`).")
    name: str = strawberry.field(description="Who holds it; the actor in order histories.")
    scopes: list[str] = strawberry.field(description="What it may do, e.g. orders:read.")
    sources: list[OrderSource] | None = strawberry.field(
        description="The only sources it may see; null: every source."
    )
    rate: float | None = strawberry.field(
        description="Cost points per second it regains; null: the gateway's default."
    )
    created_at: datetime = strawberry.field(description="When it was made.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked, if it was.")

    @classmethod
    def from_record(cls, record: ApiKeyRecord) -> ApiKey:
        sources = api_keys.sources_of(record)
        return cls(
            id=strawberry.ID(str(record.id)),
            name=record.name,
            scopes=sorted(api_keys.scopes_of(record)),
            sources=sorted(sources, key=list(OrderSource).index) if sources else None,
            rate=record.rate,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
        )


@strawberry.input(description="A new API key for a partner.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="Who holds it (1 to 200 characters).")
    scopes: list[str] = strawberry.field(
        description="What it may do; only scopes the caller holds itself."
    )
    sources: list[OrderSource] | None = strawberry.field(
        default=None,
        description="Limit it to these sources (default: every source the caller may see).",
    )
    rate: float | None = strawberry.field(
        default=None, description="Cost points per second (default: the gateway's)."
    )


@strawberry.input(description="Stop accepting an API key.")
class RevokeApiKeyInput:
    id: strawberry.ID = strawberry.field(description="The key's id.")


@strawberry.type(description="The result of making an API key.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The new key.")
    secret: str | None = strawberry.field(
        description="The key's secret, shown here only: send it as `Authorization: Bearer`."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")


@strawberry.type(description="The result of revoking an API key.")
class RevokeApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key, now revoked.")
    user_errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="The API keys within the caller's reach (its scopes and sources).",
        permission_classes=[Requires.KEYS_MANAGE],
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        return [ApiKey.from_record(r) for r in await resolve.list_keys(info.context)]


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(
        description="Make an API key with no more than the caller's own scopes and sources.",
        permission_classes=[Requires.KEYS_MANAGE],
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        try:
            new = await resolve.create_key(
                info.context,
                name=input.name,
                scopes=input.scopes,
                sources=input.sources,
                rate=input.rate,
            )
        except OrdergateError as error:
            return CreateApiKeyPayload(
                api_key=None, secret=None, user_errors=[UserError.from_error(error)]
            )
        return CreateApiKeyPayload(
            api_key=ApiKey.from_record(new.record), secret=new.secret, user_errors=[]
        )

    @strawberry.mutation(
        description="Revoke an API key within the caller's reach; it stops working within "
        "the key cache's time (`ORDERGATE_AUTH__KEY_CACHE_S`, 5 s by default).",
        permission_classes=[Requires.KEYS_MANAGE],
    )
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        try:
            record = await resolve.revoke_key(info.context, str(input.id))
        except OrdergateError as error:
            return RevokeApiKeyPayload(api_key=None, user_errors=[UserError.from_error(error)])
        return RevokeApiKeyPayload(api_key=ApiKey.from_record(record), user_errors=[])
