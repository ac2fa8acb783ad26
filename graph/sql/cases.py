"""Cases (工单) in SQL: the cases themselves, their history, the outbox and named counters (a
base of SqlStore). Storage only: the rules (the lifecycle, whose status wins, id numbering,
escalation, the figures' arithmetic) are `graph.casework`'s, run over the port.

A case is in a caller's scope when its place is (the same `within_any` predicate as places, on
the place row the case points at); a case linked to no place is seen only by a scope holding a
whole city. Lists run newest report first, keyset-paged by (reported_at, id); a page cursor is
`encode_cursor(case id)`, and the store finds where that case sits, so any edge has a cursor.

`update_case` is a compare-and-set: one UPDATE guarded by the version the caller read, then the
events and outbox messages, in one transaction; a guard that matches no row rolls back nothing
and returns None. `next_number` is one upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING).

Tallies (`case_tallies`) are one grouped count per level of the keys, plus one query for the
report and resolution times of closed cases (the median is graph.casework's).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case as when, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.cases import (
    Case,
    CaseCategory,
    CaseEvent,
    CaseSource,
    CaseStatus,
    CaseTally,
    DuplicateCase,
    Escalation,
    OPEN_STATUSES,
    OutboxDraft,
    OutboxMessage,
    check_case,
)
from graph.casework import merge_source_record, source_event
from graph.cursors import decode_cursor, encode_cursor
from graph.codes import place_code
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Batch, Page, WriteCounts
from graph.scope import Scope
from graph.sql import rows, tables
from graph.sql.rows import maybe_utc, utc
from graph.sql.bulk import insert_rows, update_rows
from graph.sql.scoping import under
from graph.sql.tables import ancestor_column
from graph.sql.writes import anchors, select_in
from graph.sql.writers import WriteTurns
from graph.store import MAX_PAGE

if TYPE_CHECKING:
    from graph.sql.scoping import Anchor

_CASE = tables.case
_EVENT = tables.case_event
_OUTBOX = tables.outbox
_PLACE = tables.place
_FIRM = tables.firm
_COUNTER = tables.counter

CASE_FACTS = (
    "source_kind",
    "category",
    "status",
    "title",
    "description",
    "place_id",
    "lon",
    "lat",
    "address",
    "external_id",
    "firm_id",
    "severity",
    "deadline",
    "rating",
    "push_to",
    "reported_at",
    "updated_at",
)
"""Columns compared to decide whether a write changes a case (provenance is not a fact)."""

_TIMES = frozenset({"deadline", "reported_at", "updated_at"})


def _case_query() -> Select[Any]:
    return (
        select(_CASE, _PLACE.c.code.label("place_code"), _FIRM.c.code.label("firm_code"))
        .outerjoin(_PLACE, _PLACE.c.id == _CASE.c.place_id)
        .outerjoin(_FIRM, _FIRM.c.id == _CASE.c.firm_id)
    )


def _case(row: Any) -> Case:
    mapping = row._mapping
    return Case(
        id=mapping["key"],
        source=CaseSource(mapping["source_kind"]),
        category=CaseCategory(mapping["category"]),
        status=CaseStatus(mapping["status"]),
        title=mapping["title"],
        reported_at=utc(mapping["reported_at"]),
        updated_at=utc(mapping["updated_at"]),
        description=mapping["description"],
        place_code=mapping["place_code"],
        point=rows.point_of(mapping),
        address=mapping["address"],
        external_id=mapping["external_id"],
        firm_code=mapping["firm_code"],
        severity=mapping["severity"],
        deadline=maybe_utc(mapping["deadline"]),
        rating=mapping["rating"],
        push_to=mapping["push_to"],
        provenance=rows.provenance_of(mapping),
        dispatched_at=maybe_utc(mapping["dispatched_at"]),
        sign_by=maybe_utc(mapping["sign_by"]),
        signed_at=maybe_utc(mapping["signed_at"]),
        resolved_at=maybe_utc(mapping["resolved_at"]),
        escalation=Escalation(mapping["escalation"]) if mapping["escalation"] is not None else None,
        escalated_at=maybe_utc(mapping["escalated_at"]),
        assignee=mapping["assignee"],
        arrive_by=maybe_utc(mapping["arrive_by"]),
        arrived_at=maybe_utc(mapping["arrived_at"]),
        version=mapping["version"],
    )


def _event(row: Any, key: str) -> CaseEvent:
    return CaseEvent(
        case_id=key,
        seq=row.seq,
        from_status=CaseStatus(row.from_status) if row.from_status is not None else None,
        to_status=CaseStatus(row.to_status),
        at=utc(row.at),
        actor=row.actor,
        note=row.note,
    )


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        target=row.target,
        case_id=row.case_key,
        external_id=row.external_id,
        payload=json.loads(row.payload),
        created_at=utc(row.created_at),
        attempts=row.attempts,
        next_attempt_at=maybe_utc(row.next_attempt_at),
        sent_at=maybe_utc(row.sent_at),
        last_error=row.last_error,
        dead=row.sent_at is None and row.next_attempt_at is None,
    )


def _case_row(case: Case, place_id: int | None, firm_id: int | None) -> dict[str, Any]:
    return {
        "key": case.id,
        "source_kind": case.source.value,
        "category": case.category.value,
        "status": case.status.value,
        "title": case.title,
        "description": case.description,
        "place_id": place_id,
        "lon": case.point.lon if case.point else None,
        "lat": case.point.lat if case.point else None,
        "address": case.address,
        "external_id": case.external_id,
        "firm_id": firm_id,
        "severity": case.severity,
        "deadline": maybe_utc(case.deadline),
        "rating": case.rating,
        "push_to": case.push_to,
        "reported_at": utc(case.reported_at),
        "updated_at": utc(case.updated_at),
        **rows.provenance_row(case.provenance),
    }


def _workflow_row(case: Case) -> dict[str, Any]:
    """The workflow's columns of a new case (never part of a source's rewrite)."""
    return {
        "dispatched_at": maybe_utc(case.dispatched_at),
        "sign_by": maybe_utc(case.sign_by),
        "signed_at": maybe_utc(case.signed_at),
        "resolved_at": maybe_utc(case.resolved_at),
        "escalation": int(case.escalation) if case.escalation is not None else None,
        "escalated_at": maybe_utc(case.escalated_at),
        "assignee": case.assignee,
        "arrive_by": maybe_utc(case.arrive_by),
        "arrived_at": maybe_utc(case.arrived_at),
    }


_CLOSED = tuple(status.value for status in CaseStatus if status.closed)
_OPEN = tuple(sorted(status.value for status in OPEN_STATUSES))


def _overdue(now: dt.datetime) -> Any:
    """`graph.cases.overdue_at` as a predicate on the case table."""
    moment = utc(now)
    return or_(
        and_(_CASE.c.status == CaseStatus.DISPATCHED.value, _CASE.c.sign_by < moment),
        and_(_CASE.c.status.in_(_OPEN), _CASE.c.deadline < moment),
    )


def _not_overdue(now: dt.datetime) -> Any:
    """The negation of `_overdue`, written out so NULL deadlines count as not overdue."""
    moment = utc(now)
    return and_(
        or_(_CASE.c.status != CaseStatus.DISPATCHED.value, _CASE.c.sign_by.is_(None), _CASE.c.sign_by >= moment),
        or_(_CASE.c.status.not_in(_OPEN), _CASE.c.deadline.is_(None), _CASE.c.deadline >= moment),
    )


def _seconds(dialect: str, later: Any, earlier: Any) -> Any:
    """`later - earlier` in seconds, as a float, on the connection's dialect."""
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _period(since: dt.datetime | None, until: dt.datetime | None) -> list[Any]:
    clauses: list[Any] = []
    if since is not None:
        clauses.append(_CASE.c.reported_at >= utc(since))
    if until is not None:
        clauses.append(_CASE.c.reported_at < utc(until))
    return clauses


