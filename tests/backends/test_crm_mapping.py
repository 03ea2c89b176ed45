"""Every row of the CRM's status and payment-state tables, one case each.

The tables are written out here from ``docs/upstreams/crm.md`` ("Statuses", "Payment
states", "Canonical status -> CRM status"): document 002 prints only ``"PaymentState":
"None"`` and a ``StatusShort {Id, Name}`` whose names are site-defined, so the status names
are the simulated site's catalog (1 New ... 8 Returned). They are not imported from the
adapter; each row is checked end to end against the running simulator:

- reads: an order whose ``StatusShort.Name``/``PaymentState`` is X is read as Y;
- writes: ``UpdateStatus(Y)`` (``Dispatch`` for DISPATCHED) leaves the CRM's own order
  with ``StatusShort.Name`` X, as the CRM itself serves it;
- DISPATCHED is not settable by ``UpdateStatus``, refused before anything is sent.

The CRM list has no filters, so no status or payment filter is pushed down (pinned in
``test_crm_adapter.py``): there is no query value to translate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from backends.config import CrmSettings
from backends.crm.adapter import CrmAdapter
from backends.crm.simulator import create_app
from backends.simkit.app import SimConfig
from domain.commands import Dispatch, UpdateStatus
from domain.errors import UnsupportedByBackendError
from domain.models import OrderStatus, PaymentStatus
from tests.support import RecordingTransport, serving

# Seed 42 with 60 orders holds every status name and every payment state.
SEED = SimConfig(seed=42, orders=60)
ORDERS = "/api/v2/admin/orders"
DEMO_CLIENT = {
    "grant_type": "client_credentials",
    "client_id": "ordergate-demo",
    "client_secret": "demo-secret",
}

# "`StatusShort.Name` -> `OrderStatus`"
STATUS_READS = [
    pytest.param("New", OrderStatus.PENDING, id="New->PENDING"),
    pytest.param("Confirmed", OrderStatus.CONFIRMED, id="Confirmed->CONFIRMED"),
    pytest.param("Processing", OrderStatus.PROCESSING, id="Processing->PROCESSING"),
    pytest.param("Shipped", OrderStatus.DISPATCHED, id="Shipped->DISPATCHED"),
    pytest.param("Delivered", OrderStatus.DELIVERED, id="Delivered->DELIVERED"),
    pytest.param("Completed", OrderStatus.COMPLETED, id="Completed->COMPLETED"),
    pytest.param("Cancelled", OrderStatus.CANCELLED, id="Cancelled->CANCELLED"),
    pytest.param("Returned", OrderStatus.RETURNED, id="Returned->RETURNED"),
]

# "`PaymentState` -> `PaymentStatus`" (the document prints "None").
PAYMENT_READS = [
    pytest.param("None", PaymentStatus.NONE, id="None->NONE"),
    pytest.param("Pending", PaymentStatus.PENDING, id="Pending->PENDING"),
    pytest.param("Invoiced", PaymentStatus.INVOICED, id="Invoiced->INVOICED"),
    pytest.param("PartiallyPaid", PaymentStatus.PARTIALLY_PAID, id="PartiallyPaid->PARTIALLY_PAID"),
    pytest.param("Paid", PaymentStatus.PAID, id="Paid->PAID"),
    pytest.param("Failed", PaymentStatus.FAILED, id="Failed->FAILED"),
    pytest.param("Refunded", PaymentStatus.REFUNDED, id="Refunded->REFUNDED"),
]

# "`OrderStatus` -> CRM status name": the CRM admin sets any status in one step.
STATUS_WRITES = [
    pytest.param(OrderStatus.PENDING, "New", id="PENDING->New"),
    pytest.param(OrderStatus.CONFIRMED, "Confirmed", id="CONFIRMED->Confirmed"),
    pytest.param(OrderStatus.PROCESSING, "Processing", id="PROCESSING->Processing"),
    pytest.param(OrderStatus.DELIVERED, "Delivered", id="DELIVERED->Delivered"),
    pytest.param(OrderStatus.COMPLETED, "Completed", id="COMPLETED->Completed"),
    pytest.param(OrderStatus.CANCELLED, "Cancelled", id="CANCELLED->Cancelled"),
    pytest.param(OrderStatus.RETURNED, "Returned", id="RETURNED->Returned"),
]


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SEED)) as url:
        yield url


class Crm:
    """The simulated CRM read through its own admin API (never through the adapter)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def first(self, **fields: str) -> dict[str, Any]:
        """The first order (by id) whose ``PaymentState``/``status`` name are these."""
        response = self.http.get(ORDERS, params={"Limit": 100, "Order_By": "Id asc"})
        for order in response.raise_for_status().json()["Items"]:
            if all(self.field(order, name) == value for name, value in fields.items()):
                found: dict[str, Any] = order
                return found
        raise AssertionError(f"no order with {fields} in the seed")

    @staticmethod
    def field(order: dict[str, Any], name: str) -> Any:
        return order["StatusShort"]["Name"] if name == "status" else order[name]

    def log_in(self) -> None:
        """A bearer token for the demo client (a reset revokes every token issued)."""
        response = self.http.post("/api/v1/oauth/token", data=DEMO_CLIENT)
        token = response.raise_for_status().json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def status(self, order_id: int) -> str:
        response = self.http.get(f"{ORDERS}/{order_id}")
        name: str = response.raise_for_status().json()["StatusShort"]["Name"]
        return name


