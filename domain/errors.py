"""The gateway's exception tree. Every expected failure is one of these types.

    OrdergateError                      code
    ├── NotFoundError                   NOT_FOUND
    ├── ValidationError                 VALIDATION
    ├── InvalidTransitionError          INVALID_TRANSITION
    ├── UnsupportedByBackendError       UNSUPPORTED_BY_BACKEND
    ├── ConflictError                   CONFLICT
    ├── ForbiddenError                  FORBIDDEN
    ├── UnauthenticatedError            UNAUTHENTICATED   (HTTP 401)
    ├── NotIndexedError                 NOT_INDEXED       (a listing of the order index)
    └── BackendError                    (carries the failing source)
        ├── UpstreamUnavailableError    UPSTREAM_UNAVAILABLE  -- retryable
        │   ├── UpstreamTimeoutError        the upstream did not answer in time
        │   ├── UpstreamCircuitOpenError    its breaker is open: nothing was sent
        │   ├── UpstreamRateLimitedError    429, with the Retry-After it asked for
        │   └── UpstreamMalformedError      an answer that is not valid for that API
        └── UpstreamRejectedError       UPSTREAM_REJECTED     -- not retryable (4xx)
            └── UpstreamForbiddenError  FORBIDDEN             -- the upstream's own 403

Adapters raise ``BackendError`` subclasses from their edge (``raise ... from exc``);
resolvers turn them into GraphQL errors with ``extensions.code`` or into ``userErrors``.
"""

from __future__ import annotations

from enum import StrEnum

from domain.models import OrderSource


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    VALIDATION = "VALIDATION"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    UNSUPPORTED_BY_BACKEND = "UNSUPPORTED_BY_BACKEND"
    UPSTREAM_REJECTED = "UPSTREAM_REJECTED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    # Refusals of the request itself, before any field runs:
    BAD_REQUEST = "BAD_REQUEST"  # not a GraphQL request: body, JSON, content type, method
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"  # does not parse, or not valid
    INTERNAL = "INTERNAL"  # a failure of the gateway itself (logged, never detailed)
    UNAVAILABLE = "UNAVAILABLE"  # the gateway stopped before it could answer (HTTP 503)
    # A listing read from the order index lacks sources ingestion has not loaded yet:
    NOT_INDEXED = "NOT_INDEXED"


class OrdergateError(Exception):
    """Base of every error the gateway expects and reports to clients as typed data."""

    code: ErrorCode = ErrorCode.VALIDATION

    def __init__(self, message: str, *, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code.value}


class NotFoundError(OrdergateError):
    code = ErrorCode.NOT_FOUND


class ValidationError(OrdergateError):
    code = ErrorCode.VALIDATION


class AmbiguousReferenceError(ValidationError):
    """A reference more than one order carries (CloudSuite: one per webshop); ``candidates``
    (their ids and webshops) travel in the error's extensions."""

    def __init__(
        self, message: str, *, candidates: list[dict[str, str]], field: list[str] | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.candidates = candidates

    @property
    def extensions(self) -> dict[str, object]:
        return {**super().extensions, "candidates": self.candidates}


class InvalidTransitionError(OrdergateError):
    code = ErrorCode.INVALID_TRANSITION


class UnsupportedByBackendError(OrdergateError):
    code = ErrorCode.UNSUPPORTED_BY_BACKEND


class ConflictError(OrdergateError):
    code = ErrorCode.CONFLICT


class ForbiddenError(OrdergateError):
    code = ErrorCode.FORBIDDEN


class UnauthenticatedError(OrdergateError):
    """No credential, or one that is not valid (unknown, revoked, expired, badly signed)."""

    code = ErrorCode.UNAUTHENTICATED


class NotIndexedError(OrdergateError):
    """A listing answered from the order index before ingestion loaded these sources whole:
    their orders are missing from it (all or some). Reported beside the page, not failing it."""

    code = ErrorCode.NOT_INDEXED

    def __init__(self, sources: list[OrderSource]) -> None:
        names = ", ".join(source.value for source in sources)
        super().__init__(
            f"The order index has not been loaded for {names} yet: this page lacks their "
            "orders (all or some). Ask again once ingestion has read them."
        )
        self.sources = sources

    @property
    def extensions(self) -> dict[str, object]:
        return {**super().extensions, "sources": [source.value for source in self.sources]}


class ReplayedError(OrdergateError):
    """An error answered again from storage (an idempotent replay), keeping its code."""

    def __init__(self, code: ErrorCode, message: str, *, field: list[str] | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


class BackendError(OrdergateError):
    """A failure talking to one upstream system."""

    retryable: bool = False

    def __init__(self, source: OrderSource, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{source.value}: {message}")
        self.source = source
        self.status = status

    @property
    def extensions(self) -> dict[str, object]:
        extensions: dict[str, object] = {"code": self.code.value, "source": self.source.value}
        if self.status is not None:
            extensions["upstreamStatus"] = self.status
        return extensions


class UpstreamUnavailableError(BackendError):
    """The upstream could not be reached, failed (5xx), or answered garbage. Retry later."""

    code = ErrorCode.UPSTREAM_UNAVAILABLE
    retryable = True


class UpstreamTimeoutError(UpstreamUnavailableError):
    pass


class UpstreamCircuitOpenError(UpstreamUnavailableError):
    """The backend failed too often: its circuit breaker is open and nothing was sent.
    ``retry_in``: seconds until it lets a request through again."""

    def __init__(self, source: OrderSource, message: str, *, retry_in: float) -> None:
        super().__init__(source, message)
        self.retry_in = retry_in


class UpstreamRateLimitedError(UpstreamUnavailableError):
    def __init__(self, source: OrderSource, message: str, *, retry_after: float | None) -> None:
        super().__init__(source, message, status=429)
        self.retry_after = retry_after


class UpstreamMalformedError(UpstreamUnavailableError):
    pass


class UpstreamRejectedError(BackendError):
    """The upstream understood the request and refused it (4xx). Retrying will not help."""

    code = ErrorCode.UPSTREAM_REJECTED


class UpstreamForbiddenError(UpstreamRejectedError):
    """The upstream refused this action to the gateway's credentials (403): a refusal like any
    other 4xx (not retried; a queued change ends rejected), reported as ``FORBIDDEN``."""

    code = ErrorCode.FORBIDDEN
