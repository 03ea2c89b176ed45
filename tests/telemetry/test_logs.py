"""Log lines: every line written for a request carries its request id, the access line says
what the request was (operation, status, duration, upstream calls, principal), JSON lines
are one object each, a secret of the settings is taken out of any line, and ``ordergate
run`` prints each start-up line once."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from domain.models import OrderSource
from gateway.settings import Settings
from telemetry import logs, record
from tests.conftest import GatewayClient
from tests.support import SimControlClient, bind_free_port

OUR_LOGGERS = ("gateway", "backends", "schema", "resolvers", "store", "feed", "ordergate")


class Kept(logging.Handler):
    """Every line, as the process's handler would stamp it (request id, redaction)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[logging.LogRecord] = []
        self.addFilter(logs.RequestContext())

    def emit(self, line: logging.LogRecord) -> None:
        self.lines.append(line)


@pytest.fixture
def kept() -> Iterator[Kept]:
    handler = Kept()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


async def test_every_line_of_a_request_carries_its_request_id(
    gateway: GatewayClient, sims: dict[OrderSource, SimControlClient], kept: Kept
) -> None:
    sims[OrderSource.CRM].set_faults(error_rate=1.0)  # the listing logs the backend it missed
    response = await gateway.post(
        "query Logged { orders(first: 2) { edges { node { id } } } }",
        headers={"X-Request-Id": "log-me-7"},
    )
    assert response.status_code == 200
    ours = [line for line in kept.lines if line.name.startswith(OUR_LOGGERS)]
    assert {line.name for line in ours} >= {"resolvers.pagination", "ordergate.access"}
    assert {getattr(line, "request_id", None) for line in ours} == {"log-me-7"}
    (access,) = [line for line in ours if line.name == "ordergate.access"]
    fields = vars(access)
    assert fields["operation"] == "Logged" and fields["operation_type"] == "query"
    assert fields["outcome"] == "partial" and fields["status"] == 200
    assert fields["upstream_calls"] >= 4  # CRM's first try and retry among them
    assert fields["principal"].startswith("key:")
    assert fields["duration_ms"] > 0
    assert "POST /graphql 200" in access.getMessage()


@pytest.fixture
def configured() -> Iterator[None]:
    """``logs.configure`` replaces the root's handlers: pytest's are put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("configured")
def test_a_json_line_is_one_object_with_the_request_id_and_the_extras() -> None:
    stream = io.StringIO()
    logs.configure(level="info", json_lines=True, stream=stream)
    current, token = record.begin("json-line-1")
    logging.getLogger("ordergate.access").info("hello %s", "there", extra={"status": 201})
    record.end(token)
    logging.getLogger("gateway.app").warning("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "hello there" and first["level"] == "info"
    assert first["logger"] == "ordergate.access" and first["status"] == 201
    assert first["request_id"] == current.request_id == "json-line-1"
    assert first["ts"].endswith("+00:00")
    assert "request_id" not in second and second["message"] == "outside"


@pytest.mark.usefixtures("configured")
def test_a_secret_of_the_settings_is_taken_out_of_every_line() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        operator_token=SecretStr("op-token-must-not-show-1234"),
        webshop={"client_secret": "webshop-secret-must-not-show"},
    )
    secrets = set(logs.secrets_of(settings))
    assert {"op-token-must-not-show-1234", "webshop-secret-must-not-show"} <= secrets
    stream = io.StringIO()
    logs.configure(level="info", json_lines=False, secrets=secrets, stream=stream)
    log = logging.getLogger("backends.webshop")
    log.warning("token refused: %s", "webshop-secret-must-not-show")
    try:
        raise RuntimeError("op-token-must-not-show-1234 in a traceback")
    except RuntimeError:
        log.exception("failed")
    text = stream.getvalue()
    assert "must-not-show" not in text
    assert text.count(logs.REDACTED) == 3 and "Traceback" in text  # source line, message


def test_ordergate_run_prints_each_start_up_line_once(tmp_path: object) -> None:
    ports = [bind_free_port() for _ in range(5)]
    env = {
        **os.environ,
        "ORDERGATE_PORT": str(ports[0]),
        "ORDERGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/startup.db",
        "ORDERGATE_FEED__INGEST": "false",
        **{
            f"ORDERGATE_{source.value}__BASE_URL": f"http://127.0.0.1:{port}"
            for source, port in zip(OrderSource, ports[1:], strict=True)
        },
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = []
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Application startup complete" in line:
                break
        for port in ports[1:]:  # the simulators serve on the ports of the backends' URLs
            assert httpx.get(f"http://127.0.0.1:{port}/_sim/stats").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports[0]}/health").status_code == 200
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=15)
    text = "".join(output) + rest
    for line in (
        "Started server process",
        "Waiting for application startup",
        "Application startup complete",
        "Waiting for application shutdown",
        "Application shutdown complete",
        "Finished server process",
        "demo key",
    ):
        assert text.count(line) == 1, text
    assert "Running upgrade" in text  # the migrations, each said once
    assert text.count("Running upgrade  -> 0001") == 1


async def test_a_failure_of_the_gateway_is_a_typed_500_with_its_request_id(
    gateway: GatewayClient, kept: Kept, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(state: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr("gateway.app.readiness", broken)
    response = await gateway.http.get("/ready", headers={"X-Request-Id": "bug-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "bug-1"
    assert response.json()["errors"][0]["extensions"] == {"code": "INTERNAL"}
    assert "a bug" not in response.text
    failure = [line for line in kept.lines if line.levelno >= logging.ERROR]
    assert [getattr(line, "request_id", None) for line in failure] == ["bug-1"]
    assert failure[0].exc_info is not None


async def test_a_path_cannot_forge_a_log_line(gateway: GatewayClient, kept: Kept) -> None:
    await gateway.http.get("/nothing%0A2030-01-01 00:00:00 INFO ordergate.access: forged")
    (access,) = [line for line in kept.lines if line.name == "ordergate.access"]
    assert "\n" not in access.getMessage() and "\\n2030" in access.getMessage()


def test_uvicorns_own_access_line_is_never_written() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        logs.configure(level="info", json_lines=True, stream=io.StringIO())
        assert logging.getLogger("uvicorn.access").disabled
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False
