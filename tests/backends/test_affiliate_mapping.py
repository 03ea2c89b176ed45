"""Every row of the affiliate platform's status and payment tables, one case each.

The tables are written out here from ``docs/upstreams/affiliate.md`` ("Status and payment
tables"; document 000 names no values, so that page is the platform's specification), not
imported from the adapter, and each row is checked end to end against the running
simulator:

- reads: an order the platform holds in ``status``/``payment_status`` X is read as Y;
- writes: ``UpdateStatus(Y)`` (``Dispatch`` for DISPATCHED) leaves the platform's own order
  in X, as the platform itself serves it;
- what ``UpdateStatus`` cannot set (PENDING, DISPATCHED), refused before anything is sent;
- listing filters, sent as the platform's ``status``/``payment_status`` values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from backends.affiliate.adapter import AffiliateAdapter
from backends.affiliate.simulator import create_app
from backends.base import OrderQuery
from backends.config import AffiliateSettings
from backends.simkit.app import SimConfig
from domain.commands import Dispatch, UpdateStatus
from domain.errors import UnsupportedByBackendError
from domain.models import OrderStatus, PaymentStatus
from tests.support import RecordingTransport, serving

# Seed 42 with 60 orders holds every platform status and every payment status.
SEED = SimConfig(seed=42, orders=60)
KEY = {"X-Api-Key": "demo-affiliate-key"}
LIST = "/api/v1/orders"

# "platform `status` -> `OrderStatus`": the platform's statuses are the canonical ones.
STATUS_READS = [
    pytest.param("pending", OrderStatus.PENDING, id="pending->PENDING"),
    pytest.param("confirmed", OrderStatus.CONFIRMED, id="confirmed->CONFIRMED"),
    pytest.param("processing", OrderStatus.PROCESSING, id="processing->PROCESSING"),
    pytest.param("dispatched", OrderStatus.DISPATCHED, id="dispatched->DISPATCHED"),
    pytest.param("delivered", OrderStatus.DELIVERED, id="delivered->DELIVERED"),
    pytest.param("completed", OrderStatus.COMPLETED, id="completed->COMPLETED"),
    pytest.param("cancelled", OrderStatus.CANCELLED, id="cancelled->CANCELLED"),
    pytest.param("returned", OrderStatus.RETURNED, id="returned->RETURNED"),
]

# "platform `payment_status` -> `PaymentStatus`"; "Nothing maps to `INVOICED`".
PAYMENT_READS = [
    # "nobody has tried to pay yet: there is no payment"
    pytest.param("unpaid", PaymentStatus.NONE, id="unpaid->NONE"),
    # "a payment is under way"
    pytest.param("pending", PaymentStatus.PENDING, id="pending->PENDING"),
    pytest.param("paid", PaymentStatus.PAID, id="paid->PAID"),
    pytest.param(
        "partially_paid", PaymentStatus.PARTIALLY_PAID, id="partially_paid->PARTIALLY_PAID"
    ),
    pytest.param("refunded", PaymentStatus.REFUNDED, id="refunded->REFUNDED"),
    # "the last payment attempt failed"
    pytest.param("failed", PaymentStatus.FAILED, id="failed->FAILED"),
]

# Canonical status -> the platform status ``PATCH .../status`` sends, each from a platform
# status whose ``next`` list (``GET /order-statuses``) allows it in one update.
STATUS_WRITES = [
    pytest.param(OrderStatus.CONFIRMED, "pending", "confirmed", id="CONFIRMED->confirmed"),
    pytest.param(OrderStatus.PROCESSING, "confirmed", "processing", id="PROCESSING->processing"),
    pytest.param(OrderStatus.DELIVERED, "dispatched", "delivered", id="DELIVERED->delivered"),
    pytest.param(OrderStatus.COMPLETED, "delivered", "completed", id="COMPLETED->completed"),
    pytest.param(OrderStatus.CANCELLED, "confirmed", "cancelled", id="CANCELLED->cancelled"),
    pytest.param(OrderStatus.RETURNED, "delivered", "returned", id="RETURNED->returned"),
]

# DISPATCHED needs the consignment number (``Dispatch``); no platform status may go back to
# ``pending`` (no status lists it in ``next``).
NOT_SETTABLE = [
    pytest.param(OrderStatus.PENDING, id="PENDING"),
    pytest.param(OrderStatus.DISPATCHED, id="DISPATCHED"),
]


# A status filter is pushed down as the platform statuses that read as the asked ones.
STATUS_FILTERS = [
    pytest.param({OrderStatus.PENDING}, "pending", id="PENDING->pending"),
    pytest.param({OrderStatus.CONFIRMED}, "confirmed", id="CONFIRMED->confirmed"),
    pytest.param({OrderStatus.PROCESSING}, "processing", id="PROCESSING->processing"),
    pytest.param({OrderStatus.DISPATCHED}, "dispatched", id="DISPATCHED->dispatched"),
    pytest.param({OrderStatus.DELIVERED}, "delivered", id="DELIVERED->delivered"),
    pytest.param({OrderStatus.COMPLETED}, "completed", id="COMPLETED->completed"),
    pytest.param({OrderStatus.CANCELLED}, "cancelled", id="CANCELLED->cancelled"),
    pytest.param({OrderStatus.RETURNED}, "returned", id="RETURNED->returned"),
    pytest.param(
        {OrderStatus.DISPATCHED, OrderStatus.DELIVERED},
        "delivered,dispatched",
        id="DISPATCHED+DELIVERED->delivered,dispatched",
    ),
]

PAYMENT_FILTERS = [
    pytest.param(PaymentStatus.NONE, "unpaid", id="NONE->unpaid"),
    pytest.param(PaymentStatus.PENDING, "pending", id="PENDING->pending"),
    pytest.param(PaymentStatus.PAID, "paid", id="PAID->paid"),
    pytest.param(
        PaymentStatus.PARTIALLY_PAID, "partially_paid", id="PARTIALLY_PAID->partially_paid"
    ),
    pytest.param(PaymentStatus.REFUNDED, "refunded", id="REFUNDED->refunded"),
    pytest.param(PaymentStatus.FAILED, "failed", id="FAILED->failed"),
]


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SEED)) as url:
        yield url


class Platform:
    """The simulated platform read through its own API (never through the adapter)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def first(self, **filters: str) -> dict[str, Any]:
        """The first order, by id, that the platform lists with these filters."""
        response = self.http.get(LIST, params={"limit": 1, "sort": "id", **filters})
        [order] = response.raise_for_status().json()["data"]
        found: dict[str, Any] = order
        return found

    def status(self, order_id: int) -> str:
        response = self.http.get(f"{LIST}/{order_id}")
        status: str = response.raise_for_status().json()["data"]["status"]
        return status


