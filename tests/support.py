"""Helpers the tests share: running simulators over real sockets and talking to their control API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.types import ASGIApp

from backends.simkit.server import ServerThread


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve one app on a free 127.0.0.1 port for the duration; yields its base URL."""
    with ServerThread({"app": app}) as servers:
        yield servers.urls["app"]


class SimControlClient:
    """The ``/_sim/`` control API of one running simulator (never the gateway's code path)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _post(self, path: str, body: Any = None) -> Any:
        response = httpx.post(f"{self.base_url}{path}", json=body if body is not None else {})
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base_url}/_sim/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def reset_stats(self) -> None:
        self._post("/_sim/stats/reset")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/_sim/faults", faults)
        return result

    def reset_faults(self) -> None:
        self._post("/_sim/faults/reset")

    def reset(self) -> None:
        self._post("/_sim/reset")

    def expire_tokens(self) -> int:
        return int(self._post("/_sim/auth/expire")["expired"])
