"""How one backend is protected from itself, and the gateway from it: a circuit breaker, a
pause on 429, and a retry budget. ``backends.http.UpstreamHttp`` holds one of each per
backend and consults them around every request; ``backends.deadline`` bounds each request
by the time its caller has left.

- ``CircuitBreaker``: ``failures`` consecutive failures (no answer, a timeout, a 5xx, garbage)
  open it; while open, requests fail at once (no upstream request) until ``cooldown_s`` has
  passed; then one probe at a time is let through (half-open): its success closes the
  breaker, its failure opens it again. Any answer that is not a failure (2xx, 4xx) closes it.
- A 429 with ``Retry-After`` pauses the whole backend until then: every request waits for the
  pause (if its time allows) instead of being sent into the limit on its own; from then on
  ``Pacing`` keeps requests to the rate the backend took before it said 429.
- ``RetryBudget``: retries may add at most ``ratio`` of the requests (Finagle's budget): each
  first attempt deposits ``ratio`` of a retry, each retry spends one, and ``minimum_per_s``
  accrue with time so that a quiet backend can still retry.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.models import OrderSource
from telemetry import metrics

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Ticket(enum.Enum):
    """What ``CircuitBreaker.allow`` let through: a request, or the half-open probe."""

    REGULAR = "regular"
    PROBE = "probe"


# The breaker's state as the metric's value: the worse, the higher.
BREAKER_LEVELS = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(slots=True)
class CircuitBreaker:
    source: OrderSource
    failures: int = 5
    cooldown_s: float = 10.0
    clock: Clock = time.monotonic
    _consecutive: int = 0
    _opened_at: float | None = None
    _probing: bool = False
    _before_success: tuple[int, bool] = (0, False)  # count, and whether it was open

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self._opened_at < self.cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_s - self.clock())

    def allow(self) -> Ticket | None:
        """May a request go upstream now? ``None``: no. Half-open: one ``PROBE`` at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Ticket.REGULAR
        if state is BreakerState.OPEN or self._probing:
            return None
        self._probing = True
        self.report(BreakerState.HALF_OPEN)
        return Ticket.PROBE

    def succeeded(self) -> None:
        """An answer (2xx or a refusal): the upstream works."""
        self._before_success = (self._consecutive, self._opened_at is not None)
        if self._opened_at is not None:
            log.warning("%s: circuit breaker closed, the upstream answers again", self.source)
            self.report(BreakerState.CLOSED)
        self._consecutive, self._opened_at, self._probing = 0, None, False

    def failed(self) -> None:
        self._consecutive += 1
        if self._probing or (self._opened_at is None and self._consecutive >= self.failures):
            self._open()
        self._probing = False

    def garbage(self) -> None:
        """The last answer, counted as a success, was garbage: a failure after all."""
        consecutive, was_open = self._before_success
        self._consecutive = consecutive + 1
        if was_open or self._consecutive >= self.failures:
            self._open()

    def _open(self) -> None:
        log.warning(
            "%s: circuit breaker open after %d failures; no request for %.0f s",
            self.source,
            self._consecutive,
            self.cooldown_s,
        )
        self._opened_at = self.clock()
        self.report(BreakerState.OPEN)

    def report(self, state: BreakerState | None = None) -> None:
        """The breaker's state (``state``: the one it is entering; else as it stands) in the
        metrics: at each change, and again at each scrape (half-open comes with time)."""
        current = self.state if state is None else state
        metrics.BREAKER_STATE.labels(self.source.value).set(BREAKER_LEVELS[current])

    def released(self, ticket: Ticket | None) -> None:
        """A request that ended with neither outcome (cancelled, not sent): if it was the
        probe, the next request may probe."""
        if ticket is Ticket.PROBE:
            self._probing = False


@dataclass(slots=True)
class Pause:
    """Until when the backend asked not to be called (its last 429's ``Retry-After``)."""

    clock: Clock = time.monotonic
    until: float = 0.0

    def remaining(self) -> float:
        return max(0.0, self.until - self.clock())

    def extend(self, seconds: float) -> None:
        self.until = max(self.until, self.clock() + seconds)


@dataclass(slots=True)
class RetryBudget:
    """A bucket of retries: each first attempt adds ``ratio`` of one, time adds
    ``minimum_per_s``, a retry takes one; it holds ``cap`` at most (and starts full)."""

    ratio: float = 0.2
    minimum_per_s: float = 0.5
    cap: float = 10.0
    clock: Clock = time.monotonic
    _balance: float = -1.0
    _at: float = 0.0

    def _refill(self) -> None:
        now = self.clock()
        if self._balance < 0:
            self._balance, self._at = self.cap, now
        self._balance = min(self.cap, self._balance + (now - self._at) * self.minimum_per_s)
        self._at = now

    def sent(self) -> None:
        """A first attempt went out."""
        self._refill()
        self._balance = min(self.cap, self._balance + self.ratio)

    def take(self) -> bool:
        """May one retry go now? Takes it from the bucket if so."""
        self._refill()
        if self._balance >= 1.0:
            self._balance -= 1.0
            return True
        return False


@dataclass(slots=True)
class Pacing:
    """The pace a backend keeps once it has said 429: no more requests per second than it
    took in the second before saying so; one more per second for each ``recover_s`` without
    another 429, and no pace at all after ``6 * recover_s`` without one. Unpaced until the
    first 429. A request that cannot wait for its slot takes none (it fails at once)."""

    recover_s: float = 10.0
    clock: Clock = time.monotonic
    rate: float | None = None  # requests per second; None: no pace
    _sent: deque[float] = field(default_factory=deque)
    _next_slot: float = 0.0
    _since: float = 0.0  # the last 429, or the last step up
    _limited_at: float = 0.0

    def _recent(self, now: float) -> int:
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        return len(self._sent)

    def slot(self, max_wait: float) -> float | None:
        """Seconds to wait before sending (the slot is taken), or ``None`` when the next slot
        is further off than ``max_wait`` (nothing taken)."""
        if self.rate is None:
            return 0.0
        now = self.clock()
        if now - self._limited_at >= 6 * self.recover_s:
            self.rate = None  # long quiet: the limit has gone or grown
            return 0.0
        if now - self._since >= self.recover_s:
            self.rate, self._since = self.rate + 1, now
        slot = max(now, self._next_slot)
        if slot - now > max_wait:
            return None
        self._next_slot = slot + 1 / self.rate
        return slot - now

    def sent(self) -> None:
        """A request went upstream now."""
        now = self.clock()
        self._recent(now)
        self._sent.append(now)

    def limited(self) -> None:
        """A 429: the pace becomes what the backend took in the last second (at least 1)."""
        now = self.clock()
        took = max(1, self._recent(now) - 1)  # the refused request was one too many
        self.rate = float(took) if self.rate is None else min(self.rate, float(took))
        self._since = self._limited_at = now
