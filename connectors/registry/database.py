"""The registry read from its exchange database (kind `registry-db`), PostgreSQL or SQLite.

Each stream reads the rows after the saved cursor in keyset pages: `(gxsj, key) > (last)
ORDER BY gxsj, key LIMIT page`, which the (gxsj, key) index answers on both backends, so a full
read of millions of rows holds one page in memory. No connection (nor a snapshot of the
registry's database) is held while the hub writes a batch: each page borrows a connection and
gives it back closed (no pool), so a sync that stops half-way — or a source nobody closes —
leaves nothing open on the registry's server. Registrations are read joined to their holders'
qlr rows so that each carries the hub owner ids derived from the holders' ID numbers (and no
ID number).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import Check, Config, ConfigField, ConfigSchema, ConnectorError, FieldType, SourceRecord, Stream
from connectors.registry import exchange
from connectors.registry.streams import (
    CURSOR_FIELD,
    SPECS,
    RegistryStream,
    StreamSpec,
    parse_cursor,
    row_data,
    with_holder_numbers,
)
from connectors.sourcedb import CONNECT_SECONDS, SourceDatabase

PAGE = 2_000
"""Rows per keyset page: one round trip, one connection."""


class RegistryDatabase(SourceDatabase):
    """A 不动产登记 exchange database read through SQLAlchemy (asyncpg, aiosqlite)."""

    kind: ClassVar[str] = "registry-db"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField(
                "url",
                FieldType.URL,
                "SQLAlchemy URL of the exchange database: postgresql://user:password@host/db or sqlite:///file",
                secret=True,
            ),
            ConfigField(
                "schema",
                FieldType.STRING,
                "database schema holding bdcdy, qlr and djxx (default: the connection's search path)",
                required=False,
            ),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        super().__init__(name, config["url"], "registry exchange database")
        self.name = name
        self.config = config
        self.tables = exchange.exchange_tables(config.values.get("schema"))
        self.page = PAGE
        """Rows per keyset page (smaller in tests, to fail between pages)."""
        self._streams = [DatabaseStream(self, spec) for spec in SPECS]

    def streams(self) -> Sequence[Stream]:
        return self._streams

    async def check(self) -> Check:
        lines = []
        try:
            async with asyncio.timeout(CONNECT_SECONDS * 2):
                async with self.engine.connect() as connection:
                    for spec in SPECS:
                        table = self.tables.by_name(spec.table)
                        row = (await connection.execute(select(table).limit(1))).first()
                        latest = (await connection.execute(select(func.max(table.c[CURSOR_FIELD])))).scalar()
                        state = f"latest gxsj {latest:%Y-%m-%d %H:%M:%S}" if row is not None and latest else "empty"
                        lines.append(f"{spec.name} ({spec.table}): readable, {state}")
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            return Check(False, str(self.failure("reading " + ", ".join(s.table for s in SPECS), error)))
        return Check(True, f"{self.name}: {self.shown_url}: " + "; ".join(lines))


class DatabaseStream(RegistryStream):
    def __init__(self, source: RegistryDatabase, spec: StreamSpec) -> None:
        super().__init__(spec)
        self.source = source

    def query(self, after: tuple[dt.datetime, str] | None) -> Select[Any]:
        """The next page of rows after (gxsj, key), in that order: a row-value comparison the
        (gxsj, key) index answers on both backends."""
        tables = self.source.tables
        table = tables.by_name(self.spec.table)
        stamp, key = table.c[CURSOR_FIELD], table.c[self.spec.key]
        columns = [table.c[name] for name in exchange.COLUMNS[self.spec.table]]
        if self.spec.table == exchange.REGISTRATIONS:
            holder, previous = tables.holders.alias("q"), tables.holders.alias("y")
            query = select(*columns, holder.c.zjhm.label("qlr_zjhm"), previous.c.zjhm.label("yqlr_zjhm")).select_from(
                table.outerjoin(holder, holder.c.qlrid == table.c.qlrid).outerjoin(previous, previous.c.qlrid == table.c.yqlrid)
            )
        else:
            query = select(*columns)
        query = query.where(stamp.is_not(None))  # a row never stamped has no place in cursor order
        if after is not None:
            query = query.where(tuple_(stamp, key) > tuple_(*after))
        return query.order_by(stamp, key).limit(self.source.page)

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        position: tuple[dt.datetime, str] | None = None
        if after is not None:
            try:
                position = parse_cursor(after)
            except ValueError as error:
                raise ConnectorError(f"{self.source.name}: stream {self.name}: {error}; reset the connector's cursors") from None
        registrations = self.spec.table == exchange.REGISTRATIONS
        count = 0
        while True:
            try:
                async with self.source.engine.connect() as connection:
                    rows = (await connection.execute(self.query(position))).all()
            except (SQLAlchemyError, OSError, TimeoutError) as error:
                raise self.source.failure(f"reading {self.spec.table} ({self.name}) after {count} records", error) from None
            for row in rows:
                mapping = row._mapping
                data, stamp = row_data(self.spec, mapping)
                if registrations:
                    with_holder_numbers(data, mapping["qlr_zjhm"], mapping["yqlr_zjhm"])
                count += 1
                yield self.record(data, stamp)
            if len(rows) < self.source.page:
                return
            last = rows[-1]._mapping
            position = (last[CURSOR_FIELD], last[self.spec.key])
