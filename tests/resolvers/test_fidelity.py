"""What the upstreams hold reaches GraphQL whole (issue 10): every product and price of a B2B
line, deleted lines and orders flagged, deleted orders left out of listings unless asked for.
Each case is checked against the simulator's own record of the order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain import ids
from domain.models import OrderSource
from tests.conftest import GatewayClient
from tests.support import upstream_get, upstream_requests, upstream_status, webshop_orders

LINES = """
query Lines($id: ID!) {
  order(id: $id) {
    deleted
    lines {
      id sku deleted status remoteId deliveryDate cancelledAt quantityFromStock
      unitPrice { amount currency }
      details { sku productName quantity unitPrice { amount currency } retailPrice { amount } }
    }
  }
}
"""


def b2b_orders(url: str) -> list[dict[str, Any]]:
    """Every order of the B2B simulator, as its own API answers them."""
    orders: list[dict[str, Any]] = []
    page = 1
    while True:
        body = upstream_get(OrderSource.B2B, url, "/api/Order/getOrder", pageSize=50, page=page)
        orders += body["data"]
        if len(orders) >= body["pagination"]["totalItems"] or not body["data"]:
            return orders
        page += 1


async def test_a_b2b_line_with_two_details_reads_back_with_both_prices_exact(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    raw_orders = b2b_orders(simulator_urls[OrderSource.B2B])
    raw, raw_line = next(
        (order, line)
        for order in raw_orders
        for line in order["lines"]
        if len(line["lineDetail"]) == 2
    )

    order = (await gateway.data(LINES, {"id": ids.order_id(OrderSource.B2B, raw["id"])}))["order"]

    [line] = [line for line in order["lines"] if line["id"] == raw_line["id"]]
    assert [
        (
            d["sku"],
            Decimal(d["quantity"]),
            Decimal(d["unitPrice"]["amount"]),
            Decimal(d["retailPrice"]["amount"]),
        )
        for d in line["details"]
    ] == [
        (
            d["product"],
            Decimal(str(d["quantity"])),
            Decimal(str(d["price"])),
            Decimal(str(d["retailPrice"])),
        )
        for d in raw_line["lineDetail"]
    ]
    assert line["sku"] == raw_line["lineDetail"][0]["product"]  # the line's own: its first
    assert line["deliveryDate"] == raw_line["deliveryDate"]
    assert Decimal(str(line["quantityFromStock"])) == Decimal(str(raw_line["quantityFromStock"]))


async def test_a_deleted_b2b_line_is_flagged_and_still_listed(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    raw_orders = b2b_orders(simulator_urls[OrderSource.B2B])
    raw = next(o for o in raw_orders if any(line["lineStatus"] == "DELETED" for line in o["lines"]))

    order = (await gateway.data(LINES, {"id": ids.order_id(OrderSource.B2B, raw["id"])}))["order"]

    flags = {
        line["id"]: (line["deleted"], line["cancelledAt"] is not None) for line in order["lines"]
    }
    assert flags == {
        line["id"]: (line["lineStatus"] == "DELETED", line["cancellationDate"] is not None)
        for line in raw["lines"]
    }
    assert order["deleted"] is False  # a deleted line does not delete its order


async def test_a_line_of_a_backend_without_details_has_one_made_of_itself(
    gateway: GatewayClient,
) -> None:
    page = await gateway.data(
        "{ orders(first: 5, filter: {sources: [WEBSHOP, AFFILIATE, CRM]}) { edges { node { "
        "lines { sku productName quantity unitPrice { amount } deleted "
        "details { sku productName quantity unitPrice { amount } retailPrice { amount } } } "
        "} } } }"
    )
    lines = [line for edge in page["orders"]["edges"] for line in edge["node"]["lines"]]
    assert lines
    for line in lines:
        [detail] = line["details"]
        assert Decimal(detail.pop("quantity")) == Decimal(str(line["quantity"]))
        assert detail == {
            "sku": line["sku"],
            "productName": line["productName"],
            "unitPrice": line["unitPrice"],
            "retailPrice": None,
        }
        assert line["deleted"] is False


DELETED = """
query Deleted($after: String, $include: Boolean) {
  orders(first: 100, after: $after, filter: {sources: [CRM], includeDeleted: $include}) {
    edges { node { upstreamId deleted } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def crm_listing(gateway: GatewayClient, include: bool | None) -> dict[str, bool]:
    found: dict[str, bool] = {}
    after = None
    while True:
        connection = (await gateway.data(DELETED, {"after": after, "include": include}))["orders"]
        found.update({e["node"]["upstreamId"]: e["node"]["deleted"] for e in connection["edges"]})
        if not connection["pageInfo"]["hasNextPage"]:
            return found
        after = connection["pageInfo"]["endCursor"]


async def test_a_deleted_crm_order_is_listed_only_with_include_deleted(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    url = simulator_urls[OrderSource.CRM]
    raw: list[dict[str, Any]] = []
    while True:
        body = upstream_get(
            OrderSource.CRM, url, "/api/v2/admin/orders", Offset=len(raw), Limit=100
        )
        raw += body["Items"]
        if len(raw) >= body["TotalItemsCount"]:
            break
    deleted = {str(o["Id"]) for o in raw if o["IsDeleted"]}
    assert deleted

    by_default = await crm_listing(gateway, None)
    with_deleted = await crm_listing(gateway, True)

    assert set(by_default) == {str(o["Id"]) for o in raw} - deleted
    assert not any(by_default.values())
    assert set(with_deleted) == {str(o["Id"]) for o in raw}
    assert {upstream_id for upstream_id, flag in with_deleted.items() if flag} == deleted


OFFLINE = """
query Offline($after: String, $offline: Boolean) {
  orders(first: 100, after: $after, filter: {offline: $offline}) {
    edges { node { source upstreamId offline } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def listing(gateway: GatewayClient, offline: bool | None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        connection = (await gateway.data(OFFLINE, {"after": after, "offline": offline}))["orders"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


async def test_offline_orders_are_flagged_and_filtered(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    raw = webshop_orders(simulator_urls[OrderSource.WEBSHOP])
    offline = {str(o["id"]) for o in raw if o["offline"]}
    assert 0 < len(offline) < len(raw)
    for sim in sims.values():
        sim.reset_stats()

    only = await listing(gateway, True)
    # the backends without offline orders were asked nothing; CloudSuite filtered them
    asked = {source: upstream_requests(sim) for source, sim in sims.items()}
    none = await listing(gateway, False)

    assert {(n["source"], n["upstreamId"]) for n in only} == {("WEBSHOP", i) for i in offline}
    assert asked == {source: int(source is OrderSource.WEBSHOP) for source in OrderSource}
    assert all(n["offline"] for n in only) and not any(n["offline"] for n in none)
    assert {n["upstreamId"] for n in none if n["source"] == "WEBSHOP"} == {
        str(o["id"]) for o in raw
    } - offline


MARK_SHIPPED = """
mutation($id: ID!) {
  markShipped(input: {orderId: $id}) {
    order { status offline }
    userErrors { code message }
    delivery { status }
  }
}
"""


async def test_mark_shipped_sets_shipment_state_sent_without_a_desadv(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    url = simulator_urls[OrderSource.WEBSHOP]
    raw = next(
        o
        for o in webshop_orders(url)
        if o["offline"] and o["state"] == "confirmed" and o["shipment_state"] == "not_sent"
    )
    sims[OrderSource.WEBSHOP].reset_stats()

    payload = (
        await gateway.data(MARK_SHIPPED, {"id": ids.order_id(OrderSource.WEBSHOP, str(raw["id"]))})
    )["markShipped"]

    assert payload["userErrors"] == []
    assert payload["order"] == {"status": "DISPATCHED", "offline": True}
    after = upstream_get(OrderSource.WEBSHOP, url, f"/api/order/{raw['id']}/")
    assert (after["shipment_state"], after["deliveries"]) == ("sent", [])
    requests = sims[OrderSource.WEBSHOP].stats()["requests"]
    assert requests.get("PATCH /api/order/{id}/") == 1
    assert "POST /proxy/des_adv_xml/delivery/" not in requests
    sims[OrderSource.WEBSHOP].reset()


async def test_mark_shipped_elsewhere_is_unsupported_and_sends_nothing(
    gateway: GatewayClient, sims: dict[OrderSource, Any]
) -> None:
    page = await gateway.data(
        "{ orders(first: 1, filter: {sources: [AFFILIATE], statuses: [PROCESSING]}) "
        "{ edges { node { id } } } }"
    )
    [edge] = page["orders"]["edges"]
    sims[OrderSource.AFFILIATE].reset_stats()

    payload = (await gateway.data(MARK_SHIPPED, {"id": edge["node"]["id"]}))["markShipped"]

    assert [e["code"] for e in payload["userErrors"]] == ["UNSUPPORTED_BY_BACKEND"]
    writes = {
        route: n
        for route, n in sims[OrderSource.AFFILIATE].stats()["requests"].items()
        if not route.startswith("GET")
    }
    assert writes == {}


CATALOG = """
query($s: OrderSource!) {
  catalog(source: $s) {
    source
    statuses { id code name } lineStatuses { id name } discountCodes { id code name }
    giftVouchers { id name } shippingOptions { id name } taxCodes { id code name }
    companies { id name } clients { id name parentId } agents { id name parentId }
    seasons { id name } businessPartners { id } locations { id name parentId }
    products { id code name }
  }
}
"""


async def test_the_b2b_catalog_lists_what_create_order_needs_and_an_order_from_it_succeeds(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    url = simulator_urls[OrderSource.B2B]
    catalog = (await gateway.data(CATALOG, {"s": "B2B"}))["catalog"]
    upstream_products = upstream_get(OrderSource.B2B, url, "/api/Product/getProduct", pageSize=100)

    assert catalog["source"] == "B2B"
    assert {p["id"] for p in catalog["products"]} == {p["id"] for p in upstream_products["data"]}
    assert {s["id"] for s in catalog["statuses"]} >= {"CONFIRMED", "PENDING"}
    assert "DELETED" in {s["id"] for s in catalog["lineStatuses"]}
    company = catalog["companies"][0]["id"]
    client = next(c for c in catalog["clients"] if c["parentId"] == company)
    agent = next(a for a in catalog["agents"] if a["parentId"] == company)
    locations = [loc for loc in catalog["locations"] if loc["parentId"] == client["id"]]
    shipping = next(loc for loc in locations if "shipping" in loc["name"])
    billing = next(loc for loc in locations if "billing" in loc["name"])

    payload = (
        await gateway.data(
            CREATE,
            {
                "input": {
                    "source": "B2B",
                    "reference": "PO-FROM-CATALOG",
                    "b2b": {
                        "companyId": company,
                        "clientId": client["id"],
                        "agentId": agent["id"],
                        "seasonId": catalog["seasons"][0]["id"],
                        "shippingAddressId": shipping["id"],
                        "billingAddressId": billing["id"],
                        "statusId": "CONFIRMED",
                        "remoteId": "ERP-PO-77",
                        "lines": [
                            {
                                "productId": catalog["products"][0]["id"],
                                "quantity": 6,
                                "remoteId": "ERP-PO-77-1",
                            }
                        ],
                    },
                }
            },
        )
    )["createOrder"]

    assert payload["userErrors"] == []
    upstream_id = ids.decode_order_id(payload["order"]["id"]).upstream_id
    [created] = upstream_get(OrderSource.B2B, url, "/api/Order/getOrder", id=upstream_id)["data"]
    assert (created["reference"], created["company"]["id"], created["client"]["id"]) == (
        "PO-FROM-CATALOG",
        company,
        client["id"],
    )
    # the remote ids the document allows on the order and its lines are stored upstream
    assert created["idRemote"] == "ERP-PO-77"
    assert [line["idRemote"] for line in created["lines"]] == ["ERP-PO-77-1"]
    sims[OrderSource.B2B].reset()


CREATE = """
mutation($input: CreateOrderInput!) {
  createOrder(input: $input) { order { id } userErrors { field message code } }
}
"""


async def test_the_crm_catalog_is_its_order_assets_and_statuses(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    url = simulator_urls[OrderSource.CRM]
    catalog = (await gateway.data(CATALOG, {"s": "CRM"}))["catalog"]
    for field, path in [
        ("discountCodes", "/api/v2/admin/discount-codes"),
        ("giftVouchers", "/api/v2/admin/gift-vouchers"),
        ("shippingOptions", "/api/v2/admin/shipping-options"),
        ("taxCodes", "/api/v2/admin/tax-codes"),
        ("statuses", "/api/v2/admin/orders/order-statuses"),
    ]:
        upstream = upstream_get(OrderSource.CRM, url, path)["Items"]
        assert [e["id"] for e in catalog[field]] == [str(item["Id"]) for item in upstream], field
    assert catalog["products"] == [] and catalog["companies"] == []


async def test_the_webshop_catalog_is_its_states_and_products(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    url = simulator_urls[OrderSource.WEBSHOP]
    catalog = (await gateway.data(CATALOG, {"s": "WEBSHOP"}))["catalog"]
    upstream = upstream_get(OrderSource.WEBSHOP, url, "/api/product/", limit=100)
    assert {(p["code"], p["id"]) for p in catalog["products"]} == {
        (p["key"], str(p["id"])) for p in upstream["results"]
    }
    assert {s["id"] for s in catalog["statuses"]} == {
        "draft",
        "quotation",
        "confirmed",
        "processing",
        "done",
        "cancel",
    }


async def test_a_catalog_is_read_once_a_minute_not_per_query(
    gateway: GatewayClient, sims: dict[OrderSource, Any]
) -> None:
    await gateway.data(CATALOG, {"s": "CRM"})
    sims[OrderSource.CRM].reset_stats()
    for _ in range(3):
        await gateway.data(CATALOG, {"s": "CRM"})
    assert upstream_requests(sims[OrderSource.CRM]) == 0


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
async def test_an_updated_since_past_the_ends_of_time_is_a_validation_error(
    gateway: GatewayClient, since: str
) -> None:
    body = await gateway.query(
        "query($s: DateTime) { orders(filter: {updatedSince: $s}) { edges { cursor } } }",
        {"s": since},
    )
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["VALIDATION"]


@pytest.mark.parametrize("webshop", ["x", "", "-1"])
async def test_a_webshop_that_is_not_a_number_is_a_validation_error(
    gateway: GatewayClient, webshop: str
) -> None:
    body = await gateway.query(
        'query($w: String) { orderByReference(source: WEBSHOP, reference: "CS1", webshop: $w) '
        "{ id } }",
        {"w": webshop},
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["VALIDATION"]


async def test_a_line_detail_carries_its_remote_id(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    raw = b2b_orders(simulator_urls[OrderSource.B2B])[0]
    order = (
        await gateway.data(
            "query($id: ID!) { order(id: $id) { lines { id details { remoteId } } } }",
            {"id": ids.order_id(OrderSource.B2B, raw["id"])},
        )
    )["order"]
    assert {line["id"]: [d["remoteId"] for d in line["details"]] for line in order["lines"]} == {
        line["id"]: [d["idRemote"] for d in line["lineDetail"]] for line in raw["lines"]
    }


AFFILIATE_ORDER = {
    "source": "AFFILIATE",
    "reference": "AFF-GQL-1",
    "affiliate": {
        "affiliateId": "3",
        "currency": "EUR",
        "customer": {"name": "Lena Muller", "email": "lena.muller@example.com"},
        "shippingAddress": {
            "name": "Lena Muller",
            "street": "Friedrichstrasse 44",
            "city": "Berlin",
            "postalCode": "10115",
            "country": "DE",
        },
        "items": [
            {
                "sku": "JACKET-RAIN-M",
                "name": "Rain jacket, M",
                "quantity": 1,
                "unitPrice": "149.00",
                "taxRate": "19.00",
            },
            {
                "sku": "SOCKS-3PK",
                "name": "Bamboo socks, 3-pack",
                "quantity": 2,
                "unitPrice": "12.50",
                "discount": "2.50",
                "taxRate": "19.00",
            },
        ],
        "shipping": "4.95",
        "couponCode": "OUTDOOR10",
        "note": "leave at the door",
    },
}
CREATED = """
mutation($input: CreateOrderInput!) {
  createOrder(input: $input) {
    order { id source reference status lines { sku quantity } shippingAddress { city } }
    userErrors { field message code }
  }
}
"""


async def test_create_order_on_affiliate_inserts_the_order_upstream_and_reads_it_back(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    url = simulator_urls[OrderSource.AFFILIATE]

    payload = (await gateway.data(CREATED, {"input": AFFILIATE_ORDER}))["createOrder"]

    assert payload["userErrors"] == []
    order = payload["order"]
    assert (order["source"], order["reference"], order["status"]) == (
        "AFFILIATE",
        "AFF-GQL-1",
        "PENDING",
    )
    upstream_id = ids.decode_order_id(order["id"]).upstream_id
    stored = upstream_get(OrderSource.AFFILIATE, url, f"/api/v1/orders/{upstream_id}")["data"]
    assert (stored["order_number"], stored["coupon_code"], stored["note"]) == (
        "AFF-GQL-1",
        "OUTDOOR10",
        "leave at the door",
    )
    assert [(i["sku"], i["quantity"], i["discount"]) for i in stored["items"]] == [
        ("JACKET-RAIN-M", 1, "0.00"),
        ("SOCKS-3PK", 2, "2.50"),
    ]
    assert stored["shipping_address"]["line1"] == "Friedrichstrasse 44"
    read = await gateway.data(
        "query($id: ID!) { order(id: $id) { reference lines { sku } } }", {"id": order["id"]}
    )
    assert read["order"] == {
        "reference": "AFF-GQL-1",
        "lines": [{"sku": "JACKET-RAIN-M"}, {"sku": "SOCKS-3PK"}],
    }
    sims[OrderSource.AFFILIATE].reset()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "b2b": {
                    "companyId": "1",
                    "clientId": "1",
                    "agentId": "1",
                    "shippingAddressId": "1",
                    "billingAddressId": "1",
                    "statusId": "X",
                    "lines": [],
                }
            },
            ["input", "b2b"],
        ),
        ({"affiliate": None}, ["input", "affiliate"]),
        (
            {
                "affiliate": {
                    **AFFILIATE_ORDER["affiliate"],
                    "shippingAddress": {"street": "x", "city": "y", "country": "Germany"},
                }
            },
            ["input", "affiliate", "shippingAddress", "country"],
        ),
        (
            {"affiliate": {**AFFILIATE_ORDER["affiliate"], "items": []}},
            ["input", "affiliate", "items"],
        ),
    ],
    ids=["the other part", "no part", "country not ISO", "no items"],
)
async def test_a_new_affiliate_order_its_rules_refuse_is_a_validation_error_and_not_sent(
    gateway: GatewayClient, sims: dict[OrderSource, Any], change: dict[str, Any], field: list[str]
) -> None:
    sims[OrderSource.AFFILIATE].reset_stats()
    payload = (await gateway.data(CREATED, {"input": {**AFFILIATE_ORDER, **change}}))["createOrder"]
    assert payload["order"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("VALIDATION", field)]
    assert upstream_requests(sims[OrderSource.AFFILIATE]) == 0


async def test_a_new_affiliate_order_the_platform_refuses_is_its_refusal(
    gateway: GatewayClient, sims: dict[OrderSource, Any]
) -> None:
    unknown = {
        **AFFILIATE_ORDER,
        "affiliate": {**AFFILIATE_ORDER["affiliate"], "affiliateId": "999"},
    }
    payload = (await gateway.data(CREATED, {"input": unknown}))["createOrder"]
    assert payload["order"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "UPSTREAM_REJECTED" and "affiliate" in error["message"]


SET_LINE_STATUS = """
mutation($input: SetLineStatusInput!) {
  setLineStatus(input: $input) {
    order { lines { id status deleted cancelledAt } }
    userErrors { field code message }
  }
}
"""


async def test_set_line_status_moves_a_b2b_line_upstream(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    url = simulator_urls[OrderSource.B2B]
    raw = next(o for o in b2b_orders(url) if o["status"] == "CONFIRMED" and len(o["lines"]) > 1)
    line = raw["lines"][0]
    order_id = ids.order_id(OrderSource.B2B, raw["id"])

    payload = (
        await gateway.data(
            SET_LINE_STATUS,
            {"input": {"orderId": order_id, "lineId": line["id"], "status": "DELETED"}},
        )
    )["setLineStatus"]

    assert payload["userErrors"] == []
    [after] = upstream_get(OrderSource.B2B, url, "/api/Order/getOrder", id=raw["id"])["data"]
    statuses = {entry["id"]: entry["lineStatus"] for entry in after["lines"]}
    assert statuses == {**{e["id"]: e["lineStatus"] for e in raw["lines"]}, line["id"]: "DELETED"}
    [shown] = [entry for entry in payload["order"]["lines"] if entry["id"] == line["id"]]
    assert shown["status"] == "DELETED" and shown["deleted"] and shown["cancelledAt"]

    refused = (
        await gateway.data(
            SET_LINE_STATUS,
            {"input": {"orderId": order_id, "lineId": line["id"], "status": "LOST"}},
        )
    )["setLineStatus"]
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("VALIDATION", ["input", "status"])
    ]
    sims[OrderSource.B2B].reset()


EDIT_ORDER = """
mutation($input: EditOrderInput!) {
  editOrder(input: $input) {
    order { shippingAddress { street city country } }
    userErrors { field code message }
  }
}
"""


async def test_edit_order_changes_an_affiliate_orders_address_coupon_and_note_upstream(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    url = simulator_urls[OrderSource.AFFILIATE]
    page = await gateway.data(
        "{ orders(first: 1, filter: {sources: [AFFILIATE], statuses: [PENDING]}) "
        "{ edges { node { id upstreamId } } } }"
    )
    [edge] = page["orders"]["edges"]
    new_address = {
        "street": "Damrak 1",
        "city": "Amsterdam",
        "postalCode": "1012 LG",
        "country": "NL",
    }

    payload = (
        await gateway.data(
            EDIT_ORDER,
            {
                "input": {
                    "orderId": edge["node"]["id"],
                    "shippingAddress": new_address,
                    "couponCode": "OUTDOOR10",
                    "note": "ring twice",
                }
            },
        )
    )["editOrder"]

    assert payload["userErrors"] == []
    assert payload["order"]["shippingAddress"]["city"] == "Amsterdam"
    stored = upstream_get(
        OrderSource.AFFILIATE, url, f"/api/v1/orders/{edge['node']['upstreamId']}"
    )["data"]
    assert (stored["shipping_address"]["line1"], stored["shipping_address"]["postcode"]) == (
        "Damrak 1",
        "1012 LG",
    )
    assert (stored["coupon_code"], stored["note"]) == ("OUTDOOR10", "ring twice")
    sims[OrderSource.AFFILIATE].reset()


@pytest.mark.parametrize(
    ("source", "change", "code", "field"),
    [
        ("AFFILIATE", {}, "VALIDATION", ["input"]),
        ("AFFILIATE", {"shippingMethod": "express"}, "VALIDATION", ["input", "shippingMethod"]),
        ("AFFILIATE", {"shippingAddress": {"city": "x"}}, "VALIDATION", None),
        ("CRM", {"note": "hello"}, "UNSUPPORTED_BY_BACKEND", None),
    ],
    ids=["nothing to change", "a shipping method", "an address without street", "another backend"],
)
async def test_an_edit_an_upstream_cannot_take_is_refused_and_not_sent(
    gateway: GatewayClient,
    sims: dict[OrderSource, Any],
    source: str,
    change: dict[str, Any],
    code: str,
    field: list[str] | None,
) -> None:
    page = await gateway.data(
        "query($s: [OrderSource!]) { orders(first: 1, filter: {sources: $s}) "
        "{ edges { node { id } } } }",
        {"s": [source]},
    )
    [edge] = page["orders"]["edges"]
    sims[OrderSource(source)].reset_stats()
    payload = (
        await gateway.data(EDIT_ORDER, {"input": {"orderId": edge["node"]["id"], **change}})
    )["editOrder"]
    errors = payload["userErrors"]
    assert errors and {e["code"] for e in errors} == {code}
    if field is not None:
        assert [e["field"] for e in errors] == [field]
    writes = [r for r in sims[OrderSource(source)].stats()["requests"] if not r.startswith("GET")]
    assert [r for r in writes if "token" not in r and "login" not in r] == []


async def test_a_webshop_order_carries_the_shoppers_own_order_number(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    raw = webshop_orders(simulator_urls[OrderSource.WEBSHOP])
    numbered = next(o for o in raw if o["customer_order_number"])
    unnumbered = next(o for o in raw if not o["customer_order_number"])
    for order in (numbered, unnumbered):
        read = await gateway.data(
            "query($id: ID!) { order(id: $id) { customerOrderNumber } }",
            {"id": ids.order_id(OrderSource.WEBSHOP, str(order["id"]))},
        )
        assert read["order"]["customerOrderNumber"] == order["customer_order_number"]


DELETE = """
mutation($input: DeleteOrderInput!) {
  deleteOrder(input: $input) { deletedOrderId userErrors { field code message } }
}
"""


async def test_delete_order_deletes_a_pending_b2b_order_upstream_once(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    url = simulator_urls[OrderSource.B2B]
    raw = next(o for o in b2b_orders(url) if o["status"] in ("PENDING", "CONFIRMED"))
    order_id = ids.order_id(OrderSource.B2B, raw["id"])
    sims[OrderSource.B2B].reset_stats()
    request = {"input": {"orderId": order_id, "idempotencyKey": "delete-once"}}

    first = (await gateway.data(DELETE, request))["deleteOrder"]
    again = (await gateway.data(DELETE, request))["deleteOrder"]  # the same key: replayed

    assert first == again == {"deletedOrderId": order_id, "userErrors": []}
    assert sims[OrderSource.B2B].stats()["requests"].get("DELETE /api/Order/delete/{id}") == 1
    assert upstream_status(OrderSource.B2B, url, "/api/Order/getOrder", id=raw["id"]) == 404
    read = await gateway.query("query($id: ID!) { order(id: $id) { id } }", {"id": order_id})
    assert read["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    sims[OrderSource.B2B].reset()


@pytest.mark.parametrize(
    ("source", "statuses", "code"),
    [
        ("B2B", ["DISPATCHED", "COMPLETED", "PROCESSING"], "INVALID_TRANSITION"),
        ("AFFILIATE", ["PENDING"], "UNSUPPORTED_BY_BACKEND"),
    ],
    ids=["a B2B order past CONFIRMED", "another backend"],
)
async def test_a_delete_the_order_cannot_take_is_refused_and_not_sent(
    gateway: GatewayClient,
    sims: dict[OrderSource, Any],
    source: str,
    statuses: list[str],
    code: str,
) -> None:
    page = await gateway.data(
        "query($s: [OrderSource!], $st: [OrderStatus!]) "
        "{ orders(first: 1, filter: {sources: $s, statuses: $st}) { edges { node { id } } } }",
        {"s": [source], "st": statuses},
    )
    [edge] = page["orders"]["edges"]
    sims[OrderSource(source)].reset_stats()
    payload = (await gateway.data(DELETE, {"input": {"orderId": edge["node"]["id"]}}))[
        "deleteOrder"
    ]
    assert payload["deletedOrderId"] is None
    assert [e["code"] for e in payload["userErrors"]] == [code]
    assert not any(r.startswith("DELETE") for r in sims[OrderSource(source)].stats()["requests"])


async def test_a_webshop_order_is_found_by_its_erp_key(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str], sims: dict[OrderSource, Any]
) -> None:
    raw = next(
        o for o in webshop_orders(simulator_urls[OrderSource.WEBSHOP]) if o["erp_order_number"]
    )
    sims[OrderSource.WEBSHOP].reset_stats()
    found = await gateway.data(
        "query($r: String!) { orderByReference(source: WEBSHOP, reference: $r) { upstreamId } }",
        {"r": f"ext:{raw['erp_order_number']}"},
    )
    assert found["orderByReference"] == {"upstreamId": str(raw["id"])}
    assert upstream_requests(sims[OrderSource.WEBSHOP]) == 1  # one ext: read, no listing
    assert "GET /api/order/{id}/" in sims[OrderSource.WEBSHOP].stats()["requests"]
    missing = await gateway.query(
        '{ orderByReference(source: WEBSHOP, reference: "ext:ERP-NONE") { id } }'
    )
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
