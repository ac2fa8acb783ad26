"""`open_store(url)`: the one place that picks a store adapter from a URL. Nothing else calls an
adapter's constructor: commands, the server, workers and tests all open stores here.

- a path or `sqlite://` URL, or `postgresql://`: the SQL store (graph.sql);
- `falkordb://host:port/graph`, `bolt://` or `neo4j://`: the Cypher store (graph.cypher).

Beside opening, what commands need of a store URL whatever the backend: `connect_store` (a
store without touching its schema, for a server that upgraded it first), `reach` (can it be
opened at all: one `Unreachable` line if not), `revision` (the schema version an open store
records and this hub's newest), `wipe` (empty it for `hub demo --fresh`) and `failure` (a
driver error as the one line a user needs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from graph.ciphers.sealing import Sealer
from graph.clock import today
from graph.store import Store

GRAPH_SCHEMES = ("falkordb://", "bolt://", "neo4j://", "bolt+s://", "neo4j+s://", "bolt+ssc://", "neo4j+ssc://")


def is_graph_url(url: str) -> bool:
    return url.lower().startswith(GRAPH_SCHEMES)


async def open_store(
    url: str, *, sealer: Sealer, upgrade: bool = True, clock: Callable[[], dt.date] = today
) -> Store:
    """The store `url` names, its schema brought to head unless `upgrade` is false."""
    if is_graph_url(url):
        from graph.cypher.store import CypherStore

        return await CypherStore.open(url, sealer=sealer, upgrade=upgrade, clock=clock)
    from graph.sql import SqlStore

    return await SqlStore.open(url, sealer=sealer, upgrade=upgrade, clock=clock)


def connect_store(url: str, *, sealer: Sealer, clock: Callable[[], dt.date] = today) -> Store:
    """The store `url` names without touching its schema (connections open on first use, in the
    event loop that uses them): for a server that upgraded the store before starting its loop."""
    if is_graph_url(url):
        from graph.cypher.store import CypherStore
        from graph.cypher.transport import connect

        return CypherStore(connect(url), sealer=sealer, clock=clock)
    from graph.sql import SqlStore

    return SqlStore.connect(url, sealer=sealer, clock=clock)


async def reach(url: str) -> None:
    """Open one connection to the store `url` names and close it, or raise `Unreachable` (one
    line: what failed, what to check). Nothing is created: a SQLite file's folder must exist, a
    graph need not (the first write creates it)."""
    if not is_graph_url(url):
        from graph.sql.engine import reach as reach_sql

        await reach_sql(url)
        return
    from graph.cypher.schema import VERSION
    from graph.cypher.transport import connect
    from graph.errors import StoreError
    from graph.errors import Unreachable

    transport = connect(url)
    try:
        await transport.run(VERSION)
    except Unreachable:
        raise
    except StoreError:
        pass  # the server answered (a graph never written cannot be read on FalkorDB)
    finally:
        await transport.close()


@dataclass(frozen=True, slots=True)
class SchemaAt:
    """The schema version a store records (None: not a hub store yet) and this hub's newest."""

    at: str | None
    newest: str

    @property
    def current(self) -> bool:
        return self.at == self.newest


async def revision(store: Store) -> SchemaAt:
    """The schema version an open store records."""
    transport = getattr(store, "transport", None)
    if transport is not None:
        return await _graph_schema(transport)
    from graph.sql import migrate

    return SchemaAt(await migrate.current(cast(Any, store).engine), migrate.head())


async def _graph_schema(transport: Any) -> SchemaAt:
    from graph.cypher import schema

    at = await schema.current(transport)
    return SchemaAt(None if at is None else str(at), str(schema.HEAD))


async def wipe(url: str) -> bool:
    """Empty the store `url` names, for a demo built afresh: a graph is deleted, a SQLite file
    (and its -wal, -shm) removed. False for a PostgreSQL database, which is left alone."""
    if is_graph_url(url):
        from graph.cypher.transport import connect

        transport = connect(url)
        try:
            await transport.drop()
        finally:
            await transport.close()
        return True
    path = sqlite_file(url)
    if path is None:
        return False
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return True


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store URL; None for any other store (or an in-memory one)."""
    if is_graph_url(url):
        return None
    from graph.sql.engine import database_url

    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def graph_name(url: str) -> str | None:
    """The graph (or Neo4j database) a graph store URL names; None for a SQL store."""
    if not is_graph_url(url):
        return None
    from graph.cypher.transport import GraphUrl

    return GraphUrl.parse(url).graph


def failure(url: str, error: BaseException) -> str | None:
    """`error` in one line when it says the store `url` names could not be opened; None for any
    other error. (The graph transports raise `Unreachable` themselves.)"""
    if is_graph_url(url):
        return None
    from graph.sql.engine import database_url, unreachable

    try:
        parsed = database_url(url)
    except Exception:
        return None
    found = unreachable(error, parsed)
    return None if found is None else str(found)
