"""The HTTP edge of ``/graphql``: ASGI middleware that runs before any GraphQL work.

- ``BoundedBody``: reads the request body once, refusing one over ``max_body_bytes`` with
  HTTP 413 before it is parsed, and cancels the request's work (its upstream calls
  included) when the client disconnects before the answer.
- ``ShutdownGuard``: a request the shutdown's grace period cuts short answers HTTP 503 with
  a GraphQL error ``UNAVAILABLE`` (retry elsewhere or later), never a plain-text 500.
- ``CsrfGuard``: Apollo Router's CSRF prevention. A browser sends a cross-site request
  without a preflight only with a "simple" content type and no custom header; such a
  request is refused unless it carries ``Authorization`` or a preflight header, so no page
  on another site can make a browser run an operation with ambient credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from gateway.limits import too_complex

SIMPLE_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name", "graphql-preflight")


async def send_error(
    send: Send, status: int, message: str, extensions: dict[str, object] | None = None
) -> None:
    """A JSON error answer written straight to the client (``BAD_REQUEST`` by default)."""
    extensions = extensions or {"code": ErrorCode.BAD_REQUEST.value}
    body = json.dumps({"errors": [{"message": message, "extensions": extensions}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BoundedBody:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_big(send, int(declared))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before it finished sending
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_big(send, size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self._answer(scope, receive, send, b"".join(chunks))

    async def _too_big(self, send: Send, size: int) -> None:
        """HTTP 413, worded like every other query limit (``size``: declared or read so far)."""
        refusal = too_complex("bodyBytes", size, self.max_bytes)
        await send_error(send, 413, refusal.message, refusal.extensions)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """Run the app on the buffered body; a disconnect meanwhile cancels it."""
        disconnected = asyncio.Event()
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        work = asyncio.ensure_future(self.app(scope, replay, send))
        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, watcher):
                if not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(asyncio.CancelledError):
                await work  # re-raises what the app raised, unless it was cancelled


class ShutdownGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.running: set[asyncio.Task[object]] = set()  # the requests in flight

    async def drain(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) for the requests still running, cut or not, to end:
        what they still do with the store must be done before the store closes."""
        if self.running:
            await asyncio.wait(set(self.running), timeout=timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.running.discard(task)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            # The server cancels what still runs when its grace period ends: say so.
            if not started:
                await send_error(
                    send,
                    503,
                    "The gateway is shutting down and could not finish this request; "
                    "send it again (a change that was queued is delivered all the same).",
                    {"code": ErrorCode.UNAVAILABLE.value},
                )
            raise


class CsrfGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.safe(scope):
            await send_error(
                send,
                400,
                "This request could come from another site (CSRF): send it with "
                "`Content-Type: application/json`, an `Authorization` header, or an "
                "`Apollo-Require-Preflight: true` header.",
            )
            return
        await self.app(scope, receive, send)

    @staticmethod
    def safe(scope: Scope) -> bool:
        headers = Headers(scope=scope)
        if "authorization" in headers or any(name in headers for name in PREFLIGHT_HEADERS):
            return True
        if scope["method"] == "GET":
            # Only the GraphiQL page itself (no operation) may be fetched with nothing else.
            return "query" not in QueryParams(scope.get("query_string", b""))
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        return bool(content_type) and content_type not in SIMPLE_CONTENT_TYPES
