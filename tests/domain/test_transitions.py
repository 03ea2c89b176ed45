"""The canonical state machine: which status an order may move to from which.

The matrix below is the rule, written out by hand: any edge added to or removed from
``domain.transitions.TRANSITIONS`` changes one cell and fails one case here. DISPATCHED is
reached only through ``dispatch`` (``check_status_update`` sends ``updateStatus`` there), and
nothing leaves COMPLETED, CANCELLED or RETURNED.
"""

from __future__ import annotations

import pytest

from domain.errors import ErrorCode, InvalidTransitionError, ValidationError
from domain.models import OrderStatus as S
from domain.transitions import check_status_update, check_transition
from tests.domain.matrix import read_matrix

# Rows: the order's status now. Columns: the status asked for. "yes": allowed; ".": refused.
RULES = read_matrix(
    """
                PENDING CONFIRMED PROCESSING DISPATCHED DELIVERED COMPLETED CANCELLED RETURNED
    PENDING        .       yes       yes         .          .         .        yes       .
    CONFIRMED      .        .        yes        yes         .         .        yes       .
    PROCESSING     .        .         .         yes         .         .        yes       .
    DISPATCHED     .        .         .          .         yes       yes        .       yes
    DELIVERED      .        .         .          .          .        yes        .       yes
    COMPLETED      .        .         .          .          .         .         .        .
    CANCELLED      .        .         .          .          .         .         .        .
    RETURNED       .        .         .          .          .         .         .        .
    """,
    S,
)

# What a refusal lists as allowed, per current status (alphabetical, as partners read it).
ALLOWED_TEXT = {
    S.PENDING: "CANCELLED, CONFIRMED, PROCESSING",
    S.CONFIRMED: "CANCELLED, DISPATCHED, PROCESSING",
    S.PROCESSING: "CANCELLED, DISPATCHED",
    S.DISPATCHED: "COMPLETED, DELIVERED, RETURNED",
    S.DELIVERED: "COMPLETED, RETURNED",
    S.COMPLETED: "nothing (it is final)",
    S.CANCELLED: "nothing (it is final)",
    S.RETURNED: "nothing (it is final)",
}

PAIRS = [
    pytest.param(now, to, RULES[now, to], id=f"{now}->{to}:{RULES[now, to]}") for now, to in RULES
]
USE_DISPATCH = "DISPATCHED needs a consignment number: use the `dispatch` mutation."


def test_the_allowed_lists_in_the_messages_agree_with_the_matrix() -> None:
    """The two hand-written tables of this file say the same thing (a typo check)."""
    for now, text in ALLOWED_TEXT.items():
        allowed = sorted(to.value for to in S if RULES[now, to] == "yes")
        assert text == (", ".join(allowed) or "nothing (it is final)"), now


@pytest.mark.parametrize(("now", "to", "rule"), PAIRS)
def test_a_transition_passes_only_where_the_matrix_allows_it(now: S, to: S, rule: str) -> None:
    if rule == "yes":
        check_transition(now, to)
        return
    with pytest.raises(InvalidTransitionError) as refused:
        check_transition(now, to)
    error = refused.value
    assert error.message == (
        f"An order in {now.value} cannot become {to.value}; allowed: {ALLOWED_TEXT[now]}."
    )
    assert str(error) == error.message
    assert error.field == ["input", "status"]
    assert error.code is ErrorCode.INVALID_TRANSITION
    assert error.extensions == {"code": "INVALID_TRANSITION"}


@pytest.mark.parametrize(
    "now", [None, *S], ids=lambda now: f"from-{now.value if now else 'unknown'}"
)
def test_update_status_never_sets_dispatched_it_points_at_dispatch(now: S | None) -> None:
    # Even where DISPATCHED is an allowed next status (CONFIRMED, PROCESSING): it needs a
    # consignment number, which only `dispatch` takes.
    with pytest.raises(ValidationError) as refused:
        check_status_update(now, S.DISPATCHED)
    error = refused.value
    assert type(error) is ValidationError
    assert error.message == USE_DISPATCH
    assert error.field == ["input", "status"]
    assert error.extensions == {"code": "VALIDATION"}


@pytest.mark.parametrize(
    ("now", "to", "rule"), [p for p in PAIRS if p.values[1] is not S.DISPATCHED]
)
def test_update_status_follows_the_matrix_for_every_other_target(now: S, to: S, rule: str) -> None:
    if rule == "yes":
        check_status_update(now, to)
        return
    with pytest.raises(InvalidTransitionError) as refused:
        check_status_update(now, to)
    assert refused.value.message == (
        f"An order in {now.value} cannot become {to.value}; allowed: {ALLOWED_TEXT[now]}."
    )
    assert refused.value.field == ["input", "status"]


@pytest.mark.parametrize("to", [s for s in S if s is not S.DISPATCHED], ids=str)
def test_update_status_with_an_unknown_current_status_checks_no_transition(to: S) -> None:
    # The upstream is down and nothing is known locally: the change is queued unchecked
    # (the outbox checks it again against the status its queued changes leave).
    check_status_update(None, to)
