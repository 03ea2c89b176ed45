"""The B2B document's printed samples (``003_*``), JSON and XML, through the wire models."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from backends.b2b.adapter import to_order
from backends.b2b.wire import OrderList, StatusList
from backends.b2b.xmlcodec import read_export, write_export
from domain.errors import UpstreamMalformedError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "b2b"


def sample_json(name: str) -> object:
    return json.loads((FIXTURES / name).read_bytes(), parse_float=Decimal)


def sample_xml(name: str) -> object:
    return read_export((FIXTURES / name).read_bytes())


@pytest.mark.parametrize("name", ["getOrder", "updatedFrom"])
def test_order_list_samples_parse_alike_in_json_and_xml(name: str) -> None:
    from_json = OrderList.model_validate(sample_json(f"{name}.json"))
    from_xml = OrderList.model_validate(sample_xml(f"{name}.xml"))

    assert from_xml == from_json
    order = from_json.data[0]
    assert order.company is not None and order.company.companyName == "string"
    assert order.discount[0].isLine is True
    assert order.lines[0].discount[0].amountDiscount == Decimal(0)
    assert order.lines[0].lineDetail[0].product == "string"
    assert from_json.pagination.nextPageUrl == "string"


def test_get_order_xml_quirks_are_read() -> None:
    """getOrder's XML has a stray "Γ§" and lists without <item> (except line discounts)."""
    order = sample_xml("getOrder.xml")["data"][0]  # type: ignore[index]

    assert order["idRemote"] == "string"
    assert isinstance(order["discount"], list) and order["discount"][0]["isHeader"] == "true"
    assert isinstance(order["lines"], list) and len(order["lines"]) == 1
    assert isinstance(order["lines"][0]["lineDetail"], list)
    assert order["lines"][0]["discount"][0]["discount"] == "0"


@pytest.mark.parametrize("name", ["getOrderStatus", "getOrderLineStatus"])
def test_status_samples_parse_in_json_and_xml(name: str) -> None:
    from_json = StatusList.model_validate(sample_json(f"{name}.json"))
    from_xml = StatusList.model_validate(sample_xml(f"{name}.xml"))

    assert from_xml == from_json
    assert from_json.data[0].id == "string" and from_json.data[0].value is True


def test_sample_order_placeholders_do_not_map() -> None:
    order = OrderList.model_validate(sample_json("getOrder.json")).data[0]

    with pytest.raises(UpstreamMalformedError, match="unknown status 'string'"):
        to_order(order, currency="EUR")
    with pytest.raises(UpstreamMalformedError, match="not a timestamp: 'string'"):
        to_order(order.model_copy(update={"status": "CONFIRMED"}), currency="EUR")


def test_written_xml_reads_back_as_the_same_dict() -> None:
    document = {
        "data": [
            {
                "id": "1",
                "agent": None,
                "isSale": True,
                "totalAmount": Decimal("10.50"),
                "discount": [],
                "lines": [{"id": "2", "discount": [{"id": "3", "discount": 5}]}],
            }
        ],
        "pagination": {"totalItems": 1, "nextPageUrl": None},
    }

    assert read_export(write_export(document)) == {
        "data": [
            {
                "id": "1",
                "agent": None,
                "isSale": "true",
                "totalAmount": "10.50",
                "discount": [],
                "lines": [{"id": "2", "discount": [{"id": "3", "discount": "5"}]}],
            }
        ],
        "pagination": {"totalItems": "1", "nextPageUrl": None},
    }


@pytest.mark.parametrize("body", [b'{"data": [', b"<export><data>", b"<other/>", b"<export/>"])
def test_not_an_export_document_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        read_export(body)
