"""The canonical order state machine every backend's status changes are checked against.

DISPATCHED is reached only through ``dispatch`` (it needs a consignment number). Nothing
leaves COMPLETED, CANCELLED or RETURNED.
"""

from __future__ import annotations

from domain.errors import InvalidTransitionError, ValidationError
from domain.models import OrderStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.PROCESSING, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.PROCESSING, S.DISPATCHED, S.CANCELLED}),
    S.PROCESSING: frozenset({S.DISPATCHED, S.CANCELLED}),
    # Not every upstream confirms delivery (CloudSuite has no such state): COMPLETED may follow.
    S.DISPATCHED: frozenset({S.DELIVERED, S.COMPLETED, S.RETURNED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.RETURNED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
}


def check_transition(current: S, target: S, *, field: list[str] | None = None) -> None:
    """Raise ``InvalidTransitionError`` unless ``current -> target`` is allowed; ``field``
    names the input it is about (default the status asked for)."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (it is final)"
        raise InvalidTransitionError(
            f"An order in {current.value} cannot become {target.value}; allowed: {allowed}.",
            field=field or ["input", "status"],
        )


def check_status_update(current: S | None, target: S) -> None:
    """The checks of ``updateStatus``; ``current`` is ``None`` when it cannot be known now."""
    if target is S.DISPATCHED:
        raise ValidationError(
            "DISPATCHED needs a consignment number: use the `dispatch` mutation.",
            field=["input", "status"],
        )
    if current is not None:
        check_transition(current, target)
