"""``ordergate``: the gateway's command line.

ordergate run      the gateway, and (by default) the four simulated upstreams beside it
ordergate schema   print the served GraphQL schema (SDL)
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from backends.registry import BACKENDS, create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import bind, make_server, serve_until_signalled
from gateway.app import create_app
from gateway.settings import Settings


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
    print("ordergate")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
