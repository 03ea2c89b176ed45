"""The scalar readers every adapter shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from backends.values import numeric_id, utc_timestamp
from domain.errors import UpstreamMalformedError
from domain.models import OrderSource


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01 10:00:00", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        ("2026-05-01T10:00:00Z", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        (
            "2026-05-01T12:00:00+02:00",
            datetime(2026, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_timestamps_are_aware_and_naive_ones_are_utc(text: str, expected: datetime) -> None:
    assert utc_timestamp(OrderSource.B2B, text, what="order 1") == expected


def test_a_timestamp_that_is_not_one_is_a_malformed_answer() -> None:
    with pytest.raises(UpstreamMalformedError, match="order 7: not a timestamp: 'string'"):
        utc_timestamp(OrderSource.CRM, "string", what="order 7")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12345", 12345), ("", None), ("12a", None), ("-1", None), ("\u00b2", None), ("\uff11", None)],
)
def test_only_ascii_digits_make_a_numeric_id(text: str, expected: int | None) -> None:
    assert numeric_id(text) == expected
