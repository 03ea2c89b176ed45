"""The one typed settings object, read from ``ORDERGATE_*`` environment variables and ``.env``.

Nested sections use ``__``: ``ORDERGATE_WEBSHOP__BASE_URL``, ``ORDERGATE_B2B__FORMAT=xml``.
Every setting is listed in the README's configuration table.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
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


class FeedSettings(BaseModel):
    """The change feed (``feed/``): ingestion into the order index, the event log, and the
    webhooks in and out."""

    ingest: bool = Field(
        default=True,
        description="poll the backends and take the affiliate platform's webhooks in this "
        "process (every replica may: a change seen twice is recorded once)",
    )
    poll_interval_s: float = Field(
        default=5.0, gt=0, description="how often each backend is polled"
    )
    backup_poll_s: float = Field(
        default=60.0,
        gt=0,
        description="how often a backend whose webhooks reach the gateway (AFFILIATE) is "
        "polled all the same: a missed webhook is caught by then",
    )
    overlap_s: float = Field(
        default=5.0, ge=0, description="how far before its checkpoint a poll reads again"
    )
    full_every_s: float = Field(
        default=3600.0,
        gt=0,
        description="how often each backend is read whole (what changed without a new change "
        "date, orders gone)",
    )
    page_size: int = Field(default=100, ge=1, description="orders per upstream page when polling")
    index_search: bool = Field(
        default=True,
        description="answer `orders` listings with a `search` from the order index (one store "
        "query across every source, no upstream request; a source ingestion has not loaded "
        "yet is named in a NOT_INDEXED error); off: read the upstreams page by page, as every "
        "other listing (for deployments that ingest nowhere)",
    )
    index_reads: bool = Field(
        default=False,
        description="answer every `orders` listing from the order index, not only searches: "
        "no upstream request for a listing, which shows the orders as ingestion last saw them "
        "(`Order.syncedAt` says when)",
    )
    tick_s: float = Field(
        default=1.0, gt=0, description="subscribers' events are read at least this often"
    )
    subscriber_queue: int = Field(
        default=1_000,
        ge=1,
        description="events a slow subscriber may lag before reading on from the store",
    )
    affiliate_webhooks: bool = Field(
        default=True, description="register the receiver with the affiliate platform on start"
    )
    public_url: str | None = Field(
        default=None,
        description="the gateway's URL as the upstreams reach it (the affiliate webhook "
        "receiver is <public_url>/webhooks/affiliate); unset: http://<host>:<port>",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="the affiliate webhooks' signing secret (unset: a random one kept in the "
        "store, the same for every replica)",
    )
    webhook_tolerance_s: float = Field(
        default=300.0, gt=0, description="affiliate webhooks older than this are refused"
    )
    delivery_timeout_s: float = Field(
        default=5.0, gt=0, description="how long a partner's receiver has to answer"
    )
    delivery_give_up_s: float = Field(
        default=86_400.0, gt=0, description="how long a partner's delivery is retried (24 h)"
    )
    delivery_backoff_base_s: float = Field(default=5.0, gt=0, description="first retry after")
    delivery_backoff_max_s: float = Field(
        default=600.0, gt=0, description="retries at least this often"
    )
    delivery_concurrency: int = Field(
        default=16, ge=1, description="partners' receivers sent to at once (one each at most)"
    )
    webhook_subscriptions_max: int = Field(
        default=20, ge=1, description="outgoing webhook subscriptions one caller may have"
    )
    webhook_private_urls: bool | None = Field(
        default=None,
        description="whether partners' webhook URLs may reach loopback, private or link-local "
        "addresses (unset: by profile, yes in the demo, no in production: no requests into "
        "the gateway's own network)",
    )


class AuthSettings(BaseModel):
    """Who may call ``/graphql`` (``gateway/authentication.py``): API keys always; OAuth2/OIDC
    access tokens when issuer, audience and JWKS URL are set."""

    anonymous: bool = Field(
        default=False, description="serve requests without a credential (as `anonymous`)"
    )
    anonymous_scopes: list[str] = Field(
        default_factory=lambda: ["orders:read"], description="what anonymous callers may do"
    )
    demo_key: SecretStr | None = Field(
        default=SecretStr("og_demo_key_for_local_use_only"),
        description="in the demo (the simulators on and the demo profile): a key with every "
        "scope, made on start and printed; any other start revokes it",
    )
    key_cache_s: float = Field(
        default=5.0, ge=0, description="how long a looked-up API key is trusted (revocation lag)"
    )
    jwt_issuer: str | None = Field(default=None, description="`iss` every token must carry")
    jwt_audience: str | None = Field(default=None, description="`aud` every token must carry")
    jwks_url: str | None = Field(default=None, description="the identity provider's JWKS")
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"], description="signature algorithms accepted"
    )
    jwt_leeway_s: float = Field(default=30.0, ge=0, description="clock skew allowed on exp/nbf")
    jwks_refresh_min_s: float = Field(
        default=60.0, ge=0, description="unknown key ids refetch the JWKS at most this often"
    )


class LimitSettings(BaseModel):
    """What one request may ask for (``gateway/limits.py``), and each caller's budget of cost
    points (``gateway/throttle.py``). Over a limit: ``QUERY_TOO_COMPLEX`` naming it."""

    max_body_bytes: int = Field(default=1_000_000, ge=1, description="bigger bodies: HTTP 413")
    max_query_chars: int = Field(
        default=100_000, ge=1, description="characters of a document's text, before parsing"
    )
    max_tokens: int = Field(default=1_000, ge=1, description="lexical tokens in a document")
    max_depth: int = Field(
        default=12,
        ge=1,
        description="nesting of selections (an introspection field counts 1: it has its own "
        "bound, below)",
    )
    max_introspection_lists: int = Field(
        default=3,
        ge=1,
        description="nesting of introspection's list fields (`types { fields { args } }` is "
        "3, what GraphiQL asks; each more level multiplies the answer)",
    )
    max_aliases: int = Field(default=15, ge=0, description="aliased fields in an operation")
    max_root_fields: int = Field(default=10, ge=1, description="fields at the operation's root")
    max_directives: int = Field(default=10, ge=0, description="directives on one field")
    max_cost: int = Field(default=1_000, ge=1, description="estimated cost of one query")
    bucket_size: float = Field(
        default=2_000, gt=0, description="cost points a caller may spend at once"
    )
    refusal_cost: int = Field(
        default=10,
        ge=0,
        description="points a refused document takes (syntax, limits, validation); a new "
        "document is parsed only while the caller's bucket holds that much",
    )
    restore_rate: float = Field(
        default=100,
        gt=0,
        description="points a bucket regains per second (a key may set its own)",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDERGATE_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    host: str = Field(default="127.0.0.1", description="address the gateway listens on")
    port: int = Field(default=8000, ge=0, le=65535, description="port the gateway listens on")
    workers: int = Field(
        default=1, ge=1, description="gateway processes sharing the port (`ordergate run`)"
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///./ordergate.db",
        description="SQLAlchemy async URL of the store (SQLite default, PostgreSQL by URL)",
    )
    simulators: bool | None = Field(
        default=None,
        description="start the four simulated upstreams in-process (unset: by profile, on in "
        "the demo, off in production: a deployment never serves simulated orders by default)",
    )
    sim_seed: int = Field(default=42, description="seed of the simulators' data")
    sim_orders: int = Field(default=120, ge=1, description="orders each simulator seeds")
    max_page_size: int = Field(default=100, ge=1, description="largest `first` of `orders`")
    gc_gen0_threshold: int = Field(
        default=5_000,
        ge=0,
        description="after start-up, freeze what it made out of the garbage collector's "
        "reach and collect the youngest generation every this many allocations (Python's "
        "default 700): shorter pauses under load (20,000: shorter still, RSS 10 % higher "
        "after 10,000 requests); 0 leaves the collector as it is",
    )
    max_scan_pages: int = Field(
        default=5,
        ge=1,
        description="upstream pages one page of `orders` reads per backend at most; a filter "
        "that matches little ends the page early with a cursor to read on from",
    )
    cursor_secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="HMAC key of `orders` cursors (unset: a random key kept in the store, "
        "shared by every replica on it)",
    )
    profile: Literal["demo", "production"] = Field(
        default="demo",
        description="`production` flips the safe defaults: no GraphiQL, no introspection, no "
        "field suggestions in errors (each can still be set on its own)",
    )
    graphiql: bool | None = Field(default=None, description="serve GraphiQL at GET /graphql")
    introspection: bool | None = Field(default=None, description="answer __schema/__type")
    suggestions: bool | None = Field(
        default=None, description='"Did you mean ...?" in validation errors'
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="origins a browser app may call /graphql from"
    )
    log_level: str = Field(default="info", description="debug, info, warning or error")
    log_format: Literal["text", "json"] | None = Field(
        default=None,
        description="`json`: one JSON object per line (request id, principal, operation as "
        "fields); `text`: plain lines for a terminal (unset: by profile, text in the demo, json "
        "in production)",
    )
    access_log: bool = Field(
        default=True,
        description="one line per request: operation, status, duration, upstream calls, "
        "principal, request id",
    )
    upstream_trace: bool | None = Field(
        default=None,
        description="list each request's upstream calls in `extensions.upstream` of every "
        "response (unset: in the demo with its simulators; otherwise only for a request with "
        "the header `X-Ordergate-Trace: 1`)",
    )
    metrics: bool = Field(default=True, description="serve Prometheus metrics at GET /metrics")
    operator_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="what GET /metrics and the detail of GET /ready need, as `Authorization: "
        "Bearer <operator_token>` (unset: open in the demo, closed in production)",
    )
    shutdown_grace_s: int = Field(
        default=25,
        ge=0,
        description="after SIGTERM, how long requests in flight may finish (then 503)",
    )
    request_deadline_s: float = Field(
        default=10.0,
        gt=0,
        description="how long one GraphQL request may take; its upstream calls fit inside it",
    )
    idempotency_wait_s: float = Field(
        default=5.0, gt=0, description="how long a repeated key waits for the first request"
    )

    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    redis_url: str | None = Field(
        default=None,
        description="Redis for state every replica shares (rate-limit buckets, change-feed "
        "wake-ups)",
    )

    affiliate: AffiliateSettings = Field(default_factory=AffiliateSettings)
    webshop: WebshopSettings = Field(default_factory=WebshopSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    b2b: B2BSettings = Field(default_factory=B2BSettings)

    @model_validator(mode="after")
    def _profile_defaults(self) -> Settings:
        """What is left unset follows the profile (``simulators``, ``log_format``)."""
        if self.simulators is None:
            self.simulators = self.profile == "demo"
        if self.log_format is None:
            self.log_format = "text" if self.profile == "demo" else "json"
        return self

    def _by_profile(self, value: bool | None) -> bool:
        return value if value is not None else self.profile == "demo"

    @property
    def graphiql_enabled(self) -> bool:
        return self._by_profile(self.graphiql)

    @property
    def introspection_enabled(self) -> bool:
        return self._by_profile(self.introspection)

    @property
    def upstream_trace_always(self) -> bool:
        """``extensions.upstream`` on every response: set so, or the demo with its simulators."""
        if self.upstream_trace is not None:
            return self.upstream_trace
        return self.profile == "demo" and bool(self.simulators)

    @property
    def suggestions_enabled(self) -> bool:
        return self._by_profile(self.suggestions)

    def backend(self, source: OrderSource) -> BackendSettings:
        section: BackendSettings = getattr(self, source.value.lower())
        return section

    @cached_property
    def enabled_sources(self) -> list[OrderSource]:
        return [source for source in OrderSource if self.backend(source).enabled]
