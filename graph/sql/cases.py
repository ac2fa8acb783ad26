"""Cases (工单) in SQL: the cases themselves, their history and the outbox (a base of SqlStore).

A case is in a caller's scope when its place is (the same `within_any` predicate as places, on
the place row the case points at); a case linked to no place is seen only by an unlimited
scope. Lists run newest report first, keyset-paged by (reported_at, id); a page cursor is
`encode_cursor(case id)`, and the store finds where that case sits, so any edge has a cursor.

Ids: the hub's own cases are `GD` + the day of report in China time (yyyymmdd) + a six-digit
sequence of that day (`GD20260115000042`), unique and sortable by day; a case read from a source
carries the id its connector derived from (connector, external id), so a rewrite lands on the
same row.

Two rules keep a source and the hub from fighting over a case's status:
- a status read from a source is kept as an event (actor: the connector) and never queued to
  the outbox, so it is not echoed back;
- while a case has messages waiting in the outbox, or when the source's record is older than
  what the hub holds, the source's status (and rating and update time) is not taken: the hub's
  change has not reached the source yet, and reading the source back must not undo it.

The workflow's fields (dispatch, signing and resolution times, `sign_by`, the escalation rung)
are the hub's own: a source's rewrite of a case never touches them. The hub's moves record when
a case entered DISPATCHED, SIGNED and RESOLVED (`dispatched_at`, `signed_at`, `resolved_at`).

Metrics (`case_metrics`, `place_case_metrics`, `firm_case_metrics`) are one grouped query each,
plus one windowed query for the median time to resolve (row_number over the durations of each
group, the middle one or two averaged): no per-group round trips, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case as when, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.cases import (
    Case,
    CaseCategory,
    CaseEvent,
    CaseMetrics,
    CaseSource,
    CaseStatus,
    Escalation,
    OPEN_STATUSES,
    OutboxMessage,
    WORKFLOW_FIELDS,
    check_transition,
)
from graph.cursors import decode_cursor, encode_cursor
from graph.codes import place_code
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Batch, Page, WriteCounts
from graph.scope import Scope
from graph.sql import rows, tables
from graph.sql.rows import maybe_utc, utc
from graph.sql.bulk import insert_rows, update_rows
from graph.sql.daily_ids import next_daily_id
from graph.sql.scoping import under
from graph.sql.tables import ancestor_column
from graph.sql.writes import anchors, select_in
from graph.sql.writers import WriteTurns
from graph.store import MAX_PAGE

if TYPE_CHECKING:
    from graph.sql.scoping import Anchor

HUB_PREFIX = "GD"
"""工单 (gōngdān): the prefix of the hub's own case ids."""

MAX_ID = 59
"""The longest case id: a page cursor (`graph.cursors`) holds at most 59 characters of key."""

_CASE = tables.case
_EVENT = tables.case_event
_OUTBOX = tables.outbox
_PLACE = tables.place
_FIRM = tables.firm

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


def _check(case: Case) -> None:
    where = f"case {case.id!r}"
    if not case.id.strip() or len(case.id) > MAX_ID or not case.id.isprintable():
        raise InvalidInput(f"{where} id", case.id, f"must be 1 to {MAX_ID} printable characters")
    if not case.title.strip():
        raise InvalidInput(f"{where} title", case.title, "must not be empty")
    if len(case.title) > 400:
        raise InvalidInput(f"{where} title", case.title[:40] + "…", "must be at most 400 characters")
    if case.rating is not None and not 1 <= case.rating <= 5:
        raise InvalidInput(f"{where} rating", case.rating, "must be 1 (very unsatisfied) to 5 (very satisfied)")
    if case.point is not None and not (-180 <= case.point.lon <= 180 and -90 <= case.point.lat <= 90):
        raise InvalidInput(f"{where} point", f"{case.point.lon},{case.point.lat}", "is not a WGS-84 longitude, latitude")
    if case.external_id is not None and not 1 <= len(case.external_id) <= 128:
        raise InvalidInput(f"{where} external_id", case.external_id, "must be 1 to 128 characters")


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
    }


