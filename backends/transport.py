"""The upstream connections: HTTP/1.1 over asyncio, parsed by httptools, behind httpx's client.

httpx's own transport (httpcore over anyio, h11's pure-Python parser) cost ~0.6 ms of CPU
per upstream read, more than the rest of an ``order(id)``; this one costs ~0.05 ms. It speaks
what the four upstreams need: HTTP/1.1, optionally over TLS, connections kept alive per
origin, bodies sized by ``Content-Length``, chunked or ended by the close. The parser is
llhttp (through httptools, as uvicorn uses it): nothing of HTTP's grammar is parsed here by
hand. httpx's client still does everything above the wire: URLs, headers, auth flows,
``Content-Encoding``, redirects, and proxies (httpx mounts a proxy from the environment on a
transport of its own).

Failures leave as httpx's own exceptions, so ``backends/http.py`` maps them as before::

    httpx.TransportError
    ├── httpx.TimeoutException
    │   ├── httpx.PoolTimeout       no connection free within the pool timeout
    │   ├── httpx.ConnectTimeout    no connection within the connect timeout
    │   └── httpx.ReadTimeout       the upstream sent nothing for the read timeout
    ├── httpx.NetworkError
    │   ├── httpx.ConnectError      the connection (or its TLS handshake) refused, or the
    │   │                           transport closed
    │   └── httpx.ReadError         the connection failed while the answer was read
    └── httpx.ProtocolError
        └── httpx.RemoteProtocolError
                                    not HTTP, a head over ``MAX_HEAD_BYTES`` or a body over
                                    ``max_body_bytes``, or the connection closed before the
                                    answer was whole

A request is sent again, once, on a new connection when the one it got had closed before the
request was written (any method: the upstream never saw it), and when a kept-alive
connection the upstream closed as it was reused answered nothing at all (idempotent methods
only — GET, HEAD, PUT, DELETE, OPTIONS — as browsers do). Nothing else is retried here:
retries are ``backends/http.py``'s.
"""

from __future__ import annotations

import asyncio
import collections
import select
import ssl
import time
from typing import Any, cast

import httptools
import httpx

DEFAULT_PORTS = {b"http": 80, b"https": 443}
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_BODY_BYTES = 64 * 1024 * 1024  # an answer larger than this is not one of these APIs'
MAX_HEAD_BYTES = 64 * 1024  # status line and headers (h11 allows 16 KiB)


class _Unanswered(Exception):
    """The connection closed before any byte of the answer came."""


class _Unsent(Exception):
    """The connection had closed before the request was written: nothing reached the upstream."""


class _Beyond(Exception):
    """Bytes after the answer asked for: the parser stops there."""


class _Exchange:
    """What one request's answer has brought so far."""

    __slots__ = (
        "answer",
        "body",
        "head",
        "head_bytes",
        "headers",
        "headers_done",
        "keep_alive",
        "reason",
        "received",
        "size",
        "status",
        "version",
    )

    def __init__(self, answer: asyncio.Future[None], head: bool) -> None:
        self.answer = answer
        self.head = head  # a HEAD's answer ends with its headers
        self.received = False  # any byte of the answer yet
        self.status = 0
        self.version = "1.1"
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False  # headers after this are chunked trailers: not kept
        self.head_bytes = 0
        self.body: list[bytes] = []
        self.size = 0
        self.keep_alive = False


class Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection: one request at a time, its answer parsed as the
    bytes arrive."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.exchange: _Exchange | None = None
        self.closed = False
        self.reusable = False  # the last answer was whole and let the connection stay open
        self.used = False
        self.idle_since = 0.0
        self.deadline: asyncio.Timeout | None = None  # moved on by every byte that arrives
        self.read_timeout: float | None = None

    def usable(self) -> bool:
        """Open for another request: not closed by either side, and nothing waiting to be
        read on it — between requests an HTTP peer only speaks to close (its FIN may be in
        the socket before the loop has read it), as httpcore checks before a reuse."""
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None and select.select([sock], [], [], 0)[0]:
            self.close()
            return False
        return True

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None or exchange.answer.done():  # nothing asked: not an HTTP peer
            self.close()
            return
        exchange.received = True
        if self.deadline is not None and self.read_timeout is not None:
            self.deadline.reschedule(asyncio.get_running_loop().time() + self.read_timeout)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Beyond):
                self.close()  # the answer itself was whole
            else:
                self._fail(httpx.RemoteProtocolError(f"the answer is not HTTP/1.1: {exc}"))

    def eof_received(self) -> bool:
        self.closed = True  # the peer is done: nothing more goes on this connection
        return False  # close it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        exchange = self.exchange
        if exchange is None or exchange.answer.done():
            return
        if not exchange.received:
            exchange.answer.set_exception(_Unanswered())
        elif exc is None and exchange.headers_done and self._ended_by_close(exchange):
            exchange.answer.set_result(None)
        else:
            error = httpx.ReadError if exc is not None else httpx.RemoteProtocolError
            exchange.answer.set_exception(
                error("the connection closed before the answer was whole")
            )

    # httptools callbacks: every one raises ``_Beyond`` once the answer is complete

    def on_message_begin(self) -> None:
        self._asked()

    def on_status(self, reason: bytes) -> None:
        exchange = self._asked()
        self._count_head(exchange, len(reason))
        exchange.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange = self._asked()
        self._count_head(exchange, len(name) + len(value))
        if not exchange.headers_done:  # a chunked answer's trailers are not its headers
            exchange.headers.append((name, value))

    def on_headers_complete(self) -> None:
        exchange = self._asked()
        exchange.status = self.parser.get_status_code()
        exchange.version = self.parser.get_http_version()
        exchange.keep_alive = self.parser.should_keep_alive()
        exchange.headers_done = True
        if exchange.head and exchange.status >= 200:  # no body follows, whatever it says
            exchange.keep_alive = False
            exchange.answer.set_result(None)

    def on_body(self, body: bytes) -> None:
        exchange = self._asked()
        exchange.size += len(body)
        if exchange.size > self.max_body_bytes:
            self._fail(httpx.RemoteProtocolError(f"the answer is over {self.max_body_bytes} bytes"))
            raise _Beyond
        exchange.body.append(body)

    def on_message_complete(self) -> None:
        exchange = self._asked()
        if 100 <= exchange.status < 200:  # an interim answer (103): the real one follows
            exchange.status, exchange.reason, exchange.headers = 0, b"", []
            exchange.headers_done, exchange.head_bytes = False, 0
            return
        self.reusable = exchange.keep_alive and not self.closed
        exchange.answer.set_result(None)

    # the client's side

    async def send(
        self, data: bytes, *, head: bool, read_timeout: float | None
    ) -> tuple[_Exchange, bool]:
        """Write one request and wait for its whole answer; then the answer, and whether the
        connection may carry another request."""
        if not self.usable():
            self.close()
            raise _Unsent
        assert self.transport is not None
        exchange = self.exchange = _Exchange(asyncio.get_running_loop().create_future(), head)
        self.used = True
        self.reusable = False
        self.read_timeout = read_timeout
        try:
            self.transport.write(data)
            async with asyncio.timeout(read_timeout) as self.deadline:
                await exchange.answer
        except TimeoutError:
            self.close()
            raise httpx.ReadTimeout("the upstream sent nothing within the read timeout") from None
        except BaseException:
            self.close()  # a request given up: its answer must not be read as the next one's
            raise
        finally:
            self.deadline = None
            self.exchange = None
        return exchange, self.reusable

    def close(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _asked(self) -> _Exchange:
        """The exchange under way; ``_Beyond`` (stopping the parser) when there is none."""
        exchange = self.exchange
        if exchange is None or exchange.answer.done():
            raise _Beyond
        return exchange

    def _count_head(self, exchange: _Exchange, size: int) -> None:
        exchange.head_bytes += size
        if exchange.head_bytes > MAX_HEAD_BYTES:
            self._fail(
                httpx.RemoteProtocolError(f"the answer's head is over {MAX_HEAD_BYTES} bytes")
            )
            raise _Beyond

    def _fail(self, error: Exception) -> None:
        if self.exchange is not None and not self.exchange.answer.done():
            self.exchange.answer.set_exception(error)
        self.close()

    def _ended_by_close(self, exchange: _Exchange) -> bool:
        """An answer with neither a length nor chunks ends where the connection does."""
        names = {name.lower() for name, _ in exchange.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names


class Pool:
    """The connections to one origin: at most ``limit`` open, idle ones reused newest first
    and closed after ``keepalive_expiry_s``; a request finding all busy waits for one."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        limit: int,
        keepalive_expiry_s: float,
        tls: ssl.SSLContext | None,
        max_body_bytes: int,
    ) -> None:
        self.host = host
        self.port = port
        self.limit = limit
        self.keepalive_expiry_s = keepalive_expiry_s
        self.tls = tls
        self.max_body_bytes = max_body_bytes
        self.idle: list[Connection] = []
        self.open = 0  # connections open or being opened, idle ones included
        # Each waiter gets a connection, or None: there is room to open one.
        self.waiters: collections.deque[asyncio.Future[Connection | None]] = collections.deque()
        self.closed = False

    async def acquire(
        self, *, pool_timeout: float | None, connect_timeout: float | None
    ) -> Connection:
        while True:
            self._refuse_if_closed()
            connection = self._idle()
            if connection is not None:
                return connection
            if self.open < self.limit:
                return await self._connect(connect_timeout)
            waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                async with asyncio.timeout(pool_timeout):
                    given = await waiter
            except BaseException as exc:
                # Given up (the pool timeout, or the caller cancelled): whatever was handed
                # over in the meantime goes on to the next waiter.
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._pass_on(waiter.result())
                if isinstance(exc, TimeoutError):
                    raise httpx.PoolTimeout("no upstream connection came free in time") from None
                raise
            finally:
                if waiter in self.waiters:
                    self.waiters.remove(waiter)
            if given is not None:
                if given.usable():
                    return given
                given.close()  # closed while it was handed over: its room is this request's
                self.open -= 1
            # else a connection closed: there is room to open one

    def release(self, connection: Connection, *, reusable: bool) -> None:
        """A connection back from a request: kept for the next one, or closed."""
        if not reusable or not connection.usable() or self.closed:
            connection.close()
            self.open -= 1
            self._pass_on(None)
            return
        self._pass_on(connection)

    def close(self) -> None:
        """Close the idle connections; busy ones close as they come back, waiters are failed."""
        self.closed = True
        for connection in self.idle:
            connection.close()
        self.open -= len(self.idle)
        self.idle.clear()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(httpx.ConnectError("the upstream client is closed"))

    def _pass_on(self, connection: Connection | None) -> None:
        """A connection (or, with None, room for one) to the first request still waiting;
        with nobody waiting, a connection goes idle."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if connection is not None:
            connection.idle_since = time.monotonic()
            self.idle.append(connection)

    def _idle(self) -> Connection | None:
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()
            if connection.usable() and now - connection.idle_since < self.keepalive_expiry_s:
                return connection
            connection.close()
            self.open -= 1
        return None

    def _refuse_if_closed(self) -> None:
        if self.closed:
            raise httpx.ConnectError("the upstream client is closed")

    async def _connect(self, connect_timeout: float | None) -> Connection:
        self.open += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: Connection(self.max_body_bytes),
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                )
        except BaseException as exc:
            self.open -= 1
            self._pass_on(None)
            if isinstance(exc, TimeoutError):
                raise httpx.ConnectTimeout(
                    f"no connection to {self.host}:{self.port} in time"
                ) from None
            if isinstance(exc, OSError):  # refused, unreachable, TLS (ssl.SSLError)
                raise httpx.ConnectError(f"{self.host}:{self.port}: {exc}") from exc
            raise
        return connection


class Http11Transport(httpx.AsyncBaseTransport):
    """httpx's transport for the upstream clients: a ``Pool`` per origin (see the module)."""

    def __init__(
        self,
        *,
        max_connections: int = 20,
        keepalive_expiry_s: float = 5.0,
        verify: ssl.SSLContext | bool = True,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.max_connections = max_connections
        self.keepalive_expiry_s = keepalive_expiry_s
        self.verify = verify
        self.max_body_bytes = max_body_bytes
        self.pools: dict[tuple[bytes, bytes, int], Pool] = {}
        self._tls: ssl.SSLContext | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"{url.scheme!r} is not http or https")
        pool = self._pool(scheme, url.raw_host, url.port or DEFAULT_PORTS[scheme])
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        data = await _encoded(request)
        head = request.method == "HEAD"
        for attempt in range(2):
            connection = await pool.acquire(
                pool_timeout=timeouts.get("pool"), connect_timeout=timeouts.get("connect")
            )
            reused = connection.used
            try:
                exchange, reusable = await connection.send(
                    data, head=head, read_timeout=timeouts.get("read")
                )
            except _Unsent:
                pool.release(connection, reusable=False)
                if not attempt:
                    continue  # it never left: send it on a new connection
                raise httpx.ConnectError(
                    "the upstream connection closed before the request was sent", request=request
                ) from None
            except _Unanswered:
                pool.release(connection, reusable=False)
                if reused and not attempt and request.method in IDEMPOTENT:
                    continue  # closed by the upstream as it was reused: send on a new one
                raise httpx.RemoteProtocolError(
                    "the upstream closed the connection without answering", request=request
                ) from None
            except BaseException:
                pool.release(connection, reusable=False)
                raise
            pool.release(connection, reusable=reusable)
            return httpx.Response(
                exchange.status,
                headers=exchange.headers,
                stream=httpx.ByteStream(b"".join(exchange.body)),
                extensions={
                    "http_version": f"HTTP/{exchange.version}".encode("ascii"),
                    "reason_phrase": exchange.reason,
                },
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()

    def _pool(self, scheme: bytes, host: bytes, port: int) -> Pool:
        key = (scheme, host, port)
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools[key] = Pool(
                host.decode("ascii"),
                port,
                limit=self.max_connections,
                keepalive_expiry_s=self.keepalive_expiry_s,
                tls=self._tls_context() if scheme == b"https" else None,
                max_body_bytes=self.max_body_bytes,
            )
        return pool

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = (
                self.verify
                if isinstance(self.verify, ssl.SSLContext)
                else httpx.create_ssl_context(verify=self.verify)
            )
        return self._tls


async def _encoded(request: httpx.Request) -> bytes:
    """The request as bytes on the wire: its line, its headers (httpx has set ``Host`` and the
    body's length or chunking) and its body."""
    body = await request.aread()
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        lines += (name, b": ", value, b"\r\n")
        chunked = chunked or (name.lower() == b"transfer-encoding" and b"chunked" in value.lower())
    lines.append(b"\r\n")
    if chunked:  # the whole body, read already, as one chunk
        lines += (b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n") if body else (b"0\r\n\r\n",)
    else:
        lines.append(body)
    return b"".join(lines)
