"""The affiliate platform's HTTP calls (``docs/upstreams/affiliate.md``), returning wire models."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import httpx

from backends.affiliate import wire
from backends.auth import ApiKeyAuth
from backends.config import AffiliateSettings
from backends.http import UpstreamHttp, build_client
from domain.models import OrderSource

# The platform refuses a ``limit`` above this (400).
MAX_LIMIT = 100

# The platform's parameterised paths, as route templates (metrics, traces, the access line).
ROUTES = (
    "/api/v1/orders/{order_id}",
    "/api/v1/orders/{order_id}/status",
    "/api/v1/orders/{order_id}/split",
    "/api/v1/webhooks/{webhook_id}",
)


class AffiliateClient:
    """One authenticated connection to the platform; every failure leaves as a ``BackendError``."""

    def __init__(
        self, settings: AffiliateSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        auth = ApiKeyAuth(settings.api_key.get_secret_value(), header="X-Api-Key")
        client = build_client(
            settings,
            source=OrderSource.AFFILIATE,
            routes=ROUTES,
            auth=auth,
            headers={"Accept": "application/json"},
            transport=transport,
        )
        self.http = UpstreamHttp(OrderSource.AFFILIATE, client, settings)

    async def list_orders(
        self,
        *,
        offset: int,
        limit: int,
        statuses: Collection[str] | None = None,
        payment_statuses: Collection[str] | None = None,
        updated_since: datetime | None = None,
        ids: Collection[int] | None = None,
        order_number: str | None = None,
    ) -> wire.OrderList:
        """``GET /api/v1/orders``, newest first by last modification."""
        params: dict[str, Any] = {"offset": offset, "limit": limit, "sort": "-updated_at"}
        if statuses is not None:
            params["status"] = ",".join(sorted(statuses))
        if payment_statuses is not None:
            params["payment_status"] = ",".join(sorted(payment_statuses))
        if updated_since is not None:
            params["updated_since"] = updated_since.isoformat()
        if ids is not None:
            params["ids"] = ",".join(str(order_id) for order_id in ids)
        if order_number is not None:
            params["order_number"] = order_number
        response = await self.http.get("/api/v1/orders", params=params)
        assert response is not None  # only allow_not_found reads answer None
        return self.http.parse(response, wire.OrderList)

    async def get_order(self, order_id: int) -> wire.Order | None:
        """``GET /api/v1/orders/{id}``; ``None`` for an unknown order."""
        response = await self.http.get(f"/api/v1/orders/{order_id}", allow_not_found=True)
        return None if response is None else self.http.parse(response, wire.OrderEnvelope).data

    async def update_status(
        self, order_id: int, body: wire.StatusUpdate, *, idempotency_key: str
    ) -> wire.Order:
        """``PATCH /api/v1/orders/{id}/status`` (also the dispatch, with the consignment)."""
        response = await self._write(
            "PATCH", f"/api/v1/orders/{order_id}/status", body, idempotency_key
        )
        return self.http.parse(response, wire.OrderEnvelope).data

    async def create_order(self, body: wire.OrderCreate, *, idempotency_key: str) -> wire.Order:
        """``POST /api/v1/orders`` (the platform's "insert order"): the new order, whole."""
        response = await self._write("POST", "/api/v1/orders", body, idempotency_key)
        return self.http.parse(response, wire.OrderEnvelope).data

    async def edit_order(
        self, order_id: int, body: wire.OrderEdit, *, idempotency_key: str
    ) -> wire.Order:
        """``PUT /api/v1/orders/{id}``: the fields given replace the order's own."""
        response = await self._write("PUT", f"/api/v1/orders/{order_id}", body, idempotency_key)
        return self.http.parse(response, wire.OrderEnvelope).data

    async def split_order(
        self, order_id: int, body: wire.SplitRequest, *, idempotency_key: str
    ) -> wire.SplitResult:
        """``POST /api/v1/orders/{id}/split``: the original after the split and the new order."""
        response = await self._write(
            "POST", f"/api/v1/orders/{order_id}/split", body, idempotency_key
        )
        return self.http.parse(response, wire.SplitEnvelope).data

    async def _write(
        self, method: str, url: str, body: wire.Request, idempotency_key: str
    ) -> httpx.Response:
        # Sent once (writes are not retried here; the gateway's outbox redelivers with the
        # same key, and the platform answers a repeated key from its store).
        response = await self.http.request(
            method,
            url,
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": idempotency_key},
        )
        assert response is not None  # only allow_not_found requests answer None
        return response

    async def register_webhook(self, body: wire.WebhookCreate) -> wire.Webhook:
        """``POST /api/v1/webhooks`` (scope ``webhooks:manage``)."""
        response = await self.http.request(
            "POST", "/api/v1/webhooks", json=body.model_dump(mode="json", exclude_none=True)
        )
        assert response is not None
        return self.http.parse(response, wire.WebhookEnvelope).data

    async def webhooks(self) -> list[wire.Webhook]:
        """``GET /api/v1/webhooks`` (without their secrets)."""
        response = await self.http.get("/api/v1/webhooks")
        assert response is not None
        return self.http.parse(response, wire.WebhookList).data

    async def delete_webhook(self, webhook_id: int) -> None:
        """``DELETE /api/v1/webhooks/{id}``; one already gone is no error."""
        await self.http.request("DELETE", f"/api/v1/webhooks/{webhook_id}", allow_not_found=True)

    async def order_statuses(self) -> wire.OrderStatusList:
        """``GET /api/v1/order-statuses``."""
        response = await self.http.get("/api/v1/order-statuses")
        assert response is not None
        return self.http.parse(response, wire.OrderStatusList)

    async def aclose(self) -> None:
        await self.http.client.aclose()
