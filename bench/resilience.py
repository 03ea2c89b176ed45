"""Resilience benchmark: the figures of the resilience issue, each beside its target.

    .venv/bin/python bench/resilience.py [--quick]

Starts the four simulators (one process of their own, 120 orders each) and, per part, a
gateway as ``ordergate run`` in a process of its own (SQLite store in a temporary
directory, an API key with every scope whose bucket refills at once), like
``bench/read_path.py``. Faults are set through each simulator's control API
(``POST /_sim/faults``) and reset at the end of every part. Rows:

1. ``{ orders(first: 20) { ... unavailableSources } }`` over every source while the CRM
   simulator hangs every request (``timeout_rate: 1.0``), N queries one after another (20,
   ``--quick`` 8), on a gateway with ``ORDERGATE_REQUEST_DEADLINE_S=2`` (else defaults). The
   CRM breaker opens after a few of them, so beside p50 and p99 over all N: the p99 of the
   queries before it opened (told apart by each answer's CRM error, which says "circuit
   open" once it has; before, they wait for the deadline; target: deadline + 0.5 s) and the
   p50 of the queries after (target: about the time of the other backends alone: after each
   of these queries, the same query filtered to AFFILIATE, WEBSHOP and B2B is timed).
2. Right after row 1, the breaker open: the CRM simulator's counters are reset, 10 more
   all-source queries go, and the CRM simulator's request count (token routes excluded) is
   read. Target 0 (the 10 queries take far less than the 10 s cooldown, so no probe is due).
3. AFFILIATE limited to 5 requests/s (``rate_limit_per_s: 5``: 429 with ``Retry-After: 1``
   above it), default settings: 4 concurrent clients (asyncio, one ``httpx.AsyncClient``)
   send ``orders(first: k, filter: {sources: [AFFILIATE]})``, k different each time, for 5 s
   (``--quick`` 3 s). From the AFFILIATE simulator's request log (arrival times on its own clock,
   429s included): requests reaching the upstream per second, from the first arrival to the
   last, against the limit. Target ratio <= 1.2. Also the share of gateway queries whose
   answer had errors (or was not a 200).
4. SIGTERM under load: a fresh gateway with ``ORDERGATE_SHUTDOWN_GRACE_S=3``, 300 ms latency
   on every simulator, 30 clients each sending all-source reads one after another (30 in
   flight), SIGTERM 0.5 s in. Each client goes on until its connection is refused. Measured:
   seconds from SIGTERM until the gateway process and every descendant it had are gone
   (target: grace + 5 s), the answers by outcome (HTTP status, connection refused, connection
   closed without an answer) and the answers whose body is not JSON (target: no plain-text
   500s).

Nothing is asserted; the table is printed, the settings of each part under it, then notes.
Under a minute either way (35-60 s here; gateway starts and row 1's 2 s deadlines).
The simulators' stderr goes to a file: on stopping they log a traceback for each CRM request
rows 1-2 left hanging (120 s each); the notes count them.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.config import BackendSettings
from bench.harness import measured_on, simulators_with_pid
from bench.read_path import (
    Gateway,
    create_key,
    free_port,
    gateway_env,
    ordergate,
    process_tree,
    wait_until_healthy,
)
from domain.models import OrderSource
from gateway.settings import Settings
from tests.support import is_auth

CRM = OrderSource.CRM
AFFILIATE = OrderSource.AFFILIATE

ALL_SOURCES = "{ orders(first: 20) { edges { node { id source } } unavailableSources } }"
OTHER_SOURCES = """{ orders(first: 20, filter: {sources: [AFFILIATE, WEBSHOP, B2B]}) {
  edges { node { id source } } unavailableSources } }"""
AFFILIATE_PAGE = """query Page($first: Int!) {
  orders(first: $first, filter: {sources: [AFFILIATE]}) { edges { node { id status } } } }"""
SHUTDOWN_READ = """query Read($first: Int!) { orders(first: $first) {
  edges { node { id source reference status lines { sku quantity } } } unavailableSources } }"""

BREAKER_DEADLINE_S = 2
OPEN_QUERIES = 10  # row 2
RATE_LIMIT = 5  # row 3, AFFILIATE requests/s
RATE_CLIENTS = 4
SHUTDOWN_GRACE_S = 3  # row 4
SHUTDOWN_LATENCY_MS = 300
SHUTDOWN_CLIENTS = 30
SIGTERM_AFTER_S = 0.5
EXIT_WAIT_S = 30.0  # row 4 gives up waiting for the exit after this


@dataclass(frozen=True)
class Sizes:
    breaker_queries: int  # row 1
    rate_seconds: float  # row 3


DEFAULT = Sizes(20, 5.0)
QUICK = Sizes(8, 3.0)


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    what: str
    figure: str
    target: str

    def markdown(self) -> str:
        return f"| {self.what} | {self.figure} | {self.target} |"


@dataclass(frozen=True)
class Part:
    """The rows one gateway measured, and the settings it ran with."""

    rows: list[Row]
    settings: str
    notes: list[str] = field(default_factory=list)


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def p99(values: list[float]) -> float:
    """Nearest rank: with fewer than 100 values, the largest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# --- the simulators' control API ----------------------------------------------------------


