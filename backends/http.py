"""One HTTP edge for every adapter: timeouts, retries with backoff, and error mapping.

The status-to-action policy lives in ``STATUS_POLICY``; everything an upstream can do
wrong leaves this module as a ``domain.errors.BackendError`` subclass.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import math
import random
import time
from asyncio import CancelledError
from asyncio import timeout as asyncio_timeout
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast
from xml.etree import ElementTree

import httpx
import pydantic

from backends import deadline, single_flight
from backends.calls import ObservedTransport, RouteTemplates
from backends.config import BackendSettings
from backends.resilience import (
    BreakerState,
    CircuitBreaker,
    Pacing,
    Pause,
    RetryBudget,
    Ticket,
)
from backends.single_flight import SingleFlight
from backends.transport import Http11Transport
from domain.errors import (
    BackendError,
    UpstreamCircuitOpenError,
    UpstreamForbiddenError,
    UpstreamMalformedError,
    UpstreamRateLimitedError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from domain.models import OrderSource
from telemetry import metrics

T = TypeVar("T")


class Action(enum.Enum):
    OK = "ok"
    RETRY = "retry"  # transient: the same request may succeed later
    RATE_LIMITED = "rate_limited"  # transient, wait for Retry-After
    NOT_FOUND = "not_found"  # the caller decides (an unknown id is not a failure)
    # Credentials refused after a fresh token: a configuration to fix, not a refusal of the
    # request itself, so queued writes wait for it instead of being rejected for good.
    AUTH = "auth"
    # The upstream knows the caller and will not let it do this: a refusal, not an outage.
    FORBIDDEN = "forbidden"
    REJECT = "reject"  # the upstream refused the request; retrying will not help


# status -> action; the first matching range wins.
STATUS_POLICY: list[tuple[range, Action]] = [
    (range(200, 300), Action.OK),
    (range(401, 402), Action.AUTH),
    (range(403, 404), Action.FORBIDDEN),
    (range(404, 405), Action.NOT_FOUND),
    (range(408, 409), Action.RETRY),
    (range(429, 430), Action.RATE_LIMITED),
    (range(400, 500), Action.REJECT),
    (range(500, 600), Action.RETRY),
]


def action_for(status: int) -> Action:
    for statuses, action in STATUS_POLICY:
        if status in statuses:
            return action
    return Action.RETRY


# An attempt cut by its caller's deadline counts against the backend only if it had this long.
FAIR_WAIT_S = 1.0
GARBAGE_COUNTED = "ordergate.garbage_counted"  # a response the breaker already counted


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: the upstream APIs authenticate with keys and tokens, and
    filling a cookie jar from every answer cost ~5 % of an ``order(id)``'s CPU."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class UpstreamClient(httpx.AsyncClient):
    """httpx's client with a jar that keeps nothing (``_NoCookies``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Cookies are not kept (see ``_NoCookies``)."""


