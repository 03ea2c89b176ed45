"""The simulated affiliate platform over a real socket, as ``docs/upstreams/affiliate.md`` says."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backends.affiliate import wire
from backends.affiliate.simulator import create_app
from backends.simkit.app import SimConfig
from tests.support import SimControlClient, serving

KEY = {"X-Api-Key": "demo-affiliate-key"}
READ_ONLY = {"X-Api-Key": "demo-affiliate-readonly-key"}
SEED = SimConfig(seed=7, orders=120)


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SEED)) as url:
        yield url


@pytest.fixture
def api(sim_url: str) -> Iterator[httpx.Client]:
    SimControlClient(sim_url).reset()
    with httpx.Client(base_url=sim_url, headers=KEY) as client:
        yield client


def orders(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/orders", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def walk(api: httpx.Client, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every order of a listing, page by page."""
    seen: list[dict[str, Any]] = []
    while True:
        body = api.get(
            "/api/v1/orders", params={"offset": len(seen), "limit": limit, **params}
        ).json()
        seen += body["data"]
        if len(seen) >= body["meta"]["total"]:
            return seen


def one(api: httpx.Client, status: str) -> dict[str, Any]:
    """The newest order in a status."""
    return orders(api, status=status, sort="-updated_at", limit=1)[0]


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# -- auth -------------------------------------------------------------------------------------


