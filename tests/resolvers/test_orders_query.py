"""``orders``, ``order``, ``node`` and ``orderByReference`` over the four running simulators."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.models import OrderSource
from tests.conftest import GatewayClient
from tests.support import SimControlClient, upstream_requests, upstream_total, webshop_orders

PAGE = """
query Page($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { cursor node {
      id source upstreamId reference number status upstreamStatus paymentStatus updatedAt
      customer { name email }
    } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    unavailableSources
  }
}
"""

NESTED = """
query Nested($first: Int) {
  orders(first: $first) {
    edges { node {
      id source reference status currency updatedAt
      totals { gross { amount } discount { amount } shipping { amount } tax { amount }
               total { amount currency } paid { amount } pending { amount } }
      customer { id name email } company { name } agent { name } season commission { amount }
      shippingAddress { street city country } billingAddress { city }
      lines { id sku productName quantity quantityShipped unitPrice { amount } total { amount }
              taxRate status erpLineNumber discounts { kind percent amount { amount } } }
      discounts { kind code name amount { amount } percent sequence }
      shipments { id consignmentNumber carrier trackingUrl dispatchedAt }
      payments { id amount { amount currency } status method createdAt }
      parentOrder { id reference }
      splitOrders { id }
      capabilities
    } }
    unavailableSources
  }
}
"""


async def walk(
    gateway: GatewayClient, first: int, filter: dict[str, Any] | None = None
) -> list[dict]:
    nodes: list[dict] = []
    after = None
    while True:
        data = await gateway.data(PAGE, {"first": first, "after": after, "filter": filter})
        connection = data["orders"]
        assert connection["unavailableSources"] == []
        nodes.extend(edge["node"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


async def test_paging_through_everything_yields_each_simulators_orders_exactly_once(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    nodes = await walk(gateway, 25)
    ids = [node["id"] for node in nodes]
    assert len(ids) == len(set(ids))
    for source, url in simulator_urls.items():
        from_source = [node for node in nodes if node["source"] == source.value]
        assert len(from_source) == upstream_total(source, url), source
    stamps = [datetime.fromisoformat(node["updatedAt"]) for node in nodes]
    assert stamps == sorted(stamps, reverse=True)


async def test_a_nested_page_costs_a_few_requests_per_backend_whatever_its_size(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    costs = {}
    for first in (10, 100):
        await gateway.data(NESTED, {"first": 1})  # tokens and catalogs are not what we count
        for sim in sims.values():
            sim.reset_stats()
        data = await gateway.data(NESTED, {"first": first})
        assert len(data["orders"]["edges"]) == first
        costs[first] = {source: upstream_requests(sim) for source, sim in sims.items()}
    assert all(1 <= n <= 4 for n in costs[100].values()), costs
    assert costs[100] == costs[10]


async def test_backends_are_read_concurrently(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    """Every backend's list request arrives before any of them is answered: read one after
    another, the first would be answered before the next arrived. From the simulators' own
    request logs (one process, one clock), not from how long the query took."""
    await gateway.data(NESTED, {"first": 1})  # credentials fetched: only list reads follow
    for sim in sims.values():
        sim.reset_stats()
        sim.set_faults(latency_ms=500)  # every list read stays open long enough to overlap
    data = await gateway.data(NESTED, {"first": 20})
    assert {edge["node"]["source"] for edge in data["orders"]["edges"]} == {
        s.value for s in OrderSource
    }
    reads = [entry for sim in sims.values() for entry in sim.request_log()]
    assert len(reads) == len(OrderSource), reads  # one list read per backend, nothing else
    assert max(read["arrived"] for read in reads) < min(read["answered"] for read in reads)


@pytest.mark.parametrize(
    "fault", [{"error_rate": 1.0}, {"malformed_rate": 1.0}], ids=["down", "garbage"]
)
@pytest.mark.parametrize("broken", list(OrderSource), ids=lambda s: s.value)
async def test_a_failing_backend_leaves_the_others_orders_and_a_typed_error(
    gateway: GatewayClient,
    sims: dict[OrderSource, SimControlClient],
    broken: OrderSource,
    fault: dict[str, float],
) -> None:
    sims[broken].set_faults(**fault)
    response = await gateway.post(PAGE, {"first": 40})
    assert response.status_code == 200
    body = response.json()
    connection = body["data"]["orders"]
    assert connection["unavailableSources"] == [broken.value]
    sources = {edge["node"]["source"] for edge in connection["edges"]}
    assert sources == {s.value for s in OrderSource} - {broken.value}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["source"] == broken.value
    assert error["path"] == ["orders"]


async def test_order_and_node_read_one_order_by_its_global_id(gateway: GatewayClient) -> None:
    first = (await gateway.data(PAGE, {"first": 8}))["orders"]["edges"]
    for edge in first:
        expected = edge["node"]
        data = await gateway.data(
            "query($id: ID!) { order(id: $id) { id reference source upstreamId }"
            " node(id: $id) { id ... on Order { reference } } }",
            {"id": expected["id"]},
        )
        assert data["order"]["reference"] == expected["reference"]
        assert data["order"]["upstreamId"] == expected["upstreamId"]
        assert data["node"] == {"id": expected["id"], "reference": expected["reference"]}


@pytest.mark.parametrize(
    "order_id",
    ["nonsense", "", "T3JkZXI6V0VCU0hPUDo5OTk5OTk5", "T3JkZXI6TUFSUzox"],
    ids=["garbage", "empty", "unknown-upstream-id", "unknown-source"],
)
async def test_an_unknown_or_malformed_id_is_null_and_not_found(
    gateway: GatewayClient, order_id: str
) -> None:
    body = await gateway.query("query($id: ID!) { order(id: $id) { id } }", {"id": order_id})
    assert body["data"] == {"order": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["path"] == ["order"]


async def test_order_by_reference_finds_each_backends_orders(gateway: GatewayClient) -> None:
    nodes = (await gateway.data(PAGE, {"first": 60}))["orders"]["edges"]
    for source in OrderSource:
        node = next(e["node"] for e in nodes if e["node"]["source"] == source.value)
        data = await gateway.data(
            "query($s: OrderSource!, $r: String!)"
            " { orderByReference(source: $s, reference: $r) { id } }",
            {"s": source.value, "r": node["reference"]},
        )
        assert data["orderByReference"] == {"id": node["id"]}
    body = await gateway.query(
        '{ orderByReference(source: WEBSHOP, reference: "NO-SUCH-REF") { id } }'
    )
    assert body["data"] == {"orderByReference": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


FILTERS = [
    {"sources": ["CRM", "B2B"]},
    {"statuses": ["CONFIRMED", "PROCESSING"]},
    {"statuses": ["CANCELLED"], "sources": ["WEBSHOP", "AFFILIATE"]},
    {"paymentStatuses": ["PAID"]},
    {"updatedSince": "2026-09-15T00:00:00+00:00"},
    {"search": "an"},
    {"statuses": ["DISPATCHED", "DELIVERED"], "updatedSince": "2026-08-01T00:00:00+00:00"},
]


def matches(node: dict[str, Any], filter: dict[str, Any]) -> bool:
    if "sources" in filter and node["source"] not in filter["sources"]:
        return False
    if "statuses" in filter and node["status"] not in filter["statuses"]:
        return False
    if "paymentStatuses" in filter and node["paymentStatus"] not in filter["paymentStatuses"]:
        return False
    if "updatedSince" in filter and datetime.fromisoformat(
        node["updatedAt"]
    ) < datetime.fromisoformat(filter["updatedSince"]):
        return False
    if "search" in filter:
        needle = filter["search"].casefold()
        customer = node["customer"] or {}
        texts = [node["reference"], node["number"], customer.get("name"), customer.get("email")]
        if not any(t and needle in t.casefold() for t in texts):
            return False
    return True


@pytest.fixture(scope="module")
def everything() -> list[dict[str, Any]]:
    """Filled by the first filter test: the whole unfiltered listing."""
    return []


@pytest.mark.parametrize("filter", FILTERS, ids=lambda f: ",".join(f))
async def test_filters_give_exactly_the_matching_orders(
    gateway: GatewayClient, filter: dict[str, Any], everything: list[dict[str, Any]]
) -> None:
    if not everything:
        everything.extend(await walk(gateway, 100))
    expected = [node["id"] for node in everything if matches(node, filter)]
    got = [node["id"] for node in await walk(gateway, 30, filter)]
    assert got == expected
    assert expected, "the seed data should give every filter something to find"


async def test_backends_lists_each_upstream_with_its_capabilities(gateway: GatewayClient) -> None:
    data = await gateway.data("{ backends { source name healthy capabilities } }")
    assert [b["source"] for b in data["backends"]] == [s.value for s in OrderSource]
    assert all(b["healthy"] for b in data["backends"])
    assert all(b["capabilities"] for b in data["backends"])


TOTALS = """
{ orders(first: 100) { edges { node { source reference totals {
    gross { amount } discount { amount } shipping { amount } tax { amount } total { amount }
    taxIncluded } } } } }
