"""`hub db upgrade|current`: schema migrations, on SQL and graph stores alike."""

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
    """`upgrade` brings the store's schema to head (Alembic on SQL, the recorded version and
    indexes on a graph); both then say where it stands."""
    from graph.opening import open_store, revision

    db = settings_of(arguments).db
    store = await open_store(db, sealer=load_keys(arguments).sealer(), upgrade=arguments.action == "upgrade")
    try:
        found = await revision(store)
        print(f"{db}: at revision {found.at or '(empty)'}; newest is {found.newest}")
    finally:
        await store.close()
    return 0


def run(arguments: argparse.Namespace) -> int:
    return asyncio.run(_database(arguments))
