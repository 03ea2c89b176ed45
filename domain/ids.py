"""Opaque, stable global ids: ``base64url("Order:<SOURCE>:<upstream id>")``.

The same order always gets the same id; decoding gives back its source and upstream id.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from domain.errors import NotFoundError
from domain.models import OrderSource


@dataclass(frozen=True, slots=True)
class GlobalId:
    type_name: str
    source: OrderSource
    upstream_id: str

    def encode(self) -> str:
        raw = f"{self.type_name}:{self.source.value}:{self.upstream_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str, *, expected_type: str | None = None) -> GlobalId:
        """Decode an id; anything that is not one of ours raises ``NotFoundError``."""
        try:
            padded = value + "=" * (-len(value) % 4)
            raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
            type_name, source_name, upstream_id = raw.split(":", 2)
            source = OrderSource(source_name)
        except (ValueError, UnicodeError, binascii.Error) as exc:
            raise NotFoundError(f"No object has the id {value!r}", field=["id"]) from exc
        if not upstream_id or (expected_type is not None and type_name != expected_type):
            raise NotFoundError(
                f"No {expected_type or 'object'} has the id {value!r}", field=["id"]
            )
        return cls(type_name, source, upstream_id)


def order_id(source: OrderSource, upstream_id: str) -> str:
    """The global id of an order."""
    return GlobalId("Order", source, upstream_id).encode()


def decode_order_id(value: str) -> GlobalId:
    return GlobalId.decode(value, expected_type="Order")
