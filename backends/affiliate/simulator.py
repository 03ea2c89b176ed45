"""The simulated affiliate-orders platform over HTTP, speaking ``docs/upstreams/affiliate.md``.

The data and the write rules live in ``simstate.AffiliatePlatform``; this module is the API
around it: ``X-Api-Key`` scopes, query parameters, the error shape, and ``Idempotency-Key``
replays of writes.
"""

from __future__ import annotations

import functools
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from backends.affiliate import wire
from backends.affiliate.simstate import (
    AFFILIATES,
    PAYMENT_STATUSES,
    STATUSES,
    AffiliatePlatform,
    ApiProblem,
)
from backends.simkit.app import SimConfig, simulator_app
from backends.simkit.auth import TokenStore
from backends.simkit.control import SimControl

READ, WRITE, WEBHOOKS = "orders:read", "orders:write", "webhooks:manage"
API_KEYS: dict[str, frozenset[str]] = {
    "demo-affiliate-key": frozenset({READ, WRITE, WEBHOOKS}),
    "demo-affiliate-readonly-key": frozenset({READ}),
}
SORTS = frozenset({"id", "-id", "created_at", "-created_at", "updated_at", "-updated_at"})
MAX_LIMIT, DEFAULT_LIMIT = 100, 50
# How long the platform remembers the first answer to an ``Idempotency-Key``.
IDEMPOTENCY_TTL_S = 24 * 3600.0


# -- query parameters ---------------------------------------------------------------------


