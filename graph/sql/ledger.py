"""The connector ledger in SQL: runs, stream cursors and dead letters (a base of SqlStore).

The ledger holds no place, owner or firm, so it has no scope of its own: who may read it is
decided above the store (the API shows it to admin and city roles only). Lists run newest
first and are keyset-paged by (time, id) inside the hub's opaque cursors, so a page never
skips or repeats a row while runs are added in front of it.

Leases are checked and closed with one conditional update (`update_running_run`: `WHERE status
= 'running' [AND lease_expires_at < now]`), so a run that renews its lease while a reader closes
expired ones is either renewed or closed, never both, and two readers never close one run twice.
Which runs to close and how a closed run reads is `graph.ledger.LedgerRules`, not SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import Integer, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.ledger import (
    MAX_LETTER_CURSOR,
    ConnectorRun,
    DeadLetter,
    Lease,
    LedgerRules,
    Reason,
    RunCounts,
    RunStatus,
    StreamState,
    check_letters,
    check_run_id,
    check_states,
    group_letters,
    latest_states,
    ledger_cursor,
    ledger_position,
    payload_json,
)
from graph.model import Page
from graph.sql import tables
from graph.sql.rows import maybe_utc, utc
from graph.sql.writers import WriteTurns
from graph.sql.writes import CHUNK
from graph.store import MAX_PAGE

def _run(row: Any) -> ConnectorRun:
    lease = None
    if row.lease_expires_at is not None:
        lease = Lease(int(row.lease_pid or 0), row.lease_host or "unknown", utc(row.lease_expires_at))
    return ConnectorRun(
        id=row.id,
        connector=row.connector,
        started_at=utc(row.started_at),
        status=RunStatus(row.status),
        finished_at=maybe_utc(row.finished_at),
        heartbeat_at=maybe_utc(row.heartbeat_at),
        counts=RunCounts(
            row.read, row.written, row.unchanged, row.dead_lettered, row.duplicates, row.retried, row.resolved, row.places_added
        ),
        full=bool(row.full_read),
        trigger=row.trigger,
        error=row.error,
        lease=lease,
        closed_at=maybe_utc(row.closed_at),
        closed_by=row.closed_by,
    )


def _run_values(run: ConnectorRun) -> dict[str, Any]:
    """The columns of a run, all but its id."""
    lease = run.lease
    return {
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
        "retried": run.counts.retried,
        "resolved": run.counts.resolved,
        "places_added": run.counts.places_added,
        "error": run.error,
        "lease_pid": None if lease is None else lease.pid,
        "lease_host": None if lease is None else lease.host[:255],
        "lease_expires_at": None if lease is None else utc(lease.expires_at),
        "closed_at": maybe_utc(run.closed_at),
        "closed_by": None if run.closed_by is None else run.closed_by[:400],
    }


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
        first_at=utc(row.first_at),
        first_detail=row.first_detail,
        resolved_at=maybe_utc(row.resolved_at),
        resolved_by_run=row.resolved_by_run,
        cursor=row.cursor,
        retryable=bool(row.retryable),
    )


def _clamp(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


class LedgerRecords(LedgerRules):
    """The ledger part of the store port (`graph.ledger.Ledger`)."""

    engine: AsyncEngine
    turns: WriteTurns

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
        *conditions: Any,
    ) -> Page[Any]:
        """A page of `table`'s rows (of one connector, or all) meeting `conditions`, newest
        `moment` first, ties by `key` descending, after the opaque cursor `after` ('moment|key')."""
        first = _clamp(first)
        query = select(table).order_by(moment.desc(), key.desc()).limit(first + 1)
        if connector is not None:
            query = query.where(table.c.connector == connector)
        for condition in conditions:
            query = query.where(condition)
        numeric = isinstance(key.type, Integer)
        position = ledger_position(after, numeric=numeric)
        if position is not None:
            at, text = position
            value: str | int = int(text) if numeric else text
            query = query.where(or_(moment < at, and_(moment == at, key < value)))
        async with self.engine.connect() as connection:
            rows = list(await connection.execute(query))
        items = [convert(row) for row in rows[:first]]
        marks = [ledger_cursor(row._mapping[moment.name], row._mapping[key.name]) for row in rows[:first]]
        return Page(
            items=items,
            has_next=len(rows) > first,
            end_cursor=marks[-1] if marks else None,
            start_cursor=marks[0] if marks else None,
        )

    # -- runs --------------------------------------------------------------------------

    async def save_run(self, run: ConnectorRun) -> None:
        check_run_id(run)
        values = _run_values(run)
        statement = self._insert(tables.connector_run).values(id=run.id, **values)
        statement = statement.on_conflict_do_update(index_elements=["id"], set_=values)
        async with self.turns.writing() as connection:
            await connection.execute(statement)

    async def update_running_run(self, run: ConnectorRun, *, expired_before: dt.datetime | None = None) -> bool:
        table = tables.connector_run
        condition = and_(table.c.id == run.id, table.c.status == RunStatus.RUNNING.value)
        if expired_before is not None:
            condition = and_(
                condition, table.c.lease_expires_at.is_not(None), table.c.lease_expires_at < utc(expired_before)
            )
        statement = table.update().where(condition).values(**_run_values(run))
        async with self.turns.writing() as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def run(self, run_id: str) -> ConnectorRun | None:
        table = tables.connector_run
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(table).where(table.c.id == run_id))).first()
        return None if row is None else _run(row)

    async def runs(
        self, connector: str | None, first: int, after: str | None = None, *, status: RunStatus | None = None
    ) -> Page[ConnectorRun]:
        table = tables.connector_run
        conditions = [] if status is None else [table.c.status == status.value]
        return await self._newest_first(table, table.c.started_at, table.c.id, connector, first, after, _run, *conditions)

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
        check_states(states)
        if not states:
            return
        async with self.turns.writing() as connection:
            for state in latest_states(states):
                values = {"cursor": state.cursor, "updated_at": utc(state.updated_at), "run_id": state.run_id}
                statement = self._insert(tables.stream_state).values(
                    connector=state.connector, stream=state.stream, **values
                )
                await connection.execute(
                    statement.on_conflict_do_update(index_elements=["connector", "stream"], set_=values)
                )

    async def reset_states(self, connector: str) -> None:
        table = tables.stream_state
        async with self.turns.writing() as connection:
            await connection.execute(table.delete().where(table.c.connector == connector))

    # -- dead letters ---------------------------------------------------------------------

    async def set_aside(self, letters: Sequence[DeadLetter]) -> int:
        check_letters(letters)
        if not letters:
            return 0
        table = tables.dead_letter
        # One statement may not touch a row twice (PostgreSQL refuses it): the letters of one
        # record and reason become one upsert that counts them all (graph.ledger.group_letters).
        new = 0
        async with self.turns.writing() as connection:
            for group in group_letters(letters):
                (connector, stream, record_key, reason), first, last = group.identity, group.first, group.last
                changes = {
                    "last_run_id": last.run_id,
                    "at": utc(last.at),
                    "detail": last.detail,
                    "payload": payload_json(last.payload),
                    "candidates": payload_json(list(last.candidates)),
                    "retryable": int(last.retryable),
                    "cursor": last.cursor[:MAX_LETTER_CURSOR] if last.cursor else None,
                    "resolved_at": None,
                    "resolved_by_run": None,
                }
                statement = self._insert(table).values(
                    connector=connector,
                    stream=stream,
                    record_key=record_key,
                    reason=reason.value,
                    run_id=first.run_id,
                    seen=group.seen,
                    first_at=utc(first.at),
                    first_detail=first.detail,
                    **changes,
                )
                upsert = statement.on_conflict_do_update(
                    index_elements=["connector", "stream", "record_key", "reason"],
                    set_={**changes, "seen": table.c.seen + group.seen},
                ).returning(table.c.seen)
                # a letter the upsert inserted counts only this call's sightings; one it updated
                # more (a check before the upsert would race another process's insert)
                seen = (await connection.execute(upsert)).scalar_one()
                new += seen == group.seen
        return new

    async def resolve(self, connector: str, stream: str, keys: Sequence[str], run_id: str, at: dt.datetime) -> int:
        table = tables.dead_letter
        unique = list(dict.fromkeys(keys))
        resolved = 0
        async with self.turns.writing() as connection:
            for start in range(0, len(unique), CHUNK):
                done = await connection.execute(
                    table.update()
                    .where(
                        table.c.connector == connector,
                        table.c.stream == stream,
                        table.c.record_key.in_(unique[start : start + CHUNK]),
                        table.c.resolved_at.is_(None),
                    )
                    .values(resolved_at=utc(at), resolved_by_run=run_id)
                )
                resolved += done.rowcount
        return resolved

    async def dead_letters(
        self,
        connector: str | None,
        first: int,
        after: str | None = None,
        *,
        stream: str | None = None,
        reasons: Collection[Reason] | None = None,
        include_resolved: bool = False,
        retryable: bool | None = None,
    ) -> Page[DeadLetter]:
        table = tables.dead_letter
        conditions: list[Any] = []
        if not include_resolved:
            conditions.append(table.c.resolved_at.is_(None))
        if stream is not None:
            conditions.append(table.c.stream == stream)
        if reasons is not None:
            conditions.append(table.c.reason.in_(sorted(reason.value for reason in reasons)))
        if retryable is not None:
            conditions.append(table.c.retryable == int(retryable))
        return await self._newest_first(table, table.c.at, table.c.id, connector, first, after, _letter, *conditions)

    async def dead_letter_count(self, connector: str) -> int:
        table = tables.dead_letter
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c.connector == connector, table.c.resolved_at.is_(None))
        )
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())
