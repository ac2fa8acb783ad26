"""`hub serve`: the GraphQL API on uvicorn."""

from __future__ import annotations

import argparse
import asyncio

from graph.ciphers.keyring import Keyring
from hub.commands.common import add_db, add_server, load_keys, settings_of


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve_parser = commands.add_parser("serve", help="serve the GraphQL API (GraphiQL at /graphql)")
    add_db(serve_parser)
    add_server(serve_parser)
    serve_parser.add_argument("--no-introspection", action="store_true", help="refuse schema introspection")
    serve_parser.add_argument("--rate", type=float, help="requests per second per principal (default 50)")
    serve_parser.set_defaults(handler=run)


def serve(arguments: argparse.Namespace, keys: Keyring) -> None:
    import uvicorn

    from graph.sql import SqlStore
    from hub.app import create_app
    from hub.limits import Limits

    settings = settings_of(arguments)

    async def upgrade() -> None:
        store = await SqlStore.open(settings.db, sealer=keys.sealer())
        await store.close()

    asyncio.run(upgrade())
    store = SqlStore.connect(settings.db, sealer=keys.sealer())
    limits = Limits.default()
    if getattr(arguments, "rate", None):
        limits = limits.with_rate(arguments.rate)
    app = create_app(
        store,
        keys=keys,
        owns_store=True,
        introspection=not getattr(arguments, "no_introspection", False),
        limits=limits,
    )
    print(f"GraphiQL: http://{settings.host}:{settings.port}/graphql  (store: {settings.db})")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def run(arguments: argparse.Namespace) -> int:
    serve(arguments, load_keys(arguments))
    return 0