def _group_of(level: Level) -> Any:
    """The id of the place of `level` a case's place lies in (itself when of that level)."""
    if level == Level.HOUSE:
        return _PLACE.c.id
    return when((_PLACE.c.level == int(level), _PLACE.c.id), else_=_PLACE.c[ancestor_column(level)])


async def _tallies(
    connection: AsyncConnection, group: Any, clauses: Sequence[Any], now: dt.datetime, *, with_places: bool
) -> dict[Any, CaseTally]:
    """Case counts grouped by `group` over cases matching `clauses` (keyed by the group's
    value; `key` is filled in by the caller), with the report and resolution times of the
    closed ones. `with_places` joins the case's place (needed by place groups and scope
    predicates) rather than outer-joining it."""
    moment = utc(now)

    def source(query: Select[Any]) -> Select[Any]:
        if with_places:
            return query.select_from(_CASE.join(_PLACE, _PLACE.c.id == _CASE.c.place_id))
        return query.select_from(_CASE.outerjoin(_PLACE, _PLACE.c.id == _CASE.c.place_id))

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(when((condition, 1), else_=0)), 0)

    due = and_(_CASE.c.sign_by.is_not(None), or_(_CASE.c.signed_at.is_not(None), _CASE.c.sign_by <= moment))
    in_time = and_(_CASE.c.sign_by.is_not(None), _CASE.c.signed_at.is_not(None), _CASE.c.signed_at <= _CASE.c.sign_by)
    on_site_due = and_(_CASE.c.arrive_by.is_not(None), or_(_CASE.c.arrived_at.is_not(None), _CASE.c.arrive_by <= moment))
    on_site_in_time = and_(_CASE.c.arrive_by.is_not(None), _CASE.c.arrived_at.is_not(None), _CASE.c.arrived_at <= _CASE.c.arrive_by)
    totals = source(
        select(
            group.label("grp"),
            func.count().label("cases"),
            count_if(due).label("due"),
            count_if(in_time).label("in_time"),
            count_if(_CASE.c.status.in_(_CLOSED)).label("resolved"),
            func.count(_CASE.c.rating).label("rated"),
            count_if(_CASE.c.rating >= 4).label("satisfied"),
            count_if(_overdue(now)).label("overdue"),
            count_if(on_site_due).label("on_site_due"),
            count_if(on_site_in_time).label("on_site_in_time"),
        )
    ).where(and_(*clauses)).group_by(group)
    counts: dict[Any, dict[str, int]] = {}
    for row in await connection.execute(totals):
        counts[row.grp] = {
            "cases": int(row.cases),
            "due": int(row.due),
            "signed_in_time": int(row.in_time),
            "resolved": int(row.resolved),
            "rated": int(row.rated),
            "satisfied": int(row.satisfied),
            "overdue": int(row.overdue),
            "on_site_due": int(row.on_site_due),
            "on_site_in_time": int(row.on_site_in_time),
        }
    if not counts:
        return {}
    durations: dict[Any, list[dt.timedelta]] = {}
    times = source(select(group.label("grp"), _CASE.c.reported_at, _CASE.c.resolved_at)).where(
        and_(*clauses, _CASE.c.status.in_(_CLOSED), _CASE.c.resolved_at.is_not(None))
    )
    for row in await connection.execute(times):
        durations.setdefault(row.grp, []).append(utc(row.resolved_at) - utc(row.reported_at))
    return {grp: CaseTally(key="", **numbers, resolve_durations=tuple(durations.get(grp, ()))) for grp, numbers in counts.items()}


