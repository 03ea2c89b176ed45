"""What a CRM write needs before anything is sent: the request body, built from the command.

The CRM names statuses and order assets by site-defined ids, so each body is found in a
catalog (``CrmCatalogs``, read at most once per ``CATALOG_TTL_S``); a name the catalog does
not have is a ``ValidationError`` naming the GraphQL input field, and nothing is sent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from backends.cache import CATALOG_TTL_S, TtlCache
from backends.crm import wire
from backends.crm.client import CrmClient
from domain.commands import (
    Dispatch,
    SetDiscountCode,
    SetGiftVoucher,
    SetShippingOption,
    SetTaxCode,
)
from domain.errors import ValidationError

Lookup = dict[str, int]  # a catalog entry's name (or id), stripped and casefolded -> its Id


def lookup(entries: Iterable[tuple[str, int]]) -> Lookup:
    return {_key(name): entry_id for name, entry_id in entries}


def by_name_or_id(entries: Iterable[tuple[str, int]]) -> Iterable[tuple[str, int]]:
    """Each entry under its name and under its id, for inputs that take either."""
    for name, entry_id in entries:
        yield name, entry_id
        yield str(entry_id), entry_id


def _key(value: str) -> str:
    return value.strip().casefold()


def _find(found: Lookup, wanted: str, what: str, field: str) -> str:
    """The catalog id of ``wanted``, as the string the CRM's bodies carry (document 002)."""
    entry_id = found.get(_key(wanted))
    if entry_id is None:
        raise ValidationError(f"No {what} '{wanted}' exists in the CRM", field=["input", field])
    return str(entry_id)


class CrmCatalogs:
    """The CRM's order-status and asset catalogs, turned into write bodies."""

    def __init__(
        self,
        client: CrmClient,
        *,
        ttl_s: float = CATALOG_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client

        def cache(load: Callable[[], Awaitable[Lookup]]) -> TtlCache[Lookup]:
            return TtlCache(load, ttl_s=ttl_s, clock=clock)

        self.statuses = cache(self._load_statuses)
        self.discount_codes = cache(self._load_discount_codes)
        self.gift_vouchers = cache(self._load_gift_vouchers)
        self.shipping_options = cache(self._load_shipping_options)
        self.tax_codes = cache(self._load_tax_codes)

    async def status_ids(self, names: Iterable[str]) -> list[int]:
        """The site's ids of the statuses called ``names`` (those it has), in order."""
        found = await self.statuses.get()
        return sorted({found[_key(name)] for name in names if _key(name) in found})

    async def status(self, name: str) -> wire.SetStatus:
        """The status update to the status called ``name`` (ids are site-defined)."""
        status_id = _find(await self.statuses.get(), name, "order status", "status")
        return wire.SetStatus(StatusId=int(status_id))

    async def discount_code(self, command: SetDiscountCode) -> wire.SetDiscountCode:
        """By the code a shopper types, in any case."""
        codes = await self.discount_codes.get()
        return wire.SetDiscountCode(DiscountId=_find(codes, command.code, "discount code", "code"))

    async def gift_voucher(self, command: SetGiftVoucher) -> wire.SetGiftVoucher:
        vouchers = await self.gift_vouchers.get()
        voucher_id = _find(vouchers, command.voucher, "gift voucher", "voucher")
        return wire.SetGiftVoucher(GiftVoucherId=voucher_id)

    async def shipping_option(self, command: SetShippingOption) -> wire.SetShippingOption:
        options = await self.shipping_options.get()
        option_id = _find(options, command.option, "shipping option", "option")
        return wire.SetShippingOption(ShippingOptionId=option_id)

    async def tax_code(self, command: SetTaxCode) -> wire.SetTaxCode:
        taxes = await self.tax_codes.get()
        return wire.SetTaxCode(TaxId=_find(taxes, command.code, "tax code", "code"))

    async def _load_statuses(self) -> Lookup:
        statuses = await self.client.order_statuses()
        return lookup((status.Name, status.Id) for status in statuses.Items)

    async def _load_discount_codes(self) -> Lookup:
        codes = await self.client.discount_codes()
        return lookup((code.Code, code.Id) for code in codes.Items)

    async def _load_gift_vouchers(self) -> Lookup:
        vouchers = await self.client.gift_vouchers()
        return lookup(by_name_or_id((voucher.Name, voucher.Id) for voucher in vouchers.Items))

    async def _load_shipping_options(self) -> Lookup:
        options = await self.client.shipping_options()
        return lookup(by_name_or_id((option.Name, option.Id) for option in options.Items))

    async def _load_tax_codes(self) -> Lookup:
        taxes = await self.client.tax_codes()
        return lookup(by_name_or_id((tax.Code, tax.Id) for tax in taxes.Items))


def shipment(command: Dispatch) -> wire.SetShipment:
    """The shipment update (a blank ``AWBNumber`` never gets here: the command refuses it)."""
    return wire.SetShipment(AWBNumber=command.consignment_number, TrackingURL=command.tracking_url)
