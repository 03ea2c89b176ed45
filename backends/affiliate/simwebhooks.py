"""The simulated platform's webhooks (``docs/upstreams/affiliate.md``, "Webhooks").

Receivers registered through ``POST /api/v1/webhooks`` are POSTed a signed event after every
change they subscribed to, fire and forget: a slow or failing receiver never fails a write.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from backends.affiliate import wire

WEBHOOK_TIMEOUT_S = 2.0


class WebhookHub:
    """Registered receivers, each POSTed a signed event after every change it subscribed to."""

    def __init__(self) -> None:
        self.hooks: dict[int, dict[str, Any]] = {}
        self._next_id = 1
        self._deliveries: set[asyncio.Task[None]] = set()
        # One client for every delivery, as a platform keeps its connections (a new client
        # per delivery costs tens of milliseconds of TLS set-up before the first byte).
        self._client: httpx.AsyncClient | None = None

    def reset(self) -> None:
        self.hooks.clear()
        self._next_id = 1

    def register(self, request: wire.WebhookCreate, now: datetime) -> dict[str, Any]:
        hook = {
            "id": self._next_id,
            "url": request.url,
            "events": list(dict.fromkeys(request.events)),
            "secret": request.secret or f"whsec_{secrets.token_hex(16)}",
            "created_at": now.isoformat(timespec="seconds"),
        }
        self.hooks[self._next_id] = hook
        self._next_id += 1
        return hook

    def notify(self, event: str, order: dict[str, Any]) -> None:
        """Send ``event`` about ``order`` (its wire shape) to every receiver subscribed to it."""
        for hook in self.hooks.values():
            if event in hook["events"]:
                body = {
                    "id": f"evt_{uuid.uuid4().hex}",
                    "event": event,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "data": order,
                }
                task = asyncio.ensure_future(self._deliver(self._http(), hook, event, body))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    async def aclose(self) -> None:
        """Deliveries still on their way are dropped (fire and forget); the client closed."""
        for task in list(self._deliveries):
            task.cancel()
        if self._deliveries:
            await asyncio.wait(self._deliveries, timeout=1.0)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S)
        return self._client

    @staticmethod
    async def _deliver(
        client: httpx.AsyncClient, hook: dict[str, Any], event: str, body: dict[str, Any]
    ) -> None:
        content = json.dumps(body, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        signed = timestamp.encode() + b"." + content
        signature = hmac.new(hook["secret"].encode(), signed, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Affiliate-Event": event,
            "X-Affiliate-Delivery": body["id"],
            "X-Affiliate-Timestamp": timestamp,
            "X-Affiliate-Signature": f"sha256={signature}",
        }
        try:  # fire and forget: a slow or failing receiver never fails the write
            await client.post(hook["url"], content=content, headers=headers)
        except httpx.HTTPError:
            pass
