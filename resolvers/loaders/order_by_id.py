"""``OrderByIdLoader``: every order a request reads from one backend, fetched in one batch."""

from __future__ import annotations

from collections.abc import Sequence

from aiodataloader import DataLoader

from backends.base import OrderBackend
from domain.errors import BackendError
from domain.models import Order


class OrderByIdLoader(DataLoader[str, Order | None]):
    """Upstream id -> order (``None`` when the upstream does not know it), for one backend.

    A failing upstream fails every key of its batch with the same typed error, so only the
    fields that needed that backend fail; the rest of the query goes on.
    """

    def __init__(self, backend: OrderBackend, *, max_batch_size: int) -> None:
        super().__init__(max_batch_size=max_batch_size)
        self.backend = backend

    async def batch_load_fn(  # type: ignore[override]  # aiodataloader accepts exceptions
        self, keys: Sequence[str]
    ) -> list[Order | Exception | None]:
        try:
            return list(await self.backend.get_orders(list(keys)))
        except BackendError as error:
            return [error] * len(keys)
