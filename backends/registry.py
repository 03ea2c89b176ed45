"""Which module serves each ``OrderSource``: its adapter and its simulator, loaded lazily."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp

from backends.base import OrderBackend
from backends.config import BackendSettings
from backends.simkit.app import SimConfig
from domain.models import OrderSource


@dataclass(frozen=True, slots=True)
class BackendSpec:
    package: str  # backends.<package>
    adapter_class: str
    default_port: int


BACKENDS: dict[OrderSource, BackendSpec] = {
    OrderSource.AFFILIATE: BackendSpec("affiliate", "AffiliateAdapter", 8101),
    OrderSource.WEBSHOP: BackendSpec("webshop", "WebshopAdapter", 8102),
    OrderSource.CRM: BackendSpec("crm", "CrmAdapter", 8103),
    OrderSource.B2B: BackendSpec("b2b", "B2BAdapter", 8104),
}


def _module(source: OrderSource, name: str) -> Any:
    return importlib.import_module(f"backends.{BACKENDS[source].package}.{name}")


def create_adapter(source: OrderSource, settings: BackendSettings, **options: Any) -> OrderBackend:
    """The adapter of ``source``, configured by its settings section."""
    adapter_class = getattr(_module(source, "adapter"), BACKENDS[source].adapter_class)
    adapter: OrderBackend = adapter_class(settings, **options)
    return adapter


def create_simulator(source: OrderSource, config: SimConfig | None = None) -> ASGIApp:
    """The simulated upstream of ``source`` as an ASGI app (not yet serving)."""
    app: ASGIApp = _module(source, "simulator").create_app(config or SimConfig())
    return app
