"""Runs ASGI apps as real HTTP servers: in the foreground (``make run``) or in a thread (tests)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import signal
import socket
import threading
from collections.abc import Iterator, Mapping

import uvicorn
from starlette.types import ASGIApp


def bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


# uvicorn's servers share one logger: set while a quiet server (a simulator beside the
# gateway) serves, so its start-up and shutdown lines are not printed beside the gateway's.
_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("quiet_server", default=False)


class _QuietLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _QUIET.get() or record.levelno >= logging.WARNING


logging.getLogger("uvicorn.error").addFilter(_QuietLines())


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to whoever runs several of them;
    ``quiet``: its INFO lines unsaid."""

    def __init__(self, config: uvicorn.Config, *, quiet: bool = False) -> None:
        super().__init__(config)
        self.quiet = quiet

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        if self.quiet:
            _QUIET.set(True)  # this task's context only (each server serves in a task)
        await super().serve(sockets)


def make_server(
    app: ASGIApp, *, log_level: str | None = None, graceful_s: int = 1, quiet: bool = False
) -> uvicorn.Server:
    """``graceful_s``: how long, once told to stop, requests in flight may still finish;
    ``quiet``: no INFO lines (uvicorn's logging is the process's, never configured here)."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        log_config=None,
        access_log=False,
        lifespan="auto",
        timeout_graceful_shutdown=graceful_s,
    )
    return QuietServer(config, quiet=quiet)


async def serve_until_signalled(servers: list[tuple[uvicorn.Server, socket.socket]]) -> None:
    """Run servers together in this loop; SIGINT or SIGTERM stops them all cleanly."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in servers:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    try:
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


class ServerThread:
    """Serves several apps on 127.0.0.1 from one background thread with its own event loop.

    Port 0 picks a free port; ``urls`` gives each app's base URL once ``start`` returns.
    """

    def __init__(self, apps: Mapping[str, ASGIApp], ports: Mapping[str, int] | None = None):
        self.apps = dict(apps)
        self.sockets = {name: bind("127.0.0.1", (ports or {}).get(name, 0)) for name in self.apps}
        self.urls = {
            name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in self.sockets.items()
        }
        self._servers = {name: make_server(app, quiet=True) for name, app in self.apps.items()}
        self._thread = threading.Thread(target=self._run, name="simulators", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(server.serve(sockets=[self.sockets[name]]) for name, server in self._servers.items())
        )

    def start(self, timeout_s: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout_s * 100)):
            if all(server.started for server in self._servers.values()):
                return self
            deadline.wait(0.01)
        raise RuntimeError("simulators did not start in time")

    def stop(self) -> None:
        for server in self._servers.values():
            server.should_exit = True
        self._thread.join(timeout=10)
        for sock in self.sockets.values():
            sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
