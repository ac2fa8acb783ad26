"""SQLite through aiosqlite with one trip to the connection's thread per statement.

SQLAlchemy's aiosqlite adapter crosses to the connection's thread four times for every
statement: to make a cursor, to execute, to fetch the rows and to close the cursor. Each
crossing is a queue put, a thread wake-up and a `call_soon_threadsafe` back to the event loop,
which cost more than the indexed read itself: a `house(code)` request paid sixteen of them. Here
a statement is one function run on that thread (cursor, execute, fetch all, close) and its rows
come back together.

A rollback with no transaction open (after reads: Python's sqlite3 begins none for a SELECT)
is not sent to the thread at all. Only these two change; server-side cursors (`stream()`) keep aiosqlite's own, and
the thread, the queue, transactions and errors are aiosqlite's as before.

>>> import asyncio, sqlalchemy
>>> from sqlalchemy.ext.asyncio import create_async_engine
>>> async def answer():
...     engine = create_async_engine("sqlite+aiosqlite://", module=one_hop_dbapi())
...     async with engine.connect() as connection:
...         value = (await connection.execute(sqlalchemy.text("SELECT 6 * 7"))).scalar()
...     await engine.dispose()
...     return value
>>> asyncio.run(answer())
42
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

_HERE: ContextVar[bool] = ContextVar("graph.sql.onehop.here", default=False)


@contextlib.contextmanager
def here() -> Iterator[None]:
    """Statements executed within run on the event loop's own thread, no trip at all: for point
    reads by an index (a few keys), which take SQLite tens of microseconds, less than the trip.
    Safe because a pooled connection serves one task at a time and everything it sent to its
    thread was awaited (the connection is opened with `check_same_thread=False`); a read in WAL
    mode does not wait for writers. Elsewhere than SQLite it changes nothing."""
    token = _HERE.set(True)
    try:
        yield
    finally:
        _HERE.reset(token)


Outcome = tuple[Any, list[Any], int, int | None]
"""What one statement left behind: its description, rows, rowcount and lastrowid."""


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """One statement on the connection's own thread, its rows read before the cursor closes."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        return description, cursor.fetchall() if description else [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


async def _run_here(connection: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    return _run(connection, operation, parameters, False)


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement goes to the thread once, rows and all.

    The base class opens an aiosqlite cursor when it is made (one trip); this one holds the
    outcome of its last statement instead, so `_cursor` stays None and everything the base
    class would ask the aiosqlite cursor is answered from that outcome.
    """

    __slots__ = ("_outcome",)

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._outcome: Outcome = (None, [], -1, None)

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[2]

    @property
    def lastrowid(self) -> int:
        return self._outcome[3]  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    def _go(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection
        try:
            if _HERE.get() and not many:
                # awaited still (SQLAlchemy requires a statement to await), but nothing suspends
                self._outcome = await_(_run_here(connection._conn, operation, parameters))
            else:
                # aiosqlite's own way onto its thread; `_conn` raises if the connection is closed
                self._outcome = await_(connection._execute(_run, connection._conn, operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._rows = collections.deque(self._outcome[1])

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._go(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        self._go(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None  # nothing open on the thread: the cursor closed where it ran

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def rollback(self) -> None:
        # SQLAlchemy rolls back whatever it began when a connection is closed or returned, reads
        # too (two trips per `engine.connect()` block); Python's sqlite3 opens no transaction
        # for a SELECT, so after reads there is nothing to roll back and no trip to make.
        # `in_transaction` reads SQLite's autocommit flag, safe from this thread while nothing
        # of this connection runs on its own (everything sent there was awaited).
        sqlite_connection = self._connection._connection
        if sqlite_connection is not None and not sqlite_connection.in_transaction:
            return
        super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy's DBAPI, its connections making one-hop cursors."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDBAPI:
    """The `module=` to hand `create_async_engine` for a `sqlite+aiosqlite` URL."""
    return OneHopDBAPI(aiosqlite, sqlite3)
