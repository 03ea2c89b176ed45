"""The HTTP edge every adapter shares (``backends/http.py``), on a ``httpx.MockTransport``.

Pins: which action each upstream status gets (``STATUS_POLICY``, row by row), what
``UpstreamHttp.request`` then raises and how often it asks again (only idempotent requests
are retried), the backoff (exponential, capped, full jitter) and the ``Retry-After`` cap,
how ``Retry-After`` and an upstream's error body are read, timeouts and transport errors,
and ``parse`` (malformed answers are ``UpstreamMalformedError``; money keeps every digit).

No test sleeps: ``asyncio.sleep`` is replaced by a recorder of the delays asked for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pydantic
import pytest

from backends import http
from backends.calls import ObservedTransport
from backends.config import BackendSettings
from backends.http import Action, UpstreamHttp, action_for, retry_after_seconds, upstream_message
from backends.transport import Http11Transport
from domain.errors import (
    BackendError,
    UpstreamForbiddenError,
    UpstreamMalformedError,
    UpstreamRateLimitedError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from domain.models import OrderSource

BASE_URL = "http://upstream.test"
Handler = Callable[[httpx.Request], httpx.Response]


class Upstream:
    """A scripted upstream: answers (or raises) the next item for each request it gets."""

    def __init__(self, *script: httpx.Response | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        return step


class VirtualTime:
    """The clock of the edge's breaker, pause, pacing and retry budget: it moves only by the
    waits the edge asks for (``delays``), so a wait "slept" is time passed for them too."""

    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def edge(upstream: Handler, **config: Any) -> UpstreamHttp:
    settings = BackendSettings(base_url=BASE_URL, **{"retries": 2, **config})
    client = httpx.AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(upstream))
    edge = UpstreamHttp(OrderSource.WEBSHOP, client, settings)
    edge.breaker.clock = edge.pause.clock = edge.pacing.clock = VIRTUAL_TIME
    edge.retry_budget.clock = VIRTUAL_TIME
    return edge


VIRTUAL_TIME = VirtualTime()


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The waits ``UpstreamHttp`` asks for, in order; none is actually slept (virtual time
    moves by each)."""
    asked: list[float] = []

    async def record(delay: float) -> None:
        asked.append(delay)
        VIRTUAL_TIME.now += delay
        await asyncio.sleep(0)

    monkeypatch.setattr(http, "asyncio", SimpleNamespace(sleep=record))
    # Full jitter draws from [0, ceiling]; the upper bound makes the ceiling visible.
    monkeypatch.setattr(http, "random", SimpleNamespace(uniform=lambda low, high: high))
    yield asked


# --- STATUS_POLICY, row by row -------------------------------------------------------------

# status -> action, written out from the policy's intent, one row per range and its edges.
POLICY_MATRIX = [
    (200, Action.OK),
    (201, Action.OK),
    (204, Action.OK),
    (299, Action.OK),
    (400, Action.REJECT),
    (401, Action.AUTH),
    (402, Action.REJECT),
    (403, Action.FORBIDDEN),
    (404, Action.NOT_FOUND),
    (405, Action.REJECT),
    (407, Action.REJECT),
    (408, Action.RETRY),
    (409, Action.REJECT),
    (422, Action.REJECT),
    (428, Action.REJECT),
    (429, Action.RATE_LIMITED),
    (430, Action.REJECT),
    (499, Action.REJECT),
    (500, Action.RETRY),
    (502, Action.RETRY),
    (503, Action.RETRY),
    (599, Action.RETRY),
    # Anything outside the known classes is treated as transient.
    (100, Action.RETRY),
    (199, Action.RETRY),
    (300, Action.RETRY),
    (302, Action.RETRY),
    (399, Action.RETRY),
    (600, Action.RETRY),
]


@pytest.mark.parametrize(
    ("status", "action"), POLICY_MATRIX, ids=[str(s) for s, _ in POLICY_MATRIX]
)
def test_each_upstream_status_gets_its_policy_action(status: int, action: Action) -> None:
    assert action_for(status) is action


