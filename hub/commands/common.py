"""What several commands share: the store and key options, and opening both."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from graph.ciphers.keyring import Keyring
from graph.errors import StoreError
from graph.store import Store
from hub.settings import DEFAULT_KEYS, Settings


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        help="store URL: sqlite:///FILE (default sqlite:///hub.sqlite, or $HUB_DB), postgresql://…, "
        "or a graph: falkordb://HOST:PORT/GRAPH, bolt:// or neo4j://",
    )
    parser.add_argument("--keys", help=f"the hub's key file (default {DEFAULT_KEYS}, or $HUB_KEYS)")


def add_server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")


def settings_of(arguments: argparse.Namespace) -> Settings:
    """The environment's settings, overridden by whichever of these options the command has."""
    return Settings.from_env(
        **{name: getattr(arguments, name, None) for name in ("db", "host", "port", "keys", "connectors", "broker", "queue")}
    )


def keys_path(arguments: argparse.Namespace) -> Path:
    return Path(getattr(arguments, "keys", None) or os.environ.get("HUB_KEYS", DEFAULT_KEYS))


def load_keys(arguments: argparse.Namespace) -> Keyring:
    return Keyring.load(keys_path(arguments))


async def open_store(
    arguments: argparse.Namespace, keys: Keyring | None = None, *, upgrade: bool = True
) -> Store:
    """The store the arguments name; `upgrade=False` for commands that must not write to it
    (an auditor may be reading a replica)."""
    from graph.opening import open_store as opening, revision

    keyring = keys or load_keys(arguments)
    db = settings_of(arguments).db
    store = await opening(db, sealer=keyring.sealer(), upgrade=upgrade)
    if not upgrade:
        found = await revision(store)
        if not found.current:
            await store.close()
            raise StoreError(
                f"{db} is at schema revision {found.at or '(none: not a hub database yet)'}, not {found.newest}; "
                "this command does not change the database: run `hub db upgrade` first"
            )
    return store


def check_database(arguments: argparse.Namespace) -> None:
    """For a command that takes --db: open the database once before anything else and raise
    `Unreachable` (one line: what failed, what to check) when it cannot be opened — a server that
    is down, a database or user it does not have, a SQLite file in a folder that does not exist.
    `hub.cli` calls this for every command, so none prints a driver's traceback instead."""
    if not hasattr(arguments, "db"):
        return
    from graph.opening import reach

    asyncio.run(reach(settings_of(arguments).db))


def database_failure(arguments: argparse.Namespace, error: BaseException) -> str | None:
    """`error` in one line when it says the command's database could not be opened (it went
    away after `check_database`); None for any other error."""
    if not hasattr(arguments, "db"):
        return None
    from graph.opening import failure

    return failure(settings_of(arguments).db, error)
