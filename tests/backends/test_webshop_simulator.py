"""The simulated CloudSuite over a real socket: auth, pagination, filters, sorting, writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.simkit.app import SimConfig
from backends.webshop.simulator import TOKEN_PATH, create_app
from tests.support import SimControlClient, serving

FIXTURES = Path(__file__).parent.parent / "fixtures" / "webshop"
CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": "ordergate-demo",
    "client_secret": "demo-secret",
}


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SimConfig(seed=7, orders=120, token_ttl_s=60))) as url:
        yield url


@pytest.fixture
def api(sim_url: str) -> Iterator[httpx.Client]:
    """A client holding a fresh token, on a simulator reset to its seed."""
    SimControlClient(sim_url).reset()
    token = httpx.post(f"{sim_url}{TOKEN_PATH}", data=CREDENTIALS).json()["access_token"]
    with httpx.Client(base_url=sim_url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def all_orders(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every order of a listing, following ``next`` links."""
    orders: list[dict[str, Any]] = []
    url: str | None = "/api/order/"
    query: dict[str, Any] | None = {"limit": 100, **params}
    while url is not None:
        response = api.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        orders.extend(page["results"])
        url, query = page["next"], None
    return orders


def sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# -- authentication --------------------------------------------------------------------


def test_token_endpoint_issues_bearer_tokens_with_the_configured_lifetime(sim_url: str) -> None:
    body = httpx.post(f"{sim_url}{TOKEN_PATH}", data=CREDENTIALS).json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 60
    wrong = httpx.post(f"{sim_url}{TOKEN_PATH}", data={**CREDENTIALS, "client_secret": "nope"})
    assert wrong.status_code == 401


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_requests_without_a_valid_token_get_401_json(sim_url: str, headers: dict[str, str]) -> None:
    response = httpx.get(f"{sim_url}/api/order/", headers=headers)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_expired_tokens_are_refused(api: httpx.Client, sim_url: str) -> None:
    assert api.get("/api/order/").status_code == 200
    assert SimControlClient(sim_url).expire_tokens() >= 1
    assert api.get("/api/order/").status_code == 401


# -- reads -----------------------------------------------------------------------------


def test_pagination_walks_every_seeded_order_exactly_once(api: httpx.Client) -> None:
    ids = [order["id"] for order in all_orders(api, limit=25)]
    assert len(ids) == len(set(ids)) == 120
    first = api.get("/api/order/", params={"limit": 25}).json()
    assert first["count"] == 120 and first["previous"] is None
    assert first["next"].startswith("http://") and "offset=25" in first["next"]
    second = api.get(first["next"]).json()
    assert second["previous"] is not None and "offset" not in second["previous"]


def test_limit_is_capped_at_100_and_defaults_to_20(api: httpx.Client) -> None:
    assert len(api.get("/api/order/", params={"limit": 500}).json()["results"]) == 100
    assert len(api.get("/api/order/").json()["results"]) == 20


def test_default_ordering_is_newest_id_first(api: httpx.Client) -> None:
    ids = [order["id"] for order in all_orders(api)]
    assert ids == sorted(ids, reverse=True)


def test_ordering_by_modification_newest_first(api: httpx.Client) -> None:
    orders = all_orders(api, ordering="-modified_date,-id")
    keys = [(order["modified_date"], order["id"]) for order in orders]
    assert keys == sorted(keys, reverse=True)
    ascending = all_orders(api, ordering="modified_date")
    assert ascending[0]["modified_date"] == min(key for key, _ in keys)


def test_state_filters(api: httpx.Client) -> None:
    everything = all_orders(api)
    confirmed = all_orders(api, state="confirmed")
    assert confirmed and all(order["state"] == "confirmed" for order in confirmed)
    assert len(confirmed) == sum(order["state"] == "confirmed" for order in everything)
    some = all_orders(api, state__in="done,cancel")
    assert {order["state"] for order in some} == {"done", "cancel"}
    bad = api.get("/api/order/", params={"state": "shipped"})
    assert bad.status_code == 400 and "state" in bad.json()


