"""Merged paging across backends, on in-memory listings with known shapes.

Pins the paging rules of ``resolvers/pagination.py``: every order once, newest first, ties
in source order; a cursor continues only the listing it came from (its fingerprint covers
every filter) and only if it is one of ours (version, key, offsets); a failing backend keeps
its position and keeps ``hasNextPage`` true; each upstream is asked for no more than a page
needs.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backends.base import OrderPage, OrderQuery
from domain.errors import UpstreamUnavailableError, ValidationError
from domain.models import (
    Money,
    Order,
    OrderSource,
    OrderStatus,
    OrderTotals,
    PaymentStatus,
    UpstreamStatus,
)
from resolvers import pagination
from resolvers.pagination import (
    CURSOR_VERSION,
    MAX_OFFSET,
    Cursor,
    CursorCodec,
    IndexCursor,
    filter_key,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)
SECRET = b"the tests' cursor key"
CODEC = CursorCodec(SECRET)
UNBOUNDED = 10_000  # a scan limit no listing here reaches


async def page_orders(
    backends, query, *, max_reads: int = UNBOUNDED, **kw
) -> pagination.OrdersPage:
    """``pagination.page_orders`` signing with the tests' key, by default without a scan limit."""
    return await pagination.page_orders(backends, query, cursors=CODEC, max_reads=max_reads, **kw)


def make_order(source: OrderSource, n: int, *, minutes: int, status=OrderStatus.CONFIRMED) -> Order:
    zero = Money.zero("EUR")
    return Order(
        source=source,
        upstream_id=str(n),
        reference=f"{source.value[:2]}-{n}",
        status=status,
        upstream_status=status.value.lower(),
        payment_status=PaymentStatus.NONE,
        currency="EUR",
        totals=OrderTotals(
            gross=zero, discount=zero, shipping=zero, tax=zero, total=Money(Decimal(n), "EUR")
        ),
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
    )


