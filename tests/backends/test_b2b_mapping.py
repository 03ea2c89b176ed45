"""Every row of the B2B API's status tables, one case each.

Document 003 prints order statuses only as ``"status": "string"`` and points at
``GET /Order/getOrder/Status`` for the ids; the tables are written out here from
``docs/upstreams/b2b.md`` ("Status table", "Status table for ``UpdateStatus``"), whose ids
are that catalog's (``PENDING`` ... ``CANCELLED``), not imported from the adapter. Each row
is checked end to end against the running simulator:

- reads: an order the API holds in ``status`` X is read as Y (and, as the API carries no
  payment data, with payment status NONE);
- writes: ``UpdateStatus(Y)`` leaves the API's own order in ``status`` X;
- DISPATCHED (``SHIPPED`` upstream is a dispatch, which the API lacks) and RETURNED (no
  such status in the catalog) are refused before anything is sent;
- listing filters, sent as ``updatedFrom``'s ``status[]`` ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from backends.b2b.adapter import B2BAdapter
from backends.b2b.simulator import create_app
from backends.base import OrderQuery
from backends.config import B2BSettings
from backends.simkit.app import SimConfig
from domain.commands import UpdateStatus
from domain.errors import ValidationError
from domain.models import OrderStatus, PaymentStatus
from tests.support import RecordingTransport, serving

# Seed 42 with 40 orders holds every order status.
SEED = SimConfig(seed=42, orders=40)
ORDERS = "/api/Order/getOrder"
UPDATED_FROM = "/api/Order/updatedFrom"

# "upstream `status` -> `OrderStatus`"; "Nothing maps to `RETURNED`".
STATUS_READS = [
    pytest.param("PENDING", OrderStatus.PENDING, id="PENDING->PENDING"),
    pytest.param("CONFIRMED", OrderStatus.CONFIRMED, id="CONFIRMED->CONFIRMED"),
    pytest.param("IN_PROGRESS", OrderStatus.PROCESSING, id="IN_PROGRESS->PROCESSING"),
    pytest.param("SHIPPED", OrderStatus.DISPATCHED, id="SHIPPED->DISPATCHED"),
    pytest.param("DELIVERED", OrderStatus.DELIVERED, id="DELIVERED->DELIVERED"),
    pytest.param("CLOSED", OrderStatus.COMPLETED, id="CLOSED->COMPLETED"),
    pytest.param("CANCELLED", OrderStatus.CANCELLED, id="CANCELLED->CANCELLED"),
]

# "`OrderStatus` -> upstream `status` sent": one PUT each, the API enforces no transitions.
STATUS_WRITES = [
    pytest.param(OrderStatus.PENDING, "PENDING", id="PENDING->PENDING"),
    pytest.param(OrderStatus.CONFIRMED, "CONFIRMED", id="CONFIRMED->CONFIRMED"),
    pytest.param(OrderStatus.PROCESSING, "IN_PROGRESS", id="PROCESSING->IN_PROGRESS"),
    pytest.param(OrderStatus.DELIVERED, "DELIVERED", id="DELIVERED->DELIVERED"),
    pytest.param(OrderStatus.COMPLETED, "CLOSED", id="COMPLETED->CLOSED"),
    pytest.param(OrderStatus.CANCELLED, "CANCELLED", id="CANCELLED->CANCELLED"),
]

NOT_SETTABLE = [
    pytest.param(OrderStatus.DISPATCHED, id="DISPATCHED"),
    pytest.param(OrderStatus.RETURNED, id="RETURNED"),
]

# A status filter is pushed down as every upstream status id that reads as an asked status.
STATUS_FILTERS = [
    pytest.param({OrderStatus.PENDING}, ["PENDING"], id="PENDING->PENDING"),
    pytest.param({OrderStatus.CONFIRMED}, ["CONFIRMED"], id="CONFIRMED->CONFIRMED"),
    pytest.param({OrderStatus.PROCESSING}, ["IN_PROGRESS"], id="PROCESSING->IN_PROGRESS"),
    pytest.param({OrderStatus.DISPATCHED}, ["SHIPPED"], id="DISPATCHED->SHIPPED"),
    pytest.param({OrderStatus.DELIVERED}, ["DELIVERED"], id="DELIVERED->DELIVERED"),
    pytest.param({OrderStatus.COMPLETED}, ["CLOSED"], id="COMPLETED->CLOSED"),
    pytest.param({OrderStatus.CANCELLED}, ["CANCELLED"], id="CANCELLED->CANCELLED"),
    pytest.param(
        {OrderStatus.DISPATCHED, OrderStatus.COMPLETED},
        ["CLOSED", "SHIPPED"],
        id="DISPATCHED+COMPLETED->CLOSED,SHIPPED",
    ),
]


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SEED)) as url:
        yield url


class B2B:
    """The simulated B2B API read through its own JSON endpoints (never the adapter)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def log_in(self) -> None:
        """A bearer token for the demo user (a reset revokes every token issued)."""
        response = self.http.post("/api/login", json={"_username": "demo", "_password": "demo"})
        token = response.raise_for_status().json()["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def first(self, status: str) -> dict[str, Any]:
        """The newest order the API holds in ``status``."""
        response = self.http.get(
            UPDATED_FROM, params={"date": "1999-01-01 01:00:00", "status[]": status, "pageSize": 1}
        )
        [order] = response.raise_for_status().json()["data"]
        found: dict[str, Any] = order
        return found

    def status(self, order_id: str) -> str:
        response = self.http.get(ORDERS, params={"id": order_id})
        [order] = response.raise_for_status().json()["data"]
        status: str = order["status"]
        return status


@pytest.fixture(scope="module")
def b2b(sim_url: str) -> Iterator[B2B]:
    # verify=False: plain HTTP to 127.0.0.1, and no certificate bundle loaded per client.
    headers = {"Accept": "application/json"}
    with httpx.Client(base_url=sim_url, headers=headers, verify=False) as http:
        b2b = B2B(http)
        b2b.log_in()
        yield b2b


@pytest.fixture
def seeded(b2b: B2B) -> B2B:
    """The API back at its seed data (``POST /_sim/reset``)."""
    b2b.http.post("/_sim/reset").raise_for_status()
    b2b.log_in()
    return b2b


class Recorder(RecordingTransport):
    @property
    def listings(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(UPDATED_FROM)]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def adapter(sim_url: str, recorder: Recorder) -> AsyncIterator[B2BAdapter]:
    settings = B2BSettings(base_url=sim_url, retries=1, backoff_base_s=0.001, timeout_s=2.0)
    adapter = B2BAdapter(settings, transport=recorder)
    yield adapter
    await adapter.aclose()


@pytest.mark.parametrize(("upstream", "canonical"), STATUS_READS)
async def test_an_order_in_an_upstream_status_reads_as_its_canonical_status(
    adapter: B2BAdapter, b2b: B2B, upstream: str, canonical: OrderStatus
) -> None:
    raw = b2b.first(upstream)

    [order] = await adapter.get_orders([raw["id"]])

    assert order is not None
    assert (order.upstream_status, order.status) == (upstream, canonical)
    assert order.payment_status is PaymentStatus.NONE
    assert order.upstream_payment_status is None  # B2B keeps no payment status


@pytest.mark.parametrize(("canonical", "upstream"), STATUS_WRITES)
async def test_a_status_update_leaves_the_upstream_order_in_its_status_id(
    adapter: B2BAdapter, seeded: B2B, canonical: OrderStatus, upstream: str
) -> None:
    raw = seeded.first("SHIPPED")  # a status none of the updates sets

    result = await adapter.execute(
        raw["id"], UpdateStatus(status=canonical), idempotency_key="mapping-1"
    )

    assert seeded.status(raw["id"]) == upstream
    assert (result.order.upstream_status, result.order.status) == (upstream, canonical)


def test_update_status_sets_every_status_but_dispatched_and_returned(
    adapter: B2BAdapter,
) -> None:
    assert adapter.settable_statuses == {
        OrderStatus.PENDING,
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    }


@pytest.mark.parametrize("canonical", NOT_SETTABLE)
async def test_a_status_update_to_an_unsettable_status_is_refused_before_sending(
    adapter: B2BAdapter, recorder: Recorder, b2b: B2B, canonical: OrderStatus
) -> None:
    raw = b2b.first("CONFIRMED")

    with pytest.raises(ValidationError) as refused:
        await adapter.execute(raw["id"], UpdateStatus(status=canonical), idempotency_key="m-2")

    assert refused.value.field == ["input", "status"]
    assert recorder.requests == []
    assert b2b.status(raw["id"]) == "CONFIRMED"


@pytest.mark.parametrize(("wanted", "sent"), STATUS_FILTERS)
async def test_a_status_filter_asks_the_api_for_the_status_ids_that_read_as_it(
    adapter: B2BAdapter,
    recorder: Recorder,
    seeded: B2B,
    wanted: set[OrderStatus],
    sent: list[str],
) -> None:
    page = await adapter.list_orders(OrderQuery(statuses=frozenset(wanted)), offset=0, limit=10)

    [request] = recorder.listings
    assert sorted(request.url.params.get_list("status[]")) == sent
    assert page.orders
    assert {order.upstream_status for order in page.orders} <= set(sent)


async def test_a_returned_filter_matches_nothing_without_asking(
    adapter: B2BAdapter, recorder: Recorder
) -> None:
    query = OrderQuery(statuses=frozenset({OrderStatus.RETURNED}))
    page = await adapter.list_orders(query, offset=0, limit=10)

    assert (page.orders, page.exhausted, recorder.requests) == ([], True, [])
