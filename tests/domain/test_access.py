"""What a principal may do: its scopes, and the sources it sees."""

from __future__ import annotations

import pytest

from domain.access import ALL_SCOPES, Principal, PrincipalKind, Scope, parse_scopes
from domain.models import OrderSource


def test_scopes_are_the_strings_tokens_and_keys_carry() -> None:
    assert {scope.value for scope in Scope} == {
        "orders:read",
        "orders:write",
        "orders:create",
        "customers:read",
        "keys:manage",
        "webhooks:manage",
        "actors:on-behalf",
    }
    assert frozenset(Scope) == ALL_SCOPES


def test_unknown_scopes_are_ignored_not_refused() -> None:
    assert parse_scopes(["openid", "orders:read", "profile", "ORDERS:WRITE"]) == {Scope.ORDERS_READ}
    assert parse_scopes([]) == frozenset()


@pytest.mark.parametrize(
    ("sources", "seen"),
    [
        (None, set(OrderSource)),
        (frozenset({OrderSource.AFFILIATE}), {OrderSource.AFFILIATE}),
        (frozenset({OrderSource.CRM, OrderSource.B2B}), {OrderSource.CRM, OrderSource.B2B}),
    ],
    ids=["unrestricted", "one", "two"],
)
def test_a_principal_sees_only_its_sources(
    sources: frozenset[OrderSource] | None, seen: set[OrderSource]
) -> None:
    principal = Principal("p", PrincipalKind.API_KEY, frozenset({Scope.ORDERS_READ}), sources)
    assert {s for s in OrderSource if principal.sees(s)} == seen
    assert principal.may(Scope.ORDERS_READ) and not principal.may(Scope.ORDERS_WRITE)


R, W_, C = Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.KEYS_MANAGE
AF, WS = OrderSource.AFFILIATE, OrderSource.WEBSHOP


@pytest.mark.parametrize(
    ("holds", "sees", "asks", "for_sources", "covered"),
    [
        ({R, C}, None, {R}, set(), True),
        ({R, C}, None, {R, C}, {AF, WS}, True),
        ({R, C}, None, {W_}, set(), False),
        ({R, C}, None, set(), set(), True),
        ({R}, {AF}, {R}, {AF}, True),
        ({R}, {AF}, {R}, {WS}, False),
        ({R}, {AF}, {R}, {AF, WS}, False),
        ({R}, {AF}, {R}, set(), False),  # no sources: every source, wider than AF
        ({R}, {AF, WS}, {R}, {WS}, True),
    ],
)
def test_a_principal_covers_only_credentials_within_its_own_reach(
    holds: set[Scope],
    sees: set[OrderSource] | None,
    asks: set[Scope],
    for_sources: set[OrderSource],
    covered: bool,
) -> None:
    sources = None if sees is None else frozenset(sees)
    principal = Principal("p", PrincipalKind.API_KEY, frozenset(holds), sources)
    assert principal.covers(asks, for_sources) is covered


@pytest.mark.parametrize(
    ("principal", "identity"),
    [
        (Principal("acme", PrincipalKind.API_KEY, frozenset(), key_id=7), "key:7"),
        (Principal("acme", PrincipalKind.ACCESS_TOKEN, frozenset()), "access_token:acme"),
        (Principal("anonymous", PrincipalKind.ANONYMOUS, frozenset()), "anonymous:anonymous"),
    ],
    ids=["key-by-id", "token-by-subject", "anonymous"],
)
def test_a_key_and_a_token_of_one_name_are_two_callers(principal: Principal, identity: str) -> None:
    assert principal.identity == identity
