"""Writers take turns: on SQLite one write transaction at a time per store, each taking the
database's write lock first and waiting for other processes' writers with backoff.

SQLite has one write lock per database file. Left to itself, each waiting writer sat in its own
driver thread inside SQLite's busy handler (which polls, so the longest waiter is not served
first) holding a pooled connection, and after the busy timeout the request failed with `database
is locked`: under a few dozen concurrent requests an audit append lost, the ASGI app raised and
the client saw its connection dropped. Now:

- writers of this store queue on an asyncio lock (first come, first served), so at most one
  pooled connection waits for SQLite's lock and readers keep the rest of the pool;
- the one at the head takes the lock with `BEGIN IMMEDIATE` before its first read (a deferred
  transaction that reads first cannot wait for the lock once another writer has committed),
  and while another process (a `hub` command, a Celery worker) holds it, tries again with
  backoff: the engine's busy timeout, then short sleeps that leave the event loop free;
- a writer that has not had its turn within `patience` seconds (waiting in the queue included)
  gives up with `StoreBusy`, which callers show as a "busy, try again" answer, never a trace.

PostgreSQL's writers do not queue here: rows are locked where the adapter needs them (advisory
locks for the audit chain and alarm raising, `FOR UPDATE` for cases).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.errors import StoreBusy

PATIENCE_SECONDS = 30.0
"""How long a writer waits for its turn, in the queue and for SQLite's lock together."""
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 1.0
"""Backoff between tries of SQLite's lock once its busy timeout ran out, in seconds."""
_BUSY = ("database is locked", "database is busy", "database table is locked")


def is_busy(error: BaseException) -> bool:
    """Whether a database error says another writer holds the lock (SQLITE_BUSY / LOCKED)."""
    original = getattr(error, "orig", error)
    return isinstance(error, OperationalError) and any(words in str(original).lower() for words in _BUSY)


class WriteTurns:
    """The write transactions of one store's engine; see the module docstring."""

    def __init__(self, engine: AsyncEngine, *, patience: float = PATIENCE_SECONDS) -> None:
        self.engine = engine
        self.patience = patience
        self.sqlite = engine.dialect.name == "sqlite"
        # a lock per event loop: a store opened in one loop may be used from another (tests, CLI)
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        self.written: Callable[[], Awaitable[None]] | None = None
        """Awaited after each write transaction commits (not `quiet` ones): how the hub learns
        that answers may have changed (hub.cluster.watch_writes)."""

    def _queue(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = asyncio.Lock()
        return queue

    @contextlib.asynccontextmanager
    async def writing(self, *, quiet: bool = False) -> AsyncIterator[AsyncConnection]:
        """A transaction that is this store's only writer on SQLite until it commits or rolls
        back; on PostgreSQL a plain transaction. StoreBusy when the turn does not come. Once it
        committed, `written` is awaited unless `quiet` (the audit log's appends: no answer of
        the hub's caches reads it)."""
        if not self.sqlite:
            async with self.engine.begin() as connection:
                yield connection
            if self.written is not None and not quiet:
                await self.written()
            return
        deadline = time.monotonic() + self.patience
        queue = self._queue()
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
            # arrives as the lock is granted, and a cancelled writer (a stopping pipeline) ran on
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await queue.acquire()
        except TimeoutError:
            raise self._busy("other writers of this hub") from None
        try:
            async with self.engine.begin() as connection:
                await self._lock(connection, deadline)
                yield connection
        finally:
            queue.release()
        if self.written is not None and not quiet:
            await self.written()

    async def _lock(self, connection: AsyncConnection, deadline: float) -> None:
        pause = FIRST_PAUSE
        while True:
            try:
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as error:
                if not is_busy(error):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._busy("another process") from error
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, LONGEST_PAUSE)

    def _busy(self, holder: str) -> StoreBusy:
        return StoreBusy(f"the store is busy: {holder} held its write lock for over {self.patience:g} seconds; try again shortly")
