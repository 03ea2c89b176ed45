"""The ``/graphql`` endpoint: strawberry's ASGI view with our context, GraphiQL examples, and
GraphQL over HTTP as its specification says:

- the response's media type is negotiated by ``Accept``: ``application/graphql-response+json``
  when the client asks for it (then a request that could not be executed at all, such as a
  syntax error, an unknown field, bad variables or a query limit, is HTTP 4xx with no
  ``data``), ``application/json`` otherwise (then such a request is HTTP 200 with errors);
- a body that is not a GraphQL request (invalid UTF-8, not JSON, nested too deep, not an
  object) is HTTP 400 with a typed error, never a 500.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import orjson
from cross_web import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.unset import UNSET, UnsetType

from backends import deadline
from domain.errors import ErrorCode, UnauthenticatedError
from gateway.authentication import AWAITING, WS_UNAUTHORIZED
from gateway.context import AppState, Context
from schema import build_schema

EXAMPLES = Path(__file__).with_name("examples.graphql")
JSON = "application/json"
# GraphiQL's files, served by the gateway itself (no CDN: it runs on closed networks). The
# page strawberry renders names them on unpkg.com, each with its SRI hash; the copies under
# gateway/static/ide are those very files (tests/gateway/test_edge.py checks the hashes).
IDE_CDN = "https://unpkg.com/"
IDE_PATH = "/ide/"
IDE_FILES = Path(__file__).parent / "static" / "ide"
GRAPHQL_RESPONSE = "application/graphql-response+json"
CONNECTION_INIT_WAIT_S = 10  # a socket that never says connection_init is closed (4408)
MAX_SUBSCRIPTIONS_PER_SOCKET = 10
CLOSE_REASON_MAX = 123  # bytes a WebSocket close frame's reason may hold (RFC 6455)


def negotiate(accept: str | None) -> str:
    """``application/graphql-response+json`` if ``Accept`` prefers it (ties go to it, as the
    spec's newer type), else ``application/json``: for ``*/*``, none, or only JSON."""
    weights: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[media.lower()] = max(weight, weights.get(media.lower(), 0.0))
    preferred = weights.get(GRAPHQL_RESPONSE, 0.0)
    return GRAPHQL_RESPONSE if preferred > 0 and preferred >= weights.get(JSON, 0.0) else JSON


def media_type_lowered(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers whose ``Content-Type`` media type is in lower case: media types are
    case-insensitive (RFC 9110), strawberry compares ``application/json`` as written. The
    same list when it is (nearly always)."""
    for index, (name, value) in enumerate(headers):
        if name == b"content-type":
            media, sep, params = value.partition(b";")
            if media == media.lower():
                return headers
            return [*headers[:index], (name, media.lower() + sep + params), *headers[index + 1 :]]
    return headers


def payload_credential(params: dict[str, object] | None) -> str | None:
    """The credential a ``connection_init`` payload carries: ``{"Authorization": "Bearer ..."}``
    (any case), as graphql-ws clients send their ``connectionParams``."""
    for name, value in (params or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            return value
    return None


class SocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with a refused credential closing the socket 4401 and the
    reason (strawberry's own refusal is a bare 4403 "Forbidden")."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except UnauthenticatedError as error:
            reason = error.message.encode()[:CLOSE_REASON_MAX].decode(errors="ignore")
            await self.websocket.close(code=WS_UNAUTHORIZED, reason=reason)


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SocketHandler

    def __init__(
        self,
        *,
        introspection: bool = True,
        ide_headers: dict[str, str] | None = None,
        **options: object,
    ) -> None:
        """``ide_headers``: what GraphiQL's headers editor starts with (the demo key)."""
        super().__init__(
            build_schema(introspection=introspection),
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=CONNECTION_INIT_WAIT_S),
            **options,  # type: ignore[arg-type]
        )
        self.max_subscriptions_per_connection = MAX_SUBSCRIPTIONS_PER_SOCKET
        self.state: AppState | None = None  # set by the app's lifespan
        self.ide_headers = ide_headers

    def encode_json(self, data: object) -> bytes:
        """Responses serialised by orjson (a 100-order page: ~10x faster than ``json``); what
        orjson refuses (an integer past 64 bits, a lone surrogate a client sent) by ``json``."""
        try:
            return orjson.dumps(data)
        except TypeError:
            return json.dumps(data, separators=(",", ":")).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["headers"] = media_type_lowered(scope["headers"])
        request = Request(scope=scope, receive=receive)
        media_type = negotiate(request.headers.get("accept"))
        assert self.state is not None, "served under the app's lifespan"
        try:
            # One deadline for the request: every upstream call it makes fits inside it.
            with deadline.within(self.state.settings.request_deadline_s):
                response = await self.run(request)
        except HTTPException as exc:
            # Requests that are not GraphQL at all (bad JSON, no query) get JSON errors too.
            status, code, headers = exc.status_code, ErrorCode.BAD_REQUEST, {}
            if isinstance(exc.__cause__, CannotGetOperationTypeError):
                # No operation of that name: a request error as a validation error is.
                code = ErrorCode.GRAPHQL_VALIDATION_FAILED
                status = 200 if media_type == JSON else status
            elif isinstance(exc.__cause__, InvalidOperationTypeError):
                status, headers = 405, {"Allow": "POST"}  # a mutation sent with GET
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": code.value}}]},
                status_code=status,
                headers=headers,
                media_type=media_type,
            )
        else:
            if response.media_type == JSON:
                response.headers["content-type"] = media_type
                if response.status_code == 400 and media_type == JSON:
                    response.status_code = 200  # a request error, told in `errors`
        await response(scope, receive, send)

    def parse_json(self, data: str | bytes) -> Any:
        """A request body: a JSON object (or a list, for batches); anything else is a 400."""
        try:
            text = data.decode() if isinstance(data, bytes) else data
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "The body is not valid UTF-8.") from exc
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        except RecursionError as exc:
            raise HTTPException(400, "The JSON body is nested too deeply.") from exc
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The body must be a JSON object with a `query`.")
        return value

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A socket opened without a credential header is authenticated by its
        ``connection_init`` payload; one with neither is closed 4401 (``SocketHandler``)."""
        if context.principal is AWAITING:
            credential = payload_credential(context.connection_params)
            if credential is None:
                raise UnauthenticatedError(
                    "This API needs a credential: `Authorization: Bearer <...>` in the "
                    "headers or the connection_init payload."
                )
            headers = Headers({"authorization": credential})
            assert context.authenticator is not None
            context.become(await context.authenticator.authenticate(headers), headers)
        return UNSET

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert self.state is not None, "the app's lifespan has not run"
        return self.state.context_for(request, response if isinstance(response, Response) else None)

    @cached_property
    def graphql_ide_html(self) -> str:
        examples = EXAMPLES.read_text().replace("\\", "\\\\").replace("`", "\\`")
        html = super().graphql_ide_html.replace(IDE_CDN, IDE_PATH)
        html = re.sub(
            r"const EXAMPLE_QUERY = `.*?`;",
            lambda _: f"const EXAMPLE_QUERY = `{examples}`;",
            html,
            count=1,
            flags=re.DOTALL,
        )
        if self.ide_headers:
            # A JSON string inside a script: "</" must not end the script element.
            editor = json.dumps(json.dumps(self.ide_headers, indent=2)).replace("</", "<\\/")
            html = html.replace(
                "React.useState(parameters.headers)",
                f"React.useState(parameters.headers || {editor})",
                1,
            )
        return html

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.graphql_ide_html, headers=self.ide_security_headers)

    @cached_property
    def ide_security_headers(self) -> dict[str, str]:
        """The page runs only its own inline scripts (by hash) and GraphiQL's files, talks
        only to this origin, and cannot be framed by another site."""
        inline = re.findall(r"<script>(.*?)</script>", self.graphql_ide_html, flags=re.DOTALL)
        hashes = " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
            for s in inline
        )
        policy = "; ".join(
            [
                "default-src 'none'",
                f"script-src 'self' {hashes}",
                "style-src 'self' 'unsafe-inline'",
                "font-src 'self' data:",
                "img-src 'self' data:",
                "connect-src 'self'",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            ]
        )
        return {
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        # A request that could not be executed at all (syntax, unknown field, bad variables)
        # has errors, none of them at a path, and no data: it is answered without a ``data``
        # entry (the GraphQL spec: none when an error is raised before execution begins) and
        # with 400 (``__call__`` makes it 200 under application/json). Errors raised while
        # executing carry a path, and keep ``data`` and 200.
        request_error = False
        if isinstance(response_data, dict) and response_data.get("data") is None:
            errors = cast(list[dict[str, object]], response_data.get("errors") or [])
            request_error = bool(errors) and not any("path" in error for error in errors)
            if request_error:
                response_data = response_data.copy()
                response_data.pop("data", None)
        response = super().create_response(response_data, sub_response)
        if request_error and response.status_code == 200:
            response.status_code = 400
        return response
