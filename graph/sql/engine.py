"""Engines for the SQL store: URLs users type, drivers the store uses, SQLite tuned for a hub."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from graph.errors import InvalidInput, Unreachable
from graph.sql.onehop import one_hop_dbapi

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
        # one trip to the connection's thread per statement, not four (graph.sql.onehop)
        engine = create_async_engine(
            url,
            module=one_hop_dbapi(),
            # point reads may run on the event loop's thread (graph.sql.onehop.here)
            connect_args={"check_same_thread": False},
            pool_size=16,
            max_overflow=16,
            pool_reset_on_return=None,
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


REACH_SECONDS = 10.0
"""How long `reach` waits for a PostgreSQL server to answer before saying it does not."""

_CHECK = "check --db or $HUB_DB"


def shown(url: URL) -> str:
    """The URL as a user typed it, without its password."""
    backend = url.get_backend_name()
    return url.set(drivername="postgresql" if backend == "postgresql" else backend).render_as_string(hide_password=True)


async def reach(text: str) -> None:
    """Open one connection to the database `text` names and close it, or raise `Unreachable`
    saying what failed. A SQLite file must be in a folder that exists (the file itself is
    created on first use); nothing is created here."""
    url = database_url(text)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            folder = Path(url.database).expanduser().absolute().parent
            if not folder.is_dir():
                raise Unreachable(
                    f"cannot open the SQLite store {url.database}: the folder {folder} does not exist; "
                    f"create it, or {_CHECK}"
                )
        return
    engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": REACH_SECONDS})
    try:
        async with engine.connect():
            pass
    except Exception as error:
        raise (unreachable(error, url) or Unreachable(f"cannot open {shown(url)}: {_last_words(error)}; {_CHECK}")) from None
    finally:
        await engine.dispose()


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what caused it, and the driver's own error that SQLAlchemy wraps (`orig`)."""
    seen: set[int] = set()
    waiting: list[BaseException | None] = [error]
    while waiting:
        item = waiting.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        waiting += [getattr(item, "orig", None), item.__cause__, item.__context__]


def _last_words(error: BaseException) -> str:
    """The innermost cause's message, on one line."""
    last = list(_chain(error))[-1]
    return " ".join(str(last).split()) or type(last).__name__


def unreachable(error: BaseException, url: URL) -> Unreachable | None:
    """`error` as the one line a user needs when it says the database could not be opened
    (server down or unknown, no such database, user or password refused, SQLite file not
    openable); None for any other error."""
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    for item in _chain(error):
        state = getattr(item, "sqlstate", None)
        if state == "3D000":
            return Unreachable(
                f"the PostgreSQL server at {where} has no database {url.database!r}: "
                f"create it (createdb {url.database}), or {_CHECK}"
            )
        if state in ("28000", "28P01"):
            return Unreachable(
                f"the PostgreSQL server at {where} refused user {url.username!r}: {_last_words(item)}; "
                f"check the user and password in --db or $HUB_DB"
            )
        if isinstance(item, socket.gaierror):
            return Unreachable(f"cannot find the database host {url.host!r} ({item.strerror}); {_CHECK}")
        if isinstance(item, (asyncio.TimeoutError, TimeoutError)):
            return Unreachable(
                f"the PostgreSQL server at {where} did not answer within {REACH_SECONDS:.0f} s: "
                f"is it running, and does a firewall let you through? {_CHECK}"
            )
        if isinstance(item, ConnectionRefusedError) or (isinstance(item, OSError) and "Connect call failed" in str(item)):
            return Unreachable(
                f"cannot reach the PostgreSQL server at {where} (connection refused): "
                f"is it running and listening there? {_CHECK}"
            )
        if type(item).__name__ == "OperationalError" and "unable to open database file" in str(item):
            return Unreachable(f"cannot open the SQLite store {url.database}: {_last_words(item)}; {_CHECK}")
    return None
