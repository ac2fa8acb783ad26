"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from graph.ciphers.sealing import Sealer
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
