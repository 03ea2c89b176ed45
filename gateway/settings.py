"""The one typed settings object, read from ``ORDERGATE_*`` environment variables and ``.env``.

Nested sections use ``__``: ``ORDERGATE_WEBSHOP__BASE_URL``, ``ORDERGATE_B2B__FORMAT=xml``.
Every setting is listed in the README's configuration table.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from backends.config import (
    AffiliateSettings,
    B2BSettings,
    BackendSettings,
    CrmSettings,
    WebshopSettings,
)
from domain.models import OrderSource


class OutboxSettings(BaseModel):
    """How queued upstream writes are delivered (``gateway/delivery.py``)."""

    poll_interval_s: float = Field(default=1.0, gt=0, description="how often the worker looks")
    backoff_base_s: float = Field(default=1.0, gt=0, description="first retry after about this")
    backoff_max_s: float = Field(default=60.0, gt=0, description="retries at least this often")
    lease_s: float = Field(default=30.0, gt=0, description="how long a delivery holds its entry")
    concurrency: int = Field(default=8, ge=1, description="orders delivered at once by the worker")
    batch_size: int = Field(default=200, ge=1, description="entries the worker takes per round")
    worker: bool = Field(default=True, description="run the delivery worker in this process")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDERGATE_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    host: str = Field(default="127.0.0.1", description="address the gateway listens on")
    port: int = Field(default=8000, ge=0, le=65535)
    database_url: str = Field(
        default="sqlite+aiosqlite:///./ordergate.db",
        description="SQLAlchemy async URL of the store (SQLite default, PostgreSQL by URL)",
    )
    simulators: bool = Field(
        default=True,
        description="start the four simulated upstreams in-process (the demo and the tests)",
    )
    sim_seed: int = Field(default=42, description="seed of the simulators' data")
    sim_orders: int = Field(default=120, ge=1, description="orders each simulator seeds")
    max_page_size: int = Field(default=100, ge=1, description="largest `first` of `orders`")
    graphiql: bool = Field(default=True, description="serve GraphiQL at GET /graphql")
    log_level: str = Field(default="info")
    idempotency_wait_s: float = Field(
        default=10.0, gt=0, description="how long a repeated key waits for the first request"
    )

    outbox: OutboxSettings = Field(default_factory=OutboxSettings)

    affiliate: AffiliateSettings = Field(default_factory=AffiliateSettings)
    webshop: WebshopSettings = Field(default_factory=WebshopSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    b2b: B2BSettings = Field(default_factory=B2BSettings)

    def backend(self, source: OrderSource) -> BackendSettings:
        section: BackendSettings = getattr(self, source.value.lower())
        return section

    @cached_property
    def enabled_sources(self) -> list[OrderSource]:
        return [source for source in OrderSource if self.backend(source).enabled]