def query_int(raw: str | None, name: str, default: int, *, minimum: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ApiProblem(400, "bad_request", f"{name}: an integer of at least {minimum}")
    return int(raw)


def query_list(raw: list[str], name: str, allowed: Any) -> frozenset[str] | None:
    """A repeatable parameter whose values may also be comma lists."""
    if not raw:
        return None
    values = {value.strip() for entry in raw for value in entry.split(",") if value.strip()}
    unknown = sorted(values - set(allowed))
    if unknown:
        raise ApiProblem(400, "bad_request", f"{name}: unknown value(s) {', '.join(unknown)}")
    return frozenset(values)


def query_ids(raw: str | None) -> frozenset[int] | None:
    if raw is None:
        return None
    values = [value.strip() for value in raw.split(",") if value.strip()]
    if not all(value.isdigit() for value in values):
        raise ApiProblem(400, "bad_request", "ids: a comma-separated list of order ids")
    return frozenset(int(value) for value in values)


def query_time(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiProblem(400, "bad_request", "updated_since: an ISO 8601 timestamp") from None
    # A timestamp without offset is UTC, like every timestamp the platform writes.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def listing(platform: AffiliatePlatform, params: QueryParams) -> dict[str, Any]:
    """``GET /api/v1/orders``: filter, sort (ties by id) and page the platform's orders."""
    offset = query_int(params.get("offset"), "offset", 0, minimum=0)
    limit = query_int(params.get("limit"), "limit", DEFAULT_LIMIT, minimum=1)
    if limit > MAX_LIMIT:
        raise ApiProblem(400, "bad_request", f"limit: at most {MAX_LIMIT}")
    statuses = query_list(params.getlist("status"), "status", STATUSES)
    payments = query_list(params.getlist("payment_status"), "payment_status", PAYMENT_STATUSES)
    ids = query_ids(params.get("ids"))
    since = query_time(params.get("updated_since"))
    order_number = params.get("order_number")
    sort = params.get("sort", "-created_at")
    if sort not in SORTS:
        raise ApiProblem(400, "bad_request", f"sort: one of {', '.join(sorted(SORTS))}")
    matches = [
        order
        for order in platform.orders.values()
        if (statuses is None or order.status in statuses)
        and (payments is None or order.payment_status in payments)
        and (ids is None or order.id in ids)
        and (order_number is None or order.order_number == order_number)
        and (since is None or order.updated_at >= since)
    ]
    key = sort.lstrip("-")
    matches.sort(key=lambda order: (getattr(order, key), order.id), reverse=sort[0] == "-")
    page = matches[offset : offset + limit]
    return {
        "data": [order.to_wire() for order in page],
        "meta": {"offset": offset, "limit": limit, "total": len(matches)},
    }


# -- idempotent writes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request: tuple[str, str, Any]  # method, path, body (parsed JSON, or the raw bytes)
    status: int
    body: bytes
    media_type: str | None
    stored_at: float


class IdempotencyStore:
    """The first answer to each ``Idempotency-Key`` (per API key) for 24 hours.

    The same key with the same request answers that stored answer again and changes
    nothing; the same key with another request is a ``422 idempotency_key_reused``.
    """

    def __init__(self, ttl_s: float = IDEMPOTENCY_TTL_S) -> None:
        self.ttl_s = ttl_s
        self.answers: dict[tuple[str, str], StoredAnswer] = {}

    def reset(self) -> None:
        self.answers.clear()

    def replay(self, scope: tuple[str, str], request: tuple[str, str, Any]) -> Response | None:
        """The stored answer for this key, ``None`` when there is none (or it expired)."""
        stored = self.answers.get(scope)
        if stored is None or time.monotonic() - stored.stored_at > self.ttl_s:
            return None
        if stored.request != request:
            raise ApiProblem(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request",
            )
        return Response(stored.body, status_code=stored.status, media_type=stored.media_type)

    def remember(
        self, scope: tuple[str, str], request: tuple[str, str, Any], response: Response
    ) -> None:
        self.answers[scope] = StoredAnswer(
            request,
            response.status_code,
            bytes(response.body),
            response.media_type,
            time.monotonic(),
        )


async def request_identity(request: Request) -> tuple[str, str, Any]:
    """What makes two requests "the same" for a key: method, path and the JSON body's value."""
    raw = await request.body()
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw
    return request.method, request.url.path, body


# -- HTTP ---------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def api_key_scopes(headers: Headers) -> frozenset[str] | None:
    key = headers.get("x-api-key", "").encode()
    matches = (
        scopes for known, scopes in API_KEYS.items() if hmac.compare_digest(known.encode(), key)
    )
    return next(matches, None)


def problem_response(problem: ApiProblem) -> JSONResponse:
    return JSONResponse(problem.body, status_code=problem.status)


def endpoint(scope: str, replays: IdempotencyStore | None = None) -> Callable[[Handler], Handler]:
    """Checks the key's scope (403), renders ``ApiProblem`` and body validation errors, and
    with ``replays`` (writes) answers a repeated ``Idempotency-Key`` from the store."""

    def wrap(handler: Handler) -> Handler:
        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem_response(problem)
            except pydantic.ValidationError as exc:
                return problem_response(validation_problem(exc))

        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            if scope not in (api_key_scopes(request.headers) or ()):
                return problem_response(
                    ApiProblem(403, "forbidden", f"This API key lacks the {scope} scope")
                )
            idempotency_key = request.headers.get("idempotency-key")
            if replays is None or not idempotency_key:
                return await answer(request)
            key_scope = (request.headers["x-api-key"], idempotency_key)
            identity = await request_identity(request)
            try:
                stored = replays.replay(key_scope, identity)
            except ApiProblem as problem:
                return problem_response(problem)
            if stored is not None:
                return stored
            # No await between the look-up and ``remember`` suspends (the body is already
            # read), so two requests with one key cannot both run the write.
            response = await answer(request)
            replays.remember(key_scope, identity, response)
            return response

        return run

    return wrap


def validation_problem(exc: pydantic.ValidationError) -> ApiProblem:
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors()
    ]
    message = f"{errors[0]['field']}: {errors[0]['message']}"
    return ApiProblem(422, "validation_failed", message, errors=errors)


def routes(platform: AffiliatePlatform, replays: IdempotencyStore) -> list[BaseRoute]:
    def now() -> datetime:
        return datetime.now(UTC)

    def ok(data: Any, status_code: int = 200) -> JSONResponse:
        return JSONResponse({"data": data}, status_code=status_code)

    @endpoint(READ)
    async def list_orders(request: Request) -> Response:
        return JSONResponse(listing(platform, request.query_params))

    @endpoint(READ)
    async def get_order(request: Request) -> Response:
        return ok(platform.order(request.path_params["order_id"]).to_wire())

    @endpoint(WRITE, replays)
    async def create_order(request: Request) -> Response:
        body = wire.OrderCreate.model_validate_json(await request.body())
        return ok(platform.create(body, now()).to_wire(), 201)

    @endpoint(WRITE, replays)
    async def edit_order(request: Request) -> Response:
        order = platform.order(request.path_params["order_id"])
        platform.edit(order, wire.OrderEdit.model_validate_json(await request.body()), now())
        return ok(order.to_wire())

    @endpoint(WRITE, replays)
    async def update_status(request: Request) -> Response:
        order = platform.order(request.path_params["order_id"])
        body = wire.StatusUpdate.model_validate_json(await request.body())
        platform.change_status(order, body, now())
        return ok(order.to_wire())

    @endpoint(WRITE, replays)
    async def split_order(request: Request) -> Response:
        order = platform.order(request.path_params["order_id"])
        body = wire.SplitRequest.model_validate_json(await request.body())
        new_order = platform.split(order, body, now())
        return ok({"order": order.to_wire(), "split_order": new_order.to_wire()}, 201)

    @endpoint(READ)
    async def order_statuses(request: Request) -> Response:
        return ok(
            [
                {"code": code, "name": name, "final": not allowed, "next": list(allowed)}
                for code, (name, allowed) in STATUSES.items()
            ]
        )

    @endpoint(READ)
    async def affiliates(request: Request) -> Response:
        return ok(
            [
                {"id": id_, "name": name, "commission_rate": str(rate)}
                for id_, (name, rate) in AFFILIATES.items()
            ]
        )

    @endpoint(WEBHOOKS, replays)
    async def create_webhook(request: Request) -> Response:
        body = wire.WebhookCreate.model_validate_json(await request.body())
        return ok(platform.webhooks.register(body, now()), 201)

    @endpoint(WEBHOOKS)
    async def list_webhooks(request: Request) -> Response:
        # The secret is shown once, in the answer that registers the webhook.
        hooks = platform.webhooks.hooks.values()
        return ok(
            [{key: value for key, value in hook.items() if key != "secret"} for hook in hooks]
        )

    @endpoint(WEBHOOKS, replays)
    async def delete_webhook(request: Request) -> Response:
        raw_id = request.path_params["webhook_id"]
        if not raw_id.isdigit() or platform.webhooks.hooks.pop(int(raw_id), None) is None:
            raise ApiProblem(404, "not_found", f"Webhook {raw_id} not found")
        return Response(status_code=204)

    return [
        Route("/api/v1/orders", list_orders, methods=["GET"]),
        Route("/api/v1/orders", create_order, methods=["POST"]),
        Route("/api/v1/orders/{order_id}", get_order, methods=["GET"]),
        Route("/api/v1/orders/{order_id}", edit_order, methods=["PUT"]),
        Route("/api/v1/orders/{order_id}/status", update_status, methods=["PATCH"]),
        Route("/api/v1/orders/{order_id}/split", split_order, methods=["POST"]),
        Route("/api/v1/order-statuses", order_statuses, methods=["GET"]),
        Route("/api/v1/affiliates", affiliates, methods=["GET"]),
        Route("/api/v1/webhooks", create_webhook, methods=["POST"]),
        Route("/api/v1/webhooks", list_webhooks, methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    ]


def create_app(config: SimConfig) -> Starlette:
    """The affiliate platform on its own routes, behind ``X-Api-Key`` and the ``/_sim/`` layer."""
    platform = AffiliatePlatform(config)
    replays = IdempotencyStore()

    def reset_state() -> None:
        platform.reset()
        replays.reset()

    control = SimControl(
        seed=config.seed, tokens=TokenStore(config.token_ttl_s), reset_state=reset_state
    )
    app = simulator_app(
        routes=routes(platform, replays),
        control=control,
        auth_check=lambda headers: api_key_scopes(headers) is not None,
        unauthorized_body={"error": "unauthorized", "message": "Missing or invalid X-Api-Key"},
        on_shutdown=platform.webhooks.aclose,
        malformed_body=b'{"data": [{"id": 100001, "order_number": ',
    )
    app.state.platform = platform
    return app
