"""``GET /metrics``: after a known sequence of requests, the exact counts per operation and
per upstream route (the routes compared with what the simulators themselves counted), the
outbox gauges moving as a change queues and is delivered, and the operator token guarding
the exposition."""

from __future__ import annotations

import asyncio
from collections import Counter

from pydantic import SecretStr

from domain.models import OrderSource
from gateway.settings import Settings
from tests.conftest import GatewayClient, bearer, client_of, running
from tests.resolvers.test_mutations import FIND, UPDATE_STATUS
from tests.support import SimControlClient
from tests.telemetry.support import delta, labels, scrape

FEW = "query Few { orders(first: 3) { edges { node { id status } } } }"
ONE = "query One($id: ID!) { order(id: $id) { id status } }"
OPERATOR_TOKEN = "og_test_operator_token_0123456789"


def upstream_counts(sims: dict[OrderSource, SimControlClient]) -> Counter[tuple[str, str, str]]:
    """What the simulators served, as (backend, method, route)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for source, sim in sims.items():
        for route, n in sim.stats()["requests"].items():
            method, _, template = route.partition(" ")
            counts[(source.value, method, template)] += n
    return counts


async def test_metrics_count_each_operation_and_each_upstream_route_exactly(
    gateway: GatewayClient, fresh_sims: dict[OrderSource, SimControlClient]
) -> None:
    http = gateway.http
    first = (await gateway.data(FEW))["orders"]["edges"][0]["node"]["id"]
    for sim in fresh_sims.values():
        sim.reset_stats()
    before = await scrape(http)

    await gateway.data(FEW)
    await gateway.data(FEW)
    await gateway.data(ONE, {"id": first})
    refused = await gateway.post("{ orders(first: 1) { edges { node { nope } } } }")
    assert refused.status_code == 200 and "errors" in refused.json()

    after = await scrape(http)
    assert delta(before, after, "ordergate_graphql_requests_total") == {
        labels(operation="Few", type="query", outcome="ok"): 2,
        labels(operation="One", type="query", outcome="ok"): 1,
        labels(operation="anonymous", type="query", outcome="error"): 1,
    }
    durations = delta(before, after, "ordergate_graphql_request_duration_seconds_count")
    assert durations[labels(operation="Few", type="query")] == 2
    assert durations[labels(operation="One", type="query")] == 1
    assert delta(before, after, "ordergate_http_requests_total") == {
        labels(endpoint="/graphql", status="200"): 4,
        labels(endpoint="/metrics", status="200"): 1,  # the first scrape, counted once done
    }
    served = upstream_counts(fresh_sims)
    counted = delta(before, after, "ordergate_upstream_requests_total")
    assert counted == {
        labels(backend=b, method=m, route=r, status_class="2xx"): n
        for (b, m, r), n in served.items()
    }
    assert sum(served.values()) >= 9  # 3 listings of 4 backends, less what was joined


async def test_failed_upstream_calls_and_retries_are_counted_by_status_class(
    gateway: GatewayClient, fresh_sims: dict[OrderSource, SimControlClient]
) -> None:
    crm = fresh_sims[OrderSource.CRM]
    await gateway.data(FEW)  # tokens fetched: what follows is the listing alone
    before = await scrape(gateway.http)
    crm.set_faults(error_rate=1.0, error_status=503)
    await gateway.query(
        "query CrmOnly { orders(first: 1, filter: {sources: [CRM]}) { edges { node { id } } } }"
    )
    after = await scrape(gateway.http)
    # The test settings retry once: two attempts, both 503.
    assert delta(before, after, "ordergate_upstream_requests_total") == {
        labels(backend="CRM", method="GET", route="/api/v2/admin/orders", status_class="5xx"): 2
    }
    assert delta(before, after, "ordergate_upstream_retries_total") == {labels(backend="CRM"): 1}
    # The page is answered, empty, with the backend's error beside it: partial.
    assert delta(before, after, "ordergate_graphql_requests_total") == {
        labels(operation="CrmOnly", type="query", outcome="partial"): 1
    }


async def test_the_outbox_gauges_move_as_a_change_queues_and_is_delivered(
    settings: Settings, fresh_sims: dict[OrderSource, SimControlClient]
) -> None:
    source, sim = OrderSource.AFFILIATE, fresh_sims[OrderSource.AFFILIATE]
    patient = settings.affiliate.model_copy(update={"breaker_failures": 1_000})
    fast = settings.outbox.model_copy(update={"poll_interval_s": 0.05, "backoff_base_s": 0.05})
    async with (
        running(settings.model_copy(update={"affiliate": patient, "outbox": fast})) as app,
        client_of(app, await bearer(app)) as http,
    ):
        gateway = GatewayClient(http)
        found = await gateway.data(FIND, {"sources": [source.value], "statuses": ["PENDING"]})
        order = found["orders"]["edges"][0]["node"]
        depth = ("ordergate_outbox_depth", labels(backend=source.value))
        oldest = ("ordergate_outbox_oldest_age_seconds", labels(backend=source.value))
        attempts = "ordergate_outbox_delivery_attempts_total"
        before = await scrape(http)
        assert before[depth] == 0 and before[oldest] == 0

        sim.set_faults(error_rate=1.0)
        changed = await gateway.data(
            UPDATE_STATUS, {"input": {"orderId": order["id"], "status": "CONFIRMED"}}
        )
        assert changed["updateStatus"]["delivery"]["status"] == "QUEUED"
        queued = await scrape(http)
        assert queued[depth] == 1 and queued[oldest] > 0
        assert delta(before, queued, attempts)[labels(backend="AFFILIATE", outcome="retry")] >= 1

        sim.reset_faults()
        for _ in range(200):  # the worker delivers it (every 0.05 s, backoff 0.05 s)
            delivered = await scrape(http)
            if delivered[depth] == 0:
                break
            await asyncio.sleep(0.05)
        assert delivered[depth] == 0 and delivered[oldest] == 0
        grown = delta(queued, delivered, attempts)
        assert grown[labels(backend="AFFILIATE", outcome="delivered")] == 1


async def test_an_idempotent_replay_is_counted(gateway: GatewayClient) -> None:
    found = await gateway.data(FIND, {"sources": ["WEBSHOP"], "statuses": ["PENDING"]})
    order = found["orders"]["edges"][0]["node"]
    change = {"orderId": order["id"], "status": "CONFIRMED", "idempotencyKey": "replay-1"}
    before = await scrape(gateway.http)
    for _ in range(2):
        await gateway.data(UPDATE_STATUS, {"input": change})
    after = await scrape(gateway.http)
    assert delta(before, after, "ordergate_idempotency_replays_total") == {(): 1}


async def test_the_operator_token_guards_metrics_and_the_detail_of_ready(
    settings: Settings,
) -> None:
    guarded = settings.model_copy(update={"operator_token": SecretStr(OPERATOR_TOKEN)})
    async with running(guarded) as app, client_of(app) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 401
        assert OPERATOR_TOKEN not in refused.text
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer og_guess_1234567"})
        assert wrong.status_code == 401
        await scrape(http, Authorization=f"Bearer {OPERATOR_TOKEN}")
        bare = (await http.get("/ready")).json()
        assert set(bare) == {"status"}
        detailed = await http.get("/ready", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        assert set(detailed.json()["backends"]) == {s.value for s in OrderSource}


async def test_metrics_can_be_switched_off(settings: Settings) -> None:
    async with running(settings.model_copy(update={"metrics": False})) as app:
        async with client_of(app) as http:
            assert (await http.get("/metrics")).status_code == 404


async def test_production_keeps_the_metrics_closed_without_an_operator_token(
    settings: Settings,
) -> None:
    production = settings.model_copy(update={"profile": "production"})
    async with running(production) as app, client_of(app) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 401
        assert "ORDERGATE_OPERATOR_TOKEN" in refused.json()["error"]
        ready = await http.get("/ready")
        assert ready.status_code == 200 and set(ready.json()) == {"status"}


async def test_a_refused_documents_operation_name_takes_no_label(gateway: GatewayClient) -> None:
    before = await scrape(gateway.http)
    for i in range(3):
        await gateway.http.post(
            "/graphql", json={"query": "{ this is not graphql", "operationName": f"Junk{i}"}
        )
    after = await scrape(gateway.http)
    grown = delta(before, after, "ordergate_graphql_requests_total")
    assert grown == {labels(operation="other", type="query", outcome="error"): 3}