class ListBackend:
    """An in-memory listing behind the ``OrderBackend`` protocol, paged like an upstream."""

    name = "in-memory"
    capabilities = frozenset()

    def __init__(self, source: OrderSource, orders: list[Order], *, upstream_page: int = 7) -> None:
        self.source = source
        self.orders = sorted(orders, key=lambda o: o.updated_at, reverse=True)
        self.upstream_page = upstream_page
        self.calls = 0
        self.asked: list[tuple[int, int]] = []  # (offset, limit) of each read
        self.queries: list[OrderQuery] = []  # the filters handed to each read
        self.failing = False

    async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
        self.calls += 1
        # A broken stream reads forever; fail instead of hanging the suite.
        assert self.calls <= 1000, "the same listing is read over and over"
        self.asked.append((offset, limit))
        self.queries.append(query)
        if self.failing:
            raise UpstreamUnavailableError(self.source, "down")
        # Like a page-based upstream: never more than one upstream page per call.
        end = min(offset + limit, (offset // self.upstream_page + 1) * self.upstream_page)
        chunk = self.orders[offset:end]
        return OrderPage(orders=chunk, exhausted=end >= len(self.orders))

    async def get_orders(self, upstream_ids: Sequence[str]) -> list[Order | None]:
        by_id = {o.upstream_id: o for o in self.orders}
        return [by_id.get(i) for i in upstream_ids]

    async def find_by_reference(self, reference: str) -> Order | None:
        return None

    async def status_catalog(self) -> list[UpstreamStatus]:
        return []

    async def check_health(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def three_backends() -> dict[OrderSource, ListBackend]:
    # Interleaved timestamps, ties across sources, and very different sizes.
    return {
        OrderSource.WEBSHOP: ListBackend(
            OrderSource.WEBSHOP,
            [make_order(OrderSource.WEBSHOP, n, minutes=n * 3) for n in range(40)],
        ),
        OrderSource.CRM: ListBackend(
            OrderSource.CRM, [make_order(OrderSource.CRM, n, minutes=n * 5) for n in range(25)]
        ),
        OrderSource.B2B: ListBackend(
            OrderSource.B2B, [make_order(OrderSource.B2B, n, minutes=200 + n) for n in range(3)]
        ),
    }


async def walk(
    backends, query: OrderQuery, first: int, *, max_reads: int = UNBOUNDED
) -> list[Order]:
    """Every order of the listing, page after page, as a client follows ``endCursor``."""
    seen: list[Order] = []
    after = None
    for _ in range(500):  # far more pages than any listing here has
        page = await page_orders(
            backends,
            query,
            first=first,
            after=after,
            page_size={s: 10 for s in backends},
            max_reads=max_reads,
        )
        seen.extend(edge.order for edge in page.edges)
        if not page.has_next_page:
            return seen
        if page.continuation is None:
            assert len(page.edges) == first, "only the scan limit ends a page early"
        after = page.continuation or page.edges[-1].cursor
    raise AssertionError("paging never ends")


@pytest.mark.parametrize("first", [1, 4, 9, 25, 100])
async def test_paging_visits_every_order_once_newest_first(first: int) -> None:
    backends = three_backends()
    seen = await walk(backends, OrderQuery(), first)
    keys = [(o.source, o.upstream_id) for o in seen]
    assert len(keys) == len(set(keys)) == 40 + 25 + 3
    stamps = [o.updated_at for o in seen]
    assert stamps == sorted(stamps, reverse=True)


async def test_filters_the_upstream_cannot_apply_are_applied_by_the_gateway() -> None:
    backends = three_backends()
    backends[OrderSource.WEBSHOP].orders = [
        make_order(
            OrderSource.WEBSHOP,
            n,
            minutes=n,
            status=OrderStatus.CANCELLED if n % 4 else OrderStatus.PROCESSING,
        )
        for n in range(40)
    ][::-1]
    query = OrderQuery(statuses=frozenset({OrderStatus.PROCESSING}))
    seen = await walk(backends, query, 3)
    assert {o.status for o in seen} == {OrderStatus.PROCESSING}
    assert len(seen) == 10


async def test_a_failing_backend_is_reported_and_keeps_its_position() -> None:
    backends = three_backends()
    backends[OrderSource.CRM].failing = True
    page = await page_orders(
        backends, OrderQuery(), first=10, after=None, page_size={s: 10 for s in backends}
    )
    assert [e.source for e in page.unavailable] == [OrderSource.CRM]
    assert {edge.order.source for edge in page.edges} <= {OrderSource.WEBSHOP, OrderSource.B2B}
    assert page.has_next_page

    # Once it is back, paging on from that cursor still yields every CRM order.
    backends[OrderSource.CRM].failing = False
    after = page.edges[-1].cursor
    rest: list[Order] = []
    while after is not None:
        next_page = await page_orders(
            backends, OrderQuery(), first=10, after=after, page_size={s: 10 for s in backends}
        )
        rest.extend(edge.order for edge in next_page.edges)
        after = next_page.edges[-1].cursor if next_page.has_next_page else None
    crm = [o for o in rest if o.source is OrderSource.CRM]
    assert len(crm) == 25


async def test_a_page_reads_each_backend_once_when_its_first_read_suffices() -> None:
    backends = three_backends()
    await page_orders(
        backends, OrderQuery(), first=5, after=None, page_size={s: 10 for s in backends}
    )
    assert [b.calls for b in backends.values()] == [1, 1, 1]


async def test_a_cursor_does_not_continue_a_listing_with_other_filters() -> None:
    backends = three_backends()
    page = await page_orders(
        backends, OrderQuery(), first=5, after=None, page_size={s: 10 for s in backends}
    )
    with pytest.raises(ValidationError, match="other filters"):
        await page_orders(
            backends,
            OrderQuery(search="x"),
            first=5,
            after=page.edges[-1].cursor,
            page_size={s: 10 for s in backends},
        )


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "eyJ2IjoxfQ==", "W10="])
async def test_garbage_cursors_are_validation_errors(cursor: str) -> None:
    with pytest.raises(ValidationError):
        await page_orders(
            three_backends(),
            OrderQuery(),
            first=5,
            after=cursor,
            page_size={s: 10 for s in OrderSource},
        )


# --- the cursor -----------------------------------------------------------------------------

KEY = "0123456789ab"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def mac(body: bytes, secret: bytes = SECRET) -> str:
    return b64(hmac.new(secret, body, hashlib.sha256).digest()[:16])


def signed(body: object) -> str:
    """A cursor with any body, signed with the gateway's key: as if the gateway wrote it."""
    raw = json.dumps(body).encode()
    return f"{b64(raw)}.{mac(raw)}"


VALID_CURSORS = [
    ("one-source", {"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 3}}, {OrderSource.WEBSHOP: 3}),
    ("zero-offset", {"v": CURSOR_VERSION, "k": KEY, "o": {"CRM": 0}}, {OrderSource.CRM: 0}),
    (
        "largest-offset",
        {"v": CURSOR_VERSION, "k": KEY, "o": {"CRM": MAX_OFFSET}},
        {OrderSource.CRM: MAX_OFFSET},
    ),
    ("no-offsets", {"v": CURSOR_VERSION, "k": KEY, "o": {}}, {}),
    (
        "every-source",
        {"v": CURSOR_VERSION, "k": KEY, "o": {"AFFILIATE": 1, "WEBSHOP": 20, "CRM": 0, "B2B": 7}},
        {OrderSource.AFFILIATE: 1, OrderSource.WEBSHOP: 20, OrderSource.CRM: 0, OrderSource.B2B: 7},
    ),
]


@pytest.mark.parametrize(
    ("body", "offsets"), [row[1:] for row in VALID_CURSORS], ids=[row[0] for row in VALID_CURSORS]
)
def test_a_cursor_of_this_listing_gives_back_its_offsets(body: object, offsets: dict) -> None:
    assert CODEC.decode(signed(body), key=KEY) == Cursor(KEY, offsets)


GOOD = {"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 3}}
GOOD_BODY = json.dumps(GOOD).encode()
NOT_UTF8 = b"\xff\xfe"
TAMPERED = json.dumps({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 9_000}}).encode()
# 52 bytes: 70 base64 characters, 2 past a multiple of 4, so the decoder needs its two '='
WIDER_BODY = json.dumps({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 300}}).encode()

NOT_CURSORS = [
    # the signature: only what this gateway wrote is a cursor
    ("unsigned", b64(GOOD_BODY)),
    ("unsigned-with-dot", f"{b64(GOOD_BODY)}."),
    ("edited-body-old-signature", f"{b64(TAMPERED)}.{mac(GOOD_BODY)}"),
    ("signed-with-another-key", f"{b64(GOOD_BODY)}.{mac(GOOD_BODY, b'another key')}"),
    ("signature-cut-short", f"{b64(GOOD_BODY)}.{mac(GOOD_BODY)[:-2]}"),
    ("signature-with-more", f"{b64(GOOD_BODY)}.{mac(GOOD_BODY)}AA"),
    ("signature-not-ascii", f"{b64(GOOD_BODY)}.é{mac(GOOD_BODY)[1:]}"),
    ("more-dots-before-the-signature", f"{b64(GOOD_BODY)}...{mac(GOOD_BODY)}"),
    ("stray-character-in-body", f"{b64(WIDER_BODY)}!.{mac(WIDER_BODY)}"),
    (
        "stray-characters-inside-body",
        f"{b64(GOOD_BODY)[:8]}!!{b64(GOOD_BODY)[8:]}.{mac(GOOD_BODY)}",
    ),
    ("padded-body", f"{b64(WIDER_BODY)}==.{mac(WIDER_BODY)}"),
    ("old-unsigned-format", base64.urlsafe_b64encode(GOOD_BODY).decode()),
    # v: the version
    ("older-version", signed({"v": CURSOR_VERSION - 1, "k": KEY, "o": {"WEBSHOP": 3}})),
    ("version-zero", signed({"v": 0, "k": KEY, "o": {"WEBSHOP": 3}})),
    ("version-as-text", signed({"v": "2", "k": KEY, "o": {"WEBSHOP": 3}})),
    ("no-version", signed({"k": KEY, "o": {"WEBSHOP": 3}})),
    # k: the listing's fingerprint
    ("no-key", signed({"v": CURSOR_VERSION, "o": {"WEBSHOP": 3}})),
    ("key-not-text", signed({"v": CURSOR_VERSION, "k": 12, "o": {"WEBSHOP": 3}})),
    # o: the offsets, whole numbers from 0 to MAX_OFFSET
    ("negative-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": -1}})),
    (
        "one-negative-offset",
        signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 3, "CRM": -5}}),
    ),
    (
        "offset-past-the-bound",
        signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": MAX_OFFSET + 1}}),
    ),
    ("huge-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 10**100}})),
    ("fractional-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 3.5}})),
    ("float-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": 3.0}})),
    ("boolean-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": True}})),
    ("text-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": "3"}})),
    ("null-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": None}})),
    ("list-offset", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"WEBSHOP": [3]}})),
    ("unknown-source", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"AMAZON": 3}})),
    ("lowercase-source", signed({"v": CURSOR_VERSION, "k": KEY, "o": {"webshop": 3}})),
    ("offsets-as-list", signed({"v": CURSOR_VERSION, "k": KEY, "o": [["WEBSHOP", 3]]})),
    ("null-offsets", signed({"v": CURSOR_VERSION, "k": KEY, "o": None})),
    ("no-offsets", signed({"v": CURSOR_VERSION, "k": KEY})),
    # the body itself
    ("body-is-a-list", signed([1, KEY, {}])),
    ("body-is-a-number", signed(1)),
    ("body-is-text", signed("cursor")),
    ("not-json", f"{b64(b'hello')}.{mac(b'hello')}"),
    ("not-utf8", f"{b64(NOT_UTF8)}.{mac(NOT_UTF8)}"),
    ("not-base64", "***.***"),
    ("bad-padding", "a.b"),
    ("not-ascii", "éé"),
    ("empty", ""),
]


