"""The CRM admin API's own JSON shapes, attribute names exactly as on the wire (PascalCase).

Timestamps stay strings here (the document prints them as ISO 8601 with ``Z``; the mapping
parses them). Amounts are ``Decimal``. Objects the CRM leaves out on an order (no discount,
no voucher, not yet dispatched) arrive as ``null``, so those fields are optional.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

ItemT = TypeVar("ItemT")


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrderStatusRef(WireModel):
    Id: int
    Name: str


class AppliedDiscount(WireModel):
    Code: str
    Cost: Decimal


class AppliedGiftVoucher(WireModel):
    Name: str
    Cost: Decimal


class AppliedTax(WireModel):
    Code: str
    Rate: Decimal


class OrderShippingInfo(WireModel):
    Name: str | None = None
    Cost: Decimal = Decimal("0")
    Address: str | None = None
    City: str | None = None
    State: str | None = None
    Zipcode: str | None = None
    Country: str | None = None


class OrderMember(WireModel):
    Id: int
    Email: str | None = None
    FirstName: str | None = None
    LastName: str | None = None


class LineAttribute(WireModel):
    AttributeId: int
    OptionsIds: list[str] = []


class OrderLine(WireModel):
    Id: int
    EntityType: str | None = None
    ProductId: int | None = None
    ModuleId: int | None = None
    ProductName: str | None = None
    Quantity: Decimal
    TaxRate: Decimal | None = None
    UnitPrice: Decimal
    TotalPrice: Decimal
    FileName: str | None = None
    IsDownload: bool = False
    Attributes: list[LineAttribute] = []


class OrderPayment(WireModel):
    Id: int
    Amount: Decimal
    AmountCaptured: Decimal | None = None
    GatewayReason: str | None = None
    TransactionId: str | None = None
    Status: str | None = None
    PaymentType: str | None = None
    PaymentGatewayType: str | None = None
    Notes: str | None = None
    CreatedDateTime: str | None = None


class Order(WireModel):
    """The full order object every order endpoint answers (document: "Data / Response")."""

    Id: int
    AWBNumber: str | None = None
    CurrencyCountry: str | None = None
    Currency: str
    Country: str | None = None
    InvoiceDate: str | None = None
    InvoiceNumber: int = 0
    IsDeleted: bool = False
    IsRecurring: bool = False
    MainOrderId: int = 0
    MemberId: int = 0
    OrderName: str | None = None
    PaymentState: str
    StatusId: int
    TotalCost: Decimal
    CreatedDateTime: str
    # Not in the document: the simulator's extension (docs/upstreams/crm.md).
    ModifiedDateTime: str | None = None
    HasSubscriptions: bool = False
    HasPaidSubscription: bool = False
    TrackingURL: str | None = None
    TransactionId: str | None = None
    AmountPaid: Decimal | None = None
    AmountPending: Decimal | None = None
    OrderCaseType: str | None = None
    StatusShort: OrderStatusRef | None = None
    Discount: AppliedDiscount | None = None
    GiftVoucher: AppliedGiftVoucher | None = None
    Tax: AppliedTax | None = None
    ShippingInfo: OrderShippingInfo | None = None
    Member: OrderMember | None = None
    OrderLines: list[OrderLine] = []
    Payments: list[OrderPayment] = []
    CustomCrmGroups: dict[str, dict[str, Any]] | None = None


class StatusCatalogEntry(WireModel):
    """``GET /api/v2/admin/orders/order-statuses``: one of the site's order statuses."""

    Id: int
    Name: str
    EmailId: int | None = None  # the e-mail template sent on this status, if any
    NotifyCustomer: bool = False
    IsSystem: bool = False  # a status the site cannot delete
    Type: str | None = None  # the case type it applies to ("Order")


class DiscountCode(WireModel):
    Id: int
    Code: str
    Type: str  # "Percent" or "Fixed"
    Value: Decimal


class GiftVoucher(WireModel):
    Id: int
    Name: str
    Amount: Decimal


class ShippingOption(WireModel):
    Id: int
    Name: str
    Cost: Decimal


class TaxCode(WireModel):
    Id: int
    Code: str
    Rate: Decimal


class ItemList(WireModel, Generic[ItemT]):
    """Every admin list answer: one offset page of ``Items`` and the count of all of them."""

    Items: list[ItemT]
    TotalItemsCount: int


# Request bodies of the order writes: the document's four asset PUTs, then the simulator's
# status and shipment updates (docs/upstreams/crm.md). Asset ids are strings on the wire.


class SetDiscountCode(WireModel):
    DiscountId: str


class SetGiftVoucher(WireModel):
    GiftVoucherId: str


class SetShippingOption(WireModel):
    ShippingOptionId: str


class SetTaxCode(WireModel):
    TaxId: str


class SetStatus(WireModel):
    StatusId: int


class SetShipment(WireModel):
    AWBNumber: str
    TrackingURL: str | None = None