# What a GET (idempotent, retries=2) ends in for each status, and how many requests it made.
# outcome: "response" (returned), or the exact error type raised.
REQUEST_MATRIX: list[tuple[int, object, int]] = [
    (200, "response", 1),
    (204, "response", 1),
    (299, "response", 1),
    (400, UpstreamRejectedError, 1),
    (401, UpstreamUnavailableError, 1),  # credentials: a configuration to fix, not retried
    (403, UpstreamForbiddenError, 1),
    (404, UpstreamRejectedError, 1),
    (408, UpstreamUnavailableError, 3),
    (409, UpstreamRejectedError, 1),
    (422, UpstreamRejectedError, 1),
    (429, UpstreamRateLimitedError, 3),
    (500, UpstreamUnavailableError, 3),
    (503, UpstreamUnavailableError, 3),
    (302, UpstreamUnavailableError, 3),
    (600, UpstreamUnavailableError, 3),
]


@pytest.mark.parametrize(
    ("status", "outcome", "requests"), REQUEST_MATRIX, ids=[str(s) for s, *_ in REQUEST_MATRIX]
)
async def test_a_read_ends_in_the_statuss_outcome_after_its_retries(
    status: int, outcome: object, requests: int, delays: list[float]
) -> None:
    upstream = Upstream(httpx.Response(status, json={"message": "upstream says no"}))
    client = edge(upstream)
    if outcome == "response":
        response = await client.request("GET", "/orders")
        assert response is not None and response.status_code == status
    else:
        with pytest.raises(BackendError) as caught:
            await client.request("GET", "/orders")
        assert type(caught.value) is outcome
        assert caught.value.status == status
        assert caught.value.source is OrderSource.WEBSHOP
    assert len(upstream.requests) == requests
    # A 429 also paces the backend (here 1/s, all it took): the second retry waits its slot.
    assert len(delays) == requests - 1 + (status == 429)


# Retryable statuses, answered to writes: (method, idempotent flag, requests made).
WRITE_MATRIX = [
    ("POST", None, 1),
    ("PUT", None, 1),
    ("PATCH", None, 1),
    ("DELETE", None, 1),
    ("POST", True, 3),
    ("PUT", True, 3),
    ("GET", None, 3),
    ("get", None, 3),
    ("HEAD", None, 3),
    ("GET", False, 1),
]


@pytest.mark.parametrize("status", [408, 429, 500, 503])
@pytest.mark.parametrize(
    ("method", "idempotent", "requests"),
    WRITE_MATRIX,
    ids=[f"{m}-idempotent={i}" for m, i, _ in WRITE_MATRIX],
)
async def test_only_idempotent_requests_are_retried(
    method: str, idempotent: bool | None, requests: int, status: int, delays: list[float]
) -> None:
    upstream = Upstream(httpx.Response(status))
    with pytest.raises(UpstreamUnavailableError):
        await edge(upstream).request(method, "/orders/1", idempotent=idempotent)
    assert len(upstream.requests) == requests


@pytest.mark.parametrize(("retries", "requests"), [(0, 1), (1, 2), (2, 3), (4, 5)])
async def test_a_read_is_tried_once_plus_the_configured_retries(
    retries: int, requests: int, delays: list[float]
) -> None:
    upstream = Upstream(httpx.Response(503))
    with pytest.raises(UpstreamUnavailableError):
        await edge(upstream, retries=retries).request("GET", "/orders")
    assert len(upstream.requests) == requests


async def test_a_transient_failure_followed_by_success_returns_the_success(
    delays: list[float],
) -> None:
    upstream = Upstream(httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(200))
    response = await edge(upstream).request("GET", "/orders")
    assert response is not None and response.status_code == 200
    assert len(upstream.requests) == 3


async def test_the_last_failure_is_the_one_raised(delays: list[float]) -> None:
    upstream = Upstream(httpx.ReadTimeout("slow"), httpx.Response(503), httpx.Response(502))
    with pytest.raises(UpstreamUnavailableError) as caught:
        await edge(upstream).request("GET", "/orders")
    assert type(caught.value) is UpstreamUnavailableError
    assert caught.value.status == 502
    assert caught.value.message == "WEBSHOP: GET /orders answered 502"


async def test_a_refusal_after_a_retry_is_raised_at_once(delays: list[float]) -> None:
    upstream = Upstream(httpx.Response(503), httpx.Response(422, json={"message": "bad"}))
    with pytest.raises(UpstreamRejectedError):
        await edge(upstream, retries=5).request("GET", "/orders")
    assert len(upstream.requests) == 2


