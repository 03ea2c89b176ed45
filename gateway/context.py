"""The per-request GraphQL context, built in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from backends.base import OrderBackend
from domain.models import OrderSource
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.delivery import Deliverer
from resolvers.loaders import DataLoaders
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
    actor: str | None = None
    # Errors for the response's `errors` that do not fail a field (e.g. a backend missing
    # from a page of `orders`); ``schema.errors.TypedErrors`` adds them to the result.
    partial_errors: list[GraphQLError] = field(default_factory=list)


ACTOR_MAX = 200  # the store's column


def actor_of(request: Request | WebSocket) -> str | None:
    """Who makes the change: the ``X-Actor`` header until real authentication exists."""
    actor = request.headers.get("x-actor", "").strip()
    return actor[:ACTOR_MAX] or None


@dataclass(frozen=True, slots=True)
class AppState:
    """What lives as long as the process: settings, adapters, the store (see ``gateway.app``)."""

    settings: Settings
    backends: Mapping[OrderSource, OrderBackend]
    store: Store
    deliverer: Deliverer

    def context_for(self, request: Request | WebSocket, response: Response | None) -> Context:
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            backends=self.backends,
            store=self.store,
            loaders=DataLoaders.create(
                self.backends, self.store, max_batch_size=self.settings.max_page_size
            ),
            deliverer=self.deliverer,
            actor=actor_of(request),
        )