def test_requests_without_a_valid_key_get_401_json(sim_url: str) -> None:
    for headers in ({}, {"X-Api-Key": "not-a-key"}, {"Authorization": "Bearer demo-affiliate-key"}):
        response = httpx.get(f"{sim_url}/api/v1/orders", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_read_only_key_reads_but_may_not_write(api: httpx.Client) -> None:
    order = one(api, "pending")
    assert api.get("/api/v1/orders", headers=READ_ONLY).status_code == 200
    refused = api.patch(
        f"/api/v1/orders/{order['id']}/status", json={"status": "confirmed"}, headers=READ_ONLY
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == "This API key lacks the orders:write scope"
    assert api.get("/api/v1/webhooks", headers=READ_ONLY).status_code == 403
    assert api.get(f"/api/v1/orders/{order['id']}").json()["data"]["status"] == "pending"


# -- reads ------------------------------------------------------------------------------------


def test_pagination_walks_every_order_once_newest_first(api: httpx.Client) -> None:
    everything = walk(api, 100, sort="-updated_at")
    pages = walk(api, 17, sort="-updated_at")
    assert [o["id"] for o in pages] == [o["id"] for o in everything]
    assert len({o["id"] for o in pages}) == len(pages) >= SEED.orders
    keys = [(o["updated_at"], o["id"]) for o in pages]
    assert keys == sorted(keys, reverse=True)


def test_default_sort_is_newest_created_and_other_sorts_work(api: httpx.Client) -> None:
    default = orders(api)
    assert [(o["created_at"], o["id"]) for o in default] == sorted(
        ((o["created_at"], o["id"]) for o in default), reverse=True
    )
    ascending = orders(api, sort="id")
    assert [o["id"] for o in ascending] == sorted(o["id"] for o in ascending)
    assert api.get("/api/v1/orders", params={"sort": "price"}).status_code == 400


def test_status_filter_takes_a_comma_list_or_repeats(api: httpx.Client) -> None:
    comma = orders(api, status="pending,cancelled")
    repeated = orders(api, status=["pending", "cancelled"])
    assert comma == repeated
    assert {o["status"] for o in comma} == {"pending", "cancelled"}
    every = walk(api, 100)
    assert len(comma) == sum(o["status"] in {"pending", "cancelled"} for o in every)
    assert api.get("/api/v1/orders", params={"status": "shipped"}).status_code == 400


def test_payment_status_updated_since_ids_and_order_number_filters(api: httpx.Client) -> None:
    assert {o["payment_status"] for o in orders(api, payment_status="refunded")} == {"refunded"}
    every = walk(api, 100, sort="-updated_at")
    since = every[30]["updated_at"]
    recent = walk(api, 100, updated_since=since, sort="-updated_at")
    assert recent == [o for o in every if o["updated_at"] >= since]
    assert api.get("/api/v1/orders", params={"updated_since": "soon"}).status_code == 400
    picked = orders(api, ids=f"{every[3]['id']},{every[9]['id']},999999")
    assert {o["id"] for o in picked} == {every[3]["id"], every[9]["id"]}
    assert orders(api, order_number=every[5]["order_number"]) == [every[5]]


def test_limit_above_the_maximum_is_refused(api: httpx.Client) -> None:
    response = api.get("/api/v1/orders", params={"limit": 101})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_single_order_and_404(api: httpx.Client) -> None:
    listed = orders(api, limit=1)[0]
    assert api.get(f"/api/v1/orders/{listed['id']}").json() == {"data": listed}
    for missing in ("999999", "abc"):
        response = api.get(f"/api/v1/orders/{missing}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_seed_is_realistic(api: httpx.Client) -> None:
    every = [wire.Order.model_validate(o) for o in walk(api, 100)]
    assert {o.status for o in every} == {e["code"] for e in statuses(api)}
    assert {o.order_source for o in every} == {"affiliate"}
    assert len({o.currency for o in every}) > 1
    assert any(len(o.items) > 2 for o in every)
    assert any(o.coupon_code for o in every)
    assert any(o.split_order_ids for o in every)
    for order in every:
        shipped = order.status in {"dispatched", "delivered", "completed", "returned"}
        assert (order.consignment_number is not None) == shipped
        rate, base = order.commission_rate, sum(item.total for item in order.items)
        expected = (
            Decimal("0.00")
            if order.status in {"cancelled", "returned"}
            else cents(rate * base / 100)
        )
        assert order.commission_amount == expected


def statuses(api: httpx.Client) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/order-statuses").json()["data"])


def test_same_seed_same_bytes_other_seed_other_orders() -> None:
    def first_page(config: SimConfig) -> bytes:
        with serving(create_app(config)) as url:
            return httpx.get(f"{url}/api/v1/orders?limit=100&sort=-updated_at", headers=KEY).content

    assert first_page(SEED) == first_page(SEED)
    assert first_page(SEED) != first_page(SimConfig(seed=8))


def test_stats_count_by_route_template(sim_url: str, api: httpx.Client) -> None:
    control = SimControlClient(sim_url)
    api.get("/api/v1/orders/100001")
    api.get("/api/v1/orders/100002")
    api.get("/api/v1/orders")
    api.get("/api/v1/order-statuses")
    assert control.stats() == {
        "total": 4,
        "requests": {
            "GET /api/v1/orders/{order_id}": 2,
            "GET /api/v1/orders": 1,
            "GET /api/v1/order-statuses": 1,
        },
    }


def test_malformed_fault_answers_truncated_json(sim_url: str, api: httpx.Client) -> None:
    SimControlClient(sim_url).set_faults(malformed_rate=1.0)
    response = api.get("/api/v1/orders")
    with pytest.raises(json.JSONDecodeError):
        response.json()


# -- writes -----------------------------------------------------------------------------------

NEW_ORDER = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "affiliate" / "create-order.request.json").read_text()
)


def test_insert_creates_a_pending_order_with_totals_and_commission(api: httpx.Client) -> None:
    response = api.post("/api/v1/orders", json=NEW_ORDER)
    assert response.status_code == 201
    created = response.json()["data"]
    assert created["status"] == "pending"
    assert created["order_number"] == f"AFF-{created['id']}"
    assert created["billing_address"] == created["shipping_address"]
    # 149.00 + (25.00 - 2.50) = 171.50; tax 19%: 28.31 + 4.28; Outdoor Insiders 10%
    assert created["totals"] == {
        "subtotal": "174.00",
        "discount": "2.50",
        "shipping": "4.95",
        "tax": "32.59",
        "total": "209.04",
    }
    assert created["commission_amount"] == "17.15"
    assert api.get(f"/api/v1/orders/{created['id']}").json()["data"] == created
    assert orders(api, sort="-updated_at", limit=1)[0]["id"] == created["id"]


def test_insert_validates(api: httpx.Client) -> None:
    bad = {**NEW_ORDER, "items": [{**NEW_ORDER["items"][0], "quantity": 0}], "colour": "red"}
    response = api.post("/api/v1/orders", json=bad)
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"items.0.quantity", "colour"}
    unknown = api.post("/api/v1/orders", json={**NEW_ORDER, "affiliate_id": 99})
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (422, "affiliate_id")
    assert api.post("/api/v1/orders", content=b"{not json").status_code == 422
    taken = one(api, "pending")["order_number"]
    duplicate = api.post("/api/v1/orders", json={**NEW_ORDER, "order_number": taken})
    assert duplicate.status_code == 409


