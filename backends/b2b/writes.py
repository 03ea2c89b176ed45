"""A new wholesale order checked against the B2B API's reference data, and its POST body.

``003_*`` lists the rules ``POST /Order/create`` enforces (client and agent of the ordering
company with their roles, addresses of the client flagged for their use, existing season,
status, products and line statuses). ``new_order_body`` checks them in the document's order
before anything is sent and reports the first one broken as a ``ValidationError`` whose
``field`` is the GraphQL input path (``["input", "lines", "0", "productId"]``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from backends.b2b import wire
from backends.b2b.reference import Catalogs
from domain.commands import CreateWholesaleOrder, NewOrderLine
from domain.errors import UpstreamRejectedError, ValidationError
from domain.models import OrderSource

# The command carries discounts as bare percents; the API wants a discount type for each.
# "Promotion" is the catalog's general-purpose type, "Volume" the one its line discounts use.
ORDER_DISCOUNT_TYPE = "PROMO"
LINE_DISCOUNT_TYPE = "VOLUME"
# A new line has shipped nothing yet.
DEFAULT_LINE_STATUS = "PENDING"

Path = list[str]

# The business partner roles the document names: the client orders, the agent sold.
CLIENT_ROLE = "Client"
AGENT_ROLE = "Representant"


def new_order_body(command: CreateWholesaleOrder, catalogs: Catalogs) -> wire.OrderCreate:
    """The ``POST /Order/create`` body of ``command``, once every rule of the document holds."""
    company = catalogs.companies.get(command.company_id)
    if company is None:
        raise ValidationError(
            f"No company {command.company_id!r} exists in the B2B API", field=field("companyId")
        )
    check_partner(command.client_id, CLIENT_ROLE, company.id, field("clientId"), catalogs)
    check_partner(command.agent_id, AGENT_ROLE, company.id, field("agentId"), catalogs)
    if command.season_id is not None and command.season_id not in catalogs.seasons:
        raise ValidationError(
            f"No season {command.season_id!r} exists in the B2B API", field=field("seasonId")
        )
    check_address(command.shipping_address_id, command.client_id, "shipping", catalogs)
    check_address(command.billing_address_id, command.client_id, "billing", catalogs)
    if command.status_id not in catalogs.order_statuses:
        raise ValidationError(
            f"No order status {command.status_id!r} exists in the B2B API",
            field=field("statusId"),
        )
    return wire.OrderCreate(
        id=command.remote_id,  # the document: an ``id`` given becomes the order's idRemote
        reference=command.reference,
        companyId=company.id,
        clientId=command.client_id,
        agentId=command.agent_id,
        seasonId=command.season_id,
        statusId=command.status_id,
        shippingAddressId=command.shipping_address_id,
        billingAddressId=command.billing_address_id,
        observation=command.observation,
        discount=discounts(
            command.discount_percent, ORDER_DISCOUNT_TYPE, field("discountPercent"), catalogs
        ),
        lines=[new_line(index, line, catalogs) for index, line in enumerate(command.lines)],
    )


def field(*path: str) -> Path:
    """A field of the mutation's input (its ``b2b`` part), as ``ValidationError.field`` names it."""
    return ["input", "b2b", *path]


def check_partner(
    partner_id: str, role: str, company_id: str, path: Path, catalogs: Catalogs
) -> None:
    """``partner_id`` is a business partner with ``role`` of the ordering company."""
    partner = catalogs.partners.get(partner_id)
    if partner is None:
        raise ValidationError(
            f"No business partner {partner_id!r} exists in the B2B API", field=path
        )
    if role not in partner.roles:
        raise ValidationError(
            f"Business partner {partner_id!r} does not have the role {role}", field=path
        )
    if partner.company is None or partner.company.id != company_id:
        raise ValidationError(
            f"Business partner {partner_id!r} is not of company {company_id!r}", field=path
        )


def check_address(location_id: str, client_id: str, use: str, catalogs: Catalogs) -> None:
    """``location_id`` is a location of the client flagged for ``use`` (shipping/billing)."""
    path = field(f"{use}AddressId")
    location = catalogs.locations.get(location_id)
    if location is None or location.businessPartnerId != client_id:
        raise ValidationError(
            f"Location {location_id!r} is not an address of client {client_id!r}", field=path
        )
    usable = location.shippingAddress if use == "shipping" else location.billingAddress
    if not usable:
        raise ValidationError(
            f"Location {location_id!r} is not registered as a {use} address", field=path
        )


def new_line(index: int, line: NewOrderLine, catalogs: Catalogs) -> wire.LineCreate:
    """Line ``index`` of the body: whole units of an existing product, in an existing status."""
    at = ("lines", str(index))
    if line.quantity != line.quantity.to_integral_value():
        raise ValidationError(
            f"The B2B API orders whole units, not {line.quantity}", field=field(*at, "quantity")
        )
    if line.product_id not in catalogs.products:
        raise ValidationError(
            f"No product {line.product_id!r} exists in the B2B API",
            field=field(*at, "productId"),
        )
    line_status = line.line_status_id or DEFAULT_LINE_STATUS
    if line_status not in catalogs.line_statuses:
        raise ValidationError(
            f"No line status {line_status!r} exists in the B2B API",
            field=field(*at, "lineStatusId"),
        )
    return wire.LineCreate(
        id=line.remote_id,
        productId=line.product_id,
        lineStatusId=line_status,
        quantity=int(line.quantity),
        price=line.price,
        discount=discounts(
            line.discount_percent, LINE_DISCOUNT_TYPE, field(*at, "discountPercent"), catalogs
        ),
    )


def discounts(
    percent: Decimal | None, type_code: str, path: Path, catalogs: Catalogs
) -> list[wire.DiscountCreate]:
    """No discount, or ``percent`` as one discount of the type with code ``type_code``."""
    if percent is None:
        return []
    discount_type = next(
        (entry for entry in catalogs.discount_types.values() if entry.code == type_code), None
    )
    if discount_type is None:
        raise ValidationError(
            f"The B2B API has no discount type {type_code!r} to give {percent} % with",
            field=path,
        )
    return [wire.DiscountCreate(discountTypeId=discount_type.id, sequence=1, discount=percent)]


# The API's 400s start their message with the field they name ("lines[0].productId: product
# 399 does not exist", docs/upstreams/b2b.md); the error tree keeps only that message.
REFUSED_FIELD = re.compile(r"(?P<field>[A-Za-z]+(?:\[\d+\])?(?:\.[A-Za-z]+(?:\[\d+\])?)*): ")


def refused_input(exc: UpstreamRejectedError) -> ValidationError | None:
    """A 400 of ``POST /Order/create`` naming a field, as a ``ValidationError`` of that input
    field; ``None`` for any other refusal."""
    message = exc.message.removeprefix(f"{OrderSource.B2B.value}: ")
    match = REFUSED_FIELD.match(message)
    if exc.status != 400 or match is None:
        return None
    return ValidationError(
        f"The B2B API refused the order: {message}", field=input_path(match["field"])
    )


def input_path(wire_field: str) -> Path:
    """A body field (``lines[0].discount[0].discountTypeId``) as the input path it came from
    (``["input", "lines", "0", "discountPercent"]``): the body's names are the input's, but
    for discounts, which the input gives as one percent."""
    parts = re.findall(r"[^.\[\]]+", wire_field)
    if "discount" in parts:
        parts = [*parts[: parts.index("discount")], "discountPercent"]
    return field(*parts)