def set_faults(url: str, **faults: Any) -> None:
    httpx.post(f"{url}/_sim/faults", json=faults).raise_for_status()


def reset_faults(urls: dict[OrderSource, str]) -> None:
    for url in urls.values():
        httpx.post(f"{url}/_sim/faults/reset").raise_for_status()


@contextmanager
def faults(
    urls: dict[OrderSource, str], sources: list[OrderSource], **kinds: Any
) -> Iterator[None]:
    """These faults on these simulators; every simulator's faults reset afterwards."""
    try:
        for source in sources:
            set_faults(urls[source], **kinds)
        yield
    finally:
        reset_faults(urls)


def reset_stats(url: str) -> None:
    httpx.post(f"{url}/_sim/stats/reset").raise_for_status()


def upstream_requests(url: str) -> int:
    """Requests counted since the last reset, token routes excluded."""
    counts = httpx.get(f"{url}/_sim/stats").json()["requests"]
    return sum(n for route, n in counts.items() if not is_auth(route))


def arrivals(url: str) -> list[float]:
    """Arrival times (the simulator's monotonic clock) of the logged requests, token routes
    excluded. The log holds the last 1,000 requests, each once it has been answered."""
    log = httpx.get(f"{url}/_sim/requests").json()["requests"]
    return sorted(entry["arrived"] for entry in log if not is_auth(entry["route"]))


# --- a gateway in its own process, with settings of its own -------------------------------


@dataclass(frozen=True)
class Running:
    gateway: Gateway
    process: subprocess.Popen[bytes]
    headers: dict[str, str]  # the API key
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.url, headers=self.headers, timeout=60)


@contextmanager
def running_gateway(
    urls: dict[OrderSource, str], tmp: Path, name: str, settings: dict[str, str]
) -> Iterator[Running]:
    """``ordergate run`` (one process) with these ``ORDERGATE_*`` settings on top of
    ``bench.read_path``'s, its own store in ``tmp/name``, and an API key."""
    folder = tmp / name
    folder.mkdir()
    port = free_port()
    env = {**gateway_env(urls, folder / "bench.db", port), **settings}
    log_path = folder / "gateway.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ordergate("run"), env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT
        )
        gateway = Gateway(f"http://127.0.0.1:{port}", process.pid, env)
        try:
            wait_until_healthy(gateway, process, log_path)
            headers = {"Authorization": f"Bearer {create_key(gateway)}"}
            yield Running(gateway, process, headers, log_path)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def settings_text(settings: dict[str, str]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in settings.items()) or "none"


def backend_default(name: str) -> Any:
    return BackendSettings.model_fields[name].default


def gateway_default(name: str) -> Any:
    return Settings.model_fields[name].default


# --- rows 1 and 2: a hanging backend, and its breaker -------------------------------------


@dataclass(frozen=True)
class Answer:
    seconds: float
    status: int
    crm_error: str | None  # the message of the error naming CRM, if any
    unavailable: list[str]

    @property
    def circuit_open(self) -> bool:
        return self.crm_error is not None and "circuit open" in self.crm_error


def timed_query(client: httpx.Client, query: str) -> Answer:
    started = time.perf_counter()
    response = client.post("/graphql", json={"query": query})
    seconds = time.perf_counter() - started
    body = response.json()
    errors = body.get("errors") or []
    crm = [e["message"] for e in errors if (e.get("extensions") or {}).get("source") == CRM.value]
    orders = (body.get("data") or {}).get("orders") or {}
    return Answer(
        seconds,
        response.status_code,
        crm[0] if crm else None,
        orders.get("unavailableSources") or [],
    )


def hanging_crm_queries(client: httpx.Client, n: int) -> tuple[list[Answer], list[float]]:
    """``n`` all-source queries one after another; after each that found the CRM breaker
    open, the same query filtered to the other three backends (the floor of row 1b)."""
    answers, floor = [], []
    for _ in range(n):
        answers.append(timed_query(client, ALL_SOURCES))
        if answers[-1].circuit_open:
            floor.append(timed_query(client, OTHER_SOURCES).seconds)
    return answers, floor


