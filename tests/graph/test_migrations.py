"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from graph.ciphers.sealing import Sealer
from graph.codes import resident_id_check_digit
from graph.levels import Level
from graph.model import Batch, Owner, OwnerKind, Ownership, Place
from graph.scope import Scope
from graph.sql import SqlStore, migrate
from graph.sql.tables import metadata
from tests.conftest import PostgresDatabases


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def _check(url: str) -> None:
    store = await SqlStore.open(url, sealer=Sealer.generate())
    try:
        assert await migrate.current(store.engine) == migrate.head()
        async with store.engine.connect() as connection:
            assert await connection.run_sync(_drift) == []
        await migrate.upgrade(store.engine)  # a second upgrade is a no-op
        assert await migrate.current(store.engine) == migrate.head()
    finally:
        await store.close()


async def test_sqlite_schema_matches_the_tables(sqlite_path: str) -> None:
    await _check(f"sqlite:///{sqlite_path}")


@pytest.mark.postgres
async def test_postgresql_schema_matches_the_tables(postgres_databases: PostgresDatabases) -> None:
    await _check(await postgres_databases.create())


async def test_owner_ids_are_keyed_on_upgrade_and_their_sealed_data_follows(sqlite_path: str) -> None:
    """0007: an owner stored under the old plain-hash id moves to its keyed id, its personal data
    sealed again under the new id, its ownerships still its own."""
    sealer = Sealer.generate()
    number = "37020219800101123" + resident_id_check_digit("37020219800101123")
    legacy = "OW" + hashlib.sha256(b"hub-demo-owner:" + number.encode()).hexdigest()[:16].upper()
    store = await SqlStore.open(sqlite_path, sealer=sealer, upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0006", sealer=sealer)
        house = "370202001001GB00001F00010001"
        await store.write(Batch(
            places=[
                Place("370200", Level.CITY, "青岛市", None), Place("370202", Level.DISTRICT, "市南区", "370200"),
                Place("370202001", Level.STREET, "香港中路街道", "370202"), Place("370202001001", Level.COMMUNITY, "云霄路社区", "370202001"),
                Place("370202001001E001", Level.ESTATE, "海信花园", "370202001001"),
                Place("370202001001GB00001F0001", Level.BUILDING, "1号楼", "370202001001E001"),
                Place("370202001001GB00001F000101", Level.ENTRANCE, "1单元", "370202001001GB00001F0001"),
                Place(house, Level.HOUSE, "101", "370202001001GB00001F000101"),
            ],
            owners=[Owner(legacy, OwnerKind.PERSON, "张翀", number, "13900001234")],
            ownerships=[Ownership(house, legacy, 1.0, dt.date(2020, 1, 1))],
        ))
        await migrate.upgrade(store.engine, sealer=sealer)
        keyed = sealer.owner_ids()(number)
        everything = Scope.everything()
        assert keyed != legacy and await store.owners([legacy], everything) == [None]
        [owner] = await store.owners([keyed], everything)
        assert owner is not None and (owner.name, owner.id_number, owner.phone) == ("张翀", number, "13900001234")
        [[span]] = await store.ownerships([house], None, everything)
        assert span.owner_id == keyed
    finally:
        await store.close()


async def _rollups_recomputed(url: str) -> None:
    from sqlalchemy import delete, update

    from graph.sql import tables
    from tests.graph.conformance import CITY, FACTS, SHINAN, assert_figures, fixture_city

    sealer = Sealer.generate()
    store = await SqlStore.open(url, sealer=sealer, upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0007", sealer=sealer)
        await store.write(fixture_city())
        # rows as an older hub left them: some never refreshed, some stale
        async with store.engine.begin() as connection:
            ids = {row.code: row.id for row in await connection.execute(tables.place.select())}
            await connection.execute(delete(tables.place_stats).where(tables.place_stats.c.place_id == ids[SHINAN]))
            await connection.execute(update(tables.place_stats).where(tables.place_stats.c.place_id == ids[CITY]).values(houses=3, owners=0))
        every = sorted(FACTS.places)
        [shinan] = await store.place_stats([SHINAN], Scope.everything())
        assert shinan is not None and shinan.houses == 0
        await migrate.upgrade(store.engine, sealer=sealer)
        for code, row in zip(every, await store.place_stats(every, Scope.everything())):
            assert row is not None, code
            assert_figures(row, FACTS.stats(code))
    finally:
        await store.close()


async def test_rollups_are_recomputed_once_on_upgrade_sqlite(sqlite_path: str) -> None:
    """0008: writes keep roll-ups current from their children's rows from now on, so every row an
    older hub left stale or never wrote is worked out once from the houses themselves."""
    await _rollups_recomputed(sqlite_path)


async def test_rollups_are_recomputed_once_on_upgrade_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _rollups_recomputed(await postgres_databases.create())
