"""Every row of the CloudSuite webshop's status and payment tables, one case each.

The tables are written out here, not imported from the adapter: the payment states as
document 001 lists them ("check the payment_status state. Can be one of the following
options"), the states and the status table as ``docs/upstreams/webshop.md`` gives them
("Mapping into the domain", "How the adapter writes"; the document names the states
``confirmed``, ``processing``, ``done`` and the ``shipment_state`` ``sent``, and says
"OFFLINE orders ... shipment-state is sent", so a confirmed order marked sent is
DISPATCHED). Each row is checked end to end against the running simulator:

- reads: an order CloudSuite holds in ``state`` X with ``shipment_state`` S (set through
  CloudSuite's own ``PATCH``), or with ``payment_status`` X, is read as Y;
- writes: ``UpdateStatus(Y)`` leaves CloudSuite's own order in ``state`` X;
- what CloudSuite has no state for (DISPATCHED is a DESADV, DELIVERED and RETURNED have
  none), refused before anything is sent;
- listing filters, sent as ``state__in``; payment filters are not CloudSuite's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from backends.base import OrderQuery
from backends.config import WebshopSettings
from backends.simkit.app import SimConfig
from backends.webshop.adapter import WebshopAdapter
from backends.webshop.simulator import create_app
from domain.commands import UpdateStatus
from domain.errors import ValidationError
from domain.models import OrderStatus, PaymentStatus
from tests.support import RecordingTransport, serving

# Seed 42 with 60 orders holds every state and every payment status.
SEED = SimConfig(seed=42, orders=60)
ORDERS = "/api/order/"
TOKEN = "/realms/CloudSuite/protocol/openid-connect/token"
DEMO_CLIENT = {
    "grant_type": "client_credentials",
    "client_id": "ordergate-demo",
    "client_secret": "demo-secret",
}

# `state` x `shipment_state` -> OrderStatus.
STATUS_READS = [
    pytest.param("draft", "not_sent", OrderStatus.PENDING, id="draft+not_sent->PENDING"),
    pytest.param("draft", "sent", OrderStatus.PENDING, id="draft+sent->PENDING"),
    pytest.param("quotation", "not_sent", OrderStatus.PENDING, id="quotation+not_sent->PENDING"),
    pytest.param("quotation", "sent", OrderStatus.PENDING, id="quotation+sent->PENDING"),
    pytest.param(
        "confirmed", "not_sent", OrderStatus.CONFIRMED, id="confirmed+not_sent->CONFIRMED"
    ),
    # "OFFLINE orders ... shipment-state is sent": sent without processing.
    pytest.param("confirmed", "sent", OrderStatus.DISPATCHED, id="confirmed+sent->DISPATCHED"),
    pytest.param(
        "processing", "not_sent", OrderStatus.PROCESSING, id="processing+not_sent->PROCESSING"
    ),
    pytest.param("processing", "sent", OrderStatus.DISPATCHED, id="processing+sent->DISPATCHED"),
    pytest.param("done", "not_sent", OrderStatus.COMPLETED, id="done+not_sent->COMPLETED"),
    pytest.param("done", "sent", OrderStatus.COMPLETED, id="done+sent->COMPLETED"),
    pytest.param("cancel", "not_sent", OrderStatus.CANCELLED, id="cancel+not_sent->CANCELLED"),
    pytest.param("cancel", "sent", OrderStatus.CANCELLED, id="cancel+sent->CANCELLED"),
]

# Document 001: "closed_success → successful payment, closed_canceled → no payment,
# started → no payment, paid → successful payment, account → no payment needed, order is
# invoiced afterwards, none → no payment": all three "no payment" values are NONE (the raw
# value stays in ``upstream_payment_status``).
PAYMENT_READS = [
    pytest.param("closed_success", PaymentStatus.PAID, id="closed_success->PAID"),
    pytest.param("paid", PaymentStatus.PAID, id="paid->PAID"),
    pytest.param("closed_canceled", PaymentStatus.NONE, id="closed_canceled->NONE"),
    pytest.param("started", PaymentStatus.NONE, id="started->NONE"),
    pytest.param("account", PaymentStatus.INVOICED, id="account->INVOICED"),
    pytest.param("none", PaymentStatus.NONE, id="none->NONE"),
]

# OrderStatus -> the `state` ``PATCH {"state": ...}`` (doc step 3) leaves, each from a state
# other than the target (a draft or quotation is confirmed first on its way to processing
# or done, ``writes.state_steps``).
STATUS_WRITES = [
    pytest.param(OrderStatus.PENDING, "quotation", "draft", id="PENDING->draft"),
    pytest.param(OrderStatus.CONFIRMED, "draft", "confirmed", id="CONFIRMED->confirmed"),
    pytest.param(OrderStatus.PROCESSING, "confirmed", "processing", id="PROCESSING->processing"),
    pytest.param(OrderStatus.COMPLETED, "processing", "done", id="COMPLETED->done"),
    pytest.param(OrderStatus.CANCELLED, "confirmed", "cancel", id="CANCELLED->cancel"),
]

NOT_SETTABLE = [
    pytest.param(OrderStatus.DISPATCHED, id="DISPATCHED"),
    pytest.param(OrderStatus.DELIVERED, id="DELIVERED"),
    pytest.param(OrderStatus.RETURNED, id="RETURNED"),
]

# A status filter is pushed down as every state that reads as one of the asked statuses.
STATUS_FILTERS = [
    pytest.param({OrderStatus.PENDING}, "draft,quotation", id="PENDING->draft,quotation"),
    pytest.param({OrderStatus.CONFIRMED}, "confirmed", id="CONFIRMED->confirmed"),
    pytest.param({OrderStatus.PROCESSING}, "processing", id="PROCESSING->processing"),
    pytest.param(
        {OrderStatus.DISPATCHED}, "confirmed,processing", id="DISPATCHED->confirmed,processing"
    ),
    pytest.param({OrderStatus.COMPLETED}, "done", id="COMPLETED->done"),
    pytest.param({OrderStatus.CANCELLED}, "cancel", id="CANCELLED->cancel"),
    pytest.param(
        {OrderStatus.COMPLETED, OrderStatus.CANCELLED}, "cancel,done", id="COMPLETED+CANCELLED"
    ),
]


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SEED)) as url:
        yield url


class CloudSuite:
    """The simulated webshop read and set up through its own API (never the adapter)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def log_in(self) -> None:
        """A bearer token for the demo client (a reset revokes every token issued)."""
        response = self.http.post(TOKEN, data=DEMO_CLIENT)
        token = response.raise_for_status().json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def orders(self, **filters: str) -> list[dict[str, Any]]:
        response = self.http.get(ORDERS, params={"limit": 100, "ordering": "id", **filters})
        found: list[dict[str, Any]] = response.raise_for_status().json()["results"]
        return found

    def first(self, **fields: str) -> dict[str, Any]:
        """The first order (by id) whose fields have these values."""
        for order in self.orders():
            if all(order[name] == value for name, value in fields.items()):
                return order
        raise AssertionError(f"no order with {fields} in the seed")

    def patch(self, order_id: int, **fields: str) -> None:
        self.http.patch(f"{ORDERS}{order_id}/", json=fields).raise_for_status()

    def state(self, order_id: int) -> str:
        response = self.http.get(f"{ORDERS}{order_id}/")
        state: str = response.raise_for_status().json()["state"]
        return state


