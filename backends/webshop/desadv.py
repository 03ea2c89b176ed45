"""CloudSuite's despatch advice (DESADV): the XML document posted to
``POST /proxy/des_adv_xml/delivery/?shop=<webshop>&user=<user>``.

Document 001 links "Delivery (DESADV) - API" without printing it; what it says is that a
DESADV carries the ERP order number and lines ("The DESADV's / packingslips need this to
match the order and order lines") and that the order's shipment is then sent. The issue
that asked for it names the fields: a unique ``DesadvNumber``, ``DesadvDate``,
``PlannedDeliveryDate``, the transport with its track & trace, and ``LineItems`` of
``ItemNum`` (the ERP line number), ``OrderNum`` (the ERP order number), ``QuantityValue``
and ``SellerItemID`` (the product key); a DESADV "can only be sent once". The element
layout is our reading, written down in ``docs/upstreams/webshop.md``::

    <Desadv>
      <DesadvNumber>OG3F2A…</DesadvNumber>
      <DesadvDate>2026-12-03</DesadvDate>
      <PlannedDeliveryDate>2026-12-04</PlannedDeliveryDate>
      <OrderNum>ERP-124578</OrderNum>
      <Transport><Carrier>PostNL</Carrier><TrackAndTrace>3SABC1</TrackAndTrace></Transport>
      <LineItems>
        <LineItem><ItemNum>11</ItemNum><OrderNum>ERP-124578</OrderNum>
          <QuantityValue>1.0</QuantityValue><SellerItemID>124_STUK</SellerItemID></LineItem>
      </LineItems>
    </Desadv>

``to_xml`` is the adapter's writer, ``from_xml`` the simulator's reader (``ValueError`` with
the reason for anything that is not such a document).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

ROOT = "Desadv"
MAX_BYTES = 1024 * 1024  # a DESADV of an order's lines is a few kB


@dataclass(frozen=True, slots=True)
class LineItem:
    item_num: int  # the ERP line number
    order_num: str  # the ERP order number
    quantity: Decimal
    seller_item_id: str  # the product key


@dataclass(frozen=True, slots=True)
class Desadv:
    number: str
    desadv_date: date
    planned_delivery_date: date
    order_num: str
    track_and_trace: str
    carrier: str | None
    lines: tuple[LineItem, ...]


def to_xml(desadv: Desadv) -> bytes:
    root = ET.Element(ROOT)
    _leaf(root, "DesadvNumber", desadv.number)
    _leaf(root, "DesadvDate", desadv.desadv_date.isoformat())
    _leaf(root, "PlannedDeliveryDate", desadv.planned_delivery_date.isoformat())
    _leaf(root, "OrderNum", desadv.order_num)
    transport = ET.SubElement(root, "Transport")
    if desadv.carrier is not None:
        _leaf(transport, "Carrier", desadv.carrier)
    _leaf(transport, "TrackAndTrace", desadv.track_and_trace)
    items = ET.SubElement(root, "LineItems")
    for line in desadv.lines:
        item = ET.SubElement(items, "LineItem")
        _leaf(item, "ItemNum", str(line.item_num))
        _leaf(item, "OrderNum", line.order_num)
        _leaf(item, "QuantityValue", format(line.quantity, "f"))  # never 1E-7
        _leaf(item, "SellerItemID", line.seller_item_id)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def from_xml(content: bytes) -> Desadv:
    if len(content) > MAX_BYTES:
        raise ValueError(f"a DESADV is at most {MAX_BYTES} bytes")
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    if root.tag != ROOT:
        raise ValueError(f"expected <{ROOT}>, got <{root.tag}>")
    transport = root.find("Transport")
    if transport is None:
        raise ValueError("<Transport> is missing")
    items = root.find("LineItems")
    return Desadv(
        number=_text(root, "DesadvNumber"),
        desadv_date=_date(root, "DesadvDate"),
        planned_delivery_date=_date(root, "PlannedDeliveryDate"),
        order_num=_text(root, "OrderNum"),
        track_and_trace=_text(transport, "TrackAndTrace"),
        carrier=_optional_text(transport, "Carrier"),
        lines=tuple(_line(item) for item in ([] if items is None else items.findall("LineItem"))),
    )


def _line(item: ET.Element) -> LineItem:
    number = _text(item, "ItemNum")
    if not number.isdigit():
        raise ValueError(f"<ItemNum> {number!r} is not a line number")
    try:
        quantity = Decimal(_text(item, "QuantityValue"))
    except InvalidOperation:
        raise ValueError("<QuantityValue> is not a number") from None
    if not quantity.is_finite() or quantity <= 0:
        raise ValueError("<QuantityValue> must be more than 0")
    return LineItem(int(number), _text(item, "OrderNum"), quantity, _text(item, "SellerItemID"))


def _leaf(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _optional_text(parent: ET.Element, tag: str) -> str | None:
    element = parent.find(tag)
    text = None if element is None else (element.text or "").strip()
    return text or None


def _text(parent: ET.Element, tag: str) -> str:
    text = _optional_text(parent, tag)
    if text is None:
        raise ValueError(f"<{tag}> is missing or empty in <{parent.tag}>")
    return text


def _date(parent: ET.Element, tag: str) -> date:
    text = _text(parent, tag)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"<{tag}> {text!r} is not a date (YYYY-MM-DD)") from None