@pytest.mark.parametrize(
    ("allow_not_found", "outcome"),
    [(True, None), (False, UpstreamRejectedError)],
    ids=["allowed-is-none", "not-allowed-is-rejected"],
)
async def test_a_404_is_none_only_when_the_caller_allows_it(
    allow_not_found: bool, outcome: type[Exception] | None
) -> None:
    upstream = Upstream(httpx.Response(404))
    client = edge(upstream)
    if outcome is None:
        assert await client.request("GET", "/orders/9", allow_not_found=allow_not_found) is None
    else:
        with pytest.raises(outcome) as caught:
            await client.request("GET", "/orders/9", allow_not_found=allow_not_found)
        assert caught.value.message == "WEBSHOP: GET /orders/9: not found"
    assert len(upstream.requests) == 1


async def test_refused_credentials_are_unavailable_with_the_upstreams_words() -> None:
    upstream = Upstream(httpx.Response(401, json={"error": "token expired"}))
    with pytest.raises(UpstreamUnavailableError) as caught:
        await edge(upstream).request("POST", "/orders", json={"a": 1})
    assert caught.value.message == "WEBSHOP: POST /orders: credentials refused (401): token expired"
    assert caught.value.status == 401
    assert caught.value.retryable


async def test_an_upstream_403_is_forbidden_with_the_upstreams_words() -> None:
    upstream = Upstream(httpx.Response(403, json={"error": "this key may not cancel orders"}))
    with pytest.raises(UpstreamForbiddenError) as caught:
        await edge(upstream).request("POST", "/orders/1/cancel")
    assert caught.value.message == "WEBSHOP: this key may not cancel orders"
    assert caught.value.extensions == {
        "code": "FORBIDDEN",
        "source": "WEBSHOP",
        "upstreamStatus": 403,
    }
    assert not caught.value.retryable
    assert len(upstream.requests) == 1


async def test_a_refusal_carries_the_upstreams_message_and_status() -> None:
    upstream = Upstream(httpx.Response(409, json={"detail": "already shipped"}))
    with pytest.raises(UpstreamRejectedError) as caught:
        await edge(upstream).request("POST", "/orders/1/cancel")
    assert caught.value.message == "WEBSHOP: already shipped"
    assert caught.value.status == 409


async def test_a_request_sends_its_params_body_and_headers() -> None:
    upstream = Upstream(httpx.Response(200))
    await edge(upstream).request(
        "POST", "/orders", params={"page": 2}, json={"a": 1}, headers={"X-Trace": "t1"}
    )
    (sent,) = upstream.requests
    assert sent.method == "POST"
    assert sent.url == httpx.URL(f"{BASE_URL}/orders?page=2")
    assert json.loads(sent.content) == {"a": 1}
    assert sent.headers["X-Trace"] == "t1"


@pytest.mark.parametrize(
    ("status", "allow_not_found", "found"),
    [(200, False, True), (404, True, False)],
    ids=["found", "not-found-allowed"],
)
async def test_get_is_a_retried_read_with_params_headers_and_not_found(
    status: int, allow_not_found: bool, found: bool, delays: list[float]
) -> None:
    upstream = Upstream(httpx.Response(503), httpx.Response(status))
    response = await edge(upstream).get(
        "/orders", params={"q": "x"}, headers={"X-Trace": "t2"}, allow_not_found=allow_not_found
    )
    assert (response is not None) is found
    assert len(upstream.requests) == 2
    for sent in upstream.requests:
        assert sent.method == "GET"
        assert sent.url == httpx.URL(f"{BASE_URL}/orders?q=x")
        assert sent.headers["X-Trace"] == "t2"


async def test_get_refuses_a_404_unless_allowed() -> None:
    with pytest.raises(UpstreamRejectedError) as caught:
        await edge(Upstream(httpx.Response(404))).get("/orders/9")
    assert caught.value.message == "WEBSHOP: GET /orders/9: not found"


async def test_a_failed_get_names_its_method_as_get(delays: list[float]) -> None:
    with pytest.raises(UpstreamTimeoutError) as caught:
        await edge(Upstream(httpx.ReadTimeout("slow"))).get("/orders")
    assert caught.value.message == "WEBSHOP: GET /orders timed out"


# --- timeouts and transport errors ----------------------------------------------------------

