"""The B2B API's XML (``Accept: application/xml``) to and from the dicts its JSON holds.

``read_export`` turns ``<export><data><item>...`` into the same dict the JSON answer
decodes to, so one set of wire models validates both. ``write_export`` is the simulator's
writer, in the shape of the document's ``updatedFrom`` sample.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

ROOT = "export"
ITEM = "item"

# Tags that hold a list in the JSON. The document's XML writes a list either wrapped in
# <item>s (updatedFrom: <lines><item>..</item></lines>) or, in getOrder, as repeated
# elements without <item> (<lines>..</lines><lines>..</lines>). A `discount` with only
# text is the percent inside a discount, not a list.
LIST_TAGS = frozenset({"data", "discount", "lines", "lineDetail"})


def read_export(content: bytes) -> dict[str, Any]:
    """The dict of an ``<export>`` document; ``ValueError`` for anything else."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from exc
    if root.tag != ROOT:
        raise ValueError(f"expected <{ROOT}>, got <{root.tag}>")
    document = _value(root)
    if not isinstance(document, dict):
        raise ValueError(f"<{ROOT}> holds no fields")
    return document


def _value(element: ET.Element) -> Any:
    # Text outside leaf elements (the document's stray "Γ§" after </idRemote>) is ignored.
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        return text or None
    if all(child.tag == ITEM for child in children):
        return [_value(child) for child in children]
    fields: dict[str, Any] = {}
    for child in children:
        value = _value(child)
        if child.tag in LIST_TAGS and (len(child) or value is None):
            entries = fields.setdefault(child.tag, [])
            if isinstance(value, list):
                entries.extend(value)
            elif value is not None:
                entries.append(value)  # one element of an unwrapped list
        else:
            fields[child.tag] = value
    return fields


def write_export(document: Mapping[str, Any]) -> bytes:
    """``document`` as ``<export>`` XML: lists as ``<item>``s, ``None`` as an empty element."""
    root = ET.Element(ROOT)
    for tag, value in document.items():
        _append(root, tag, value)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, Mapping):
        for child_tag, child_value in value.items():
            _append(element, child_tag, child_value)
    elif isinstance(value, list):
        for entry in value:
            _append(element, ITEM, entry)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, str | int | Decimal):
        element.text = str(value)
    elif value is not None:
        raise TypeError(f"cannot write {type(value).__name__} as XML")
