"""``AffiliateAdapter.execute`` against its running simulator, checked through the platform's
own API: every command, the checks made before sending, the error mapping, the commission
and the ``Idempotency-Key`` on every write."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from backends.affiliate import wire
from backends.affiliate.adapter import AffiliateAdapter, to_order
from backends.affiliate.commission import commission
from backends.affiliate.simulator import create_app
from backends.base import OrderBackend
from backends.config import AffiliateSettings
from backends.simkit.app import SimConfig
from domain.commands import (
    Dispatch,
    EditOrderLines,
    LineEdit,
    OrderCommand,
    SetDiscountCode,
    SplitLine,
    SplitOrder,
    UpdateStatus,
)
from domain.errors import (
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from domain.models import Order, OrderSource, OrderStatus
from tests.support import SimControlClient, serving, upstream_headers

# Seed 7: 100001 pending (1 item x3), 100003 processing (2 items, coupon, PKR),
# 100004 dispatched, 100005 delivered, 100014 confirmed (1 item x3, coupon),
# 100016 pending (2 items), 100017 confirmed, 100020 pending.
SEED = SimConfig(seed=7, orders=30)
WRITES = {"PATCH /api/v1/orders/{order_id}/status", "PUT /api/v1/orders/{order_id}"}
WRITES |= {"POST /api/v1/orders/{order_id}/split", "POST /api/v1/orders"}


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SEED)) as url:
        yield url


@pytest.fixture
def control(sim_url: str) -> SimControlClient:
    control = SimControlClient(sim_url)
    control.reset()
    return control


class Recorder(httpx.AsyncBaseTransport):
    """The real transport, recording every request; ``fail_writes`` turns the simulator's
    ``error_rate`` to 1.0 just before a write goes out (the reads before it succeed)."""

    def __init__(self, control: SimControlClient) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.control = control
        self.requests: list[httpx.Request] = []
        self.fail_writes = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_writes and request.method != "GET":
            self.control.set_faults(error_rate=1.0)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def writes(self) -> list[httpx.Request]:
        return [request for request in self.requests if request.method != "GET"]


@pytest.fixture
def recorder(control: SimControlClient) -> Recorder:
    return Recorder(control)


@pytest.fixture
async def adapter(sim_url: str, recorder: Recorder) -> AsyncIterator[AffiliateAdapter]:
    settings = AffiliateSettings.model_validate(
        {"base_url": sim_url, "retries": 1, "backoff_base_s": 0.01, "backoff_max_s": 0.02}
    )
    adapter = AffiliateAdapter(settings, transport=recorder)
    yield adapter
    await adapter.aclose()


def upstream(sim_url: str, order_id: int | str) -> dict[str, Any]:
    """The order as the platform itself serves it (never through the adapter)."""
    response = httpx.get(
        f"{sim_url}/api/v1/orders/{order_id}",
        headers=upstream_headers(OrderSource.AFFILIATE, sim_url),
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()["data"]
    return data


def as_read(raw: dict[str, Any]) -> Order:
    return to_order(wire.Order.model_validate(raw))


def write_requests(control: SimControlClient) -> dict[str, int]:
    return {k: n for k, n in control.stats()["requests"].items() if k in WRITES}


def rule(raw: dict[str, Any]) -> Decimal:
    """The documented commission rule, written out from the document for the test."""
    if raw["status"] in ("cancelled", "returned"):
        return Decimal("0.00")
    items = sum(Decimal(item["total"]) for item in raw["items"])
    amount = Decimal(raw["commission_rate"]) * items / 100
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def assert_commission(order: Order, raw: dict[str, Any]) -> None:
    """The adapter's commission is the rule, and the platform's own ``commission_amount``."""
    assert order.commission is not None
    assert order.commission.amount == rule(raw) == Decimal(raw["commission_amount"])
    assert order.commission.currency == raw["currency"]


def split(*lines: tuple[str, str]) -> SplitOrder:
    return SplitOrder(lines=tuple(SplitLine(line_id=i, quantity=Decimal(q)) for i, q in lines))


def edit(*lines: LineEdit) -> EditOrderLines:
    return EditOrderLines(lines=lines)


def test_adapter_declares_what_update_status_can_set(adapter: AffiliateAdapter) -> None:
    assert isinstance(adapter, OrderBackend)
    assert adapter.settable_statuses == {
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.RETURNED,
    }


# -- status and dispatch ------------------------------------------------------------------------


async def test_update_status_is_one_patch_and_the_result_is_the_order_read_back(
    adapter: AffiliateAdapter, sim_url: str, recorder: Recorder
) -> None:
    command = UpdateStatus(status=OrderStatus.PROCESSING, note="Picking today")
    result = await adapter.execute("100017", command, idempotency_key="k-status")

    raw = upstream(sim_url, 100017)
    assert (raw["status"], raw["status_note"]) == ("processing", "Picking today")
    assert result.order == as_read(raw)
    assert command.is_applied(result.order)
    [patch] = recorder.writes
    assert patch.url.path == "/api/v1/orders/100017/status"
    assert patch.headers["Idempotency-Key"] == "k-status"


async def test_pending_to_processing_confirms_first(
    adapter: AffiliateAdapter, sim_url: str, recorder: Recorder
) -> None:
    command = UpdateStatus(status=OrderStatus.PROCESSING)
    result = await adapter.execute("100016", command, idempotency_key="k-pp")

    assert upstream(sim_url, 100016)["status"] == "processing"
    assert result.order.status is OrderStatus.PROCESSING
    sent = [(r.content, r.headers["Idempotency-Key"]) for r in recorder.writes]
    assert sent == [
        (b'{"status":"confirmed"}', "k-pp:confirmed"),
        (b'{"status":"processing"}', "k-pp"),
    ]


@pytest.mark.parametrize(
    ("order_id", "status", "upstream_status"),
    [
        ("100004", OrderStatus.DELIVERED, "delivered"),
        ("100005", OrderStatus.COMPLETED, "completed"),
        ("100005", OrderStatus.RETURNED, "returned"),
        ("100020", OrderStatus.CANCELLED, "cancelled"),
    ],
)
async def test_every_settable_status_reaches_the_platform(
    adapter: AffiliateAdapter,
    sim_url: str,
    order_id: str,
    status: OrderStatus,
    upstream_status: str,
) -> None:
    result = await adapter.execute(order_id, UpdateStatus(status=status), idempotency_key="k")
    raw = upstream(sim_url, order_id)
    assert raw["status"] == upstream_status
    assert result.order == as_read(raw)
    assert_commission(result.order, raw)


async def test_cancelling_ends_the_commission(adapter: AffiliateAdapter, sim_url: str) -> None:
    assert Decimal(upstream(sim_url, 100003)["commission_amount"]) > 0
    command = UpdateStatus(status=OrderStatus.CANCELLED)
    result = await adapter.execute("100003", command, idempotency_key="k-cancel")
    raw = upstream(sim_url, 100003)
    assert raw["commission_amount"] == "0.00"
    assert_commission(result.order, raw)


async def test_dispatch_sends_the_consignment_and_answers_its_shipment(
    adapter: AffiliateAdapter, sim_url: str
) -> None:
    command = Dispatch(
        consignment_number="CN7731045528",
        carrier="DHL",
        tracking_url="https://track.example.com/dhl/CN7731045528",
    )
    result = await adapter.execute("100017", command, idempotency_key="k-ship")

    raw = upstream(sim_url, 100017)
    assert raw["status"] == "dispatched"
    assert (raw["consignment_number"], raw["carrier"], raw["tracking_url"]) == (
        "CN7731045528",
        "DHL",
        "https://track.example.com/dhl/CN7731045528",
    )
    assert raw["dispatched_at"] is not None
    assert result.order == as_read(raw)
    assert result.shipment is not None
    assert result.shipment.consignment_number == "CN7731045528"
    assert result.shipment in result.order.shipments


async def test_dispatch_from_pending_confirms_first(
    adapter: AffiliateAdapter, sim_url: str, recorder: Recorder
) -> None:
    command = Dispatch(consignment_number="CN1")
    await adapter.execute("100020", command, idempotency_key="k-ship")
    raw = upstream(sim_url, 100020)
    assert (raw["status"], raw["consignment_number"]) == ("dispatched", "CN1")
    assert [r.headers["Idempotency-Key"] for r in recorder.writes] == ["k-ship:confirmed", "k-ship"]


# -- split --------------------------------------------------------------------------------------


async def test_split_moves_the_lines_to_one_new_order(
    adapter: AffiliateAdapter, sim_url: str, control: SimControlClient
) -> None:
    skus = [item["sku"] for item in upstream(sim_url, 100003)["items"]]
    command = split(("500003", "1"), ("500004", "2"))
    result = await adapter.execute("100003", command, idempotency_key="k-split")

    original = upstream(sim_url, 100003)
    [new_id] = original["split_order_ids"]
    created = upstream(sim_url, new_id)
    # 500003: 3 x 23970.00 with 7191.00 off; one unit moves with its share, 2397.00 off.
    assert [(i["id"], i["quantity"], i["discount"]) for i in original["items"]] == [
        (500003, 2, "4794.00")
    ]
    assert [(i["sku"], i["quantity"]) for i in created["items"]] == [(skus[0], 1), (skus[1], 2)]
    assert created["items"][0]["discount"] == "2397.00"
    assert created["parent_order_id"] == 100003
    assert result.order == as_read(original)
    assert result.new_orders == (as_read(created),)
    assert_commission(result.order, original)
    assert_commission(result.new_orders[0], created)
    assert write_requests(control) == {"POST /api/v1/orders/{order_id}/split": 1}


async def test_a_redelivered_split_is_answered_from_the_platforms_store(
    adapter: AffiliateAdapter, sim_url: str
) -> None:
    command = split(("500001", "1"))
    first = await adapter.execute("100001", command, idempotency_key="k-once")
    again = await adapter.execute("100001", command, idempotency_key="k-once")
    assert again.new_orders == first.new_orders
    assert len(upstream(sim_url, 100001)["split_order_ids"]) == 1


# -- edit ---------------------------------------------------------------------------------------


async def test_edit_replaces_the_items_and_keeps_the_commission_rule(
    adapter: AffiliateAdapter, sim_url: str, recorder: Recorder
) -> None:
    command = EditOrderLines(
        lines=(
            LineEdit(line_id="500024", quantity=Decimal(2)),
            LineEdit(
                sku="MUG-STONE",
                description="Stoneware mug",
                quantity=Decimal(1),
                unit_price=Decimal("9.75"),
            ),
        )
    )
    result = await adapter.execute("100014", command, idempotency_key="k-edit")

    raw = upstream(sim_url, 100014)
    kept, added = raw["items"]
    # 3 x 89.00 with 26.70 off becomes 2 x 89.00 with the discount scaled: 17.80 off.
    assert (kept["id"], kept["quantity"], kept["discount"]) == (500024, 2, "17.80")
    assert (added["sku"], added["name"], added["quantity"]) == ("MUG-STONE", "Stoneware mug", 1)
    assert (added["unit_price"], added["discount"]) == ("9.75", "0.00")
    assert added["tax_rate"] == kept["tax_rate"]
    assert result.order == as_read(raw)
    assert_commission(result.order, raw)
    [put] = recorder.writes
    assert (put.method, put.headers["Idempotency-Key"]) == ("PUT", "k-edit")


async def test_edit_changes_price_sku_and_name_of_a_kept_line(
    adapter: AffiliateAdapter, sim_url: str
) -> None:
    command = EditOrderLines(
        lines=(
            LineEdit(line_id="500027", quantity=Decimal(1)),
            LineEdit(
                line_id="500028",
                sku="MUG-BLUE",
                description="Blue mug",
                quantity=Decimal(4),
                unit_price=Decimal("10.00"),
            ),
        )
    )
    await adapter.execute("100016", command, idempotency_key="k-edit")
    items = [
        (i["id"], i["sku"], i["name"], i["quantity"], i["unit_price"])
        for i in upstream(sim_url, 100016)["items"]
    ]
    assert items[1] == (500028, "MUG-BLUE", "Blue mug", 4, "10.00")
    assert len(items) == 2


async def test_lines_left_out_of_an_edit_are_removed(
    adapter: AffiliateAdapter, sim_url: str
) -> None:
    command = EditOrderLines(lines=(LineEdit(line_id="500028", quantity=Decimal(2)),))
    result = await adapter.execute("100016", command, idempotency_key="k-edit")
    assert [item["id"] for item in upstream(sim_url, 100016)["items"]] == [500028]
    assert [line.id for line in result.order.lines] == ["500028"]


# -- checked before sending ---------------------------------------------------------------------


REFUSED: list[tuple[str, OrderCommand, list[str], str]] = [
    ("100016", split(("999", "1")), ["input", "lines", "0", "lineId"], "has no line '999'"),
    (
        "100016",
        split(("500027", "1"), ("500028", "3")),
        ["input", "lines", "1", "quantity"],
        "'500028' has 2 unit(s); 3 cannot move",
    ),
    ("100016", split(("500028", "1.5")), ["input", "lines", "0", "quantity"], "1.5 is not one"),
    (
        "100016",
        split(("500028", "1"), ("500028", "1")),
        ["input", "lines", "1", "lineId"],
        "'500028' is named twice",
    ),
    ("100001", split(("500001", "3")), ["input", "lines"], "leave order AFF-100001 empty"),
    (
        "100016",
        edit(LineEdit(line_id="500001", quantity=Decimal(1))),
        ["input", "lines", "0", "lineId"],
        "has no line '500001'",
    ),
    (
        "100016",
        edit(LineEdit(description="Mug", quantity=Decimal(1), unit_price=Decimal(1))),
        ["input", "lines", "0", "sku"],
        "needs a sku",
    ),
    (
        "100016",
        edit(
            LineEdit(line_id="500027", quantity=Decimal(1)),
            LineEdit(sku="MUG", quantity=Decimal(1)),
        ),
        ["input", "lines", "1", "unitPrice"],
        "'MUG') needs a unit price",
    ),
    (
        "100016",
        edit(LineEdit(line_id="500027", quantity=Decimal("0.5"))),
        ["input", "lines", "0", "quantity"],
        "0.5 is not one",
    ),
    (
        "100016",
        edit(LineEdit(line_id="500027", quantity=Decimal(1), unit_price=Decimal("9.999"))),
        ["input", "lines", "0", "unitPrice"],
        "9.999 has more decimals",
    ),
]


@pytest.mark.parametrize(("order_id", "command", "field", "message"), REFUSED)
async def test_input_the_platform_refuses_is_caught_before_sending(
    adapter: AffiliateAdapter,
    sim_url: str,
    control: SimControlClient,
    order_id: str,
    command: OrderCommand,
    field: list[str],
    message: str,
) -> None:
    before = upstream(sim_url, order_id)
    with pytest.raises(ValidationError) as caught:
        await adapter.execute(order_id, command, idempotency_key="k")
    assert caught.value.field == field
    assert message in caught.value.message
    assert write_requests(control) == {}
    assert upstream(sim_url, order_id) == before


@pytest.mark.parametrize("order_id", ["999999", "AFF-100001", ""])
async def test_an_unknown_order_is_not_found(
    adapter: AffiliateAdapter, control: SimControlClient, order_id: str
) -> None:
    with pytest.raises(NotFoundError):
        await adapter.execute(
            order_id, UpdateStatus(status=OrderStatus.CANCELLED), idempotency_key="k"
        )
    assert write_requests(control) == {}


async def test_a_command_outside_the_capabilities_is_unsupported(
    adapter: AffiliateAdapter, control: SimControlClient
) -> None:
    with pytest.raises(UnsupportedByBackendError):
        await adapter.execute("100016", SetDiscountCode(code="AFF10"), idempotency_key="k")
    assert control.stats()["total"] == 0


# -- upstream failures --------------------------------------------------------------------------


async def test_a_refusal_by_the_platform_is_rejected(
    adapter: AffiliateAdapter, sim_url: str
) -> None:
    before = upstream(sim_url, 100004)
    command = EditOrderLines(lines=(LineEdit(line_id="500005", quantity=Decimal(1)),))
    with pytest.raises(UpstreamRejectedError) as caught:
        await adapter.execute("100004", command, idempotency_key="k")  # dispatched: locked
    assert caught.value.status == 409
    assert "cannot be edited" in caught.value.message
    assert upstream(sim_url, 100004) == before


async def test_a_failing_write_is_unavailable_and_changes_nothing(
    adapter: AffiliateAdapter, sim_url: str, control: SimControlClient, recorder: Recorder
) -> None:
    before = upstream(sim_url, 100017)
    recorder.fail_writes = True
    with pytest.raises(UpstreamUnavailableError):
        await adapter.execute("100017", Dispatch(consignment_number="CN9"), idempotency_key="k")
    assert write_requests(control) == {"PATCH /api/v1/orders/{order_id}/status": 1}
    control.reset_faults()
    assert upstream(sim_url, 100017) == before


# -- commission ---------------------------------------------------------------------------------


def test_the_commission_rule_matches_every_seeded_order(
    sim_url: str, control: SimControlClient
) -> None:
    response = httpx.get(
        f"{sim_url}/api/v1/orders",
        params={"limit": 100},
        headers=upstream_headers(OrderSource.AFFILIATE, sim_url),
    )
    orders = response.raise_for_status().json()["data"]
    assert len(orders) > 30  # the seed's split orders come on top
    for raw in orders:
        assert commission(wire.Order.model_validate(raw)) == Decimal(raw["commission_amount"])
        assert_commission(as_read(raw), raw)


@pytest.mark.parametrize("status", [OrderStatus.PENDING, OrderStatus.DISPATCHED])
async def test_a_status_update_cannot_set_what_is_not_settable(
    adapter: AffiliateAdapter, control: SimControlClient, status: OrderStatus
) -> None:
    with pytest.raises(UnsupportedByBackendError):
        await adapter.execute("100017", UpdateStatus(status=status), idempotency_key="k")
    assert control.stats()["total"] == 0


async def test_a_replayed_first_answer_older_than_the_order_is_not_taken_for_it(
    adapter: AffiliateAdapter, sim_url: str
) -> None:
    """A redelivery after a lost answer resends under the same key; the platform answers with
    its first answer, the order as it was then. The merchant confirmed it since."""
    command = edit(LineEdit(line_id="500001", quantity=Decimal(2)))
    await adapter.execute("100001", command, idempotency_key="k-replayed")  # its answer "lost"
    headers = upstream_headers(OrderSource.AFFILIATE, sim_url)
    async with httpx.AsyncClient(base_url=sim_url, headers=headers) as platform:
        confirmed = await platform.patch(
            "/api/v1/orders/100001/status", json={"status": "confirmed"}
        )
        confirmed.raise_for_status()
    known = await adapter.snapshot("100001")
    assert known is not None and known.order.status is OrderStatus.CONFIRMED
    result = await adapter.execute("100001", command, idempotency_key="k-replayed", known=known)
    assert result.order.status is OrderStatus.CONFIRMED
    assert result.after is not None and result.after.order == result.order
    assert result.order == as_read(upstream(sim_url, 100001))
