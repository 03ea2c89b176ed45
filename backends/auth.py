"""How adapters authenticate: httpx ``Auth`` flows that obtain, cache and refresh credentials.

- ``ApiKeyAuth``: a static key in a header (AFFILIATE).
- ``ClientCredentialsAuth``: OAuth2 client-credentials token (WEBSHOP, CRM).
- ``JwtLoginAuth``: a JSON login that returns a JWT (B2B).

Bearer flows fetch a token before the first request, refresh it shortly before it expires,
and on a 401 refresh once and replay the request. A token endpoint that fails hands its
own response back, so the caller's error policy classifies it like any other answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncGenerator

import httpx

# Refresh this long before the upstream says a token expires.
EXPIRY_MARGIN_S = 5.0


class ApiKeyAuth(httpx.Auth):
    def __init__(self, api_key: str, header: str = "X-Api-Key") -> None:
        self.api_key = api_key
        self.header = header

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers[self.header] = self.api_key
        yield request


class BearerTokenAuth(httpx.Auth):
    """Shared token caching and refresh; subclasses say how to ask for and read a token."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_issued = 0

    def token_request(self) -> httpx.Request:
        raise NotImplementedError

    def read_token(self, response: httpx.Response) -> tuple[str, float | None]:
        """The token and its lifetime in seconds (``None`` when unknown)."""
        raise NotImplementedError

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at

    def _store(self, response: httpx.Response) -> bool:
        if response.status_code != 200:
            return False
        try:
            token, lifetime = self.read_token(response)
        except (KeyError, TypeError, ValueError):
            return False
        self._token = token
        ttl = 3600.0 if lifetime is None else float(lifetime)
        self._expires_at = time.monotonic() + max(ttl - min(EXPIRY_MARGIN_S, ttl / 2), 0.0)
        self.tokens_issued += 1
        return True

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    token_response = yield self.token_request()
                    await token_response.aread()
                    if not self._store(token_response):
                        return  # the failed token answer is what the caller sees
        used = self._token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            if self._token == used:  # nobody refreshed it meanwhile
                self._token = None
                token_response = yield self.token_request()
                await token_response.aread()
                if not self._store(token_response):
                    return
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class ClientCredentialsAuth(BearerTokenAuth):
    """OAuth2 client-credentials grant (RFC 6749 section 4.4), form-encoded."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        super().__init__()
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret

    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )

    def read_token(self, response: httpx.Response) -> tuple[str, float | None]:
        body = response.json()
        expires_in = body.get("expires_in")
        return str(body["access_token"]), None if expires_in is None else float(expires_in)


class JwtLoginAuth(BearerTokenAuth):
    """A JSON login (``{"_username", "_password"}``) answered with ``{"token": <JWT>}``."""

    def __init__(self, login_url: str, username: str, password: str) -> None:
        super().__init__()
        self.login_url = login_url
        self.username = username
        self.password = password

    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST", self.login_url, json={"_username": self.username, "_password": self.password}
        )

    def read_token(self, response: httpx.Response) -> tuple[str, float | None]:
        token = str(response.json()["token"])
        return token, jwt_lifetime(token)


def jwt_lifetime(token: str) -> float | None:
    """Seconds until a JWT's ``exp`` claim (read, not verified: the upstream verifies it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - time.time()
    except (IndexError, KeyError, TypeError, ValueError):
        return None