def _same(stored: Mapping[Any, Any], row: Mapping[str, Any]) -> bool:
    for name in CASE_FACTS:
        old, new = stored[name], row[name]
        if name in _TIMES and old is not None:
            old = utc(old)
        if old != new:
            return False
    return True


async def _references(
    connection: AsyncConnection, cases: Sequence[Case], cache: dict[str, Anchor] | None
) -> tuple[dict[str, int], dict[str, int]]:
    """Place ids by code and firm ids by code for what the cases point at; a missing one is a
    StoreError naming the case."""
    places = await anchors(connection, {c.place_code for c in cases if c.place_code}, cache)
    firm_codes = {c.firm_code for c in cases if c.firm_code}
    firms = {
        row.code: row.id
        for row in await select_in(connection, select(_FIRM.c.code, _FIRM.c.id), _FIRM.c.code, firm_codes)
    }
    for case in cases:
        if case.place_code and case.place_code not in places:
            raise StoreError(f"case {case.id}: place {case.place_code} is not in the store")
        if case.firm_code and case.firm_code not in firms:
            raise StoreError(f"case {case.id}: firm {case.firm_code} is not in the store")
    return {code: anchor.id for code, anchor in places.items()}, firms


async def _next_seqs(connection: AsyncConnection, case_ids: Sequence[int]) -> dict[int, int]:
    query = select(_EVENT.c.case_id, func.max(_EVENT.c.seq).label("last")).group_by(_EVENT.c.case_id)
    return {row.case_id: row.last + 1 for row in await select_in(connection, query, _EVENT.c.case_id, case_ids)}