def breaker_part(urls: dict[OrderSource, str], tmp: Path, sizes: Sizes) -> Part:
    """Rows 1 and 2, on one gateway whose deadline is 2 s."""
    settings = {"ORDERGATE_REQUEST_DEADLINE_S": str(BREAKER_DEADLINE_S)}
    n = sizes.breaker_queries
    with running_gateway(urls, tmp, "breaker", settings) as running, running.client() as client:
        for _ in range(3):  # warm: connections and upstream tokens
            timed_query(client, ALL_SOURCES)
        with faults(urls, [CRM], timeout_rate=1.0):
            answers, floor = hanging_crm_queries(client, n)
            opened = next((i for i, a in enumerate(answers) if a.circuit_open), len(answers))
            reset_stats(urls[CRM])
            started = time.perf_counter()
            while_open = [timed_query(client, ALL_SOURCES) for _ in range(OPEN_QUERIES)]
            open_seconds = time.perf_counter() - started
            crm_requests = upstream_requests(urls[CRM])

    before = [a.seconds for a in answers[:opened]]
    after = [a.seconds for a in answers[opened:]]
    every = [a.seconds for a in answers]
    deadline_target = BREAKER_DEADLINE_S + 0.5
    floor_p50 = p50(floor)
    after_ratio = p50(after) / floor_p50 if after and floor_p50 > 0 else math.nan
    rows = [
        Row(
            f"1. all-source `orders(first: 20)`, CRM hanging: p50 / p99 over {n} queries",
            f"{ms(p50(every))} / {ms(p99(every))}",
            "(see the two lines below)",
        ),
        Row(
            f"1a. ... before the CRM breaker opens ({len(before)} queries): p99",
            ms(p99(before)),
            f"<= deadline + 0.5 s = {deadline_target:g} s",
        ),
        Row(
            f"1b. ... breaker open ({len(after)} queries): p50",
            f"{ms(p50(after))} ({after_ratio:.2f} x the other backends' {ms(floor_p50)})",
            "about the other 3 backends' time (same query, filtered to them: p50)",
        ),
        Row(
            f"2. requests reaching CRM during {OPEN_QUERIES} all-source queries, breaker open",
            f"{crm_requests}",
            "0",
        ),
    ]
    unavailable = sum(CRM.value in a.unavailable for a in answers + while_open)
    notes = [
        f"rows 1-2: {sum(a.circuit_open for a in answers)} of the {n} queries and "
        f"{sum(a.circuit_open for a in while_open)} of the {OPEN_QUERIES} of row 2 answered "
        f'CRM "circuit open"; {unavailable} of {n + OPEN_QUERIES} named CRM in '
        f"`unavailableSources`; HTTP statuses "
        f"{dict(Counter(a.status for a in answers + while_open))}; row 2's queries took "
        f"{open_seconds:.2f} s (cooldown {backend_default('breaker_cooldown_s'):g} s)",
        f"row 1, first CRM error: {answers[0].crm_error!r}" if answers else "row 1: no answers",
    ]
    return Part(rows, f"rows 1-2: {settings_text(settings)}", notes)


# --- row 3: a backend's 429 limit ---------------------------------------------------------


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0  # errors in the answer, a status other than 200, or no answer


async def affiliate_load(url: str, headers: dict[str, str], seconds: float) -> Tally:
    """``RATE_CLIENTS`` clients sending AFFILIATE pages, each with a ``first`` of its own."""
    tally = Tally()
    firsts = itertools.count()
    stop_at = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:

        async def one_client() -> None:
            while time.monotonic() < stop_at:
                first = 1 + next(firsts) % 100
                body = {"query": AFFILIATE_PAGE, "variables": {"first": first}}
                try:
                    response = await client.post("/graphql", json=body)
                    good = response.status_code == 200 and not response.json().get("errors")
                except (httpx.HTTPError, ValueError):
                    good = False
                if good:
                    tally.ok += 1
                else:
                    tally.failed += 1

        await asyncio.gather(*(one_client() for _ in range(RATE_CLIENTS)))
    return tally


def per_second_counts(times: list[float]) -> list[int]:
    """How many of these arrivals fell in each second from the first."""
    if not times:
        return []
    counts = Counter(int(t - times[0]) for t in times)
    return [counts[second] for second in range(max(counts) + 1)]


