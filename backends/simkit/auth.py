"""Authentication as the simulated upstreams demand it (``shared/contract/runtime.md``).

``TokenStore`` issues and checks bearer tokens with a lifetime; ``oauth_token_route`` is an
OAuth2 client-credentials token endpoint; ``jwt_login_route`` is a JSON login returning a
signed JWT; ``RequireAuth`` answers 401 to any request without a valid credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send


class TokenStore:
    """Bearer tokens issued by one simulator, each valid until its expiry."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._expiry: dict[str, float] = {}
        self.issued = 0

    def issue(self, token: str | None = None) -> str:
        token = token or secrets.token_urlsafe(24)
        self._expiry[token] = time.time() + self.ttl_s
        self.issued += 1
        return token

    def valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        return expiry is not None and time.time() < expiry

    def expire_all(self) -> int:
        """Make every issued token expired now; returns how many were live."""
        now = time.time()
        live = sum(1 for expiry in self._expiry.values() if expiry > now)
        self._expiry = dict.fromkeys(self._expiry, now - 1)
        return live

    def revoke_all(self) -> None:
        self._expiry.clear()


def bearer_token(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def oauth_token_route(path: str, store: TokenStore, clients: Mapping[str, str]) -> Route:
    """``POST path`` with form ``grant_type=client_credentials&client_id&client_secret``."""

    async def token(request: Request) -> JSONResponse:
        # application/x-www-form-urlencoded, read by hand: no multipart parser needed.
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("latin-1")).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id = str(form.get("client_id", ""))
        if clients.get(client_id) is None or not hmac.compare_digest(
            clients[client_id], str(form.get("client_secret", ""))
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(
            {
                "access_token": store.issue(),
                "token_type": "Bearer",
                "expires_in": int(store.ttl_s) if store.ttl_s >= 1 else store.ttl_s,
            }
        )

    return Route(path, token, methods=["POST"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def sign_jwt(claims: Mapping[str, object], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(dict(claims)).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def jwt_login_route(
    path: str, store: TokenStore, users: Mapping[str, str], *, key: bytes = b"sim-jwt-key"
) -> Route:
    """``POST path`` with JSON ``{"_username", "_password"}`` -> ``{"token": <JWT>}``."""

    async def login(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            username, password = str(body["_username"]), str(body["_password"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"code": 400, "message": "Invalid JSON."}, status_code=400)
        if users.get(username) is None or not hmac.compare_digest(users[username], password):
            return JSONResponse({"code": 401, "message": "Invalid credentials."}, status_code=401)
        now = time.time()
        claims = {"iat": int(now), "exp": now + store.ttl_s, "username": username}
        return JSONResponse({"token": store.issue(sign_jwt(claims, key))})

    return Route(path, login, methods=["POST"])


class RequireAuth:
    """401 for every request outside ``exempt`` paths whose credential ``check`` refuses."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        check: Callable[[Headers], bool],
        exempt: Callable[[str], bool],
        body: Mapping[str, object] | None = None,
    ) -> None:
        self.app = app
        self.check = check
        self.exempt = exempt
        self.body = dict(body or {"error": "unauthorized"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.exempt(scope["path"]):
            if not self.check(Headers(scope=scope)):
                response = JSONResponse(
                    self.body, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def bearer_check(store: TokenStore) -> Callable[[Headers], bool]:
    def check(headers: Headers) -> bool:
        token = bearer_token(headers)
        return token is not None and store.valid(token)

    return check


def api_key_check(header: str, key: str) -> Callable[[Headers], bool]:
    def check(headers: Headers) -> bool:
        return hmac.compare_digest(headers.get(header, ""), key)

    return check
