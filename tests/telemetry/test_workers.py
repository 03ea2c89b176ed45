"""``ordergate run --workers 2``: each worker counts its own requests in the shared metrics
directory, and a scrape, whichever worker answers it, shows them all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from domain.models import OrderSource
from tests.support import GatewayProcess, bind_free_port
from tests.telemetry.support import labels, parse

REQUESTS = 24


def test_two_workers_count_every_request_whichever_answers_the_scrape(
    simulator_urls: dict[OrderSource, str], tmp_path: Path
) -> None:
    port = bind_free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "ORDERGATE_SIMULATORS": "false",
        "ORDERGATE_PORT": str(port),
        "ORDERGATE_WORKERS": "2",
        "ORDERGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/workers.db",
        "ORDERGATE_FEED__INGEST": "false",
        "ORDERGATE_LOG_LEVEL": "warning",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **{f"ORDERGATE_{s.value}__BASE_URL": url for s, url in simulator_urls.items()},
    }
    created = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", "create", "--name", "workers"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    gateway = GatewayProcess(env, port)
    gateway.start()
    try:
        query = {"query": "query Counted { viewer { principal } }"}
        for _ in range(REQUESTS):  # a connection each: the kernel hands them to either worker
            with httpx.Client(base_url=gateway.url, headers=headers) as client:
                assert client.post("/graphql", json=query).status_code == 200
        writers = {path.name.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
        scrapes = []
        for _ in range(6):
            with httpx.Client(base_url=gateway.url) as client:
                scrapes.append(parse(client.get("/metrics").text))
    finally:
        assert gateway.process is not None
        gateway.process.terminate()
        gateway.process.wait(timeout=20)
    assert len(writers) >= 2, f"every request went to one worker: {writers}"
    series = (
        "ordergate_graphql_requests_total",
        labels(operation="Counted", type="query", outcome="ok"),
    )
    assert [scrape[series] for scrape in scrapes] == [REQUESTS] * len(scrapes)