@pytest.mark.parametrize("value", [v for _, v in NOT_CURSORS], ids=[i for i, _ in NOT_CURSORS])
def test_anything_but_a_cursor_this_gateway_wrote_is_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CODEC.decode(value, key=KEY)
    assert caught.value.message == (
        "`after` is not a cursor of this API; use a cursor from `pageInfo` or an edge."
    )
    assert caught.value.field == ["after"]


@pytest.mark.parametrize(
    "other_key", ["ba9876543210", "", KEY.upper()], ids=["other", "empty", "case"]
)
def test_a_cursor_of_another_listing_is_refused_as_such(other_key: str) -> None:
    value = signed({"v": CURSOR_VERSION, "k": other_key, "o": {"WEBSHOP": 3}})
    with pytest.raises(ValidationError) as caught:
        CODEC.decode(value, key=KEY)
    assert caught.value.message == (
        "The cursor belongs to a listing with other filters; start again without `after`."
    )
    assert caught.value.field == ["after"]


def test_a_cursor_reads_back_what_it_wrote() -> None:
    cursor = Cursor(KEY, {OrderSource.WEBSHOP: 12, OrderSource.CRM: 0, OrderSource.B2B: 3})
    assert CODEC.decode(CODEC.encode(cursor), key=KEY) == cursor


