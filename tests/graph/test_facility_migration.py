"""Migration 0019: the facility tables arrive empty beside what was stored, leave on a
downgrade, and come back matching the code's tables."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from graph.ciphers.sealing import Sealer
from graph.scope import Scope
from graph.sql import SqlStore, migrate
from tests.conftest import PostgresDatabases
from tests.graph.conformance_devices import fleet
from tests.graph.conformance_facilities import event, life
from tests.graph.test_migrations import _drift

TABLES = {"facility", "facility_event"}


def _names(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def _up_and_down(url: str) -> None:
    store = await SqlStore.open(url, sealer=Sealer.generate(), upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0018")
        await fleet(store)
        async with store.engine.connect() as connection:
            assert not TABLES & await connection.run_sync(_names)
        await migrate.upgrade(store.engine, "0019")
        assert await store.save_facility(life("DT-A11-01"), event("DT-A11-01"))
        await migrate.downgrade(store.engine, "0018")
        async with store.engine.connect() as connection:
            assert not TABLES & await connection.run_sync(_names)
        await migrate.upgrade(store.engine)
        async with store.engine.connect() as connection:
            assert TABLES <= await connection.run_sync(_names)
            assert await connection.run_sync(_drift) == []
        assert await store.facilities(["DT-A11-01"], Scope.everything()) == [None]
        assert [d.code for d in await store.devices(["DT-A11-01"], Scope.everything()) if d] == ["DT-A11-01"]
        assert await store.save_facility(life("DT-A11-01"), event("DT-A11-01", at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))
    finally:
        await store.close()


async def test_facility_tables_come_and_go_sqlite(sqlite_path: str) -> None:
    await _up_and_down(sqlite_path)


@pytest.mark.postgres
async def test_facility_tables_come_and_go_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _up_and_down(await postgres_databases.create())
