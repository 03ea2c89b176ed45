"""The upstream transport (``backends/transport.py``) against a server that answers byte for
byte what each test scripts: lengths, chunks, closes, garbage, silence. Every test runs on
asyncio's own loop and on uvloop (the gateway's)."""

from __future__ import annotations

import asyncio
import collections
import gzip
import shutil
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop

from backends.transport import Http11Transport, Pool
from tests.support import bind_free_port

Answer = Callable[["Request"], Awaitable[bytes | None]]


@dataclass
class Request:
    """One request as the server read it, and the connection it came on."""

    connection: int
    line: bytes
    headers: dict[bytes, bytes]
    body: bytes


@dataclass
class Server:
    """Reads each request off the socket and writes what ``answer`` gives (``None``: closes
    the connection without a word)."""

    answer: Answer
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *lines = head[:-4].split(b"\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, value in (item.split(b":", 1) for item in lines)
                }
                if b"content-length" in headers:
                    body = await reader.readexactly(int(headers[b"content-length"]))
                elif headers.get(b"transfer-encoding") == b"chunked":
                    body = await read_chunks(reader)
                else:
                    body = b""
                request = Request(number, line, headers, body)
                self.requests.append(request)
                answer = await self.answer(request)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
        finally:
            self.open_now -= 1
            writer.close()


@dataclass
class Raw:
    """Runs ``script`` on each connection as it comes: for answers a well-behaved server
    would not give."""

    script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    connections: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            await self.script(reader, writer)
        finally:
            writer.close()


