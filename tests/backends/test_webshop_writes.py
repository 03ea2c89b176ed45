"""WEBSHOP writes against the running simulator, checked through CloudSuite's own API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backends.base import OrderBackend
from backends.config import WebshopSettings
from backends.simkit.app import SimConfig
from backends.webshop import wire
from backends.webshop.adapter import STATE_FOR_STATUS, WebshopAdapter, to_order
from backends.webshop.desadv import Desadv, LineItem, from_xml, to_xml
from backends.webshop.simulator import DESADV_PATH, TOKEN_PATH, create_app
from backends.webshop.writes import desadv_lines, desadv_number, order_write
from domain.commands import (
    Dispatch,
    EditOrderLines,
    ErpLineNumber,
    LineEdit,
    OrderCommand,
    SetDiscountCode,
    SetErpOrderNumber,
    SplitLine,
    SplitOrder,
    UpdateStatus,
)
from domain.errors import (
    ConflictError,
    NotFoundError,
    UnsupportedByBackendError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from domain.models import Order, OrderSource, OrderStatus
from tests.support import SimControlClient, serving, upstream_headers

KEY = "write-1"
PATCH = "PATCH /api/order/{id}/"
PUT = "PUT /api/order/{id}/"
DESADV = f"POST {DESADV_PATH}"
PRODUCTS = "GET /api/product/"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with serving(create_app(SimConfig(seed=11, orders=120))) as url:
        yield url


@pytest.fixture
def control(sim_url: str) -> SimControlClient:
    control = SimControlClient(sim_url)
    control.reset()
    return control


class Upstream:
    """CloudSuite's own API, read directly (never through the adapter)."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client = client
        client.headers.update(upstream_headers(OrderSource.WEBSHOP, url))

    def order(self, order_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/order/{order_id}/")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def send_desadv(self, desadv: Desadv, *, shop: int) -> httpx.Response:
        return self.client.post(
            DESADV_PATH,
            params={"shop": shop},
            content=to_xml(desadv),
            headers={"Content-Type": "application/xml"},
        )

    def first(self, state: str, where: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The lowest-id order in ``state`` for which ``where`` holds."""
        page = self.client.get("/api/order/", params={"state": state, "limit": 100}).json()
        return next(o for o in sorted(page["results"], key=lambda o: o["id"]) if where(o))


@pytest.fixture(scope="module")
def raw_client(sim_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim_url) as client:
        yield client


@pytest.fixture
def upstream(sim_url: str, raw_client: httpx.Client, control: SimControlClient) -> Upstream:
    """The simulator's own API with a fresh token, after ``control`` has reset it."""
    return Upstream(raw_client, sim_url)


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport; records each request and can act just before each write."""

    def __init__(self, before_write: Callable[[], object] | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.before_write = before_write
        self.requests: list[httpx.Request] = []

    @property
    def writes(self) -> list[httpx.Request]:
        return [request for request in self.requests if is_write(request)]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.before_write is not None and is_write(request):
            self.before_write()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def is_write(request: httpx.Request) -> bool:
    return request.method != "GET" and request.url.path != TOKEN_PATH


def make_adapter(url: str, transport: httpx.AsyncBaseTransport | None = None) -> WebshopAdapter:
    settings = WebshopSettings(
        base_url=url, retries=1, backoff_base_s=0.01, backoff_max_s=0.02, timeout_s=2
    )
    return WebshopAdapter(settings, transport=transport)


@pytest.fixture
async def adapter(
    sim_url: str, control: SimControlClient, upstream: Upstream
) -> AsyncIterator[WebshopAdapter]:
    """An adapter holding a token, on a simulator reset to its seed, with zeroed counters."""
    adapter = make_adapter(sim_url)
    await adapter.check_health()  # the token is fetched before any counting
    control.reset_stats()
    yield adapter
    await adapter.aclose()


def writes_made(control: SimControlClient) -> dict[str, int]:
    """The write requests the simulator has counted since its counters were reset."""
    return {
        call: n
        for call, n in control.stats()["requests"].items()
        if not call.startswith("GET ") and call != f"POST {TOKEN_PATH}"
    }


def product_lines(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in raw["order_lines"] if line["type"] == "line"]


def as_read(raw: dict[str, Any]) -> Order:
    """The domain order of a raw read, to compare with a ``WriteResult``."""
    return to_order(wire.Order.model_validate(raw))


# -- the protocol ----------------------------------------------------------------------


def test_the_adapter_sets_every_state_but_delivered_and_returned(sim_url: str) -> None:
    adapter = make_adapter(sim_url)
    assert isinstance(adapter, OrderBackend)
    assert adapter.settable_statuses == {
        OrderStatus.PENDING,
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    }
    assert OrderStatus.DISPATCHED not in adapter.settable_statuses


# -- UpdateStatus ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "status", "patches"),
    [
        ("confirmed", OrderStatus.PROCESSING, ["processing"]),
        ("confirmed", OrderStatus.CANCELLED, ["cancel"]),
        ("draft", OrderStatus.CONFIRMED, ["confirmed"]),
        ("draft", OrderStatus.PROCESSING, ["confirmed", "processing"]),
        ("quotation", OrderStatus.COMPLETED, ["confirmed", "done"]),
        ("quotation", OrderStatus.PENDING, ["draft"]),
        ("processing", OrderStatus.COMPLETED, ["done"]),
    ],
)
async def test_update_status_patches_each_state_of_the_flow(
    sim_url: str,
    upstream: Upstream,
    start: str,
    status: OrderStatus,
    patches: list[str],
) -> None:
    order_id = upstream.first(start, lambda o: o["shipment_state"] == "not_sent")["id"]
    transport = RecordingTransport()
    adapter = make_adapter(sim_url, transport)
    try:
        result = await adapter.execute(
            str(order_id), UpdateStatus(status=status), idempotency_key=KEY
        )
    finally:
        await adapter.aclose()
    sent = [(r.method, r.url.path, json.loads(r.content)) for r in transport.writes]
    assert sent == [("PATCH", f"/api/order/{order_id}/", {"state": state}) for state in patches]
    assert all(r.headers["Idempotency-Key"] == KEY for r in transport.writes)
    raw = upstream.order(order_id)
    assert raw["state"] == STATE_FOR_STATUS[status] == patches[-1]
    assert result.order == as_read(raw) and result.order.status is status
    assert UpdateStatus(status=status).is_applied(result.order)


async def test_a_state_cloudsuite_refuses_is_rejected_and_changes_nothing(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    done = upstream.first("done", lambda o: True)
    with pytest.raises(UpstreamRejectedError) as refusal:
        await adapter.execute(
            str(done["id"]), UpdateStatus(status=OrderStatus.PROCESSING), idempotency_key=KEY
        )
    assert refusal.value.status == 400 and "Cannot change state" in refusal.value.message
    assert upstream.order(done["id"]) == done


async def test_a_status_cloudsuite_has_no_state_for_is_refused_before_sending(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    with pytest.raises(ValidationError) as refusal:
        await adapter.execute(
            "12302", UpdateStatus(status=OrderStatus.DELIVERED), idempotency_key=KEY
        )
    assert refusal.value.field == ["input", "status"]
    assert control.stats()["total"] == 0


# -- Dispatch --------------------------------------------------------------------------


def not_sent_with_erp_number(order: dict[str, Any]) -> bool:
    return order["shipment_state"] == "not_sent" and bool(order["erp_order_number"])


async def test_dispatch_sends_one_xml_desadv_covering_the_numbered_lines(
    sim_url: str, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("processing", not_sent_with_erp_number)
    command = Dispatch(consignment_number="3SPOST123", carrier="PostNL", tracking_url="https://t/1")
    transport = RecordingTransport()
    adapter = make_adapter(sim_url, transport)
    try:
        result = await adapter.execute(str(before["id"]), command, idempotency_key=KEY)
    finally:
        await adapter.aclose()

    assert writes_made(control) == {DESADV: 1}
    [sent] = transport.writes
    assert sent.url.path == DESADV_PATH and sent.headers["content-type"] == "application/xml"
    assert dict(sent.url.params) == {"shop": str(before["webshop"]), "user": str(before["user"])}
    document = from_xml(sent.content)
    today = datetime.now(UTC).date()
    assert (document.number, document.desadv_date, document.planned_delivery_date) == (
        desadv_number(KEY),
        today,
        today + timedelta(days=1),
    )
    assert (document.order_num, document.track_and_trace, document.carrier) == (
        before["erp_order_number"],
        "3SPOST123",
        "PostNL",
    )
    assert [(i.item_num, i.order_num, i.quantity, i.seller_item_id) for i in document.lines] == [
        (
            line["erp_line_number"],
            before["erp_order_number"],
            Decimal(str(line["quantity"])),
            line["product"]["key"],
        )
        for line in product_lines(before)
    ]
    raw = upstream.order(before["id"])  # what CloudSuite holds now
    assert raw["shipment_state"] == "sent"
    [delivery] = raw["deliveries"]
    assert (delivery["track_and_trace"], delivery["carrier"]) == ("3SPOST123", "PostNL")
    assert delivery["lines"] == [
        {"erp_line_number": line["erp_line_number"], "quantity": line["quantity"]}
        for line in product_lines(before)
    ]
    assert result.order == as_read(raw) and result.order.status is OrderStatus.DISPATCHED
    assert result.shipment is not None and result.shipment.id == str(delivery["id"])
    assert result.shipment.consignment_number == "3SPOST123" and command.is_applied(result.order)
    assert all(line.quantity_shipped == line.quantity for line in result.order.lines)


async def test_dispatch_covers_only_what_earlier_desadvs_left(
    adapter: WebshopAdapter, upstream: Upstream
) -> None:
    before = upstream.first(
        "processing",
        lambda o: not o["deliveries"] and len(product_lines(o)) > 1 and o["erp_order_number"],
    )
    first, *rest = product_lines(before)
    erp = before["erp_order_number"]
    early = Desadv(
        number="EARLY-1",
        desadv_date=date(2026, 12, 1),
        planned_delivery_date=date(2026, 12, 2),
        order_num=erp,
        track_and_trace="3SEARLY",
        carrier=None,
        lines=(
            LineItem(
                first["erp_line_number"],
                erp,
                Decimal(str(first["quantity"])),
                first["product"]["key"],
            ),
        ),
    )
    upstream.send_desadv(early, shop=before["webshop"]).raise_for_status()
    await adapter.execute(
        str(before["id"]), Dispatch(consignment_number="3SREST"), idempotency_key=KEY
    )
    deliveries = {d["track_and_trace"]: d for d in upstream.order(before["id"])["deliveries"]}
    assert deliveries["3SREST"]["lines"] == [
        {"erp_line_number": line["erp_line_number"], "quantity": line["quantity"]} for line in rest
    ]


async def test_dispatch_of_an_order_without_an_erp_order_number_is_refused_before_sending(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first(
        "confirmed", lambda o: o["erp_order_number"] is None and o["shipment_state"] == "not_sent"
    )
    with pytest.raises(ValidationError, match="ERP order number") as refusal:
        await adapter.execute(
            str(before["id"]), Dispatch(consignment_number="3SDHL1"), idempotency_key=KEY
        )
    assert refusal.value.field == ["input", "orderId"]
    assert writes_made(control) == {}
    assert upstream.order(before["id"]) == before


async def test_a_second_desadv_for_the_same_consignment_is_a_conflict_and_not_sent(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("processing", not_sent_with_erp_number)
    command = Dispatch(consignment_number="3SONCE")
    await adapter.execute(str(before["id"]), command, idempotency_key=KEY)

    with pytest.raises(ConflictError, match="once"):
        await adapter.execute(str(before["id"]), command, idempotency_key="another-change")

    assert writes_made(control) == {DESADV: 1}
    assert [d["track_and_trace"] for d in upstream.order(before["id"])["deliveries"]] == ["3SONCE"]


async def test_a_desadv_number_already_received_for_this_change_is_the_change_done(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    """A redelivery whose first attempt arrived (its answer lost), sent from a read of the
    order taken before that attempt: the same DESADV number comes back 409, and the order
    read back shows the consignment — this change, done."""
    before = upstream.first("processing", not_sent_with_erp_number)
    known = await adapter.snapshot(str(before["id"]))  # read before the lost attempt
    upstream.send_desadv(
        desadv_of(before, number=desadv_number(KEY), consignment="3SNEW"), shop=before["webshop"]
    ).raise_for_status()
    control.reset_stats()

    result = await adapter.execute(
        str(before["id"]), Dispatch(consignment_number="3SNEW"), idempotency_key=KEY, known=known
    )

    assert result.order.status is OrderStatus.DISPATCHED and result.shipment is not None
    assert writes_made(control) == {DESADV: 1}  # answered 409: no second delivery
    assert [d["track_and_trace"] for d in upstream.order(before["id"])["deliveries"]] == ["3SNEW"]


@pytest.mark.parametrize("where", ["this order, another consignment", "another order"])
async def test_a_desadv_number_taken_by_another_desadv_is_a_refusal(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient, where: str
) -> None:
    """The 409 is not this change's when the order does not show its consignment after it
    (the number went to another DESADV, here or on another order): refused, not done."""
    target = upstream.first("processing", not_sent_with_erp_number)
    holder = (
        target
        if where.startswith("this")
        else upstream.first(
            "processing", lambda o: not_sent_with_erp_number(o) and o["id"] != target["id"]
        )
    )
    upstream.send_desadv(
        desadv_of(holder, number=desadv_number(KEY), consignment="3SOTHER"),
        shop=holder["webshop"],
    ).raise_for_status()
    known = None if where.startswith("this") else await adapter.snapshot(str(target["id"]))

    with pytest.raises(UpstreamRejectedError, match="did not reach order"):
        await adapter.execute(
            str(target["id"]),
            Dispatch(consignment_number="3SNEW"),
            idempotency_key=KEY,
            known=known,
        )
    assert "3SNEW" not in [d["track_and_trace"] for d in upstream.order(target["id"])["deliveries"]]


def desadv_of(order: dict[str, Any], *, number: str, consignment: str) -> Desadv:
    """A DESADV of every line of ``order``, as CloudSuite would take it."""
    return Desadv(
        number=number,
        desadv_date=date(2026, 12, 1),
        planned_delivery_date=date(2026, 12, 2),
        order_num=order["erp_order_number"],
        track_and_trace=consignment,
        carrier=None,
        lines=desadv_lines(wire.Order.model_validate(order), order["erp_order_number"]),
    )


async def test_dispatch_of_an_order_with_a_line_without_an_erp_line_number_is_refused(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("processing", not_sent_with_erp_number)
    raw = wire.Order.model_validate(before)
    lines = [line.model_dump(mode="json") for line in raw.order_lines]
    lines[0]["erp_line_number"] = None
    body = {**order_write(raw, []).model_dump(mode="json"), "order_lines": lines}
    upstream.client.put(f"/api/order/{before['id']}/", json=body).raise_for_status()
    control.reset_stats()

    with pytest.raises(ValidationError, match="ERP line number"):
        await adapter.execute(
            str(before["id"]), Dispatch(consignment_number="3SPART"), idempotency_key=KEY
        )
    assert writes_made(control) == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d, None),
        (lambda d: replace(d, order_num="ERP-NOPE"), "OrderNum"),
        (lambda d: replace(d, lines=(replace(d.lines[0], item_num=999),)), "LineItems[0].ItemNum"),
        (
            lambda d: replace(d, lines=(replace(d.lines[0], seller_item_id="OTHER"),)),
            "LineItems[0].SellerItemID",
        ),
        (
            lambda d: replace(d, lines=(replace(d.lines[0], order_num="ERP-OTHER"),)),
            "LineItems[0].OrderNum",
        ),
    ],
    ids=["valid", "unknown order", "unknown line", "wrong product", "line of another order"],
)
def test_the_simulator_validates_a_desadv_against_the_order(
    upstream: Upstream, change: Callable[[Desadv], Desadv], field: str | None
) -> None:
    order = upstream.first("processing", not_sent_with_erp_number)
    erp = order["erp_order_number"]
    [first, *_] = product_lines(order)
    valid = Desadv(
        number="CHECK-1",
        desadv_date=date(2026, 12, 1),
        planned_delivery_date=date(2026, 12, 2),
        order_num=erp,
        track_and_trace="3SCHECK",
        carrier="DHL",
        lines=(LineItem(first["erp_line_number"], erp, Decimal(1), first["product"]["key"]),),
    )
    response = upstream.send_desadv(change(valid), shop=order["webshop"])
    after = upstream.order(order["id"])
    if field is None:
        assert response.status_code == 201
        assert after["shipment_state"] == "sent"
        again = upstream.send_desadv(valid, shop=order["webshop"])
        assert again.status_code == 409 and b"sent once" in again.content
        assert len(upstream.order(order["id"])["deliveries"]) == 1
    else:
        assert response.status_code == 400
        assert f'field="{field}"'.encode() in response.content, response.text
        assert after == order


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"<Desadv><DesadvNumber>1</DesadvNumber></Desadv>", "application/xml", 400),
        (b"not xml", "application/xml", 400),
        (b"<Other/>", "application/xml", 400),
        (b"{}", "application/json", 415),
    ],
)
def test_the_simulator_refuses_what_is_not_a_desadv(
    upstream: Upstream, body: bytes, content_type: str, status: int
) -> None:
    response = upstream.client.post(
        DESADV_PATH, params={"shop": 1}, content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/xml")


# -- SetErpOrderNumber -----------------------------------------------------------------


async def test_set_erp_order_number_patches_the_number_then_puts_the_line_numbers(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first(
        "confirmed", lambda o: o["erp_order_number"] is None and len(product_lines(o)) > 1
    )
    numbers = {str(line["id"]): 10 * n for n, line in enumerate(product_lines(before), start=1)}
    command = SetErpOrderNumber(
        erp_order_number="ERP-124578",
        lines=tuple(ErpLineNumber(line_id=i, erp_line_number=n) for i, n in numbers.items()),
    )
    result = await adapter.execute(str(before["id"]), command, idempotency_key=KEY)
    assert writes_made(control) == {PATCH: 1, PUT: 1}
    raw = upstream.order(before["id"])
    assert raw["erp_order_number"] == "ERP-124578"
    assert {str(line["id"]): line["erp_line_number"] for line in product_lines(raw)} == numbers
    unchanged = ("product", "quantity", "price", "description", "type")
    assert [{k: line[k] for k in unchanged} for line in raw["order_lines"]] == [
        {k: line[k] for k in unchanged} for line in before["order_lines"]
    ]
    assert result.order == as_read(raw) and command.is_applied(result.order)


async def test_lines_not_named_keep_their_erp_line_numbers(
    adapter: WebshopAdapter, upstream: Upstream
) -> None:
    before = upstream.first(
        "confirmed", lambda o: o["erp_order_number"] is not None and len(product_lines(o)) > 1
    )
    first, second, *_ = product_lines(before)
    command = SetErpOrderNumber(
        erp_order_number="ERP-2",
        lines=(ErpLineNumber(line_id=str(second["id"]), erp_line_number=22),),
    )
    await adapter.execute(str(before["id"]), command, idempotency_key=KEY)
    after = product_lines(upstream.order(before["id"]))
    assert [line["erp_line_number"] for line in after[:2]] == [first["erp_line_number"], 22]


async def test_set_erp_order_number_without_lines_is_one_patch(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("processing", lambda o: True)
    await adapter.execute(
        str(before["id"]), SetErpOrderNumber(erp_order_number="ERP-9"), idempotency_key=KEY
    )
    assert writes_made(control) == {PATCH: 1}
    raw = upstream.order(before["id"])
    assert raw["erp_order_number"] == "ERP-9" and raw["order_lines"] == before["order_lines"]


async def test_unknown_line_ids_are_refused_before_sending(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("confirmed", lambda o: o["order_lines"][-1]["type"] == "shipping")
    shipping_line = before["order_lines"][-1]["id"]  # not one of the domain's lines
    for unknown in ("999999", str(shipping_line)):
        command = SetErpOrderNumber(
            erp_order_number="ERP-1",
            lines=(
                ErpLineNumber(line_id=str(before["order_lines"][0]["id"]), erp_line_number=10),
                ErpLineNumber(line_id=unknown, erp_line_number=20),
            ),
        )
        with pytest.raises(ValidationError) as refusal:
            await adapter.execute(str(before["id"]), command, idempotency_key=KEY)
        assert refusal.value.field == ["input", "lines", "1", "lineId"]
        assert unknown in refusal.value.message
    assert writes_made(control) == {}
    assert upstream.order(before["id"]) == before


# -- EditOrderLines --------------------------------------------------------------------


async def test_edit_lines_puts_the_new_lines_and_keeps_shipping(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("confirmed", lambda o: o["order_lines"][-1]["type"] == "shipping")
    kept, shipping = before["order_lines"][0], before["order_lines"][-1]
    command = EditOrderLines(
        lines=(
            LineEdit(line_id=str(kept["id"]), quantity=Decimal(5), description="Five of them"),
            LineEdit(sku="124_STUK", quantity=Decimal(2)),
            LineEdit(sku="MUG-STONE", quantity=Decimal(1), unit_price=Decimal("9.99")),
        )
    )
    result = await adapter.execute(str(before["id"]), command, idempotency_key=KEY)
    assert writes_made(control) == {PUT: 1}
    raw = upstream.order(before["id"])
    lines = [
        (line["product"]["key"], line["quantity"], line["price"], line["type"])
        for line in raw["order_lines"]
    ]
    assert lines == [
        (kept["product"]["key"], 5.0, kept["price"], "line"),
        ("124_STUK", 2.0, "3.50", "line"),
        ("MUG-STONE", 1.0, "9.99", "line"),
        ("SHIPPING", 1.0, shipping["price"], "shipping"),
    ]
    assert raw["order_lines"][0]["id"] == kept["id"]
    assert raw["order_lines"][0]["description"] == "Five of them"
    assert raw["order_lines"][1]["description"] == "Sample article per piece"
    assert result.order == as_read(raw)
    assert [line.sku for line in result.order.lines] == [
        kept["product"]["key"],
        "124_STUK",
        "MUG-STONE",
    ]


async def test_edit_lines_gives_a_line_another_product_keeping_its_erp_number(
    adapter: WebshopAdapter, upstream: Upstream
) -> None:
    before = upstream.first("processing", lambda o: True)
    line = product_lines(before)[0]
    command = EditOrderLines(
        lines=(LineEdit(line_id=str(line["id"]), sku="123_KG", quantity=Decimal(3)),)
    )
    await adapter.execute(str(before["id"]), command, idempotency_key=KEY)
    [after] = product_lines(upstream.order(before["id"]))
    assert (after["id"], after["erp_line_number"]) == (line["id"], line["erp_line_number"])
    assert (after["product"]["key"], after["price"], after["quantity"]) == ("123_KG", "7.80", 3.0)


@pytest.mark.parametrize(
    ("edits", "field", "named"),
    [
        ([LineEdit(sku="NOPE-1", quantity=Decimal(1))], ["input", "lines", "1", "sku"], "NOPE-1"),
        ([LineEdit(quantity=Decimal(1))], ["input", "lines", "1", "sku"], "sku"),
        (
            [LineEdit(line_id="999999", quantity=Decimal(1))],
            ["input", "lines", "1", "lineId"],
            "999999",
        ),
    ],
)
async def test_line_edits_cloudsuite_would_refuse_are_refused_before_sending(
    adapter: WebshopAdapter,
    upstream: Upstream,
    control: SimControlClient,
    edits: list[LineEdit],
    field: list[str],
    named: str,
) -> None:
    before = upstream.first("confirmed", lambda o: True)
    keep = LineEdit(line_id=str(before["order_lines"][0]["id"]), quantity=Decimal(1))
    with pytest.raises(ValidationError) as refusal:
        await adapter.execute(
            str(before["id"]), EditOrderLines(lines=(keep, *edits)), idempotency_key=KEY
        )
    assert refusal.value.field == field and named in refusal.value.message
    assert writes_made(control) == {}
    assert upstream.order(before["id"]) == before


async def test_a_line_named_twice_is_refused(adapter: WebshopAdapter, upstream: Upstream) -> None:
    before = upstream.first("confirmed", lambda o: True)
    line_id = str(before["order_lines"][0]["id"])
    twice = EditOrderLines(
        lines=(
            LineEdit(line_id=line_id, quantity=Decimal(1)),
            LineEdit(line_id=line_id, quantity=Decimal(2)),
        )
    )
    with pytest.raises(ValidationError) as refusal:
        await adapter.execute(str(before["id"]), twice, idempotency_key=KEY)
    assert refusal.value.field == ["input", "lines", "1", "lineId"]


async def test_the_product_catalogue_is_read_once_and_only_when_needed(
    adapter: WebshopAdapter, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("confirmed", lambda o: True)
    line_id = str(before["order_lines"][0]["id"])
    await adapter.execute(
        str(before["id"]),
        EditOrderLines(lines=(LineEdit(line_id=line_id, quantity=Decimal(4)),)),
        idempotency_key=KEY,
    )
    assert PRODUCTS not in control.stats()["requests"]
    for sku in ("CAP-NAVY", "SCARF-WOOL"):
        command = EditOrderLines(lines=(LineEdit(sku=sku, quantity=Decimal(1)),))
        await adapter.execute(str(before["id"]), command, idempotency_key=KEY)
    assert control.stats()["requests"][PRODUCTS] == 1


# -- failures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        SplitOrder(lines=(SplitLine(line_id="50002", quantity=Decimal(1)),)),
        SetDiscountCode(code="WELCOME10"),
    ],
)
async def test_commands_outside_the_capabilities_are_unsupported(
    adapter: WebshopAdapter, control: SimControlClient, command: OrderCommand
) -> None:
    with pytest.raises(UnsupportedByBackendError):
        await adapter.execute("12302", command, idempotency_key=KEY)
    assert control.stats()["total"] == 0


@pytest.mark.parametrize("upstream_id", ["999999", "not-a-number"])
async def test_an_unknown_order_is_not_found(
    adapter: WebshopAdapter, control: SimControlClient, upstream_id: str
) -> None:
    with pytest.raises(NotFoundError):
        await adapter.execute(
            upstream_id, UpdateStatus(status=OrderStatus.CANCELLED), idempotency_key=KEY
        )
    assert writes_made(control) == {}


async def test_a_failing_write_is_unavailable_not_retried_and_changes_nothing(
    sim_url: str, upstream: Upstream, control: SimControlClient
) -> None:
    before = upstream.first("confirmed", lambda o: o["erp_order_number"] is not None)
    transport = RecordingTransport(before_write=lambda: control.set_faults(error_rate=1.0))
    adapter = make_adapter(sim_url, transport)
    try:
        with pytest.raises(UpstreamUnavailableError) as failure:
            await adapter.execute(
                str(before["id"]), Dispatch(consignment_number="3SFAIL"), idempotency_key=KEY
            )
    finally:
        await adapter.aclose()
    assert failure.value.status == 503
    # one attempt: the gateway's outbox retries writes, not the adapter
    assert [(r.method, r.headers["Idempotency-Key"]) for r in transport.writes] == [("POST", KEY)]
    control.reset_faults()
    assert upstream.order(before["id"]) == before
