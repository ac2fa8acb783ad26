"""Engines for the SQL store: URLs users type, drivers the store uses, SQLite tuned for a hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from graph.errors import InvalidInput

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def database_url(text: str) -> URL:
    """The async URL for what a user typed: `sqlite:///hub.sqlite`, a bare path, or `postgresql://…`.

    >>> database_url("hub.sqlite").drivername
    'sqlite+aiosqlite'
    >>> database_url("postgresql://127.0.0.1/test").drivername
    'postgresql+asyncpg'
    """
    if "://" not in text:
        return URL.create("sqlite+aiosqlite", database=str(Path(text).expanduser()))
    try:
        url = make_url(text)
    except ArgumentError:
        raise InvalidInput("db", text, "is not a database URL (sqlite:///FILE or postgresql://…)") from None
    backend = url.drivername.split("+", 1)[0]
    if backend not in _DRIVERS:
        raise InvalidInput("db", text, "must be a sqlite:// or postgresql:// URL")
    return url.set(drivername=_DRIVERS[backend])


BUSY_TIMEOUT_MS = 10_000
"""How long SQLite itself waits for a lock before a statement fails `database is locked`; writers
then try again with backoff (graph.sql.writers)."""


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a connector writes; NORMAL sync is safe with WAL and fast.
    # The busy timeout comes first: switching a new connection to WAL takes a lock too.
    cursor = dbapi_connection.cursor()
    for pragma in (
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "cache_size=-131072",
        "temp_store=MEMORY",
        "mmap_size=1073741824",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # Python's sqlite3 opens no transaction for a SELECT and writes go through
        # engine.begin(), so the rollback on return would be a thread hop that does nothing.
        engine = create_async_engine(url, pool_size=8, max_overflow=8, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