@pytest.fixture(scope="module")
def platform(sim_url: str) -> Iterator[Platform]:
    # verify=False: plain HTTP to 127.0.0.1, and no certificate bundle loaded per client.
    with httpx.Client(base_url=sim_url, headers=KEY, verify=False) as http:
        yield Platform(http)


@pytest.fixture
def seeded(platform: Platform) -> Platform:
    """The platform back at its seed data (``POST /_sim/reset``)."""
    platform.http.post("/_sim/reset").raise_for_status()
    return platform


@pytest.fixture
def recorder() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def adapter(sim_url: str, recorder: RecordingTransport) -> AsyncIterator[AffiliateAdapter]:
    settings = AffiliateSettings.model_validate(
        {"base_url": sim_url, "retries": 1, "backoff_base_s": 0.01, "timeout_s": 2.0}
    )
    adapter = AffiliateAdapter(settings, transport=recorder)
    yield adapter
    await adapter.aclose()


@pytest.mark.parametrize(("upstream", "canonical"), STATUS_READS)
async def test_an_order_in_a_platform_status_reads_as_its_canonical_status(
    adapter: AffiliateAdapter, platform: Platform, upstream: str, canonical: OrderStatus
) -> None:
    raw = platform.first(status=upstream)

    [order] = await adapter.get_orders([str(raw["id"])])

    assert order is not None
    assert (order.upstream_status, order.status) == (upstream, canonical)


