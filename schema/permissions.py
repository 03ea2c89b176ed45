"""What each field needs: one permission class per scope, declared next to the schema fields.

``permission_classes=[Requires.ORDERS_READ]`` on a field: a caller without that scope gets
the field ``null`` and one ``FORBIDDEN`` error at its path; the rest of the answer is served
(a nullable field such as ``Order.customer``), or the error bubbles up to the nearest
nullable parent (a root field). The scopes themselves live in ``domain.access``.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from domain.access import Scope
from domain.errors import ForbiddenError


def _requires(scope: Scope) -> type[BasePermission]:
    class Requires(BasePermission):
        message = f"This credential lacks the scope {scope.value}."
        required = scope

        def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
            return bool(info.context.principal.may(scope))

        def on_unauthorized(self) -> None:
            raise ForbiddenError(self.message)

    Requires.__name__ = Requires.__qualname__ = f"Requires{scope.name.title().replace('_', '')}"
    return Requires


class Requires:
    """The permission class of each scope."""

    ORDERS_READ = _requires(Scope.ORDERS_READ)
    ORDERS_WRITE = _requires(Scope.ORDERS_WRITE)
    ORDERS_CREATE = _requires(Scope.ORDERS_CREATE)
    CUSTOMERS_READ = _requires(Scope.CUSTOMERS_READ)
    KEYS_MANAGE = _requires(Scope.KEYS_MANAGE)
    WEBHOOKS_MANAGE = _requires(Scope.WEBHOOKS_MANAGE)


# Exactly these classes (no subclass: it may check more) ask nothing but a scope of the
# caller; the executor's fast path checks that scope itself.
SCOPE_ONLY = frozenset(
    {
        Requires.ORDERS_READ,
        Requires.ORDERS_WRITE,
        Requires.ORDERS_CREATE,
        Requires.CUSTOMERS_READ,
        Requires.KEYS_MANAGE,
    }
)
