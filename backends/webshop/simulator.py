"""CloudSuite's webshop order API, simulated (``docs/upstreams/webshop.md`` describes it).

A Django REST Framework-style API: ``GET /api/order/`` with django-filter filters,
``OrderingFilter`` and ``LimitOffsetPagination``; ``GET``/``PATCH``/``PUT /api/order/{id}/``;
the XML DESADV ``POST /proxy/des_adv_xml/delivery/?shop=&user=``; ``GET /api/product/``
(the catalogue lines name). OAuth2 client credentials at the Keycloak-style realm token
URL. The data and its rules live in ``simstate.ShopState``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pydantic
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backends.simkit.app import SimConfig, simulator_app
from backends.simkit.auth import TokenStore, bearer_check, oauth_token_route
from backends.simkit.control import SimControl
from backends.webshop import wire
from backends.webshop.desadv import from_xml
from backends.webshop.simstate import AlreadyReceived, InvalidRequest, ShopState, render_products

TOKEN_PATH = "/realms/CloudSuite/protocol/openid-connect/token"
CLIENTS = {"ordergate-demo": "demo-secret"}
DEFAULT_LIMIT = 20
DESADV_PATH = "/proxy/des_adv_xml/delivery/"
EXTERNAL_KEY = "ext:"
MAX_LIMIT = 100


def drf_errors(exc: pydantic.ValidationError) -> dict[str, Any]:
    """A request body's validation errors keyed by field, nested for ``order_lines`` as DRF does."""
    errors: dict[str, Any] = {}
    for error in exc.errors():
        message = "This field is required." if error["type"] == "missing" else error["msg"]
        field, *rest = error["loc"] or ("non_field_errors",)
        if rest and isinstance(rest[0], int):
            nested = errors.setdefault(str(field), {})
            where = str(rest[1]) if len(rest) > 1 else "non_field_errors"
            nested.setdefault(rest[0], {}).setdefault(where, []).append(message)
        else:
            errors.setdefault(str(field), []).append(message)
    return errors


def page_links(url: URL, *, count: int, offset: int, limit: int) -> tuple[str | None, str | None]:
    """DRF ``LimitOffsetPagination``'s ``next`` and ``previous`` absolute URLs."""
    next_url = None
    if offset + limit < count:
        next_url = str(url.include_query_params(limit=limit, offset=offset + limit))
    previous_url = None
    if offset > 0:
        previous_url = (
            str(url.include_query_params(limit=limit).remove_query_params("offset"))
            if offset - limit <= 0
            else str(url.include_query_params(limit=limit, offset=offset - limit))
        )
    return next_url, previous_url


def _positive_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 0 else default


