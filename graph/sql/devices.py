"""Devices, their readings and their alarms in SQL (a base of SqlStore): the storage side of
`graph.devices.DeviceStore`, whose docstrings hold each member's contract. What is valid (a
registration, an alarm, a reading's kind, an actor) and when a registration changes a device are
decided by `graph.devices` for every adapter; this module stores, finds and counts.

A device or alarm is in a caller's scope when the device's place is (the same `within_any`
predicate as places, on the place row the device points at). Devices list by code, alarms newest
raised first, keyset-paged; a device cursor holds the device's row id (codes run to 64
characters, more than a cursor holds), an alarm cursor the alarm's id.

Ingestion's hot path (`save_device_states`, `add_readings`) writes a batch in one transaction through
the driver's executemany, with device ids taken from a code → id map kept by the store: devices
are never deleted and their ids never change, so the map only grows (on registration, or when a
code it does not know turns out to be stored by another process).

Readings are keyed by device, time, kind and a digest of their values (a unique index), and
inserted with ON CONFLICT DO NOTHING: ingestion acknowledges a message only after committing it,
so a crash before the acknowledgement makes the broker send it again, and it must land as the
same row.

Alarms: at most one active alarm per device and rule, and never two of a device and rule raised
at the same time (a redelivered message re-raising an alarm it raised and that has since
cleared). Raisers are serialised (SQLite's write
lock, a PostgreSQL advisory lock) so that the check for an active alarm and the day-numbered id
(`AL20260302000001`, graph.sql.daily_ids) are taken on what is committed; a partial unique
index on (device, rule) among uncleared alarms holds even a writer that bypasses the lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.cursors import decode_cursor, encode_cursor
from graph.devices import (
    ALARM_PREFIX,
    Alarm,
    Device,
    DeviceState,
    DeviceStatus,
    DeviceTally,
    DeviceType,
    Reading,
    Severity,
    check_actor,
    check_alarm,
    check_device_place,
    check_reading,
    check_registrations,
    registration,
)
from graph.errors import InvalidInput, StoreError
from graph.model import Page
from graph.scope import Scope
from graph.sql import rows, tables
from graph.sql.bulk import insert_rows, update_rows
from graph.sql.daily_ids import next_daily_id
from graph.sql.rows import maybe_utc, utc
from graph.sql.scoping import under
from graph.sql.writes import AnchorCache, anchors, select_in
from graph.sql.writers import WriteTurns
from graph.store import MAX_PAGE

if TYPE_CHECKING:
    from graph.sql.scoping import Anchor

PRUNE_CHUNK = 10_000
"""Readings deleted per statement: each chunk its own short transaction, so a large retention
sweep never holds the write lock (SQLite) or a long transaction (PostgreSQL) for long."""

RAISE_ATTEMPTS = 5

ALARM_LOCK = int.from_bytes(b"HUBALARM", "big")
"""The key of the advisory lock alarm raisers take on PostgreSQL."""

_DEVICE = tables.device
_READING = tables.reading
_ALARM = tables.alarm
_PLACE = tables.place
_CASE = tables.case

def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _digest(values: str) -> str:
    """What keys a reading's values: the first 16 hex digits of the SHA-256 of their canonical
    JSON (migration 0008 computes the same for readings stored before it)."""
    return hashlib.sha256(values.encode()).hexdigest()[:16]


def _device_query() -> Select[Any]:
    return select(_DEVICE, _PLACE.c.code.label("place_code")).join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id)


def _device(row: Any) -> Device:
    mapping = row._mapping
    return Device(
        code=mapping["code"],
        type=DeviceType(mapping["type"]),
        model=mapping["model"],
        place_code=mapping["place_code"],
        interval=mapping["interval_s"],
        point=rows.point_of(mapping),
        name=mapping["name"],
        thresholds=json.loads(mapping["thresholds"]),
        provenance=rows.provenance_of(mapping),
        status=DeviceStatus(mapping["status"]),
        last_seen=maybe_utc(mapping["last_seen"]),
        values=json.loads(mapping["values"]),
        registered_at=utc(mapping["registered_at"]),
        reading_at=maybe_utc(mapping["reading_at"]),
    )


def _alarm_query() -> Select[Any]:
    return (
        select(
            _ALARM.c.id,
            _ALARM.c.key,
            _ALARM.c.rule,
            _ALARM.c.severity,
            _ALARM.c.message,
            _ALARM.c.value,
            _ALARM.c.raised_at,
            _ALARM.c.acknowledged_at,
            _ALARM.c.acknowledged_by,
            _ALARM.c.cleared_at,
            _DEVICE.c.code.label("device_code"),
            _DEVICE.c.type.label("device_type"),
            _DEVICE.c.lon,
            _DEVICE.c.lat,
            _PLACE.c.code.label("place_code"),
            _CASE.c.key.label("case_key"),
        )
        .select_from(_ALARM)
        .join(_DEVICE, _DEVICE.c.id == _ALARM.c.device_id)
        .join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id)
        .outerjoin(_CASE, _CASE.c.id == _ALARM.c.case_id)
    )


def _alarm(row: Any) -> Alarm:
    mapping = row._mapping
    return Alarm(
        id=mapping["key"],
        device_code=mapping["device_code"],
        device_type=DeviceType(mapping["device_type"]),
        rule=mapping["rule"],
        severity=Severity(mapping["severity"]),
        message=mapping["message"],
        raised_at=utc(mapping["raised_at"]),
        place_code=mapping["place_code"],
        point=rows.point_of(mapping),
        value=mapping["value"],
        acknowledged_at=maybe_utc(mapping["acknowledged_at"]),
        acknowledged_by=mapping["acknowledged_by"],
        cleared_at=maybe_utc(mapping["cleared_at"]),
        case_id=mapping["case_key"],
    )


def _registration(device: Device, place_id: int) -> dict[str, Any]:
    return {
        "type": device.type.value,
        "model": device.model,
        "name": device.name,
        "place_id": place_id,
        "lon": float(device.point.lon) if device.point else None,
        "lat": float(device.point.lat) if device.point else None,
        "interval_s": device.interval,
        "thresholds": _json({name: float(value) for name, value in device.thresholds.items()}),
    }


async def _serialise_raisers(connection: AsyncConnection) -> None:
    """On PostgreSQL, make this transaction the only alarm raiser until it ends. SQLite needs
    nothing here: every write transaction holds the database's write lock from its first
    statement (graph.sql.writers), before it reads what it will decide on."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ALARM_LOCK})


