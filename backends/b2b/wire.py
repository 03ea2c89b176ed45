"""The B2B wholesale API's own shapes (``003_*``), exactly as on the wire, JSON or XML.

Attribute names are the wire's camelCase names. Ids and dates stay ``str`` (the document's
samples carry placeholders like ``"string"``); ``adapter.to_order`` parses the dates.
Amounts are ``Decimal``: ``client.py`` decodes JSON with ``parse_float=Decimal`` and XML
as text, so no amount goes through float. Every list endpoint answers ``{data, pagination}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


class Wire(BaseModel):
    """Lenient to fields the upstream adds; strict about the ones we read."""

    model_config = ConfigDict(extra="ignore")


class Company(Wire):
    id: str
    idRemote: str | None = None
    companyName: str | None = None


class Client(Wire):
    """The ordering business partner (role ``Client``)."""

    id: str
    idRemote: str | None = None
    contactName: str | None = None


class Season(Wire):
    id: str
    idRemote: str | None = None
    description: str | None = None


class User(Wire):
    id: str
    idRemote: str | None = None
    username: str | None = None


class DiscountType(Wire):
    id: str
    name: str | None = None
    code: str | None = None
    description: str | None = None


class Discount(Wire):
    """A discount of an order (``isLine`` set) or of one line (no ``isLine`` on the wire)."""

    id: str
    idRemote: str | None = None
    discountType: DiscountType | None = None
    sequence: int | None = None
    discount: Decimal | None = None  # percent
    amountDiscount: Decimal | None = None
    isLine: bool | None = None


class LineDetail(Wire):
    id: str
    idRemote: str | None = None
    product: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    retailPrice: Decimal | None = None


class Line(Wire):
    id: str
    idRemote: str | None = None
    lineStatus: str | None = None
    discount: list[Discount] = []
    observations: str | None = None
    deliveryDate: str | None = None
    cancellationDate: str | None = None
    lineAmount: Decimal | None = None
    quantity: Decimal
    quantityServed: Decimal | None = None
    quantityFromStock: Decimal | None = None
    lineDetail: list[LineDetail] = []


class Order(Wire):
    id: str
    idRemote: str | None = None
    reference: str | None = None
    numOrder: str | None = None
    company: Company | None = None
    client: Client | None = None
    agent: str | None = None
    status: str
    season: Season | None = None
    shippingAddress: str | None = None
    billingAddress: str | None = None
    discount: list[Discount] = []
    lines: list[Line] = []
    dateOrder: str | None = None
    dateModified: str
    dateDelivery: str | None = None
    observation: str | None = None
    grossAmount: Decimal | None = None
    baseAmount: Decimal | None = None
    shippingAmount: Decimal | None = None
    taxAmount: Decimal | None = None
    taxrecAmount: Decimal | None = None
    totalAmount: Decimal | None = None
    totalQuantity: Decimal | None = None
    quantityServed: Decimal | None = None
    quantityPending: Decimal | None = None
    shipper: str | None = None
    origin: str | None = None
    isSale: bool | None = None
    active: bool | None = None
    createdBy: User | None = None
    updatedBy: User | None = None
    createdAt: str
    updatedAt: str | None = None


class Pagination(Wire):
    totalItems: int
    itemsPerPage: int
    currentPage: int
    totalPages: int
    nextPageUrl: str | None = None


E = TypeVar("E", bound=Wire)


class EntityList(Wire, Generic[E]):
    """A page of one reference catalog (``GET /api/<Entity>/get<Entity>``)."""

    data: list[E]
    pagination: Pagination


class BusinessPartner(Wire):
    """A client (role ``Client``) or an agent (role ``Representant``) of one company."""

    id: str
    idRemote: str | None = None
    contactName: str | None = None
    roles: list[str] = []
    company: Company | None = None


class Location(Wire):
    """An address of one business partner, flagged for shipping and/or billing."""

    id: str
    idRemote: str | None = None
    businessPartnerId: str | None = None
    shippingAddress: bool = False
    billingAddress: bool = False


class Product(Wire):
    id: str
    idRemote: str | None = None
    reference: str | None = None  # the SKU
    name: str | None = None


class OrderList(Wire):
    """``GET /Order/getOrder`` and ``GET /Order/updatedFrom``."""

    data: list[Order]
    pagination: Pagination


class StatusEntry(Wire):
    """One order or line status. The document prints ``{"id", "value": true}`` and calls it
    "identifiers and description"; ``id`` is the code orders carry, ``value`` whether it is
    in use, ``idRemote``/``description`` what the simulator adds (``docs/upstreams/b2b.md``)."""

    id: str
    value: bool | None = None
    idRemote: str | None = None
    description: str | None = None


class StatusList(Wire):
    """``GET /Order/getOrder/Status`` and ``GET /Order/getOrder/Line/Status``."""

    data: list[StatusEntry]
    pagination: Pagination


class WriteWire(Wire):
    """Bodies the API takes; ids may come as JSON numbers."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


# Amounts go out as JSON numbers, as the document prints them (pydantic would write strings).
WireAmount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class DiscountCreate(WriteWire):
    """A discount of a new order or line; ``id`` becomes its ``idRemote`` (document)."""

    id: str | None = None
    discountTypeId: str
    sequence: int | None = None
    discount: WireAmount = Field(ge=0, le=100)  # percent
    isLine: bool = False


class LineCreate(WriteWire):
    """A line of a new order; ``id`` becomes its ``idRemote`` (document)."""

    id: str | None = None
    productId: str
    lineStatusId: str
    quantity: int = Field(gt=0)
    price: WireAmount | None = Field(default=None, ge=0)  # default: the product's price
    discount: list[DiscountCreate] = []
    observations: str | None = None
    deliveryDate: str | None = None


class OrderCreate(WriteWire):
    """``POST /api/Order/create`` (JSON only); ``id`` becomes the order's ``idRemote``."""

    id: str | None = None
    reference: str | None = None
    companyId: str
    clientId: str
    agentId: str
    seasonId: str | None = None
    statusId: str
    shippingAddressId: str
    billingAddressId: str
    discount: list[DiscountCreate]  # the document: "simply attach an empty array"
    lines: list[LineCreate] = Field(min_length=1)
    observation: str | None = None
    dateDelivery: str | None = None


class LineStatusUpdate(WriteWire):
    """``PUT /api/Order/update/{id}/line/{lineId}``: a line to another catalogued status."""

    lineStatusId: str


class OrderStatusUpdate(WriteWire):
    """``PUT /api/Order/update/{id}``: move an order to another catalogued status."""

    status: str
