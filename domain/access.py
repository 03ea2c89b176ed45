"""Who is calling: the principal a request was authenticated as, and what it may do.

A principal is decided once per request, at the edge (``gateway.authentication``), from an
API key or an OAuth2/OIDC access token; resolvers and permission classes read it from the
context and never look at headers themselves.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from domain.models import OrderSource


class Scope(enum.StrEnum):
    """What a credential allows. A token's ``scope``/``scp`` claim uses the same strings."""

    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"  # change existing orders (status, dispatch, split, assets...)
    ORDERS_CREATE = "orders:create"
    CUSTOMERS_READ = "customers:read"  # customer, company and addresses of an order
    KEYS_MANAGE = "keys:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"  # partners' outgoing webhooks (their own)
    # History records `X-Actor` as the person this caller acts for ("on behalf of").
    ACT_ON_BEHALF = "actors:on-behalf"


ALL_SCOPES = frozenset(Scope)


class PrincipalKind(enum.StrEnum):
    API_KEY = "API_KEY"
    ACCESS_TOKEN = "ACCESS_TOKEN"
    ANONYMOUS = "ANONYMOUS"


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """The known scopes among ``values``; unknown strings (another API's scopes) are ignored."""
    known = {scope.value for scope in Scope}
    return frozenset(Scope(value) for value in values if value in known)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``sources`` is ``None`` when it may see every source."""

    name: str  # the key's name or the token's subject: the actor in an order's history
    kind: PrincipalKind
    scopes: frozenset[Scope]
    sources: frozenset[OrderSource] | None = None
    rate: float | None = None  # cost points per second; None: the gateway's default
    key_id: int | None = None

    @property
    def identity(self) -> str:
        """Who this is, told apart from every other caller: an API key by its id, a token by
        its subject (a key and a token subject of the same name are two callers)."""
        if self.key_id is not None:
            return f"key:{self.key_id}"
        return f"{self.kind.value.lower()}:{self.name}"

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes

    def sees(self, source: OrderSource) -> bool:
        return self.sources is None or source in self.sources

    def covers(self, scopes: Iterable[Scope], sources: Iterable[OrderSource]) -> bool:
        """Whether a credential with these scopes and sources (none: every source) is within
        this caller's own reach: a key manager gives and takes away no more than it holds."""
        sources = frozenset(sources)
        wide_enough = self.sources is None or (bool(sources) and sources <= self.sources)
        return frozenset(scopes) <= self.scopes and wide_enough


ANONYMOUS_NAME = "anonymous"