def test_the_documents_example_query_works_verbatim(api: httpx.Client) -> None:
    path = (FIXTURES / "list_confirmed_query.txt").read_text().strip()
    orders = api.get(path).json()["results"]
    assert orders and all(order["state"] == "confirmed" for order in orders)


def test_date_filters(api: httpx.Client) -> None:
    everything = all_orders(api)
    cut = sorted(order["modified_date"] for order in everything)[60]
    recent = all_orders(api, modified_date__gte=cut)
    assert len(recent) == 60 and all(order["modified_date"] >= cut for order in recent)
    confirmed_since = all_orders(api, confirm_date__gte="2026-09-01T00:00:00Z")
    assert all(order["confirm_date"] >= "2026-09-01" for order in confirmed_since)
    confirmed_before = all_orders(api, confirm_date__lte="2026-09-01T00:00:00")
    assert all(order["confirm_date"] <= "2026-09-01" for order in confirmed_before)
    with_date = sum(order["confirm_date"] is not None for order in everything)
    assert len(confirmed_since) + len(confirmed_before) == with_date
    bad = api.get("/api/order/", params={"modified_date__gte": "yesterday"})
    assert bad.status_code == 400 and bad.json() == {
        "modified_date__gte": ["Enter a valid date/time."]
    }


def test_reference_webshop_and_id_filters(api: httpx.Client) -> None:
    some = all_orders(api)[:3]
    by_reference = all_orders(api, reference=some[0]["reference"])
    assert [order["id"] for order in by_reference] == [some[0]["id"]]
    webshop = all_orders(api, webshop=some[0]["webshop"])
    assert webshop and all(order["webshop"] == some[0]["webshop"] for order in webshop)
    wanted = sorted(order["id"] for order in some)
    by_ids = all_orders(api, id__in=",".join(map(str, [*wanted, 999])))
    assert sorted(order["id"] for order in by_ids) == wanted
    assert api.get("/api/order/", params={"id__in": "1,x"}).status_code == 400


def test_order_detail_and_unknown_ids(api: httpx.Client) -> None:
    order = api.get("/api/order/12345/").json()
    assert order["id"] == 12345 and order["customer_details"]["id"] == order["customer"]
    for missing in ("/api/order/999/", "/api/order/abc/"):
        response = api.get(missing)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_same_seed_gives_the_same_bytes() -> None:
    bodies = []
    for seed in (3, 3, 4):
        with serving(create_app(SimConfig(seed=seed, orders=30))) as url:
            token = httpx.post(f"{url}{TOKEN_PATH}", data=CREDENTIALS).json()["access_token"]
            response = httpx.get(
                f"{url}/api/order/",
                params={"limit": 30},
                headers={"Authorization": f"Bearer {token}"},
            )
            bodies.append(response.content.replace(url.encode(), b"BASE"))
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_stats_count_requests_by_route_template(api: httpx.Client, sim_url: str) -> None:
    control = SimControlClient(sim_url)
    control.reset_stats()
    api.get("/api/order/")
    api.get("/api/order/12345/")
    api.get("/api/order/12346/")
    stats = control.stats()
    assert stats["total"] == 3
    assert stats["requests"] == {"GET /api/order/": 1, "GET /api/order/{id}/": 2}


def test_malformed_fault_answers_truncated_json(api: httpx.Client, sim_url: str) -> None:
    SimControlClient(sim_url).set_faults(malformed_rate=1.0)
    response = api.get("/api/order/")
    with pytest.raises(ValueError):
        response.json()


# -- writes ----------------------------------------------------------------------------


def first_order(api: httpx.Client, **params: Any) -> dict[str, Any]:
    orders: list[dict[str, Any]] = api.get("/api/order/", params=params).json()["results"]
    return orders[0]


