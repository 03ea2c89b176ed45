"""The simulated CRM admin API over a real socket: auth, paging, sorting, writes, control."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backends.crm.simulator import TOKEN_ALIAS, TOKEN_PATH, create_app
from backends.simkit.app import SimConfig
from backends.simkit.server import ServerThread
from domain.models import OrderSource
from tests.support import SimControlClient, serving, upstream_headers

CONFIG = SimConfig(seed=7, orders=130)
ORDERS = "/api/v2/admin/orders"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(create_app(CONFIG)) as base_url:
        yield base_url


async def token(
    http: httpx.AsyncClient, secret: str = "demo-secret", path: str = TOKEN_PATH
) -> httpx.Response:
    return await http.post(
        path,
        data={
            "grant_type": "client_credentials",
            "client_id": "ordergate-demo",
            "client_secret": secret,
        },
    )


@asynccontextmanager
async def admin(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client carrying a fresh bearer token."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        access_token = (await token(http)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {access_token}"
        yield http


async def all_orders(http: httpx.AsyncClient, order_by: str) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    while True:
        response = await http.get(
            ORDERS, params={"Offset": len(orders), "Limit": 100, "Order_By": order_by}
        )
        page = response.json()
        orders += page["Items"]
        if not page["Items"] or len(orders) >= page["TotalItemsCount"]:
            return orders


def amount(value: float) -> Decimal:
    return Decimal(str(value))


def total_cost_from_parts(order: dict[str, Any]) -> Decimal:
    """Items - discount code + shipping, plus tax at Tax.Rate on that, minus the gift voucher."""
    taxable = (
        sum(amount(line["TotalPrice"]) for line in order["OrderLines"])
        - (amount(order["Discount"]["Cost"]) if order["Discount"] else 0)
        + amount(order["ShippingInfo"]["Cost"])
    )
    tax = (taxable * amount(order["Tax"]["Rate"]) / 100).quantize(Decimal("0.01"))
    return taxable + tax - (amount(order["GiftVoucher"]["Cost"]) if order["GiftVoucher"] else 0)


@pytest.mark.parametrize("path", [TOKEN_PATH, TOKEN_ALIAS])
async def test_a_token_from_either_token_path_opens_the_admin_api(url: str, path: str) -> None:
    assert path in ("/api/v1/oauth/token", "/oauth/token")  # Treepl's own path, and the alias
    async with httpx.AsyncClient(base_url=url) as http:
        issued = (await token(http, path=path)).raise_for_status().json()
        answer = await http.get(
            ORDERS, headers={"Authorization": f"Bearer {issued['access_token']}"}
        )
    assert issued["token_type"] == "Bearer"
    assert answer.status_code == 200


async def test_the_token_endpoint_refuses_a_wrong_secret(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await token(http, secret="guess")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


async def test_orders_need_a_valid_unexpired_bearer_token(url: str) -> None:
    SimControlClient(url).reset()
    async with httpx.AsyncClient(base_url=url) as http:
        missing = await http.get(ORDERS)
        wrong = await http.get(ORDERS, headers={"Authorization": "Bearer not-a-token"})
    async with admin(url) as http:
        assert (await http.get(ORDERS)).status_code == 200
        SimControlClient(url).expire_tokens()
        expired = await http.get(ORDERS)
    for response in (missing, wrong, expired):
        assert response.status_code == 401
        assert response.json() == {"Message": "Authorization has been denied for this request."}


async def test_paging_walks_every_seeded_order_exactly_once(url: str) -> None:
    async with admin(url) as http:
        orders = await all_orders(http, "ModifiedDateTime desc")
        first = (await http.get(ORDERS, params={"Limit": 7})).json()
    ids = [order["Id"] for order in orders]
    assert len(ids) == len(set(ids)) == CONFIG.orders
    assert first["TotalItemsCount"] == CONFIG.orders
    assert [order["Id"] for order in first["Items"]] == sorted(ids)[:7]  # default: Id asc


async def test_lists_sort_newest_first_by_modification_or_by_creation(url: str) -> None:
    async with admin(url) as http:
        by_modification = await all_orders(http, "ModifiedDateTime desc")
        by_creation = await all_orders(http, "CreatedDateTime asc")
    modified = [order["ModifiedDateTime"] for order in by_modification]
    created = [order["CreatedDateTime"] for order in by_creation]
    assert modified == sorted(modified, reverse=True)
    assert created == sorted(created)
    assert modified != sorted(modified)


@pytest.mark.parametrize(
    "params",
    [{"Limit": 101}, {"Limit": 0}, {"Offset": -1}, {"Offset": "x"}, {"Order_By": "Total desc"}],
)
async def test_invalid_list_parameters_are_a_400_with_a_message(
    url: str, params: dict[str, Any]
) -> None:
    async with admin(url) as http:
        response = await http.get(ORDERS, params=params)
    assert response.status_code == 400
    assert response.json()["Message"]


async def test_query_parameters_bind_case_insensitively(url: str) -> None:
    async with admin(url) as http:
        response = await http.get(ORDERS, params={"offset": 3, "limit": 2, "order_by": "Id desc"})
    assert [order["Id"] for order in response.json()["Items"]] == [10127, 10126]


async def test_an_order_reads_in_full_and_an_unknown_one_is_404(url: str) -> None:
    async with admin(url) as http:
        order = (await http.get(f"{ORDERS}/10042")).json()
        unknown = await http.get(f"{ORDERS}/99")
        not_a_number = await http.get(f"{ORDERS}/abc")
    assert order["Id"] == 10042
    assert order["StatusShort"]["Id"] == order["StatusId"]
    assert order["OrderLines"] and order["Member"]["Id"] == order["MemberId"]
    assert unknown.status_code == not_a_number.status_code == 404
    assert unknown.json() == {"Message": "Order 99 was not found."}


async def test_seed_data_is_realistic_and_totals_add_up(url: str) -> None:
    async with admin(url) as http:
        orders = await all_orders(http, "Id asc")
    assert {order["StatusShort"]["Name"] for order in orders} == {
        "New", "Confirmed", "Processing", "Shipped", "Delivered", "Completed", "Cancelled",
        "Returned",
    }  # fmt: skip
    assert {"Paid", "PartiallyPaid", "Pending", "Refunded", "Failed", "Invoiced", "None"} == {
        order["PaymentState"] for order in orders
    }
    assert any(len(order["OrderLines"]) > 2 for order in orders)
    assert any(order["Discount"] for order in orders)
    assert any(order["GiftVoucher"] for order in orders)
    assert any(order["MainOrderId"] for order in orders)
    for order in orders:
        assert total_cost_from_parts(order) == amount(order["TotalCost"])
        assert (order["AWBNumber"] is None) == (
            order["StatusShort"]["Name"] not in {"Shipped", "Delivered", "Completed", "Returned"}
        )


async def test_catalogs_list_statuses_and_order_assets(url: str) -> None:
    async with admin(url) as http:
        answers = {
            path: (await http.get(f"/api/v2/admin/{path}")).json()
            for path in (
                "orders/order-statuses",
                "discount-codes",
                "gift-vouchers",
                "shipping-options",
                "tax-codes",
            )
        }
    statuses = answers["orders/order-statuses"]
    assert statuses["TotalItemsCount"] == 8
    assert statuses["Items"][0] == {
        "Id": 1,
        "Name": "New",
        "EmailId": None,
        "NotifyCustomer": False,
        "IsSystem": True,
        "Type": "Order",
    }
    assert statuses["Items"][1]["NotifyCustomer"] is True  # Confirmed mails the customer
    codes = {item["Code"] for item in answers["discount-codes"]["Items"]}
    assert {"WELCOME10", "SUMMER25", "VIP15"} <= codes
    assert all(answer["Items"] for answer in answers.values())


async def test_the_same_seed_gives_the_same_bytes() -> None:
    apps = {
        "a": create_app(CONFIG),
        "b": create_app(CONFIG),
        "other": create_app(SimConfig(seed=8)),
    }
    with ServerThread(apps) as servers:
        bodies = {}
        for name, base_url in servers.urls.items():
            async with admin(base_url) as http:
                listing = await http.get(
                    ORDERS, params={"Limit": 100, "Order_By": "ModifiedDateTime desc"}
                )
                single = await http.get(f"{ORDERS}/10001")
                bodies[name] = listing.content + single.content
    assert bodies["a"] == bodies["b"]
    assert bodies["a"] != bodies["other"]


async def test_stats_count_requests_by_route_template(url: str) -> None:
    control = SimControlClient(url)
    async with admin(url) as http:
        control.reset_stats()
        await http.get(f"{ORDERS}/10001")
        await http.get(f"{ORDERS}/10002")
        await http.get(ORDERS)
        await http.put(f"{ORDERS}/10001/tax", json={"TaxId": "2"})
    assert control.stats() == {
        "total": 4,
        "requests": {
            "GET /api/v2/admin/orders/{id}": 2,
            "GET /api/v2/admin/orders": 1,
            "PUT /api/v2/admin/orders/{id}/tax": 1,
        },
    }


async def test_malformed_fault_answers_a_body_that_is_not_json(url: str) -> None:
    control = SimControlClient(url)
    control.reset()
    async with admin(url) as http:
        control.set_faults(malformed_rate=1.0)
        response = await http.get(ORDERS)
    control.reset_faults()
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


async def newest(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get(ORDERS, params={"Limit": 1, "Order_By": "ModifiedDateTime desc"})
    order: dict[str, Any] = response.json()["Items"][0]
    return order


async def test_setting_a_discount_code_recomputes_the_total_and_bumps_the_order(url: str) -> None:
    SimControlClient(url).reset()
    async with admin(url) as http:
        before = (await http.get(f"{ORDERS}/10050")).json()
        response = await http.put(f"{ORDERS}/10050/discount-code", json={"DiscountId": "2"})
        after = (await http.get(f"{ORDERS}/10050")).json()
        front = await newest(http)
    assert response.status_code == 200
    assert response.json() == after
    subtotal = sum((amount(line["TotalPrice"]) for line in after["OrderLines"]), Decimal("0"))
    assert after["Discount"] == {
        "Code": "SUMMER25",
        "Cost": float((subtotal / 4).quantize(Decimal("0.01"))),
    }
    assert before["Discount"] is None and after["TotalCost"] < before["TotalCost"]
    assert total_cost_from_parts(after) == amount(after["TotalCost"])
    assert after["ModifiedDateTime"] > before["ModifiedDateTime"]
    assert front["Id"] == 10050


@pytest.mark.parametrize(
    ("path", "body", "check"),
    [
        (
            "gift-voucher",
            {"GiftVoucherId": "1"},
            lambda o: (o["GiftVoucher"] or {}).get("Name") == "Gift card 25",
        ),
        (
            "shipping",
            {"ShippingOptionId": "3"},
            lambda o: o["ShippingInfo"]["Name"] == "Pick-up point",
        ),
        ("tax", {"TaxId": "7"}, lambda o: o["Tax"] == {"Code": "ZERO", "Rate": 0.0}),
        ("status", {"StatusId": 7}, lambda o: o["StatusShort"] == {"Id": 7, "Name": "Cancelled"}),
        (
            "shipment",
            {"AWBNumber": "JD0140", "TrackingURL": "https://t.example/JD0140"},
            lambda o: (o["AWBNumber"], o["TrackingURL"]) == ("JD0140", "https://t.example/JD0140"),
        ),
    ],
)
async def test_each_order_write_changes_what_a_later_read_shows(
    url: str, path: str, body: dict[str, Any], check: Any
) -> None:
    SimControlClient(url).reset()
    async with admin(url) as http:
        before = (await http.get(f"{ORDERS}/10060")).json()
        response = await http.put(f"{ORDERS}/10060/{path}", json=body)
        after = (await http.get(f"{ORDERS}/10060")).json()
    assert response.status_code == 200, response.text
    assert check(after) and not check(before)
    assert after["ModifiedDateTime"] > before["ModifiedDateTime"]


async def test_a_zero_tax_code_leaves_items_minus_discounts_plus_shipping(url: str) -> None:
    SimControlClient(url).reset()
    async with admin(url) as http:
        order = (await http.put(f"{ORDERS}/10070/tax", json={"TaxId": "7"})).json()
    subtotal = sum((amount(line["TotalPrice"]) for line in order["OrderLines"]), Decimal("0"))
    deductions = sum(
        amount(order[name]["Cost"]) for name in ("Discount", "GiftVoucher") if order[name]
    )
    expected = subtotal - deductions + amount(order["ShippingInfo"]["Cost"])
    assert amount(order["TotalCost"]) == expected
    assert {line["TaxRate"] for line in order["OrderLines"]} == {0}


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("discount-code", {"DiscountId": "99"}, 400, "DiscountId '99' does not exist."),
        ("gift-voucher", {"GiftVoucherId": "x"}, 400, "GiftVoucherId 'x' does not exist."),
        ("status", {"StatusId": 12}, 400, "StatusId 12 does not exist."),
        ("shipment", {"AWBNumber": " "}, 400, "AWBNumber must not be empty."),
        ("tax", {}, 400, "The request is invalid. TaxId: Field required"),
        ("shipping", {"ShippingOptionId": 2}, 400, "The request is invalid. ShippingOptionId"),
    ],
)
async def test_invalid_writes_are_refused_with_a_message(
    url: str, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    async with admin(url) as http:
        response = await http.put(f"{ORDERS}/10080/{path}", json=body)
    assert response.status_code == status
    assert response.json()["Message"].startswith(message)


async def test_writes_to_an_unknown_order_are_404(url: str) -> None:
    async with admin(url) as http:
        response = await http.put(f"{ORDERS}/5/discount-code", json={"DiscountId": "1"})
    assert response.status_code == 404
    assert response.json() == {"Message": "Order 5 was not found."}


# Where (docs/upstreams/crm.md): field -> value (equality) or operators; every entry holds.
WHERE_MATCHES = [
    pytest.param({"IsDeleted": False}, lambda o: not o["IsDeleted"], id="equality"),
    pytest.param({"IsDeleted": {"$eq": True}}, lambda o: o["IsDeleted"], id="$eq"),
    pytest.param(
        {"PaymentState": {"$ne": "Paid"}}, lambda o: o["PaymentState"] != "Paid", id="$ne"
    ),
    pytest.param(
        {"PaymentState": {"$in": ["Refunded", "Failed"]}},
        lambda o: o["PaymentState"] in ("Refunded", "Failed"),
        id="$in",
    ),
    pytest.param(
        {"ModifiedDateTime": {"$gte": "2026-09-01T00:00:00Z"}},
        lambda o: o["ModifiedDateTime"] >= "2026-09-01T00:00:00",
        id="$gte timestamp",
    ),
    pytest.param(
        {"Id": {"$gt": 10010, "$lte": 10020}, "IsDeleted": False},
        lambda o: 10010 < o["Id"] <= 10020 and not o["IsDeleted"],
        id="range and equality",
    ),
    pytest.param({"CreatedDateTime": {"$lt": "2000-01-01T00:00:00Z"}}, lambda o: False, id="none"),
]


@pytest.mark.parametrize(("where", "matches"), WHERE_MATCHES)
async def test_where_lists_exactly_the_orders_it_matches(
    url: str, where: dict[str, Any], matches: Any
) -> None:
    SimControlClient(url).reset()
    async with admin(url) as http:
        everything = await all_orders(http, "Id asc")
        response = await http.get(
            ORDERS, params={"Limit": 100, "Order_By": "Id asc", "Where": json.dumps(where)}
        )
    expected = [order["Id"] for order in everything if matches(order)]
    page = response.raise_for_status().json()
    assert [order["Id"] for order in page["Items"]] == expected[:100]
    assert page["TotalItemsCount"] == len(expected)


def test_some_seeded_orders_are_deleted_but_listed(url: str) -> None:
    SimControlClient(url).reset()
    deleted = httpx.get(
        f"{url}{ORDERS}",
        params={"Limit": 100, "Where": '{"IsDeleted": true}'},
        headers=upstream_headers(OrderSource.CRM, url),
    ).json()["TotalItemsCount"]
    assert 0 < deleted < CONFIG.orders // 10


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("not json", "Where must be a JSON object"),
        ("[1]", "Where must be a JSON object"),
        ('{"Secret": 1}', "Where: 'Secret' is not a field it filters on"),
        ('{"Id": {"$regex": "1"}}', "Where: Id: '$regex' is not an operator"),
        ('{"Id": "10001"}', "Where: Id: expected an integer, not '10001'"),
        ('{"IsDeleted": 0}', "Where: IsDeleted: expected true or false, not 0"),
        ('{"StatusId": {"$in": 3}}', "Where: StatusId: expected a list"),
        ('{"ModifiedDateTime": {"$gte": "yesterday"}}', "expected an ISO 8601 timestamp"),
    ],
)
async def test_a_where_it_cannot_read_is_a_400_with_the_reason(
    url: str, where: str, reason: str
) -> None:
    async with admin(url) as http:
        response = await http.get(ORDERS, params={"Where": where})
    assert response.status_code == 400
    assert reason in response.json()["Message"]
