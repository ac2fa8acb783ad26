"""The connector ledger in SQL: runs, stream cursors and dead letters (a base of SqlStore).

The ledger holds no place, owner or firm, so it has no scope of its own: who may read it is
decided above the store (the API shows it to admin and city roles only). Lists run newest
first and are keyset-paged by (time, id) inside the hub's opaque cursors, so a page never
skips or repeats a row while runs are added in front of it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Integer, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.cursors import decode_cursor, encode_cursor
from graph.errors import InvalidInput
from graph.ledger import ConnectorRun, DeadLetter, Reason, RunCounts, RunStatus, StreamState
from graph.model import Page
from graph.sql import tables
from graph.sql.rows import maybe_utc, utc
from graph.store import MAX_PAGE

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _position(moment: dt.datetime, key: str | int) -> str:
    micros = (utc(moment) - _EPOCH) // dt.timedelta(microseconds=1)
    return encode_cursor(f"{micros}|{key}")


def _after(cursor: str | None) -> tuple[dt.datetime, str] | None:
    text = decode_cursor(cursor)
    if text is None:
        return None
    micros, bar, key = text.partition("|")
    if not bar or not micros.lstrip("-").isdigit() or not key:
        raise InvalidInput("after", cursor, "is not a cursor from this list; pass a pageInfo.endCursor")
    return _EPOCH + dt.timedelta(microseconds=int(micros)), key


def _run(row: Any) -> ConnectorRun:
    return ConnectorRun(
        id=row.id,
        connector=row.connector,
        started_at=utc(row.started_at),
        status=RunStatus(row.status),
        finished_at=maybe_utc(row.finished_at),
        heartbeat_at=maybe_utc(row.heartbeat_at),
        counts=RunCounts(row.read, row.written, row.unchanged, row.dead_lettered, row.duplicates),
        full=bool(row.full_read),
        trigger=row.trigger,
        error=row.error,
    )


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(
        connector=row.connector,
        stream=row.stream,
        record_key=row.record_key,
        reason=Reason(row.reason),
        detail=row.detail,
        payload=json.loads(row.payload),
        run_id=row.run_id,
        at=utc(row.at),
        candidates=tuple(json.loads(row.candidates)),
        id=row.id,
        seen=row.seen,
        last_run_id=row.last_run_id,
    )


def _json(value: Any) -> str:
    # Sources hand over dates, decimals and the like; a dead letter keeps them as text.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _clamp(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


class LedgerRecords:
    """The ledger part of the store port (`graph.ledger.Ledger`)."""

    engine: AsyncEngine

    def _insert(self, table: Any) -> Any:
        dialect = sqlite if self.engine.dialect.name == "sqlite" else postgresql
        return dialect.insert(table)

    async def _newest_first(
        self,
        table: Any,
        moment: Any,
        key: Any,
        connector: str | None,
        first: int,
        after: str | None,
        convert: Callable[[Any], Any],
    ) -> Page[Any]:
        """A page of `table`'s rows (of one connector, or all), newest `moment` first, ties by
        `key` descending, after the opaque cursor `after` ('moment|key')."""
        first = _clamp(first)
        query = select(table).order_by(moment.desc(), key.desc()).limit(first + 1)
        if connector is not None:
            query = query.where(table.c.connector == connector)
        position = _after(after)
        if position is not None:
            at, text = position
            value: str | int = text
            if isinstance(key.type, Integer):
                if not text.isdigit():
                    raise InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")
                value = int(text)
            query = query.where(or_(moment < at, and_(moment == at, key < value)))
        async with self.engine.connect() as connection:
            rows = list(await connection.execute(query))
        items = [convert(row) for row in rows[:first]]
        marks = [_position(row._mapping[moment.name], row._mapping[key.name]) for row in rows[:first]]
        return Page(
            items=items,
            has_next=len(rows) > first,
            end_cursor=marks[-1] if marks else None,
            start_cursor=marks[0] if marks else None,
        )

    # -- runs --------------------------------------------------------------------------

    async def save_run(self, run: ConnectorRun) -> None:
        if not 0 < len(run.id) <= 40:
            # the id rides in page cursors, which hold 64 characters in all
            raise InvalidInput("run id", run.id, "must be 1 to 40 characters")
        values = {
            "connector": run.connector,
            "started_at": utc(run.started_at),
            "finished_at": maybe_utc(run.finished_at),
            "heartbeat_at": maybe_utc(run.heartbeat_at),
            "status": run.status.value,
            "full_read": int(run.full),
            "trigger": run.trigger,
            "read": run.counts.read,
            "written": run.counts.written,
            "unchanged": run.counts.unchanged,
            "dead_lettered": run.counts.dead_lettered,
            "duplicates": run.counts.duplicates,
            "error": run.error,
        }
        statement = self._insert(tables.connector_run).values(id=run.id, **values)
        statement = statement.on_conflict_do_update(index_elements=["id"], set_=values)
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    async def runs(
        self, connector: str | None, first: int, after: str | None = None
    ) -> Page[ConnectorRun]:
        table = tables.connector_run
        return await self._newest_first(table, table.c.started_at, table.c.id, connector, first, after, _run)

    async def last_runs(self, connectors: Sequence[str]) -> list[ConnectorRun | None]:
        if not connectors:
            return []
        table = tables.connector_run
        newest = (
            select(table.c.connector, func.max(table.c.started_at).label("started_at"))
            .where(table.c.connector.in_(list(set(connectors))))
            .group_by(table.c.connector)
            .subquery()
        )
        query = select(table).join(
            newest,
            and_(table.c.connector == newest.c.connector, table.c.started_at == newest.c.started_at),
        ).order_by(table.c.id)
        found: dict[str, ConnectorRun] = {}
        async with self.engine.connect() as connection:
            for row in await connection.execute(query):
                found.setdefault(row.connector, _run(row))  # two runs in the same microsecond: one
        return [found.get(name) for name in connectors]

    # -- stream cursors -----------------------------------------------------------------

    async def stream_states(self, connector: str) -> list[StreamState]:
        table = tables.stream_state
        query = select(table).where(table.c.connector == connector).order_by(table.c.stream)
        async with self.engine.connect() as connection:
            return [
                StreamState(row.connector, row.stream, row.cursor, utc(row.updated_at), row.run_id)
                for row in await connection.execute(query)
            ]

    async def save_states(self, states: Sequence[StreamState]) -> None:
        if not states:
            return
        latest = {(s.connector, s.stream): s for s in states}
        async with self.engine.begin() as connection:
            for state in latest.values():
                values = {"cursor": state.cursor, "updated_at": utc(state.updated_at), "run_id": state.run_id}
                statement = self._insert(tables.stream_state).values(
                    connector=state.connector, stream=state.stream, **values
                )
                await connection.execute(
                    statement.on_conflict_do_update(index_elements=["connector", "stream"], set_=values)
                )

    async def reset_states(self, connector: str) -> None:
        table = tables.stream_state
        async with self.engine.begin() as connection:
            await connection.execute(table.delete().where(table.c.connector == connector))

    # -- dead letters ---------------------------------------------------------------------

    async def set_aside(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        table = tables.dead_letter
        # One statement may not touch a row twice (PostgreSQL refuses it): the later letter wins.
        latest = {(x.connector, x.stream, x.record_key, x.reason): x for x in letters}
        new = 0
        async with self.engine.begin() as connection:
            for letter in latest.values():
                identity = and_(
                    table.c.connector == letter.connector,
                    table.c.stream == letter.stream,
                    table.c.record_key == letter.record_key,
                    table.c.reason == letter.reason.value,
                )
                known = (await connection.execute(select(table.c.id).where(identity))).first()
                new += known is None
                changes = {
                    "last_run_id": letter.run_id,
                    "at": utc(letter.at),
                    "detail": letter.detail,
                    "payload": _json(letter.payload),
                    "candidates": _json(list(letter.candidates)),
                }
                statement = self._insert(table).values(
                    connector=letter.connector,
                    stream=letter.stream,
                    record_key=letter.record_key,
                    reason=letter.reason.value,
                    run_id=letter.run_id,
                    seen=1,
                    **changes,
                )
                await connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["connector", "stream", "record_key", "reason"],
                        set_={**changes, "seen": table.c.seen + 1},
                    )
                )
        return new

    async def dead_letters(
        self, connector: str | None, first: int, after: str | None = None
    ) -> Page[DeadLetter]:
        table = tables.dead_letter
        return await self._newest_first(table, table.c.at, table.c.id, connector, first, after, _letter)

    async def dead_letter_count(self, connector: str) -> int:
        table = tables.dead_letter
        query = select(func.count()).select_from(table).where(table.c.connector == connector)
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())
