"""Facility life records in SQL (a base of SqlStore): the storage side of
`graph.facilities.records.FacilityStore`, whose docstrings hold each member's contract. The field
checks are `graph.facilities.checks`; this module stores, finds and counts.

Tables (graph.sql.tables): `facility` (a row per device with a life record, keyed by the device's
row id, its code beside it) and `facility_event` (its events, unique per device and seq and per
device and key). A save is one transaction: the record's row moves from version v-1 to v (an
UPDATE guarded by the version; the first save inserts, and a concurrent first save meets the
primary key) and the event is inserted (a key booked already meets its unique constraint): the
loser of two savers writes nothing.

Scope is the device's place (`device.place_id` joined to `place`), so a record follows its
device. The sweep's `facilities_due` reads the watch column's index, which holds only the due
times not yet alarmed (NULL otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.cursors import decode_cursor
from graph.devices import DeviceType
from graph.errors import InvalidInput
from graph.facilities.pages import bad_cursor, event_mark, page_of, page_size
from graph.facilities.checks import check_history, check_save, check_window
from graph.facilities.records import (
    EventKind,
    Facility,
    FacilityEvent,
    FacilityTally,
    InspectionResult,
    Watch,
)
from graph.model import Page
from graph.scope import Scope
from graph.sql import rows, tables
from graph.sql.rows import maybe_utc, utc
from graph.sql.scoping import under
from graph.sql.bulk import insert_rows
from graph.sql.writes import select_in
from graph.sql.writers import WriteTurns
from graph.votes.checks import check_time

if TYPE_CHECKING:
    from graph.sql.scoping import Anchor

_FACILITY = tables.facility
_EVENT = tables.facility_event
_DEVICE = tables.device
_PLACE = tables.place

_WATCH = {Watch.MAINTENANCE: _FACILITY.c.maintenance_watch, Watch.INSPECTION: _FACILITY.c.inspection_watch}
_PASSED = [result.value for result in InspectionResult if result.passed]


def _facility_query() -> Select[Any]:
    return (
        select(_FACILITY, _DEVICE.c.type.label("device_type"), _PLACE.c.code.label("place_code"))
        .select_from(_FACILITY.join(_DEVICE, _DEVICE.c.id == _FACILITY.c.device_id).join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id))
    )


def _facility(row: Any) -> Facility:
    m = row._mapping
    return Facility(
        code=m["code"],
        device_type=DeviceType(m["device_type"]),
        place_code=m["place_code"],
        version=int(m["version"]),
        installed_at=maybe_utc(m["installed_at"]),
        installed_by=m["installed_by"],
        registration_number=m["registration_number"],
        rescue_code=m["rescue_code"],
        contractor_code=m["contractor_code"],
        contractor_name=m["contractor_name"],
        contract_number=m["contract_number"],
        contract_start=m["contract_start"],
        contract_end=m["contract_end"],
        maintenance_days=m["maintenance_days"],
        last_maintained_at=maybe_utc(m["last_maintained_at"]),
        maintenance_due_at=maybe_utc(m["maintenance_due_at"]),
        maintenance_alarmed=bool(m["maintenance_alarmed"]),
        last_inspected_at=maybe_utc(m["last_inspected_at"]),
        inspection_result=None if m["inspection_result"] is None else InspectionResult(m["inspection_result"]),
        inspection_due_at=maybe_utc(m["inspection_due_at"]),
        inspection_alarmed=bool(m["inspection_alarmed"]),
        repairs=int(m["repairs"]),
        retired_at=maybe_utc(m["retired_at"]),
    )


def _facility_row(facility: Facility) -> dict[str, Any]:
    return {
        "code": facility.code,
        "version": facility.version,
        "installed_at": maybe_utc(facility.installed_at),
        "installed_by": facility.installed_by,
        "registration_number": facility.registration_number,
        "rescue_code": facility.rescue_code,
        "contractor_code": facility.contractor_code,
        "contractor_name": facility.contractor_name,
        "contract_number": facility.contract_number,
        "contract_start": facility.contract_start,
        "contract_end": facility.contract_end,
        "maintenance_days": facility.maintenance_days,
        "last_maintained_at": maybe_utc(facility.last_maintained_at),
        "maintenance_due_at": maybe_utc(facility.maintenance_due_at),
        "maintenance_alarmed": facility.maintenance_alarmed,
        "maintenance_watch": maybe_utc(facility.watching(Watch.MAINTENANCE)),
        "last_inspected_at": maybe_utc(facility.last_inspected_at),
        "inspection_result": None if facility.inspection_result is None else facility.inspection_result.value,
        "inspection_due_at": maybe_utc(facility.inspection_due_at),
        "inspection_alarmed": facility.inspection_alarmed,
        "inspection_watch": maybe_utc(facility.watching(Watch.INSPECTION)),
        "repairs": facility.repairs,
        "retired_at": maybe_utc(facility.retired_at),
    }


def _event(code: str, row: Any) -> FacilityEvent:
    m = row._mapping
    return FacilityEvent(
        code=code,
        seq=int(m["seq"]),
        kind=EventKind(m["kind"]),
        at=utc(m["at"]),
        recorded_by=m["recorded_by"],
        by_org=m["by_org"],
        by_staff=m["by_staff"],
        point=rows.point_of(m),
        key=m["key"],
        note=m["note"],
        data=json.loads(m["data"]),
    )


def _event_row(device_id: int, event: FacilityEvent) -> dict[str, Any]:
    point = event.point
    return {
        "device_id": device_id,
        "seq": event.seq,
        "kind": event.kind.value,
        "at": utc(event.at),
        "recorded_by": event.recorded_by,
        "by_org": event.by_org,
        "by_staff": event.by_staff,
        "lon": None if point is None else float(point.lon),
        "lat": None if point is None else float(point.lat),
        "key": event.key,
        "note": event.note,
        "data": json.dumps(dict(event.data), ensure_ascii=False, sort_keys=True),
    }


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class FacilityRecords:
    """The facility part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    if TYPE_CHECKING:

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

        async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None: ...

    async def save_facility(self, facility: Facility, event: FacilityEvent) -> bool:
        check_save(facility, event)
        try:
            async with self.turns.writing() as connection:
                device_id = (await connection.execute(select(_DEVICE.c.id).where(_DEVICE.c.code == facility.code))).scalar_one_or_none()
                if device_id is None:
                    raise InvalidInput(f"facility {facility.code} code", facility.code, "is not a registered device")
                if event.key is not None:
                    taken = await connection.execute(
                        select(_EVENT.c.id).where(_EVENT.c.device_id == device_id, _EVENT.c.key == event.key)
                    )
                    if taken.first() is not None:
                        return False
                values = _facility_row(facility)
                if facility.version == 1:
                    await connection.execute(_FACILITY.insert().values(device_id=device_id, **values))
                else:
                    moved = await connection.execute(
                        update(_FACILITY)
                        .where(_FACILITY.c.device_id == device_id, _FACILITY.c.version == facility.version - 1)
                        .values(**values)
                    )
                    if moved.rowcount == 0:
                        return False
                await connection.execute(_EVENT.insert().values(**_event_row(device_id, event)))
        except IntegrityError:
            # a concurrent saver took the version (first save) or the key first
            return False
        return True

    async def load_facilities(self, items: Sequence[tuple[Facility, Sequence[FacilityEvent]]]) -> int:
        check_history(items)
        if not items:
            return 0
        codes = [facility.code for facility, _ in items]
        async with self.turns.writing() as connection:
            ids = {row.code: row.id for row in await select_in(connection, select(_DEVICE.c.id, _DEVICE.c.code), _DEVICE.c.code, codes)}
            for code in codes:
                if code not in ids:
                    raise InvalidInput(f"facility {code} code", code, "is not a registered device")
            taken = {row.code for row in await select_in(connection, select(_FACILITY.c.code), _FACILITY.c.code, codes)}
            fresh = [(facility, events) for facility, events in items if facility.code not in taken]
            if fresh:
                await insert_rows(connection, _FACILITY, [{"device_id": ids[f.code], **_facility_row(f)} for f, _ in fresh])
                await insert_rows(connection, _EVENT, [_event_row(ids[f.code], e) for f, events in fresh for e in events])
        return len(fresh)

    async def facilities(self, codes: Sequence[str], scope: Scope) -> list[Facility | None]:
        async with self.engine.connect() as connection:
            query = _facility_query().where(await self._visible(connection, scope))
            found = {row.code: _facility(row) for row in await select_in(connection, query, _FACILITY.c.code, codes)}
        return [found.get(code) for code in codes]

    async def facility_events(
        self, code: str, scope: Scope, first: int, after: str | None = None, *, kinds: Sequence[EventKind] | None = None
    ) -> Page[FacilityEvent]:
        first = page_size(first)
        before = event_mark(after)
        async with self.engine.connect() as connection:
            query = (
                select(_FACILITY.c.device_id)
                .select_from(_FACILITY.join(_DEVICE, _DEVICE.c.id == _FACILITY.c.device_id).join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id))
                .where(_FACILITY.c.code == code, await self._visible(connection, scope))
            )
            device_id = (await connection.execute(query)).scalar_one_or_none()
            if device_id is None:
                return Page(items=[], has_next=False, end_cursor=None)
            clauses: list[Any] = [_EVENT.c.device_id == device_id]
            if kinds is not None:
                clauses.append(_EVENT.c.kind.in_([EventKind(kind).value for kind in kinds]))
            if before is not None:
                clauses.append(_EVENT.c.seq < before)
            events = select(_EVENT).where(and_(*clauses)).order_by(_EVENT.c.seq.desc()).limit(first + 1)
            found = [_event(code, row) for row in await connection.execute(events)]
        return page_of(found, first, lambda event: str(event.seq))

    async def facility_keys(self, code: str, keys: Sequence[str]) -> list[bool]:
        async with self.engine.connect() as connection:
            query = (
                select(_EVENT.c.key)
                .select_from(_EVENT.join(_DEVICE, _DEVICE.c.id == _EVENT.c.device_id))
                .where(_DEVICE.c.code == code)
            )
            booked = {row.key for row in await select_in(connection, query, _EVENT.c.key, [key for key in keys if isinstance(key, str)])}
        return [key in booked for key in keys]

    async def facilities_due(self, watch: Watch, before: dt.datetime, first: int, after: str | None = None) -> Page[Facility]:
        check_time(before, "before")
        first = page_size(first)
        column = _WATCH[Watch(watch)]
        mark = decode_cursor(after)
        async with self.engine.connect() as connection:
            clauses: list[Any] = [column < utc(before)]
            if mark is not None:
                stored = (await connection.execute(select(column).where(_FACILITY.c.code == mark))).first()
                if stored is None or stored[0] is None:
                    raise bad_cursor(after)
                at = utc(stored[0])
                clauses.append(or_(column > at, and_(column == at, _FACILITY.c.code > mark)))
            query = _facility_query().where(and_(*clauses)).order_by(column, _FACILITY.c.code).limit(first + 1)
            found = [_facility(row) for row in await connection.execute(query)]
        return page_of(found, first, lambda facility: facility.code)

    async def flag_overdue(self, code: str, watch: Watch, due_at: dt.datetime) -> bool:
        check_time(due_at, "due_at")
        watch = Watch(watch)
        due = _FACILITY.c.maintenance_due_at if watch is Watch.MAINTENANCE else _FACILITY.c.inspection_due_at
        alarmed = "maintenance_alarmed" if watch is Watch.MAINTENANCE else "inspection_alarmed"
        async with self.turns.writing() as connection:
            changed = await connection.execute(
                update(_FACILITY)
                .where(_FACILITY.c.code == code, due == utc(due_at), _FACILITY.c[alarmed].is_(False))
                .values({alarmed: True, _WATCH[watch].name: None})
            )
            return changed.rowcount > 0

    async def facility_tallies(
        self,
        codes: Sequence[str],
        scope: Scope,
        *,
        now: dt.datetime,
        soon_until: dt.datetime,
        year_from: dt.datetime,
        year_until: dt.datetime,
    ) -> list[FacilityTally | None]:
        check_window(now, soon_until, year_from, year_until)
        now, soon, start, end = utc(now), utc(soon_until), utc(year_from), utc(year_until)
        live = _FACILITY.c.retired_at.is_(None)
        m_due, i_due = _FACILITY.c.maintenance_due_at, _FACILITY.c.inspection_due_at
        m_over = and_(live, m_due < now)
        i_over = and_(live, i_due < now)
        soon_ = and_(live, or_(and_(m_due >= now, m_due < soon), and_(i_due >= now, i_due < soon)))
        elevator = _DEVICE.c.type == DeviceType.ELEVATOR.value
        figures = (
            _count(live),
            _count(~live),
            _count(soon_),
            _count(or_(m_over, i_over)),
            _count(m_over),
            _count(i_over),
            _count(and_(live, _FACILITY.c.inspection_result.is_not(None))),
            _count(and_(live, _FACILITY.c.inspection_result.in_(_PASSED))),
            _count(and_(live, elevator)),
        )
        joined = _FACILITY.join(_DEVICE, _DEVICE.c.id == _FACILITY.c.device_id).join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id)
        found: list[FacilityTally | None] = []
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            for code in codes:
                anchor = await self._anchor(connection, code)
                seen = anchor is not None and (
                    await connection.execute(select(_PLACE.c.id).where(_PLACE.c.id == anchor.id, visible))
                ).first() is not None
                if anchor is None or not seen:
                    found.append(None)
                    continue
                where = under(_PLACE, anchor)
                row = (await connection.execute(select(*figures).select_from(joined).where(where))).one()
                repairs = (
                    await connection.execute(
                        select(func.count())
                        .select_from(_EVENT.join(_DEVICE, _DEVICE.c.id == _EVENT.c.device_id).join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id))
                        .where(where, elevator, _EVENT.c.kind == EventKind.REPAIR.value, _EVENT.c.at >= start, _EVENT.c.at < end)
                    )
                ).scalar_one()
                live_, retired, due_soon, overdue, m, i, inspected, passed, elevators = (int(v) for v in row)
                found.append(
                    FacilityTally(
                        facilities=live_,
                        retired=retired,
                        due_soon=due_soon,
                        overdue=overdue,
                        maintenance_overdue=m,
                        inspection_overdue=i,
                        inspected=inspected,
                        passed=passed,
                        elevators=elevators,
                        elevator_repairs=int(repairs),
                    )
                )
        return found
