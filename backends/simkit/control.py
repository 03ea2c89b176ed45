"""What every simulator shares: request counters, fault injection and the ``/_sim/`` API.

``SimControl`` holds the counters and the fault settings of one simulator;
``SimControlMiddleware`` counts each upstream request by its route template and applies
the faults; ``control_routes`` serves ``shared/contract/runtime.md``'s control API:

    GET  /_sim/stats           {"total": N, "requests": {"GET /api/order/": n, ...}}
    POST /_sim/stats/reset     (clears the request log too)
    GET  /_sim/requests        the last requests served, oldest first: route, when each
                               arrived and was answered (this process's monotonic clock),
                               and the W3C ``traceparent`` it came with (or null)
    GET  /_sim/faults          the fault settings in force
    POST /_sim/faults          merge any of the fields of ``Faults``
    POST /_sim/faults/reset
    POST /_sim/reset           seed data, counters, faults and tokens back to the start
    POST /_sim/auth/expire     every issued token expires now (proves refresh)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from backends.simkit.auth import TokenStore

CONTROL_PREFIX = "/_sim/"
# How long a "timeout" fault hangs: past any sane client timeout.
HANG_S = 120.0
LOG_SIZE = 1_000  # requests kept in the log of each simulator


class Faults(BaseModel):
    """Fault settings; all zero means a healthy upstream."""

    model_config = {"extra": "forbid"}

    latency_ms: float = Field(default=0, ge=0)
    jitter_ms: float = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=503, ge=400, le=599)
    rate_limit_per_s: float | None = Field(default=None, gt=0)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    malformed_rate: float = Field(default=0.0, ge=0, le=1)


class SimControl:
    """Counters, faults and the reset hook of one simulator."""

    def __init__(self, *, seed: int, tokens: TokenStore, reset_state: Callable[[], None]) -> None:
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        # (route, arrived, answered, traceparent): proves concurrency and order without
        # timing assertions, and which trace a request belonged to.
        self.log: deque[tuple[str, float, float, str | None]] = deque(maxlen=LOG_SIZE)
        self.tokens = tokens
        self._reset_state = reset_state
        self._random = random.Random(seed)
        self._window_start = time.monotonic()
        self._window_count = 0

    def reset_stats(self) -> None:
        self.requests.clear()
        self.log.clear()

    def set_faults(self, faults: Faults) -> None:
        """New fault settings; the rate-limit window starts afresh with them."""
        self.faults = faults
        self._window_start, self._window_count = time.monotonic(), 0

    def reset_all(self) -> None:
        self._reset_state()
        self.reset_stats()
        self.set_faults(Faults())
        self.tokens.revoke_all()

    def stats(self) -> dict[str, Any]:
        return {"total": sum(self.requests.values()), "requests": dict(self.requests)}

    def request_log(self) -> dict[str, Any]:
        return {
            "requests": [
                {
                    "route": route,
                    "arrived": arrived,
                    "answered": answered,
                    "traceparent": traceparent,
                }
                for route, arrived, answered, traceparent in self.log
            ]
        }

    def chance(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def over_rate_limit(self) -> bool:
        limit = self.faults.rate_limit_per_s
        if limit is None:
            return False
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        return self._window_count > limit

    def delay_s(self) -> float:
        jitter = self._random.uniform(0, self.faults.jitter_ms) if self.faults.jitter_ms else 0
        return (self.faults.latency_ms + jitter) / 1000


def route_template(routes: list[Any], scope: Scope) -> str:
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return str(scope["path"])


class SimControlMiddleware:
    """Counts upstream requests and applies the faults; ``/_sim/`` is never counted or faulted."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        control: SimControl,
        routes: list[Any],
        malformed_body: bytes,
        malformed_media_type: str = "application/json",
    ) -> None:
        self.app = app
        self.control = control
        self.routes = routes
        self.malformed_body = malformed_body
        self.malformed_media_type = malformed_media_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        route = f"{scope['method']} {route_template(self.routes, scope)}"
        arrived = time.monotonic()
        self.control.requests[route] += 1
        traceparent = next((v.decode() for k, v in scope["headers"] if k == b"traceparent"), None)
        try:
            await self._serve(scope, receive, send)
        finally:
            self.control.log.append((route, arrived, time.monotonic(), traceparent))

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        control = self.control
        faults = control.faults
        delay = control.delay_s()
        if delay:
            await asyncio.sleep(delay)
        if control.over_rate_limit():
            await JSONResponse(
                {"error": "rate limit exceeded"}, status_code=429, headers={"Retry-After": "1"}
            )(scope, receive, send)
            return
        if control.chance(faults.timeout_rate):
            await asyncio.sleep(HANG_S)
        if control.chance(faults.error_rate):
            await JSONResponse(
                {"error": "simulated upstream failure"}, status_code=faults.error_status
            )(scope, receive, send)
            return
        if control.chance(faults.malformed_rate):
            await Response(self.malformed_body, media_type=self.malformed_media_type)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def control_routes(control: SimControl) -> list[Route]:
    async def get_stats(request: Request) -> JSONResponse:
        return JSONResponse(control.stats())

    async def reset_stats(request: Request) -> JSONResponse:
        control.reset_stats()
        return JSONResponse(control.stats())

    async def get_requests(request: Request) -> JSONResponse:
        return JSONResponse(control.request_log())

    async def get_faults(request: Request) -> JSONResponse:
        return JSONResponse(control.faults.model_dump())

    async def set_faults(request: Request) -> JSONResponse:
        try:
            changes = await request.json()
            control.set_faults(Faults.model_validate({**control.faults.model_dump(), **changes}))
        except (ValueError, TypeError, ValidationError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse(control.faults.model_dump())

    async def reset_faults(request: Request) -> JSONResponse:
        control.set_faults(Faults())
        return JSONResponse(control.faults.model_dump())

    async def reset_all(request: Request) -> JSONResponse:
        control.reset_all()
        return JSONResponse({"reset": True})

    async def expire_tokens(request: Request) -> JSONResponse:
        return JSONResponse({"expired": control.tokens.expire_all()})

    return [
        Route("/_sim/stats", get_stats, methods=["GET"]),
        Route("/_sim/stats/reset", reset_stats, methods=["POST"]),
        Route("/_sim/requests", get_requests, methods=["GET"]),
        Route("/_sim/faults", get_faults, methods=["GET"]),
        Route("/_sim/faults", set_faults, methods=["POST"]),
        Route("/_sim/faults/reset", reset_faults, methods=["POST"]),
        Route("/_sim/reset", reset_all, methods=["POST"]),
        Route("/_sim/auth/expire", expire_tokens, methods=["POST"]),
    ]
