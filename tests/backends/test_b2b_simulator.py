"""The simulated B2B API over a real socket: auth, paging, filters, XML, control, writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backends.b2b.simulator import create_app
from backends.b2b.wire import Order, OrderList
from backends.b2b.xmlcodec import read_export
from backends.simkit.app import SimConfig
from tests.support import SimControlClient, serving

ORDERS = 120


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(create_app(SimConfig(orders=ORDERS))) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture
def api(http: httpx.Client) -> httpx.Client:
    """The client, logged in afresh, of a simulator reset to its seed."""
    http.post("/_sim/reset").raise_for_status()  # SimControlClient.reset, on a kept connection
    token = http.post("/api/login", json={"_username": "demo", "_password": "demo"})
    http.headers["Authorization"] = f"Bearer {token.json()['token']}"
    return http


def orders(response: httpx.Response) -> OrderList:
    assert response.status_code == 200, response.text
    return OrderList.model_validate(json.loads(response.content, parse_float=Decimal))


def walk(api: httpx.Client, path: str, params: dict[str, Any]) -> list[Order]:
    """Every order of a listing, following ``nextPageUrl``."""
    page = orders(api.get(path, params=params))
    seen = list(page.data)
    while page.pagination.nextPageUrl is not None:
        page = orders(api.get(page.pagination.nextPageUrl))
        seen.extend(page.data)
    return seen


def test_login_refuses_wrong_credentials(url: str) -> None:
    wrong = httpx.post(f"{url}/api/login", json={"_username": "demo", "_password": "nope"})
    not_json = httpx.post(f"{url}/api/login", content=b"_username=demo")

    assert wrong.status_code == 401
    assert not_json.status_code == 400


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic ZGVtbzpkZW1v"])
def test_reads_refuse_missing_or_wrong_tokens(url: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{url}/api/Order/getOrder", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Invalid JWT Token"}


def test_expired_tokens_are_refused(api: httpx.Client, url: str) -> None:
    assert api.get("/api/Order/getOrder").status_code == 200
    assert SimControlClient(url).expire_tokens() == 1

    assert api.get("/api/Order/getOrder").status_code == 401


def test_pages_walk_every_order_once_newest_first(api: httpx.Client) -> None:
    seen = walk(api, "/api/Order/getOrder", {"pageSize": 25})

    assert len(seen) == ORDERS
    assert len({order.id for order in seen}) == ORDERS
    keys = [(order.dateModified, int(order.id)) for order in seen]
    assert keys == sorted(keys, reverse=True)


def test_pagination_block_and_defaults(api: httpx.Client) -> None:
    first = orders(api.get("/api/Order/getOrder"))
    last = orders(api.get("/api/Order/getOrder", params={"page": 12}))
    beyond = orders(api.get("/api/Order/getOrder", params={"page": 13}))

    assert len(first.data) == 10
    assert first.pagination.model_dump() == {
        "totalItems": ORDERS,
        "itemsPerPage": 10,
        "currentPage": 1,
        "totalPages": 12,
        "nextPageUrl": "/api/Order/getOrder?page=2",
    }
    assert last.pagination.nextPageUrl is None and len(last.data) == 10
    assert beyond.data == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"pageSize": 101}, "pageSize"), ({"pageSize": 0}, "pageSize"), ({"page": "x"}, "page")],
)
def test_bad_paging_is_refused(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    response = api.get("/api/Order/getOrder", params=params)

    assert response.status_code == 400
    assert response.json()["field"] == field


def test_one_order_by_id_and_unknown_id(api: httpx.Client) -> None:
    one = orders(api.get("/api/Order/getOrder", params={"id": "10007"}))
    unknown = api.get("/api/Order/getOrder", params={"id": "999"})

    assert [order.id for order in one.data] == ["10007"]
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Order 999 not found."


def test_updated_from_filters_by_date_and_status(api: httpx.Client) -> None:
    everything = walk(api, "/api/Order/getOrder", {"pageSize": 100})
    since = sorted(order.dateModified for order in everything)[ORDERS // 2]
    recent = walk(api, "/api/Order/updatedFrom", {"date": since, "pageSize": 7})
    shipped = walk(
        api,
        "/api/Order/updatedFrom",
        {"date": "1999-01-01 01:00:00", "status[]": ["SHIPPED", "CLOSED"], "pageSize": 100},
    )
    plain_status = walk(
        api, "/api/Order/updatedFrom", {"date": since, "status": "SHIPPED", "pageSize": 100}
    )

    assert {o.id for o in recent} == {o.id for o in everything if o.dateModified >= since}
    assert [o.dateModified for o in recent] == sorted(
        (o.dateModified for o in recent), reverse=True
    )
    assert {o.id for o in shipped} == {
        o.id for o in everything if o.status in {"SHIPPED", "CLOSED"}
    }
    assert {o.id for o in plain_status} == {o.id for o in recent if o.status == "SHIPPED"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "date"),
        ({"date": "2026-11-01T10:00:00"}, "date"),
        ({"date": "2026-11-01 10:00:00", "status[]": "LOST"}, "status"),
    ],
)
def test_updated_from_refuses_bad_parameters(
    api: httpx.Client, params: dict[str, Any], field: str
) -> None:
    response = api.get("/api/Order/updatedFrom", params=params)

    assert response.status_code == 400
    assert response.json()["field"] == field


def test_xml_answers_hold_what_json_does(api: httpx.Client) -> None:
    as_json = orders(api.get("/api/Order/getOrder", params={"pageSize": 30}))
    as_xml = api.get(
        "/api/Order/getOrder", params={"pageSize": 30}, headers={"Accept": "application/xml"}
    )

    assert as_xml.headers["content-type"] == "application/xml"
    assert as_xml.content.startswith(
        b"<?xml version='1.0' encoding='UTF-8'?>\n<export><data><item>"
    )
    assert OrderList.model_validate(read_export(as_xml.content)) == as_json


def test_seed_has_variety(api: httpx.Client) -> None:
    seeded = walk(api, "/api/Order/getOrder", {"pageSize": 100})

    assert {o.status for o in seeded} == {
        "PENDING",
        "CONFIRMED",
        "IN_PROGRESS",
        "SHIPPED",
        "DELIVERED",
        "CLOSED",
        "CANCELLED",
    }
    assert any(len(o.lines) >= 3 for o in seeded)
    assert any(o.discount for o in seeded)
    assert any(line.discount for o in seeded for line in o.lines)
    assert any(len(line.lineDetail) > 1 for o in seeded for line in o.lines)
    assert len({o.company.id for o in seeded if o.company}) == 3


def test_same_seed_same_bytes() -> None:
    def first_page() -> bytes:
        with serving(create_app(SimConfig(seed=7, orders=30))) as base_url:
            login = httpx.post(
                f"{base_url}/api/login", json={"_username": "demo", "_password": "demo"}
            )
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            return httpx.get(
                f"{base_url}/api/Order/getOrder", params={"pageSize": 30}, headers=headers
            ).content

    assert first_page() == first_page()


def test_stats_count_by_route_template(api: httpx.Client, url: str) -> None:
    control = SimControlClient(url)
    control.reset_stats()
    api.get("/api/Order/getOrder", params={"id": "10001"})
    api.get("/api/Order/getOrder")
    api.put("/api/Order/update/10001", json={"status": "CLOSED"})
    api.put("/api/Order/update/10002", json={"status": "CLOSED"})

    assert control.stats() == {
        "total": 4,
        "requests": {"GET /api/Order/getOrder": 2, "PUT /api/Order/update/{id}": 2},
    }


def test_malformed_fault_answers_garbage(api: httpx.Client, url: str) -> None:
    SimControlClient(url).set_faults(malformed_rate=1.0)
    response = api.get("/api/Order/getOrder")

    with pytest.raises(ValueError):
        json.loads(response.content)
    with pytest.raises(ValueError):
        read_export(response.content)


def test_catalogs(api: httpx.Client) -> None:
    def data(path: str, **params: Any) -> list[dict[str, Any]]:
        response = api.get(path, params={"pageSize": 100, **params})
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    clients = data("/api/BusinessPartner/getBusinessPartner", role="Client", companyId="1")
    agents = data("/api/BusinessPartner/getBusinessPartner", role="Representant")
    locations = data("/api/Location/getLocation", businessPartnerId=clients[0]["id"])

    assert len(clients) == 8 and all(c["company"]["id"] == "1" for c in clients)
    assert len(agents) == 6
    assert locations and all(loc["businessPartnerId"] == clients[0]["id"] for loc in locations)
    assert any(loc["billingAddress"] for loc in locations)
    assert len(data("/api/Company/getCompany")) == 3
    assert len(data("/api/Season/getSeason")) == 3
    assert len(data("/api/Product/getProduct")) == 15
    assert len(data("/api/DiscountType/getDiscountType")) == 4
    assert [s["id"] for s in data("/api/Order/getOrder/Line/Status")] == [
        "PENDING",
        "IN_STOCK",
        "OUT_OF_STOCK",
        "SHIPPED",
        "DELETED",
    ]
    assert data("/api/Company/getCompany", id="2")[0]["companyName"] == "Nordwind Fashion GmbH"
    assert api.get("/api/Company/getCompany", params={"id": "9"}).status_code == 404


def new_order(api: httpx.Client) -> dict[str, Any]:
    """A valid ``POST /api/Order/create`` body, built from the catalogs."""

    def first(path: str, **params: str) -> dict[str, Any]:
        return dict(api.get(path, params=params).json()["data"][0])

    client = first("/api/BusinessPartner/getBusinessPartner", role="Client", companyId="1")
    agent = first("/api/BusinessPartner/getBusinessPartner", role="Representant", companyId="1")
    location = first("/api/Location/getLocation", businessPartnerId=client["id"])
    return {
        "id": "ERP-77",
        "reference": "PO-NEW-1",
        "companyId": "1",
        "clientId": client["id"],
        "agentId": agent["id"],
        "seasonId": "2",
        "statusId": "PENDING",
        "shippingAddressId": location["id"],
        "billingAddressId": location["id"],
        "discount": [{"id": "D-1", "discountTypeId": "1", "discount": 10}],
        "lines": [
            {"id": "L-1", "productId": "301", "lineStatusId": "PENDING", "quantity": 12},
            {
                "productId": 303,
                "lineStatusId": "IN_STOCK",
                "quantity": 6,
                "price": 20,
                "discount": [{"discountTypeId": "2", "discount": 5}],
            },
        ],
    }


def test_create_order_is_read_back_first(api: httpx.Client) -> None:
    created = api.post("/api/Order/create", json=new_order(api))
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    read = orders(api.get("/api/Order/getOrder", params={"id": order_id})).data[0]
    newest = orders(api.get("/api/Order/getOrder", params={"pageSize": 1})).data[0]

    assert newest.id == order_id == "10121"
    assert read.idRemote == "ERP-77" and read.status == "PENDING"
    assert read.season is not None and read.season.description == "Fall/Winter 2026"
    assert [line.idRemote for line in read.lines] == ["L-1", None]
    assert read.discount[0].idRemote == "D-1" and read.discount[0].isLine is False
    # 12 x 12.48 + (6 x 20 - 5%) = 263.76; 10% off the order; 12.50 shipping; 21% VAT.
    assert read.lines[1].lineAmount == Decimal("114")
    assert read.grossAmount == Decimal("263.76")
    assert read.baseAmount == Decimal("237.38")
    assert read.shippingAmount == Decimal("12.5")
    assert read.totalAmount == Decimal("302.35")
    assert read.dateModified > "2026-11-01 12:00:00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"companyId": "9"}, "companyId"),
        ({"clientId": "9999"}, "clientId"),
        ({"clientId": "agent"}, "clientId"),
        ({"companyId": "2"}, "clientId"),
        ({"agentId": "client"}, "agentId"),
        ({"seasonId": "9"}, "seasonId"),
        ({"shippingAddressId": "9999"}, "shippingAddressId"),
        ({"statusId": "LOST"}, "statusId"),
        ({"discount": [{"discountTypeId": "9", "discount": 5}]}, "discount[0].discountTypeId"),
        ({"discount": [{"discountTypeId": "1", "discount": 500}]}, "discount[0].discount"),
        ({"lines": []}, "lines"),
        (
            {"lines": [{"productId": "1", "lineStatusId": "PENDING", "quantity": 1}]},
            "lines[0].productId",
        ),
        (
            {"lines": [{"productId": "301", "lineStatusId": "NEW", "quantity": 1}]},
            "lines[0].lineStatusId",
        ),
        (
            {"lines": [{"productId": "301", "lineStatusId": "PENDING", "quantity": 0}]},
            "lines[0].quantity",
        ),
    ],
)
def test_create_order_enforces_the_documented_rules(
    api: httpx.Client, change: dict[str, Any], field: str
) -> None:
    body = new_order(api)
    if change.get("clientId") == "agent":
        change = {"clientId": body["agentId"]}
    if change.get("agentId") == "client":
        change = {"agentId": body["clientId"]}
    response = api.post("/api/Order/create", json={**body, **change})

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["message"].startswith(f"{field}: ")


def test_create_order_refuses_a_billing_only_location_for_shipping(api: httpx.Client) -> None:
    body = new_order(api)
    partners = api.get(
        "/api/BusinessPartner/getBusinessPartner", params={"role": "Client", "pageSize": 100}
    ).json()["data"]
    shipping_only = next(
        loc
        for partner in partners
        for loc in api.get(
            "/api/Location/getLocation", params={"businessPartnerId": partner["id"]}
        ).json()["data"]
        if not loc["billingAddress"]
    )
    owner = next(p for p in partners if p["id"] == shipping_only["businessPartnerId"])
    agent = api.get(
        "/api/BusinessPartner/getBusinessPartner",
        params={"role": "Representant", "companyId": owner["company"]["id"]},
    ).json()["data"][0]
    response = api.post(
        "/api/Order/create",
        json={
            **body,
            "companyId": owner["company"]["id"],
            "clientId": owner["id"],
            "agentId": agent["id"],
            "shippingAddressId": shipping_only["id"],
            "billingAddressId": shipping_only["id"],
        },
    )

    assert response.status_code == 400
    assert response.json()["field"] == "billingAddressId"


def test_create_order_refuses_a_missing_discount_array_and_bad_json(api: httpx.Client) -> None:
    body = new_order(api)
    del body["discount"]

    assert api.post("/api/Order/create", json=body).json()["field"] == "discount"
    assert api.post("/api/Order/create", content=b"{").status_code == 400


def test_update_status_changes_the_order(api: httpx.Client) -> None:
    before = orders(api.get("/api/Order/getOrder", params={"id": "10050"})).data[0]
    response = api.put("/api/Order/update/10050", json={"status": "CANCELLED"})
    after = orders(api.get("/api/Order/getOrder", params={"id": "10050"})).data[0]
    newest = orders(api.get("/api/Order/getOrder", params={"pageSize": 1})).data[0]

    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    assert after.status == "CANCELLED" and after.active is False
    assert after.dateModified > before.dateModified
    assert after.updatedBy is not None and after.updatedBy.username == "demo"
    assert newest.id == "10050"


def test_update_status_refuses_unknown_orders_and_statuses(api: httpx.Client) -> None:
    unknown_order = api.put("/api/Order/update/1", json={"status": "CLOSED"})
    unknown_status = api.put("/api/Order/update/10050", json={"status": "LOST"})
    no_status = api.put("/api/Order/update/10050", json={})

    assert unknown_order.status_code == 404
    assert (unknown_status.status_code, unknown_status.json()["field"]) == (400, "status")
    assert (no_status.status_code, no_status.json()["field"]) == (400, "status")
