"""The B2B API's read calls, JSON or XML, authenticated by its JWT login."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pydantic

from backends.auth import JwtLoginAuth
from backends.b2b.wire import Order, OrderList, StatusList
from backends.b2b.xmlcodec import read_export
from backends.config import B2BSettings
from backends.http import UpstreamHttp, build_client
from domain.errors import UpstreamMalformedError
from domain.models import OrderSource

T = TypeVar("T", bound=pydantic.BaseModel)

MEDIA_TYPES = {"json": "application/json", "xml": "application/xml"}
# The format of `updatedFrom`'s `date` parameter (document: "1999-01-01 01:00:00").
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class B2BClient:
    """``GET /api/Order/...`` in the configured wire format, answers as wire models."""

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
            request = response.request
            raise UpstreamMalformedError(
                OrderSource.B2B,
                f"{request.method} {request.url.path}: the answer is not valid for this API",
            ) from exc

    async def aclose(self) -> None:
        await self.http.client.aclose()
