"""A large load (a demo city, a first full sync) without the costs that grow with the store.

Why a build slowed down as the store grew: every owner inserted lands at a random place in four
B-trees (its key and its three blind indexes are keyed hashes), so once those indexes outgrow
SQLite's page cache (128 MiB by default) each insert reads pages back from the file and each
commit rewrites thousands of scattered pages into the WAL; the place table's eight secondary
indexes (its ancestors', level and code) are updated per house besides. None of those secondary
indexes is read by the write path (it finds rows by their unique keys and parents by id).

`SqlStore.bulk_loading` defers them when the store holds no places yet (a city being built; into
a store that holds one, building them again would cost more than it saves): on entering, the
indexes in `DEFERRED` are dropped; on leaving they are built again from the finished tables (one
sort each, far cheaper than millions of scattered inserts). On SQLite the writing connection also gets a page cache big enough for the unique
indexes that stay (`CACHE_KIB`), and the pool is emptied on leaving so that no connection keeps
it. A load killed inside leaves the indexes missing: `restore` (run by every schema upgrade at
open) builds whatever is missing, so the next open repairs it.

Writes inside behave exactly as outside (same checks, counts and roll-ups); reads are answered
too, only without those indexes to help.
"""

from __future__ import annotations

from sqlalchemy import Index, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateIndex, DropIndex

from graph.sql import tables

_DEFERRED_NAMES = (
    "ix_owner_name_index",
    "ix_owner_id_number_index",
    "ix_owner_phone_index",
    "ix_place_level_code",
    *(f"ix_place_{tables.ancestor_column(level)}" for level in tables.ANCESTOR_LEVELS),
)


def _index(name: str) -> Index:
    for table in (tables.owner, tables.place):
        for index in table.indexes:
            if index.name == name:
                return index
    raise KeyError(f"no index {name} in graph.sql.tables")


DEFERRED: tuple[Index, ...] = tuple(_index(name) for name in _DEFERRED_NAMES)
"""Secondary indexes no write reads: dropped for a bulk load, built again after it."""

CACHE_KIB = 1_048_576
"""SQLite's page cache for the writing connection during a bulk load (1 GiB): the city's owner
keys, place codes and ownership keys (the unique indexes every write probes) fit in it."""


async def empty(connection: AsyncConnection) -> bool:
    """Whether the store holds no place yet."""
    return (await connection.execute(select(tables.place.c.id).limit(1))).first() is None


async def present(connection: AsyncConnection) -> set[str]:
    """The names of the deferrable indexes that exist now."""
    names = [str(index.name) for index in DEFERRED]
    if connection.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    found = {row[0] for row in await connection.exec_driver_sql(query)}
    return {name for name in names if name in found}


async def drop(connection: AsyncConnection) -> list[str]:
    """Drop the deferrable indexes that exist; returns their names."""
    dropped = []
    existing = await present(connection)
    for index in DEFERRED:
        if index.name in existing:
            await connection.execute(DropIndex(index))
            dropped.append(str(index.name))
    return dropped


async def restore(connection: AsyncConnection) -> list[str]:
    """Build the deferrable indexes that are missing; returns their names."""
    built = []
    existing = await present(connection)
    for index in DEFERRED:
        if index.name not in existing:
            await connection.execute(CreateIndex(index))
            built.append(str(index.name))
    if built and connection.dialect.name == "postgresql":
        await connection.exec_driver_sql("ANALYZE place")
        await connection.exec_driver_sql('ANALYZE "owner"')
    return built


async def tune_writer(connection: AsyncConnection) -> None:
    """The writing connection's settings for a bulk load (SQLite: a large page cache)."""
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")


async def restore_all(engine: AsyncEngine) -> list[str]:
    """`restore` in a transaction of its own (the schema upgrade's repair step)."""
    async with engine.begin() as connection:
        return await restore(connection)


__all__ = ["CACHE_KIB", "DEFERRED", "drop", "empty", "present", "restore", "restore_all", "tune_writer"]