async def _body(request: Request, model: type[pydantic.BaseModel]) -> Any:
    try:
        data = await request.json()
    except ValueError as exc:
        raise InvalidRequest({"detail": f"JSON parse error - {exc}"}) from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InvalidRequest(
            {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
        )
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise InvalidRequest(drf_errors(exc)) from None


def paginated(
    request: Request, items: list[dict[str, Any]], render: Callable[[dict[str, Any]], Any]
) -> JSONResponse:
    """One page of ``items`` as DRF ``LimitOffsetPagination`` answers it."""
    limit = _positive_int(request.query_params.get("limit"), DEFAULT_LIMIT) or DEFAULT_LIMIT
    limit = min(limit, MAX_LIMIT)
    offset = _positive_int(request.query_params.get("offset"), 0)
    next_url, previous_url = page_links(request.url, count=len(items), offset=offset, limit=limit)
    return JSONResponse(
        {
            "count": len(items),
            "next": next_url,
            "previous": previous_url,
            "results": [render(item) for item in items[offset : offset + limit]],
        }
    )


NOT_FOUND = {"detail": "Not found."}


def xml_errors(errors: dict[str, list[str]], status: int) -> Response:
    """``<Errors><Error field="...">message</Error>...</Errors>``: the DESADV API's refusals."""
    root = ET.Element("Errors")
    for field, messages in errors.items():
        for message in messages:
            ET.SubElement(root, "Error", field=field).text = message
    return Response(ET.tostring(root, encoding="utf-8"), status, media_type="application/xml")


def api_routes(shop: ShopState) -> list[Route]:
    """The CloudSuite order API: list, detail, PATCH, PUT, the DESADV delivery, products."""

    def find(request: Request) -> dict[str, Any] | None:
        """By id, or ``ext:<key>``: by the key the merchant's ERP gives it (its ERP order
        number), as CloudSuite reads records by an external key."""
        raw = request.path_params["id"]
        if raw.startswith(EXTERNAL_KEY):
            key = raw.removeprefix(EXTERNAL_KEY)
            return next((o for o in shop.orders.values() if o["erp_order_number"] == key), None)
        return shop.orders.get(int(raw)) if raw.isdigit() else None

    async def list_orders(request: Request) -> JSONResponse:
        try:
            orders = shop.select(request.query_params)
        except InvalidRequest as exc:
            return JSONResponse(exc.errors, status_code=400)
        return paginated(request, orders, shop.render_order)

    async def list_products(request: Request) -> JSONResponse:
        return paginated(request, render_products(), lambda product: product)

    async def order_detail(request: Request) -> JSONResponse:
        order = find(request)
        if order is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        if request.method == "GET":
            return JSONResponse(shop.render_order(order))
        try:
            if request.method == "PATCH":
                shop.patch(order, await _body(request, wire.OrderPatch))
            else:
                shop.put(order, await _body(request, wire.OrderWrite))
        except InvalidRequest as exc:
            return JSONResponse(exc.errors, status_code=400)
        return JSONResponse(shop.render_order(order))

    async def receive_desadv(request: Request) -> Response:
        """The XML DESADV (``backends/webshop/desadv.py``), into ``shop`` for ``user``."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("application/xml", "text/xml"):
            return xml_errors({"content-type": ["A DESADV is XML (application/xml)."]}, 415)
        params = request.query_params
        if not params.get("shop", "").isdigit() or not params.get("user", "1").isdigit():
            return xml_errors({"shop": ["shop (and user) must be ids."]}, 400)
        user = params.get("user")
        try:
            desadv = from_xml(await request.body())
            delivery = shop.receive_desadv(
                desadv, shop=int(params["shop"]), user=None if user is None else int(user)
            )
        except ValueError as exc:
            return xml_errors({"Desadv": [str(exc)]}, 400)
        except InvalidRequest as exc:
            return xml_errors(exc.errors, 400)
        except AlreadyReceived as exc:
            return xml_errors(
                {"DesadvNumber": [f"DESADV {exc} has already been received; it is sent once."]},
                409,
            )
        answer = ET.Element("DesadvResponse")
        ET.SubElement(answer, "DesadvNumber").text = desadv.number
        ET.SubElement(answer, "DeliveryId").text = str(delivery["id"])
        return Response(ET.tostring(answer, encoding="utf-8"), 201, media_type="application/xml")

    return [
        Route("/api/order/", list_orders, methods=["GET"]),
        Route("/api/order/{id}/", order_detail, methods=["GET", "PATCH", "PUT"]),
        Route(DESADV_PATH, receive_desadv, methods=["POST"]),
        Route("/api/product/", list_products, methods=["GET"]),
    ]


def create_app(config: SimConfig) -> Starlette:
    """The simulated CloudSuite, seeded from ``config``, behind OAuth2 client credentials."""
    shop = ShopState(config)
    tokens = TokenStore(config.token_ttl_s)
    control = SimControl(seed=config.seed, tokens=tokens, reset_state=shop.reset)
    app = simulator_app(
        routes=[oauth_token_route(TOKEN_PATH, tokens, CLIENTS), *api_routes(shop)],
        control=control,
        auth_check=bearer_check(tokens),
        auth_exempt=lambda path: path == TOKEN_PATH,
        unauthorized_body={
            "detail": "Authentication credentials were not provided or are invalid."
        },
        malformed_body=b'{"count": 120, "next": null, "previous": null, "results": [{"id": 12',
    )
    app.state.shop = shop
    return app
