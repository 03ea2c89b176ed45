"""Mutations fan out to the upstream that owns the order; each is checked through that
upstream's own API (the simulator's raw endpoints), never through the gateway's view."""

from __future__ import annotations

import asyncio
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from domain.ids import decode_order_id
from domain.models import OrderSource
from gateway.settings import Settings
from store.tables import IdempotencyRecord
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.support import SimControlClient, upstream_get, upstream_headers

A, W, C, B = OrderSource.AFFILIATE, OrderSource.WEBSHOP, OrderSource.CRM, OrderSource.B2B

FIND = """
query Find($sources: [OrderSource!], $statuses: [OrderStatus!]) {
  orders(first: 100, filter: {sources: $sources, statuses: $statuses}) {
    edges { node { id upstreamId status reference
      lines { id quantity sku } commission { amount } } }
  }
}
"""
UPDATE_STATUS = """
mutation($input: UpdateStatusInput!) {
  updateStatus(input: $input) {
    order { id status upstreamStatus history { kind outcome actor detail } }
    userErrors { field message code }
    delivery { status attempts lastError changeId }
  }
}
"""
DISPATCH = """
mutation($input: DispatchInput!) {
  dispatch(input: $input) {
    order { status shipments { consignmentNumber } }
    shipment { consignmentNumber carrier }
    userErrors { field message code }
    delivery { status }
  }
}
"""
SPLIT = """
mutation($input: SplitOrderInput!) {
  splitOrder(input: $input) {
    order { id upstreamId lines { id quantity } commission { amount } splitOrders { id } }
    newOrders { id upstreamId lines { sku quantity } commission { amount } parentOrder { id } }
    userErrors { field message code }
    delivery { status }
  }
}
"""
SET_ASSET = """
mutation($code: String!, $order: ID!) {
  setDiscountCode(input: {orderId: $order, code: $code}) {
    order { discounts { kind code amount { amount } } }
    userErrors { field message code }
  }
}
"""


def raw_order(source: OrderSource, url: str, upstream_id: str) -> dict[str, Any]:
    """The order as the upstream itself serves it."""
    if source is A:
        return upstream_get(A, url, f"/api/v1/orders/{upstream_id}")["data"]  # type: ignore[no-any-return]
    if source is W:
        return upstream_get(W, url, f"/api/order/{upstream_id}/")  # type: ignore[no-any-return]
    if source is C:
        return upstream_get(C, url, f"/api/v2/admin/orders/{upstream_id}")  # type: ignore[no-any-return]
    return upstream_get(B, url, "/api/Order/getOrder", id=upstream_id)["data"][0]  # type: ignore[no-any-return]


def writes(sim: SimControlClient) -> int:
    """Write requests a simulator served (auth excluded)."""
    return sum(
        n
        for route, n in sim.stats()["requests"].items()
        if route.split()[0] in {"POST", "PUT", "PATCH", "DELETE"}
        and not route.endswith(("/token", "/api/login"))
    )


async def find(gateway: GatewayClient, source: OrderSource, *statuses: str) -> list[dict[str, Any]]:
    data = await gateway.data(FIND, {"sources": [source.value], "statuses": list(statuses) or None})
    nodes = [edge["node"] for edge in data["orders"]["edges"]]
    assert nodes, f"the {source.value} seed has no order in {statuses}"
    return nodes


