"""A simulated CRM Order Assets admin API (``shared/upstream-docs/002_*``), PascalCase JSON.

Offset-paged admin lists (``{Items, TotalItemsCount}``) of full order objects, single order
reads, the status and asset catalogs, and the order writes: the document's four asset PUTs
plus a status and a shipment update. ``docs/upstreams/crm.md`` describes every path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from backends.crm import simwhere, wire
from backends.crm.simstate import (
    DISCOUNT_CODES,
    GIFT_VOUCHERS,
    SHIPPING_OPTIONS,
    STATUSES,
    TAX_CODES,
    CrmState,
    Rejected,
    recompute,
    set_discount_code,
    set_gift_voucher,
    set_shipment,
    set_shipping_option,
    set_status,
    set_tax_code,
)
from backends.simkit.app import SimConfig, simulator_app
from backends.simkit.auth import TokenStore, bearer_check, oauth_token_route
from backends.simkit.control import SimControl

ADMIN = "/api/v2/admin"
TOKEN_PATH = "/api/v1/oauth/token"  # the real product's path (Treepl CMS)
TOKEN_ALIAS = "/oauth/token"  # the path earlier versions of this simulator served
CLIENTS = {"ordergate-demo": "demo-secret"}
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
SORT_FIELDS = ("ModifiedDateTime", "CreatedDateTime", "Id")
MALFORMED_BODY = b'{"Items": [{"Id": 10001, "AWBNumber": '

Body = TypeVar("Body", bound=BaseModel)


def wire_value(value: object) -> object:
    """JSON for the simulator's Python values: ``...Z`` timestamps with milliseconds, numbers."""
    if isinstance(value, datetime):
        utc = value.astimezone(UTC)
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
    if isinstance(value, Decimal):
        # Amounts carry at most two decimals: the shortest float repr has the same digits.
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


class CrmJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=wire_value, ensure_ascii=False).encode()


def reply(content: Any, status_code: int = 200) -> CrmJSONResponse:
    return CrmJSONResponse(content, status_code=status_code)


def message(text: str, status_code: int) -> CrmJSONResponse:
    return reply({"Message": text}, status_code)


def status_entry(status_id: int, name: str) -> dict[str, Any]:
    """One order status as Treepl's admin API lists it: the e-mail it sends customers, if
    any, whether it does, whether the site may delete it, and which case type it is for."""
    return {
        "Id": status_id,
        "Name": name,
        "EmailId": 100 + status_id if name in NOTIFYING_STATUSES else None,
        "NotifyCustomer": name in NOTIFYING_STATUSES,
        "IsSystem": name in ("New", "Cancelled"),
        "Type": "Order",
    }


NOTIFYING_STATUSES = frozenset({"Confirmed", "Shipped", "Delivered", "Cancelled"})


def item_list(items: list[Any], total: int | None = None) -> CrmJSONResponse:
    return reply({"Items": items, "TotalItemsCount": len(items) if total is None else total})


