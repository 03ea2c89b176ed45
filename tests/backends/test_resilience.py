"""The circuit breaker, the 429 pause, the retry budget and the request deadline, first as
rules on a fake clock, then at the HTTP edge of one backend."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from backends import deadline
from backends import http as http_module
from backends.batching import gather_bounded
from backends.config import BackendSettings
from backends.http import UpstreamHttp
from backends.resilience import BreakerState, CircuitBreaker, Pacing, Pause, RetryBudget, Ticket
from domain.errors import (
    UpstreamCircuitOpenError,
    UpstreamRateLimitedError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from domain.models import OrderSource

W = OrderSource.WEBSHOP
BASE_URL = "http://upstream.test"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- the breaker, step by step ---------------------------------------------------------------


def breaker(clock: Clock, failures: int = 3, cooldown_s: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker(W, failures=failures, cooldown_s=cooldown_s, clock=clock)


def test_the_breaker_opens_after_its_consecutive_failures_only() -> None:
    clock = Clock()
    b = breaker(clock)
    b.failed()
    b.failed()
    assert b.state is BreakerState.CLOSED and b.allow()
    b.succeeded()  # an answer in between: the count starts again
    b.failed()
    b.failed()
    assert b.state is BreakerState.CLOSED
    b.failed()
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    assert b.retry_in() == 10.0


def test_after_the_cooldown_one_probe_at_a_time_goes() -> None:
    clock = Clock()
    b = breaker(clock, failures=1)
    b.failed()
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN
    probe = b.allow()
    assert probe is Ticket.PROBE
    assert b.allow() is None  # a second request while the probe is out
    b.released(Ticket.REGULAR)  # a request sent while closed ends: the probe stays out
    assert b.allow() is None
    b.released(probe)  # the probe was cancelled: another may go
    assert b.allow() is Ticket.PROBE


@pytest.mark.parametrize("probe_succeeds", [True, False], ids=["closes", "reopens"])
def test_the_probe_decides(probe_succeeds: bool) -> None:
    clock = Clock()
    b = breaker(clock, failures=2)
    b.failed()
    b.failed()
    clock.now += 10
    assert b.allow()
    if probe_succeeds:
        b.succeeded()
        assert b.state is BreakerState.CLOSED
        b.failed()  # one failure after closing is not enough to open again
        assert b.state is BreakerState.CLOSED
    else:
        b.failed()
        assert b.state is BreakerState.OPEN
        assert b.retry_in() == 10.0  # a full cool-down from the failed probe


# --- the retry budget ------------------------------------------------------------------------


def test_the_retry_budget_starts_full_and_refills_by_requests_and_time() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.2, minimum_per_s=0.5, cap=2, clock=clock)
    assert budget.take() and budget.take()
    assert not budget.take()
    for _ in range(5):  # 5 first attempts earn one retry
        budget.sent()
    assert budget.take()
    assert not budget.take()
    clock.now += 2  # 0.5 per second
    assert budget.take()
    assert not budget.take()
    clock.now += 1_000  # never more than the cap
    assert budget.take() and budget.take()
    assert not budget.take()


def test_pacing_keeps_the_rate_taken_before_the_429_then_recovers() -> None:
    clock = Clock()
    pacing = Pacing(recover_s=10, clock=clock)
    assert pacing.slot(max_wait=0) == 0.0  # no 429 yet: no pace
    for _ in range(6):
        pacing.sent()
    pacing.limited()  # six went in the last second, the sixth was refused: five per second
    assert pacing.rate == 5
    waits = [pacing.slot(max_wait=10) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert pacing.slot(max_wait=0.5) is None  # too far off: refused, and no slot taken
    assert pacing.slot(max_wait=10) == pytest.approx(1.0)
    clock.now += 10
    pacing.slot(max_wait=10)
    assert pacing.rate == 6  # ten quiet seconds: one more per second
    clock.now += 60
    assert pacing.slot(max_wait=0) == 0.0 and pacing.rate is None  # a long quiet: unpaced


def test_a_pause_only_grows() -> None:
    clock = Clock()
    pause = Pause(clock=clock)
    pause.extend(5)
    pause.extend(1)
    assert pause.remaining() == 5
    clock.now += 5
    assert pause.remaining() == 0


# --- at the HTTP edge ------------------------------------------------------------------------


class Upstream:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[min(len(self.requests), len(self.answers)) - 1]


def edge(upstream: Any, clock: Clock | None = None, **config: Any) -> UpstreamHttp:
    settings = BackendSettings(base_url=BASE_URL, **{"retries": 0, **config})
    client = httpx.AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(upstream))
    http = UpstreamHttp(W, client, settings)
    if clock is not None:
        http.breaker.clock = http.pause.clock = http.retry_budget.clock = clock
        http.pacing.clock = clock
    return http


async def test_an_open_breaker_sends_nothing_until_its_probe() -> None:
    clock = Clock()
    upstream = Upstream(httpx.Response(503))
    http = edge(upstream, clock, breaker_failures=3, breaker_cooldown_s=10)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailableError):
            await http.get("/orders")
    for _ in range(10):
        with pytest.raises(UpstreamCircuitOpenError) as caught:
            await http.get("/orders")
    assert len(upstream.requests) == 3
    assert caught.value.retry_in == 10.0
    assert caught.value.extensions["code"] == "UPSTREAM_UNAVAILABLE"
    upstream.answers = [httpx.Response(200)]
    clock.now += 10
    assert await http.get("/orders") is not None  # the probe, answered: closed again
    assert await http.get("/orders") is not None
    assert len(upstream.requests) == 5


@pytest.mark.parametrize(
    ("answer", "error", "opens"),
    [
        (httpx.Response(500), UpstreamUnavailableError, True),
        (httpx.Response(401), UpstreamUnavailableError, True),
        (httpx.Response(409), UpstreamRejectedError, False),
        (httpx.Response(403), UpstreamRejectedError, False),
    ],
    ids=["5xx-fails", "401-fails", "409-answers", "403-answers"],
)
async def test_what_counts_as_a_failure(
    answer: httpx.Response, error: type[Exception], opens: bool
) -> None:
    http = edge(Upstream(answer), breaker_failures=2)
    for _ in range(2):
        with pytest.raises(error):
            await http.request("POST", "/orders")
    assert (http.breaker.state is BreakerState.OPEN) is opens


async def test_garbage_counts_as_a_failure_once_per_answer() -> None:
    garbage = [httpx.Response(200, content=b"{not json") for _ in range(2)]
    http = edge(Upstream(*garbage), breaker_failures=2)
    response = await http.get("/orders")
    assert response is not None
    for _ in range(3):  # several callers parsing the one shared answer
        with pytest.raises(UpstreamUnavailableError):
            http.parse(response, dict)
    assert http.breaker.state is BreakerState.CLOSED  # one failure so far
    second = await http.get("/orders/2")
    assert second is not None
    with pytest.raises(UpstreamUnavailableError):
        http.parse(second, dict)
    assert http.breaker.state is BreakerState.OPEN  # two garbage answers in a row


async def test_an_open_breaker_refuses_at_once_even_while_paced() -> None:
    clock = Clock()
    upstream = Upstream(httpx.Response(503))
    http = edge(upstream, clock, breaker_failures=1)
    http.pacing.rate = 0.01
    http.pacing.limited()  # a 429 just now: one request per 100 s, a paced request would wait
    with pytest.raises(UpstreamUnavailableError):
        await http.get("/orders")
    with pytest.raises(UpstreamCircuitOpenError):
        await asyncio.wait_for(http.get("/orders/2"), timeout=5)  # a net, not a timing
    assert len(upstream.requests) == 1


async def test_a_retry_keeps_the_pace_of_a_rate_limited_backend() -> None:
    """A retry takes a paced slot like a first attempt: one that cannot have it in time is
    not sent (before, retries went out unpaced and overshot a 429 limit)."""
    upstream = Upstream(httpx.Response(503), httpx.Response(200))
    clock = Clock()
    http = edge(
        upstream, clock, retries=1, backoff_base_s=0, backoff_max_s=0, max_retry_after_s=0.5
    )
    http.pacing.sent()
    http.pacing.limited()  # a 429 just now, after one request: one per second from here
    with pytest.raises(UpstreamRateLimitedError, match="paced"):
        await asyncio.wait_for(http.get("/orders"), timeout=5)  # a net, not a timing
    assert len(upstream.requests) == 1  # the first attempt had the slot; the retry's is 1 s off


async def test_retries_stop_when_the_budget_is_spent() -> None:
    upstream = Upstream(httpx.Response(503))
    http = edge(upstream, retries=2, backoff_base_s=0, backoff_max_s=0)
    http.retry_budget = RetryBudget(ratio=0, minimum_per_s=0, cap=1)
    with pytest.raises(UpstreamUnavailableError):
        await http.get("/orders")
    assert len(upstream.requests) == 2  # the first attempt and the one retry the budget had
    with pytest.raises(UpstreamUnavailableError):
        await http.get("/orders/2")
    assert len(upstream.requests) == 3  # no retry left


async def test_a_429_pauses_the_backend_for_the_next_request() -> None:
    upstream = Upstream(httpx.Response(429, headers={"Retry-After": "0.2"}), httpx.Response(200))
    http = edge(upstream)
    with pytest.raises(UpstreamRateLimitedError):
        await http.get("/orders/1")
    assert http.pause.remaining() > 0
    sent_after_pause = asyncio.ensure_future(http.get("/orders/2"))
    for _ in range(20):  # the read has every chance to run, but waits for the pause
        await asyncio.sleep(0)
    assert len(upstream.requests) == 1
    assert (await sent_after_pause) is not None
    assert len(upstream.requests) == 2


async def test_a_pause_longer_than_the_request_may_wait_fails_without_a_request() -> None:
    upstream = Upstream(httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(200))
    http = edge(upstream, max_retry_after_s=5)
    with pytest.raises(UpstreamRateLimitedError):
        await http.get("/orders/1")
    with pytest.raises(UpstreamRateLimitedError, match="paused"):
        await http.get("/orders/2")
    assert len(upstream.requests) == 1


class Hanging:
    def __init__(self) -> None:
        self.requests = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def test_a_shared_read_given_up_at_its_waiters_deadline_counts_as_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read runs under no caller's deadline (single flight): when its last waiter's deadline
    ends it, unanswered after a fair wait, the breaker counts it (else a backend that hangs
    longer than the deadline but shorter than the timeout would never open it)."""
    monkeypatch.setattr(http_module, "FAIR_WAIT_S", 0.05)
    upstream = Hanging()
    http = edge(upstream, timeout_s=3600, breaker_failures=2)
    for n in range(2):
        with deadline.within(0.2), pytest.raises(UpstreamTimeoutError):
            await http.get(f"/orders/{n}")
        await asyncio.sleep(0)  # the abandoned read's cancellation lands
    assert http.breaker.state is BreakerState.OPEN
    with pytest.raises(UpstreamCircuitOpenError):
        await http.get("/orders/3")
    assert upstream.requests == 2