async def write_cases(connection: AsyncConnection, batch: Batch, cache: dict[str, Anchor]) -> WriteCounts:
    """The bulk path for `Batch.cases`: upsert by id, compare-then-write; what a rewrite keeps
    is `graph.casework.merge_source_record`'s, a status change is kept as its
    `source_event`."""
    if not batch.cases:
        return WriteCounts()
    for case in batch.cases:
        check_case(case)
    latest = {case.id: case for case in batch.cases}  # the last record for an id wins
    places, firms = await _references(connection, list(latest.values()), cache)
    stored = {row.key: row for row in await select_in(connection, _case_query(), _CASE.c.key, latest)}
    stored_ids = [row.id for row in stored.values()]
    waiting: set[int] = set()
    if stored_ids:
        query = select(_OUTBOX.c.case_id).where(_OUTBOX.c.sent_at.is_(None), _OUTBOX.c.next_attempt_at.is_not(None))
        waiting = {row.case_id for row in await select_in(connection, query, _OUTBOX.c.case_id, stored_ids)}
    await _check_external_ids(connection, [c for c in latest.values() if c.id not in stored and c.external_id])
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    moves: list[tuple[int, Case, CaseStatus]] = []  # (row id, case as kept, stored status)
    unchanged = 0
    for case in latest.values():
        old = stored.get(case.id)
        if old is None:
            row = _case_row(case, places.get(case.place_code or ""), firms.get(case.firm_code or ""))
            inserts.append({**row, **_workflow_row(case), "version": 1})
            continue
        before = _case(old)
        kept = merge_source_record(before, case, waiting=old.id in waiting)
        row = _case_row(kept, places.get(kept.place_code or ""), firms.get(kept.firm_code or ""))
        if _same(old._mapping, row):
            unchanged += 1
            continue
        updates.append({"row_id": old.id, **row, "version": before.version + 1})
        if kept.status is not before.status:
            moves.append((old.id, kept, before.status))
    events: list[dict[str, Any]] = []
    if inserts:
        await insert_rows(connection, _CASE, inserts)
        new_ids = {
            row.key: row.id
            for row in await select_in(connection, select(_CASE.c.key, _CASE.c.id), _CASE.c.key, (r["key"] for r in inserts))
        }
        for row in inserts:
            case = latest[row["key"]]
            events.append(_event_row(new_ids[row["key"]], 1, source_event(case, None, case.reported_at)))
    await update_rows(connection, _CASE, updates)
    if moves:
        seqs = await _next_seqs(connection, [row_id for row_id, _, _ in moves])
        for row_id, case, before_status in moves:
            events.append(_event_row(row_id, seqs.get(row_id, 1), source_event(case, before_status, case.updated_at)))
    if events:
        await insert_rows(connection, _EVENT, events)
    return WriteCounts(len(inserts), len(updates), unchanged + len(batch.cases) - len(latest))


def _event_row(case_id: int, seq: int, event: CaseEvent) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "seq": seq,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value,
        "at": utc(event.at),
        "actor": event.actor,
        "note": event.note,
    }


async def _check_external_ids(connection: AsyncConnection, cases: Sequence[Case]) -> None:
    """A new case may not take a (source, external id) another case already holds."""
    if not cases:
        return
    query = select(_CASE.c.key, _CASE.c.source_kind, _CASE.c.external_id)
    taken = {
        (row.source_kind, row.external_id): row.key
        for row in await select_in(connection, query, _CASE.c.external_id, (c.external_id for c in cases))
    }
    seen: dict[tuple[str, str | None], str] = {}
    for case in cases:
        pair = (case.source.value, case.external_id)
        holder = taken.get(pair) or seen.get(pair)
        if holder is not None and holder != case.id:
            raise StoreError(f"case {case.id}: {case.source.value} id {case.external_id} is already case {holder}")
        seen[pair] = case.id