@pytest.fixture(scope="module")
def crm(sim_url: str) -> Iterator[Crm]:
    # verify=False: plain HTTP to 127.0.0.1, and no certificate bundle loaded per client.
    with httpx.Client(base_url=sim_url, verify=False) as http:
        crm = Crm(http)
        crm.log_in()
        yield crm


@pytest.fixture
def seeded(crm: Crm) -> Crm:
    """The CRM back at its seed data (``POST /_sim/reset``)."""
    crm.http.post("/_sim/reset").raise_for_status()
    crm.log_in()
    return crm


@pytest.fixture
def recorder() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def adapter(sim_url: str, recorder: RecordingTransport) -> AsyncIterator[CrmAdapter]:
    settings = CrmSettings(base_url=sim_url, retries=1, backoff_base_s=0.01, timeout_s=2.0)
    adapter = CrmAdapter(settings, transport=recorder)
    yield adapter
    await adapter.aclose()


@pytest.mark.parametrize(("upstream", "canonical"), STATUS_READS)
async def test_an_order_with_a_crm_status_name_reads_as_its_canonical_status(
    adapter: CrmAdapter, crm: Crm, upstream: str, canonical: OrderStatus
) -> None:
    raw = crm.first(status=upstream)

    [order] = await adapter.get_orders([str(raw["Id"])])

    assert order is not None
    assert (order.upstream_status, order.status) == (upstream, canonical)


@pytest.mark.parametrize(("upstream", "canonical"), PAYMENT_READS)
async def test_an_order_with_a_crm_payment_state_reads_as_its_canonical_payment_status(
    adapter: CrmAdapter, crm: Crm, upstream: str, canonical: PaymentStatus
) -> None:
    raw = crm.first(PaymentState=upstream)

    [order] = await adapter.get_orders([str(raw["Id"])])

    assert order is not None
    assert order.payment_status is canonical
    assert order.upstream_payment_status == upstream


@pytest.mark.parametrize(("canonical", "upstream"), STATUS_WRITES)
async def test_a_status_update_leaves_the_crm_order_with_that_status_name(
    adapter: CrmAdapter, seeded: Crm, canonical: OrderStatus, upstream: str
) -> None:
    raw = seeded.first(status="Shipped")  # a status none of the updates sets

    result = await adapter.execute(
        str(raw["Id"]), UpdateStatus(status=canonical), idempotency_key="mapping-1"
    )

    assert seeded.status(raw["Id"]) == upstream
    assert (result.order.upstream_status, result.order.status) == (upstream, canonical)


async def test_a_dispatch_leaves_the_crm_order_shipped(adapter: CrmAdapter, seeded: Crm) -> None:
    raw = seeded.first(status="Processing")

    result = await adapter.execute(
        str(raw["Id"]), Dispatch(consignment_number="CN-MAP-1"), idempotency_key="mapping-2"
    )

    assert seeded.status(raw["Id"]) == "Shipped"
    assert result.order.status is OrderStatus.DISPATCHED


def test_update_status_sets_every_status_but_dispatched(adapter: CrmAdapter) -> None:
    assert adapter.settable_statuses == {
        OrderStatus.PENDING,
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.RETURNED,
    }


async def test_a_status_update_to_dispatched_is_refused_before_sending(
    adapter: CrmAdapter, recorder: RecordingTransport, crm: Crm
) -> None:
    raw = crm.first(status="Processing")

    with pytest.raises(UnsupportedByBackendError):
        await adapter.execute(
            str(raw["Id"]), UpdateStatus(status=OrderStatus.DISPATCHED), idempotency_key="m-3"
        )

    assert recorder.requests == []
    assert crm.status(raw["Id"]) == "Processing"