def rate_limit_part(urls: dict[OrderSource, str], tmp: Path, sizes: Sizes) -> Part:
    """Row 3, default settings."""
    url = urls[AFFILIATE]
    with running_gateway(urls, tmp, "rate-limit", {}) as running:
        with running.client() as client:
            timed_query(client, ALL_SOURCES)  # warm
        reset_stats(url)
        with faults(urls, [AFFILIATE], rate_limit_per_s=RATE_LIMIT):
            started = time.perf_counter()
            tally = asyncio.run(
                affiliate_load(running.gateway.url, running.headers, sizes.rate_seconds)
            )
            load_seconds = time.perf_counter() - started
            times = arrivals(url)
            counted = upstream_requests(url)
    span = times[-1] - times[0] if len(times) > 1 else math.nan
    per_second = (len(times) - 1) / span if span > 0 else math.nan
    queries = tally.ok + tally.failed
    rows = [
        Row(
            f"3. AFFILIATE at {RATE_LIMIT}/s (429 above), {RATE_CLIENTS} clients, "
            f"{sizes.rate_seconds:g} s: upstream attempts/s",
            f"{per_second:.1f}/s vs limit {RATE_LIMIT}/s: ratio {per_second / RATE_LIMIT:.2f}",
            "ratio <= 1.2",
        ),
        Row(
            "3a. ... gateway queries answered with an error",
            f"{tally.failed / queries:.0%} ({tally.failed} of {queries})" if queries else "-",
            "(reported, no target)",
        ),
    ]
    notes = [
        f"row 3: {len(times)} upstream requests logged over {span:.2f} s "
        f"({counted} counted by `/_sim/stats`; the log keeps the last 1,000), "
        f"{queries / load_seconds:.1f} gateway queries/s; upstream requests in each second "
        f"from the first: {per_second_counts(times)}"
    ]
    return Part(rows, "row 3: defaults", notes)


# --- row 4: SIGTERM under load ------------------------------------------------------------