async def read_chunks(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        chunk = await reader.readexactly(size + 2)
        if not size:
            return body
        body += chunk[:-2]


def ok(body: bytes = b'{"ok": true}', *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def always(answer: bytes | None) -> Answer:
    async def reply(request: Request) -> bytes | None:
        return answer

    return reply


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Iterator[Callable[[Awaitable[Any]], Any]]:
    factory = uvloop.new_event_loop if request.param == "uvloop" else None
    with asyncio.Runner(loop_factory=factory) as runner:
        yield runner.run


async def serving(server: Server | Raw, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    return listening


async def exchange(
    server: Server | Raw,
    send: Callable[[httpx.AsyncClient], Awaitable[Any]],
    transport: Http11Transport | None = None,
    **client: Any,
) -> Any:
    async with await serving(server):
        async with httpx.AsyncClient(
            base_url=server.url, transport=transport or Http11Transport(), **client
        ) as http:
            return await send(http)


def test_an_answer_with_a_length_keeps_the_connection_for_the_next_request(run: Any) -> None:
    server = Server(always(ok(b'{"n": 1}', b"X-Upstream: sim")))

    async def three(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.get(f"/api/order/{n}/", params={"q": "a b"}) for n in range(3)]

    responses = run(exchange(server, three))
    assert [r.json() for r in responses] == [{"n": 1}] * 3
    assert responses[0].headers["x-upstream"] == "sim"
    assert responses[0].reason_phrase == "OK" and responses[0].http_version == "HTTP/1.1"
    assert server.connections == 1
    assert [r.line for r in server.requests] == [
        b"GET /api/order/%d/?q=a+b HTTP/1.1" % n for n in range(3)
    ]
    assert server.requests[0].headers[b"host"] == server.url.split("//")[1].encode()


def test_a_chunked_answer_is_put_together(run: Any) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1, 2\r\n4\r\n, 3]\r\n0\r\n\r\n"
    )
    server = Server(always(chunked))
    responses = run(exchange(server, lambda http: asyncio.gather(http.get("/"), http.get("/"))))
    assert [r.json() for r in responses] == [[1, 2, 3], [1, 2, 3]]


def test_an_answer_ended_by_the_close_is_whole_and_its_connection_not_reused(run: Any) -> None:
    async def writes_then_closes(reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"whole": ')
        await writer.drain()
        writer.write(b"1}")

    server = Raw(writes_then_closes)
    responses = run(exchange(server, lambda http: asyncio.gather(http.get("/"), http.get("/"))))
    assert [r.json() for r in responses] == [{"whole": 1}] * 2
    assert server.connections == 2


def test_a_connection_close_header_closes_the_connection(run: Any) -> None:
    server = Server(always(ok(b"{}", b"Connection: close")))

    async def two(http: httpx.AsyncClient) -> None:
        await http.get("/")
        await http.get("/")

    run(exchange(server, two))
    assert server.connections == 2


def test_content_encoding_is_decoded_by_httpx(run: Any) -> None:
    server = Server(always(ok(gzip.compress(b'{"zipped": true}'), b"Content-Encoding: gzip")))
    response = run(exchange(server, lambda http: http.get("/")))
    assert response.json() == {"zipped": True}
    assert b"gzip" in server.requests[0].headers[b"accept-encoding"]


def test_a_body_is_sent_with_its_length_and_a_streamed_one_in_chunks(run: Any) -> None:
    server = Server(always(ok()))

    async def stream() -> Any:
        yield b'{"part": '
        yield b"2}"

    async def send(http: httpx.AsyncClient) -> None:
        await http.post("/a", json={"line": 1})
        await http.put("/b", content=stream())

    run(exchange(server, send))
    first, second = server.requests
    assert first.line == b"POST /a HTTP/1.1"
    assert first.body == b'{"line":1}' and first.headers[b"content-length"] == b"10"
    assert second.headers[b"transfer-encoding"] == b"chunked"
    assert second.body == b'{"part": 2}'


def test_head_ends_with_the_headers_whatever_length_they_name(run: Any) -> None:
    server = Server(always(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"))
    response = run(exchange(server, lambda http: http.head("/")))
    assert response.status_code == 200 and response.content == b""


def test_an_interim_answer_is_skipped_for_the_real_one(run: Any) -> None:
    server = Server(always(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok(b"[]")))
    response = run(exchange(server, lambda http: http.get("/")))
    assert response.status_code == 200 and response.json() == []
    assert "link" not in response.headers


def test_an_error_status_is_an_answer_not_an_exception(run: Any) -> None:
    body = b'{"message": "no"}'
    server = Server(
        always(b"HTTP/1.1 503 Busy\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    )
    response = run(exchange(server, lambda http: http.get("/")))
    assert (response.status_code, response.reason_phrase, response.json()) == (
        503,
        "Busy",
        {"message": "no"},
    )


@pytest.mark.parametrize(
    "answer",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # then the close
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_an_answer_that_is_not_http_is_a_remote_protocol_error(run: Any, answer: bytes) -> None:
    async def garbage_then_close(reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)

    with pytest.raises(httpx.RemoteProtocolError):
        run(exchange(Raw(garbage_then_close), lambda http: http.get("/")))


def test_an_answer_over_the_size_bound_is_refused(run: Any) -> None:
    server = Server(always(ok(b"x" * 5000)))
    with pytest.raises(httpx.RemoteProtocolError, match="over 4096 bytes"):
        run(exchange(server, lambda http: http.get("/"), Http11Transport(max_body_bytes=4096)))


def test_a_connection_closed_without_an_answer_is_a_remote_protocol_error(run: Any) -> None:
    server = Server(always(None))
    with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
        run(exchange(server, lambda http: http.get("/")))
    assert len(server.requests) == 1  # a new connection that closes is not tried again


@pytest.mark.parametrize(("method", "sent_again"), [("GET", True), ("PUT", True), ("POST", False)])
def test_a_kept_alive_connection_closed_as_it_is_reused_is_retried_only_if_idempotent(
    run: Any, method: str, sent_again: bool
) -> None:
    """The upstream drops a kept-alive connection the moment the second request arrives on it
    (as a server timing out idle connections does): the request never reached its handler."""

    async def answer_once(request: Request) -> bytes | None:
        return None if len(server.requests) == 2 else ok()

    server = Server(answer_once)

    async def twice(http: httpx.AsyncClient) -> httpx.Response:
        await http.request(method, "/")
        return await http.request(method, "/")

    if sent_again:
        assert run(exchange(server, twice)).json() == {"ok": True}
        assert [r.connection for r in server.requests] == [1, 1, 2]
    else:
        with pytest.raises(httpx.RemoteProtocolError):
            run(exchange(server, twice))
        assert [r.connection for r in server.requests] == [1, 1]


def test_an_idle_connection_the_upstream_closed_is_not_reused(run: Any) -> None:
    server = Server(always(ok(b"{}", b"Keep-Alive: timeout=0")))
    closes: list[asyncio.StreamWriter] = []
    original = server.handle

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        closes.append(writer)
        await original(reader, writer)

    server.handle = handle  # type: ignore[method-assign]

    async def close_between(http: httpx.AsyncClient) -> None:
        await http.get("/")
        closes[0].close()  # the upstream gives up the idle connection
        await asyncio.sleep(0.05)  # its FIN reaches the client's loop
        await http.post("/")  # not retried: on the closed connection it would fail

    run(exchange(server, close_between))
    assert [r.connection for r in server.requests] == [1, 2]


def test_idle_connections_expire(run: Any) -> None:
    server = Server(always(ok()))

    async def after_expiry(http: httpx.AsyncClient) -> None:
        await http.get("/")
        await asyncio.sleep(0.2)
        await http.get("/")

    run(exchange(server, after_expiry, Http11Transport(keepalive_expiry_s=0.1)))
    assert server.connections == 2


def test_no_more_connections_open_than_the_limit_and_every_request_is_answered(run: Any) -> None:
    async def slow(request: Request) -> bytes:
        await asyncio.sleep(0.01)
        return ok(request.line)

    server = Server(slow)

    async def many(http: httpx.AsyncClient) -> list[httpx.Response]:
        return await asyncio.gather(*(http.get(f"/{n}") for n in range(20)))

    responses = run(exchange(server, many, Http11Transport(max_connections=3)))
    assert sorted(r.text for r in responses) == sorted(f"GET /{n} HTTP/1.1" for n in range(20))
    assert server.most_open == 3 and server.connections == 3


def test_a_request_waiting_for_a_connection_past_the_pool_timeout_is_a_pool_timeout(
    run: Any,
) -> None:
    release = asyncio.Event()

    async def held(request: Request) -> bytes:
        await release.wait()
        return ok()

    server = Server(held)

    async def two(http: httpx.AsyncClient) -> None:
        first = asyncio.ensure_future(http.get("/"))
        await asyncio.sleep(0.05)
        try:
            with pytest.raises(httpx.PoolTimeout):
                await http.get("/", timeout=httpx.Timeout(5, pool=0.05))
        finally:
            release.set()
        assert (await first).status_code == 200
        assert (await http.get("/")).status_code == 200  # the slot came back

    run(exchange(server, two, Http11Transport(max_connections=1)))
    assert server.connections == 1


def test_silence_past_the_read_timeout_is_a_read_timeout_and_the_connection_dropped(
    run: Any,
) -> None:
    async def silent_once(request: Request) -> bytes:
        if len(server.requests) == 1:
            await asyncio.sleep(1)
        return ok()

    server = Server(silent_once)

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/", timeout=httpx.Timeout(5, read=0.05))
        return await http.get("/")

    assert run(exchange(server, send)).status_code == 200
    assert server.connections == 2  # the late answer was not read as the next one's


def test_a_slow_answer_that_keeps_arriving_is_not_a_read_timeout(run: Any) -> None:
    """The read timeout is for silence, not for the whole answer."""

    async def trickle(reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for part in (b"ab", b"cd", b"ef"):
            await asyncio.sleep(0.04)
            writer.write(part)
            await writer.drain()

    response = run(
        exchange(Raw(trickle), lambda http: http.get("/", timeout=httpx.Timeout(5, read=0.1)))
    )
    assert response.content == b"abcdef"


def test_a_request_cancelled_mid_answer_does_not_leave_its_connection_for_the_next(
    run: Any,
) -> None:
    async def first_slow(request: Request) -> bytes:
        if request.line.startswith(b"GET /slow"):
            await asyncio.sleep(0.2)
            return ok(b'"slow"')
        return ok(b'"fast"')

    server = Server(first_slow)

    async def send(http: httpx.AsyncClient) -> Any:
        slow = asyncio.ensure_future(http.get("/slow"))
        await asyncio.sleep(0.05)
        slow.cancel()
        await asyncio.gather(slow, return_exceptions=True)
        return (await http.get("/fast")).json()

    assert run(exchange(server, send, Http11Transport(max_connections=1))) == "fast"
    assert server.connections == 2


def test_unasked_bytes_after_an_answer_close_the_connection_and_change_nothing(
    run: Any,
) -> None:
    forged = b'HTTP/1.1 500 Forged\r\nX-Forged: yes\r\nContent-Length: 8\r\n\r\n"forged"'
    server = Server(always(ok(b"{}", b"X-Real: yes") + forged))  # in the same segment

    async def two(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.get("/"), await http.get("/")]

    responses = run(exchange(server, two))
    for response in responses:
        assert (response.status_code, response.reason_phrase, response.json()) == (200, "OK", {})
        assert response.headers["x-real"] == "yes" and "x-forged" not in response.headers
    assert server.connections == 2


def test_bytes_on_an_idle_connection_close_it(run: Any) -> None:
    async def answer_then_babble(request: Request) -> bytes:
        if request.connection == 1:
            asyncio.get_running_loop().call_later(0.01, babble.set)
        return ok()

    babble = asyncio.Event()
    server = Server(answer_then_babble)
    original = server.handle

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def chatter() -> None:
            await babble.wait()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

        task = asyncio.ensure_future(chatter())
        try:
            await original(reader, writer)
        finally:
            task.cancel()

    server.handle = handle  # type: ignore[method-assign]

    async def two(http: httpx.AsyncClient) -> None:
        await http.get("/")
        await babble.wait()
        await asyncio.sleep(0.05)
        await http.post("/")  # on the first connection it would read the babble as its answer

    run(exchange(server, two))
    assert [r.connection for r in server.requests] == [1, 2]


def test_a_connection_whose_peer_closed_right_after_answering_is_not_reused(run: Any) -> None:
    """The FIN arrives with the answer; the next request, sent at once, must not go on the
    connection (a POST there would be lost: it is not sent again)."""

    async def answer_and_close(reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(ok())
        writer.close()

    server = Raw(answer_and_close)

    async def two(http: httpx.AsyncClient) -> list[int]:
        return [(await http.post("/", json={"n": n})).status_code for n in range(2)]

    assert run(exchange(server, two)) == [200, 200]
    assert server.connections == 2


def test_a_head_over_the_bound_is_refused(run: Any) -> None:
    huge = b"X-Filler: " + b"x" * (70 * 1024)
    server = Server(always(ok(b"{}", huge)))
    with pytest.raises(httpx.RemoteProtocolError, match="head is over"):
        run(exchange(server, lambda http: http.get("/")))


def test_chunked_trailers_are_not_taken_for_headers(run: Any) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\nContent-Encoding: gzip\r\nX-Trailer: t\r\n\r\n"
    )
    response = run(exchange(Server(always(answer)), lambda http: http.get("/")))
    assert response.json() == {}
    assert "x-trailer" not in response.headers and "content-encoding" not in response.headers


def test_an_http_1_0_answer_says_so(run: Any) -> None:
    async def old(reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    response = run(exchange(Raw(old), lambda http: http.get("/")))
    assert (response.http_version, response.json()) == ("HTTP/1.0", {})


def test_an_interim_answer_then_the_close_is_not_taken_for_no_answer(run: Any) -> None:
    async def hint_then_close(reader: Any, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")

    server = Raw(hint_then_close)
    with pytest.raises(httpx.RemoteProtocolError, match="before the answer was whole"):
        run(exchange(server, lambda http: http.get("/")))
    assert server.connections == 1  # the upstream saw the request: it is not sent again


def test_head_does_not_keep_its_connection(run: Any) -> None:
    server = Server(always(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))

    async def head_then_get(http: httpx.AsyncClient) -> None:
        await http.head("/")
        server.answer = always(ok())
        await http.get("/")

    run(exchange(server, head_then_get))
    assert server.connections == 2


def test_a_closed_connection_lets_a_waiting_request_open_another(run: Any) -> None:
    async def closing(request: Request) -> bytes:
        await asyncio.sleep(0.02)
        return ok(b"{}", b"Connection: close")

    server = Server(closing)

    async def two_at_once(http: httpx.AsyncClient) -> list[int]:
        answers = await asyncio.gather(
            http.get("/a"), http.get("/b", timeout=httpx.Timeout(5, pool=2))
        )
        return [r.status_code for r in answers]

    assert run(exchange(server, two_at_once, Http11Transport(max_connections=1))) == [200, 200]
    assert server.connections == 2


def test_refused_connections_give_their_room_back(run: Any) -> None:
    async def thrice() -> list[str]:
        transport = Http11Transport(max_connections=1)
        url = f"http://127.0.0.1:{bind_free_port()}/"
        failures = []
        async with httpx.AsyncClient(transport=transport) as http:
            for _ in range(3):
                with pytest.raises(httpx.TransportError) as caught:
                    await http.get(url, timeout=httpx.Timeout(5, pool=0.5))
                failures.append(type(caught.value).__name__)
            (pool,) = transport.pools.values()
            assert pool.open == 0
        return failures

    assert run(thrice()) == ["ConnectError"] * 3  # never a PoolTimeout


def test_closing_the_transport_closes_idle_connections_and_fails_waiters(run: Any) -> None:
    release = asyncio.Event()

    async def held(request: Request) -> bytes:
        await release.wait()
        return ok()

    server = Server(held)

    async def send(http: httpx.AsyncClient) -> None:
        transport = http._transport
        assert isinstance(transport, Http11Transport)
        busy = asyncio.ensure_future(http.get("/"))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(http.get("/"))
        await asyncio.sleep(0.05)
        (pool,) = transport.pools.values()
        await transport.aclose()
        with pytest.raises(httpx.ConnectError, match="closed"):
            await waiting
        release.set()
        assert (await busy).status_code == 200  # under way: answered, then closed
        assert (pool.open, pool.idle, pool.waiters) == (0, [], collections.deque())

    run(exchange(server, send, Http11Transport(max_connections=1)))
    assert server.connections == 1


def test_a_refused_connection_is_a_connect_error(run: Any) -> None:
    async def send() -> None:
        async with httpx.AsyncClient(transport=Http11Transport()) as http:
            await http.get(f"http://127.0.0.1:{bind_free_port()}/")

    with pytest.raises(httpx.ConnectError):
        run(send())


def test_a_scheme_other_than_http_is_unsupported(run: Any) -> None:
    async def send() -> None:
        await Http11Transport().handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))

    with pytest.raises(httpx.UnsupportedProtocol):
        run(send())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_is_verified_against_the_given_authorities(
    run: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    trusted = ssl.create_default_context(cafile=str(cert))
    server = Server(always(ok(b'"secret"')))

    async def send(verify: ssl.SSLContext | bool) -> Any:
        async with await serving(server, served):
            async with httpx.AsyncClient(transport=Http11Transport(verify=verify)) as http:
                return (await http.get(f"{server.url}/")).json()

    assert run(send(trusted)) == "secret"
    with pytest.raises(httpx.ConnectError):
        run(send(True))  # a self-signed certificate is not trusted by default


class Stub:
    """A connection as the pool sees it."""

    closed = False
    idle_since = 0.0

    def usable(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True


def full_pool() -> tuple[Pool, Stub]:
    """A pool of one whose connection is out with a request."""
    pool = Pool("127.0.0.1", 1, limit=1, keepalive_expiry_s=5, tls=None, max_body_bytes=1)
    busy = Stub()
    pool.open = 1
    return pool, busy


def test_a_connection_handed_over_as_the_pool_timeout_fires_goes_on_to_be_used() -> None:
    """The connection comes back in the same loop iteration as the waiting request's pool
    timeout fires (a busy loop): the request times out, and the connection must stay in the
    pool, not be lost with its room."""

    async def race() -> tuple[Pool, Stub, BaseException | None]:
        pool, busy = full_pool()
        waiting = asyncio.ensure_future(
            pool.acquire(pool_timeout=0.001, connect_timeout=None)  # type: ignore[arg-type]
        )
        await asyncio.sleep(0)  # it waits now, its timeout due in 1 ms
        time.sleep(0.01)  # noqa: ASYNC251 (the loop busy on purpose: the timeout comes due)
        asyncio.get_running_loop().call_soon(lambda: pool.release(busy, reusable=True))
        outcome = (await asyncio.gather(waiting, return_exceptions=True))[0]
        return pool, busy, outcome if isinstance(outcome, BaseException) else None

    with asyncio.Runner() as runner:  # the iteration order is asyncio's own
        pool, busy, outcome = runner.run(race())
    assert isinstance(outcome, httpx.PoolTimeout)
    assert (pool.open, pool.idle) == (1, [busy])  # kept for the next request
    assert not busy.closed


@pytest.mark.parametrize("given", ["a connection", "room for one"])
def test_a_request_cancelled_as_something_is_handed_to_it_passes_it_on(given: str) -> None:
    async def cancelled_at_handover() -> tuple[Pool, Stub, list[Any]]:
        pool, busy = full_pool()
        first = asyncio.ensure_future(pool.acquire(pool_timeout=None, connect_timeout=None))
        second = asyncio.ensure_future(pool.acquire(pool_timeout=None, connect_timeout=None))
        await asyncio.sleep(0)  # both wait
        if given == "a connection":
            pool.release(busy, reusable=True)  # -> the first waiter
        else:
            pool.release(busy, reusable=False)  # closed: room -> the first waiter
        first.cancel()  # before it runs
        results = await asyncio.gather(first, second, return_exceptions=True)
        return pool, busy, results

    with asyncio.Runner() as runner:
        _, busy, (first, second) = runner.run(cancelled_at_handover())
    assert isinstance(first, asyncio.CancelledError)
    if given == "a connection":
        assert second is busy  # the second waiter got it
    else:
        assert isinstance(second, httpx.ConnectError)  # it was let open one (port 1 refuses)