def test_status_update_and_dispatch_with_consignment_number(api: httpx.Client) -> None:
    order = one(api, "confirmed")
    path = f"/api/v1/orders/{order['id']}/status"
    missing = api.patch(path, json={"status": "dispatched", "carrier": "DHL"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "consignment_number"
    dispatched = api.patch(
        path, json={"status": "dispatched", "consignment_number": "CN123", "carrier": "DHL"}
    ).json()["data"]
    read_back = api.get(f"/api/v1/orders/{order['id']}").json()["data"]
    assert read_back == dispatched
    assert (read_back["status"], read_back["consignment_number"]) == ("dispatched", "CN123")
    assert read_back["carrier"] == "DHL" and read_back["dispatched_at"] is not None
    assert read_back["updated_at"] > order["updated_at"]
    assert api.patch(path, json={"status": "dispatched"}).json()["data"] == read_back  # retry


def test_invalid_transitions_are_409(api: httpx.Client) -> None:
    delivered = one(api, "delivered")
    response = api.patch(f"/api/v1/orders/{delivered['id']}/status", json={"status": "cancelled"})
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition"
    stray = api.patch(
        f"/api/v1/orders/{delivered['id']}/status", json={"status": "completed", "carrier": "DHL"}
    )
    assert stray.status_code == 422


def test_cancelling_zeroes_the_commission(api: httpx.Client) -> None:
    order = one(api, "pending")
    assert Decimal(order["commission_amount"]) > 0
    cancelled = api.patch(
        f"/api/v1/orders/{order['id']}/status", json={"status": "cancelled", "note": "customer"}
    ).json()["data"]
    assert (cancelled["status"], cancelled["commission_amount"]) == ("cancelled", "0.00")
    assert cancelled["status_note"] == "customer"
    assert cancelled["totals"] == order["totals"]


def test_edit_replaces_items_and_recomputes(api: httpx.Client) -> None:
    order = one(api, "processing")
    kept = order["items"][0]
    body = {
        "items": [
            {
                **{k: kept[k] for k in ("id", "sku", "name", "unit_price", "tax_rate")},
                "quantity": 5,
            },
            {
                "sku": "MUG-STONE",
                "name": "Stoneware mug",
                "quantity": 1,
                "unit_price": "9.75",
                "tax_rate": "0.00",
            },
        ],
        "shipping": "0.00",
        "note": None,
    }
    edited = api.put(f"/api/v1/orders/{order['id']}", json=body).json()["data"]
    assert api.get(f"/api/v1/orders/{order['id']}").json()["data"] == edited
    assert edited["items"][0]["id"] == kept["id"]
    assert len(edited["items"]) == 2 and edited["items"][1]["id"] not in {
        i["id"] for i in order["items"]
    }
    base = 5 * Decimal(kept["unit_price"]) + Decimal("9.75")
    assert Decimal(edited["totals"]["subtotal"]) == base
    assert Decimal(edited["commission_amount"]) == cents(
        Decimal(order["commission_rate"]) * base / 100
    )
    assert edited["note"] is None and edited["updated_at"] > order["updated_at"]


def test_edit_refuses_foreign_items_and_locked_orders(api: httpx.Client) -> None:
    order = one(api, "pending")
    foreign = {
        "id": 1,
        "sku": "X",
        "name": "X",
        "quantity": 1,
        "unit_price": "1.00",
        "tax_rate": "0",
    }
    assert api.put(f"/api/v1/orders/{order['id']}", json={"items": [foreign]}).status_code == 422
    completed = one(api, "completed")
    locked = api.put(f"/api/v1/orders/{completed['id']}", json={"note": "late"})
    assert (locked.status_code, locked.json()["error"]) == (409, "order_locked")


def test_split_moves_quantities_to_one_new_order(api: httpx.Client) -> None:
    editable = orders(api, status="pending,confirmed,processing")
    order = next(o for o in editable if o["items"][0]["quantity"] >= 2 or len(o["items"]) > 1)
    first = order["items"][0]
    moved = 1 if first["quantity"] >= 2 else first["quantity"]
    response = api.post(
        f"/api/v1/orders/{order['id']}/split",
        json={"items": [{"item_id": first["id"], "quantity": moved}]},
    )
    assert response.status_code == 201
    original, split = response.json()["data"]["order"], response.json()["data"]["split_order"]
    assert split["parent_order_id"] == order["id"]
    assert original["split_order_ids"] == [*order["split_order_ids"], split["id"]]
    assert split["order_number"] == f"{order['order_number']}-{len(original['split_order_ids'])}"
    assert [(i["sku"], i["quantity"]) for i in split["items"]] == [(first["sku"], moved)]
    before = sum(i["quantity"] for i in order["items"])
    assert sum(i["quantity"] for i in original["items"]) == before - moved
    for key in ("subtotal", "discount"):
        assert Decimal(original["totals"][key]) + Decimal(split["totals"][key]) == Decimal(
            order["totals"][key]
        )
    assert split["totals"]["shipping"] == "0.00"
    assert api.get(f"/api/v1/orders/{split['id']}").json()["data"] == split
    assert api.get(f"/api/v1/orders/{order['id']}").json()["data"] == original


def test_split_refuses_moving_everything_or_too_much(api: httpx.Client) -> None:
    order = one(api, "pending")
    path = f"/api/v1/orders/{order['id']}/split"
    everything = [{"item_id": i["id"], "quantity": i["quantity"]} for i in order["items"]]
    assert api.post(path, json={"items": everything}).status_code == 422
    item = order["items"][0]
    too_much = api.post(
        path, json={"items": [{"item_id": item["id"], "quantity": item["quantity"] + 1}]}
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "items.0.quantity"
    dispatched = one(api, "dispatched")
    locked = api.post(
        f"/api/v1/orders/{dispatched['id']}/split",
        json={"items": [{"item_id": dispatched["items"][0]["id"], "quantity": 1}]},
    )
    assert locked.status_code == 409


def test_webhooks_receive_signed_events(api: httpx.Client) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    with serving(receiver) as receiver_url:
        registered = api.post(
            "/api/v1/webhooks",
            json={
                "url": f"{receiver_url}/hook",
                "events": ["order.status_changed"],
                "secret": "topsecret",
            },
        )
        assert registered.status_code == 201
        hook = registered.json()["data"]
        assert api.get("/api/v1/webhooks").json()["data"] == [
            {key: value for key, value in hook.items() if key != "secret"}
        ]
        order = one(api, "pending")
        api.patch(f"/api/v1/orders/{order['id']}/status", json={"status": "confirmed"})
        for _ in range(200):
            if received:
                break
            time.sleep(0.01)
    (headers, body), *rest = received
    assert rest == []
    expected = hmac.new(
        b"topsecret", f"{headers['x-affiliate-timestamp']}.".encode() + body, hashlib.sha256
    )
    assert headers["x-affiliate-signature"] == f"sha256={expected.hexdigest()}"
    event = wire.WebhookEvent.model_validate_json(body)
    assert (event.event, event.data.id, event.data.status) == (
        "order.status_changed",
        order["id"],
        "confirmed",
    )
    assert headers["x-affiliate-delivery"] == event.id
    assert api.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert api.get("/api/v1/webhooks").json()["data"] == []
    assert api.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_unreachable_webhook_never_fails_the_write(api: httpx.Client) -> None:
    api.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/nowhere", "events": ["order.updated"]}
    )
    order = one(api, "pending")
    response = api.put(f"/api/v1/orders/{order['id']}", json={"note": "ring twice"})
    assert response.status_code == 200
    assert response.json()["data"]["note"] == "ring twice"


# -- Idempotency-Key ------------------------------------------------------------------------


def test_a_repeated_idempotency_key_answers_the_first_answer_and_changes_nothing(
    api: httpx.Client,
) -> None:
    headers = {"Idempotency-Key": "split-100016-a"}
    body = {"items": [{"item_id": 500028, "quantity": 1}]}
    first = api.post("/api/v1/orders/100016/split", json=body, headers=headers)
    assert first.status_code == 201, first.text
    after_first = api.get("/api/v1/orders/100016").json()["data"]

    again = api.post("/api/v1/orders/100016/split", json=body, headers=headers)

    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert api.get("/api/v1/orders/100016").json()["data"] == after_first
    assert len(after_first["split_order_ids"]) == 1


def test_a_repeated_key_replays_a_refusal_too(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "ship-100001"}
    body = {"status": "dispatched", "consignment_number": "CN1"}
    first = api.patch("/api/v1/orders/100001/status", json=body, headers=headers)
    assert first.status_code == 409  # pending cannot be dispatched
    api.patch("/api/v1/orders/100001/status", json={"status": "confirmed"})

    again = api.patch("/api/v1/orders/100001/status", json=body, headers=headers)

    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert api.get("/api/v1/orders/100001").json()["data"]["status"] == "confirmed"


def test_a_key_reused_with_another_body_is_refused(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "status-100017"}
    api.patch("/api/v1/orders/100017/status", json={"status": "processing"}, headers=headers)
    before = api.get("/api/v1/orders/100017").json()["data"]

    reused = api.patch(
        "/api/v1/orders/100017/status", json={"status": "cancelled"}, headers=headers
    )

    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert api.get("/api/v1/orders/100017").json()["data"] == before


def test_the_same_body_in_other_whitespace_is_the_same_request(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "status-100017-ws", "Content-Type": "application/json"}
    url = "/api/v1/orders/100017/status"
    first = api.patch(url, content=b'{"status":"processing"}', headers=headers)
    again = api.patch(url, content=b'{ "status" : "processing" }', headers=headers)
    assert (again.status_code, again.content) == (first.status_code, first.content)


def test_writes_without_a_key_are_not_replayed(api: httpx.Client) -> None:
    body = {"items": [{"item_id": 500028, "quantity": 1}]}
    assert api.post("/api/v1/orders/100016/split", json=body).status_code == 201
    assert api.post("/api/v1/orders/100016/split", json=body).status_code == 201
    assert len(api.get("/api/v1/orders/100016").json()["data"]["split_order_ids"]) == 2


def test_reset_forgets_idempotency_keys(api: httpx.Client, sim_url: str) -> None:
    headers = {"Idempotency-Key": "confirm-100001"}
    api.patch("/api/v1/orders/100001/status", json={"status": "confirmed"}, headers=headers)
    SimControlClient(sim_url).reset()
    reused = api.patch(
        "/api/v1/orders/100001/status", json={"status": "cancelled"}, headers=headers
    )
    assert reused.status_code == 200
    assert reused.json()["data"]["status"] == "cancelled"
