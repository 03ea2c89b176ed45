"""``ordergate``: the gateway's command line.

ordergate run          the gateway, and (by default) the four simulated upstreams beside it
ordergate schema       print the served GraphQL schema (SDL)
ordergate keys create  a partner's API key; its secret is printed once, alone on the last line
ordergate keys list    every key (never a secret)
ordergate keys revoke  stop accepting a key
ordergate sync         load every order of every backend into the index (resumable)
ordergate webhooks register  register the affiliate webhook receiver with the platform
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import TextIO

import httpx
import uvicorn
import uvloop
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from backends.affiliate.client import AffiliateClient
from backends.registry import BACKENDS, create_adapter, create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import ServerThread, bind, make_server, serve_until_signalled
from domain.access import Scope
from domain.errors import OrdergateError
from domain.models import OrderSource
from feed import affiliate_webhooks
from feed.poller import Poller, Progress
from feed.service import Feed
from gateway.app import configure_process, create_app, demo_key_of, prepare_store
from gateway.settings import Settings
from store import api_keys
from store.engine import Store
from telemetry import logs, metrics

EXIT_WATCHDOG_S = 1.0  # after shutting down, the longest the process may linger


def simulator_apps(settings: Settings) -> dict[OrderSource, tuple[ASGIApp, int]]:
    """The simulators ``ordergate run`` serves beside the gateway: each on the port of its
    backend's ``base_url`` (by default the contract's, 8101-8104)."""
    if not settings.simulators:
        return {}
    config = SimConfig(seed=settings.sim_seed, orders=settings.sim_orders)
    return {
        source: (
            create_simulator(source, config),
            httpx.URL(settings.backend(source).base_url).port or BACKENDS[source].default_port,
        )
        for source in settings.enabled_sources
    }


def print_addresses(settings: Settings, simulators: Iterable[tuple[OrderSource, int]]) -> None:
    for source, port in simulators:
        print(
            f"  {source.value:<9} simulator   http://127.0.0.1:{port}   (/_sim/stats, /_sim/faults)"
        )
    base = f"http://{settings.host}:{settings.port}"
    ide = "   (GraphiQL in a browser)" if settings.graphiql_enabled else ""
    print(f"  gateway             {base}/graphql{ide}")
    print(f"  health              {base}/health   {base}/ready")
    print(f"  store               {logs.safe_url(settings.database_url)}")
    if settings.workers > 1:
        print(f"  workers             {settings.workers} processes on one port")
    if (demo_key := demo_key_of(settings)) is not None:
        key = demo_key.get_secret_value()
        print(f"  demo key            {key}   (every scope; GraphiQL sends it)")
    print("Ctrl-C stops everything.", flush=True)


async def run(settings: Settings) -> None:
    """One process: the simulators and the gateway in this event loop."""
    simulators = simulator_apps(settings)
    servers = [
        (make_server(app, quiet=True), bind("127.0.0.1", port)) for app, port in simulators.values()
    ]
    gateway = make_server(
        create_app(settings), log_level=settings.log_level, graceful_s=settings.shutdown_grace_s
    )
    servers.append((gateway, bind(settings.host, settings.port)))
    print_addresses(settings, ((source, port) for source, (_, port) in simulators.items()))
    await serve_until_signalled(servers)
    # Served and shut down (the lifespan's closes are bounded). What may be left is a close
    # that never ends (a cancelled SQLite connection): it must not keep the process alive.
    exit_soon = threading.Timer(EXIT_WATCHDOG_S, os._exit, args=(0,))
    exit_soon.daemon = True
    exit_soon.start()


def run_workers(settings: Settings) -> None:
    """``settings.workers`` gateway processes on one listening socket (uvicorn's supervisor
    restarts one that dies); the simulators, if on, in a thread of this process. The store is
    prepared here once, so the workers do not race to migrate it."""

    async def prepare() -> None:
        store = Store(settings.database_url)
        try:
            await prepare_store(settings, store)
        finally:
            await store.aclose()

    asyncio.run(prepare())
    if settings.redis_url is None:
        logging.getLogger(__name__).warning(
            "%d workers without ORDERGATE_REDIS_URL: each keeps its own rate-limit buckets, "
            "so a caller may spend up to %d times its budget",
            settings.workers,
            settings.workers,
        )
    simulators = simulator_apps(settings)
    ports = {source.value: port for source, (_, port) in simulators.items()}
    apps = {source.value: app for source, (app, _) in simulators.items()}
    # Each worker writes its metrics here; a scrape of any of them adds them all up. What an
    # earlier run left there is not this run's: emptied first, and removed at the end.
    given = os.environ.get(metrics.MULTIPROC_ENV)
    metrics_dir = given or tempfile.mkdtemp(prefix="ordergate-metrics-")
    metrics.fresh_directory(metrics_dir)
    os.environ[metrics.MULTIPROC_ENV] = metrics_dir
    config = uvicorn.Config(
        "gateway.app:create_worker_app",
        factory=True,  # each worker reads the same ORDERGATE_* settings
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        log_config=None,  # the workers' own handler (``configure_process``)
        access_log=False,  # the gateway writes its own access line (``RequestTelemetry``)
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
    with contextlib.ExitStack() as stack:
        stack.callback(metrics.clear_directory, metrics_dir)
        if not given:  # the one made here goes too
            stack.callback(shutil.rmtree, metrics_dir, ignore_errors=True)
        if apps:
            stack.enter_context(ServerThread(apps, ports))
        sock = config.bind_socket()
        print_addresses(settings, ((source, port) for source, (_, port) in simulators.items()))
        Multiprocess(config, sockets=[sock]).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="ordergate", description="One GraphQL API over four order systems."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "run", help="serve the gateway (and the simulators unless ORDERGATE_SIMULATORS=false)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="gateway processes sharing the port (default: ORDERGATE_WORKERS, 1); "
        "one per core is a good start",
    )
    commands.add_parser("schema", help="print the served GraphQL schema")
    keys = commands.add_parser("keys", help="partners' API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="a new key; its secret is printed once")
    create.add_argument("--name", required=True, help="who holds it (the actor in histories)")
    create.add_argument(
        "--scope",
        action="append",
        choices=[s.value for s in Scope],
        help="what it may do (repeat; default: orders:read)",
    )
    create.add_argument(
        "--source",
        action="append",
        choices=[s.value for s in OrderSource],
        help="only these backends' orders (repeat; default: every backend)",
    )
    create.add_argument(
        "--rate", type=float, help="cost points per second (default: the gateway's)"
    )
    sync = commands.add_parser(
        "sync", help="load the backends' orders into the order index, with progress"
    )
    sync.add_argument(
        "--source",
        action="append",
        choices=[s.value for s in OrderSource],
        help="only this backend (repeat; default: every enabled backend)",
    )
    sync.add_argument(
        "--full",
        action="store_true",
        help="read every order again from the start (default: resume a stopped load, or "
        "read what changed since the last one)",
    )
    webhooks = commands.add_parser("webhooks", help="upstream webhooks").add_subparsers(
        dest="webhooks_command", required=True
    )
    webhooks.add_parser(
        "register", help="register the affiliate receiver (<feed.public_url>/webhooks/affiliate)"
    )
    keys.add_parser("list", help="every key, without secrets")
    revoke = keys.add_parser("revoke", help="stop accepting a key")
    revoke.add_argument("id", type=int)
    args = parser.parse_args(argv)
    settings = Settings()
    configure_process(settings)
    if args.command == "schema":
        from schema import build_schema

        print(build_schema().as_str())
        return
    if args.command == "keys":
        logging.getLogger("alembic").setLevel(logging.WARNING)
        try:
            asyncio.run(manage_keys(settings, args))
        except OrdergateError as error:
            raise SystemExit(f"ordergate keys: {error.message}") from None
        return
    if args.command in ("sync", "webhooks"):
        logging.getLogger("alembic").setLevel(logging.WARNING)
        try:
            run_feed_command = sync_orders if args.command == "sync" else register_webhooks
            code = asyncio.run(run_feed_command(settings, args))
        except KeyboardInterrupt:
            print("\nstopped; `ordergate sync` resumes where it stopped", file=sys.stderr)
            code = 130
        raise SystemExit(code)
    if args.workers is not None:
        if args.workers < 1:
            parser.error("--workers takes 1 or more")
        settings = settings.model_copy(update={"workers": args.workers})
    print("ordergate")
    if settings.workers > 1:
        run_workers(settings)
    else:
        uvloop.run(run(settings))


async def manage_keys(settings: Settings, args: argparse.Namespace) -> None:
    store = Store(settings.database_url)
    try:
        await store.migrate()
        if args.keys_command == "create":
            scopes = [Scope(s) for s in args.scope or [Scope.ORDERS_READ]]
            sources = [OrderSource(s) for s in args.source or []]
            new = await api_keys.create(
                store, name=args.name, scopes=scopes, sources=sources, rate=args.rate
            )
            print(f"created key {new.record.id} ({new.record.name}): {describe(new.record)}")
            print("the secret is shown only now; send it as `Authorization: Bearer <secret>`:")
            print(new.secret)
        elif args.keys_command == "list":
            for record in await api_keys.list_keys(store):
                state = "revoked" if record.revoked_at else "active"
                print(f"{record.id:>4}  {record.name:<24} {state:<8} {describe(record)}")
        else:
            record = await api_keys.revoke(store, args.id)
            print(f"revoked key {record.id} ({record.name})")
    finally:
        await store.aclose()


class ProgressBar:
    """One line per backend on stderr, redrawn in place: orders read, of how many, and the
    rate."""

    WIDTH = 30

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = progress.orders / elapsed
        if progress.total:
            done = min(progress.orders / progress.total, 1.0)
            bar = "#" * int(done * self.WIDTH)
            of = f"{progress.orders}/{progress.total} orders [{bar:<{self.WIDTH}}]"
        else:
            of = f"{progress.orders} orders"
        line = f"  {progress.source.value:<9} {of} {rate:,.0f}/s, {progress.events} changes"
        self.stream.write("\r" + line)
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        self.started = time.monotonic()


async def sync_orders(settings: Settings, args: argparse.Namespace) -> int:
    """``ordergate sync``: each backend read into the index, one after the other."""
    sources = [OrderSource(s) for s in args.source or []] or settings.enabled_sources
    store = Store(settings.database_url)
    backends = {s: create_adapter(s, settings.backend(s)) for s in sources}
    feed = settings.feed
    poller = Poller(store, backends, page_size=feed.page_size, overlap_s=feed.overlap_s)
    failed = 0
    try:
        await store.migrate()
        bar = ProgressBar()
        for source in sources:
            try:
                if args.full:
                    events = await poller.full(source, report=bar, restart=True)
                else:
                    events = await poller.poll(source, report=bar)
            except OrdergateError as error:
                bar.done()
                print(f"  {source.value}: {error.message} (run again to resume)", file=sys.stderr)
                failed += 1
                continue
            bar.done()
            print(f"  {source.value}: in step, {events} changes recorded")
    finally:
        await asyncio.gather(*(b.aclose() for b in backends.values()))
        await store.aclose()
    return 1 if failed else 0


async def register_webhooks(settings: Settings, args: argparse.Namespace) -> int:
    """``ordergate webhooks register``: the affiliate platform told where to send events."""
    if OrderSource.AFFILIATE not in settings.enabled_sources:
        print("the AFFILIATE backend is not enabled", file=sys.stderr)
        return 1
    store = Store(settings.database_url)
    backend = create_adapter(OrderSource.AFFILIATE, settings.backend(OrderSource.AFFILIATE))
    feed = Feed(settings, store, {OrderSource.AFFILIATE: backend})
    try:
        await store.migrate()
        client = getattr(backend, "client", None)
        assert isinstance(client, AffiliateClient)
        hook = await affiliate_webhooks.register(
            client, feed.receiver_url, await feed.webhook_secret()
        )
        print(f"webhook {hook.id}: {', '.join(hook.events)} -> {hook.url}")
        return 0
    except OrdergateError as error:
        print(f"ordergate webhooks: {error.message}", file=sys.stderr)
        return 1
    finally:
        await backend.aclose()
        await store.aclose()


def describe(record: api_keys.ApiKeyRecord) -> str:
    scopes = record.scopes or "no scope"
    sources = record.sources or "every source"
    rate = f"{record.rate:g} points/s" if record.rate else "default rate"
    return f"scopes: {scopes}; sources: {sources}; {rate}"


if __name__ == "__main__":
    main()
