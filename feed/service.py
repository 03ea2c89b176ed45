"""The change feed's tasks in one process, started and stopped with the app.

- the hub, handing new events to this process's subscribers (always);
- with ``feed.ingest``: one polling task per backend (a slow backend delays no other), the
  affiliate receipts' processing, and the receiver's registration with the platform (tried
  before each AFFILIATE poll until the platform takes it; then AFFILIATE is polled only at
  ``backup_poll_s``);
- the partners' webhook fan-out and deliveries (``feed.partner_webhooks``, always).

``search`` reads the index for listings (``feed.search``), in every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from backends.affiliate.client import AffiliateClient
from backends.base import OrderBackend
from domain.models import OrderSource
from feed import affiliate_webhooks
from feed.hub import EventHub
from feed.partner_webhooks import PartnerWebhooks
from feed.poller import Poller
from feed.search import IndexSearch
from gateway.settings import Settings
from store.engine import Store
from store.shared_secrets import shared_secret
from store.tables import ChangeEventRecord

log = logging.getLogger(__name__)
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # listen everywhere: no address to call
CANCEL_GRACE_S = 0.2  # what a cancelled task gets to unwind


class Feed:
    def __init__(
        self, settings: Settings, store: Store, backends: Mapping[OrderSource, OrderBackend]
    ) -> None:
        self.settings = settings
        self.store = store
        self.backends = backends
        options = settings.feed
        self.hub = EventHub(
            store,
            redis_url=settings.redis_url,
            tick_s=options.tick_s,
            queue_size=options.subscriber_queue,
        )
        self.poller = Poller(
            store,
            backends,
            page_size=options.page_size,
            overlap_s=options.overlap_s,
            full_every_s=options.full_every_s,
            notify=self.notify,
        )
        self.search = IndexSearch(store)
        self.receiver: affiliate_webhooks.AffiliateReceiver | None = None
        self.listeners: list[Callable[[list[ChangeEventRecord]], Awaitable[None]]] = []
        self.partner_webhooks = PartnerWebhooks(settings, store)
        self.listeners.append(self.partner_webhooks.on_events)
        self._receipts = asyncio.Event()
        self.webhooks_registered = False  # the affiliate platform sends us its events
        self._unreachable_said = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    @property
    def receiver_url(self) -> str:
        base = self.settings.feed.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return base.rstrip("/") + affiliate_webhooks.PATH

    @property
    def receiver_reachable(self) -> bool:
        """Whether the receiver's URL names an address another host can call: not a
        wildcard listen address (``0.0.0.0``, ``::``) standing in for an unset public URL."""
        if self.settings.feed.public_url:
            return True
        return self.settings.host not in WILDCARD_HOSTS

    async def webhook_secret(self) -> bytes:
        """What the affiliate platform signs with: the configured secret, or the store's."""
        configured = self.settings.feed.webhook_secret
        if configured is not None:
            return configured.get_secret_value().encode()
        return (await shared_secret(self.store, "affiliate-webhooks")).hex().encode()

    async def notify(self, events: list[ChangeEventRecord]) -> None:
        """New events were committed: subscribers and partners' deliveries hear of it."""
        await self.hub.notify()
        for listener in self.listeners:
            await listener(events)

    async def start(self) -> None:
        self.receiver = affiliate_webhooks.AffiliateReceiver(
            self.store,
            await self.webhook_secret(),
            tolerance_s=self.settings.feed.webhook_tolerance_s,
            wake=self._receipts.set,
        )
        self._spawn(self.hub.run())
        self._spawn(self.partner_webhooks.run())  # in every process, as the hub
        if not self.settings.feed.ingest:
            return
        for source in self.backends:
            self._spawn(self._poll_forever(source))
        if OrderSource.AFFILIATE in self.backends:
            self._spawn(self._process_receipts_forever(self.backends[OrderSource.AFFILIATE]))

    def _spawn(self, work: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(work))

    async def stop(self, grace_s: float = 0.8) -> None:
        """Each task ends at its next safe point (the round in hand finishes: a task cut off
        in the middle of a store query can leave a connection that never closes); what is
        still running after ``grace_s`` is cancelled."""
        self._stopping.set()
        self._receipts.set()
        self.hub.stop()
        self.partner_webhooks.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
        self._tasks.clear()
        await self.hub.aclose()

    async def _rest(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        """Wait ``seconds``, less if ``wake`` is set or the feed stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await (wake or self._stopping).wait()

    async def _poll_forever(self, source: OrderSource) -> None:
        """Poll one backend every interval; AFFILIATE's receiver is registered (tried before
        each round until the platform takes it) before its polling slows to the backup."""
        while not self._stopping.is_set():
            if source is OrderSource.AFFILIATE and not self.webhooks_registered:
                await self._register()
            try:
                await self.poller.poll(source)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next round tries again; the checkpoint is kept
                log.warning("change feed: polling %s failed: %s", source.value, error)
                with contextlib.suppress(Exception):
                    await self.poller.record_failure(source, error)
            await self._rest(self.poll_interval(source))

    def poll_interval(self, source: OrderSource) -> float:
        """Every poll interval; a backend whose webhooks arrive, at the backup interval."""
        options = self.settings.feed
        if source is OrderSource.AFFILIATE and self.webhooks_registered:
            return max(options.backup_poll_s, options.poll_interval_s)
        return options.poll_interval_s

    async def _process_receipts_forever(self, backend: OrderBackend) -> None:
        while not self._stopping.is_set():
            self._receipts.clear()
            try:
                while await affiliate_webhooks.process_receipts(self.store, backend, self.notify):
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as error:  # kept: the next round processes it
                log.warning("change feed: affiliate webhook processing failed: %s", error)
            await self._rest(self.settings.feed.tick_s, self._receipts)

    async def _register(self) -> None:
        client = getattr(self.backends[OrderSource.AFFILIATE], "client", None)
        if not self.settings.feed.affiliate_webhooks or not isinstance(client, AffiliateClient):
            return
        if not self.receiver_reachable:
            if not self._unreachable_said:
                self._unreachable_said = True
                log.warning(
                    "change feed: affiliate webhooks not registered: the gateway listens on "
                    "%s and ORDERGATE_FEED__PUBLIC_URL is unset, so the platform could not "
                    "call it back; AFFILIATE is polled every %s s instead",
                    self.settings.host,
                    self.settings.feed.poll_interval_s,
                )
            return
        try:
            secret = await self.webhook_secret()
            await affiliate_webhooks.register(client, self.receiver_url, secret)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # polled all the same; tried again next round
            log.warning("change feed: registering the affiliate webhook failed: %s", error)
        else:
            self.webhooks_registered = True
            log.info("change feed: affiliate webhooks go to %s", self.receiver_url)