class CaseRecords:
    """The case part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    if TYPE_CHECKING:

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

        async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None: ...

    async def _case_visible(self, connection: AsyncConnection, scope: Scope) -> Any:
        """The scope on cases: through the case's place; a case linked to no place belongs to
        the city as a whole, so a scope holding a city's whole tree sees it too."""
        visible = await self._visible(connection, scope)
        if scope.roots is None or not any(place_code(root)[1] == Level.CITY for root in scope.roots):
            return visible
        return or_(visible, _CASE.c.place_id.is_(None))

    # -- reads -------------------------------------------------------------------------

    async def cases(self, ids: Sequence[str], scope: Scope) -> list[Case | None]:
        async with self.engine.connect() as connection:
            query = _case_query().where(await self._case_visible(connection, scope))
            found = {row.key: _case(row) for row in await select_in(connection, query, _CASE.c.key, ids)}
        return [found.get(key) for key in ids]

    async def case_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        statuses: Sequence[CaseStatus] | None = None,
        source: CaseSource | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        by_update: bool = False,
        categories: Sequence[CaseCategory] | None = None,
        overdue: bool | None = None,
        now: dt.datetime | None = None,
        firm_code: str | None = None,
        assignee: str | None = None,
    ) -> Page[Case]:
        if overdue is not None and now is None:
            raise InvalidInput("now", None, "is required to tell overdue cases")
        first = max(1, min(first, MAX_PAGE))
        after_key = decode_cursor(after)
        moment = _CASE.c.updated_at if by_update else _CASE.c.reported_at
        async with self.engine.connect() as connection:
            clauses: list[Any] = [await self._case_visible(connection, scope)]
            if within is not None:
                root = await self._anchor(connection, within)
                if root is None:
                    return Page(items=[], has_next=False, end_cursor=None)
                # a case linked to no place is the city's as a whole: listed under the city
                whole_city = root.level == Level.CITY
                clauses.append(or_(under(_PLACE, root), _CASE.c.place_id.is_(None)) if whole_city else under(_PLACE, root))
            if statuses is not None:
                clauses.append(_CASE.c.status.in_([status.value for status in statuses]))
            if categories is not None:
                clauses.append(_CASE.c.category.in_([category.value for category in categories]))
            if source is not None:
                clauses.append(_CASE.c.source_kind == source.value)
            if overdue is not None and now is not None:
                clauses.append(_overdue(now) if overdue else _not_overdue(now))
            if firm_code is not None:
                clauses.append(_FIRM.c.code == firm_code)
            if assignee is not None:
                clauses.append(_CASE.c.assignee == assignee)
            if since is not None:
                clauses.append(moment >= utc(since))
            if until is not None:
                clauses.append(moment < utc(until))
            if after_key is not None:
                mark = (
                    await connection.execute(select(_CASE.c.reported_at).where(_CASE.c.key == after_key))
                ).first()
                if mark is None:
                    raise InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")
                at = utc(mark.reported_at)
                clauses.append(
                    or_(_CASE.c.reported_at < at, and_(_CASE.c.reported_at == at, _CASE.c.key < after_key))
                )
            query = (
                _case_query()
                .where(and_(*clauses))
                .order_by(_CASE.c.reported_at.desc(), _CASE.c.key.desc())
                .limit(first + 1)
            )
            items = [_case(row) for row in await connection.execute(query)]
        shown = items[:first]
        return Page(
            items=shown,
            has_next=len(items) > first,
            end_cursor=encode_cursor(shown[-1].id) if shown else None,
            start_cursor=encode_cursor(shown[0].id) if shown else None,
        )

    async def cases_by_external(self, source: CaseSource, external_ids: Sequence[str]) -> list[Case | None]:
        async with self.engine.connect() as connection:
            query = _case_query().where(_CASE.c.source_kind == source.value)
            found = {
                row.external_id: _case(row)
                for row in await select_in(connection, query, _CASE.c.external_id, external_ids)
            }
        return [found.get(value) for value in external_ids]

    async def case_events(self, ids: Sequence[str], scope: Scope) -> list[list[CaseEvent]]:
        history: dict[str, list[CaseEvent]] = {key: [] for key in ids}
        async with self.engine.connect() as connection:
            query = (
                select(_EVENT, _CASE.c.key.label("case_key"))
                .join(_CASE, _CASE.c.id == _EVENT.c.case_id)
                .outerjoin(_PLACE, _PLACE.c.id == _CASE.c.place_id)
                .where(await self._case_visible(connection, scope))
            )
            for row in sorted(await select_in(connection, query, _CASE.c.key, ids), key=lambda r: (r.case_key, r.seq)):
                history[row.case_key].append(_event(row, row.case_key))
        return [history[key] for key in ids]

    async def overdue_cases(
        self, now: dt.datetime, below: Escalation, limit: int = 500, after: str | None = None
    ) -> list[Case]:
        query = (
            _case_query()
            .where(_overdue(now), or_(_CASE.c.escalation.is_(None), _CASE.c.escalation < int(below)))
            .order_by(_CASE.c.key)
            .limit(max(1, min(limit, 10 * MAX_PAGE)))
        )
        if after is not None:
            query = query.where(_CASE.c.key > after)
        async with self.engine.connect() as connection:
            return [_case(row) for row in await connection.execute(query)]

    async def case_tallies(
        self,
        keys: Sequence[str],
        scope: Scope,
        *,
        firms: bool = False,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseTally | None]:
        if firms:
            return list(await self._firm_tallies(keys, scope, now=now, since=since, until=until))
        result: dict[str, CaseTally] = {}
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            query = select(_PLACE.c.id, _PLACE.c.code, _PLACE.c.level).where(visible)
            by_level: dict[Level, dict[int, str]] = {}
            for row in await select_in(connection, query, _PLACE.c.code, keys):
                by_level.setdefault(Level(row.level), {})[row.id] = row.code
            for level, places in sorted(by_level.items()):
                group = _group_of(level)
                clauses = [visible, group.in_(list(places)), *_period(since, until)]
                found = await _tallies(connection, group, clauses, now, with_places=True)
                for place_id, code in places.items():
                    result[code] = _keyed(found.get(place_id), code)
        return [result.get(code) for code in keys]

    async def _firm_tallies(
        self,
        firm_codes: Sequence[str],
        scope: Scope,
        *,
        now: dt.datetime,
        since: dt.datetime | None,
        until: dt.datetime | None,
    ) -> list[CaseTally]:
        async with self.engine.connect() as connection:
            firms = {
                row.id: row.code
                for row in await select_in(connection, select(_FIRM.c.id, _FIRM.c.code), _FIRM.c.code, firm_codes)
            }
            found: dict[Any, CaseTally] = {}
            if firms:
                clauses = [await self._case_visible(connection, scope), _CASE.c.firm_id.in_(list(firms)), *_period(since, until)]
                found = await _tallies(connection, _CASE.c.firm_id, clauses, now, with_places=False)
        by_code = {code: found.get(firm_id) for firm_id, code in firms.items()}
        return [_keyed(by_code.get(code), code) for code in firm_codes]

    # -- writes --------------------------------------------------------------------------

    async def next_number(self, key: str) -> int:
        if not isinstance(key, str) or not 1 <= len(key) <= 64:
            raise InvalidInput("key", key, "must be 1 to 64 characters")
        async with self.turns.writing() as connection:
            insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
            statement = (
                insert(_COUNTER)
                .values(key=key, value=1)
                .on_conflict_do_update(index_elements=[_COUNTER.c.key], set_={"value": _COUNTER.c.value + 1})
                .returning(_COUNTER.c.value)
            )
            return int((await connection.execute(statement)).scalar_one())

    async def insert_case(self, case: Case, event: CaseEvent) -> Case:
        check_case(case)
        try:
            async with self.turns.writing() as connection:
                places, firms = await _references(connection, [case], None)
                exists = (await connection.execute(select(_CASE.c.id).where(_CASE.c.key == case.id))).first()
                if exists is not None:
                    raise DuplicateCase(f"case {case.id} already exists")
                if case.external_id:
                    await _check_external_ids(connection, [case])
                row = _case_row(case, places.get(case.place_code or ""), firms.get(case.firm_code or ""))
                await connection.execute(_CASE.insert().values(**row, **_workflow_row(case), version=1))
                stored = (await connection.execute(_case_query().where(_CASE.c.key == case.id))).one()
                await connection.execute(_EVENT.insert().values(_event_row(stored.id, 1, event)))
        except IntegrityError:
            # another writer stored the same id (or external id) between our check and insert
            raise DuplicateCase(f"case {case.id} already exists") from None
        return _case(stored)

    async def update_case(
        self,
        case: Case,
        *,
        expect: int,
        events: Sequence[CaseEvent] = (),
        messages: Sequence[OutboxDraft] = (),
    ) -> Case | None:
        check_case(case)
        async with self.turns.writing() as connection:
            places, firms = await _references(connection, [case], None)
            values = _case_row(case, places.get(case.place_code or ""), firms.get(case.firm_code or ""))
            for fixed in ("key", "source_kind", "external_id", "reported_at"):
                del values[fixed]
            values.update(_workflow_row(case), version=expect + 1)
            guarded = await connection.execute(
                update(_CASE).where(_CASE.c.key == case.id, _CASE.c.version == expect).values(**values)
            )
            if guarded.rowcount != 1:
                return None
            stored = (await connection.execute(_case_query().where(_CASE.c.key == case.id))).one()
            if events:
                seq = (await _next_seqs(connection, [stored.id])).get(stored.id, 1)
                await connection.execute(
                    _EVENT.insert(), [_event_row(stored.id, seq + index, event) for index, event in enumerate(events)]
                )
            if messages:
                await connection.execute(
                    _OUTBOX.insert(),
                    [
                        {
                            "target": message.target,
                            "case_id": stored.id,
                            "external_id": stored.external_id,
                            "payload": json.dumps(message.payload, ensure_ascii=False),
                            "created_at": utc(message.created_at),
                            "attempts": 0,
                            "next_attempt_at": utc(message.created_at),
                            "sent_at": None,
                            "last_error": None,
                        }
                        for message in messages
                    ],
                )
        return _case(stored)

    # -- the outbox ----------------------------------------------------------------------

    @staticmethod
    def _outbox_query() -> Select[Any]:
        return select(_OUTBOX, _CASE.c.key.label("case_key")).join(_CASE, _CASE.c.id == _OUTBOX.c.case_id)

    async def outbox_messages(self, target: str | None, *, dead: bool = False, limit: int = 100) -> list[OutboxMessage]:
        pending = _OUTBOX.c.next_attempt_at.is_(None) if dead else _OUTBOX.c.next_attempt_at.is_not(None)
        query = self._outbox_query().where(_OUTBOX.c.sent_at.is_(None), pending)
        if target is not None:
            query = query.where(_OUTBOX.c.target == target)
        async with self.engine.connect() as connection:
            found = await connection.execute(query.order_by(_OUTBOX.c.id).limit(max(1, min(limit, MAX_PAGE))))
            return [_message(row) for row in found]

    async def outbox_sent(self, ids: Sequence[int], at: dt.datetime) -> None:
        if not ids:
            return
        async with self.turns.writing() as connection:
            await connection.execute(
                update(_OUTBOX).where(_OUTBOX.c.id.in_(list(ids)), _OUTBOX.c.sent_at.is_(None)).values(sent_at=utc(at))
            )

    async def outbox_failed(self, message_id: int, error: str, next_attempt_at: dt.datetime | None) -> None:
        async with self.turns.writing() as connection:
            await connection.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == message_id, _OUTBOX.c.sent_at.is_(None))
                .values(
                    attempts=_OUTBOX.c.attempts + 1,
                    last_error=error[:2000],
                    next_attempt_at=maybe_utc(next_attempt_at),
                )
            )

    async def assigned_loads(self, assignees: Sequence[str]) -> list[int]:
        if not assignees:
            return []
        async with self.engine.connect() as connection:
            query = (
                select(_CASE.c.assignee, func.count().label("load"))
                .where(_CASE.c.status.in_(_OPEN), _CASE.c.assignee.in_(sorted(set(assignees))))
                .group_by(_CASE.c.assignee)
            )
            loads = {row.assignee: int(row.load) for row in await connection.execute(query)}
        return [loads.get(key, 0) for key in assignees]

    async def outbox_pending(self, target: str | None = None) -> int:
        query = select(func.count()).select_from(_OUTBOX).where(
            _OUTBOX.c.sent_at.is_(None), _OUTBOX.c.next_attempt_at.is_not(None)
        )
        if target is not None:
            query = query.where(_OUTBOX.c.target == target)
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())


def _keyed(tally: CaseTally | None, key: str) -> CaseTally:
    return CaseTally(key=key) if tally is None else replace(tally, key=key)
