"""The mapped order (``domain.models.Order``) as JSON for the index and the event log, and the
hash that tells whether an upstream's order changed.

Amounts stay exact (``Decimal`` as a string) and timestamps keep their offsets, so an order
read back from the index equals the one stored.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import TypeAdapter

from domain.models import Order

_ORDER = TypeAdapter(Order)
# Fields whose change alone is no change of the order: the upstream's own clock.
VOLATILE = frozenset({"updated_at"})


def dump(order: Order) -> dict[str, Any]:
    data: dict[str, Any] = _ORDER.dump_python(order, mode="json")
    return data


def encode(order: Order) -> str:
    return _ORDER.dump_json(order).decode()


def decode(text: str) -> Order:
    return _ORDER.validate_json(text)


def content_hash(data: dict[str, Any]) -> str:
    """SHA-256 of the order's fields but the volatile ones, keys sorted."""
    stable = {key: value for key, value in data.items() if key not in VOLATILE}
    return hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The names (as the GraphQL schema spells them) of the top-level fields that differ."""
    names = (before.keys() | after.keys()) - VOLATILE
    return sorted(camel(name) for name in names if before.get(name) != after.get(name))


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
