"""Live events to this process's subscribers.

The store is the truth: one reader per process reads the events past the last position it
handed out and offers each to every local subscriber (one store query per batch, however
many subscribers). It reads when told that there is something new — by this process's own
ingestion, or by another replica through Redis pub/sub (``ORDERGATE_REDIS_URL``) — and every
``tick_s`` in any case, so a lost wake-up delays an event, never loses it.

A subscriber replays the stored events after its ``after`` position, then takes live ones,
skipping what the replay already gave: a client that reconnects with the last position it
saw misses nothing and sees nothing twice. One that falls ``queue_size`` events behind reads
on from the store instead of being dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from feed.events import EventFilter, latest_position, read_after
from store.engine import Store
from store.tables import ChangeEventRecord

log = logging.getLogger(__name__)

CHANNEL = "ordergate:change-events"
READ_BATCH = 500
REPLAY_BATCH = 200


class _Subscriber:
    def __init__(self, event_filter: EventFilter, queue_size: int) -> None:
        self.filter = event_filter
        self.queue: asyncio.Queue[ChangeEventRecord] = asyncio.Queue(queue_size)
        self.behind = False  # the queue overflowed: read on from the store

    def offer(self, event: ChangeEventRecord) -> None:
        if self.behind or not self.filter.matches(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.behind = True


class EventHub:
    def __init__(
        self,
        store: Store,
        *,
        redis_url: str | None = None,
        tick_s: float = 1.0,
        queue_size: int = 1_000,
    ) -> None:
        self.store = store
        self.redis_url = redis_url
        self.tick_s = tick_s
        self.queue_size = queue_size
        self.position = 0  # the last position handed to subscribers
        self._subscribers: set[_Subscriber] = set()
        self._wake = asyncio.Event()
        self._redis: object | None = None
        self._started = asyncio.Event()
        self._stopping = False

    def stop(self) -> None:
        """``run`` ends after the read in hand."""
        self._stopping = True
        self._wake.set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def run(self) -> None:
        """Hand out new events until cancelled (with Redis: listen for other replicas too)."""
        self.position = await latest_position(self.store)
        self._started.set()
        listener = asyncio.create_task(self._listen()) if self.redis_url else None
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self._hand_out()
                except Exception:  # the feed must outlive a bad moment of the database
                    log.exception("change feed: reading new events failed")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.tick_s):
                        await self._wake.wait()
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(BaseException):
                    await listener

    async def _hand_out(self) -> None:
        while True:
            events = await read_after(self.store, self.position, EventFilter(), limit=READ_BATCH)
            for event in events:
                for subscriber in list(self._subscribers):
                    subscriber.offer(event)
                assert event.position is not None
                self.position = event.position
            if len(events) < READ_BATCH:
                return

    async def notify(self) -> None:
        """Something new is in the log: this process reads it now, other replicas are told."""
        self._wake.set()
        if self.redis_url is None:
            return
        try:
            client = await self._client()
            await client.publish(CHANNEL, b"1")
        except Exception as error:  # the tick delivers it all the same
            log.warning("change feed: could not tell other replicas (%s)", type(error).__name__)

    async def _client(self):  # type: ignore[no-untyped-def]
        if self._redis is None:
            import redis.asyncio as redis

            self._redis = redis.from_url(self.redis_url)  # type: ignore[arg-type]
        return self._redis

    async def _listen(self) -> None:
        """Other replicas' wake-ups; reconnects after a failure (the tick covers the gap)."""
        while True:
            try:
                client = await self._client()
                pubsub = client.pubsub()
                await pubsub.subscribe(CHANNEL)
                try:
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "change feed: Redis listener failed (%s); retrying", type(error).__name__
                )
                await asyncio.sleep(self.tick_s)

    async def aclose(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()  # type: ignore[attr-defined]

    async def subscribe(
        self, event_filter: EventFilter, *, after: int | None, idle_s: float | None = None
    ) -> AsyncIterator[ChangeEventRecord | None]:
        """The events the filter lets through: those stored after ``after`` (``None``: none,
        only what comes from now on), then live ones, each once, in position order; ``None``
        after every ``idle_s`` without one (the subscriber's moment to check it may go on)."""
        await self._started.wait()
        subscriber = _Subscriber(event_filter, self.queue_size)
        self._subscribers.add(subscriber)
        last = self.position if after is None else after
        try:
            while True:
                if after is not None or subscriber.behind:
                    subscriber.behind = False
                    while not subscriber.queue.empty():
                        subscriber.queue.get_nowait()
                    async for event in self._replay(event_filter, last):
                        assert event.position is not None
                        last = event.position
                        yield event
                    after = None
                try:
                    async with asyncio.timeout(idle_s):
                        event = await subscriber.queue.get()
                except TimeoutError:
                    yield None
                    continue
                assert event.position is not None
                if event.position > last:
                    last = event.position
                    yield event
        finally:
            self._subscribers.discard(subscriber)

    async def _replay(
        self, event_filter: EventFilter, after: int
    ) -> AsyncIterator[ChangeEventRecord]:
        while True:
            events = await read_after(self.store, after, event_filter, limit=REPLAY_BATCH)
            for event in events:
                assert event.position is not None
                after = event.position
                yield event
            if len(events) < REPLAY_BATCH:
                return
