"""The ASGI app: ``create_app(settings)`` wires the adapters, the store and the routes.

Process-wide resources (one ``httpx.AsyncClient`` per backend, the database engine) are
created in the lifespan and closed at shutdown, never at import time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from backends.registry import create_adapter
from domain.access import ALL_SCOPES
from feed import affiliate_webhooks
from feed.service import Feed
from gateway.authentication import Authenticator, RequireCredential
from gateway.context import AppState
from gateway.delivery import Deliverer
from gateway.edge import PREFLIGHT_HEADERS, BoundedBody, CsrfGuard, ShutdownGuard
from gateway.graphql_view import IDE_FILES, IDE_PATH, GraphQLView
from gateway.metrics import metrics_endpoint, operator_allowed
from gateway.observability import RequestTelemetry
from gateway.readiness import readiness
from gateway.settings import Settings
from gateway.throttle import create_buckets
from gateway.tokens import TokenVerifier
from resolvers.pagination import CursorCodec
from store import api_keys
from store.engine import Store
from store.shared_secrets import shared_secret
from telemetry import logs, tracing

log = logging.getLogger(__name__)
DEMO_KEY_NAME = api_keys.DEMO_NAME
# What a browser app may send cross-origin (the preflight answers these).
CORS_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept",
    "X-Actor",
    "X-Request-Id",
    "X-Ordergate-Trace",
    *PREFLIGHT_HEADERS,
]
# What a browser app may read of an answer beyond the simple headers.
CORS_EXPOSED = ["Retry-After", "WWW-Authenticate", "X-Request-Id"]


STOP_S = 4.0  # what shutting down may take once requests are done: the process exits by then
CANCEL_GRACE_S = 0.2  # what a cancelled step gets to unwind


async def _within(task: asyncio.Future[Any], seconds: float) -> None:
    """Wait for ``task`` at most ``seconds``, then cancel it and give it a moment more: a
    stuck step must not keep the process from exiting."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        log.warning("shutdown: %s did not end in %.1f s; cancelled", task, seconds)
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("shutdown: %s failed: %s", task, task.exception())


def demo_key_of(settings: Settings) -> SecretStr | None:
    """The demo key (every scope, a published secret) exists only in the demo: the simulators
    on and the demo profile. Any other start revokes it, whatever the setting says now."""
    demo = settings.simulators and settings.profile == "demo"
    return settings.auth.demo_key if demo else None


async def prepare_store(settings: Settings, store: Store) -> CursorCodec:
    """What every start does to the store before serving: migrations, the demo key made (and
    the demo's orders forgotten) or revoked, and the cursor key (the configured one, or the
    store's own). Safe to run again and from several processes: ``ordergate run --workers N``
    runs it once before forking."""
    await store.migrate()
    demo_key = demo_key_of(settings)
    if demo_key is not None:
        # The simulators seed their orders afresh on every start: so does the demo's store,
        # or its history and index would tell of states the simulators no longer hold.
        await store.forget_orders()
        await api_keys.ensure(
            store, name=DEMO_KEY_NAME, secret=demo_key.get_secret_value(), scopes=ALL_SCOPES
        )
    else:
        await api_keys.retire_named(store, DEMO_KEY_NAME)
    configured = settings.cursor_secret
    if configured is not None:
        return CursorCodec(configured.get_secret_value().encode())
    return CursorCodec(await shared_secret(store, "cursors"))


