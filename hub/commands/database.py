"""`hub db upgrade|current`: schema migrations."""

from __future__ import annotations

import argparse
import asyncio

from hub.commands.common import add_db, load_keys, settings_of


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    database = commands.add_parser("db", help="schema migrations")
    database.add_argument("action", choices=["upgrade", "current"])
    add_db(database)
    database.set_defaults(handler=run)


async def _database(arguments: argparse.Namespace) -> int:
    from graph.sql import SqlStore, migrate

    db = settings_of(arguments).db
    store = await SqlStore.open(db, sealer=load_keys(arguments).sealer(), upgrade=arguments.action == "upgrade")
    try:
        revision = await migrate.current(store.engine)
        print(f"{db}: at revision {revision or '(empty)'}; newest is {migrate.head()}")
    finally:
        await store.close()
    return 0


def run(arguments: argparse.Namespace) -> int:
    return asyncio.run(_database(arguments))
