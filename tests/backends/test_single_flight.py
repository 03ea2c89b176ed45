"""Identical reads in flight at once go upstream once; nothing is kept after they land."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from backends import deadline
from backends.config import BackendSettings
from backends.http import UpstreamHttp
from backends.single_flight import SingleFlight
from domain.errors import UpstreamTimeoutError, UpstreamUnavailableError
from domain.models import OrderSource

BASE_URL = "http://upstream.test"


class HeldUpstream:
    """An upstream that answers only when the test lets it (``release``), logging each
    request it got and each one that was cancelled before its answer."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.cancelled: list[httpx.Request] = []
        self.gate = asyncio.Event()
        self.status = 200

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(request)
            raise
        return httpx.Response(self.status, json={"path": request.url.path})

    def release(self) -> None:
        self.gate.set()


def edge(upstream: HeldUpstream) -> UpstreamHttp:
    settings = BackendSettings(base_url=BASE_URL, retries=0)
    client = httpx.AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(upstream))
    return UpstreamHttp(OrderSource.WEBSHOP, client, settings)


async def started(upstream: HeldUpstream, count: int) -> None:
    """Let the event loop run until ``count`` requests reached the upstream."""
    for _ in range(1_000):
        if len(upstream.requests) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{count} requests expected, {len(upstream.requests)} arrived")


async def test_the_same_read_asked_at_once_is_sent_once_and_answers_everyone() -> None:
    upstream = HeldUpstream()
    client = edge(upstream)
    reads = [asyncio.ensure_future(client.get("/orders/7", params={"x": 1})) for _ in range(5)]
    await started(upstream, 1)
    upstream.release()
    answers = await asyncio.gather(*reads)
    assert len(upstream.requests) == 1
    assert {answer.json()["path"] for answer in answers if answer is not None} == {"/orders/7"}
    assert len(client.reads) == 0  # landed: nothing is kept


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("/orders/7", {}, {}), ("/orders/8", {}, {})),
        (("/orders", {"page": 1}, {}), ("/orders", {"page": 2}, {})),
        (("/orders", {"ids": ["1", "2"]}, {}), ("/orders", {"ids": ["2", "1"]}, {})),
        (("/orders", {}, {"Accept": "application/xml"}), ("/orders", {}, {})),
    ],
    ids=["path", "params", "list-params-order", "headers"],
)
async def test_reads_that_differ_in_anything_are_each_sent(
    one: tuple[str, dict, dict], other: tuple[str, dict, dict]
) -> None:
    upstream = HeldUpstream()
    client = edge(upstream)
    reads = [
        asyncio.ensure_future(client.get(path, params=params, headers=headers))
        for path, params, headers in (one, other)
    ]
    await started(upstream, 2)
    upstream.release()
    await asyncio.gather(*reads)
    assert len(upstream.requests) == 2


async def test_a_read_after_the_last_one_landed_is_sent_again() -> None:
    upstream = HeldUpstream()
    upstream.release()
    client = edge(upstream)
    await client.get("/orders/7")
    await client.get("/orders/7")
    assert len(upstream.requests) == 2


async def test_writes_are_never_collapsed() -> None:
    upstream = HeldUpstream()
    client = edge(upstream)
    writes = [
        asyncio.ensure_future(client.request("POST", "/orders/7/cancel", json={})) for _ in range(2)
    ]
    await started(upstream, 2)
    upstream.release()
    await asyncio.gather(*writes)
    assert len(upstream.requests) == 2


async def test_a_failure_reaches_every_waiter() -> None:
    upstream = HeldUpstream()
    upstream.status = 503
    client = edge(upstream)
    reads = [asyncio.ensure_future(client.get("/orders/7")) for _ in range(3)]
    await started(upstream, 1)
    upstream.release()
    outcomes = await asyncio.gather(*reads, return_exceptions=True)
    assert all(isinstance(outcome, UpstreamUnavailableError) for outcome in outcomes)
    assert len(upstream.requests) == 1


async def test_a_waiter_that_leaves_does_not_cancel_the_read_for_the_others() -> None:
    upstream = HeldUpstream()
    client = edge(upstream)
    leaving = asyncio.ensure_future(client.get("/orders/7"))
    staying = asyncio.ensure_future(client.get("/orders/7"))
    await started(upstream, 1)
    leaving.cancel()
    await asyncio.sleep(0)
    upstream.release()
    answer = await staying
    assert answer is not None and answer.status_code == 200
    assert leaving.cancelled()
    assert upstream.cancelled == []


async def test_when_every_waiter_leaves_the_read_is_cancelled_upstream() -> None:
    upstream = HeldUpstream()
    client = edge(upstream)
    reads = [asyncio.ensure_future(client.get("/orders/7")) for _ in range(2)]
    await started(upstream, 1)
    for read in reads:
        read.cancel()
    await asyncio.gather(*reads, return_exceptions=True)
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(upstream.cancelled) == 1
    assert len(client.reads) == 0


async def test_a_flight_is_keyed_by_exactly_its_key() -> None:
    flights = SingleFlight()
    calls: list[str] = []
    gate = asyncio.Event()

    async def start(name: str) -> str:
        calls.append(name)
        await gate.wait()
        return name

    runs = [
        asyncio.ensure_future(flights.run(key, lambda key=key: start(key)))
        for key in ["a", "a", "b", "a"]
    ]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*runs) == ["a", "a", "b", "a"]
    assert calls == ["a", "b"]


async def test_each_waiter_keeps_its_own_deadline() -> None:
    upstream = HeldUpstream()
    client = edge(upstream)
    with deadline.within(0.05):  # the first caller has almost no time
        hurried = asyncio.ensure_future(client.get("/orders/7"))
    patient = asyncio.ensure_future(client.get("/orders/7"))  # no deadline
    await started(upstream, 1)
    with pytest.raises(UpstreamTimeoutError, match="deadline"):
        await hurried
    upstream.release()  # the read itself outlived the first caller's deadline
    answer = await patient
    assert answer is not None and answer.status_code == 200
    assert len(upstream.requests) == 1


async def test_a_caller_arriving_as_the_last_waiter_leaves_starts_a_new_read() -> None:
    upstream = HeldUpstream()
    client = edge(upstream)
    leaving = asyncio.ensure_future(client.get("/orders/7"))
    await started(upstream, 1)
    leaving.cancel()
    await asyncio.sleep(0)  # the flight is being cancelled, not landed yet
    upstream.release()
    answer = await client.get("/orders/7")  # not a stray CancelledError
    assert answer is not None and answer.status_code == 200
    assert len(upstream.requests) == 2
