"""Facility life records in the graph (`graph.facilities.records.FacilityStore`; each member's
contract is in its docstring there, the field checks in `graph.facilities.checks`).

The model: `(:Facility {code, version, installed_at, …, maintenance_watch, inspection_watch,
repairs, retired_at})-[:OF]->(:Device)`, one per device with a life record, and
`(:FacilityEvent {id, dedupe, code, seq, kind, at, recorded_by, by_org, by_staff, lon, lat, key,
note, data})`, keyed by `id` (code and seq) and `dedupe` (code and the source's key, or code and
seq when it has none), both unique. Times are integer microseconds, dates ISO text, `data` JSON
text (graph.cypher.values).

A save is one statement: it reads the record's version and whether the event's dedupe key is
taken, and only through an UNWIND gated on both (version at `version - 1`, key free) writes the
record whole (`SET n = $props`) and creates the event. On FalkorDB a graph's writes run one at
a time; on Neo4j two savers at once meet the unique constraint on the event's id or dedupe key,
and the loser's statement fails whole (read as False).

Scope is the device's place (`model.seen` on the place the device is INSTALLED_IN, read through
the edges, so the record follows its device). The sweep's `facilities_due` reads the
`maintenance_watch` / `inspection_watch` range index, which holds only due times not yet
alarmed (the property is absent otherwise). Tallies scan the records once and add each up at
every asked code on its place's line, as the device tallies do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from graph.cases import Point
from graph.cursors import decode_cursor
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import scope_params, seen
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.devices import DeviceType
from graph.errors import InvalidInput, StoreError
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
from graph.votes.checks import check_time

for _label, _prop, _unique in (
    ("Facility", "code", True),
    ("Facility", "maintenance_watch", False),
    ("Facility", "inspection_watch", False),
    ("FacilityEvent", "id", True),
    ("FacilityEvent", "dedupe", True),
    ("FacilityEvent", "code", False),
    ("FacilityEvent", "kind", False),
):
    index(_label, _prop, unique=_unique)

_SEEN_P = seen("p")
_THROUGH = "WITH f MATCH (f)-[:OF]->(d:Device) WITH f, d MATCH (d)-[:INSTALLED_IN]->(p:Place) "
_RETURN = "RETURN properties(f) AS facility, d.type AS type, p.code AS place"

DEVICE = st.read("facilities.device", "MATCH (d:Device {code: $code}) RETURN d.code AS code")
SAVE = st.write(
    "facilities.save",
    "MATCH (d:Device {code: $code}) OPTIONAL MATCH (f:Facility {code: $code}) "
    "WITH d, coalesce(f.version, 0) AS at OPTIONAL MATCH (x:FacilityEvent {dedupe: $dedupe}) "
    "WITH d, at, count(x) AS taken "
    "UNWIND CASE WHEN at = $expected AND taken = 0 THEN [1] ELSE [] END AS go "
    "MERGE (n:Facility {code: $code}) SET n = $props MERGE (n)-[:OF]->(d) "
    "CREATE (e:FacilityEvent) SET e = $event RETURN n.version AS version",
)
REGISTERED = st.read("facilities.registered", "UNWIND $codes AS c MATCH (d:Device {code: c}) RETURN d.code AS code")
LOAD = st.write(
    "facilities.load",
    "UNWIND $rows AS r MATCH (d:Device {code: r.code}) OPTIONAL MATCH (f:Facility {code: r.code}) "
    "WITH d, r, count(f) AS taken UNWIND CASE WHEN taken = 0 THEN [1] ELSE [] END AS go "
    "CREATE (n:Facility) SET n = r.props CREATE (n)-[:OF]->(d) "
    "FOREACH (e IN r.events | CREATE (x:FacilityEvent) SET x = e) RETURN count(n) AS stored",
)
LOAD_CHUNK = 500
"""Records per load statement (each with its history)."""
FACILITIES = st.read(
    "facilities.read",
    f"UNWIND $codes AS c MATCH (f:Facility {{code: c}}) {_THROUGH}WHERE {_SEEN_P} {_RETURN}",
)
SEEN_FACILITY = st.read(
    "facilities.seen", f"MATCH (f:Facility {{code: $code}}) {_THROUGH}WHERE {_SEEN_P} RETURN f.code AS code"
)
EVENTS = st.read(
    "facilities.events",
    "MATCH (e:FacilityEvent {code: $code}) WITH e WHERE ($kinds IS NULL OR e.kind IN $kinds) "
    "AND ($before IS NULL OR e.seq < $before) WITH e ORDER BY e.seq DESC LIMIT $limit RETURN properties(e) AS event",
)
KEYS = st.read("facilities.keys", "UNWIND $dedupes AS k MATCH (e:FacilityEvent {dedupe: k}) RETURN e.dedupe AS dedupe")
MARK = {
    watch: st.read(f"facilities.mark_{watch.value}", f"MATCH (f:Facility {{code: $code}}) RETURN f.{watch.value}_watch AS watch")
    for watch in Watch
}
DUE = {
    watch: st.read(
        f"facilities.due_{watch.value}",
        f"MATCH (f:Facility) WHERE f.{watch.value}_watch < $before "
        f"WITH f WHERE $at IS NULL OR f.{watch.value}_watch > $at OR (f.{watch.value}_watch = $at AND f.code > $after) "
        f"WITH f ORDER BY f.{watch.value}_watch, f.code LIMIT $limit {_THROUGH}{_RETURN}",
    )
    for watch in Watch
}
# the test gates the SET through UNWIND: FalkorDB may run a WHERE placed before a write after it
FLAG = {
    watch: st.write(
        f"facilities.flag_{watch.value}",
        f"MATCH (f:Facility {{code: $code}}) UNWIND CASE WHEN f.{watch.value}_due_at = $due "
        f"AND f.{watch.value}_alarmed = false THEN [1] ELSE [] END AS go "
        f"SET f.{watch.value}_alarmed = true, f.{watch.value}_watch = null RETURN f.code AS code",
    )
    for watch in Watch
}
SEEN_PLACES = st.read(
    "facilities.seen_places", f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {_SEEN_P} RETURN p.code AS code"
)
_LIVE = "f.retired_at IS NULL"
_M_OVER = f"({_LIVE} AND f.maintenance_due_at < $now)"
_I_OVER = f"({_LIVE} AND f.inspection_due_at < $now)"
_SOON = (
    f"({_LIVE} AND ((f.maintenance_due_at >= $now AND f.maintenance_due_at < $soon) "
    "OR (f.inspection_due_at >= $now AND f.inspection_due_at < $soon)))"
)
TALLY = st.read(
    "facilities.tally",
    "MATCH (f:Facility)-[:OF]->(d:Device) WITH f, d MATCH (d)-[:INSTALLED_IN]->(p:Place) "
    "WITH f, d, p UNWIND [x IN $codes WHERE x IN p.line] AS c "
    f"RETURN c AS code, count(CASE WHEN {_LIVE} THEN 1 END) AS facilities, "
    f"count(CASE WHEN f.retired_at IS NOT NULL THEN 1 END) AS retired, count(CASE WHEN {_SOON} THEN 1 END) AS soon, "
    f"count(CASE WHEN {_M_OVER} OR {_I_OVER} THEN 1 END) AS overdue, count(CASE WHEN {_M_OVER} THEN 1 END) AS m, "
    f"count(CASE WHEN {_I_OVER} THEN 1 END) AS i, "
    f"count(CASE WHEN {_LIVE} AND f.inspection_result IS NOT NULL THEN 1 END) AS inspected, "
    f"count(CASE WHEN {_LIVE} AND f.inspection_result IN $passed THEN 1 END) AS passed, "
    f"count(CASE WHEN {_LIVE} AND d.type = $elevator THEN 1 END) AS elevators",
)
REPAIRS = st.read(
    "facilities.repairs",
    "MATCH (e:FacilityEvent {kind: $repair}) WITH e WHERE e.at >= $from AND e.at < $until "
    "MATCH (f:Facility {code: e.code}) WITH e, f MATCH (f)-[:OF]->(d:Device) WITH e, d WHERE d.type = $elevator "
    "MATCH (d)-[:INSTALLED_IN]->(p:Place) WITH e, p UNWIND [x IN $codes WHERE x IN p.line] AS c "
    "RETURN c AS code, count(e) AS repairs",
)


def _dedupe(code: str, key: str | None, seq: int) -> str:
    return f"{code}\nkey:{key}" if key is not None else f"{code}\n#{seq}"


def _facility_props(facility: Facility) -> dict[str, Any]:
    return values.present(
        {
            "code": facility.code,
            "version": facility.version,
            "installed_at": values.micros(facility.installed_at),
            "installed_by": facility.installed_by,
            "registration_number": facility.registration_number,
            "rescue_code": facility.rescue_code,
            "contractor_code": facility.contractor_code,
            "contractor_name": facility.contractor_name,
            "contract_number": facility.contract_number,
            "contract_start": values.day(facility.contract_start),
            "contract_end": values.day(facility.contract_end),
            "maintenance_days": facility.maintenance_days,
            "last_maintained_at": values.micros(facility.last_maintained_at),
            "maintenance_due_at": values.micros(facility.maintenance_due_at),
            "maintenance_alarmed": facility.maintenance_alarmed,
            "maintenance_watch": values.micros(facility.watching(Watch.MAINTENANCE)),
            "last_inspected_at": values.micros(facility.last_inspected_at),
            "inspection_result": None if facility.inspection_result is None else facility.inspection_result.value,
            "inspection_due_at": values.micros(facility.inspection_due_at),
            "inspection_alarmed": facility.inspection_alarmed,
            "inspection_watch": values.micros(facility.watching(Watch.INSPECTION)),
            "repairs": facility.repairs,
            "retired_at": values.micros(facility.retired_at),
        }
    )


def _facility(props: dict[str, Any], device_type: str, place: str) -> Facility:
    def at(name: str) -> dt.datetime | None:
        return values.from_micros(props.get(name))

    result = props.get("inspection_result")
    days = props.get("maintenance_days")
    return Facility(
        code=props["code"],
        device_type=DeviceType(device_type),
        place_code=place,
        version=int(props["version"]),
        installed_at=at("installed_at"),
        installed_by=props.get("installed_by"),
        registration_number=props.get("registration_number"),
        rescue_code=props.get("rescue_code"),
        contractor_code=props.get("contractor_code"),
        contractor_name=props.get("contractor_name"),
        contract_number=props.get("contract_number"),
        contract_start=values.from_day(props.get("contract_start")),
        contract_end=values.from_day(props.get("contract_end")),
        maintenance_days=None if days is None else int(days),
        last_maintained_at=at("last_maintained_at"),
        maintenance_due_at=at("maintenance_due_at"),
        maintenance_alarmed=bool(props.get("maintenance_alarmed", False)),
        last_inspected_at=at("last_inspected_at"),
        inspection_result=None if result is None else InspectionResult(result),
        inspection_due_at=at("inspection_due_at"),
        inspection_alarmed=bool(props.get("inspection_alarmed", False)),
        repairs=int(props.get("repairs", 0)),
        retired_at=at("retired_at"),
    )


def _event_props(event: FacilityEvent) -> dict[str, Any]:
    point = event.point
    return values.present(
        {
            "id": f"{event.code}\n{event.seq}",
            "dedupe": _dedupe(event.code, event.key, event.seq),
            "code": event.code,
            "seq": event.seq,
            "kind": event.kind.value,
            "at": values.micros(event.at),
            "recorded_by": event.recorded_by,
            "by_org": event.by_org,
            "by_staff": event.by_staff,
            "lon": None if point is None else float(point.lon),
            "lat": None if point is None else float(point.lat),
            "key": event.key,
            "note": event.note,
            "data": values.document(dict(event.data)),
        }
    )


def _event(props: dict[str, Any]) -> FacilityEvent:
    at = values.from_micros(props["at"])
    assert at is not None
    lon, lat = props.get("lon"), props.get("lat")
    return FacilityEvent(
        code=props["code"],
        seq=int(props["seq"]),
        kind=EventKind(props["kind"]),
        at=at,
        recorded_by=props["recorded_by"],
        by_org=props.get("by_org"),
        by_staff=props.get("by_staff"),
        point=None if lon is None or lat is None else Point(float(lon), float(lat)),
        key=props.get("key"),
        note=props.get("note", ""),
        data=values.from_document(props.get("data")) or {},
    )


def _taken(error: StoreError) -> bool:
    text = str(error)
    return "already exists" in text or "constraint" in text.lower()


class FacilityRecords:
    """The facility part of the store port on Cypher (a base of CypherStore)."""

    transport: Transport

    async def save_facility(self, facility: Facility, event: FacilityEvent) -> bool:
        check_save(facility, event)
        if not await self.transport.run(DEVICE, {"code": facility.code}):
            raise InvalidInput(f"facility {facility.code} code", facility.code, "is not a registered device")
        params = {
            "code": facility.code,
            "expected": facility.version - 1,
            "dedupe": _dedupe(event.code, event.key, event.seq),
            "props": _facility_props(facility),
            "event": _event_props(event),
        }
        try:
            rows = await self.transport.run(SAVE, params)
        except StoreError as error:
            if _taken(error):
                return False  # a concurrent saver took the version or the key (Neo4j)
            raise
        return bool(rows)

    async def load_facilities(self, items: Sequence[tuple[Facility, Sequence[FacilityEvent]]]) -> int:
        check_history(items)
        codes = [facility.code for facility, _ in items]
        registered = {code for (code,) in await self.transport.run(REGISTERED, {"codes": codes})} if codes else set()
        for code in codes:
            if code not in registered:
                raise InvalidInput(f"facility {code} code", code, "is not a registered device")
        stored = 0
        for start in range(0, len(items), LOAD_CHUNK):
            rows = [
                {"code": facility.code, "props": _facility_props(facility), "events": [_event_props(event) for event in events]}
                for facility, events in items[start : start + LOAD_CHUNK]
            ]
            found = await self.transport.run(LOAD, {"rows": rows})
            stored += int(found[0][0]) if found else 0
        return stored

    async def facilities(self, codes: Sequence[str], scope: Scope) -> list[Facility | None]:
        rows = await self.transport.run(FACILITIES, {"codes": list(dict.fromkeys(codes)), **scope_params(scope)})
        found = {facility.code: facility for facility in (_facility(props, kind, place) for props, kind, place in rows)}
        return [found.get(code) for code in codes]

    async def facility_events(
        self, code: str, scope: Scope, first: int, after: str | None = None, *, kinds: Sequence[EventKind] | None = None
    ) -> Page[FacilityEvent]:
        first = page_size(first)
        before = event_mark(after)
        if not await self.transport.run(SEEN_FACILITY, {"code": code, **scope_params(scope)}):
            return Page(items=[], has_next=False, end_cursor=None)
        params = {
            "code": code,
            "kinds": None if kinds is None else [EventKind(kind).value for kind in kinds],
            "before": before,
            "limit": first + 1,
        }
        found = [_event(props) for (props,) in await self.transport.run(EVENTS, params)]
        return page_of(found, first, lambda event: str(event.seq))

    async def facility_keys(self, code: str, keys: Sequence[str]) -> list[bool]:
        asked = {key: _dedupe(code, key, 0) for key in keys if isinstance(key, str)}
        rows = await self.transport.run(KEYS, {"dedupes": sorted(set(asked.values()))})
        booked = {dedupe for (dedupe,) in rows}
        return [asked.get(key) in booked for key in keys]

    async def facilities_due(self, watch: Watch, before: dt.datetime, first: int, after: str | None = None) -> Page[Facility]:
        check_time(before, "before")
        watch = Watch(watch)
        first = page_size(first)
        mark = decode_cursor(after)
        at: int | None = None
        if mark is not None:
            rows = await self.transport.run(MARK[watch], {"code": mark})
            if not rows or rows[0][0] is None:
                raise bad_cursor(after)
            at = int(rows[0][0])
        params = {"before": values.micros(before), "at": at, "after": mark or "", "limit": first + 1}
        found = [_facility(props, kind, place) for props, kind, place in await self.transport.run(DUE[watch], params)]
        return page_of(found, first, lambda facility: facility.code)

    async def flag_overdue(self, code: str, watch: Watch, due_at: dt.datetime) -> bool:
        check_time(due_at, "due_at")
        rows = await self.transport.run(FLAG[Watch(watch)], {"code": code, "due": values.micros(due_at)})
        return bool(rows)

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
        unique = list(dict.fromkeys(codes))
        seen_codes = {code for (code,) in await self.transport.run(SEEN_PLACES, {"codes": unique, **scope_params(scope)})}
        if not seen_codes:
            return [None for _ in codes]
        params: dict[str, Any] = {
            "codes": sorted(seen_codes),
            "now": values.micros(now),
            "soon": values.micros(soon_until),
            "passed": [result.value for result in InspectionResult if result.passed],
            "elevator": DeviceType.ELEVATOR.value,
        }
        figures: dict[str, dict[str, int]] = {code: {} for code in seen_codes}
        for code, live, retired, soon, overdue, m, i, inspected, passed, elevators in await self.transport.run(TALLY, params):
            figures[code].update(
                facilities=int(live), retired=int(retired), due_soon=int(soon), overdue=int(overdue),
                maintenance_overdue=int(m), inspection_overdue=int(i), inspected=int(inspected), passed=int(passed),
                elevators=int(elevators),
            )
        repairs = {
            "codes": params["codes"],
            "repair": EventKind.REPAIR.value,
            "from": values.micros(year_from),
            "until": values.micros(year_until),
            "elevator": DeviceType.ELEVATOR.value,
        }
        for code, count in await self.transport.run(REPAIRS, repairs):
            figures[code]["elevator_repairs"] = int(count)
        return [FacilityTally(**figures[code]) if code in seen_codes else None for code in codes]