TRANSPORT_MATRIX = [
    (httpx.ReadTimeout("slow"), UpstreamTimeoutError, "WEBSHOP: GET /orders timed out"),
    (httpx.ConnectTimeout("slow"), UpstreamTimeoutError, "WEBSHOP: GET /orders timed out"),
    (httpx.PoolTimeout("slow"), UpstreamTimeoutError, "WEBSHOP: GET /orders timed out"),
    (
        httpx.ConnectError("refused"),
        UpstreamUnavailableError,
        "WEBSHOP: GET /orders failed: ConnectError",
    ),
    (
        httpx.RemoteProtocolError("bad"),
        UpstreamUnavailableError,
        "WEBSHOP: GET /orders failed: RemoteProtocolError",
    ),
    (
        httpx.DecodingError("gzip"),
        UpstreamUnavailableError,
        "WEBSHOP: GET /orders failed: DecodingError",
    ),
]


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    TRANSPORT_MATRIX,
    ids=[type(f).__name__ for f, *_ in TRANSPORT_MATRIX],
)
async def test_timeouts_and_transport_errors_are_typed_after_the_retries(
    failure: Exception, error: type[BackendError], message: str, delays: list[float]
) -> None:
    upstream = Upstream(failure)
    with pytest.raises(BackendError) as caught:
        await edge(upstream).request("GET", "/orders")
    assert type(caught.value) is error
    assert caught.value.message == message
    assert caught.value.__cause__ is failure
    assert caught.value.status is None
    assert len(upstream.requests) == 3


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")],
    ids=["timeout", "connect"],
)
async def test_a_write_that_times_out_or_fails_is_not_sent_again(
    failure: Exception, delays: list[float]
) -> None:
    upstream = Upstream(failure)
    with pytest.raises(UpstreamUnavailableError):
        await edge(upstream).request("POST", "/orders")
    assert len(upstream.requests) == 1
    assert delays == []


# --- backoff and Retry-After ----------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503), httpx.ReadTimeout("slow")],
    ids=["503", "timeout"],
)
async def test_backoff_doubles_from_the_base_up_to_the_ceiling(
    failure: httpx.Response | Exception, delays: list[float]
) -> None:
    upstream = Upstream(failure)
    client = edge(upstream, retries=5, backoff_base_s=0.25, backoff_max_s=1.5, breaker_failures=10)
    with pytest.raises(UpstreamUnavailableError):
        await client.request("GET", "/orders")
    assert delays == [0.25, 0.5, 1.0, 1.5, 1.5]


async def test_a_429_without_retry_after_backs_off_and_keeps_the_pace(
    delays: list[float],
) -> None:
    """The backend took one request a second before its 429: retries wait their backoff, then
    their paced slot where the backoff ended sooner (attempts at 0, 0.25, 1.25, 2.25, 3.75,
    5.25 s)."""
    upstream = Upstream(httpx.Response(429))
    client = edge(upstream, retries=5, backoff_base_s=0.25, backoff_max_s=1.5, breaker_failures=10)
    with pytest.raises(UpstreamRateLimitedError):
        await client.request("GET", "/orders")
    assert delays == [0.25, 0.5, 0.5, 1.0, 1.5, 1.5]
    assert len(upstream.requests) == 6


async def test_backoff_is_full_jitter_from_zero_to_the_ceiling(
    monkeypatch: pytest.MonkeyPatch, delays: list[float]
) -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return low

    monkeypatch.setattr(http, "random", SimpleNamespace(uniform=uniform))
    client = edge(Upstream(httpx.Response(503)), retries=3, backoff_base_s=0.5, backoff_max_s=1.0)
    with pytest.raises(UpstreamUnavailableError):
        await client.request("GET", "/orders")
    assert drawn == [(0, 0.5), (0, 1.0), (0, 1.0)]
    assert delays == [0, 0, 0]


def rate_limited(retry_after: str) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": retry_after})


# Retry-After (cap 5 s) -> the waits asked for and the requests made (retries=2).
RETRY_AFTER_MATRIX = [
    ("0", [0.0, 0.0, 1.0], 3),  # the pace (1/s, what the backend took) still spaces them
    ("1.5", [1.5, 1.5], 3),
    ("5", [5.0, 5.0], 3),  # exactly the cap is still waited for
    ("5.01", [], 1),  # longer than the cap: fail at once, no second attempt
    ("60", [], 1),
]


@pytest.mark.parametrize(
    ("retry_after", "waits", "requests"),
    RETRY_AFTER_MATRIX,
    ids=[f"retry-after-{r}" for r, *_ in RETRY_AFTER_MATRIX],
)
async def test_a_rate_limited_read_waits_retry_after_up_to_the_cap(
    retry_after: str, waits: list[float], requests: int, delays: list[float]
) -> None:
    upstream = Upstream(rate_limited(retry_after))
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await edge(upstream, max_retry_after_s=5.0, backoff_max_s=0.01).request("GET", "/orders")
    assert delays == waits
    assert len(upstream.requests) == requests
    assert caught.value.retry_after == float(retry_after)
    assert caught.value.status == 429
    assert caught.value.message == "WEBSHOP: GET /orders: rate limited"


