"""Backend health as the ``backends`` query and ``/ready`` report it."""

from __future__ import annotations

import asyncio
import logging

from backends import deadline
from backends.base import OrderBackend
from domain.errors import BackendError

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 3.0


async def backend_health(backend: OrderBackend) -> bool:
    """Whether a cheap authenticated read succeeds within ``HEALTH_TIMEOUT_S``."""
    try:
        # A deadline (not only a timeout): a read cut by it counts against the breaker.
        with deadline.within(HEALTH_TIMEOUT_S):
            async with asyncio.timeout(HEALTH_TIMEOUT_S + 1):
                return await backend.check_health()
    except (BackendError, TimeoutError) as error:
        log.info("health: %s is down: %s", backend.source.value, error)
        return False
