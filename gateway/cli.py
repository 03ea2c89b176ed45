"""``ordergate``: the gateway's command line.

ordergate run          the gateway, and (by default) the four simulated upstreams beside it
ordergate schema       print the served GraphQL schema (SDL)
ordergate keys create  a partner's API key; its secret is printed once, alone on the last line
ordergate keys list    every key (never a secret)
ordergate keys revoke  stop accepting a key
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from backends.registry import BACKENDS, create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import bind, make_server, serve_until_signalled
from domain.access import Scope
from domain.errors import OrdergateError
from domain.models import OrderSource
from gateway.app import create_app
from gateway.settings import Settings
from store import api_keys
from store.engine import Store


async def run(settings: Settings) -> None:
    servers = []
    if settings.simulators:
        config = SimConfig(seed=settings.sim_seed, orders=settings.sim_orders)
        for source in settings.enabled_sources:
            port = BACKENDS[source].default_port
            servers.append((make_server(create_simulator(source, config)), bind("127.0.0.1", port)))
            print(
                f"  {source.value:<9} simulator   http://127.0.0.1:{port}"
                "   (/_sim/stats, /_sim/faults)"
            )
    gateway = make_server(create_app(settings), log_level=settings.log_level)
    servers.append((gateway, bind(settings.host, settings.port)))
    base = f"http://{settings.host}:{settings.port}"
    print(f"  gateway             {base}/graphql   (GraphiQL in a browser)")
    print(f"  health              {base}/health   {base}/ready")
    print(f"  store               {settings.database_url}")
    if settings.simulators and settings.auth.demo_key is not None:
        key = settings.auth.demo_key.get_secret_value()
        print(f"  demo key            {key}   (every scope; GraphiQL sends it)")
    print("Ctrl-C stops everything.", flush=True)
    await serve_until_signalled(servers)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="ordergate", description="One GraphQL API over four order systems."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", help="serve the gateway (and the simulators unless ORDERGATE_SIMULATORS=false)"
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
    keys.add_parser("list", help="every key, without secrets")
    revoke = keys.add_parser("revoke", help="stop accepting a key")
    revoke.add_argument("id", type=int)
    args = parser.parse_args(argv)
    settings = Settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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
    print("ordergate")
    asyncio.run(run(settings))


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


def describe(record: api_keys.ApiKeyRecord) -> str:
    scopes = record.scopes or "no scope"
    sources = record.sources or "every source"
    rate = f"{record.rate:g} points/s" if record.rate else "default rate"
    return f"scopes: {scopes}; sources: {sources}; {rate}"


if __name__ == "__main__":
    main()
