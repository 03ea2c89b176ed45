"""``ordergate-sim``: run one simulated upstream, or all four, on their own.

ordergate-sim webshop --port 8102 --seed 42 --orders 500
ordergate-sim all
"""

from __future__ import annotations

import argparse
import asyncio

from backends.registry import BACKENDS, create_simulator
from backends.simkit.app import SimConfig
from backends.simkit.server import bind, make_server, serve_until_signalled
from domain.models import OrderSource


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ordergate-sim", description=__doc__.splitlines()[0])
    parser.add_argument(
        "source", choices=[s.value.lower() for s in OrderSource] + ["all"], help="which upstream"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="default: the runtime contract's port")
    parser.add_argument("--seed", type=int, default=42, help="same seed, same orders")
    parser.add_argument("--orders", type=int, default=120, help="how many orders to seed")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime, seconds")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config = SimConfig(seed=args.seed, orders=args.orders, token_ttl_s=args.token_ttl)
    sources = list(OrderSource) if args.source == "all" else [OrderSource(args.source.upper())]
    servers = []
    for source in sources:
        port = args.port if args.port and len(sources) == 1 else BACKENDS[source].default_port
        servers.append((make_server(create_simulator(source, config)), bind(args.host, port)))
        print(f"{source.value:<9} simulator on http://{args.host}:{port}", flush=True)
    await serve_until_signalled(servers)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
