"""The connector ledger in SQL: runs, stream cursors and dead letters (a base of SqlStore).

The ledger holds no place, owner or firm, so it has no scope of its own: who may read it is
decided above the store (the API shows it to admin and city roles only). Lists run newest
first and are keyset-paged by (time, id) inside the hub's opaque cursors, so a page never
skips or repeats a row while runs are added in front of it.

Leases are checked and closed with conditional updates (`WHERE status = 'running' AND
lease_expires_at < now`), so a run that renews its lease while a reader closes expired ones is
either renewed or closed, never both, and two readers never close one run twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import Integer, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.cursors import decode_cursor, encode_cursor
from graph.errors import InvalidInput
from graph.ledger import ConnectorRun, DeadLetter, Lease, Reason, RunCounts, RunStatus, StreamState, abandoned
from graph.model import Page
from graph.sql import tables
from graph.sql.rows import maybe_utc, utc
from graph.sql.writers import WriteTurns
from graph.sql.writes import CHUNK
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


def _json(value: Any) -> str:
    # Sources hand over dates, decimals and the like; a dead letter keeps them as text.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _clamp(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


class LedgerRecords:
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
        values = _run_values(run)
        statement = self._insert(tables.connector_run).values(id=run.id, **values)
        statement = statement.on_conflict_do_update(index_elements=["id"], set_=values)
        async with self.turns.writing() as connection:
            await connection.execute(statement)

    async def renew_run(self, run: ConnectorRun) -> bool:
        table = tables.connector_run
        statement = (
            table.update()
            .where(table.c.id == run.id, table.c.status == RunStatus.RUNNING.value)
            .values(**_run_values(run))
        )
        async with self.turns.writing() as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def close_abandoned(self, now: dt.datetime, by: str) -> list[ConnectorRun]:
        table = tables.connector_run
        now = utc(now)
        expired = and_(
            table.c.status == RunStatus.RUNNING.value,
            table.c.lease_expires_at.is_not(None),
            table.c.lease_expires_at < now,
        )
        closed: list[ConnectorRun] = []
        async with self.turns.writing() as connection:
            for row in list(await connection.execute(select(table).where(expired).order_by(table.c.started_at))):
                run = abandoned(_run(row), now=now, by=by)
                # only if it is still running with an expired lease: a renewal in between wins
                done = await connection.execute(table.update().where(table.c.id == run.id, expired).values(**_run_values(run)))
                if done.rowcount:
                    closed.append(run)
        return closed

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
        async with self.turns.writing() as connection:
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
        async with self.turns.writing() as connection:
            await connection.execute(table.delete().where(table.c.connector == connector))

    # -- dead letters ---------------------------------------------------------------------

    async def set_aside(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        table = tables.dead_letter
        # One statement may not touch a row twice (PostgreSQL refuses it): letters of one
        # record and reason become one upsert that counts them all, keeping the first and the
        # last of them.
        grouped: dict[tuple[str, str, str, Reason], list[DeadLetter]] = {}
        for letter in letters:
            grouped.setdefault((letter.connector, letter.stream, letter.record_key, letter.reason), []).append(letter)
        new = 0
        async with self.turns.writing() as connection:
            for (connector, stream, record_key, reason), group in grouped.items():
                first, last = group[0], group[-1]
                identity = and_(
                    table.c.connector == connector,
                    table.c.stream == stream,
                    table.c.record_key == record_key,
                    table.c.reason == reason.value,
                )
                known = (await connection.execute(select(table.c.id).where(identity))).first()
                new += known is None
                changes = {
                    "last_run_id": last.run_id,
                    "at": utc(last.at),
                    "detail": last.detail,
                    "payload": _json(last.payload),
                    "candidates": _json(list(last.candidates)),
                    "retryable": int(last.retryable),
                    "cursor": last.cursor[:400] if last.cursor else None,
                    "resolved_at": None,
                    "resolved_by_run": None,
                }
                statement = self._insert(table).values(
                    connector=connector,
                    stream=stream,
                    record_key=record_key,
                    reason=reason.value,
                    run_id=first.run_id,
                    seen=len(group),
                    first_at=utc(first.at),
                    first_detail=first.detail,
                    **changes,
                )
                await connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["connector", "stream", "record_key", "reason"],
                        set_={**changes, "seen": table.c.seen + len(group)},
                    )
                )
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