async def test_a_rate_limited_read_succeeds_after_waiting(delays: list[float]) -> None:
    upstream = Upstream(rate_limited("2"), httpx.Response(200))
    response = await edge(upstream, max_retry_after_s=5.0).request("GET", "/orders")
    assert response is not None and response.status_code == 200
    assert delays == [2.0]


async def test_a_long_retry_after_on_a_later_attempt_still_fails_at_once(
    delays: list[float],
) -> None:
    upstream = Upstream(httpx.Response(503), rate_limited("30"), httpx.Response(200))
    with pytest.raises(UpstreamRateLimitedError):
        await edge(upstream, retries=5, backoff_base_s=0.1).request("GET", "/orders")
    assert len(upstream.requests) == 2
    assert delays == [0.1]


class FrozenClock(datetime):
    """2026-10-21 07:28:00 UTC; like ``datetime.now``, naive unless asked for a zone."""

    @classmethod
    def now(cls, tz: Any = None) -> FrozenClock:
        frozen = cls(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
        return frozen.astimezone(tz) if tz is not None else frozen.replace(tzinfo=None)


# Retry-After header -> seconds to wait; the clock is frozen at 2026-10-21 07:28:00 UTC.
RETRY_AFTER_HEADER_MATRIX = [
    (None, None),
    ("0", 0.0),
    ("7", 7.0),
    ("0.5", 0.5),
    ("2.25", 2.25),
    ("-3", 0.0),
    ("-0.5", 0.0),
    ("Wed, 21 Oct 2026 07:29:30 GMT", 90.0),
    ("Wed, 21 Oct 2026 07:28:00 GMT", 0.0),
    ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),  # in the past: no wait
    ("Wed, 21 Oct 2026 07:28:00 -0000", None),  # no zone: cannot be placed in time
    ("soon", None),
    ("", None),
]


@pytest.mark.parametrize(
    ("header", "seconds"),
    RETRY_AFTER_HEADER_MATRIX,
    ids=[repr(h) for h, _ in RETRY_AFTER_HEADER_MATRIX],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "datetime", FrozenClock)
    headers = {} if header is None else {"Retry-After": header}
    assert retry_after_seconds(httpx.Response(429, headers=headers)) == seconds


# --- the upstream's own words ---------------------------------------------------------------

LONG = "x" * 400

# body (JSON unless bytes) -> the message taken from it; reason phrase of a 400 is "Bad Request".
MESSAGE_MATRIX: list[tuple[str, object, str]] = [
    ("message", {"message": "m1"}, "m1"),
    ("Message", {"Message": "m2"}, "m2"),
    ("detail", {"detail": "m3"}, "m3"),
    ("error_description", {"error_description": "m4"}, "m4"),
    ("error", {"error": "m5"}, "m5"),
    ("title", {"title": "m6"}, "m6"),
    ("message-before-error", {"error": "e", "message": "m"}, "m"),
    ("Message-before-detail", {"detail": "d", "Message": "M"}, "M"),
    ("detail-before-error_description", {"error_description": "x", "detail": "d"}, "d"),
    ("error_description-before-error", {"error": "e", "error_description": "ed"}, "ed"),
    ("error-before-title", {"title": "t", "error": "e"}, "e"),
    ("non-string-skipped", {"message": 5, "detail": {"a": 1}, "title": "t"}, "t"),
    ("empty-string-kept", {"message": ""}, ""),
    ("no-known-key", {"code": 7}, '{"code": 7}'),
    ("list", [1, 2], "[1, 2]"),
    ("string", "just this", '"just this"'),
    ("long-json-cut", [LONG], json.dumps([LONG])[:300]),
    ("text", b"Bad gateway", "Bad gateway"),
    ("long-text-cut", LONG.encode(), "x" * 300),
    ("empty-body", b"", "Bad Request"),
]


@pytest.mark.parametrize(
    ("body", "message"), [row[1:] for row in MESSAGE_MATRIX], ids=[row[0] for row in MESSAGE_MATRIX]
)
def test_the_upstreams_message_is_found_in_its_error_body(body: object, message: str) -> None:
    if isinstance(body, bytes):
        response = httpx.Response(400, content=body)
    else:
        response = httpx.Response(400, json=body)
    assert upstream_message(response) == message