class Slow:
    """A healthy upstream that answers every request after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.seconds)
        return httpx.Response(200, json={})


async def test_reads_a_batch_gives_up_after_another_failed_do_not_count_against_the_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled by the caller (here: a batch cancels its other reads when one is refused),
    not by a deadline: a healthy backend slower than the fair wait keeps its breaker closed."""
    monkeypatch.setattr(http_module, "FAIR_WAIT_S", 0.05)
    http = edge(Slow(0.2), timeout_s=5, breaker_failures=2)

    async def read(key: str) -> Any:
        if key == "bad":
            await asyncio.sleep(0.1)
            raise UpstreamRejectedError(OrderSource.WEBSHOP, "refused", status=400)
        return await http.get(f"/orders/{key}")

    with pytest.raises(UpstreamRejectedError):
        await gather_bounded(["1", "2", "3", "bad"], read, concurrency=10)
    await asyncio.sleep(0.01)  # the cancelled reads land
    assert http.breaker.state is BreakerState.CLOSED


async def test_a_shared_read_whose_waiter_went_away_does_not_count_against_the_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_module, "FAIR_WAIT_S", 0.05)
    http = edge(Slow(0.3), timeout_s=5, breaker_failures=1)
    waiter = asyncio.ensure_future(http.get("/orders/1"))
    await asyncio.sleep(0.1)
    waiter.cancel()  # its client disconnected
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0.01)
    assert http.breaker.state is BreakerState.CLOSED


async def test_an_attempt_ends_at_the_requests_deadline() -> None:
    upstream = Hanging()
    http = edge(upstream, timeout_s=3600, retries=3, backoff_base_s=10)
    with deadline.within(0.05), pytest.raises(UpstreamTimeoutError):
        await http.get("/orders")
    # The backoff (up to 10 s) does not fit in what is left: no retry.
    assert upstream.requests == 1


async def test_a_passed_deadline_sends_nothing() -> None:
    upstream = Upstream(httpx.Response(200))
    http = edge(upstream)
    with deadline.within(0):
        with pytest.raises(UpstreamTimeoutError, match="deadline"):
            await http.get("/orders")
    assert upstream.requests == []


def test_a_nested_deadline_never_extends_the_outer_one() -> None:
    with deadline.within(1):
        with deadline.within(100):
            assert deadline.remaining() <= 1
    assert deadline.remaining() == float("inf")