def create_app(config: SimConfig) -> Starlette:
    state = CrmState(config)
    tokens = TokenStore(config.token_ttl_s)
    control = SimControl(seed=config.seed, tokens=tokens, reset_state=state.reset)

    def order_or_404(request: Request) -> dict[str, Any]:
        raw = request.path_params["id"]
        order = state.orders.get(int(raw)) if raw.isascii() and raw.isdigit() else None
        if order is None:
            raise Rejected(f"Order {raw} was not found.", status=404)
        return order

    async def list_orders(request: Request) -> CrmJSONResponse:
        # ASP.NET binds query parameters case-insensitively.
        params = {key.lower(): value for key, value in request.query_params.items()}
        try:
            offset = int(params.get("offset", 0))
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return message("Offset and Limit must be integers.", 400)
        if offset < 0 or not 1 <= limit <= MAX_LIMIT:
            return message(f"Offset must be >= 0 and Limit between 1 and {MAX_LIMIT}.", 400)
        field, _, direction = params.get("order_by", "Id asc").partition(" ")
        direction = direction.strip().lower() or "asc"
        if field not in SORT_FIELDS or direction not in {"asc", "desc"}:
            return message(f"Order_By must be one of {', '.join(SORT_FIELDS)}, asc or desc.", 400)
        try:
            test = simwhere.parse(params["where"]) if "where" in params else None
        except simwhere.WhereError as exc:
            return message(str(exc), 400)
        ordered = sorted(
            (order for order in state.orders.values() if test is None or test(order)),
            key=lambda order: (order[field], order["Id"]),
            reverse=direction == "desc",
        )
        return item_list(ordered[offset : offset + limit], total=len(ordered))

    async def get_order(request: Request) -> CrmJSONResponse:
        try:
            return reply(order_or_404(request))
        except Rejected as exc:
            return message(exc.message, exc.status)

    async def order_statuses(request: Request) -> CrmJSONResponse:
        return item_list([status_entry(id_, name) for id_, name in STATUSES.items()])

    def catalog(entries: list[dict[str, Any]]) -> Callable[[Request], Any]:
        async def answer(request: Request) -> CrmJSONResponse:
            return item_list(entries)

        return answer

    def order_write(
        suffix: str, body_model: type[Body], apply: Callable[[dict[str, Any], Body], None]
    ) -> Route:
        """``PUT /orders/{id}/<suffix>``: validate, apply, recompute, answer the full order."""

        async def write(request: Request) -> CrmJSONResponse:
            try:
                order = order_or_404(request)
                try:
                    body = body_model.model_validate_json(await request.body())
                except ValidationError as exc:
                    problems = "; ".join(
                        f"{'.'.join(map(str, error['loc'])) or 'body'}: {error['msg']}"
                        for error in exc.errors()
                    )
                    raise Rejected(f"The request is invalid. {problems}") from exc
                apply(order, body)
            except Rejected as exc:
                return message(exc.message, exc.status)
            recompute(order)
            # Writes use the real clock; seed data never does.
            order["ModifiedDateTime"] = datetime.now(UTC)
            return reply(order)

        return Route(f"{ADMIN}/orders/{{id}}/{suffix}", write, methods=["PUT"])

    routes: list[BaseRoute] = [
        oauth_token_route(TOKEN_PATH, tokens, CLIENTS),
        oauth_token_route(TOKEN_ALIAS, tokens, CLIENTS),
        Route(f"{ADMIN}/orders", list_orders, methods=["GET"]),
        # before orders/{id}, which would take "order-statuses" for an order id
        Route(f"{ADMIN}/orders/order-statuses", order_statuses, methods=["GET"]),
        Route(f"{ADMIN}/order-statuses", order_statuses, methods=["GET"]),  # the first path
        Route(f"{ADMIN}/orders/{{id}}", get_order, methods=["GET"]),
        Route(f"{ADMIN}/discount-codes", catalog(DISCOUNT_CODES), methods=["GET"]),
        Route(f"{ADMIN}/gift-vouchers", catalog(GIFT_VOUCHERS), methods=["GET"]),
        Route(f"{ADMIN}/shipping-options", catalog(SHIPPING_OPTIONS), methods=["GET"]),
        Route(f"{ADMIN}/tax-codes", catalog(TAX_CODES), methods=["GET"]),
        order_write("discount-code", wire.SetDiscountCode, set_discount_code),
        order_write("gift-voucher", wire.SetGiftVoucher, set_gift_voucher),
        order_write("shipping", wire.SetShippingOption, set_shipping_option),
        order_write("tax", wire.SetTaxCode, set_tax_code),
        order_write("status", wire.SetStatus, set_status),
        order_write("shipment", wire.SetShipment, set_shipment),
    ]
    return simulator_app(
        routes=routes,
        control=control,
        auth_check=bearer_check(tokens),
        auth_exempt=lambda path: path in (TOKEN_PATH, TOKEN_ALIAS),
        unauthorized_body={"Message": "Authorization has been denied for this request."},
        malformed_body=MALFORMED_BODY,
    )