_STEP_TIMES = {
    CaseStatus.DISPATCHED: "dispatched_at",
    CaseStatus.SIGNED: "signed_at",
    CaseStatus.RESOLVED: "resolved_at",
}
"""The time column a hub move into each step sets."""

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


async def _metrics(
    connection: AsyncConnection, group: Any, clauses: Sequence[Any], now: dt.datetime, *, with_places: bool
) -> dict[Any, CaseMetrics]:
    """Case figures grouped by `group` over cases matching `clauses` (keyed by the group's
    value; `key` is filled in by the caller). `with_places` joins the case's place (needed by
    place groups and scope predicates)."""
    moment = utc(now)

    def source(query: Select[Any]) -> Select[Any]:
        if with_places:
            return query.select_from(_CASE.join(_PLACE, _PLACE.c.id == _CASE.c.place_id))
        return query.select_from(_CASE.outerjoin(_PLACE, _PLACE.c.id == _CASE.c.place_id))

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(when((condition, 1), else_=0)), 0)

    due = and_(_CASE.c.sign_by.is_not(None), or_(_CASE.c.signed_at.is_not(None), _CASE.c.sign_by <= moment))
    in_time = and_(_CASE.c.sign_by.is_not(None), _CASE.c.signed_at.is_not(None), _CASE.c.signed_at <= _CASE.c.sign_by)
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
        )
    ).where(and_(*clauses)).group_by(group)
    found: dict[Any, CaseMetrics] = {}
    for row in await connection.execute(totals):
        found[row.grp] = CaseMetrics(
            key="",
            cases=int(row.cases),
            due=int(row.due),
            signed_in_time=int(row.in_time),
            resolved=int(row.resolved),
            rated=int(row.rated),
            satisfied=int(row.satisfied),
            overdue=int(row.overdue),
        )
    if not found:
        return found
    duration = _seconds(connection.dialect.name, _CASE.c.resolved_at, _CASE.c.reported_at)
    ranked = (
        source(
            select(
                group.label("grp"),
                duration.label("seconds"),
                func.row_number().over(partition_by=group, order_by=duration).label("position"),
                func.count().over(partition_by=group).label("total"),
            )
        )
        .where(and_(*clauses, _CASE.c.status.in_(_CLOSED), _CASE.c.resolved_at.is_not(None)))
        .subquery()
    )
    middle = (
        select(ranked.c.grp, func.avg(ranked.c.seconds).label("median"))
        .where(ranked.c.position.in_([(ranked.c.total + 1) // 2, (ranked.c.total + 2) // 2]))
        .group_by(ranked.c.grp)
    )
    for row in await connection.execute(middle):
        if row.grp in found and row.median is not None:
            found[row.grp] = replace(found[row.grp], median_resolve_seconds=round(float(row.median), 3))
    return found


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
    """The bulk path for `Batch.cases`: upsert by id, compare-then-write, a status change kept
    as an event by the connector that read it (see the module docstring for whose status wins)."""
    if not batch.cases:
        return WriteCounts()
    for case in batch.cases:
        _check(case)
    latest = {case.id: case for case in batch.cases}  # the last record for an id wins
    places, firms = await _references(connection, list(latest.values()), cache)
    stored = {
        row.key: row._mapping
        for row in await select_in(connection, select(_CASE), _CASE.c.key, latest)
    }
    stored_ids = [row["id"] for row in stored.values()]
    waiting: set[int] = set()
    if stored_ids:
        query = select(_OUTBOX.c.case_id).where(_OUTBOX.c.sent_at.is_(None), _OUTBOX.c.next_attempt_at.is_not(None))
        waiting = {row.case_id for row in await select_in(connection, query, _OUTBOX.c.case_id, stored_ids)}
    await _check_external_ids(connection, [c for c in latest.values() if c.id not in stored and c.external_id])
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    moves: list[tuple[int, Case, str]] = []  # (row id, case, stored status)
    unchanged = 0
    for case in latest.values():
        row = _case_row(case, places.get(case.place_code or ""), firms.get(case.firm_code or ""))
        old = stored.get(case.id)
        if old is None:
            inserts.append({**row, **_workflow_row(case)})
            continue
        if old["id"] in waiting or row["updated_at"] < utc(old["updated_at"]):
            for name in ("status", "rating", "updated_at"):
                row[name] = old[name] if name != "updated_at" else utc(old[name])
        if _same(old, row):
            unchanged += 1
            continue
        updates.append({"row_id": old["id"], **row})
        if row["status"] != old["status"]:
            moves.append((old["id"], case, old["status"]))
    events: list[dict[str, Any]] = []
    if inserts:
        await insert_rows(connection, _CASE, inserts)
        new_ids = {
            row.key: row.id
            for row in await select_in(connection, select(_CASE.c.key, _CASE.c.id), _CASE.c.key, (r["key"] for r in inserts))
        }
        for row in inserts:
            case = latest[row["key"]]
            events.append(_event_row(new_ids[row["key"]], 1, None, case.status, case.reported_at, case))
    await update_rows(connection, _CASE, updates)
    if moves:
        seqs = await _next_seqs(connection, [row_id for row_id, _, _ in moves])
        for row_id, case, before in moves:
            events.append(_event_row(row_id, seqs.get(row_id, 1), CaseStatus(before), case.status, case.updated_at, case))
    if events:
        await insert_rows(connection, _EVENT, events)
    return WriteCounts(len(inserts), len(updates), unchanged + len(batch.cases) - len(latest))


def _event_row(
    case_id: int, seq: int, before: CaseStatus | None, after: CaseStatus, at: dt.datetime, case: Case
) -> dict[str, Any]:
    actor = case.provenance.source if case.provenance else case.source.value
    record = f" (record {case.provenance.record_id})" if case.provenance else ""
    return {
        "case_id": case_id,
        "seq": seq,
        "from_status": before.value if before else None,
        "to_status": after.value,
        "at": utc(at),
        "actor": actor,
        "note": f"read from {actor}{record}",
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

    # -- the hub's own changes -----------------------------------------------------------

    async def open_case(self, case: Case, actor: str) -> Case:
        for attempt in range(5):
            try:
                async with self.turns.writing() as connection:
                    key = case.id or await _next_hub_id(connection, case.reported_at)
                    opened = replace(case, id=key)
                    _check(opened)
                    places, firms = await _references(connection, [opened], None)
                    if opened.external_id:
                        await _check_external_ids(connection, [opened])
                    exists = (await connection.execute(select(_CASE.c.id).where(_CASE.c.key == key))).first()
                    if exists is not None:
                        raise StoreError(f"case {key} already exists")
                    row = _case_row(opened, places.get(opened.place_code or ""), firms.get(opened.firm_code or ""))
                    result = await connection.execute(_CASE.insert().values(**row, **_workflow_row(opened)))
                    case_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
                    if case_id is None:
                        case_id = (await connection.execute(select(_CASE.c.id).where(_CASE.c.key == key))).scalar_one()
                    await connection.execute(
                        _EVENT.insert().values(
                            case_id=case_id,
                            seq=1,
                            from_status=None,
                            to_status=opened.status.value,
                            at=utc(opened.reported_at),
                            actor=actor,
                            note="",
                        )
                    )
                return opened
            except IntegrityError:
                if case.id or attempt == 4:
                    raise StoreError(f"case {case.id or '(new)'} could not be stored: another writer took its id") from None
        raise AssertionError("unreachable")

    async def move_case(
        self,
        case_id: str,
        to: CaseStatus,
        *,
        actor: str,
        note: str,
        at: dt.datetime,
        scope: Scope,
        rating: int | None = None,
    ) -> Case:
        if to is CaseStatus.FOLLOWED_UP:
            if rating is None or not 1 <= rating <= 5:
                raise InvalidInput("rating", rating, "is required with followed_up (回访): 1 (very unsatisfied) to 5 (very satisfied)")
        elif rating is not None:
            raise InvalidInput("rating", rating, "is given only when a case is followed up (回访)")
        changes = {"rating": rating} if rating is not None else None
        return await self.advance_case(case_id, [to], actor=actor, note=note, at=at, scope=scope, changes=changes)

    async def advance_case(
        self,
        case_id: str,
        steps: Sequence[CaseStatus],
        *,
        actor: str,
        note: str,
        at: dt.datetime,
        scope: Scope,
        changes: Mapping[str, object] | None = None,
        expect: Sequence[CaseStatus] | None = None,
        firm: str | None = None,
    ) -> Case:
        wanted = dict(changes or {})
        unknown = set(wanted) - WORKFLOW_FIELDS
        if unknown:
            raise StoreError(f"advance_case sets only the workflow's fields, not {', '.join(sorted(unknown))}")
        rating = wanted.get("rating")
        if rating is not None and not (isinstance(rating, int) and 1 <= rating <= 5):
            raise InvalidInput("rating", rating, "must be 1 (very unsatisfied) to 5 (very satisfied)")
        if CaseStatus.FOLLOWED_UP in steps and rating is None:
            raise InvalidInput("rating", rating, "is required with followed_up (回访): 1 (very unsatisfied) to 5 (very satisfied)")
        if len(note) > 2000:
            raise InvalidInput("note", note[:40] + "…", "must be at most 2000 characters")
        moment = utc(at)
        async with self.turns.writing() as connection:
            row = await self._locked_case(connection, case_id, scope)
            case = _case(row)
            if firm is not None and case.firm_code != firm:
                raise InvalidInput("id", case_id, f"is not dispatched to your firm ({firm})")
            if expect is not None and case.status not in expect:
                wanted_steps = " or ".join(f"{status.value} ({status.label})" for status in expect)
                raise InvalidInput(
                    "status", case.status.value, f"case {case_id} is {case.status.value} ({case.status.label}): this step takes a case that is {wanted_steps}"
                )
            current = case.status
            for step in steps:
                check_transition(case_id, current, step)
                current = step
            values: dict[str, Any] = {"updated_at": moment}
            for step in steps:
                if step in _STEP_TIMES:
                    values[_STEP_TIMES[step]] = moment
            for name, value in wanted.items():
                if name == "firm_code":
                    values["firm_id"] = await _firm_id(connection, value)
                elif name == "escalation":
                    values[name] = int(value) if value is not None else None  # type: ignore[call-overload]
                elif name == "rating":
                    values[name] = value
                else:
                    values[name] = maybe_utc(value)  # type: ignore[arg-type]
            if steps:
                values["status"] = current.value
            seq = (await _next_seqs(connection, [row.id])).get(row.id, 1)
            before = case.status
            events: list[dict[str, Any]] = []
            for step in steps or [before]:
                events.append(
                    {
                        "case_id": row.id,
                        "seq": seq,
                        "from_status": before.value,
                        "to_status": step.value,
                        "at": moment,
                        "actor": actor,
                        "note": note,
                    }
                )
                if case.push_to and steps:
                    payload = {
                        "status": step.value,
                        "label": step.label,
                        "from": before.value,
                        "note": note,
                        "at": moment.isoformat(),
                        "actor": actor,
                        "rating": rating if step is CaseStatus.FOLLOWED_UP else None,
                    }
                    await connection.execute(
                        _OUTBOX.insert().values(
                            target=case.push_to,
                            case_id=row.id,
                            external_id=case.external_id,
                            payload=json.dumps(payload, ensure_ascii=False),
                            created_at=moment,
                            attempts=0,
                            next_attempt_at=moment,
                            sent_at=None,
                            last_error=None,
                        )
                    )
                seq += 1
                before = step
            await connection.execute(_EVENT.insert(), events)
            await connection.execute(update(_CASE).where(_CASE.c.id == row.id).values(**values))
            found = (await connection.execute(_case_query().where(_CASE.c.id == row.id))).one()
        return _case(found)

    async def _locked_case(self, connection: AsyncConnection, case_id: str, scope: Scope) -> Any:
        """The case's row in scope, locked for the transaction on PostgreSQL (SQLite's writer
        lock serialises writers already); an unknown and a foreign id raise the same error."""
        query = _case_query().where(_CASE.c.key == case_id).where(await self._case_visible(connection, scope))
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(of=_CASE)
        row = (await connection.execute(query)).first()
        if row is None:
            raise InvalidInput("id", case_id, "is not a case you can see")
        return row

    async def escalate_case(
        self, case_id: str, rung: Escalation, *, actor: str, note: str, at: dt.datetime
    ) -> Case | None:
        """Raise the case to `rung` and keep an event (status unchanged) — only if it is still
        below that rung, checked in the same UPDATE, so two sweeps never escalate one rung
        twice. None when another sweep got there first. Unscoped: the hub's own sweep."""
        moment = utc(at)
        async with self.turns.writing() as connection:
            raised = await connection.execute(
                update(_CASE)
                .where(_CASE.c.key == case_id, or_(_CASE.c.escalation.is_(None), _CASE.c.escalation < int(rung)))
                .values(escalation=int(rung), escalated_at=moment, updated_at=moment)
            )
            if raised.rowcount != 1:
                return None
            row = (await connection.execute(_case_query().where(_CASE.c.key == case_id))).one()
            seq = (await _next_seqs(connection, [row.id])).get(row.id, 1)
            await connection.execute(
                _EVENT.insert().values(
                    case_id=row.id, seq=seq, from_status=row.status, to_status=row.status, at=moment, actor=actor, note=note
                )
            )
        return _case(row)

    async def escalation_candidates(self, now: dt.datetime, limit: int = 500, after: str | None = None) -> list[Case]:
        query = (
            _case_query()
            .where(_overdue(now), or_(_CASE.c.escalation.is_(None), _CASE.c.escalation < int(max(Escalation))))
            .order_by(_CASE.c.key)
            .limit(max(1, min(limit, 10 * MAX_PAGE)))
        )
        if after is not None:
            query = query.where(_CASE.c.key > after)
        async with self.engine.connect() as connection:
            return [_case(row) for row in await connection.execute(query)]

    # -- metrics -------------------------------------------------------------------------

    async def case_metrics(
        self,
        within: str,
        group_by: Level,
        scope: Scope,
        *,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseMetrics]:
        async with self.engine.connect() as connection:
            root = await self._anchor(connection, within)
            if root is None or group_by < root.level:
                return []
            visible = await self._visible(connection, scope)
            groups = select(_PLACE.c.id, _PLACE.c.code).where(_PLACE.c.level == int(group_by), visible, under(_PLACE, root))
            places = {row.id: row.code for row in await connection.execute(groups.order_by(_PLACE.c.code))}
            if not places:
                return []
            clauses = [visible, under(_PLACE, root), *_period(since, until)]
            found = await _metrics(connection, _group_of(group_by), clauses, now, with_places=True)
        return [replace(found.get(place_id, CaseMetrics(key="")), key=code) for place_id, code in places.items()]

    async def place_case_metrics(
        self,
        codes: Sequence[str],
        scope: Scope,
        *,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseMetrics | None]:
        result: dict[str, CaseMetrics] = {}
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            query = select(_PLACE.c.id, _PLACE.c.code, _PLACE.c.level).where(visible)
            by_level: dict[Level, dict[int, str]] = {}
            for row in await select_in(connection, query, _PLACE.c.code, codes):
                by_level.setdefault(Level(row.level), {})[row.id] = row.code
            for level, places in sorted(by_level.items()):
                group = _group_of(level)
                clauses = [visible, group.in_(list(places)), *_period(since, until)]
                found = await _metrics(connection, group, clauses, now, with_places=True)
                for place_id, code in places.items():
                    result[code] = replace(found.get(place_id, CaseMetrics(key="")), key=code)
        return [result.get(code) for code in codes]

    async def firm_case_metrics(
        self,
        firm_codes: Sequence[str],
        scope: Scope,
        *,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[CaseMetrics]:
        async with self.engine.connect() as connection:
            firms = {
                row.id: row.code
                for row in await select_in(connection, select(_FIRM.c.id, _FIRM.c.code), _FIRM.c.code, firm_codes)
            }
            found: dict[Any, CaseMetrics] = {}
            if firms:
                clauses = [await self._case_visible(connection, scope), _CASE.c.firm_id.in_(list(firms)), *_period(since, until)]
                found = await _metrics(connection, _CASE.c.firm_id, clauses, now, with_places=False)
        by_code = {code: found.get(firm_id, CaseMetrics(key="")) for firm_id, code in firms.items()}
        return [replace(by_code.get(code, CaseMetrics(key="")), key=code) for code in firm_codes]

    # -- the outbox ----------------------------------------------------------------------

    @staticmethod
    def _outbox_query() -> Select[Any]:
        return select(_OUTBOX, _CASE.c.key.label("case_key")).join(_CASE, _CASE.c.id == _OUTBOX.c.case_id)

    async def outbox_due(self, target: str, now: dt.datetime, limit: int = 100) -> list[OutboxMessage]:
        limit = max(1, min(limit, MAX_PAGE))
        query = (
            self._outbox_query()
            .where(_OUTBOX.c.target == target, _OUTBOX.c.sent_at.is_(None), _OUTBOX.c.next_attempt_at.is_not(None))
            .order_by(_OUTBOX.c.id)
            .limit(limit)
        )
        due: list[OutboxMessage] = []
        moment = utc(now)
        async with self.engine.connect() as connection:
            for row in await connection.execute(query):
                message = _message(row)
                # order is kept per target: a message waiting for its retry holds back the rest
                if message.next_attempt_at is None or message.next_attempt_at > moment:
                    break
                due.append(message)
        return due

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

    async def outbox_pending(self, target: str | None = None) -> int:
        query = select(func.count()).select_from(_OUTBOX).where(
            _OUTBOX.c.sent_at.is_(None), _OUTBOX.c.next_attempt_at.is_not(None)
        )
        if target is not None:
            query = query.where(_OUTBOX.c.target == target)
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def outbox_dead(self, target: str | None = None, limit: int = 100) -> list[OutboxMessage]:
        query = self._outbox_query().where(_OUTBOX.c.sent_at.is_(None), _OUTBOX.c.next_attempt_at.is_(None))
        if target is not None:
            query = query.where(_OUTBOX.c.target == target)
        async with self.engine.connect() as connection:
            found = await connection.execute(query.order_by(_OUTBOX.c.id).limit(max(1, min(limit, MAX_PAGE))))
            return [_message(row) for row in found]


async def _firm_id(connection: AsyncConnection, code: object) -> int | None:
    if code is None:
        return None
    found = (await connection.execute(select(_FIRM.c.id).where(_FIRM.c.code == str(code)))).first()
    if found is None:
        raise InvalidInput("firm", code, "is not a property firm the hub knows")
    return int(found.id)


async def _next_hub_id(connection: AsyncConnection, reported_at: dt.datetime) -> str:
    """The next free `GD<yyyymmdd><000001>` of the report's day in China."""
    return await next_daily_id(connection, _CASE.c.key, HUB_PREFIX, reported_at, what="cases opened")
