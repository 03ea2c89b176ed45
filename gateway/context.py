"""The per-request GraphQL context, built in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from backends.base import OrderBackend
from domain.access import Principal, Scope
from domain.models import OrderSource
from gateway.authentication import AWAITING, PRINCIPAL
from gateway.limits import Listing
from gateway.settings import Settings
from gateway.throttle import Budget, bucket_key

if TYPE_CHECKING:
    from feed.service import Feed
    from gateway.authentication import Authenticator
    from gateway.delivery import Deliverer
    from gateway.throttle import Buckets
    from schema.limits import CostReport
from resolvers.loaders import DataLoaders
from resolvers.pagination import CursorCodec
from store.engine import Store


@dataclass(slots=True)
class Context:
    """What every resolver may use while answering one request."""

    request: Request | WebSocket
    response: Response | None
    settings: Settings
    backends: Mapping[OrderSource, OrderBackend]
    store: Store
    loaders: DataLoaders
    deliverer: Deliverer
    feed: Feed
    principal: Principal
    buckets: Buckets
    cursors: CursorCodec
    actor: str | None = None
    cost: CostReport | None = None  # set by ``schema.limits.QueryLimits`` once measured
    # What each root `orders` field read upstream, by response key (what its actual cost
    # counts instead of the estimate).
    listings: dict[str, Listing] = field(default_factory=dict)
    # Errors for the response's `errors` that do not fail a field (e.g. a backend missing
    # from a page of `orders`); ``schema.errors.TypedErrors`` adds them to the result.
    partial_errors: list[GraphQLError] = field(default_factory=list)
    # A WebSocket's: graphql-transport-ws ``connection_init`` payload (strawberry sets it), and
    # the credential the socket was authenticated with (re-checked before each event).
    connection_params: dict[str, object] | None = None
    credential: Headers | None = None
    authenticator: Authenticator | None = None
    all_backends: Mapping[OrderSource, OrderBackend] = field(default_factory=dict)

    def become(self, principal: Principal, credential: Headers) -> None:
        """A socket authenticated by its ``connection_init`` payload: the caller it names."""
        self.principal = principal
        self.credential = credential
        self.backends = {s: b for s, b in self.all_backends.items() if principal.sees(s)}
        self.refresh_loaders()
        self.actor = actor_of(principal, self.request)

    def refresh_loaders(self) -> None:
        """New dataloaders: a socket lives long, and what a loader cached goes stale."""
        self.loaders = DataLoaders.create(
            self.backends, self.store, max_batch_size=self.settings.max_page_size
        )

    async def still_authorized(self) -> None:
        """Raise ``UnauthenticatedError`` once the socket's key is revoked (or its token has
        expired): an open subscription stops with it (within the key cache's seconds)."""
        if self.authenticator is not None and self.credential is not None:
            await self.authenticator.authenticate(self.credential)

    def budget(self) -> Budget:
        """The caller's bucket: its key, size and refill rate (a key may set its own)."""
        limits, client = self.settings.limits, self.request.client
        return Budget(
            key=bucket_key(self.principal, client.host if client else None),
            size=limits.bucket_size,
            rate=self.principal.rate or limits.restore_rate,
        )


ACTOR_MAX = 200  # the store's column


def actor_of(principal: Principal, request: Request | WebSocket) -> str:
    """Who makes a change: the authenticated principal; a key allowed to act for people
    adds the person ``X-Actor`` names ("on behalf of"), anyone else's ``X-Actor`` is ignored."""
    on_behalf = request.headers.get("x-actor", "").strip()
    if on_behalf and principal.may(Scope.ACT_ON_BEHALF):
        return f"{principal.name} (on behalf of {on_behalf})"[:ACTOR_MAX]
    return principal.name[:ACTOR_MAX]


def principal_of(request: Request | WebSocket) -> Principal:
    principal = request.scope.get("state", {}).get(PRINCIPAL)
    assert isinstance(principal, Principal), "/graphql is served behind RequireCredential"
    return principal


@dataclass(frozen=True, slots=True)
class AppState:
    """What lives as long as the process: settings, adapters, the store (see ``gateway.app``)."""

    settings: Settings
    backends: Mapping[OrderSource, OrderBackend]
    store: Store
    deliverer: Deliverer
    feed: Feed
    authenticator: Authenticator
    buckets: Buckets
    cursors: CursorCodec

    def context_for(self, request: Request | WebSocket, response: Response | None) -> Context:
        principal = principal_of(request)
        # A caller limited to some sources sees the others as if they did not exist.
        backends = {s: b for s, b in self.backends.items() if principal.sees(s)}
        socket = isinstance(request, WebSocket)
        credential = Headers(scope=request.scope) if socket and principal is not AWAITING else None
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            backends=backends,
            store=self.store,
            loaders=DataLoaders.create(
                backends, self.store, max_batch_size=self.settings.max_page_size
            ),
            deliverer=self.deliverer,
            feed=self.feed,
            principal=principal,
            buckets=self.buckets,
            cursors=self.cursors,
            actor=actor_of(principal, request),
            credential=credential,
            authenticator=self.authenticator if socket else None,
            all_backends=self.backends,
        )
