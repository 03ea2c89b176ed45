"""No silent drift (issue 11, item 6): with the upstream down, a change is checked against
the index's last look at the order, and the payload shows that look with its `syncedAt`;
"already there, nothing to send" is answered only from a fresh read."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from domain import ids
from domain.models import OrderSource
from feed import codec
from store.tables import IndexedOrder, SyncCheckpoint
from tests.conftest import GatewayClient, bearer, client_of
from tests.support import SimControlClient

C = OrderSource.CRM
UPDATE = """
mutation($input: UpdateStatusInput!) {
  updateStatus(input: $input) {
    order { id status syncedAt }
    userErrors { code }
    delivery { status }
  }
}"""


async def indexed_in(app: Starlette, status: str) -> IndexedOrder:
    """A CRM order the index holds in ``status`` (once the first load is done)."""
    store = app.state.ordergate.store
    for _ in range(300):
        async with store.session() as session:
            loaded = await session.get(SyncCheckpoint, C.value)
            if loaded is not None and loaded.last_full_at is not None:
                rows = await session.exec(
                    select(IndexedOrder).where(
                        col(IndexedOrder.source) == C.value, col(IndexedOrder.status) == status
                    )
                )
                return rows.first() or pytest.fail(f"no CRM order is {status}")
        await asyncio.sleep(0.05)
    pytest.fail("the CRM was not loaded")


@pytest.mark.parametrize("target", ["CONFIRMED", "PENDING"])
async def test_with_the_upstream_down_the_check_uses_the_index_and_says_how_old_it_is(
    feed_app: Starlette, own_sims: dict[OrderSource, str], target: str
) -> None:
    row = await indexed_in(feed_app, "PENDING")
    order_id = ids.order_id(C, row.upstream_id)
    crm = SimControlClient(own_sims[C])
    crm.set_faults(error_rate=1.0)
    try:
        async with client_of(feed_app, await bearer(feed_app)) as http:
            answer = await GatewayClient(http).data(
                UPDATE, {"input": {"orderId": order_id, "status": target}}
            )
    finally:
        crm.reset_faults()
    payload = answer["updateStatus"]
    assert [e["code"] for e in payload["userErrors"]] == ["UPSTREAM_UNAVAILABLE"]  # why queued
    # Queued, even where the index says the order is there already (PENDING): that look may
    # be old; only a fresh read may answer "nothing to send".
    assert payload["delivery"]["status"] == "QUEUED"
    assert payload["order"]["id"] == order_id
    assert payload["order"]["status"] == codec.decode(row.order_json).status.value == "PENDING"
    assert payload["order"]["syncedAt"] is not None
