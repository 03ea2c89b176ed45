"""The ASGI app: ``create_app(settings)`` wires the adapters, the store and the routes.

Process-wide resources (one ``httpx.AsyncClient`` per backend, the database engine) are
created in the lifespan and closed at shutdown, never at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backends.health import backend_health
from backends.registry import create_adapter
from gateway.context import AppState
from gateway.delivery import Deliverer
from gateway.graphql_view import GraphQLView
from gateway.settings import Settings
from store.engine import Store


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    view = GraphQLView(graphql_ide="graphiql" if settings.graphiql else None)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(settings.database_url)
        await store.migrate()
        backends = {
            source: create_adapter(source, settings.backend(source))
            for source in settings.enabled_sources
        }
        deliverer = Deliverer(store, backends, settings.outbox)
        state = AppState(settings=settings, backends=backends, store=store, deliverer=deliverer)
        app.state.ordergate = view.state = state
        worker = asyncio.create_task(deliverer.run_worker()) if settings.outbox.worker else None
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await asyncio.gather(*(backend.aclose() for backend in backends.values()))
            await store.aclose()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> JSONResponse:
        state: AppState = request.app.state.ordergate
        store_ok, *healthy = await asyncio.gather(
            state.store.ping(), *(backend_health(b) for b in state.backends.values())
        )
        body = {
            "status": "ready" if store_ok else "unavailable",
            "store": store_ok,
            "backends": {
                source.value: {"healthy": ok}
                for source, ok in zip(state.backends, healthy, strict=True)
            },
        }
        return JSONResponse(body, status_code=200 if store_ok else 503)

    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
