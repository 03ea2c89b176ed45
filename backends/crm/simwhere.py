"""The simulated CRM's ``Where`` filter on ``GET /api/v2/admin/orders``.

Treepl CMS's list APIs take a ``where`` object (its public API prints ``"where": {}`` beside
``order_by``, ``offset`` and ``limit``); its operators are not printed, so this is our reading,
documented in ``docs/upstreams/crm.md``: a JSON object of order fields, each mapped to a value
(equality) or to operators ``$eq``, ``$ne``, ``$in``, ``$gt``, ``$gte``, ``$lt``, ``$lte``;
every entry must hold. A field or operator it does not know, or a value of the wrong kind,
is refused (``WhereError``: the simulator answers 400 with the reason).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


class WhereError(ValueError):
    """The ``Where`` parameter is not one this API takes."""


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise WhereError(f"expected true or false, not {value!r}")
    return value


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WhereError(f"expected an integer, not {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise WhereError(f"expected a string, not {value!r}")
    return value


def _moment(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(_text(value))
    except ValueError:
        raise WhereError(f"expected an ISO 8601 timestamp, not {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Field -> how a Where value is read to compare with the stored one.
FIELDS: dict[str, Callable[[Any], Any]] = {
    "Id": _integer,
    "IsDeleted": _boolean,
    "StatusId": _integer,
    "PaymentState": _text,
    "MemberId": _integer,
    "OrderName": _text,
    "CreatedDateTime": _moment,
    "ModifiedDateTime": _moment,
}

Test = Callable[[dict[str, Any]], bool]


def parse(text: str) -> Test:
    """The test an order must pass for the ``Where`` text ``text``."""
    try:
        where = json.loads(text)
    except ValueError:
        raise WhereError("Where must be a JSON object") from None
    if not isinstance(where, dict):
        raise WhereError("Where must be a JSON object")
    tests = [_field_test(name, condition) for name, condition in where.items()]
    return lambda order: all(test(order) for test in tests)


def _field_test(name: str, condition: Any) -> Test:
    read = FIELDS.get(name)
    if read is None:
        raise WhereError(f"Where: {name!r} is not a field it filters on ({', '.join(FIELDS)})")
    if not isinstance(condition, dict):
        condition = {"$eq": condition}
    checks: list[Callable[[Any], bool]] = []
    for op, value in condition.items():
        try:
            if op == "$in":
                if not isinstance(value, list):
                    raise WhereError("expected a list")
                checks.append(_member({read(v) for v in value}))
            elif op in OPERATORS:
                checks.append(_compared(OPERATORS[op], read(value)))
            else:
                raise WhereError(f"{op!r} is not an operator ($in, {', '.join(OPERATORS)})")
        except WhereError as exc:
            raise WhereError(f"Where: {name}: {exc}") from None
    return lambda order: all(check(_stored(order[name])) for check in checks)


def _member(allowed: set[Any]) -> Callable[[Any], bool]:
    return lambda stored: stored in allowed


def _compared(compare: Callable[[Any, Any], bool], wanted: Any) -> Callable[[Any], bool]:
    return lambda stored: compare(stored, wanted)


def _stored(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