def test_long_messages_are_cut_to_300_characters() -> None:
    assert len(upstream_message(httpx.Response(400, json=[LONG]))) == 300
    assert len(upstream_message(httpx.Response(400, content=LONG.encode()))) == 300


# --- parse ----------------------------------------------------------------------------------


class Money(pydantic.BaseModel):
    amount: Decimal
    currency: str


def answered(content: bytes) -> httpx.Response:
    return httpx.Response(200, content=content, request=httpx.Request("GET", f"{BASE_URL}/o/1"))


@pytest.mark.parametrize(
    "model", [Money, pydantic.TypeAdapter(Money)], ids=["model", "type-adapter"]
)
@pytest.mark.parametrize(
    ("content", "amount"),
    [
        (b'{"amount": 12345678901234567.89, "currency": "EUR"}', Decimal("12345678901234567.89")),
        (b'{"amount": 0.1, "currency": "EUR"}', Decimal("0.1")),
        (b'{"amount": 19.990, "currency": "EUR"}', Decimal("19.990")),
        (b'{"amount": "4.72", "currency": "EUR"}', Decimal("4.72")),
    ],
    ids=["many-digits", "tenth", "trailing-zero", "string"],
)
def test_parsed_money_keeps_every_digit(content: bytes, amount: Decimal, model: Any) -> None:
    parsed = edge(Upstream()).parse(answered(content), model)
    assert parsed == Money(amount=amount, currency="EUR")
    assert str(parsed.amount) == str(amount)


def test_a_list_type_is_parsed_too() -> None:
    parsed = edge(Upstream()).parse(answered(b"[1, 2]"), list[int])
    assert parsed == [1, 2]


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"<html>oops</html>", ValueError),
        (b"", ValueError),
        (b'{"amount": "lots", "currency": "EUR"}', pydantic.ValidationError),
        (b'{"currency": "EUR"}', pydantic.ValidationError),
        (b"[]", pydantic.ValidationError),
    ],
    ids=["html", "empty", "bad-amount", "missing-field", "wrong-shape"],
)
def test_a_malformed_answer_is_upstream_malformed(content: bytes, cause: type[Exception]) -> None:
    with pytest.raises(UpstreamMalformedError) as caught:
        edge(Upstream()).parse(answered(content), Money)
    assert caught.value.message == "WEBSHOP: GET /o/1: the answer is not valid for this API"
    assert isinstance(caught.value.__cause__, cause)
    assert caught.value.source is OrderSource.WEBSHOP


# --- the client -----------------------------------------------------------------------------


def test_each_backends_client_has_its_address_timeouts_and_connection_limit() -> None:
    # More than httpx's default of 20 kept-alive connections: every one may be kept alive.
    config = BackendSettings(
        base_url=BASE_URL, timeout_s=3.5, connect_timeout_s=0.75, max_connections=30
    )
    auth = httpx.BasicAuth("user", "pw")
    client = http.build_client(
        config, source=OrderSource.AFFILIATE, headers={"X-Api-Key": "k"}, auth=auth
    )
    assert client.base_url == httpx.URL(BASE_URL)
    assert client.timeout == httpx.Timeout(3.5, connect=0.75)
    assert client.headers["X-Api-Key"] == "k"
    assert client.auth is auth
    observed = client._transport  # every exchange observed (backends/calls.py)
    assert isinstance(observed, ObservedTransport) and observed.backend == "AFFILIATE"
    transport = observed.inner
    assert isinstance(transport, Http11Transport)
    assert transport.max_connections == 30


async def test_a_given_transport_is_the_one_used() -> None:
    upstream = Upstream(httpx.Response(200, json={"ok": True}))
    client = http.build_client(
        BackendSettings(base_url=BASE_URL),
        source=OrderSource.AFFILIATE,
        transport=httpx.MockTransport(upstream),
    )
    async with client:
        response = await client.get("/ping")
    assert response.json() == {"ok": True}
    assert upstream.requests[0].url == httpx.URL(f"{BASE_URL}/ping")


async def test_the_upstream_client_keeps_no_cookies() -> None:
    """Upstreams authenticate with keys and tokens; a Set-Cookie is neither kept nor sent."""
    seen: list[str | None] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, json={})

    config = BackendSettings(base_url="http://upstream.test")
    async with http.build_client(
        config, source=OrderSource.AFFILIATE, transport=httpx.MockTransport(upstream)
    ) as client:
        await client.get("/orders")
        await client.get("/orders")
        assert len(client.cookies) == 0
    assert seen == [None, None]