@pytest.mark.parametrize(("upstream", "canonical"), PAYMENT_READS)
async def test_an_order_in_a_platform_payment_status_reads_as_its_canonical_one(
    adapter: AffiliateAdapter, platform: Platform, upstream: str, canonical: PaymentStatus
) -> None:
    raw = platform.first(payment_status=upstream)

    [order] = await adapter.get_orders([str(raw["id"])])

    assert order is not None
    assert order.payment_status is canonical
    assert order.upstream_payment_status == upstream


@pytest.mark.parametrize(("canonical", "start", "upstream"), STATUS_WRITES)
async def test_a_status_update_leaves_the_platform_order_in_its_platform_status(
    adapter: AffiliateAdapter, seeded: Platform, canonical: OrderStatus, start: str, upstream: str
) -> None:
    raw = seeded.first(status=start)

    result = await adapter.execute(
        str(raw["id"]), UpdateStatus(status=canonical), idempotency_key="mapping-1"
    )

    assert seeded.status(raw["id"]) == upstream
    assert (result.order.upstream_status, result.order.status) == (upstream, canonical)


async def test_a_dispatch_leaves_the_platform_order_dispatched(
    adapter: AffiliateAdapter, seeded: Platform
) -> None:
    raw = seeded.first(status="processing")

    result = await adapter.execute(
        str(raw["id"]), Dispatch(consignment_number="CN-MAP-1"), idempotency_key="mapping-2"
    )

    assert seeded.status(raw["id"]) == "dispatched"
    assert result.order.status is OrderStatus.DISPATCHED


def test_update_status_sets_every_status_but_pending_and_dispatched(
    adapter: AffiliateAdapter,
) -> None:
    assert adapter.settable_statuses == {
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.RETURNED,
    }


@pytest.mark.parametrize("canonical", NOT_SETTABLE)
async def test_a_status_update_to_an_unsettable_status_is_refused_before_sending(
    adapter: AffiliateAdapter,
    recorder: RecordingTransport,
    platform: Platform,
    canonical: OrderStatus,
) -> None:
    raw = platform.first(status="confirmed")

    with pytest.raises(UnsupportedByBackendError):
        await adapter.execute(
            str(raw["id"]), UpdateStatus(status=canonical), idempotency_key="mapping-3"
        )

    assert recorder.requests == []
    assert platform.status(raw["id"]) == "confirmed"


@pytest.mark.parametrize(("wanted", "sent"), STATUS_FILTERS)
async def test_a_status_filter_asks_the_platform_for_its_own_statuses(
    adapter: AffiliateAdapter,
    recorder: RecordingTransport,
    seeded: Platform,
    wanted: set[OrderStatus],
    sent: str,
) -> None:
    page = await adapter.list_orders(OrderQuery(statuses=frozenset(wanted)), offset=0, limit=5)

    [request] = recorder.requests
    assert request.url.params["status"] == sent
    assert page.orders
    assert {order.status for order in page.orders} <= wanted


@pytest.mark.parametrize(("wanted", "sent"), PAYMENT_FILTERS)
async def test_a_payment_filter_asks_the_platform_for_its_own_payment_status(
    adapter: AffiliateAdapter,
    recorder: RecordingTransport,
    seeded: Platform,
    wanted: PaymentStatus,
    sent: str,
) -> None:
    query = OrderQuery(payment_statuses=frozenset({wanted}))
    page = await adapter.list_orders(query, offset=0, limit=5)

    [request] = recorder.requests
    assert request.url.params["payment_status"] == sent
    assert page.orders
    assert {order.payment_status for order in page.orders} == {wanted}


async def test_an_invoiced_filter_matches_nothing_without_asking(
    adapter: AffiliateAdapter, recorder: RecordingTransport
) -> None:
    query = OrderQuery(payment_statuses=frozenset({PaymentStatus.INVOICED}))
    page = await adapter.list_orders(query, offset=0, limit=5)

    assert (page.orders, page.exhausted, recorder.requests) == ([], True, [])
