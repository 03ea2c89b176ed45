"""The error tree: each expected failure carries the code partners branch on, its message
and the input field it is about; an upstream's failure also names the source (and the HTTP
status it answered), and says whether retrying can help."""

from __future__ import annotations

import pytest

from domain.errors import (
    BackendError,
    ConflictError,
    ErrorCode,
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    OrdergateError,
    ReplayedError,
    UnsupportedByBackendError,
    UpstreamMalformedError,
    UpstreamRateLimitedError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    ValidationError,
)
from domain.models import OrderSource


@pytest.mark.parametrize(
    ("error_type", "code"),
    [
        (OrdergateError, "VALIDATION"),
        (NotFoundError, "NOT_FOUND"),
        (ValidationError, "VALIDATION"),
        (InvalidTransitionError, "INVALID_TRANSITION"),
        (UnsupportedByBackendError, "UNSUPPORTED_BY_BACKEND"),
        (ConflictError, "CONFLICT"),
        (ForbiddenError, "FORBIDDEN"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_a_gateway_error_carries_its_code_message_and_field(
    error_type: type[OrdergateError], code: str
) -> None:
    error = error_type("That is not allowed", field=["input", "status"])
    assert (error.code.value, error.message, str(error), error.field) == (
        code,
        "That is not allowed",
        "That is not allowed",
        ["input", "status"],
    )
    assert error.extensions == {"code": code}
    assert error_type("No field").field is None


@pytest.mark.parametrize(
    ("error_type", "code", "retryable"),
    [
        (UpstreamUnavailableError, "UPSTREAM_UNAVAILABLE", True),
        (UpstreamTimeoutError, "UPSTREAM_UNAVAILABLE", True),
        (UpstreamMalformedError, "UPSTREAM_UNAVAILABLE", True),
        (UpstreamRejectedError, "UPSTREAM_REJECTED", False),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_an_upstream_error_names_its_source_and_the_status_it_answered(
    error_type: type[BackendError], code: str, retryable: bool
) -> None:
    error = error_type(OrderSource.WEBSHOP, "order is locked", status=409)
    assert (error.message, str(error), error.source, error.status, error.retryable) == (
        "WEBSHOP: order is locked",
        "WEBSHOP: order is locked",
        OrderSource.WEBSHOP,
        409,
        retryable,
    )
    assert error.field is None
    assert error.extensions == {"code": code, "source": "WEBSHOP", "upstreamStatus": 409}


def test_an_upstream_error_without_an_http_status_has_no_upstream_status() -> None:
    error = UpstreamTimeoutError(OrderSource.CRM, "no answer in 2.0 s")
    assert error.status is None
    assert error.extensions == {"code": "UPSTREAM_UNAVAILABLE", "source": "CRM"}


def test_a_rate_limited_answer_is_a_retryable_429_with_the_wait_it_asked_for() -> None:
    error = UpstreamRateLimitedError(OrderSource.B2B, "slow down", retry_after=1.5)
    assert (error.message, error.status, error.retry_after, error.retryable) == (
        "B2B: slow down",
        429,
        1.5,
        True,
    )
    assert error.extensions == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": "B2B",
        "upstreamStatus": 429,
    }
    assert UpstreamRateLimitedError(OrderSource.B2B, "x", retry_after=None).retry_after is None


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_a_replayed_error_keeps_the_code_message_and_field_it_was_stored_with(
    code: ErrorCode,
) -> None:
    error = ReplayedError(code, "as the first time", field=["input", "orderId"])
    assert (error.code, error.message, str(error), error.field) == (
        code,
        "as the first time",
        "as the first time",
        ["input", "orderId"],
    )
    assert error.extensions == {"code": code.value}
    assert ReplayedError(code, "no field").field is None