def test_a_cursor_is_only_good_where_its_key_is() -> None:
    cursor = CODEC.encode(Cursor(KEY, {OrderSource.WEBSHOP: 12}))
    with pytest.raises(ValidationError, match="not a cursor of this API"):
        CursorCodec(b"another deployment's key").decode(cursor, key=KEY)


def test_the_cursor_format_is_stable_across_deploys() -> None:
    # Replicas of two versions serve one client during a rolling deploy: the same cursor
    # text, unless CURSOR_VERSION changes.
    cursor = Cursor(KEY, {OrderSource.WEBSHOP: 12, OrderSource.CRM: 0})
    body = b'{"v":3,"k":"0123456789ab","o":{"WEBSHOP":12,"CRM":0}}'
    assert CODEC.encode(cursor) == f"{b64(body)}.{mac(body)}"


def test_a_cursor_of_the_order_index_reads_back_what_it_wrote() -> None:
    cursor = IndexCursor(KEY, datetime(2026, 10, 3, 9, 30, 1, tzinfo=UTC), "T3JkZXI6Q1JNOjEw")
    assert CODEC.decode_index(CODEC.encode(cursor), key=KEY) == cursor
    body = b'{"v":3,"k":"0123456789ab","i":["2026-10-03T09:30:01+00:00","T3JkZXI6Q1JNOjEw"]}'
    assert CODEC.encode(cursor) == f"{b64(body)}.{mac(body)}"


def test_each_kind_of_listing_refuses_the_other_kinds_cursor() -> None:
    index = CODEC.encode(IndexCursor(KEY, datetime(2026, 10, 3, tzinfo=UTC), "x"))
    upstream = CODEC.encode(Cursor(KEY, {OrderSource.WEBSHOP: 12}))
    with pytest.raises(ValidationError, match="answered from the order index") as caught:
        CODEC.decode(index, key=KEY)
    assert caught.value.field == ["after"]
    with pytest.raises(ValidationError, match="read from the upstreams"):
        CODEC.decode_index(upstream, key=KEY)


@pytest.mark.parametrize(
    "position",
    [["2026-10-03T09:30:01", "x"], ["yesterday", "x"], ["2026-10-03T09:30:01Z", 7], ["x" * 3]],
    ids=["no-offset", "not-a-time", "id-not-text", "not-a-pair"],
)
def test_a_signed_index_position_this_gateway_would_not_write_is_refused(position: list) -> None:
    value = signed({"v": CURSOR_VERSION, "k": KEY, "i": position})
    with pytest.raises(ValidationError, match="not a cursor of this API"):
        CODEC.decode_index(value, key=KEY)


# --- the listing's fingerprint --------------------------------------------------------------

ALL = list(OrderSource)
BASE = OrderQuery()
SINCE = datetime(2026, 6, 1, tzinfo=UTC)

# Each row changes one filter of the base listing (every source, no filters): a new key.
OTHER_LISTINGS = [
    ("fewer-sources", ALL[:3], BASE),
    ("one-source", [OrderSource.CRM], BASE),
    ("no-source", [], BASE),
    ("statuses", ALL, OrderQuery(statuses=frozenset({OrderStatus.PROCESSING}))),
    ("payment-statuses", ALL, OrderQuery(payment_statuses=frozenset({PaymentStatus.PAID}))),
    ("updated-since", ALL, OrderQuery(updated_since=SINCE)),
    ("search", ALL, OrderQuery(search="emma")),
    ("include-deleted", ALL, OrderQuery(include_deleted=True)),
]


@pytest.mark.parametrize(
    ("sources", "query"),
    [row[1:] for row in OTHER_LISTINGS],
    ids=[row[0] for row in OTHER_LISTINGS],
)
def test_every_filter_is_part_of_the_listings_fingerprint(
    sources: list[OrderSource], query: OrderQuery
) -> None:
    assert filter_key(sources, query) != filter_key(ALL, BASE)


# Pairs of listings that differ only in one filter's value: different keys.
OTHER_VALUES = [
    (
        "statuses",
        OrderQuery(statuses=frozenset({OrderStatus.PROCESSING})),
        OrderQuery(statuses=frozenset({OrderStatus.PROCESSING, OrderStatus.CONFIRMED})),
    ),
    (
        "payment-statuses",
        OrderQuery(payment_statuses=frozenset({PaymentStatus.PAID})),
        OrderQuery(payment_statuses=frozenset({PaymentStatus.PENDING})),
    ),
    (
        "updated-since",
        OrderQuery(updated_since=SINCE),
        OrderQuery(updated_since=SINCE + timedelta(seconds=1)),
    ),
    ("search", OrderQuery(search="emma"), OrderQuery(search="emm")),
    (
        "status-vs-payment",
        OrderQuery(statuses=frozenset({OrderStatus.PENDING})),
        OrderQuery(payment_statuses=frozenset({PaymentStatus.PENDING})),
    ),
]


