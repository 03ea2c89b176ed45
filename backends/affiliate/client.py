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


class AffiliateClient:
    """One authenticated connection to the platform; every failure leaves as a ``BackendError``."""

    def __init__(
        self, settings: AffiliateSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        auth = ApiKeyAuth(settings.api_key.get_secret_value(), header="X-Api-Key")
        client = build_client(
            settings, auth=auth, headers={"Accept": "application/json"}, transport=transport
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

    async def order_statuses(self) -> wire.OrderStatusList:
        """``GET /api/v1/order-statuses``."""
        response = await self.http.get("/api/v1/order-statuses")
        assert response is not None
        return self.http.parse(response, wire.OrderStatusList)

    async def aclose(self) -> None:
        await self.http.client.aclose()
