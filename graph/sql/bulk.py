"""Driver-level `executemany` for the bulk path.

SQLAlchemy's executemany builds a parameter dict per row and walks it per column; for
millions of rows that costs more than SQLite's own work. Here the INSERT is compiled once per
dialect and column list, each column's own bind processor (how SQLAlchemy stores dates on
SQLite, for one) is applied directly, and the driver gets plain tuples in the compiled order.
On PostgreSQL a plain INSERT of `COPY_FROM` rows or more goes through COPY instead (asyncpg's
`copy_records_to_table`, binary, in the same transaction).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import LargeBinary, Table, bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

_Compiled = tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]]
_compiled: dict[tuple[str, str, tuple[str, ...], bool], _Compiled] = {}


def _insert(dialect: Dialect, table: Table, skip_existing: bool) -> Any:
    if not skip_existing:
        return table.insert()
    if dialect.name == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing()
    if dialect.name == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"no INSERT … ON CONFLICT DO NOTHING for {dialect.name}")


def _compile(dialect: Dialect, table: Table, columns: tuple[str, ...], skip_existing: bool = False) -> _Compiled:
    key = (dialect.name + "+" + str(dialect.driver), table.name, columns, skip_existing)
    found = _compiled.get(key)
    if found is None:
        compiled = _insert(dialect, table, skip_existing).compile(dialect=dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(columns):
            raise AssertionError(f"cannot bulk insert {table.name}: compiled {order} for {columns}")
        # the dialect's own type (SQLite's DATETIME, say): the generic type has no processor,
        # and sqlite3's default adapter would store '…+00:00' where SQLAlchemy binds '….000000',
        # so stored times and the times a query compares them with would not sort alike
        processors = tuple(_processor(table.c[name].type, dialect) for name in order)
        found = (str(compiled), order, processors)
        _compiled[key] = found
    return found


def _processor(kind: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor, but none for bytes: SQLAlchemy wraps each value in the
    driver's Binary (a memoryview on sqlite3), which every driver takes as bytes anyway and which
    cost a city build's writes 7% of their time."""
    if isinstance(kind, LargeBinary):
        return None
    process: Callable[[Any], Any] | None = kind.dialect_impl(dialect).bind_processor(dialect)
    return process


async def insert_rows(
    connection: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    chunk: int = 10_000,
    *,
    skip_existing: bool = False,
) -> None:
    """INSERT every row (dicts with the same keys) through the driver's executemany;
    `skip_existing` skips a row that a unique index already holds (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    sql, order, processors = _compile(connection.dialect, table, tuple(rows[0]), skip_existing)
    pick = operator.itemgetter(*order)
    single = len(order) == 1
    processed = [(index, process) for index, process in enumerate(processors) if process is not None]
    copy = not skip_existing and len(rows) >= COPY_FROM and connection.dialect.name == "postgresql"
    for start in range(0, len(rows), chunk):
        values: list[tuple[Any, ...]] = []
        for row in rows[start : start + chunk]:
            picked = (pick(row),) if single else pick(row)
            if processed:
                converted = list(picked)
                for index, process in processed:
                    if converted[index] is not None:
                        converted[index] = process(converted[index])
                picked = tuple(converted)
            values.append(picked)
        if copy:
            await _copy(connection, table, order, values)
        else:
            await connection.exec_driver_sql(sql, values)


COPY_FROM = 200
"""Rows from which an INSERT on PostgreSQL goes through COPY (below it, executemany is as quick)."""


async def _copy(connection: AsyncConnection, table: Table, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
    """COPY the rows into `table` through asyncpg, inside the connection's transaction."""
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if getattr(adapted, "_transaction", None) is None:
        await connection.exec_driver_sql("SELECT 1")  # SQLAlchemy begins the transaction lazily: begin it now
    await raw.driver_connection.copy_records_to_table(table.name, records=values, columns=list(columns))  # type: ignore[union-attr]


async def update_rows(connection: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE rows by primary key: each dict holds `row_id` and the columns to set (all dicts
    the same keys), in one executemany."""
    if rows:
        await connection.execute(update(table).where(table.c.id == bindparam("row_id")), list(rows))
