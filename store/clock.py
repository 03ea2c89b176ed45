"""Time as the store keeps it: always UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
