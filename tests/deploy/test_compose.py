"""deploy/compose.yaml, read statically (no container runtime runs here): PostgreSQL, Redis,
two gateway replicas sharing both, and the four simulators as upstreams of their own. Every
``ORDERGATE_*`` variable it sets is one the settings read, with a value they accept: a
renamed setting fails here, not in a deployment that silently ignores it."""

from __future__ import annotations

import os
import re
import shlex
from urllib.parse import urlsplit

import pytest

from backends.registry import BACKENDS
from backends.simkit.cli import parse_args
from domain.models import OrderSource
from gateway.settings import Settings
from tests.deploy.support import ROOT, compose_environment, compose_services, setting_of

SERVICES = compose_services()
GATEWAYS = ["gateway-1", "gateway-2"]
SIMULATORS = {source: f"sim-{source.value.lower()}" for source in OrderSource}


def command(service: str) -> list[str]:
    value = SERVICES[service]["command"]
    return shlex.split(value) if isinstance(value, str) else [str(word) for word in value]


def test_the_topology_is_a_store_redis_two_gateways_and_four_upstreams() -> None:
    expected = {"postgres", "redis", *GATEWAYS, *SIMULATORS.values()}
    assert set(SERVICES) == expected


def test_third_party_images_are_pinned_by_exact_version() -> None:
    # A release of PostgreSQL (since 10) is major.minor; one of Redis is major.minor.patch.
    for service, parts in {"postgres": 2, "redis": 3}.items():
        image = SERVICES[service]["image"]
        _, _, tag = image.partition(":")
        assert re.fullmatch(r"\d+" + r"\.\d+" * (parts - 1) + r"(-[a-z0-9]+)?", tag), image


def test_the_gateways_and_simulators_run_the_image_built_from_the_dockerfile() -> None:
    for service in (*GATEWAYS, *SIMULATORS.values()):
        build = SERVICES[service]["build"]
        assert (ROOT / "deploy" / build["context"] / build["dockerfile"]).resolve() == (
            ROOT / "Dockerfile"
        )


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_each_replica_runs_the_production_profile_on_the_shared_postgresql_and_redis(
    gateway: str,
) -> None:
    env = compose_environment(gateway)
    assert env["ORDERGATE_PROFILE"] == "production"
    database = urlsplit(env["ORDERGATE_DATABASE_URL"])
    assert (database.scheme, database.hostname) == ("postgresql+asyncpg", "postgres")
    postgres = SERVICES["postgres"]["environment"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"
    assert (database.username, database.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert urlsplit(env["ORDERGATE_REDIS_URL"]).hostname == "redis"


def test_the_replicas_share_everything_but_the_address_the_affiliate_platform_calls() -> None:
    first, second = (compose_environment(g) for g in GATEWAYS)
    assert first.keys() == second.keys()
    differing = {name for name in first if first[name] != second[name]}
    assert differing == {"ORDERGATE_FEED__PUBLIC_URL"}
    for gateway in GATEWAYS:
        public_url = compose_environment(gateway)["ORDERGATE_FEED__PUBLIC_URL"]
        assert urlsplit(public_url).hostname == gateway


@pytest.mark.parametrize("source", list(OrderSource), ids=lambda s: s.value)
def test_each_backend_is_reached_at_its_simulator_service(source: OrderSource) -> None:
    simulator = SIMULATORS[source]
    args = parse_args(command(simulator)[1:])
    for gateway in GATEWAYS:
        url = urlsplit(compose_environment(gateway)[f"ORDERGATE_{source.value}__BASE_URL"])
        assert (url.hostname, url.port) == (simulator, args.port)


@pytest.mark.parametrize("simulator", SIMULATORS.values())
def test_each_simulator_service_runs_ordergate_sim_for_its_own_source(simulator: str) -> None:
    words = command(simulator)
    assert words[0] == "ordergate-sim"
    args = parse_args(words[1:])  # the CLI's own parser: an unknown option exits here
    source = next(s for s, name in SIMULATORS.items() if name == simulator)
    assert args.source == source.value.lower()
    assert args.host == "0.0.0.0"  # reachable from the gateways' containers
    assert args.port == BACKENDS[source].default_port


CONFIGURED = [
    service
    for service in SERVICES
    if any(variable.startswith("ORDERGATE_") for variable in compose_environment(service))
]


def test_the_gateways_are_configured_by_ordergate_variables() -> None:
    assert set(GATEWAYS) <= set(CONFIGURED)


@pytest.mark.parametrize("service", CONFIGURED)
def test_every_ordergate_variable_is_a_setting_and_its_value_is_accepted(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = compose_environment(service)
    for variable in env:
        if variable.startswith("ORDERGATE_"):
            setting_of(variable)  # KeyError: no setting reads it
    for variable in list(os.environ):
        if variable.startswith("ORDERGATE_"):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_replicas_use_each_upstreams_credentials_setting() -> None:
    """Each upstream's own credentials (backends/config.py): set, not left to the defaults
    that happen to be the simulators'."""
    credentials = {
        OrderSource.AFFILIATE: ["API_KEY"],
        OrderSource.WEBSHOP: ["CLIENT_ID", "CLIENT_SECRET"],
        OrderSource.CRM: ["CLIENT_ID", "CLIENT_SECRET"],
        OrderSource.B2B: ["USERNAME", "PASSWORD"],
    }
    for gateway in GATEWAYS:
        env = compose_environment(gateway)
        for source, names in credentials.items():
            for name in names:
                assert env.get(f"ORDERGATE_{source.value}__{name}"), (gateway, source, name)


def test_every_dependency_is_a_service_and_the_store_and_redis_are_waited_for() -> None:
    for name, service in SERVICES.items():
        depends_on = service.get("depends_on", {})
        assert set(depends_on) <= set(SERVICES), name
    for gateway in GATEWAYS:
        depends_on = SERVICES[gateway]["depends_on"]
        for dependency in ("postgres", "redis", *SIMULATORS.values()):
            assert depends_on[dependency]["condition"] == "service_healthy"
            assert "healthcheck" in SERVICES[dependency], dependency


def test_no_two_services_publish_the_same_host_port() -> None:
    published: list[str] = []
    for service in SERVICES.values():
        for mapping in service.get("ports", []):
            *host, _container = str(mapping).split(":")
            published.append(host[-1])
    assert len(published) == len(set(published)), published
    assert sorted(published)[:2] == ["8001", "8002"]


def test_a_replica_has_longer_to_stop_than_its_requests_in_flight() -> None:
    grace = Settings.model_fields["shutdown_grace_s"].default
    for gateway in GATEWAYS:
        stop = SERVICES[gateway]["stop_grace_period"]
        assert stop.endswith("s") and int(stop[:-1]) > grace
