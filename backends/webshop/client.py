"""CloudSuite's order API over HTTP: one method per call, answers as wire models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import quote

import httpx

from backends.auth import ClientCredentialsAuth
from backends.config import WebshopSettings
from backends.http import UpstreamHttp, build_client
from backends.webshop import wire
from domain.models import OrderSource

T = TypeVar("T")

TOKEN_PATH = "/realms/CloudSuite/protocol/openid-connect/token"
DESADV_PATH = "/proxy/des_adv_xml/delivery/"
# CloudSuite's parameterised paths, as route templates (an ``ext:<key>`` read is one too).
ROUTES = ("/api/order/{id}/",)


class CloudSuiteClient:
    """Authenticated calls (OAuth2 client credentials) to orders, deliveries and products."""

    def __init__(
        self, settings: WebshopSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.auth = ClientCredentialsAuth(
            f"{settings.base_url.rstrip('/')}{TOKEN_PATH}",
            settings.client_id,
            settings.client_secret.get_secret_value(),
        )
        client = build_client(
            settings,
            source=OrderSource.WEBSHOP,
            routes=ROUTES,
            auth=self.auth,
            transport=transport,
        )
        self.http = UpstreamHttp(OrderSource.WEBSHOP, client, settings)

    async def list_orders(self, params: Mapping[str, str | int]) -> wire.OrderList:
        """``GET /api/order/`` with filters, ``ordering``, ``limit`` and ``offset``."""
        response = await self.http.get("/api/order/", params=params)
        assert response is not None  # only a 404 with allow_not_found gives None
        return self.http.parse(response, wire.OrderList)

    async def get_order(self, order_id: int) -> wire.Order | None:
        """``GET /api/order/{id}/``; ``None`` when CloudSuite does not know the id."""
        response = await self.http.get(f"/api/order/{order_id}/", allow_not_found=True)
        return None if response is None else self.http.parse(response, wire.Order)

    async def get_order_by_external_key(self, key: str) -> wire.Order | None:
        """``GET /api/order/ext:<key>/``: the order the merchant's ERP knows by ``key``."""
        response = await self.http.get(
            f"/api/order/ext:{quote(key, safe='')}/", allow_not_found=True
        )
        return None if response is None else self.http.parse(response, wire.Order)

    async def list_products(self, params: Mapping[str, str | int]) -> wire.ProductList:
        """``GET /api/product/`` with ``limit`` and ``offset``: the catalogue lines name."""
        response = await self.http.get("/api/product/", params=params)
        assert response is not None  # only a 404 with allow_not_found gives None
        return self.http.parse(response, wire.ProductList)

    async def patch_order(
        self, order_id: int, changes: wire.OrderPatch, *, idempotency_key: str
    ) -> wire.Order:
        """``PATCH /api/order/{id}/`` with only the fields set on ``changes``."""
        body = changes.model_dump(mode="json", exclude_unset=True)
        return await self._send(
            "PATCH", f"/api/order/{order_id}/", body, wire.Order, idempotency_key
        )

    async def put_order(
        self, order_id: int, order: wire.OrderWrite, *, idempotency_key: str
    ) -> wire.Order:
        """``PUT /api/order/{id}/``: the whole order; its lines replace the stored ones."""
        body = order.model_dump(mode="json")
        return await self._send("PUT", f"/api/order/{order_id}/", body, wire.Order, idempotency_key)

    async def send_desadv(
        self, document: bytes, *, shop: int, user: int | None, idempotency_key: str
    ) -> None:
        """``POST /proxy/des_adv_xml/delivery/?shop=&user=``: a DESADV (XML,
        ``backends/webshop/desadv.py``); CloudSuite records the delivery and marks the order's
        shipment sent. Never retried here: a DESADV is taken once (409 the second time)."""
        params = {"shop": shop} if user is None else {"shop": shop, "user": user}
        response = await self.http.request(
            "POST",
            DESADV_PATH,
            params=params,
            content=document,
            headers={"Content-Type": "application/xml", "Idempotency-Key": idempotency_key},
        )
        assert response is not None  # only a 404 with allow_not_found gives None

    async def _send(
        self, method: str, url: str, body: object, model: type[T], idempotency_key: str
    ) -> T:
        """One write, never retried here (the gateway's outbox retries writes).

        CloudSuite ignores ``Idempotency-Key`` (doc 001 names none); it is sent so that the
        upstream's logs can tie a redelivery to the first attempt.
        """
        response = await self.http.request(
            method, url, json=body, headers={"Idempotency-Key": idempotency_key}
        )
        assert response is not None  # only a 404 with allow_not_found gives None
        return self.http.parse(response, model)

    async def aclose(self) -> None:
        await self.http.client.aclose()