"""


async def test_totals_add_up_the_same_way_for_every_backend(gateway: GatewayClient) -> None:
    edges = (await gateway.data(TOTALS))["orders"]["edges"]
    off = []
    for edge in edges:
        t = {
            k: v if k == "taxIncluded" else Decimal(v["amount"])
            for k, v in edge["node"]["totals"].items()
        }
        expected = (
            t["gross"] - t["discount"] + t["shipping"] + (0 if t["taxIncluded"] else t["tax"])
        )
        if abs(expected - t["total"]) > Decimal("0.02"):
            off.append((edge["node"]["source"], edge["node"]["reference"], t))
    assert off == []


async def test_the_same_order_asked_by_several_requests_at_once_is_read_upstream_once(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient]
) -> None:
    data = await gateway.data(
        "{ orders(first: 1, filter: {sources: [WEBSHOP]}) { edges { node { id reference } } } }"
    )
    [edge] = data["orders"]["edges"]
    sims[OrderSource.WEBSHOP].reset_stats()
    sims[OrderSource.WEBSHOP].set_faults(latency_ms=300)  # the reads overlap
    answers = await asyncio.gather(
        *(
            gateway.data(
                "query($id: ID!) { order(id: $id) { reference } }", {"id": edge["node"]["id"]}
            )
            for _ in range(5)
        )
    )
    assert {answer["order"]["reference"] for answer in answers} == {edge["node"]["reference"]}
    log = sims[OrderSource.WEBSHOP].request_log()
    assert len(log) == 1, log


NO_PAYMENT = """
query NoPayment($after: String) {
  orders(first: 50, after: $after, filter: {sources: [WEBSHOP], paymentStatuses: [NONE]}) {
    edges { node { upstreamId paymentStatus upstreamPaymentStatus } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_no_payment_finds_every_webshop_order_the_document_calls_unpaid(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    """Document 001: ``closed_canceled``, ``started`` and ``none`` all mean "no payment"."""
    url = simulator_urls[OrderSource.WEBSHOP]
    raw = webshop_orders(url)
    unpaid = {str(o["id"]): o["payment_status"] for o in raw if o["payment_status"] in NO_PAY}
    assert set(unpaid.values()) == NO_PAY  # the seed has each of them

    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        connection = (await gateway.data(NO_PAYMENT, {"after": after}))["orders"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert {n["upstreamId"]: n["upstreamPaymentStatus"] for n in nodes} == unpaid
    assert {n["paymentStatus"] for n in nodes} == {"NONE"}


NO_PAY = {"closed_canceled", "started", "none"}


BY_REFERENCE = """
query($s: OrderSource!, $r: String!, $w: String) {
  orderByReference(source: $s, reference: $r, webshop: $w) { id webshop reference }
}
"""


async def test_a_webshop_reference_in_two_webshops_needs_the_webshop(
    gateway: GatewayClient, simulator_urls: dict[OrderSource, str]
) -> None:
    url = simulator_urls[OrderSource.WEBSHOP]
    raw = webshop_orders(url)
    references = [order["reference"] for order in raw]
    reference = next(r for r in references if references.count(r) > 1)
    orders = {str(o["webshop"]): str(o["id"]) for o in raw if o["reference"] == reference}

    ambiguous = await gateway.query(BY_REFERENCE, {"s": "WEBSHOP", "r": reference})

    assert ambiguous["data"] == {"orderByReference": None}
    [error] = ambiguous["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    candidates = {c["webshop"]: c["id"] for c in error["extensions"]["candidates"]}
    assert candidates.keys() == orders.keys()
    for webshop, upstream_id in orders.items():
        data = await gateway.data(BY_REFERENCE, {"s": "WEBSHOP", "r": reference, "w": webshop})
        found = data["orderByReference"]
        assert found == {"id": candidates[webshop], "webshop": webshop, "reference": reference}
        node = await gateway.data(
            "query($id: ID!) { order(id: $id) { upstreamId } }", {"id": found["id"]}
        )
        assert node["order"]["upstreamId"] == upstream_id


async def test_a_webshop_is_refused_for_a_backend_without_webshops(gateway: GatewayClient) -> None:
    body = await gateway.query(BY_REFERENCE, {"s": "AFFILIATE", "r": "X", "w": "1"})
    assert body["data"] == {"orderByReference": None}
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "Only WEBSHOP orders belong to a webshop" in body["errors"][0]["message"]