@pytest.fixture(scope="module")
def webshop(sim_url: str) -> Iterator[CloudSuite]:
    # verify=False: plain HTTP to 127.0.0.1, and no certificate bundle loaded per client.
    with httpx.Client(base_url=sim_url, verify=False) as http:
        webshop = CloudSuite(http)
        webshop.log_in()
        yield webshop


@pytest.fixture
def seeded(webshop: CloudSuite) -> CloudSuite:
    """CloudSuite back at its seed data (``POST /_sim/reset``)."""
    webshop.http.post("/_sim/reset").raise_for_status()
    webshop.log_in()
    return webshop


class Recorder(RecordingTransport):
    @property
    def listings(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "GET" and r.url.path == ORDERS]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def adapter(sim_url: str, recorder: Recorder) -> AsyncIterator[WebshopAdapter]:
    settings = WebshopSettings(base_url=sim_url, retries=1, backoff_base_s=0.01, timeout_s=2.0)
    adapter = WebshopAdapter(settings, transport=recorder)
    yield adapter
    await adapter.aclose()


@pytest.mark.parametrize(("state", "shipment_state", "canonical"), STATUS_READS)
async def test_an_order_in_a_state_and_shipment_state_reads_as_its_canonical_status(
    adapter: WebshopAdapter,
    seeded: CloudSuite,
    state: str,
    shipment_state: str,
    canonical: OrderStatus,
) -> None:
    raw = seeded.first(state=state)
    seeded.patch(raw["id"], shipment_state=shipment_state)

    [order] = await adapter.get_orders([str(raw["id"])])

    assert order is not None
    assert (order.upstream_status, order.status) == (state, canonical)