def alive(pid: int) -> bool:
    """Running (neither gone nor a zombie) by ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Shutdown:
    outcomes: Counter[str] = field(default_factory=Counter)
    not_json: Counter[int] = field(default_factory=Counter)  # by HTTP status
    in_flight: int = 0
    in_flight_at_sigterm: int = 0
    exit_s: float | None = None  # None: still running after EXIT_WAIT_S
    tree: list[int] = field(default_factory=list)
    sigterm_at: float | None = None  # perf_counter
    last_answer_at: float | None = None

    def last_answer_s(self) -> float | None:
        """Seconds from SIGTERM to the last HTTP answer after it (None: none after it)."""
        if self.sigterm_at is None or self.last_answer_at is None:
            return None
        late = self.last_answer_at - self.sigterm_at
        return late if late >= 0 else None


def is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


async def sigterm_under_load(running: Running) -> Shutdown:
    result = Shutdown()
    process = running.process
    stopped = asyncio.Event()
    firsts = itertools.count()
    limits = httpx.Limits(max_connections=SHUTDOWN_CLIENTS)
    async with httpx.AsyncClient(
        base_url=running.gateway.url, headers=running.headers, limits=limits, timeout=60
    ) as client:

        async def one_client() -> None:
            while not stopped.is_set():
                body = {"query": SHUTDOWN_READ, "variables": {"first": 5 + next(firsts) % 46}}
                result.in_flight += 1
                try:
                    response = await client.post("/graphql", json=body)
                except httpx.ConnectError:
                    result.outcomes["connection refused"] += 1
                    return
                except httpx.TransportError as exc:
                    result.outcomes[f"closed without an answer ({type(exc).__name__})"] += 1
                    continue
                finally:
                    result.in_flight -= 1
                result.last_answer_at = time.perf_counter()
                result.outcomes[f"HTTP {response.status_code}"] += 1
                if not is_json(response.content):
                    result.not_json[response.status_code] += 1

        async def terminate_and_watch() -> None:
            await asyncio.sleep(SIGTERM_AFTER_S)
            result.tree = process_tree(process.pid)
            result.in_flight_at_sigterm = result.in_flight
            sent = result.sigterm_at = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            while time.perf_counter() - sent < EXIT_WAIT_S:
                if process.poll() is not None and not any(map(alive, result.tree[1:])):
                    result.exit_s = time.perf_counter() - sent
                    break
                await asyncio.sleep(0.01)
            stopped.set()

        await asyncio.gather(
            terminate_and_watch(), *(one_client() for _ in range(SHUTDOWN_CLIENTS))
        )
    return result


def seconds_or_none(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def shutdown_part(urls: dict[OrderSource, str], tmp: Path) -> Part:
    """Row 4, on a gateway of its own."""
    settings = {"ORDERGATE_SHUTDOWN_GRACE_S": str(SHUTDOWN_GRACE_S)}
    with running_gateway(urls, tmp, "shutdown", settings) as running:
        with faults(urls, list(OrderSource), latency_ms=SHUTDOWN_LATENCY_MS):
            with running.client() as client:
                timed_query(client, ALL_SOURCES)  # warm
            result = asyncio.run(sigterm_under_load(running))
        exit_code = running.process.poll()
        log_errors = [line for line in running.log.read_text().splitlines() if "ERROR" in line]
    target = SHUTDOWN_GRACE_S + 5
    exited = f"{result.exit_s:.2f} s" if result.exit_s is not None else f"> {EXIT_WAIT_S:g} s"
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(result.outcomes.items()))
    not_json = sum(result.not_json.values())
    rows = [
        Row(
            f"4. exit after SIGTERM, {SHUTDOWN_CLIENTS} all-source reads in flight "
            f"({SHUTDOWN_LATENCY_MS} ms upstream latency)",
            exited,
            f"<= grace + 5 s = {target} s",
        ),
        Row("4a. ... answers by outcome", outcomes, "(reported: 200 / 503 / refused)"),
        Row(
            "4b. ... answers whose body is not JSON",
            f"{not_json}" + (f" (by status {dict(result.not_json)})" if not_json else ""),
            "0 plain-text 500s",
        ),
    ]
    notes = [
        f"row 4: {result.in_flight_at_sigterm} requests in flight at SIGTERM; the last answer "
        f"came {seconds_or_none(result.last_answer_s())} after it; process tree "
        f"{len(result.tree)} process(es); exit code {exit_code}; the gateway's log has "
        f"{len(log_errors)} ERROR lines" + (f", the first: {log_errors[0]!r}" if log_errors else "")
    ]
    return Part(
        rows,
        f"row 4: {settings_text(settings)}, `latency_ms={SHUTDOWN_LATENCY_MS}` on every simulator",
        notes,
    )


# --- main ---------------------------------------------------------------------------------


@contextmanager
def simulators(log: Path) -> Iterator[dict[OrderSource, str]]:
    """``simulators_with_pid``, their process's stderr in ``log``: fd 2 points there while the
    process forks, then back. (Stopping, they log a traceback per request still hanging.)"""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with log.open("w") as file:
            os.dup2(file.fileno(), 2)
            with simulators_with_pid() as (urls, _pid):
                os.dup2(saved, 2)
                yield urls
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def defaults_text() -> str:
    return (
        f"defaults: `ORDERGATE_REQUEST_DEADLINE_S={gateway_default('request_deadline_s'):g}`, "
        f"`ORDERGATE_SHUTDOWN_GRACE_S={gateway_default('shutdown_grace_s')}`, per source "
        f"`__BREAKER_FAILURES={backend_default('breaker_failures')}`, "
        f"`__BREAKER_COOLDOWN_S={backend_default('breaker_cooldown_s'):g}`, "
        f"`__TIMEOUT_S={backend_default('timeout_s'):g}`, `__RETRIES={backend_default('retries')}`"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries, shorter load")
    parser.add_argument(
        "--only", type=int, choices=(1, 3, 4), help="one part: 1 breaker, 3 429 limit, 4 shutdown"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else DEFAULT
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        simulators_log = Path(tmp) / "simulators.log"
        with simulators(simulators_log) as urls:
            chosen = {
                1: lambda: breaker_part(urls, Path(tmp), sizes),
                3: lambda: rate_limit_part(urls, Path(tmp), sizes),
                4: lambda: shutdown_part(urls, Path(tmp)),
            }
            parts = [run() for number, run in chosen.items() if args.only in (None, number)]
        errors = sum("ERROR" in line for line in simulators_log.read_text().splitlines())
    parts[-1].notes.append(
        f"the simulators' stderr went to a file: {errors} ERROR lines (on stopping, uvicorn "
        "cancels the CRM requests rows 1-2 left hanging, 120 s each, and logs each one)"
    )
    print(
        f"{measured_on('resilience')}, 4 simulators x 120 orders"
        f"{', --quick' if args.quick else ''}, {time.perf_counter() - started:.0f} s"
    )
    print()
    print("| figure | ordergate | target |")
    print("|---|---:|---|")
    for part in parts:
        for row in part.rows:
            print(row.markdown())
    print()
    print(
        "Settings (one gateway per part, else defaults): "
        + "; ".join(part.settings for part in parts)
        + f". {defaults_text()}."
    )
    print()
    for part in parts:
        for note in part.notes:
            print(f"- {note}")


if __name__ == "__main__":
    main()
