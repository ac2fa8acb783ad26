"""A source system's database read through SQLAlchemy (asyncpg, aiosqlite): the connection
handling the database kinds share (`registry-db`, `places-db`).

The URL is checked when the connector is configured and never shown with its password; SQLite
files are opened read-only (a missing file is an error, never an empty database made where the
source should be); each keyset page borrows a connection and gives it back closed (no pool), so
nothing stays open on the source's server while the hub writes, and a failure is one line in
the driver's own words.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from connectors.base import ConnectorError
from graph.errors import InvalidInput

CONNECT_SECONDS = 10
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def source_url(connector: str, text: str) -> URL:
    """The async driver URL for `text` (postgresql://… or sqlite:///…); errors never show it,
    since it may carry a password."""
    where = f"connectors.{connector}.url"
    try:
        url = make_url(text)
    except ArgumentError:
        raise InvalidInput(where, "***", "is not a database URL (postgresql://user:password@host/db or sqlite:///file)") from None
    backend = url.drivername.split("+", 1)[0]
    if backend not in _DRIVERS:
        raise InvalidInput(where, "***", f"must be a postgresql:// or sqlite:// URL, not {backend}://")
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise InvalidInput(where, "***", "must name a SQLite file (sqlite:///path/to/exchange.sqlite)")
    return url.set(drivername=_DRIVERS[backend])


def driver_words(error: BaseException) -> str:
    """The driver's own words (not SQLAlchemy's wrapping with the statement and a help link)."""
    original: BaseException = getattr(error, "orig", None) or error
    inner = original.__cause__ or original.__context__
    if inner is not None and type(original).__name__ in ("Error", "DBAPIError", "OperationalError", "InterfaceError"):
        original = inner  # the adapter's generic class wraps the driver's telling one
    text = " ".join(str(original).split()) or type(original).__name__
    return f"{type(original).__name__}: {text}"[:300]


class SourceDatabase:
    """The connection to one connector's source database; `what` names it in messages (the
    registry exchange database, the places database)."""

    def __init__(self, connector: str, url: str, what: str) -> None:
        self.connector = connector
        self.url = source_url(connector, url)
        self.what = what
        self._engine: AsyncEngine | None = None

    @property
    def shown_url(self) -> str:
        """The URL as logs and messages may show it: password hidden."""
        return self.url.set(drivername=self.url.get_backend_name()).render_as_string(hide_password=True)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            if self.url.get_backend_name() == "sqlite":
                # read only, and never create an empty file where the source's database should be
                url = self.url.set(database=f"file:{self.url.database}", query={"mode": "ro", "uri": "true"})
                self._engine = create_async_engine(url, poolclass=NullPool)
            else:
                self._engine = create_async_engine(
                    self.url,
                    poolclass=NullPool,
                    connect_args={
                        "timeout": CONNECT_SECONDS,
                        "server_settings": {"application_name": f"hub-{self.connector}"[:60]},
                    },
                )
        return self._engine

    def failure(self, what: str, error: BaseException) -> ConnectorError:
        """`what` (reading a stream, checking a table) failed: one line, password hidden."""
        message = f"{self.connector}: {what} in the {self.what} at {self.shown_url} failed: {driver_words(error)}"
        if self.url.password:
            message = message.replace(str(self.url.password), "***")
        return ConnectorError(message)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
