"""Global ids: ``base64url("Order:<SOURCE>:<upstream id>")`` without padding, the same for
the same order every time, decoded back to exactly its source and upstream id; anything
that is not one of ours is NOT_FOUND on the ``id`` field, never a crash."""

from __future__ import annotations

import pytest

from domain.errors import NotFoundError
from domain.ids import GlobalId, decode_order_id, order_id
from domain.models import OrderSource

A, W, C, B = OrderSource.AFFILIATE, OrderSource.WEBSHOP, OrderSource.CRM, OrderSource.B2B

# (source, upstream id, its global id), the ids computed by hand from the documented shape.
IDS = [
    pytest.param(C, "10001", "T3JkZXI6Q1JNOjEwMDAx", id="no-padding"),
    pytest.param(B, "1", "T3JkZXI6QjJCOjE", id="one-pad-stripped"),
    pytest.param(C, "~~~", "T3JkZXI6Q1JNOn5-fg", id="two-pads-stripped-url-safe-dash"),
    pytest.param(W, "a:b", "T3JkZXI6V0VCU0hPUDphOmI", id="colon-in-upstream-id"),
    pytest.param(C, "0W", "T3JkZXI6Q1JNOjBX", id="only-padding-is-stripped-not-a-last-X"),
    pytest.param(A, "ÿ?>", "T3JkZXI6QUZGSUxJQVRFOsO_Pz4", id="utf8-url-safe-underscore"),
]


@pytest.mark.parametrize(("source", "upstream_id", "global_id"), IDS)
def test_an_order_id_is_unpadded_url_safe_base64_of_type_source_and_upstream_id(
    source: OrderSource, upstream_id: str, global_id: str
) -> None:
    assert order_id(source, upstream_id) == global_id
    assert GlobalId("Order", source, upstream_id).encode() == global_id


@pytest.mark.parametrize(("source", "upstream_id", "global_id"), IDS)
def test_an_order_id_decodes_to_its_source_and_upstream_id(
    source: OrderSource, upstream_id: str, global_id: str
) -> None:
    expected = GlobalId("Order", source, upstream_id)
    assert decode_order_id(global_id) == expected
    assert GlobalId.decode(global_id) == expected
    assert GlobalId.decode(global_id, expected_type="Order") == expected


def test_an_id_sent_with_its_padding_still_decodes() -> None:
    assert decode_order_id("T3JkZXI6QjJCOjE=") == GlobalId("Order", B, "1")
    assert decode_order_id("T3JkZXI6Q1JNOn5-fg==") == GlobalId("Order", C, "~~~")


def test_an_id_of_another_type_decodes_only_where_that_type_is_wanted() -> None:
    customer = "Q3VzdG9tZXI6Q1JNOjc"  # Customer:CRM:7
    assert GlobalId.decode(customer) == GlobalId("Customer", C, "7")
    assert GlobalId.decode(customer, expected_type="Customer") == GlobalId("Customer", C, "7")
    with pytest.raises(NotFoundError) as refused:
        decode_order_id(customer)
    assert refused.value.message == f"No Order has the id {customer!r}"
    assert refused.value.field == ["id"]


NOT_OURS = "No object has the id {!r}"
NO_ORDER = "No Order has the id {!r}"


@pytest.mark.parametrize(
    ("value", "as_order", "as_anything"),
    [
        pytest.param("garbage!", NOT_OURS, NOT_OURS, id="not-base64"),
        pytest.param("", NOT_OURS, NOT_OURS, id="empty"),
        pytest.param("é", NOT_OURS, NOT_OURS, id="not-ascii"),
        pytest.param("T3JkZXI6Q1JN", NOT_OURS, NOT_OURS, id="two-parts-Order:CRM"),
        pytest.param("T3JkZXI6TUFSS0VUUExBQ0U6MQ", NOT_OURS, NOT_OURS, id="unknown-source"),
        pytest.param("T3JkZXI6Y3JtOjE", NOT_OURS, NOT_OURS, id="lower-case-source"),
        pytest.param("T3JkZXI6Q1JNOv8", NOT_OURS, NOT_OURS, id="not-utf8"),
        pytest.param("T3JkZXI6Q1JNOg", NO_ORDER, NOT_OURS, id="empty-upstream-id"),
        pytest.param("T3JkZXI6Q1JNOjEwMDAx", None, None, id="a-real-one-for-contrast"),
    ],
)
def test_an_id_that_is_not_one_of_ours_is_not_found_on_the_id_field(
    value: str, as_order: str | None, as_anything: str | None
) -> None:
    for decode, message in [
        (decode_order_id, as_order),
        (GlobalId.decode, as_anything),
    ]:
        if message is None:
            assert decode(value).upstream_id == "10001"
            continue
        with pytest.raises(NotFoundError) as refused:
            decode(value)
        assert refused.value.message == message.format(value), decode
        assert refused.value.field == ["id"], decode
        assert refused.value.extensions == {"code": "NOT_FOUND"}