@pytest.mark.parametrize(
    ("one", "other"), [row[1:] for row in OTHER_VALUES], ids=[row[0] for row in OTHER_VALUES]
)
def test_another_value_of_a_filter_is_another_listing(one: OrderQuery, other: OrderQuery) -> None:
    assert filter_key(ALL, one) != filter_key(ALL, other)


SAME_LISTINGS = [
    (
        "sources-reordered",
        [OrderSource.B2B, OrderSource.WEBSHOP],
        [OrderSource.WEBSHOP, OrderSource.B2B],
    ),
    ("all-sources-reversed", ALL[::-1], ALL),
]


@pytest.mark.parametrize(
    ("one", "other"), [row[1:] for row in SAME_LISTINGS], ids=[row[0] for row in SAME_LISTINGS]
)
def test_the_same_sources_in_another_order_are_the_same_listing(
    one: list[OrderSource], other: list[OrderSource]
) -> None:
    query = OrderQuery(
        statuses=frozenset({OrderStatus.CONFIRMED, OrderStatus.PROCESSING, OrderStatus.PENDING}),
        payment_statuses=frozenset({PaymentStatus.PAID, PaymentStatus.NONE}),
        updated_since=SINCE,
        search="emma",
    )
    assert filter_key(one, query) == filter_key(other, query)


def test_the_fingerprint_is_stable_across_deploys() -> None:
    # The 12 first hex digits of SHA-256 over the filters as sorted-key JSON (see the cursor
    # format test: replicas of two versions must agree on it).
    described = (
        '{"payment": ["PAID"], "search": "emma", "since": "2026-06-01T00:00:00+00:00", '
        '"sources": ["CRM", "WEBSHOP"], "statuses": ["CONFIRMED", "PROCESSING"]}'
    )
    query = OrderQuery(
        statuses=frozenset({OrderStatus.PROCESSING, OrderStatus.CONFIRMED}),
        payment_statuses=frozenset({PaymentStatus.PAID}),
        updated_since=SINCE,
        search="emma",
    )
    expected = hashlib.sha256(described.encode()).hexdigest()[:12]
    assert filter_key([OrderSource.WEBSHOP, OrderSource.CRM], query) == expected
    unfiltered = (
        '{"payment": [], "search": null, "since": null, '
        '"sources": ["AFFILIATE", "B2B", "CRM", "WEBSHOP"], "statuses": []}'
    )
    assert filter_key(ALL, BASE) == hashlib.sha256(unfiltered.encode()).hexdigest()[:12]


async def test_a_cursor_from_a_listing_with_updated_since_does_not_continue_one_without() -> None:
    backends = three_backends()
    sizes = {s: 10 for s in backends}
    query = OrderQuery(updated_since=T0)
    page = await page_orders(backends, query, first=5, after=None, page_size=sizes)
    with pytest.raises(ValidationError, match="other filters"):
        await page_orders(
            backends, OrderQuery(), first=5, after=page.edges[-1].cursor, page_size=sizes
        )


# --- hasNextPage ----------------------------------------------------------------------------


def backends_of(sizes: dict[OrderSource, int], failing: set[OrderSource] = frozenset()) -> dict:
    backends = {
        source: ListBackend(
            source, [make_order(source, n, minutes=n * 2 + rank) for n in range(size)]
        )
        for rank, (source, size) in enumerate(sizes.items())
    }
    for source in failing:
        backends[source].failing = True
    return backends


W, C = OrderSource.WEBSHOP, OrderSource.CRM

# (listing sizes, failing backends, first) -> edges on the page, hasNextPage
HAS_NEXT = [
    ("everything-taken", {W: 3, C: 2}, set(), 10, 5, False),
    ("exactly-everything-taken", {W: 3}, set(), 3, 3, False),
    ("empty-listings", {W: 0, C: 0}, set(), 5, 0, False),
    ("leftovers-buffered", {W: 2, C: 2}, set(), 2, 2, True),
    ("listing-goes-on", {W: 10}, set(), 3, 3, True),
    ("a-backend-failed", {W: 2, C: 4}, {C}, 10, 2, True),
    ("every-backend-failed", {W: 2, C: 4}, {W, C}, 10, 0, True),
]


@pytest.mark.parametrize(
    ("sizes", "failing", "first", "edges", "has_next"),
    [row[1:] for row in HAS_NEXT],
    ids=[row[0] for row in HAS_NEXT],
)
async def test_has_next_page_is_false_only_when_every_backend_has_given_everything(
    sizes: dict[OrderSource, int],
    failing: set[OrderSource],
    first: int,
    edges: int,
    has_next: bool,
) -> None:
    backends = backends_of(sizes, failing)
    page = await page_orders(
        backends, OrderQuery(), first=first, after=None, page_size={s: 10 for s in backends}
    )
    assert len(page.edges) == edges
    assert page.has_next_page is has_next
    assert {e.source for e in page.unavailable} == failing


