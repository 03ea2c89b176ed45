"""The affiliate platform's signed order events (``docs/upstreams/affiliate.md``, "Webhooks").

``POST /webhooks/affiliate`` checks the signature before anything else: ``X-Affiliate-
Signature: sha256=<hex>`` must be the HMAC-SHA256 of ``<X-Affiliate-Timestamp>.<raw body>``
under the secret the gateway registered with (compared in constant time), and the timestamp
within ``tolerance_s`` of now (a replayed delivery is refused). A refusal is 401 and stores
nothing. An accepted delivery is kept by its id (``X-Affiliate-Delivery``: a repeat is
answered 200 and changes nothing) and answered 202 at once; the receipts are processed
after the answer (the order read and observed, origin ``WEBHOOK``), and one whose processing
failed (the platform down a moment) is tried again on the next round: accepted is never
lost. The body's order only names which order to read: the gateway reads it itself, so
deliveries that arrive out of order still leave the index at the order's newest state.

The receiver is registered with the platform on start (``ordergate webhooks register`` does
it by hand): earlier registrations of the same URL are deleted first (the platform does not
show their secrets, so the gateway cannot tell whether they are its own).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backends.affiliate import wire
from backends.affiliate.client import AffiliateClient
from backends.base import OrderBackend
from domain.errors import (
    OrdergateError,
    UpstreamMalformedError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
)
from domain.models import Order, OrderSource
from feed.index import ChangeOrigin, Observed, observe
from store.clock import utcnow
from store.engine import Store
from store.tables import ChangeEventRecord, WebhookReceipt
from telemetry import metrics

log = logging.getLogger(__name__)

PATH = "/webhooks/affiliate"
EVENTS = ["order.created", "order.updated", "order.status_changed"]
MAX_BODY_BYTES = 1_000_000
MAX_DELIVERY_ID = 100  # the receipts' key column
RECEIPTS_PER_ROUND = 100


class Refused(Exception):
    """``outcome``: the signature check's, as ``ordergate_affiliate_webhook_verifications``
    counts it (``malformed``: signed, but not a delivery this receiver takes)."""

    def __init__(self, status: int, reason: str, outcome: str = "malformed") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.outcome = outcome


def verify(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_s: float,
) -> None:
    """Raise ``Refused`` (401) unless the signature and timestamp hold."""
    if not timestamp or not signature:
        raise Refused(
            401, "X-Affiliate-Timestamp and X-Affiliate-Signature are required.", "unsigned"
        )
    if not timestamp.isdigit():
        raise Refused(401, "X-Affiliate-Timestamp is not a Unix time.", "invalid")
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"sha256={expected}".encode(), signature.encode()):
        raise Refused(401, "The signature does not match.", "invalid")
    if abs(now - int(timestamp)) > tolerance_s:
        raise Refused(
            401, f"The delivery is older than {tolerance_s:g} s (or from the future).", "expired"
        )


class AffiliateReceiver:
    """The Starlette endpoint; ``wake`` is called after a new receipt is stored."""

    def __init__(
        self, store: Store, secret: bytes, *, tolerance_s: float, wake: Callable[[], None]
    ) -> None:
        self.store = store
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.wake = wake

    async def __call__(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            headers = request.headers
            verify(
                self.secret,
                headers.get("x-affiliate-timestamp"),
                headers.get("x-affiliate-signature"),
                body,
                now=time.time(),
                tolerance_s=self.tolerance_s,
            )
            try:
                event = wire.WebhookEvent.model_validate_json(body)
            except ValueError:
                raise Refused(400, "The body is not an affiliate order event.") from None
            delivery = headers.get("x-affiliate-delivery") or event.id
            if delivery != event.id:
                raise Refused(400, "X-Affiliate-Delivery does not name the body's event.")
            if len(delivery) > MAX_DELIVERY_ID:  # kept whole: two ids must never become one
                raise Refused(400, f"The delivery id is over {MAX_DELIVERY_ID} characters.")
        except Refused as refused:
            metrics.WEBHOOK_VERIFICATIONS.labels(refused.outcome).inc()
            log.info("affiliate webhook refused: %s", refused.reason)
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        metrics.WEBHOOK_VERIFICATIONS.labels("valid").inc()
        new = await self._keep(delivery, event.event, body)
        if new:
            self.wake()
        return JSONResponse(
            {"received": delivery, "duplicate": not new}, status_code=202 if new else 200
        )

    @staticmethod
    async def _body(request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise Refused(413, f"The body is over {MAX_BODY_BYTES} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _keep(self, delivery: str, event: str, body: bytes) -> bool:
        async with self.store.session() as session:
            insert = (
                postgresql.insert
                if session.get_bind().dialect.name == "postgresql"
                else sqlite.insert
            )
            result = await session.exec(  # type: ignore[call-overload]
                insert(WebhookReceipt)
                .values(
                    delivery_id=delivery, event=event[:50], body=body.decode(), received_at=utcnow()
                )
                .on_conflict_do_nothing()
            )
            await session.commit()
            return bool(result.rowcount)


async def process_receipts(
    store: Store,
    backend: OrderBackend,
    notify: Callable[[list[ChangeEventRecord]], Awaitable[None]],
) -> int:
    """Observe the orders of the receipts not processed yet; the events made. A receipt whose
    order could not be read (the platform down) stays for the next round."""
    async with store.session() as session:
        rows = await session.exec(
            select(WebhookReceipt)
            .where(col(WebhookReceipt.processed_at).is_(None))
            .order_by(col(WebhookReceipt.received_at))
            .limit(RECEIPTS_PER_ROUND)
        )
        receipts = list(rows)
    if not receipts:
        return 0
    order_ids = list(dict.fromkeys(str(json.loads(r.body)["data"]["id"]) for r in receipts))
    found, done = await _read(backend, order_ids)
    observed = [Observed(order) for order in found.values() if order is not None]
    gone = [(OrderSource.AFFILIATE, uid) for uid, order in found.items() if order is None]
    events = await observe(store, observed, ChangeOrigin.WEBHOOK, gone=gone)
    receipts = [r for r in receipts if str(json.loads(r.body)["data"]["id"]) in done]
    async with store.session() as session:
        await session.exec(
            update(WebhookReceipt)
            .where(col(WebhookReceipt.delivery_id).in_([r.delivery_id for r in receipts]))
            .values(processed_at=utcnow())
        )
        await session.commit()
    if events:
        await notify(events)
    return len(events)


async def _read(
    backend: OrderBackend, order_ids: list[str]
) -> tuple[dict[str, Order | None], set[str]]:
    """The receipts' orders (``None``: gone upstream) and the ids done with. All at once;
    when that fails, one by one: an order the platform answers wrongly (garbage, a refusal)
    is given up — the next poll reads it — instead of holding back every receipt after it.
    The platform down (no answer at all): the rest wait for the next round."""
    try:
        orders = await backend.get_orders(order_ids)
        return dict(zip(order_ids, orders, strict=True)), set(order_ids)
    except OrdergateError:
        pass
    found: dict[str, Order | None] = {}
    done: set[str] = set()
    for order_id in order_ids:
        try:
            [found[order_id]] = await backend.get_orders([order_id])
        except (UpstreamMalformedError, UpstreamRejectedError) as error:
            log.warning("affiliate webhook of order %s given up (polled): %s", order_id, error)
        except UpstreamUnavailableError:
            break
        done.add(order_id)
    return found, done


async def register(client: AffiliateClient, url: str, secret: bytes) -> wire.Webhook:
    """Register ``url`` for every order event, signed with ``secret`` (the receiver's key, as
    text), replacing earlier registrations of it."""
    for hook in await client.webhooks():
        if hook.url == url:
            await client.delete_webhook(hook.id)
    return await client.register_webhook(
        wire.WebhookCreate(url=url, events=EVENTS, secret=secret.decode())  # type: ignore[arg-type]
    )
