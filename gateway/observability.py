"""``RequestTelemetry``, the outermost ASGI middleware: the request id (a sane
``X-Request-Id`` kept, else a new one; echoed on the answer), the request's record for
everything inside it (``telemetry.record``), the HTTP counter, and the access line once the
answer is sent. The operation itself is observed by ``schema.telemetry``."""

from __future__ import annotations

import contextlib
import logging
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.access import Principal
from domain.errors import ErrorCode
from gateway.authentication import PRINCIPAL
from telemetry import metrics, record

access_log = logging.getLogger("ordergate.access")
log = logging.getLogger(__name__)
CLIENT_GONE = 499  # nginx's "client closed request": no answer was started for it
MAX_LOGGED_PATH = 200
INTERNAL = orjson.dumps(
    {
        "errors": [
            {
                "message": "The gateway failed to answer this request; it is logged.",
                "extensions": {"code": ErrorCode.INTERNAL.value},
            }
        ]
    }
)


def printable(path: str) -> str:
    """``path`` as a log line may show it: control characters escaped (no forged lines),
    at most ``MAX_LOGGED_PATH`` characters."""
    if path.isprintable() and len(path) <= MAX_LOGGED_PATH:
        return path
    shown = path[:MAX_LOGGED_PATH].encode("unicode_escape").decode("ascii")
    return shown + ("..." if len(path) > MAX_LOGGED_PATH else "")


async def internal_error(send: Send, echoed: tuple[bytes, bytes]) -> None:
    with contextlib.suppress(Exception):  # the client may be gone as well
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(INTERNAL)).encode()),
                    echoed,
                ],
            }
        )
        await send({"type": "http.response.body", "body": INTERNAL})


REQUEST_ID_HEADER = b"x-request-id"
ENDPOINTS = ("/graphql", "/health", "/ready", "/metrics", "/webhooks/affiliate")


def endpoint_of(path: str) -> str:
    if path in ENDPOINTS:
        return path
    return "/ide" if path.startswith("/ide/") else "other"


class RequestTelemetry:
    """ASGI middleware: the request id, the record, the HTTP counter, the access line."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), None)
        request_id = record.request_id_of(None if offered is None else offered.decode("latin-1"))
        current, token = record.begin(request_id)
        # Until an answer starts: a request that ends without one was left by its client.
        status = 101 if scope["type"] == "websocket" else CLIENT_GONE
        started = False
        echoed = (REQUEST_ID_HEADER, request_id.encode())

        async def answer(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", ()), echoed]
            elif message["type"] == "websocket.accept":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        except Exception:
            # A failure of the gateway itself: logged with its request id, answered typed
            # (never a bare 500 page), and not raised on to the server.
            log.exception("internal error answering %s", printable(scope["path"]))
            status = 500
            if scope["type"] == "http" and not started:
                await internal_error(send, echoed)
        finally:
            path = scope["path"]
            metrics.child(metrics.HTTP_REQUESTS, endpoint_of(path), str(status)).inc()
            if self.access_log and access_log.isEnabledFor(logging.INFO):
                self._log(scope, printable(path), status, current)
            record.end(token)

    @staticmethod
    def _log(scope: Scope, path: str, status: int, current: record.RequestRecord) -> None:
        ms = (time.perf_counter() - current.started) * 1000
        principal = scope.get("state", {}).get(PRINCIPAL)
        who = principal.identity if isinstance(principal, Principal) else None
        method = scope.get("method", "WS")
        operation = current.operation
        text = f"{method} {path} {status} {ms:.1f} ms"
        if operation is not None:
            text += f" {current.operation_type} {operation} ({current.outcome})"
        text += f", {len(current.calls)} upstream calls"
        if who is not None:
            text += f", by {who}"
        access_log.info(
            text,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(ms, 2),
                "operation": operation,
                "operation_type": current.operation_type,
                "outcome": current.outcome,
                "upstream_calls": len(current.calls),
                "principal": who,
            },
        )
