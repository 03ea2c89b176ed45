"""Reading the scalar values every upstream sends the same way: timestamps and numeric ids."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.errors import UpstreamMalformedError
from domain.models import OrderSource


def utc_timestamp(source: OrderSource, value: str, *, what: str) -> datetime:
    """ISO 8601 (a space may stand for the ``T``); one without an offset is UTC, as every
    upstream here writes them. Anything else is ``UpstreamMalformedError`` naming ``what``."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UpstreamMalformedError(source, f"{what}: not a timestamp: {value!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def numeric_id(value: str) -> int | None:
    """The id as the upstream's integer, or ``None`` for one it cannot know: only ASCII
    digits count (``int`` would also take superscript or full-width digits)."""
    return int(value) if value.isascii() and value.isdigit() else None