@pytest.mark.parametrize(("upstream", "canonical"), PAYMENT_READS)
async def test_an_order_with_a_payment_status_reads_as_its_canonical_payment_status(
    adapter: WebshopAdapter, webshop: CloudSuite, upstream: str, canonical: PaymentStatus
) -> None:
    raw = webshop.first(payment_status=upstream)

    [order] = await adapter.get_orders([str(raw["id"])])

    assert order is not None
    assert order.payment_status is canonical
    assert order.upstream_payment_status == upstream


@pytest.mark.parametrize(("canonical", "start", "state"), STATUS_WRITES)
async def test_a_status_update_leaves_the_cloudsuite_order_in_its_state(
    adapter: WebshopAdapter, seeded: CloudSuite, canonical: OrderStatus, start: str, state: str
) -> None:
    raw = seeded.first(state=start, shipment_state="not_sent")

    result = await adapter.execute(
        str(raw["id"]), UpdateStatus(status=canonical), idempotency_key="mapping-1"
    )

    assert seeded.state(raw["id"]) == state
    assert (result.order.upstream_status, result.order.status) == (state, canonical)


def test_update_status_sets_the_five_statuses_cloudsuite_has_a_state_for(
    adapter: WebshopAdapter,
) -> None:
    assert adapter.settable_statuses == {
        OrderStatus.PENDING,
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    }


@pytest.mark.parametrize("canonical", NOT_SETTABLE)
async def test_a_status_update_without_a_cloudsuite_state_is_refused_before_sending(
    adapter: WebshopAdapter, recorder: Recorder, webshop: CloudSuite, canonical: OrderStatus
) -> None:
    raw = webshop.first(state="confirmed")

    with pytest.raises(ValidationError) as refused:
        await adapter.execute(
            str(raw["id"]), UpdateStatus(status=canonical), idempotency_key="mapping-2"
        )

    assert refused.value.field == ["input", "status"]
    assert recorder.requests == []
    assert webshop.state(raw["id"]) == "confirmed"


@pytest.mark.parametrize(("wanted", "sent"), STATUS_FILTERS)
async def test_a_status_filter_asks_cloudsuite_for_the_states_that_read_as_it(
    adapter: WebshopAdapter,
    recorder: Recorder,
    seeded: CloudSuite,
    wanted: set[OrderStatus],
    sent: str,
) -> None:
    page = await adapter.list_orders(OrderQuery(statuses=frozenset(wanted)), offset=0, limit=20)

    [request] = recorder.listings
    assert request.url.params["state__in"] == sent
    assert page.orders
    assert {order.upstream_status for order in page.orders} <= set(sent.split(","))


@pytest.mark.parametrize(
    "wanted",
    [
        pytest.param({OrderStatus.DELIVERED}, id="DELIVERED"),
        pytest.param({OrderStatus.RETURNED}, id="RETURNED"),
    ],
)
async def test_a_filter_no_state_reads_as_matches_nothing_without_asking(
    adapter: WebshopAdapter, recorder: Recorder, wanted: set[OrderStatus]
) -> None:
    page = await adapter.list_orders(OrderQuery(statuses=frozenset(wanted)), offset=0, limit=5)

    assert (page.orders, page.exhausted, recorder.requests) == ([], True, [])


async def test_a_payment_filter_is_left_to_the_gateway(
    adapter: WebshopAdapter, recorder: Recorder
) -> None:
    query = OrderQuery(payment_statuses=frozenset({PaymentStatus.INVOICED}))
    await adapter.list_orders(query, offset=0, limit=5)

    [request] = recorder.listings
    assert "payment_status" not in request.url.params
    assert "state__in" not in request.url.params