async def test_update_status_lands_upstream_and_in_the_history(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    for source, target, upstream_value in [
        (A, "CONFIRMED", "confirmed"),
        (W, "CANCELLED", "cancel"),
        (C, "CONFIRMED", "Confirmed"),
        (B, "CONFIRMED", "CONFIRMED"),
    ]:
        [order, *_] = await find(gateway, source, "PENDING")
        response = await gateway.http.post(
            "/graphql",
            json={
                "query": UPDATE_STATUS,
                "variables": {"input": {"orderId": order["id"], "status": target, "note": "ok"}},
            },
            headers={"X-Actor": "ops@example.com"},
        )
        payload = response.json()["data"]["updateStatus"]
        assert payload["userErrors"] == [], source
        assert payload["delivery"]["status"] == "DELIVERED"
        assert payload["order"]["status"] == target
        upstream = raw_order(source, simulator_urls[source], order["upstreamId"])
        got = {
            A: lambda o: o["status"],
            W: lambda o: o["state"],
            C: lambda o: o["StatusShort"]["Name"],
            B: lambda o: o["status"],
        }[source](upstream)
        assert got == upstream_value, source
        [event] = payload["order"]["history"]
        assert event == {
            "kind": "STATUS_CHANGED",
            "outcome": "delivered",
            "actor": "tester (on behalf of ops@example.com)",
            "detail": f"status={target}, note=ok",
        }


@pytest.mark.parametrize(
    ("source", "start", "target", "code"),
    [
        (A, "CANCELLED", "CONFIRMED", "INVALID_TRANSITION"),
        (W, "COMPLETED", "PENDING", "INVALID_TRANSITION"),
        (C, "PENDING", "DISPATCHED", "VALIDATION"),
        (W, "CONFIRMED", "DELIVERED", "INVALID_TRANSITION"),
    ],
)
async def test_refused_status_changes_send_nothing(
    gateway: GatewayClient, fresh_sims, source, start, target, code
) -> None:
    [order, *_] = await find(gateway, source, start)
    fresh_sims[source].reset_stats()
    payload = (
        await gateway.data(UPDATE_STATUS, {"input": {"orderId": order["id"], "status": target}})
    )["updateStatus"]
    [error] = payload["userErrors"]
    assert error["code"] == code
    assert error["field"] == ["input", "status"]
    assert payload["delivery"] is None
    assert writes(fresh_sims[source]) == 0
    if code == "VALIDATION":
        assert "dispatch" in error["message"]


async def test_dispatch_sends_the_consignment_number(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    for source in (A, W, C):
        [order, *_] = await find(gateway, source, "PROCESSING")
        consignment = f"CN{uuid.uuid4().hex[:10].upper()}"
        payload = (
            await gateway.data(
                DISPATCH,
                {
                    "input": {
                        "orderId": order["id"],
                        "consignmentNumber": consignment,
                        "carrier": "DHL",
                    }
                },
            )
        )["dispatch"]
        assert payload["userErrors"] == [], source
        assert payload["shipment"]["consignmentNumber"] == consignment
        assert payload["order"]["status"] == "DISPATCHED"
        upstream = raw_order(source, simulator_urls[source], order["upstreamId"])
        if source is A:
            assert (upstream["status"], upstream["consignment_number"]) == (
                "dispatched",
                consignment,
            )
        elif source is W:
            assert upstream["shipment_state"] == "sent"
            assert consignment in [d["track_and_trace"] for d in upstream["deliveries"]]
        else:
            assert (upstream["StatusShort"]["Name"], upstream["AWBNumber"]) == (
                "Shipped",
                consignment,
            )


async def test_a_webshop_dispatch_posts_one_xml_desadv_and_a_second_is_refused_unsent(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    nodes = await find(gateway, W, "PROCESSING", "CONFIRMED")
    with_erp = [
        n for n in nodes if raw_order(W, simulator_urls[W], n["upstreamId"])["erp_order_number"]
    ]
    order = with_erp[0]
    fresh_sims[W].reset_stats()

    def dispatch(consignment: str) -> dict[str, Any]:
        return {"input": {"orderId": order["id"], "consignmentNumber": consignment}}

    first = (await gateway.data(DISPATCH, dispatch("3SFIRST")))["dispatch"]
    second = (await gateway.data(DISPATCH, dispatch("3SFIRST")))["dispatch"]
    other = (await gateway.data(DISPATCH, dispatch("3SOTHER")))["dispatch"]

    assert first["userErrors"] == [] and first["order"]["status"] == "DISPATCHED"
    # the same delivery again is a conflict; another one, a move the state machine refuses
    assert [(e["code"], e["field"]) for e in second["userErrors"]] == [
        ("CONFLICT", ["input", "consignmentNumber"])
    ]
    assert [(e["code"], e["field"]) for e in other["userErrors"]] == [
        ("INVALID_TRANSITION", ["input", "orderId"])
    ]
    posts = fresh_sims[W].stats()["requests"]
    assert posts.get("POST /proxy/des_adv_xml/delivery/") == 1  # one DESADV, never a second
    upstream = raw_order(W, simulator_urls[W], order["upstreamId"])
    assert [d["track_and_trace"] for d in upstream["deliveries"]] == ["3SFIRST"]
    assert upstream["shipment_state"] == "sent"


async def test_split_moves_lines_to_a_new_upstream_order_and_recomputes_commission(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    candidates = await find(gateway, A, "PENDING", "CONFIRMED", "PROCESSING")
    order = next(o for o in candidates if len(o["lines"]) >= 2 or o["lines"][0]["quantity"] >= 2)
    first = order["lines"][0]
    moved = 1.0
    payload = (
        await gateway.data(
            SPLIT,
            {
                "input": {
                    "orderId": order["id"],
                    "lines": [{"lineId": first["id"], "quantity": moved}],
                }
            },
        )
    )["splitOrder"]
    assert payload["userErrors"] == []
    [new] = payload["newOrders"]
    assert new["parentOrder"] == {"id": order["id"]}
    assert {"id": new["id"]} in payload["order"]["splitOrders"]

    url = simulator_urls[A]
    original = raw_order(A, url, order["upstreamId"])
    created = raw_order(A, url, new["upstreamId"])
    assert created["parent_order_id"] == int(order["upstreamId"])
    assert [(i["sku"], i["quantity"]) for i in created["items"]] == [(first["sku"], moved)]
    kept = {i["sku"]: i["quantity"] for i in original["items"]}
    assert kept.get(first["sku"], 0) == first["quantity"] - moved
    # Both commissions follow the documented rule, and the gateway shows the platform's figure.
    for upstream, shown in [(original, payload["order"]), (created, new)]:
        rule = (Decimal(upstream["commission_rate"]) / 100) * sum(
            Decimal(i["total"]) for i in upstream["items"]
        )
        assert Decimal(shown["commission"]["amount"]) == rule.quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        assert Decimal(shown["commission"]["amount"]) == Decimal(upstream["commission_amount"])


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (
            lambda o: [{"lineId": o["lines"][0]["id"], "quantity": o["lines"][0]["quantity"] + 1}],
            "quantity",
        ),
        (lambda o: [{"lineId": "no-such-line", "quantity": 1}], "lineId"),
        (
            lambda o: [{"lineId": line["id"], "quantity": line["quantity"]} for line in o["lines"]],
            None,
        ),
        (lambda o: [{"lineId": o["lines"][0]["id"], "quantity": 0}], "quantity"),
    ],
    ids=["over-quantity", "unknown-line", "everything", "zero"],
)
async def test_bad_splits_are_validation_errors_and_split_nothing(
    gateway: GatewayClient, fresh_sims, lines, field
) -> None:
    [order, *_] = await find(gateway, A, "CONFIRMED")
    fresh_sims[A].reset_stats()
    payload = (
        await gateway.data(SPLIT, {"input": {"orderId": order["id"], "lines": lines(order)}})
    )["splitOrder"]
    [error] = payload["userErrors"]
    assert error["code"] == "VALIDATION"
    if field is not None:
        assert error["field"][-1] == field
    assert payload["newOrders"] == []
    assert writes(fresh_sims[A]) == 0


async def test_a_discount_code_is_found_in_the_crm_catalog_and_set(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    [order, *_] = await find(gateway, C, "PENDING")
    payload = (await gateway.data(SET_ASSET, {"order": order["id"], "code": "summer25"}))[
        "setDiscountCode"
    ]
    assert payload["userErrors"] == []
    assert {"kind": "CODE", "code": "SUMMER25"} in [
        {"kind": d["kind"], "code": d["code"]} for d in payload["order"]["discounts"]
    ]
    assert raw_order(C, simulator_urls[C], order["upstreamId"])["Discount"]["Code"] == "SUMMER25"


async def test_an_unknown_discount_code_names_the_code_and_writes_nothing(
    gateway: GatewayClient, fresh_sims
) -> None:
    [order, *_] = await find(gateway, C, "PENDING")
    fresh_sims[C].reset_stats()
    payload = (await gateway.data(SET_ASSET, {"order": order["id"], "code": "NOPE99"}))[
        "setDiscountCode"
    ]
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("VALIDATION", ["input", "code"])
    assert "NOPE99" in error["message"]
    assert writes(fresh_sims[C]) == 0


async def test_the_other_crm_assets_are_set_upstream(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    [order, *_] = await find(gateway, C, "PENDING")
    for mutation, argument, value in [
        ("setGiftVoucher", "voucher", "Gift card 25"),
        ("setShippingOption", "option", "Express delivery"),
        ("setTaxCode", "code", "VAT9"),
    ]:
        data = await gateway.data(
            f"mutation($o: ID!, $v: String!) {{ {mutation}(input: {{orderId: $o, {argument}: $v}})"
            " { userErrors { code message } delivery { status } } }",
            {"o": order["id"], "v": value},
        )
        assert data[mutation] == {"userErrors": [], "delivery": {"status": "DELIVERED"}}, mutation
    upstream = raw_order(C, simulator_urls[C], order["upstreamId"])
    assert upstream["GiftVoucher"]["Name"] == "Gift card 25"
    assert upstream["ShippingInfo"]["Name"] == "Express delivery"
    assert upstream["Tax"]["Code"] == "VAT9"


async def test_erp_numbers_are_patched_then_put_on_the_webshop_order(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    [order, *_] = await find(gateway, W, "CONFIRMED")
    lines = [
        {"lineId": line["id"], "erpLineNumber": 10 * (i + 1)}
        for i, line in enumerate(order["lines"])
    ]
    data = await gateway.data(
        "mutation($input: SetErpOrderNumberInput!) { setErpOrderNumber(input: $input)"
        " { order { erpOrderNumber lines { erpLineNumber } } userErrors { message } } }",
        {"input": {"orderId": order["id"], "erpOrderNumber": "ERP-124578", "lines": lines}},
    )
    assert data["setErpOrderNumber"]["userErrors"] == []
    upstream = raw_order(W, simulator_urls[W], order["upstreamId"])
    assert upstream["erp_order_number"] == "ERP-124578"
    numbers = [
        line["erp_line_number"] for line in upstream["order_lines"] if line["type"] == "line"
    ]
    assert numbers == [entry["erpLineNumber"] for entry in lines]


async def test_an_operation_the_backend_lacks_is_unsupported_and_sends_nothing(
    gateway: GatewayClient, fresh_sims
) -> None:
    [order, *_] = await find(gateway, W, "CONFIRMED")
    fresh_sims[W].reset_stats()
    payload = (await gateway.data(SET_ASSET, {"order": order["id"], "code": "WELCOME10"}))[
        "setDiscountCode"
    ]
    [error] = payload["userErrors"]
    assert error["code"] == "UNSUPPORTED_BY_BACKEND"
    assert fresh_sims[W].stats()["total"] == 0


async def test_an_unknown_order_is_not_found(gateway: GatewayClient) -> None:
    for order_id in ["garbage", "T3JkZXI6Q1JNOjk5OTk5OTk"]:
        payload = (
            await gateway.data(
                UPDATE_STATUS, {"input": {"orderId": order_id, "status": "CONFIRMED"}}
            )
        )["updateStatus"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("NOT_FOUND", ["input", "orderId"])
        ]


async def test_one_idempotency_key_sent_three_times_at_once_writes_once(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    [order, *_] = await find(gateway, A, "PENDING")
    fresh_sims[A].reset_stats()
    variables = {"input": {"orderId": order["id"], "status": "CONFIRMED", "idempotencyKey": "k-1"}}
    payloads = await asyncio.gather(*(gateway.data(UPDATE_STATUS, variables) for _ in range(3)))
    assert all(p["updateStatus"]["userErrors"] == [] for p in payloads)
    assert {p["updateStatus"]["delivery"]["changeId"] for p in payloads} == {
        payloads[0]["updateStatus"]["delivery"]["changeId"]
    }
    assert writes(fresh_sims[A]) == 1
    assert raw_order(A, simulator_urls[A], order["upstreamId"])["status"] == "confirmed"

    other = {"input": {**variables["input"], "status": "CANCELLED"}}
    [error] = (await gateway.data(UPDATE_STATUS, other))["updateStatus"]["userErrors"]
    assert error["code"] == "CONFLICT"
    assert writes(fresh_sims[A]) == 1


async def test_a_change_to_a_down_upstream_is_queued_then_delivered(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    [order, *_] = await find(gateway, C, "PENDING")
    fresh_sims[C].set_faults(error_rate=1.0)
    payload = (
        await gateway.data(
            UPDATE_STATUS, {"input": {"orderId": order["id"], "status": "CONFIRMED"}}
        )
    )["updateStatus"]
    [error] = payload["userErrors"]
    assert error["code"] == "UPSTREAM_UNAVAILABLE"
    assert "queued" in error["message"]
    assert payload["delivery"]["status"] == "QUEUED"
    fresh_sims[C].reset_faults()
    for _ in range(100):  # the worker retries with a backoff of at most 1 s in the tests
        if (
            raw_order(C, simulator_urls[C], order["upstreamId"])["StatusShort"]["Name"]
            == "Confirmed"
        ):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the queued change was not delivered")
    data = await gateway.data(
        "query($id: ID!) { order(id: $id) { status history { kind outcome } } }",
        {"id": order["id"]},
    )
    assert data["order"]["status"] == "CONFIRMED"
    assert data["order"]["history"] == [{"kind": "STATUS_CHANGED", "outcome": "delivered"}]


async def test_a_status_the_store_last_saw_is_not_taken_for_the_upstreams_while_it_is_down(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    """No silent drift: the order moved on upstream since the gateway set it; with the
    upstream down, asking for the status the store last recorded queues the change instead of
    answering "already there"."""
    [order, *_] = await find(gateway, C, "PENDING")
    confirm = {"input": {"orderId": order["id"], "status": "CONFIRMED"}}
    assert (await gateway.data(UPDATE_STATUS, confirm))["updateStatus"]["userErrors"] == []
    url = simulator_urls[C]
    async with httpx.AsyncClient(headers=upstream_headers(C, url)) as crm:
        # someone sets it back to New in the CRM itself
        answer = await crm.put(
            f"{url}/api/v2/admin/orders/{order['upstreamId']}/status", json={"StatusId": 1}
        )
        answer.raise_for_status()
    fresh_sims[C].set_faults(error_rate=1.0)

    payload = (await gateway.data(UPDATE_STATUS, confirm))["updateStatus"]

    assert payload["delivery"]["status"] == "QUEUED"  # not "nothing to send"
    fresh_sims[C].reset_faults()
    for _ in range(100):
        if raw_order(C, url, order["upstreamId"])["StatusShort"]["Name"] == "Confirmed":
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the queued change was not delivered")


async def test_an_upstream_refusal_is_rejected_and_not_retried(
    gateway: GatewayClient, fresh_sims
) -> None:
    # The platform refuses to edit an order that has left the warehouse (409 order_locked).
    [order, *_] = await find(gateway, A, "DISPATCHED")
    line = order["lines"][0]
    fresh_sims[A].reset_stats()
    data = await gateway.data(
        "mutation($input: EditOrderLinesInput!) { editOrderLines(input: $input)"
        " { userErrors { code message } delivery { status attempts } } }",
        {"input": {"orderId": order["id"], "lines": [{"lineId": line["id"], "quantity": 1}]}},
    )
    [error] = data["editOrderLines"]["userErrors"]
    assert error["code"] == "UPSTREAM_REJECTED"
    assert data["editOrderLines"]["delivery"] == {"status": "REJECTED", "attempts": 1}
    assert writes(fresh_sims[A]) == 1
    await asyncio.sleep(0.5)  # several worker rounds: nothing is retried
    assert writes(fresh_sims[A]) == 1
    history = await gateway.data(
        "query($id: ID!) { order(id: $id) { history { kind outcome } } }", {"id": order["id"]}
    )
    assert history["order"]["history"] == [{"kind": "LINES_EDITED", "outcome": "rejected"}]


async def test_an_upstream_403_is_forbidden_and_the_change_is_not_retried(
    settings: Settings, fresh_sims
) -> None:
    # The gateway holds the platform's read-only key: reads work, the platform refuses writes.
    read_only = settings.affiliate.model_copy(
        update={"api_key": SecretStr("demo-affiliate-readonly-key")}
    )
    async with running(settings.model_copy(update={"affiliate": read_only})) as app:
        async with client_of(app, await bearer(app)) as http:
            gateway = GatewayClient(http)
            [order, *_] = await find(gateway, A, "CONFIRMED")
            before = raw_order(A, fresh_sims[A].base_url, order["upstreamId"])
            fresh_sims[A].reset_stats()
            data = await gateway.data(
                "mutation($input: UpdateStatusInput!) { updateStatus(input: $input)"
                " { userErrors { code message } delivery { status attempts } } }",
                {"input": {"orderId": order["id"], "status": "CANCELLED"}},
            )
    [error] = data["updateStatus"]["userErrors"]
    assert error["code"] == "FORBIDDEN"
    assert "lacks the orders:write scope" in error["message"]
    assert data["updateStatus"]["delivery"] == {"status": "REJECTED", "attempts": 1}
    assert writes(fresh_sims[A]) == 1
    assert raw_order(A, fresh_sims[A].base_url, order["upstreamId"]) == before


async def test_a_retry_of_an_unanswered_rejected_change_keeps_its_error_code(
    settings: Settings, fresh_sims
) -> None:
    """The first request's answer was lost (its process died after the delivery): the retry
    answers from the change, with the code it was rejected with, not a generic one."""
    read_only = settings.affiliate.model_copy(
        update={"api_key": SecretStr("demo-affiliate-readonly-key")}
    )
    query = (
        "mutation($input: UpdateStatusInput!) { updateStatus(input: $input)"
        " { userErrors { code } delivery { status changeId } } }"
    )
    async with running(settings.model_copy(update={"affiliate": read_only})) as app:
        async with client_of(app, await bearer(app)) as http:
            gateway = GatewayClient(http)
            [order, *_] = await find(gateway, A, "CONFIRMED")
            variables = {
                "input": {"orderId": order["id"], "status": "CANCELLED", "idempotencyKey": "lost"}
            }
            first = (await gateway.data(query, variables))["updateStatus"]
            async with app.state.ordergate.store.session() as session:  # the answer, never kept
                await session.exec(
                    update(IdempotencyRecord).values(status="in_progress", response=None)
                )
                await session.commit()
            retry = (await gateway.data(query, variables))["updateStatus"]
    assert first["userErrors"] == retry["userErrors"] == [{"code": "FORBIDDEN"}]
    assert retry["delivery"] == first["delivery"]
    assert writes(fresh_sims[A]) == 1


async def test_a_change_to_a_backend_whose_breaker_is_open_waits_without_an_attempt(
    gateway_app, gateway: GatewayClient, fresh_sims
) -> None:
    [order, *_] = await find(gateway, C, "CONFIRMED")
    breaker = gateway_app.state.ordergate.backends[C].breaker
    for _ in range(breaker.failures):
        breaker.failed()
    fresh_sims[C].reset_stats()
    data = await gateway.data(
        UPDATE_STATUS, {"input": {"orderId": order["id"], "status": "PROCESSING"}}
    )
    [error] = data["updateStatus"]["userErrors"]
    assert error["code"] == "UPSTREAM_UNAVAILABLE"
    assert "circuit open" in error["message"]
    assert data["updateStatus"]["delivery"]["status"] == "QUEUED"
    assert data["updateStatus"]["delivery"]["attempts"] == 0
    assert fresh_sims[C].stats()["total"] == 0  # nothing sent, not even the read


CREATE = """
mutation($input: CreateOrderInput!) {
  createOrder(input: $input) {
    order { id source reference status company { id } customer { id } agent { id }
            lines { sku quantity } history { kind outcome } }
    userErrors { field message code }
  }
}
"""
B2B_PART = {
    "companyId": "1",
    "clientId": "201",
    "agentId": "209",
    "seasonId": "2",
    "shippingAddressId": "502",
    "billingAddressId": "501",
    "statusId": "CONFIRMED",
    "lines": [{"productId": "301", "quantity": 12}, {"productId": "303", "quantity": 6}],
}
NEW_B2B_ORDER = {"source": "B2B", "reference": "PO-GRAPHQL-1", "b2b": B2B_PART}


async def test_create_order_makes_a_b2b_order_upstream(
    gateway: GatewayClient, fresh_sims, simulator_urls
) -> None:
    payload = (await gateway.data(CREATE, {"input": NEW_B2B_ORDER}))["createOrder"]
    assert payload["userErrors"] == []
    order = payload["order"]
    assert (order["source"], order["reference"], order["status"]) == (
        "B2B",
        "PO-GRAPHQL-1",
        "CONFIRMED",
    )
    assert order["history"] == [{"kind": "CREATED", "outcome": "delivered"}]
    upstream_id = decode_order_id(order["id"]).upstream_id
    upstream = raw_order(B, simulator_urls[B], upstream_id)
    assert upstream["reference"] == "PO-GRAPHQL-1"
    assert (upstream["company"]["id"], upstream["client"]["id"]) == ("1", "201")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clientId": "209"}, ["input", "b2b", "clientId"]),  # an agent, not a client
        ({"agentId": "201"}, ["input", "b2b", "agentId"]),  # a client, not an agent
        ({"shippingAddressId": "999"}, ["input", "b2b", "shippingAddressId"]),
        (
            {"lines": [{"productId": "no-such-product", "quantity": 1}]},
            ["input", "b2b", "lines", "0", "productId"],
        ),
    ],
    ids=["client-role", "agent-role", "shipping-address", "product"],
)
async def test_create_order_names_the_broken_rule_and_creates_nothing(
    gateway: GatewayClient, fresh_sims, change, field
) -> None:
    fresh_sims[B].reset_stats()
    order = {**NEW_B2B_ORDER, "b2b": {**B2B_PART, **change}}
    payload = (await gateway.data(CREATE, {"input": order}))["createOrder"]
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("VALIDATION", field)
    assert payload["order"] is None
    assert writes(fresh_sims[B]) == 0


async def test_create_order_on_a_backend_that_does_not_create_is_unsupported(
    gateway: GatewayClient,
) -> None:
    payload = (await gateway.data(CREATE, {"input": {**NEW_B2B_ORDER, "source": "CRM"}}))[
        "createOrder"
    ]
    assert [e["code"] for e in payload["userErrors"]] == ["UNSUPPORTED_BY_BACKEND"]
