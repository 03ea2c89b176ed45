"""Builds one simulator's Starlette app: its upstream routes behind the shared control layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from backends.simkit.auth import RequireAuth
from backends.simkit.control import CONTROL_PREFIX, SimControl, SimControlMiddleware, control_routes


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """Options every simulator takes (CLI flags of ``ordergate-sim``)."""

    seed: int = 42
    orders: int = 120
    token_ttl_s: float = 3600.0


def simulator_app(
    *,
    routes: list[BaseRoute],
    control: SimControl,
    auth_check: Callable[[Headers], bool],
    auth_exempt: Callable[[str], bool] = lambda path: False,
    unauthorized_body: dict[str, object] | None = None,
    malformed_body: bytes = b'{"results": [{"id": ',
    malformed_media_type: str = "application/json",
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Starlette:
    """The upstream ``routes`` guarded by ``auth_check``, counted and faulted by ``control``.

    The control API under ``/_sim/`` needs no credentials, is never counted and never faulted.
    ``on_shutdown``: what the simulator closes when it stops (its own outgoing connections).
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await on_shutdown()

    app = Starlette(
        lifespan=lifespan,
        routes=[*control_routes(control), *routes],
        middleware=[
            Middleware(
                SimControlMiddleware,
                control=control,
                routes=routes,
                malformed_body=malformed_body,
                malformed_media_type=malformed_media_type,
            ),
            Middleware(
                RequireAuth,
                check=auth_check,
                exempt=lambda path: path.startswith(CONTROL_PREFIX) or auth_exempt(path),
                body=unauthorized_body,
            ),
        ],
    )
    app.state.control = control
    return app
