"""The CRM admin API's calls, authenticated with an OAuth2 client-credentials token."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

import httpx

from backends.auth import ClientCredentialsAuth
from backends.config import CrmSettings
from backends.crm import wire
from backends.http import UpstreamHttp, build_client
from domain.models import OrderSource

ADMIN = "/api/v2/admin"
TOKEN_PATH = "/api/v1/oauth/token"  # Treepl CMS's own token endpoint
# The order assets one PUT sets (``PUT /orders/{id}/<asset>``).
ORDER_WRITES = ("discount-code", "gift-voucher", "shipping", "tax", "status", "shipment")
# The admin API's parameterised paths, as route templates: the fixed ones first.
ROUTES = (
    f"{ADMIN}/orders/order-statuses",
    f"{ADMIN}/orders/{{id}}",
    *(f"{ADMIN}/orders/{{id}}/{asset}" for asset in ORDER_WRITES),
)
# The list endpoint refuses a larger Limit (docs/upstreams/crm.md).
MAX_LIMIT = 100

T = TypeVar("T")


class CrmClient:
    """One method per upstream call; answers are wire models, failures ``BackendError``s."""

    def __init__(
        self, settings: CrmSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.auth = ClientCredentialsAuth(
            f"{settings.base_url.rstrip('/')}{TOKEN_PATH}",
            settings.client_id,
            settings.client_secret.get_secret_value(),
        )
        self.http = UpstreamHttp(
            OrderSource.CRM,
            build_client(
                settings,
                source=OrderSource.CRM,
                routes=ROUTES,
                auth=self.auth,
                transport=transport,
            ),
            settings,
        )

    async def list_orders(
        self,
        *,
        offset: int,
        limit: int,
        order_by: str = "ModifiedDateTime desc",
        where: Mapping[str, object] | None = None,
    ) -> wire.ItemList[wire.Order]:
        """Full orders at positions ``offset..offset+limit`` of the list sorted by ``order_by``,
        of those matching ``where`` (``docs/upstreams/crm.md``: field -> value or operators)."""
        params: dict[str, int | str] = {
            "Offset": offset,
            "Limit": min(limit, MAX_LIMIT),
            "Order_By": order_by,
        }
        if where:
            params["Where"] = json.dumps(where, separators=(",", ":"), sort_keys=True)
        return await self._get("/orders", wire.ItemList[wire.Order], params)

    async def get_order(self, order_id: int) -> wire.Order | None:
        """One order, ``None`` when the CRM does not know it (404)."""
        response = await self.http.get(f"{ADMIN}/orders/{order_id}", allow_not_found=True)
        return None if response is None else self.http.parse(response, wire.Order)

    async def order_statuses(self) -> wire.ItemList[wire.StatusCatalogEntry]:
        return await self._get("/orders/order-statuses", wire.ItemList[wire.StatusCatalogEntry])

    async def discount_codes(self) -> wire.ItemList[wire.DiscountCode]:
        return await self._get("/discount-codes", wire.ItemList[wire.DiscountCode])

    async def gift_vouchers(self) -> wire.ItemList[wire.GiftVoucher]:
        return await self._get("/gift-vouchers", wire.ItemList[wire.GiftVoucher])

    async def shipping_options(self) -> wire.ItemList[wire.ShippingOption]:
        return await self._get("/shipping-options", wire.ItemList[wire.ShippingOption])

    async def tax_codes(self) -> wire.ItemList[wire.TaxCode]:
        return await self._get("/tax-codes", wire.ItemList[wire.TaxCode])

    async def set_discount_code(
        self, order_id: int, body: wire.SetDiscountCode, *, idempotency_key: str
    ) -> wire.Order | None:
        """``PUT /orders/{id}/discount-code`` (document 002); ``None`` for an unknown order."""
        return await self._put(order_id, "discount-code", body, idempotency_key)

    async def set_gift_voucher(
        self, order_id: int, body: wire.SetGiftVoucher, *, idempotency_key: str
    ) -> wire.Order | None:
        """``PUT /orders/{id}/gift-voucher`` (document 002); ``None`` for an unknown order."""
        return await self._put(order_id, "gift-voucher", body, idempotency_key)

    async def set_shipping_option(
        self, order_id: int, body: wire.SetShippingOption, *, idempotency_key: str
    ) -> wire.Order | None:
        """``PUT /orders/{id}/shipping`` (document 002); ``None`` for an unknown order."""
        return await self._put(order_id, "shipping", body, idempotency_key)

    async def set_tax_code(
        self, order_id: int, body: wire.SetTaxCode, *, idempotency_key: str
    ) -> wire.Order | None:
        """``PUT /orders/{id}/tax`` (document 002); ``None`` for an unknown order."""
        return await self._put(order_id, "tax", body, idempotency_key)

    async def set_status(
        self, order_id: int, body: wire.SetStatus, *, idempotency_key: str
    ) -> wire.Order | None:
        """``PUT /orders/{id}/status`` (the simulator's path); ``None`` for an unknown order."""
        return await self._put(order_id, "status", body, idempotency_key)

    async def set_shipment(
        self, order_id: int, body: wire.SetShipment, *, idempotency_key: str
    ) -> wire.Order | None:
        """``PUT /orders/{id}/shipment`` (the simulator's path); ``None`` for an unknown order."""
        return await self._put(order_id, "shipment", body, idempotency_key)

    async def _get(
        self, path: str, model: type[T], params: Mapping[str, int | str] | None = None
    ) -> T:
        response = await self.http.get(f"{ADMIN}{path}", params=params)
        assert response is not None  # only allow_not_found turns a 404 into None
        return self.http.parse(response, model)

    async def _put(
        self, order_id: int, suffix: str, body: wire.WireModel, idempotency_key: str
    ) -> wire.Order | None:
        """One order write; every one answers the full order after the change.

        The CRM ignores ``Idempotency-Key`` (document 002 names none); it is sent anyway so
        that a proxy or a later CRM version that honours it deduplicates redeliveries.
        """
        response = await self.http.request(
            "PUT",
            f"{ADMIN}/orders/{order_id}/{suffix}",
            json=body.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
            allow_not_found=True,
        )
        return None if response is None else self.http.parse(response, wire.Order)

    async def aclose(self) -> None:
        await self.http.client.aclose()