async def test_a_failing_backend_keeps_its_position_in_every_cursor_of_the_page() -> None:
    backends = backends_of({W: 20, C: 20})
    sizes = {s: 10 for s in backends}
    first = await page_orders(backends, OrderQuery(), first=6, after=None, page_size=sizes)
    position = CODEC.decode(first.edges[-1].cursor, key=filter_key([W, C], OrderQuery()))
    assert position.offsets[C] > 0

    backends[C].failing = True
    second = await page_orders(
        backends, OrderQuery(), first=6, after=first.edges[-1].cursor, page_size=sizes
    )
    assert [edge.order.source for edge in second.edges] == [W] * 6
    for edge in second.edges:
        offsets = CODEC.decode(edge.cursor, key=filter_key([W, C], OrderQuery())).offsets
        assert offsets[C] == position.offsets[C]


async def test_a_failing_backend_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    backends = backends_of({W: 2, C: 2}, {C})
    with caplog.at_level(logging.WARNING, logger="resolvers.pagination"):
        await page_orders(
            backends, OrderQuery(), first=5, after=None, page_size={s: 10 for s in backends}
        )
    assert [r.getMessage() for r in caplog.records] == [
        "orders: CRM unavailable for this page: CRM: down"
    ]
    assert caplog.records[0].levelno == logging.WARNING


async def test_a_failure_that_is_not_a_backend_error_is_not_swallowed() -> None:
    class Broken(ListBackend):
        async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
            raise RuntimeError("a bug, not an outage")

    backends = backends_of({W: 3})
    backends[C] = Broken(C, [])
    with pytest.raises(RuntimeError, match="a bug"):
        await page_orders(
            backends, OrderQuery(), first=5, after=None, page_size={s: 10 for s in backends}
        )


# --- merging --------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [0, 1, 2, 7, 8])
async def test_a_page_has_at_most_first_orders(first: int) -> None:
    backends = backends_of({W: 4, C: 4})
    page = await page_orders(
        backends, OrderQuery(), first=first, after=None, page_size={s: 10 for s in backends}
    )
    assert len(page.edges) == first


async def test_ties_are_in_source_order_then_each_upstreams_own_order() -> None:
    backends = {
        source: ListBackend(source, [make_order(source, n, minutes=0) for n in range(2)])
        for source in [OrderSource.B2B, OrderSource.CRM, OrderSource.AFFILIATE, OrderSource.WEBSHOP]
    }
    page = await page_orders(
        backends, OrderQuery(), first=8, after=None, page_size={s: 10 for s in backends}
    )
    assert [(e.order.source, e.order.upstream_id) for e in page.edges] == [
        (OrderSource.AFFILIATE, "0"),
        (OrderSource.AFFILIATE, "1"),
        (OrderSource.WEBSHOP, "0"),
        (OrderSource.WEBSHOP, "1"),
        (OrderSource.CRM, "0"),
        (OrderSource.CRM, "1"),
        (OrderSource.B2B, "0"),
        (OrderSource.B2B, "1"),
    ]


async def test_each_edges_cursor_continues_right_after_that_edge() -> None:
    backends = backends_of({W: 3, C: 3})
    sizes = {s: 10 for s in backends}
    whole = await page_orders(backends, OrderQuery(), first=6, after=None, page_size=sizes)
    for index, edge in enumerate(whole.edges):
        rest = await page_orders(
            backends, OrderQuery(), first=6, after=edge.cursor, page_size=sizes
        )
        assert [e.order for e in rest.edges] == [e.order for e in whole.edges[index + 1 :]]


# --- what is asked of each upstream ---------------------------------------------------------

# (orders, page size, first, filter keeps every n-th) -> the (offset, limit) of each read
READS = [
    ("first-below-page-size", 30, 10, 5, 1, [(0, 5)]),
    ("first-above-page-size", 30, 10, 25, 1, [(0, 10), (10, 10), (20, 10)]),
    ("first-is-page-size", 30, 10, 10, 1, [(0, 10)]),
    ("listing-ends-early", 4, 10, 5, 1, [(0, 5)]),
    ("filters-thin-the-first-read", 30, 10, 3, 4, [(0, 3), (3, 10)]),
    ("empty-listing", 0, 10, 5, 1, [(0, 5)]),
]


@pytest.mark.parametrize(
    ("orders", "page_size", "first", "every", "asked"),
    [row[1:] for row in READS],
    ids=[row[0] for row in READS],
)
async def test_each_upstream_is_asked_for_no_more_than_the_page_needs(
    orders: int, page_size: int, first: int, every: int, asked: list[tuple[int, int]]
) -> None:
    listing = [
        make_order(
            W,
            n,
            minutes=1000 - n,
            status=OrderStatus.PROCESSING if n % every == 0 else OrderStatus.CANCELLED,
        )
        for n in range(orders)
    ]
    backend = ListBackend(W, listing, upstream_page=100)
    query = OrderQuery(statuses=frozenset({OrderStatus.PROCESSING}))
    await page_orders({W: backend}, query, first=first, after=None, page_size={W: page_size})
    assert backend.asked == asked
    # The filters go to the upstream too: it applies those it can.
    assert backend.queries == [query] * len(asked)


