"""A simulated B2B wholesale order API (``003_*``) speaking JSON, or XML on request.

JWT login at ``POST /api/login``, then Bearer. Reads answer ``{data, pagination}`` in
JSON, or the document's ``<export>`` XML for ``Accept: application/xml``; orders come
newest first by ``dateModified``. Writes take and answer JSON only (the document's POST
"exclusively handles JSON"). ``docs/upstreams/b2b.md`` describes every path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

import pydantic
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from backends.b2b.simstate import (
    API_USER,
    TIMESTAMP,
    UNPRICED,
    ZERO,
    B2BState,
    Document,
    address_line,
    client_ref,
    company_ref,
    discount_entry,
    line_detail,
    price_order,
    seed_state,
    timestamp,
)
from backends.b2b.wire import DiscountCreate, LineStatusUpdate, OrderCreate, OrderStatusUpdate
from backends.b2b.xmlcodec import write_export
from backends.simkit.app import SimConfig, simulator_app
from backends.simkit.auth import TokenStore, bearer_check, jwt_login_route
from backends.simkit.control import SimControl

M = TypeVar("M", bound=pydantic.BaseModel)

LOGIN_PATH = "/api/login"
USERS = {"demo": "demo"}
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
DELETABLE_STATUSES = frozenset({"PENDING", "CONFIRMED"})  # not yet in progress or shipped
XML = "application/xml"
# Neither valid JSON nor well-formed XML: a cut-off answer.
MALFORMED_BODY = b'{"data": [{"id": "10001", "idRemote": '


class Rejected(Exception):
    """A request the API refuses: answered ``{"code", "message", "field"}`` with ``status``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def invalid(field: str, problem: str) -> Rejected:
    return Rejected(400, f"{field}: {problem}", field)


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Rejected as exc:
            body = {"code": exc.status, "message": exc.message, "field": exc.field}
            return JSONResponse(body, status_code=exc.status)

    return endpoint


def render(request: Request, document: Document, status_code: int = 200) -> Response:
    """JSON, or ``<export>`` XML when the request accepts ``application/xml``."""
    if XML in request.headers.get("accept", ""):
        return Response(write_export(document), status_code, media_type=XML)
    return json_answer(document, status_code)


def json_answer(document: Document, status_code: int = 200) -> Response:
    # Amounts are JSON numbers, as the document prints them (Decimal -> shortest float).
    body = json.dumps(document, default=float, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code, media_type="application/json")