def build_client(
    config: BackendSettings,
    *,
    source: OrderSource,
    routes: Iterable[str] = (),
    auth: httpx.Auth | None = None,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` of a backend, with explicit timeouts and limits; each
    exchange observed (``backends.calls``) under ``routes``, the backend's parameterised
    route templates."""
    limits = httpx.Limits(
        max_connections=config.max_connections,
        max_keepalive_connections=config.max_connections,
    )
    return UpstreamClient(
        base_url=config.base_url,
        auth=auth,
        headers=headers,
        transport=ObservedTransport(
            transport or Http11Transport(max_connections=config.max_connections),
            source.value,
            RouteTemplates(routes),
        ),
        timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
        limits=limits,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def upstream_message(response: httpx.Response) -> str:
    """The upstream's own words for a refusal, whatever shape its error body has."""
    if "xml" in response.headers.get("content-type", ""):
        return _xml_message(response.content)[:300] or response.reason_phrase
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "Message", "detail", "error_description", "error", "title"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return json.dumps(body)[:300]


def _xml_message(content: bytes) -> str:
    """The texts of an XML error body's elements (``<Errors><Error field="x">...``)."""
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError:
        return content.decode("utf-8", "replace")
    parts = []
    for element in root.iter():
        text = (element.text or "").strip()
        if text:
            field = element.get("field")
            parts.append(f"{field}: {text}" if field else text)
    return "; ".join(parts)


@functools.cache
def _type_adapter(model: Any) -> pydantic.TypeAdapter[Any]:
    """One (costly to build) validator per wire model, built on first use."""
    return pydantic.TypeAdapter(model)


class UpstreamHttp:
    """Sends requests to one upstream and maps every failure into the error tree."""

    def __init__(
        self, source: OrderSource, client: httpx.AsyncClient, config: BackendSettings
    ) -> None:
        self.source = source
        self.client = client
        self.config = config
        self.reads = SingleFlight()  # identical GETs in flight at once are sent once
        self.breaker = CircuitBreaker(
            source, failures=config.breaker_failures, cooldown_s=config.breaker_cooldown_s
        )
        self.pause = Pause()
        self.pacing = Pacing()
        self.retry_budget = RetryBudget(ratio=config.retry_budget_ratio)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        allow_not_found: bool = False,
    ) -> httpx.Response | None:
        """Send one request; ``None`` for a 404 when ``allow_not_found``.

        Idempotent requests (GET by default) are retried on transient failures with
        exponential backoff and full jitter, honouring ``Retry-After`` on 429.
        """
        if idempotent is None:
            idempotent = method.upper() in {"GET", "HEAD"}
        attempts = 1 + (self.config.retries if idempotent else 0)
        last_error: BackendError | None = None
        for attempt in range(attempts):
            self._refuse_if_open(method, url)  # at once: nothing waited for, nothing spent
            if attempt:
                assert last_error is not None
                # A retry waits its backoff or Retry-After, and the backend's pause if longer.
                delay = max(self._delay(attempt, last_error), self.pause.remaining())
                if delay >= deadline.remaining() or not self.retry_budget.take():
                    raise last_error  # no time, or this backend's retries are spent
                metrics.UPSTREAM_RETRIES.labels(self.source.value).inc()
                await asyncio.sleep(delay)
            else:
                self.retry_budget.sent()
                await self._wait_for_pause(method, url)
            await self._keep_pace(method, url)  # a retry keeps the pace too
            ticket = self.breaker.allow()
            if ticket is None:  # opened, or another probe went, while this one waited
                self._refuse_if_open(method, url, now=True)
            assert ticket is not None
            try:
                outcome = await self._send(
                    method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    headers=headers,
                    allow_not_found=allow_not_found,
                    ticket=ticket,
                )
            except BaseException:
                self.breaker.released(ticket)
                raise
            if not isinstance(outcome, BackendError):
                return outcome
            last_error = outcome
        assert last_error is not None
        raise last_error

    def _refuse_if_open(self, method: str, url: str, *, now: bool = False) -> None:
        """``UpstreamCircuitOpenError`` while the breaker is open (``now``: refused anyway)."""
        if now or self.breaker.state is BreakerState.OPEN:
            retry_in = max(self.breaker.retry_in(), 1.0)  # half-open: after the probe
            raise UpstreamCircuitOpenError(
                self.source,
                f"{method} {url}: not sent, the backend failed too often (circuit open; "
                f"next try in {retry_in:.0f} s)",
                retry_in=retry_in,
            )

    async def _keep_pace(self, method: str, url: str) -> None:
        """After a 429, requests go no faster than the backend took them."""
        wait = self.pacing.slot(min(self.config.max_retry_after_s, deadline.remaining()))
        if wait is None:
            raise UpstreamRateLimitedError(
                self.source, f"{method} {url}: rate limited (paced)", retry_after=None
            )
        if wait:
            await asyncio.sleep(wait)

    async def _wait_for_pause(self, method: str, url: str) -> None:
        """A 429 paused the backend: wait it out if the request's time allows, else fail."""
        paused = self.pause.remaining()
        if not paused:
            return
        if paused > min(self.config.max_retry_after_s, deadline.remaining()):
            raise UpstreamRateLimitedError(
                self.source,
                f"{method} {url}: rate limited (paused {paused:.1f} s)",
                retry_after=paused,
            )
        await asyncio.sleep(paused)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        allow_not_found: bool,
        ticket: Ticket,
    ) -> httpx.Response | BackendError | None:
        """One attempt, within the request's deadline. A failure worth retrying is returned
        (the breaker counts it); a refusal is raised; an answer is returned."""
        left = deadline.remaining()
        if not left:
            raise UpstreamTimeoutError(
                self.source, f"{method} {url}: the request's deadline passed"
            )
        self.pacing.sent()
        sent_at = time.monotonic()
        try:
            async with asyncio_timeout(left if math.isfinite(left) else None):
                response = await self.client.request(
                    method, url, params=params, json=json, content=content, headers=headers
                )
        except CancelledError:
            # A shared read given up because its last waiter's deadline passed: after a fair
            # wait, that is the backend's slowness, like a timeout. Any other cancellation (a
            # client gone, a batch given up after another read failed) says nothing of it.
            if single_flight.given_up_for_time() and time.monotonic() - sent_at >= FAIR_WAIT_S:
                self.breaker.failed()
            raise
        except (httpx.TimeoutException, TimeoutError) as exc:
            if isinstance(exc, httpx.TimeoutException) or left >= FAIR_WAIT_S:
                self.breaker.failed()
            else:  # the caller had almost no time left: not the backend's fault
                self.breaker.released(ticket)
            error: BackendError = UpstreamTimeoutError(self.source, f"{method} {url} timed out")
            error.__cause__ = exc
            return error
        except httpx.RequestError as exc:  # transport, decoding, redirects
            self.breaker.failed()
            error = UpstreamUnavailableError(
                self.source, f"{method} {url} failed: {type(exc).__name__}"
            )
            error.__cause__ = exc
            return error
        action = action_for(response.status_code)
        if action in (Action.RETRY, Action.AUTH):
            self.breaker.failed()
        else:
            self.breaker.succeeded()  # it answered, even if to refuse
        if action is Action.OK:
            return response
        if action is Action.NOT_FOUND:
            if allow_not_found:
                return None
            raise UpstreamRejectedError(
                self.source, f"{method} {url}: not found", status=response.status_code
            )
        if action is Action.AUTH:
            raise UpstreamUnavailableError(
                self.source,
                f"{method} {url}: credentials refused ({response.status_code}): "
                f"{upstream_message(response)}",
                status=response.status_code,
            )
        if action is Action.FORBIDDEN:
            raise UpstreamForbiddenError(
                self.source, upstream_message(response), status=response.status_code
            )
        if action is Action.REJECT:
            raise UpstreamRejectedError(
                self.source, upstream_message(response), status=response.status_code
            )
        if action is Action.RATE_LIMITED:
            retry_after = retry_after_seconds(response)
            self.pacing.limited()
            if retry_after is not None:
                self.pause.extend(retry_after)  # the whole backend waits, not this request
            return UpstreamRateLimitedError(
                self.source, f"{method} {url}: rate limited", retry_after=retry_after
            )
        return UpstreamUnavailableError(
            self.source,
            f"{method} {url} answered {response.status_code}",
            status=response.status_code,
        )

    def _delay(self, attempt: int, error: BackendError | None) -> float:
        if isinstance(error, UpstreamRateLimitedError) and error.retry_after is not None:
            if error.retry_after > self.config.max_retry_after_s:
                raise error
            return error.retry_after
        ceiling = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        allow_not_found: bool = False,
    ) -> httpx.Response | None:
        """A retried read; the same read already in flight is joined, not sent again."""
        key = (
            url,
            str(httpx.QueryParams(params or {})),
            tuple(sorted((headers or {}).items())),
            allow_not_found,
        )
        try:
            return await self.reads.run(
                key,
                lambda: self.request(
                    "GET", url, params=params, headers=headers, allow_not_found=allow_not_found
                ),
            )
        except TimeoutError:
            raise UpstreamTimeoutError(
                self.source, f"GET {url}: no answer within the request's deadline"
            ) from None

    def parse(self, response: httpx.Response, model: type[T] | pydantic.TypeAdapter[T]) -> T:
        """Validate a JSON body into a wire model; garbage is ``UpstreamMalformedError``."""
        adapter: pydantic.TypeAdapter[T] = (
            model if isinstance(model, pydantic.TypeAdapter) else _type_adapter(cast(Any, model))
        )
        try:
            # JSON numbers become Decimal straight from their text: money keeps every digit.
            return adapter.validate_python(json.loads(response.content, parse_float=Decimal))
        except (pydantic.ValidationError, ValueError) as exc:
            raise self.malformed(response) from exc

    def malformed(self, response: httpx.Response) -> UpstreamMalformedError:
        """The error for an answer that is not valid for this API; the breaker counts it as a
        failure, like no answer at all (once, however many callers shared the answer)."""
        if not response.extensions.get(GARBAGE_COUNTED):
            response.extensions[GARBAGE_COUNTED] = True
            self.breaker.garbage()
        request = response.request
        return UpstreamMalformedError(
            self.source,
            f"{request.method} {request.url.path}: the answer is not valid for this API",
        )
