"""OAuth2/OIDC access tokens (JWT) from the merchant's identity provider, verified with PyJWT.

The provider's signing keys come from its JWKS URL, fetched on first use and cached; a token
signed with a key id the cache does not know makes one refetch (a rotated key), at most once
per ``jwks_refresh_min_s`` so garbage tokens cannot make the gateway hammer the provider.
Signature, ``exp``/``nbf`` (with a small leeway), issuer and audience are all checked;
scopes come from the ``scope`` (space-separated) or ``scp`` (list) claim.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

from domain.access import Principal, PrincipalKind, parse_scopes
from domain.errors import UnauthenticatedError
from domain.models import OrderSource
from gateway.settings import AuthSettings

log = logging.getLogger(__name__)

SOURCES_CLAIM = "ordergate_sources"  # optional: the sources a token may see


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


class TokenVerifier:
    """Verifies access tokens against one issuer's JWKS."""

    def __init__(self, settings: AuthSettings, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        s = self.settings
        return bool(s.jwks_url and s.jwt_issuer and s.jwt_audience)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def verify(self, token: str) -> Principal:
        if not self.configured:
            raise UnauthenticatedError("Access tokens are not accepted by this gateway.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError("The access token is not a JWT.") from exc
        key = await self._key(header.get("kid"))
        s = self.settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=s.jwt_algorithms,
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                leeway=s.jwt_leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthenticatedError("The access token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"The access token is not valid: {exc}") from exc
        return principal_of(claims)

    async def _key(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str):
            raise UnauthenticatedError("The access token names no signing key (kid).")
        if kid not in self._keys:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise UnauthenticatedError("The access token is signed with an unknown key.")
        return key

    async def _refresh(self) -> None:
        async with self._lock:
            now = time.monotonic()
            recently = self._fetched_at is not None and (
                now - self._fetched_at < self.settings.jwks_refresh_min_s
            )
            if recently:
                return
            self._fetched_at = now
            assert self.settings.jwks_url is not None
            try:
                response = await self._client.get(self.settings.jwks_url)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json()).keys
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                log.warning("JWKS %s could not be read: %s", self.settings.jwks_url, exc)
                return  # keep the keys we had; tokens signed by them still verify
            self._keys = {key.key_id: key for key in keys if key.key_id}


def principal_of(claims: dict[str, Any]) -> Principal:
    scope, scp = claims.get("scope"), claims.get("scp")
    if scope is not None:
        values = _strings(scope, "scope")
    elif scp is not None:
        values = _strings(scp, "scp")
    else:
        values = []
    name = claims.get("sub") or claims.get("client_id") or claims.get("azp")
    if not isinstance(name, str) or not name:
        raise UnauthenticatedError("The access token has no subject.")
    sources: frozenset[OrderSource] | None = None
    if SOURCES_CLAIM in claims:  # present: it limits, whatever its value (never widens)
        named = _strings(claims[SOURCES_CLAIM], SOURCES_CLAIM)
        sources = frozenset(OrderSource(s) for s in named if s in OrderSource.__members__)
    return Principal(
        name=name[:200],
        kind=PrincipalKind.ACCESS_TOKEN,
        scopes=parse_scopes(values),
        sources=sources,
    )


def _strings(value: object, claim: str) -> list[str]:
    """A claim of names: a space-separated string or a list of strings; anything else is
    a token this gateway cannot trust."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UnauthenticatedError(f"The access token's `{claim}` claim is not a list of names.")
