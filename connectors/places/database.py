"""Places read from a database table (kind `places-db`): any SQLAlchemy URL the hub has a driver
for (PostgreSQL, SQLite), such as a city's GIS or division database.

The table (default `places`) has the columns of `connectors.places.streams`: `code` and `name`,
and any of `level`, `parent`, `updated` (a timestamp, or text), `geometry` (GeoJSON as text or a
JSON column), `parcel_codes` (text separated by `;`, or a JSON array) and `floors`; other columns
are ignored. Each stream reads the table in keyset pages by code (`code > last ORDER BY code
LIMIT page`) on a connection it closes after each page, keeps its level's rows after the saved
cursor and yields them in cursor order: a division table of a city (a few hundred thousand
rows) fits in memory, and nothing stays open on the source while the hub writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from sqlalchemy import MetaData, Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from connectors.base import Check, Config, ConfigField, ConfigSchema, ConnectorError, FieldType, SourceRecord, Stream
from connectors.places.streams import (
    ALIASES,
    COLUMNS,
    STREAM_NAMES,
    after_cursor,
    parse_cursor,
    places_streams,
    record_of,
    row_data,
    stream_level,
)
from connectors.sourcedb import CONNECT_SECONDS, SourceDatabase
from graph.levels import Level

PAGE = 2_000
"""Rows per keyset page: one round trip, one connection."""


class PlacesDatabase(SourceDatabase):
    """A table of places read through SQLAlchemy (asyncpg, aiosqlite)."""

    kind: ClassVar[str] = "places-db"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField(
                "url",
                FieldType.URL,
                "SQLAlchemy URL of the database: postgresql://user:password@host/db or sqlite:///file",
                secret=True,
            ),
            ConfigField("table", FieldType.STRING, "the table of places (default places)", required=False, default="places"),
            ConfigField("schema", FieldType.STRING, "the schema holding it (default: the connection's search path)", required=False),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        super().__init__(name, config["url"], "places database")
        self.name = name
        self.config = config
        self.table_name = str(config.values.get("table") or "places")
        self.schema = config.values.get("schema")
        self.page = PAGE
        self._table: Table | None = None
        self._streams = places_streams(self._read)

    def streams(self) -> Sequence[Stream]:
        return self._streams

    async def table(self) -> Table:
        """The table as the database declares it (read once), with `code` and `name` present."""
        if self._table is not None:
            return self._table

        def reflect(connection: Connection) -> Table:
            return Table(self.table_name, MetaData(), autoload_with=connection, schema=self.schema)

        where = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        try:
            async with asyncio.timeout(CONNECT_SECONDS * 2):
                async with self.engine.connect() as connection:
                    table = await connection.run_sync(reflect)
        except NoSuchTableError:
            raise ConnectorError(f"{self.name}: the places database at {self.shown_url} has no table {where}") from None
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            raise self.failure(f"reading table {where}", error) from None
        names = {ALIASES.get(column.name.lower(), column.name.lower()) for column in table.columns}
        missing = [column for column in ("code", "name") if column not in names]
        if missing:
            shown = ", ".join(column.name for column in table.columns)
            raise ConnectorError(f"{self.name}: table {where} has no column {', '.join(missing)} (its columns: {shown})")
        self._table = table
        return table

    def _columns(self, table: Table) -> list[Any]:
        return [column for column in table.columns if ALIASES.get(column.name.lower(), column.name.lower()) in COLUMNS]

    def _code(self, table: Table) -> Any:
        return next(column for column in table.columns if column.name.lower() == "code")

    async def _read(self, level: Level, after: str | None) -> AsyncIterator[SourceRecord]:
        name = STREAM_NAMES[level]
        if after is not None:
            try:
                parse_cursor(after)
            except ValueError as error:
                raise ConnectorError(f"{self.name}: stream {name}: {error}; reset the connector's cursors") from None
        table = await self.table()
        code, columns = self._code(table), self._columns(table)
        records: list[SourceRecord] = []
        last: Any = None
        while True:
            query = select(*columns).where(code.is_not(None)).order_by(code).limit(self.page)
            if last is not None:
                query = query.where(code > last)
            try:
                async with self.engine.connect() as connection:
                    rows = (await connection.execute(query)).all()
            except (SQLAlchemyError, OSError, TimeoutError) as error:
                raise self.failure(f"reading {self.table_name} ({name}) after {len(records)} rows", error) from None
            for row in rows:
                data = row_data(dict(row._mapping))
                if stream_level(data) == level:
                    records.append(record_of(name, data, f"{self.table_name}:{row._mapping[code.name]}"))
            if len(rows) < self.page:
                break
            last = rows[-1]._mapping[code.name]
        for record in after_cursor(records, after):
            yield record

    async def check(self) -> Check:
        try:
            table = await self.table()
            async with asyncio.timeout(CONNECT_SECONDS * 2):
                async with self.engine.connect() as connection:
                    count = (await connection.execute(select(func.count()).select_from(table))).scalar_one()
        except ConnectorError as error:
            return Check(False, str(error))
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            return Check(False, str(self.failure(f"counting {self.table_name}", error)))
        shown = ", ".join(column.name for column in self._columns(table))
        return Check(True, f"{self.name}: {self.shown_url}: table {self.table_name}: readable, {count} rows (columns {shown})")

    async def close(self) -> None:
        await super().close()
        self._table = None
