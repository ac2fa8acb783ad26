"""Schema creation and migrations (Alembic), run on an open async connection."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.ciphers.sealing import Sealer

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection, sealer: Sealer | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["sealer"] = sealer  # migrations that seal stored personal data need it
    return config


def _upgrade(connection: Connection, revision: str, sealer: Sealer | None) -> None:
    command.upgrade(_config(connection, sealer), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(_config(connection), revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    """The newest revision the code knows."""
    script = ScriptDirectory(str(MIGRATIONS))
    revision = script.get_current_head()
    assert revision is not None
    return revision


async def upgrade(engine: AsyncEngine, revision: str = "head", *, sealer: Sealer | None = None) -> None:
    """Create the schema or bring it up to `revision`; safe to call on every start."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision, sealer)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back down to `revision` (what a revision added goes, with its rows):
    for an operator undoing an upgrade, and for the tests that check each way."""
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, revision)


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