async def test_an_empty_read_ends_the_listing_even_if_the_upstream_says_more_follows() -> None:
    class Stuck(ListBackend):
        async def list_orders(self, query: OrderQuery, *, offset: int, limit: int) -> OrderPage:
            self.calls += 1
            assert self.calls < 3, "read again after an empty page"
            return OrderPage(orders=[], exhausted=False)

    backend = Stuck(W, [])
    page = await page_orders({W: backend}, OrderQuery(), first=5, after=None, page_size={W: 10})
    assert backend.calls == 1
    assert page.edges == []
    assert page.has_next_page is False


def served(backend: ListBackend, offset: int, limit: int) -> int:
    """How many orders one read of ``backend`` sent back (its page-based paging)."""
    page_end = (offset // backend.upstream_page + 1) * backend.upstream_page
    return max(0, min(offset + limit, page_end, len(backend.orders)) - offset)


def reads_since(
    backends: dict[OrderSource, ListBackend], before: dict[OrderSource, int]
) -> tuple[int, int]:
    """What the reads each backend answered since ``before`` add up to, as a page reports
    them: the orders of each backend's first read, and the reads after the first."""
    first_reads = later_reads = 0
    for source, backend in backends.items():
        calls = backend.asked[before[source] :]
        if calls:
            first_reads += served(backend, *calls[0])
            later_reads += len(calls) - 1
    return first_reads, later_reads


async def test_a_page_says_what_it_read_upstream_matching_or_not() -> None:
    """What the cost of a listing counts once it ran: the orders of each source's first read
    (from where its cursor stood, matching or not) and each read after the first."""
    backends = three_backends()
    sizes = {source: 10 for source in backends}
    none_yet = {source: 0 for source in backends}
    first = await page_orders(backends, OrderQuery(), first=5, after=None, page_size=sizes)
    assert (first.first_reads, first.later_reads) == reads_since(backends, none_yet)
    assert 0 < first.first_reads <= 5 * len(backends)
    # From a cursor, only what this page read counts, not what earlier pages did.
    before = {source: len(backend.asked) for source, backend in backends.items()}
    second = await page_orders(
        backends, OrderQuery(), first=5, after=first.edges[-1].cursor, page_size=sizes
    )
    assert (second.first_reads, second.later_reads) == reads_since(backends, before)
    before = {source: len(backend.asked) for source, backend in backends.items()}
    nothing = OrderQuery(search="no order says this")
    scan = await page_orders(backends, nothing, first=5, after=None, page_size=sizes)
    assert scan.edges == []
    assert (scan.first_reads, scan.later_reads) == reads_since(backends, before)
    assert scan.later_reads > 0  # read on to each listing's end: every read after the first


# --- the scan limit -------------------------------------------------------------------------
# A filter the upstream cannot apply may match little: each page reads at most `max_reads`
# upstream pages per backend and, stopped short, answers a continuation cursor.


def matching_every(nth: int) -> dict[OrderSource, ListBackend]:
    """``three_backends`` where only every ``nth`` order of each is PROCESSING."""
    backends = three_backends()
    for backend in backends.values():
        for index, order in enumerate(backend.orders):
            status = OrderStatus.PROCESSING if index % nth == 0 else OrderStatus.CANCELLED
            backend.orders[index] = dataclasses.replace(order, status=status)
    return backends


PROCESSING = OrderQuery(statuses=frozenset({OrderStatus.PROCESSING}))


def merged(backends: dict[OrderSource, ListBackend], query: OrderQuery) -> list[Order]:
    """The whole listing by the merge rule: newest first, ties in source order."""
    rank = {source: index for index, source in enumerate(OrderSource)}
    matches = [
        (-o.updated_at.timestamp(), rank[source], position, o)
        for source, backend in backends.items()
        for position, o in enumerate(backend.orders)
        if query.matches(o)
    ]
    return [o for *_, o in sorted(matches, key=lambda row: row[:3])]


def three_big_page_backends() -> dict[OrderSource, ListBackend]:
    """``three_backends`` whose upstreams answer any read whole (no page boundaries)."""
    backends = three_backends()
    for backend in backends.values():
        backend.upstream_page = 1_000
    return backends


async def test_a_filter_that_matches_nothing_reads_at_most_the_scan_limit() -> None:
    backends = three_big_page_backends()
    nothing = OrderQuery(search="no order says this")
    page = await page_orders(
        backends, nothing, first=5, after=None, page_size={s: 10 for s in backends}, max_reads=2
    )
    assert [backend.calls for backend in backends.values()] == [2, 2, 1]  # B2B has 3 orders
    assert page.edges == []
    assert page.has_next_page
    assert page.continuation is not None
    # The continuation reads on past what was read: a read of `first` (5), one of a page (10).
    offsets = CODEC.decode(page.continuation, key=filter_key(list(backends), nothing)).offsets
    assert offsets == {OrderSource.WEBSHOP: 15, OrderSource.CRM: 15, OrderSource.B2B: 3}


async def test_following_continuations_reads_each_order_once() -> None:
    backends = three_big_page_backends()
    nothing = OrderQuery(search="no order says this")
    pages = 0
    after = None
    while True:
        pages += 1
        page = await page_orders(
            backends,
            nothing,
            first=5,
            after=after,
            page_size={s: 10 for s in backends},
            max_reads=2,
        )
        if not page.has_next_page:
            break
        after = page.continuation
    assert page.continuation is None
    # 40 WEBSHOP orders: 15 read on the first page, 20 on the second, the last 5 on the third.
    assert pages == 3
    for backend in backends.values():  # every order read once, none twice
        assert sum(served(backend, o, n) for o, n in backend.asked) == len(backend.orders)


@pytest.mark.parametrize("max_reads", [1, 2, 3])
@pytest.mark.parametrize("first", [1, 3, 10])
async def test_under_a_scan_limit_paging_still_visits_every_match_once_newest_first(
    first: int, max_reads: int
) -> None:
    backends = matching_every(4)
    seen = await walk(backends, PROCESSING, first, max_reads=max_reads)
    assert seen == merged(backends, PROCESSING)


async def test_a_backend_stopped_short_holds_back_the_older_matches_of_the_others() -> None:
    # WEBSHOP: 21 orders, minutes 1000 down to 980, one match (n=15, minute 985).
    # CRM: a match newer than all of them (1005) and one older than all of them (900).
    webshop = [
        make_order(
            W,
            n,
            minutes=1000 - n,
            status=OrderStatus.PROCESSING if n == 15 else OrderStatus.CANCELLED,
        )
        for n in range(21)
    ]
    crm = [
        make_order(C, 1, minutes=1005, status=OrderStatus.PROCESSING),
        make_order(C, 2, minutes=900, status=OrderStatus.PROCESSING),
    ]
    backends = {W: ListBackend(W, webshop), C: ListBackend(C, crm)}
    sizes = {W: 10, C: 10}
    pages = []
    after = None
    for _ in range(10):
        page = await page_orders(
            backends, PROCESSING, first=7, after=after, page_size=sizes, max_reads=1
        )
        pages.append(
            ([(e.order.source, e.order.upstream_id) for e in page.edges], page.has_next_page)
        )
        if not page.has_next_page:
            break
        after = page.continuation or page.edges[-1].cursor
    # CRM's 900 waits until WEBSHOP has been read past it, however many pages that takes.
    assert pages == [
        ([(C, "1")], True),  # WEBSHOP read to minute 994: CRM's 1005 is newer, 900 may not be
        ([], True),  # WEBSHOP read to 987, nothing matched: a page with no edges goes on
        ([(W, "15"), (C, "2")], False),
    ]


async def test_a_page_that_fills_up_ends_with_its_last_edge_not_a_continuation() -> None:
    backends = matching_every(2)
    page = await page_orders(
        backends, PROCESSING, first=3, after=None, page_size={s: 10 for s in backends}, max_reads=1
    )
    assert len(page.edges) == 3
    assert page.continuation is None


async def test_an_upstream_out_of_order_still_pages_to_the_end() -> None:
    # WEBSHOP lists a match older than the non-matches after it (not newest first); pages of
    # one read each must still reach the end instead of repeating the first page for ever.
    listing = [make_order(W, 0, minutes=50, status=OrderStatus.PROCESSING)] + [
        make_order(W, n, minutes=100 + n, status=OrderStatus.CANCELLED) for n in range(1, 30)
    ]
    backend = ListBackend(W, [], upstream_page=3)
    backend.orders = listing  # as the upstream sends it, unsorted
    seen = await walk({W: backend}, PROCESSING, 5, max_reads=1)
    assert [o.upstream_id for o in seen] == ["0"]


async def test_at_the_stop_a_tie_goes_to_the_source_listed_first() -> None:
    # CRM was stopped at a non-match of minute 100 (a match of minute 100 unread); B2B has a
    # match of minute 100: CRM ranks before B2B, so B2B's waits for CRM's next page.
    crm = [
        make_order(C, 1, minutes=100, status=OrderStatus.CANCELLED),
        make_order(C, 2, minutes=100, status=OrderStatus.PROCESSING),
    ]
    b2b = [make_order(OrderSource.B2B, 1, minutes=100, status=OrderStatus.PROCESSING)]
    backends = {
        C: ListBackend(C, crm, upstream_page=1),
        OrderSource.B2B: ListBackend(OrderSource.B2B, b2b),
    }
    seen = await walk(backends, PROCESSING, 5, max_reads=1)
    assert [(o.source, o.upstream_id) for o in seen] == [(C, "2"), (OrderSource.B2B, "1")]