def paginate(request: Request, items: list[Document]) -> Document:
    """One page of ``items`` with the document's ``pagination`` block."""
    page = _int_param(request, "page", 1)
    page_size = _int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
    if page < 1:
        raise invalid("page", "must be 1 or more")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise invalid("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    total_pages = -(-len(items) // page_size)
    next_url = None
    if page < total_pages:
        # Relative, so answers do not depend on the host the simulator listens on.
        url = request.url.include_query_params(page=page + 1)
        next_url = f"{url.path}?{url.query}"
    return {
        "data": items[(page - 1) * page_size : page * page_size],
        "pagination": {
            "totalItems": len(items),
            "itemsPerPage": page_size,
            "currentPage": page,
            "totalPages": total_pages,
            "nextPageUrl": next_url,
        },
    }


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise invalid(name, f"{value!r} is not an integer") from None


async def read_body(request: Request, model: type[M]) -> M:
    try:
        body = await request.json()
    except ValueError:
        raise Rejected(400, "Invalid JSON.") from None
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        raise invalid(field.lstrip(".") or "body", error["msg"]) from None


def newest_first(orders: Iterable[Document]) -> list[Document]:
    return sorted(orders, key=lambda o: (o["dateModified"], int(o["id"])), reverse=True)


Filters = dict[str, Callable[[Document, str], bool]]
PARTNER_FILTERS: Filters = {
    "role": lambda partner, role: role in partner["roles"],
    "companyId": lambda partner, company_id: partner["company"]["id"] == company_id,
}
LOCATION_FILTERS: Filters = {
    "businessPartnerId": lambda location, partner_id: location["businessPartnerId"] == partner_id,
}
# Read-only catalogs: path, ``B2BState`` attribute, query filters besides id/page/pageSize.
CATALOGS: list[tuple[str, str, Filters]] = [
    ("/api/Order/getOrder/Status", "order_statuses", {}),
    ("/api/Order/getOrder/Line/Status", "line_statuses", {}),
    ("/api/Company/getCompany", "companies", {}),
    ("/api/BusinessPartner/getBusinessPartner", "partners", PARTNER_FILTERS),
    ("/api/Location/getLocation", "locations", LOCATION_FILTERS),
    ("/api/Season/getSeason", "seasons", {}),
    ("/api/Product/getProduct", "products", {}),
    ("/api/DiscountType/getDiscountType", "discount_types", {}),
]


class B2BSimulator:
    """The routes of one simulated B2B API over its ``B2BState``."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.state: B2BState = seed_state(config)

    def reset(self) -> None:
        self.state = seed_state(self.config)

    def routes(self) -> list[Route]:
        return [
            Route("/api/Order/getOrder", guarded(self.get_order), methods=["GET"]),
            Route("/api/Order/updatedFrom", guarded(self.updated_from), methods=["GET"]),
            Route("/api/Order/create", guarded(self.create_order), methods=["POST"]),
            Route("/api/Order/update/{id}", guarded(self.update_order), methods=["PUT"]),
            Route("/api/Order/delete/{id}", guarded(self.delete_order), methods=["DELETE"]),
            Route(
                "/api/Order/update/{id}/line/{line}",
                guarded(self.update_line_status),
                methods=["PUT"],
            ),
            *(
                Route(path, guarded(self.catalog(attribute, filters)), methods=["GET"])
                for path, attribute, filters in CATALOGS
            ),
        ]

    def catalog(self, attribute: str, filters: Filters) -> Handler:
        """``GET``: one entity by ``id`` (404 if unknown), or a page of them, filtered."""

        async def endpoint(request: Request) -> Response:
            by_id: dict[str, Document] = getattr(self.state, attribute)
            entity_id = request.query_params.get("id")
            if entity_id is not None:
                if entity_id not in by_id:
                    raise Rejected(404, f"{entity_id} not found.", "id")
                return render(request, paginate(request, [by_id[entity_id]]))
            params = request.query_params
            items = [
                entity
                for entity in by_id.values()
                if all(
                    keep(entity, params[name]) for name, keep in filters.items() if name in params
                )
            ]
            return render(request, paginate(request, items))

        return endpoint

    async def get_order(self, request: Request) -> Response:
        order_id = request.query_params.get("id")
        if order_id is None:
            return render(request, paginate(request, newest_first(self.state.orders.values())))
        order = self.state.orders.get(order_id)
        if order is None:
            raise Rejected(404, f"Order {order_id} not found.", "id")
        return render(request, paginate(request, [order]))

    async def updated_from(self, request: Request) -> Response:
        raw_date = request.query_params.get("date")
        if raw_date is None:
            raise invalid("date", "this value is required")
        try:
            since = timestamp(datetime.strptime(raw_date, TIMESTAMP))
        except ValueError:
            raise invalid("date", "expected the format 1999-01-01 01:00:00") from None
        # PHP's list syntax `status[]=A&status[]=B`; plain repeated `status` works too.
        statuses = request.query_params.getlist("status[]") + request.query_params.getlist("status")
        for status in statuses:
            if status not in self.state.order_statuses:
                raise invalid("status", f"unknown order status {status!r}")
        orders = [
            order
            for order in self.state.orders.values()
            if order["dateModified"] >= since and (not statuses or order["status"] in statuses)
        ]
        return render(request, paginate(request, newest_first(orders)))

    async def create_order(self, request: Request) -> Response:
        body = await read_body(request, OrderCreate)
        self._check_references(body)
        order = self._new_order(body, timestamp(datetime.now(UTC)))
        self.state.orders[order["id"]] = order
        return json_answer(order, 201)

    async def update_order(self, request: Request) -> Response:
        order = self.state.orders.get(request.path_params["id"])
        if order is None:
            raise Rejected(404, f"Order {request.path_params['id']} not found.", "id")
        body = await read_body(request, OrderStatusUpdate)
        if body.status not in self.state.order_statuses:
            raise invalid("status", f"order status {body.status!r} does not exist")
        now = timestamp(datetime.now(UTC))
        order.update(
            status=body.status,
            active=body.status != "CANCELLED",
            dateModified=now,
            updatedAt=now,
            updatedBy=dict(API_USER),
        )
        return json_answer(order)

    async def delete_order(self, request: Request) -> Response:
        """Delete an order that has not shipped (our reading: the document lists deletion
        without printing the call); a shipped one is refused, a deleted one is gone."""
        order = self.state.orders.get(request.path_params["id"])
        if order is None:
            raise Rejected(404, f"Order {request.path_params['id']} not found.", "id")
        if order["status"] not in DELETABLE_STATUSES:
            raise invalid("id", f"an order in status {order['status']} cannot be deleted")
        del self.state.orders[order["id"]]
        return json_answer({"id": order["id"], "deleted": True})

    async def update_line_status(self, request: Request) -> Response:
        """A line to another status of the line-status catalog (our reading: the document
        says lines have a status and the API modifies orders, without printing the call).
        DELETED records the cancellation date; SHIPPED serves the whole quantity."""
        order = self.state.orders.get(request.path_params["id"])
        line = next(
            (
                line
                for line in (order or {}).get("lines", [])
                if line["id"] == request.path_params["line"]
            ),
            None,
        )
        if order is None or line is None:
            raise Rejected(404, "Order or line not found.", "id")
        body = await read_body(request, LineStatusUpdate)
        if body.lineStatusId not in self.state.line_statuses:
            raise invalid("lineStatusId", f"line status {body.lineStatusId!r} does not exist")
        now = timestamp(datetime.now(UTC))
        line["lineStatus"] = body.lineStatusId
        line["cancellationDate"] = now if body.lineStatusId == "DELETED" else None
        if body.lineStatusId == "SHIPPED":
            line["quantityServed"] = line["quantityFromStock"] = line["quantity"]
        order.update(dateModified=now, updatedAt=now, updatedBy=dict(API_USER))
        return json_answer(order)

    def _check_references(self, body: OrderCreate) -> None:
        """The document's registration rules; the first broken one names its field."""
        state = self.state
        company = state.companies.get(body.companyId)
        if company is None:
            raise invalid("companyId", f"company {body.companyId} does not exist")
        for field, partner_id, role in (
            ("clientId", body.clientId, "Client"),
            ("agentId", body.agentId, "Representant"),
        ):
            partner = state.partners.get(partner_id)
            if partner is None or role not in partner["roles"]:
                raise invalid(field, f"business partner {partner_id} has no role {role}")
            if partner["company"]["id"] != company["id"]:
                raise invalid(
                    field, f"business partner {partner_id} is not of company {company['id']}"
                )
        if body.seasonId is not None and body.seasonId not in state.seasons:
            raise invalid("seasonId", f"season {body.seasonId} does not exist")
        for field, location_id, flag in (
            ("shippingAddressId", body.shippingAddressId, "shippingAddress"),
            ("billingAddressId", body.billingAddressId, "billingAddress"),
        ):
            location = state.locations.get(location_id)
            if location is None or location["businessPartnerId"] != body.clientId:
                raise invalid(field, f"location {location_id} is not a location of the client")
            if not location[flag]:
                raise invalid(field, f"location {location_id} is not a {flag}")
        if body.statusId not in state.order_statuses:
            raise invalid("statusId", f"order status {body.statusId!r} does not exist")
        self._check_discounts("discount", body.discount)
        for index, line in enumerate(body.lines):
            if line.productId not in state.products:
                raise invalid(
                    f"lines[{index}].productId", f"product {line.productId} does not exist"
                )
            if line.lineStatusId not in state.line_statuses:
                raise invalid(
                    f"lines[{index}].lineStatusId",
                    f"line status {line.lineStatusId!r} does not exist",
                )
            self._check_discounts(f"lines[{index}].discount", line.discount)

    def _check_discounts(self, field: str, discounts: list[DiscountCreate]) -> None:
        for index, discount in enumerate(discounts):
            if discount.discountTypeId not in self.state.discount_types:
                raise invalid(
                    f"{field}[{index}].discountTypeId",
                    f"discount type {discount.discountTypeId} does not exist",
                )

    def _new_order(self, body: OrderCreate, now: str) -> Document:
        """The order ``body`` describes, priced; client-given ids become ``idRemote``."""
        state = self.state
        agent = state.partners[body.agentId]
        order: Document = {
            "id": state.new_order_id(),
            "idRemote": body.id,
            "reference": body.reference,
            "numOrder": f"SO-{now[:4]}-{len(state.orders) + 1:05d}",
            "company": company_ref(state.companies[body.companyId]),
            "client": client_ref(state.partners[body.clientId]),
            "agent": agent["contactName"],
            "status": body.statusId,
            "season": dict(state.seasons[body.seasonId]) if body.seasonId else None,
            "shippingAddress": address_line(state.locations[body.shippingAddressId]),
            "billingAddress": address_line(state.locations[body.billingAddressId]),
            "discount": self._discounts(body.discount, order_level=True),
            "lines": [
                {
                    "id": state.new_line_id(),
                    "idRemote": line.id,
                    "lineStatus": line.lineStatusId,
                    "discount": self._discounts(line.discount, order_level=False),
                    "observations": line.observations,
                    "deliveryDate": line.deliveryDate,
                    "cancellationDate": None,
                    "lineAmount": ZERO,
                    "quantity": line.quantity,
                    "quantityServed": 0,
                    "quantityFromStock": 0,
                    "lineDetail": [
                        line_detail(
                            state, state.products[line.productId], line.quantity, line.price
                        )
                    ],
                }
                for line in body.lines
            ],
            "dateOrder": now,
            "dateModified": now,
            "dateDelivery": body.dateDelivery,
            "observation": body.observation,
            **UNPRICED,
            "shipper": None,
            "origin": "API",
            "isSale": True,
            "active": body.statusId != "CANCELLED",
            "createdBy": dict(API_USER),
            "updatedBy": dict(API_USER),
            "createdAt": now,
            "updatedAt": now,
        }
        price_order(order)
        return order

    def _discounts(self, discounts: list[DiscountCreate], *, order_level: bool) -> list[Document]:
        return [
            discount_entry(
                self.state,
                self.state.discount_types[discount.discountTypeId],
                sequence=discount.sequence or index + 1,
                percent=discount.discount,
                remote_id=discount.id,
                is_line=discount.isLine if order_level else None,
            )
            for index, discount in enumerate(discounts)
        ]


def create_app(config: SimConfig) -> Starlette:
    """The simulated B2B API with its seed data, JWT login and ``/_sim/`` control."""
    simulator = B2BSimulator(config)
    tokens = TokenStore(config.token_ttl_s)
    routes: list[BaseRoute] = [jwt_login_route(LOGIN_PATH, tokens, USERS), *simulator.routes()]
    return simulator_app(
        routes=routes,
        control=SimControl(seed=config.seed, tokens=tokens, reset_state=simulator.reset),
        auth_check=bearer_check(tokens),
        auth_exempt=lambda path: path == LOGIN_PATH,
        unauthorized_body={"code": 401, "message": "Invalid JWT Token"},
        malformed_body=MALFORMED_BODY,
    )
