"""Typed configuration sections, one per backend; ``gateway.settings.Settings`` composes them.

Defaults are the demo configuration: the embedded simulators on 127.0.0.1:8101-8104 with
their demo credentials (``shared/contract/runtime.md``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class BackendSettings(BaseModel):
    """What every backend connection has: where, how long to wait, how hard to retry."""

    base_url: str = Field(description="where the upstream is")
    enabled: bool = Field(default=True, description="`false` takes the backend out of the gateway")
    timeout_s: float = Field(default=5.0, gt=0, description="read/write timeout per request")
    connect_timeout_s: float = Field(default=2.0, gt=0, description="connect timeout")
    max_connections: int = Field(default=20, ge=1, description="connection pool size")
    retries: int = Field(
        default=2,
        ge=0,
        description="extra attempts of an idempotent read on a transient failure (backoff with "
        "full jitter)",
    )
    backoff_base_s: float = Field(default=0.05, ge=0, description="first retry after about this")
    backoff_max_s: float = Field(default=2.0, ge=0, description="retries at least this often")
    max_retry_after_s: float = Field(
        default=5.0, ge=0, description="longest Retry-After (429) a read waits before failing"
    )
    read_concurrency: int = Field(
        default=8, ge=1, description="parallel single reads where the upstream has no batch read"
    )
    page_size: int = Field(default=100, ge=1, description="largest page asked of the upstream")
    breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failures that open the circuit breaker"
    )
    breaker_cooldown_s: float = Field(
        default=10.0, gt=0, description="how long an open breaker sends nothing before a probe"
    )
    retry_budget_ratio: float = Field(
        default=0.2, ge=0, description="retries may add at most this share of the requests"
    )


class AffiliateSettings(BackendSettings):
    base_url: str = Field(default="http://127.0.0.1:8101", description="where the upstream is")
    api_key: SecretStr = Field(
        default=SecretStr("demo-affiliate-key"), description="`X-Api-Key` of the platform"
    )


class WebshopSettings(BackendSettings):
    base_url: str = Field(default="http://127.0.0.1:8102", description="where the upstream is")
    client_id: str = Field(default="ordergate-demo", description="OAuth2 client id")
    client_secret: SecretStr = Field(
        default=SecretStr("demo-secret"), description="OAuth2 client secret"
    )


class CrmSettings(BackendSettings):
    base_url: str = Field(default="http://127.0.0.1:8103", description="where the upstream is")
    client_id: str = Field(default="ordergate-demo", description="OAuth2 client id")
    client_secret: SecretStr = Field(
        default=SecretStr("demo-secret"), description="OAuth2 client secret"
    )


class B2BSettings(BackendSettings):
    base_url: str = Field(default="http://127.0.0.1:8104", description="where the upstream is")
    username: str = Field(default="demo", description="login user (`POST /api/login`)")
    password: SecretStr = Field(default=SecretStr("demo"), description="login password")
    format: Literal["json", "xml"] = Field(
        default="json", description="wire format the adapter asks for (Accept header)"
    )
    currency: str = Field(
        default="EUR", description="the B2B API carries no currency; its orders are in this one"
    )