def test_patch_samples_change_the_order_and_its_modification_time(api: httpx.Client) -> None:
    order = first_order(api, state="confirmed", ordering="modified_date")
    url = f"/api/order/{order['id']}/"
    for name in (
        "patch_state_processing.json",
        "patch_erp_order_number.json",
        "patch_shipment_state_sent.json",
    ):
        assert api.patch(url, json=sample(name)).status_code == 200
    changed = api.get(url).json()
    assert (changed["state"], changed["erp_order_number"], changed["shipment_state"]) == (
        "processing",
        "ERP-124578",
        "sent",
    )
    assert changed["modified_date"] > order["modified_date"]
    assert first_order(api, ordering="-modified_date")["id"] == order["id"]


def test_patch_refuses_invalid_states_drf_style(api: httpx.Client) -> None:
    done = first_order(api, state="done")
    response = api.patch(f"/api/order/{done['id']}/", json={"state": "processing"})
    assert response.status_code == 400
    assert response.json() == {"state": ['Cannot change state from "done" to "processing".']}
    unknown = api.patch(f"/api/order/{done['id']}/", json={"state": "shipped"})
    assert unknown.status_code == 400 and "state" in unknown.json()
    bad_shipment = api.patch(f"/api/order/{done['id']}/", json={"shipment_state": "lost"})
    assert bad_shipment.status_code == 400 and "shipment_state" in bad_shipment.json()
    assert api.get(f"/api/order/{done['id']}/").json()["modified_date"] == done["modified_date"]
    assert api.patch(f"/api/order/{done['id']}/", content=b"{").status_code == 400


def test_put_replaces_the_lines_and_sets_erp_line_numbers(api: httpx.Client) -> None:
    order = first_order(api, state="confirmed")
    body = {
        **sample("put_order_lines.json"),
        "customer": order["customer"],
        "shipment_address": order["shipment_address"],
        "invoice_address": order["invoice_address"],
    }
    response = api.put(f"/api/order/{order['id']}/", json=body)
    assert response.status_code == 200, response.text
    changed = api.get(f"/api/order/{order['id']}/").json()
    lines = [
        (line["product"]["key"], line["quantity"], line["erp_line_number"], line["total"])
        for line in changed["order_lines"]
    ]
    assert lines == [("124_STUK", 1.0, 11, "3.50"), ("123_KG", 2.0, 22, "15.60")]
    assert changed["subtotal"] == "19.10"
    assert changed["erp_order_number"] == "123456789"
    assert changed["modified_date"] > order["modified_date"]


def test_put_validates_related_objects_and_product_keys(api: httpx.Client) -> None:
    order = first_order(api, state="confirmed")
    verbatim = api.put(f"/api/order/{order['id']}/", json=sample("put_order_lines.json"))
    assert verbatim.status_code == 400
    assert verbatim.json()["shipment_address"] == ['Invalid pk "1695" - object does not exist.']
    body = {
        **sample("put_order_lines.json"),
        "customer": order["customer"],
        "shipment_address": order["shipment_address"],
        "invoice_address": order["invoice_address"],
    }
    body["order_lines"][1]["product"]["key"] = "NO-SUCH-SKU"
    unknown = api.put(f"/api/order/{order['id']}/", json=body)
    assert unknown.status_code == 400
    assert unknown.json() == {
        "order_lines": [{}, {"product": ["Object with key=NO-SUCH-SKU does not exist."]}]
    }
    missing = api.put(f"/api/order/{order['id']}/", json={"state": "confirmed"})
    assert missing.status_code == 400 and missing.json()["reference"] == ["This field is required."]


def test_products_list_the_catalogue_order_lines_name(api: httpx.Client) -> None:
    first = api.get("/api/product/", params={"limit": 5}).json()
    assert len(first["results"]) == 5 and first["next"] is not None
    everything = api.get("/api/product/", params={"limit": 100}).json()
    assert everything["count"] == len(everything["results"]) > 5
    by_key = {product["key"]: product for product in everything["results"]}
    assert by_key["124_STUK"]["price"] == "3.50"  # the document's sample keys are products
    keys = {line["product"]["key"] for order in all_orders(api) for line in order["order_lines"]}
    assert keys <= set(by_key)