def quiet_collector(gen0_threshold: int) -> None:
    """Shorter garbage-collector pauses on the request path: what start-up made (modules,
    the schema, the adapters) is frozen out of the collector's reach, so a full collection
    no longer walks it, and the youngest generation is collected less often (a request
    makes thousands of short-lived objects, few of them cycles)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def ide_headers_of(settings: Settings) -> dict[str, str] | None:
    """What GraphiQL's headers editor opens with: the demo key, in the demo only."""
    demo_key = demo_key_of(settings)
    return None if demo_key is None else {"Authorization": f"Bearer {demo_key.get_secret_value()}"}


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    view = GraphQLView(
        introspection=settings.introspection_enabled,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        ide_headers=ide_headers_of(settings),
    )

    # Who is calling, then whether a browser could have been tricked into it, then the body
    # (bounded): all before any GraphQL parsing. The guard answers what a shutdown cuts.
    guard = ShutdownGuard(
        RequireCredential(CsrfGuard(BoundedBody(view, max_bytes=settings.limits.max_body_bytes)))
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(settings.database_url)
        cursors = await prepare_store(settings, store)
        backends = {
            source: create_adapter(source, settings.backend(source))
            for source in settings.enabled_sources
        }
        deliverer = Deliverer(store, backends, settings.outbox)
        feed = Feed(settings, store, backends)
        deliverer.on_events = feed.notify
        tokens = TokenVerifier(settings.auth)
        buckets = create_buckets(settings.redis_url)
        state = AppState(
            settings=settings,
            backends=backends,
            store=store,
            deliverer=deliverer,
            feed=feed,
            authenticator=Authenticator(settings.auth, store, tokens),
            buckets=buckets,
            cursors=cursors,
        )
        app.state.ordergate = view.state = state
        worker = asyncio.create_task(deliverer.run_worker()) if settings.outbox.worker else None
        await feed.start()
        if settings.gc_gen0_threshold:
            quiet_collector(settings.gc_gen0_threshold)
        try:
            yield
        finally:
            # Requests have had their grace period; what is left fits in STOP_S.
            await guard.drain(STOP_S / 4)  # the requests the grace period cut, unwinding
            if worker is not None:
                deliverer.stop()  # the round in hand finishes and gives its leases back
                await _within(worker, STOP_S / 4)
            await _within(asyncio.ensure_future(feed.stop()), STOP_S / 4)
            closing = asyncio.gather(
                *(backend.aclose() for backend in backends.values()),
                tokens.aclose(),
                buckets.aclose(),
            )
            await _within(closing, STOP_S / 4)
            await _within(asyncio.ensure_future(store.aclose()), STOP_S / 4)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def affiliate_webhook(request: Request) -> Response:
        receiver = request.app.state.ordergate.feed.receiver
        return await receiver(request)

    async def ready(request: Request) -> JSONResponse:
        state = request.app.state.ordergate
        body, status = await readiness(state)
        if not operator_allowed(request, state):  # the status only: no backend's detail
            body = {"status": body["status"]}
        return JSONResponse(body, status_code=status)

    return Starlette(
        routes=[
            Route("/graphql", guard, methods=["GET", "POST"]),
            # The same door for WebSockets (graphql-transport-ws): the credential is checked
            # at the handshake; only subscriptions run there (``schema.limits``).
            WebSocketRoute("/graphql", guard),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            *([Route("/metrics", metrics_endpoint, methods=["GET"])] if settings.metrics else []),
            # The affiliate platform's signed order events: the signature is the credential.
            Route(affiliate_webhooks.PATH, affiliate_webhook, methods=["POST"]),
            # GraphiQL's own files, served only where GraphiQL is.
            *(
                [Mount(IDE_PATH.rstrip("/"), StaticFiles(directory=IDE_FILES), name="ide")]
                if settings.graphiql_enabled
                else []
            ),
        ],
        lifespan=lifespan,
        middleware=[
            # Outermost: the request id and the access line cover every answer, refusals too.
            Middleware(RequestTelemetry, access_log=settings.access_log),
            *(
                [
                    Middleware(
                        CORSMiddleware,
                        allow_origins=settings.cors_origins,
                        allow_methods=["GET", "POST"],
                        allow_headers=CORS_HEADERS,
                        expose_headers=CORS_EXPOSED,
                        max_age=600,
                    )
                ]
                if settings.cors_origins
                else []
            ),
        ],
    )


def create_worker_app() -> Starlette:
    """One worker of ``ordergate run --workers N`` (uvicorn's factory, in a process of its
    own): its logs and traces set up as the supervisor's were, then the app."""
    settings = Settings()
    configure_process(settings)
    return create_app(settings)


def configure_process(settings: Settings) -> None:
    """What a process does once before serving: its log handler (JSON or text, secrets
    redacted) and its tracing (as the ``OTEL_*`` variables say)."""
    logs.configure(
        level=settings.log_level,
        json_lines=settings.log_format == "json",
        secrets=logs.secrets_of(settings),
    )
    tracing.configure_from_environment()