class DeviceRecords:
    """The device part of the store port (a base of SqlStore)."""

    engine: AsyncEngine
    turns: WriteTurns

    if TYPE_CHECKING:
        _anchors: AnchorCache

        async def _visible(
            self, connection: AsyncConnection, scope: Scope, table: Any = tables.place, *, drive: bool = False
        ) -> Any: ...

        async def _anchor(self, connection: AsyncConnection, code: str | None) -> Anchor | None: ...

    # -- the code → id map ---------------------------------------------------------------

    def _device_id_map(self) -> dict[str, int]:
        try:
            return self._device_ids
        except AttributeError:
            self._device_ids: dict[str, int] = {}
            return self._device_ids

    async def _ids_of(self, codes: Sequence[str]) -> dict[str, int]:
        """The row ids of the stored devices among `codes`; a code not in the map is looked up
        (another process may have registered it) on its own connection, outside the caller's
        write transaction."""
        known = self._device_id_map()
        missing = [code for code in dict.fromkeys(codes) if code not in known]
        if missing:
            async with self.engine.connect() as connection:
                query = select(_DEVICE.c.id, _DEVICE.c.code)
                for row in await select_in(connection, query, _DEVICE.c.code, missing):
                    known[row.code] = row.id
        return known

    # -- registration --------------------------------------------------------------------

    async def register_devices(self, devices: Sequence[Device]) -> tuple[int, int]:
        check_registrations(devices)
        if not devices:
            return (0, 0)
        now = dt.datetime.now(dt.timezone.utc)
        async with self.turns.writing() as connection:
            places = await anchors(connection, {device.place_code for device in devices}, self._anchors)
            for device in devices:
                anchor = places.get(device.place_code)
                check_device_place(device, None if anchor is None else anchor.level)
            stored = {
                row.code: row
                for row in await select_in(connection, _device_query(), _DEVICE.c.code, [device.code for device in devices])
            }
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for device in devices:
                changed = _registration(device, places[device.place_code].id)
                old = stored.get(device.code)
                if old is None:
                    inserts.append(
                        {
                            "code": device.code,
                            **changed,
                            "status": device.status.value,
                            "last_seen": maybe_utc(device.last_seen),
                            "values": _json(device.values),
                            "registered_at": utc(device.registered_at or now),
                            **rows.provenance_row(device.provenance),
                        }
                    )
                elif registration(_device(old)) != registration(device):
                    updates.append({"row_id": old.id, **changed, **rows.provenance_row(device.provenance)})
            await insert_rows(connection, _DEVICE, inserts)
            await update_rows(connection, _DEVICE, updates)
            query = select(_DEVICE.c.id, _DEVICE.c.code)
            new = await select_in(connection, query, _DEVICE.c.code, [row["code"] for row in inserts]) if inserts else []
        # ids are known only once committed: a rolled-back batch must leave no entry behind
        self._device_id_map().update((row.code, row.id) for row in new)
        return (len(inserts), len(updates))

    # -- reads ---------------------------------------------------------------------------

    async def devices(self, codes: Sequence[str], scope: Scope) -> list[Device | None]:
        async with self.engine.connect() as connection:
            query = _device_query().where(await self._visible(connection, scope))
            found = {row.code: _device(row) for row in await select_in(connection, query, _DEVICE.c.code, codes)}
        return [found.get(code) for code in codes]

    async def _device_clauses(
        self,
        connection: AsyncConnection,
        scope: Scope,
        within: str | None,
        types: Sequence[DeviceType] | None,
        statuses: Sequence[DeviceStatus] | None,
    ) -> list[Any] | None:
        """The filter of a device list; None when `within` is no stored place (nothing listed)."""
        clauses: list[Any] = [await self._visible(connection, scope)]
        if within is not None:
            root = await self._anchor(connection, within)
            if root is None:
                return None
            clauses.append(under(_PLACE, root))
        if types is not None:
            clauses.append(_DEVICE.c.type.in_([kind.value for kind in types]))
        if statuses is not None:
            clauses.append(_DEVICE.c.status.in_([status.value for status in statuses]))
        return clauses

    async def device_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        types: Sequence[DeviceType] | None = None,
        statuses: Sequence[DeviceStatus] | None = None,
    ) -> Page[Device]:
        first = max(1, min(first, MAX_PAGE))
        mark = decode_cursor(after)
        async with self.engine.connect() as connection:
            clauses = await self._device_clauses(connection, scope, within, types, statuses)
            if clauses is None:
                return Page(items=[], has_next=False, end_cursor=None)
            if mark is not None:
                found = None
                if mark.isdigit():
                    query = select(_DEVICE.c.code).where(_DEVICE.c.id == int(mark))
                    found = (await connection.execute(query)).scalar_one_or_none()
                if found is None:
                    raise InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")
                clauses.append(_DEVICE.c.code > found)
            query = _device_query().where(and_(*clauses)).order_by(_DEVICE.c.code).limit(first + 1)
            found_rows = (await connection.execute(query)).all()
        shown = found_rows[:first]
        return Page(
            items=[_device(row) for row in shown],
            has_next=len(found_rows) > first,
            end_cursor=encode_cursor(str(shown[-1].id)) if shown else None,
            start_cursor=encode_cursor(str(shown[0].id)) if shown else None,
        )

    async def device_count(
        self,
        scope: Scope,
        *,
        within: str | None = None,
        types: Sequence[DeviceType] | None = None,
        statuses: Sequence[DeviceStatus] | None = None,
    ) -> int:
        async with self.engine.connect() as connection:
            clauses = await self._device_clauses(connection, scope, within, types, statuses)
            if clauses is None:
                return 0
            query = (
                select(func.count())
                .select_from(_DEVICE)
                .join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id)
                .where(and_(*clauses))
            )
            return int((await connection.execute(query)).scalar_one())

    async def device_tallies(self, codes: Sequence[str], scope: Scope) -> list[DeviceTally | None]:
        found: list[DeviceTally | None] = []
        async with self.engine.connect() as connection:
            visible = await self._visible(connection, scope)
            for code in codes:
                anchor = await self._anchor(connection, code)
                if anchor is None or not await self._seen(connection, anchor, visible):
                    found.append(None)
                    continue
                where = and_(visible, under(_PLACE, anchor))
                query = (
                    select(_DEVICE.c.status, func.count())
                    .select_from(_DEVICE.join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id))
                    .where(where)
                    .group_by(_DEVICE.c.status)
                )
                by_status = {DeviceStatus(status): int(count) for status, count in (await connection.execute(query)).all()}
                active = (
                    await connection.execute(
                        select(func.count())
                        .select_from(_ALARM.join(_DEVICE, _DEVICE.c.id == _ALARM.c.device_id).join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id))
                        .where(where, _ALARM.c.cleared_at.is_(None))
                    )
                ).scalar_one()
                found.append(DeviceTally(by_status=by_status, active_alarms=int(active)))
        return found

    @staticmethod
    async def _seen(connection: AsyncConnection, anchor: Anchor, visible: Any) -> bool:
        """Whether the caller may see the place itself."""
        query = select(_PLACE.c.id).where(_PLACE.c.id == anchor.id, visible)
        return (await connection.execute(query)).first() is not None

    async def all_devices(self) -> list[Device]:
        async with self.engine.connect() as connection:
            found = (await connection.execute(_device_query().order_by(_DEVICE.c.code))).all()
        # ingestion reads the registry first: its writes then need no id lookups
        self._device_id_map().update((row.code, row.id) for row in found)
        return [_device(row) for row in found]

    # -- ingestion's hot path ------------------------------------------------------------

    async def save_device_states(self, states: Sequence[DeviceState]) -> None:
        if not states:
            return
        latest = {state.code: state for state in states}  # the last state of a device wins
        ids = await self._ids_of(list(latest))
        changes: list[dict[str, Any]] = []
        keeping: list[dict[str, Any]] = []  # no reading time given: the stored one stays
        for state in latest.values():
            if state.code not in ids:
                continue
            change = {
                "row_id": ids[state.code],
                "status": state.status.value,
                "last_seen": maybe_utc(state.last_seen),
                "values": _json(state.values),
            }
            if state.reading_at is None:
                keeping.append(change)
            else:
                changes.append({**change, "reading_at": utc(state.reading_at)})
        if changes or keeping:
            async with self.turns.writing() as connection:
                await update_rows(connection, _DEVICE, changes)
                await update_rows(connection, _DEVICE, keeping)

    async def add_readings(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        for reading in readings:
            check_reading(reading)
        ids = await self._ids_of([reading.device_code for reading in readings])
        written: list[dict[str, Any]] = []
        for reading in readings:
            device_id = ids.get(reading.device_code)
            if device_id is None:
                continue
            at = utc(reading.at)
            values = _json(reading.values)
            written.append(
                {
                    "device_id": device_id,
                    "at": at,
                    "received_at": utc(reading.received_at) if reading.received_at is not None else at,
                    "kind": reading.kind,
                    "values": values,
                    "digest": _digest(values),
                }
            )
        if written:
            async with self.turns.writing() as connection:
                await insert_rows(connection, _READING, written, skip_existing=True)
        return len(written)

    async def readings(
        self, code: str, scope: Scope, *, since: dt.datetime | None = None, first: int = 100
    ) -> list[Reading]:
        first = max(1, min(first, MAX_PAGE))
        async with self.engine.connect() as connection:
            query = (
                select(_READING.c.at, _READING.c.received_at, _READING.c.kind, _READING.c["values"])
                .select_from(_READING)
                .join(_DEVICE, _DEVICE.c.id == _READING.c.device_id)
                .join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id)
                .where(_DEVICE.c.code == code, await self._visible(connection, scope))
                .order_by(_READING.c.at.desc(), _READING.c.id.desc())
                .limit(first)
            )
            if since is not None:
                query = query.where(_READING.c.at >= utc(since))
            found = (await connection.execute(query)).all()
        return [
            Reading(
                device_code=code,
                at=utc(row.at),
                values=json.loads(row._mapping["values"]),
                kind=row.kind,
                received_at=utc(row.received_at),
            )
            for row in found
        ]

    async def prune_readings(self, before: dt.datetime) -> int:
        moment = utc(before)
        total = 0
        while True:
            chunk = select(_READING.c.id).where(_READING.c.at < moment).limit(PRUNE_CHUNK).scalar_subquery()
            async with self.turns.writing() as connection:
                deleted = (await connection.execute(delete(_READING).where(_READING.c.id.in_(chunk)))).rowcount
            total += deleted
            if deleted < PRUNE_CHUNK:
                return total

    # -- alarms --------------------------------------------------------------------------

    async def raise_alarm(self, alarm: Alarm) -> Alarm | None:
        check_alarm(alarm)
        for _attempt in range(RAISE_ATTEMPTS):
            try:
                async with self.turns.writing() as connection:
                    await _serialise_raisers(connection)
                    query = select(_DEVICE.c.id).where(_DEVICE.c.code == alarm.device_code)
                    device_id = (await connection.execute(query)).scalar_one_or_none()
                    if device_id is None:
                        raise InvalidInput("device_code", alarm.device_code, "is not a registered device")
                    # active, or raised at this very time (the same message again): nothing new
                    raised = select(_ALARM.c.id).where(
                        _ALARM.c.device_id == device_id,
                        _ALARM.c.rule == alarm.rule,
                        or_(_ALARM.c.cleared_at.is_(None), _ALARM.c.raised_at == utc(alarm.raised_at)),
                    )
                    if (await connection.execute(raised.limit(1))).first() is not None:
                        return None
                    case_id = await _case_row_id(connection, alarm.case_id) if alarm.case_id else None
                    if alarm.id:
                        key = alarm.id
                        taken = (await connection.execute(select(_ALARM.c.id).where(_ALARM.c.key == key))).first()
                        if taken is not None:
                            raise StoreError(f"alarm {key} already exists")
                    else:
                        key = await next_daily_id(connection, _ALARM.c.key, ALARM_PREFIX, alarm.raised_at, what="alarms raised")
                    await connection.execute(
                        _ALARM.insert().values(
                            key=key,
                            device_id=device_id,
                            rule=alarm.rule,
                            severity=alarm.severity.value,
                            message=alarm.message,
                            value=alarm.value,
                            raised_at=utc(alarm.raised_at),
                            acknowledged_at=maybe_utc(alarm.acknowledged_at),
                            acknowledged_by=alarm.acknowledged_by,
                            cleared_at=None,
                            case_id=case_id,
                        )
                    )
                    return _alarm((await connection.execute(_alarm_query().where(_ALARM.c.key == key))).one())
            except IntegrityError:
                # a writer that bypassed the lock took the id or raised the same rule first:
                # the next attempt sees what it committed
                continue
        raise StoreError(f"alarm {alarm.rule} of {alarm.device_code} could not be stored: other writers kept taking its id")

    async def clear_alarm(self, device_code: str, rule: str, at: dt.datetime) -> Alarm | None:
        async with self.turns.writing() as connection:
            query = (
                select(_ALARM.c.id)
                .join(_DEVICE, _DEVICE.c.id == _ALARM.c.device_id)
                .where(_DEVICE.c.code == device_code, _ALARM.c.rule == rule, _ALARM.c.cleared_at.is_(None))
            )
            alarm_id = (await connection.execute(query)).scalar_one_or_none()
            if alarm_id is None:
                return None
            cleared = await connection.execute(
                update(_ALARM).where(_ALARM.c.id == alarm_id, _ALARM.c.cleared_at.is_(None)).values(cleared_at=utc(at))
            )
            if cleared.rowcount == 0:
                return None  # a concurrent clear got there first (PostgreSQL re-checks after its lock)
            return _alarm((await connection.execute(_alarm_query().where(_ALARM.c.id == alarm_id))).one())

    async def acknowledge_alarm(self, alarm_id: str, *, actor: str, at: dt.datetime, scope: Scope) -> Alarm:
        check_actor(actor)
        async with self.turns.writing() as connection:
            query = _alarm_query().where(_ALARM.c.key == alarm_id, await self._visible(connection, scope))
            row = (await connection.execute(query)).first()
            if row is None:
                raise InvalidInput("id", alarm_id, "is not an alarm you can see")
            if row.acknowledged_at is not None:
                return _alarm(row)  # acknowledged before: the first acknowledgement stands
            await connection.execute(
                update(_ALARM)
                .where(_ALARM.c.id == row.id, _ALARM.c.acknowledged_at.is_(None))
                .values(acknowledged_at=utc(at), acknowledged_by=actor)
            )
            return _alarm((await connection.execute(_alarm_query().where(_ALARM.c.id == row.id))).one())

    async def link_alarm_case(self, alarm_id: str, case_id: str) -> None:
        async with self.turns.writing() as connection:
            case_row_id = await _case_row_id(connection, case_id)
            linked = await connection.execute(update(_ALARM).where(_ALARM.c.key == alarm_id).values(case_id=case_row_id))
            if linked.rowcount == 0:
                raise InvalidInput("alarm_id", alarm_id, "is not a stored alarm")

    async def alarms(self, ids: Sequence[str], scope: Scope) -> list[Alarm | None]:
        async with self.engine.connect() as connection:
            query = _alarm_query().where(await self._visible(connection, scope))
            found = {row.key: _alarm(row) for row in await select_in(connection, query, _ALARM.c.key, ids)}
        return [found.get(key) for key in ids]

    async def _alarm_clauses(
        self,
        connection: AsyncConnection,
        scope: Scope,
        within: str | None,
        active: bool | None,
        device_codes: Sequence[str] | None,
        since: dt.datetime | None,
    ) -> list[Any] | None:
        """The filter of an alarm list; None when `within` is no stored place (nothing listed)."""
        clauses: list[Any] = [await self._visible(connection, scope)]
        if within is not None:
            root = await self._anchor(connection, within)
            if root is None:
                return None
            clauses.append(under(_PLACE, root))
        if active is not None:
            clauses.append(_ALARM.c.cleared_at.is_(None) if active else _ALARM.c.cleared_at.is_not(None))
        if device_codes is not None:
            clauses.append(_DEVICE.c.code.in_(list(device_codes)))
        if since is not None:
            clauses.append(_ALARM.c.raised_at >= utc(since))
        return clauses

    async def alarm_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        active: bool | None = None,
        device_codes: Sequence[str] | None = None,
        since: dt.datetime | None = None,
    ) -> Page[Alarm]:
        first = max(1, min(first, MAX_PAGE))
        after_key = decode_cursor(after)
        async with self.engine.connect() as connection:
            clauses = await self._alarm_clauses(connection, scope, within, active, device_codes, since)
            if clauses is None:
                return Page(items=[], has_next=False, end_cursor=None)
            if after_key is not None:
                query = select(_ALARM.c.id, _ALARM.c.raised_at).where(_ALARM.c.key == after_key)
                mark = (await connection.execute(query)).first()
                if mark is None:
                    raise InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")
                at = utc(mark.raised_at)
                clauses.append(
                    or_(_ALARM.c.raised_at < at, and_(_ALARM.c.raised_at == at, _ALARM.c.id < mark.id))
                )
            query = (
                _alarm_query()
                .where(and_(*clauses))
                .order_by(_ALARM.c.raised_at.desc(), _ALARM.c.id.desc())
                .limit(first + 1)
            )
            items = [_alarm(row) for row in await connection.execute(query)]
        shown = items[:first]
        return Page(
            items=shown,
            has_next=len(items) > first,
            end_cursor=encode_cursor(shown[-1].id) if shown else None,
            start_cursor=encode_cursor(shown[0].id) if shown else None,
        )
    async def alarm_count(
        self,
        scope: Scope,
        *,
        within: str | None = None,
        active: bool | None = None,
        device_codes: Sequence[str] | None = None,
        since: dt.datetime | None = None,
    ) -> int:
        async with self.engine.connect() as connection:
            clauses = await self._alarm_clauses(connection, scope, within, active, device_codes, since)
            if clauses is None:
                return 0
            query = (
                select(func.count())
                .select_from(_ALARM.join(_DEVICE, _DEVICE.c.id == _ALARM.c.device_id).join(_PLACE, _PLACE.c.id == _DEVICE.c.place_id))
                .where(and_(*clauses))
            )
            return int((await connection.execute(query)).scalar_one())


async def _case_row_id(connection: AsyncConnection, case_id: str) -> int:
    row_id = (await connection.execute(select(_CASE.c.id).where(_CASE.c.key == case_id))).scalar_one_or_none()
    if row_id is None:
        raise InvalidInput("case_id", case_id, "is not a stored case")
    return int(row_id)
