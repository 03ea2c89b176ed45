"""The state machine end to end: every pair of statuses, asked of a real CRM order through
``updateStatus`` (or ``dispatch``, for DISPATCHED), decides whether anything is written.

The CRM simulator maps the eight canonical statuses one to one and enforces no transition
rule of its own, so only the gateway's rule decides here. Each outcome is read from the
CRM's own API (the order's status, its AWB number) and its request log (writes served).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.models import OrderSource
from domain.models import OrderStatus as S
from tests.conftest import GatewayClient
from tests.domain.matrix import read_matrix
from tests.support import SimControlClient, upstream_headers

C = OrderSource.CRM

# Rows: the CRM order's status before; columns: the status asked for.
#   set  allowed: no userErrors, and the CRM shows the new status
#   .    refused: INVALID_TRANSITION, and the CRM served no write
#   =    already there: no userErrors, and the CRM served no write
# A dispatched order cannot be dispatched again: DISPATCHED -> DISPATCHED is refused.
OUTCOMES = read_matrix(
    """
                PENDING CONFIRMED PROCESSING DISPATCHED DELIVERED COMPLETED CANCELLED RETURNED
    PENDING        =       set       set         .          .         .        set       .
    CONFIRMED      .        =        set        set         .         .        set       .
    PROCESSING     .        .         =         set         .         .        set       .
    DISPATCHED     .        .         .          .         set       set        .       set
    DELIVERED      .        .         .          .          =        set        .       set
    COMPLETED      .        .         .          .          .         =         .        .
    CANCELLED      .        .         .          .          .         .         =        .
    RETURNED       .        .         .          .          .         .         .        =
    """,
    S,
)
# The CRM's status names (its StatusShort.Name), as the simulator's catalog has them.
CRM_NAME = {
    S.PENDING: "New",
    S.CONFIRMED: "Confirmed",
    S.PROCESSING: "Processing",
    S.DISPATCHED: "Shipped",
    S.DELIVERED: "Delivered",
    S.COMPLETED: "Completed",
    S.CANCELLED: "Cancelled",
    S.RETURNED: "Returned",
}

FIND = """
query($statuses: [OrderStatus!]) {
  orders(first: 100, filter: {sources: [CRM], statuses: $statuses}) {
    edges { node { id upstreamId status } }
  }
}
"""
UPDATE_STATUS = """
mutation($input: UpdateStatusInput!) {
  updateStatus(input: $input) { userErrors { field message code } delivery { status } }
}
"""
DISPATCH = """
mutation($input: DispatchInput!) {
  dispatch(input: $input) { userErrors { field message code } delivery { status } }
}
"""


class Crm:
    """The CRM simulator, read through its own API and request log over one connection."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, headers=upstream_headers(C, url))

    def order(self, upstream_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v2/admin/orders/{upstream_id}")
        order: dict[str, Any] = response.raise_for_status().json()
        return order

    def forget_requests(self) -> None:
        self.http.post("/_sim/stats/reset").raise_for_status()

    def writes(self) -> int:
        """Write requests the CRM served since ``forget_requests`` (token requests aside)."""
        requests: dict[str, int] = (
            self.http.get("/_sim/stats").raise_for_status().json()["requests"]
        )
        return sum(
            n
            for route, n in requests.items()
            if route.split()[0] in {"POST", "PUT", "PATCH", "DELETE"}
            and not route.endswith("/token")
        )


@pytest.fixture
def crm(sims: dict[OrderSource, SimControlClient], simulator_urls) -> Iterator[Crm]:
    """The CRM simulator at its seed before and after the test (allowed changes write)."""
    sims[C].reset()
    crm = Crm(simulator_urls[C])
    yield crm
    crm.http.close()
    sims[C].reset()


async def ask(gateway: GatewayClient, order: dict[str, Any], target: S, consignment: str) -> Any:
    """``dispatch`` for DISPATCHED (it needs a consignment number), ``updateStatus`` otherwise."""
    if target is S.DISPATCHED:
        variables = {"input": {"orderId": order["id"], "consignmentNumber": consignment}}
        return (await gateway.data(DISPATCH, variables))["dispatch"]
    variables = {"input": {"orderId": order["id"], "status": target.value}}
    return (await gateway.data(UPDATE_STATUS, variables))["updateStatus"]


@pytest.mark.parametrize("now", list(S), ids=lambda s: f"from-{s.value}")
async def test_a_crm_order_changes_status_only_where_the_state_machine_allows_it(
    gateway: GatewayClient, crm: Crm, now: S
) -> None:
    data = await gateway.data(FIND, {"statuses": [now.value]})
    orders = [edge["node"] for edge in data["orders"]["edges"]]
    row = {target: OUTCOMES[now, target] for target in S}
    needed = 1 + list(row.values()).count("set")  # one order per allowed change, one for the rest
    assert len(orders) >= needed, f"the CRM seed has {len(orders)} {now} orders, not {needed}"
    unchanged, *spare = orders
    assert crm.order(unchanged["upstreamId"])["StatusShort"]["Name"] == CRM_NAME[now]

    observed: dict[S, str] = {}
    for target in S:
        order = spare.pop() if row[target] == "set" else unchanged
        consignment = f"CN{uuid.uuid4().hex[:10].upper()}"
        crm.forget_requests()
        payload = await ask(gateway, order, target, consignment)
        written = crm.writes()
        upstream = crm.order(order["upstreamId"])
        codes = [error["code"] for error in payload["userErrors"]]
        shows = upstream["StatusShort"]["Name"]
        if codes == [] and written > 0 and shows == CRM_NAME[target]:
            observed[target] = "set"
            if target is S.DISPATCHED:
                assert upstream["AWBNumber"] == consignment
        elif codes == [] and written == 0 and shows == CRM_NAME[now] == CRM_NAME[target]:
            observed[target] = "="
        elif (
            codes == ["INVALID_TRANSITION"]
            and written == 0
            and shows == CRM_NAME[now]
            and payload["delivery"] is None
        ):
            observed[target] = "."
            message = payload["userErrors"][0]["message"]
            assert f"An order in {now.value} cannot become {target.value}" in message
        else:
            observed[target] = f"errors={codes} writes={written} crm-shows={shows}"
    assert observed == row
