"""The B2B API over HTTP: one method per call, reads in JSON or XML, writes in JSON, all
authenticated by its JWT login."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pydantic

from backends.auth import JwtLoginAuth
from backends.b2b import wire
from backends.b2b.wire import Order, OrderList, StatusList
from backends.b2b.xmlcodec import read_export
from backends.config import B2BSettings
from backends.http import UpstreamHttp, build_client
from domain.models import OrderSource

T = TypeVar("T", bound=pydantic.BaseModel)
E = TypeVar("E", bound=wire.Wire)

MEDIA_TYPES = {"json": "application/json", "xml": "application/xml"}
# The format of `updatedFrom`'s `date` parameter (document: "1999-01-01 01:00:00").
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# Catalogs are read in full, this many entities a page (the simulator's maximum).
CATALOG_PAGE_SIZE = 100

# The API's parameterised paths, as route templates (metrics, traces, the access line).
ROUTES = (
    "/api/Order/update/{id}",
    "/api/Order/delete/{id}",
    "/api/Order/update/{id}/line/{line}",
)


class B2BClient:
    """The API's calls: reads in the configured wire format, writes in JSON (the document's
    POST "exclusively handles JSON format"), answers as wire models."""

    def __init__(
        self, settings: B2BSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        auth = JwtLoginAuth(
            f"{settings.base_url}/api/login",
            settings.username,
            settings.password.get_secret_value(),
        )
        client = build_client(
            settings,
            source=OrderSource.B2B,
            routes=ROUTES,
            auth=auth,
            headers={"Accept": MEDIA_TYPES[settings.format]},
            transport=transport,
        )
        self.format = settings.format
        self.http = UpstreamHttp(OrderSource.B2B, client, settings)

    async def orders(self, *, page: int, page_size: int) -> OrderList:
        """``GET /api/Order/getOrder``: every order, newest first by ``dateModified``."""
        return await self._get(
            "/api/Order/getOrder", OrderList, {"page": page, "pageSize": page_size}
        )

    async def orders_updated_from(
        self, since: datetime, statuses: Sequence[str], *, page: int, page_size: int
    ) -> OrderList:
        """``GET /api/Order/updatedFrom``: orders modified at or after ``since`` (whole
        seconds, UTC), in any of ``statuses`` when given, newest first."""
        params: dict[str, Any] = {
            "date": since.astimezone(UTC).strftime(DATE_FORMAT),
            "page": page,
            "pageSize": page_size,
        }
        if statuses:
            params["status[]"] = list(statuses)
        return await self._get("/api/Order/updatedFrom", OrderList, params)

    async def order(self, order_id: str) -> Order | None:
        """``GET /api/Order/getOrder?id=``: one order, ``None`` when the upstream says 404."""
        response = await self.http.get(
            "/api/Order/getOrder", params={"id": order_id}, allow_not_found=True
        )
        if response is None:
            return None
        page = self._decode(response, OrderList)
        return page.data[0] if page.data else None

    async def order_statuses(self, *, page_size: int) -> StatusList:
        """``GET /api/Order/getOrder/Status``: the first ``page_size`` order statuses."""
        return await self._get(
            "/api/Order/getOrder/Status", StatusList, {"page": 1, "pageSize": page_size}
        )

    async def line_statuses(self) -> list[wire.StatusEntry]:
        """``GET /api/Order/getOrder/Line/Status``: every line status."""
        return await self._read_all(
            "/api/Order/getOrder/Line/Status", wire.EntityList[wire.StatusEntry]
        )

    async def all_order_statuses(self) -> list[wire.StatusEntry]:
        """``GET /api/Order/getOrder/Status``: every order status, page after page."""
        return await self._read_all("/api/Order/getOrder/Status", wire.EntityList[wire.StatusEntry])

    async def companies(self) -> list[wire.Company]:
        """``GET /api/Company/getCompany``: every company."""
        return await self._read_all("/api/Company/getCompany", wire.EntityList[wire.Company])

    async def business_partners(self) -> list[wire.BusinessPartner]:
        """``GET /api/BusinessPartner/getBusinessPartner``: every client and agent."""
        return await self._read_all(
            "/api/BusinessPartner/getBusinessPartner", wire.EntityList[wire.BusinessPartner]
        )

    async def locations(self) -> list[wire.Location]:
        """``GET /api/Location/getLocation``: every address of every business partner."""
        return await self._read_all("/api/Location/getLocation", wire.EntityList[wire.Location])

    async def seasons(self) -> list[wire.Season]:
        """``GET /api/Season/getSeason``: every season."""
        return await self._read_all("/api/Season/getSeason", wire.EntityList[wire.Season])

    async def products(self) -> list[wire.Product]:
        """``GET /api/Product/getProduct``: every product."""
        return await self._read_all("/api/Product/getProduct", wire.EntityList[wire.Product])

    async def discount_types(self) -> list[wire.DiscountType]:
        """``GET /api/DiscountType/getDiscountType``: every kind of discount."""
        return await self._read_all(
            "/api/DiscountType/getDiscountType", wire.EntityList[wire.DiscountType]
        )

    async def create_order(self, order: wire.OrderCreate, *, idempotency_key: str) -> Order:
        """``POST /api/Order/create``: the new order as the API answers it (201)."""
        response = await self.http.request(
            "POST",
            "/api/Order/create",
            json=order.model_dump(mode="json", exclude_none=True),
            headers=write_headers(idempotency_key),
        )
        assert response is not None  # only allow_not_found requests answer None
        return self.http.parse(response, Order)

    async def update_status(
        self, order_id: str, status: str, *, idempotency_key: str
    ) -> Order | None:
        """``PUT /api/Order/update/{id}`` with a new status: the order as the API answers it
        after the update, ``None`` when the order is unknown (404)."""
        response = await self.http.request(
            "PUT",
            f"/api/Order/update/{order_id}",
            json=wire.OrderStatusUpdate(status=status).model_dump(mode="json"),
            headers=write_headers(idempotency_key),
            allow_not_found=True,
        )
        return None if response is None else self.http.parse(response, Order)

    async def delete_order(self, order_id: str, *, idempotency_key: str) -> bool:
        """``DELETE /api/Order/delete/{id}``: whether the API had the order (False: 404)."""
        response = await self.http.request(
            "DELETE",
            f"/api/Order/delete/{order_id}",
            headers=write_headers(idempotency_key),
            idempotent=False,
            allow_not_found=True,
        )
        return response is not None

    async def update_line_status(
        self, order_id: str, line_id: str, status: str, *, idempotency_key: str
    ) -> Order | None:
        """``PUT /api/Order/update/{id}/line/{lineId}`` with a line status id: the order after
        it, ``None`` when the order or the line is unknown (404)."""
        response = await self.http.request(
            "PUT",
            f"/api/Order/update/{order_id}/line/{line_id}",
            json=wire.LineStatusUpdate(lineStatusId=status).model_dump(mode="json"),
            headers=write_headers(idempotency_key),
            allow_not_found=True,
        )
        return None if response is None else self.http.parse(response, Order)

    async def _read_all(self, path: str, model: type[wire.EntityList[E]]) -> list[E]:
        """Every entity of one catalog, following its pages to the last."""
        entities: list[E] = []
        page = 1
        while True:
            answer = await self._get(path, model, {"page": page, "pageSize": CATALOG_PAGE_SIZE})
            entities.extend(answer.data)
            if page >= answer.pagination.totalPages:
                return entities
            page += 1

    async def _get(self, path: str, model: type[T], params: dict[str, Any]) -> T:
        response = await self.http.get(path, params=params)
        assert response is not None  # only allow_not_found reads answer None
        return self._decode(response, model)

    def _decode(self, response: httpx.Response, model: type[T]) -> T:
        """Validate a JSON or XML body into ``model``; garbage is ``UpstreamMalformedError``."""
        if self.format == "json":
            return self.http.parse(response, model)
        try:
            return model.model_validate(read_export(response.content))
        except (pydantic.ValidationError, ValueError) as exc:
            raise self.http.malformed(response) from exc

    async def aclose(self) -> None:
        await self.http.client.aclose()


def write_headers(idempotency_key: str) -> dict[str, str]:
    """Writes answer JSON whatever the read format; the key lets a redelivery be recognised
    where the API honours it."""
    return {"Accept": MEDIA_TYPES["json"], "Idempotency-Key": idempotency_key}
