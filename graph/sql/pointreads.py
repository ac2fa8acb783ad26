"""Point reads on SQLite straight through the driver: a kept statement, compiled once, run by
`sqlite3` on the event loop's thread with SQLAlchemy's own type conversions.

A read of one house by its code took SQLite about 20 µs and SQLAlchemy's execution around it
(compiled-cache lookup, execution context, parameter processing, result metadata, row objects)
ten times that. A `Keyed` statement (graph.sql.writes) is fixed once built: its SQL, the order
of its parameters, the values it holds itself (the scope's ids) and the converters of its
parameters and columns are worked out by SQLAlchemy once, here, and each read then costs the
driver's call and the conversions.

Only for SQLite through graph.sql.onehop (other drivers take SQLAlchemy's path), only for the
reads the caller calls point reads (by an index on the key, nothing that grows with the store),
and never when SQLite answers with an error: then the same read goes through SQLAlchemy, which
raises it as for any other statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from graph.sql.onehop import OneHopConnection


@dataclass(frozen=True, slots=True)
class Plan:
    """A statement as the driver runs it: SQL, parameters in order and column converters."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    binds: tuple[Callable[[Any], Any] | None, ...]
    columns: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def of(cls, statement: Select[Any], dialect: Dialect) -> Plan:
        compiled: Any = statement.compile(dialect=dialect)
        # the lists the statement holds (the scope's ids) written out, its own values kept;
        # the parameters it is given at each read are None here, filled in by `parameters`
        expanded = compiled.construct_expanded_state(compiled.construct_params(_check=False))
        names = tuple(expanded.positiontup or ())
        entries = compiled._result_columns
        return cls(
            sql=expanded.statement,
            names=names,
            defaults=dict(expanded.parameters),
            binds=tuple(expanded.processors.get(name) for name in names),
            columns=tuple(entry[0] for entry in entries),
            results=tuple(entry[3]._cached_result_processor(dialect, None) for entry in entries),
        )

    def parameters(self, given: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, convert in zip(self.names, self.binds):
            value = given[name] if name in given else self.defaults[name]
            values.append(value if convert is None or value is None else convert(value))
        return values

    def row(self, values: tuple[Any, ...]) -> PointRow:
        return PointRow(
            {
                name: value if convert is None or value is None else convert(value)
                for name, convert, value in zip(self.columns, self.results, values)
            }
        )


class PointRow:
    """A row as SQLAlchemy's are read here: `row._mapping[name]` and `row.name`."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


def driver_of(connection: AsyncConnection) -> sqlite3.Connection | None:
    """The sqlite3 connection under `connection` when it is one of graph.sql.onehop's."""
    if connection.dialect.name != "sqlite":
        return None
    adapted = connection.sync_connection.connection.dbapi_connection if connection.sync_connection else None
    if not isinstance(adapted, OneHopConnection):
        return None
    driver: sqlite3.Connection | None = adapted._connection._connection
    return driver


def read(driver: sqlite3.Connection, plan: Plan, given: Mapping[str, Any]) -> list[PointRow] | None:
    """The rows of `plan` with the parameters `given`; None when SQLite answered an error (the
    caller then reads through SQLAlchemy, which raises it as usual)."""
    try:
        found = driver.execute(plan.sql, plan.parameters(given)).fetchall()
    except sqlite3.Error:
        return None
    return [plan.row(values) for values in found]
