"""Who is calling, decided once at the edge, before the request body is read or parsed.

``RequireCredential`` wraps the ``/graphql`` endpoint (HTTP and WebSocket): a request without
a valid ``Authorization: Bearer <credential>`` gets HTTP 401 with ``WWW-Authenticate: Bearer``
and a GraphQL error ``extensions.code = UNAUTHENTICATED`` (a WebSocket is closed with 4401),
unless the settings allow anonymous access. The credential is an API key (``store.api_keys``)
or an access token (``gateway.tokens``); the principal goes into the ASGI scope's state,
where the GraphQL context picks it up. The GraphiQL page itself (a browser's GET for HTML)
needs no credential: it holds no data, and every request it sends carries one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.access import ANONYMOUS_NAME, Principal, PrincipalKind, parse_scopes
from domain.errors import UnauthenticatedError
from gateway.settings import AuthSettings
from gateway.tokens import TokenVerifier, looks_like_jwt
from store import api_keys
from store.engine import Store

log = logging.getLogger(__name__)

PRINCIPAL = "principal"  # key of the principal in the ASGI scope's "state"
WS_UNAUTHORIZED = 4401  # graphql-transport-ws: "Unauthorized"
KEY_CACHE_MAX = 10_000
NOBODY = Principal(name=ANONYMOUS_NAME, kind=PrincipalKind.ANONYMOUS, scopes=frozenset())
# A WebSocket opened without a credential header: its ``connection_init`` payload must carry
# one (browsers cannot set headers on a WebSocket); until then it may do nothing.
AWAITING = Principal(name="unauthenticated", kind=PrincipalKind.ANONYMOUS, scopes=frozenset())


class KeyCache:
    """API keys recently looked up, by the hash of their secret, for ``ttl_s`` seconds: a
    request does not pay a store query for its key. A key revoked (by the CLI, by another
    replica) stops working within ``ttl_s``; unknown secrets are never cached."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if self.clock() >= entry[1]:
            del self._entries[digest]
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if self.ttl_s > 0:
            if len(self._entries) >= KEY_CACHE_MAX:
                self._entries.clear()  # bounded: a flood of distinct keys cannot grow it
            self._entries[digest] = (principal, self.clock() + self.ttl_s)


class Authenticator:
    """Turns a request's headers into a principal, or says why it cannot."""

    def __init__(self, settings: AuthSettings, store: Store, tokens: TokenVerifier) -> None:
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.keys = KeyCache(settings.key_cache_s)
        self.anonymous = Principal(
            name=ANONYMOUS_NAME,
            kind=PrincipalKind.ANONYMOUS,
            scopes=parse_scopes(settings.anonymous_scopes),
        )

    async def authenticate(self, headers: Headers) -> Principal:
        value = headers.get("authorization")
        if value is None:
            if self.settings.anonymous:
                return self.anonymous
            raise UnauthenticatedError(
                "This API needs a credential: send `Authorization: Bearer <API key or token>`."
            )
        scheme, _, credential = value.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise UnauthenticatedError("Send the credential as `Authorization: Bearer <...>`.")
        if api_keys.looks_like_key(credential):
            return await self._key(credential)
        if looks_like_jwt(credential):
            return await self.tokens.verify(credential)
        raise UnauthenticatedError("The credential is neither an API key nor an access token.")

    async def _key(self, secret: str) -> Principal:
        digest = api_keys.secret_hash(secret)
        principal = self.keys.get(digest)
        if principal is None:
            principal = await api_keys.authenticate(self.store, secret)
            if principal is None:
                raise UnauthenticatedError("The API key is not valid (unknown or revoked).")
            self.keys.put(digest, principal)
        return principal


def runs_operation(scope: Scope) -> bool:
    """A GET naming a query to run, read the way the GraphQL view reads it (decoded: a
    ``%71uery=`` is a ``query=``)."""
    return "query" in QueryParams(scope.get("query_string", b""))


def wants_ide(scope: Scope, headers: Headers) -> bool:
    """A browser asking for the GraphiQL page (GET, HTML, no query to run)."""
    return (
        scope["method"] == "GET"
        and "text/html" in headers.get("accept", "")
        and not runs_operation(scope)
    )


class RequireCredential:
    """ASGI middleware in front of the GraphQL endpoint (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["type"] == "http" and wants_ide(scope, headers):
            scope.setdefault("state", {})[PRINCIPAL] = NOBODY  # the page runs nothing itself
            await self.app(scope, receive, send)
            return
        authenticator: Authenticator = scope["app"].state.ordergate.authenticator
        if scope["type"] == "websocket" and "authorization" not in headers:
            if not authenticator.settings.anonymous:
                scope.setdefault("state", {})[PRINCIPAL] = AWAITING
                await self.app(scope, receive, send)
                return
        try:
            principal = await authenticator.authenticate(headers)
        except UnauthenticatedError as error:
            if scope["type"] == "websocket":
                await refuse_websocket(scope, receive, send, error)
            else:
                await refuse(send, error, credential_given="authorization" in headers)
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        await self.app(scope, receive, send)


async def refuse_websocket(
    scope: Scope, receive: Receive, send: Send, error: UnauthenticatedError
) -> None:
    """Accepted, then closed with 4401 and the reason, as graphql-transport-ws closes an
    unauthorised socket: a client sees why (a refused handshake would be a bare HTTP 403)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    offered = scope.get("subprotocols") or []
    accept: dict[str, object] = {"type": "websocket.accept"}
    if offered:
        accept["subprotocol"] = offered[0]
    await send(accept)
    await send({"type": "websocket.close", "code": WS_UNAUTHORIZED, "reason": error.message})


async def refuse(send: Send, error: UnauthenticatedError, *, credential_given: bool) -> None:
    challenge = 'Bearer realm="ordergate"'
    if credential_given:
        challenge += ', error="invalid_token"'  # RFC 6750 §3
    body = json.dumps({"errors": [{"message": error.message, "extensions": error.extensions}]})
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", challenge.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
