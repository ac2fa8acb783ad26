"""Devices, their readings and their alarms in the graph (`graph.devices.DeviceStore`; each
member's contract is in its docstring there, the rules in `graph.devices`).

The model: `(:Device {code, type, model, name, lon, lat, interval_s, thresholds, status,
last_seen, values, registered_at, reading_at, provenance…})-[:INSTALLED_IN]->(:Place)` (an
estate, building or entrance); `(:Reading {key, device, at, received_at, kind, values, digest})`
keyed by device, time, kind and a digest of the values, so a message delivered again MERGEs onto
the reading it made; `(:Alarm {id, seq, device, rule, …})-[:OF]->(:Device)`. Times are integer
microseconds, thresholds and values JSON text, as in SQL.

A device or alarm is in scope when its device's place is (`model.seen` on that place); the
lists "under `within`" walk down the `IN` edges from it to the entrances (a statement per level
of `within`, so the walk never reaches the houses), so a device follows its place when the tree
is rewritten; tallies count every device once against the codes on its place's line. Devices list by code; a device cursor holds the node's id (codes run to 64
characters, more than a cursor holds; devices are never deleted, so the id stays theirs).
Alarms list newest raised first, ties by `seq` (a counter, the later stored first); an alarm
cursor holds the alarm's id.

One active alarm per device and rule, and never two raised by one device and rule at one time:
an active alarm carries `active_key` (device and rule; removed when it clears) and every alarm
`raise_key` (device, rule, time). The raise is one statement that finds either key taken, or
creates the alarm (on FalkorDB a graph's writes run one at a time, so the check and the create
are one step; on Neo4j both keys are unique constraints, and a raiser that lost the race meets
one and finds the winner's alarm on its next attempt). The day-numbered id (`AL20260302000001`)
is the day's highest number plus one, taken in the same statement.

Every node is written whole (`SET n = {…}`: a map literal naming each property, so what is
absent is dropped in one step): FalkorDB removes the wrong properties when one statement removes
several.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from graph.cases import Point
from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.lease import GUARD, WriteLease
from graph.cypher.model import provenance_of, provenance_props, scope_params, seen
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.daily_ids import DIGITS, daily_id, day_prefix
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
from graph.levels import Level
from graph.model import Page
from graph.scope import Scope
from graph.store import MAX_PAGE

PRUNE_CHUNK = 10_000
"""Readings deleted per statement: each chunk its own short step."""

RAISE_ATTEMPTS = 3

for _label, _prop, _unique in (
    ("Device", "code", True),
    ("Reading", "key", True),
    ("Reading", "device", False),
    ("Reading", "at", False),
    ("Alarm", "id", True),
    ("Alarm", "active_key", True),
    ("Alarm", "raise_key", True),
    ("Alarm", "day", False),
    ("Counter", "name", True),
):
    index(_label, _prop, unique=_unique)

_REGISTRATION = ("type", "model", "name", "lon", "lat", "interval_s", "thresholds", "source", "source_record", "fetched_at", "run_id")
_STATE = ("status", "last_seen", "values", "registered_at", "reading_at")
_ALARM = (
    "id", "seq", "device", "rule", "severity", "message", "value", "raised_at", "acknowledged_at",
    "acknowledged_by", "cleared_at", "case_id", "day", "number", "active_key", "raise_key",
)


def _whole(node: str, source: Mapping[str, str], props: Sequence[str]) -> str:
    """A map literal naming every property of `props`: `source[name]` where given, else the
    node's own value (so `SET n = {…}` rewrites the node whole, keeping what it does not set)."""
    return "{" + ", ".join(f"`{name}`: {source.get(name, f'{node}.`{name}`')}" for name in props) + "}"


_SEEN_P = seen("p")

# -- devices ---------------------------------------------------------------------------------

_DEVICE_RETURN = "RETURN properties(d), p.code, id(d)"

DEVICES = st.read(
    "devices.by_code",
    f"UNWIND $codes AS c MATCH (d:Device {{code: c}})-[:INSTALLED_IN]->(p:Place) WHERE {_SEEN_P} {_DEVICE_RETURN}",
)
STORED = st.read(
    "devices.stored",
    "UNWIND $codes AS c MATCH (d:Device {code: c})-[:INSTALLED_IN]->(p:Place) RETURN properties(d), p.code, id(d)",
)
PLACE_LEVELS = st.read("devices.place_levels", "UNWIND $codes AS c MATCH (p:Place {code: c}) RETURN p.code, p.level")
REGISTER = st.write(
    "devices.register",
    f"UNWIND $rows AS r {GUARD} MATCH (p:Place {{code: r.place}}) "
    "MERGE (d:Device {code: r.code}) ON CREATE SET d = r.state "
    "SET d = " + _whole("d", {"code": "r.code", **{name: f"r.`{name}`" for name in _REGISTRATION}}, ("code", *_REGISTRATION, *_STATE)) + " "
    "WITH d, p OPTIONAL MATCH (d)-[e:INSTALLED_IN]->(q:Place) WHERE q.code <> p.code DELETE e "
    "WITH DISTINCT d, p MERGE (d)-[:INSTALLED_IN]->(p) RETURN count(d)",
)
_FILTER = (
    f"WHERE {_SEEN_P} AND ($types IS NULL OR d.type IN $types) AND ($statuses IS NULL OR d.status IN $statuses)"
)
DEVICE_LEVELS = tuple(level for level in Level if level <= Level.ENTRANCE)
"""The levels a `within` may have and hold devices (a house holds none)."""


def _devices_under(level: Level | None) -> str:
    """The pattern binding the devices `d` at their places `p`: anywhere (None), or walking
    down from `$within` of `level` to the entrances (never on to its houses: devices are not
    installed there, and a city has millions)."""
    if level is None:
        return "MATCH (d:Device)-[:INSTALLED_IN]->(p:Place)"
    depth = Level.ENTRANCE - level
    # WITH before the devices: else FalkorDB starts from every device (the WHERE on them)
    if depth == 0:
        return "MATCH (p:Place {code: $within}) WITH p MATCH (d:Device)-[:INSTALLED_IN]->(p)"
    return f"MATCH (w:Place {{code: $within}}) MATCH (p:Place)-[:IN*0..{depth}]->(w) WITH p MATCH (d:Device)-[:INSTALLED_IN]->(p)"


def _variants(kind: str, text: str) -> dict[Level | None, st.Statement]:
    """`text` (with `{under}` for the pattern) declared anywhere and under each level."""
    return {
        level: st.read(f"devices.{kind}.{'anywhere' if level is None else level.name.lower()}", text.format(under=_devices_under(level)))
        for level in (None, *DEVICE_LEVELS)
    }


DEVICE_PAGE = _variants(
    "page", "{under} " + _FILTER.replace("{", "{{").replace("}", "}}") + f" AND ($after IS NULL OR d.code > $after) WITH d, p ORDER BY d.code LIMIT $limit {_DEVICE_RETURN}"
)
DEVICE_COUNT = _variants("count", "{under} " + _FILTER.replace("{", "{{").replace("}", "}}") + " RETURN count(d)")
ALL_DEVICES = st.read(
    "devices.all", "MATCH (d:Device)-[:INSTALLED_IN]->(p:Place) RETURN properties(d), p.code, id(d)"
)
LEVEL_OF = st.read("devices.level_of", "MATCH (w:Place {code: $within}) RETURN w.level")
DEVICE_MARK = st.read("devices.mark", "MATCH (d:Device) WHERE id(d) = $id RETURN d.code")
SEEN_PLACES = st.read("devices.seen_places", f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {_SEEN_P} RETURN p.code")
TALLY_DEVICES = st.read(
    "devices.tally",
    f"MATCH (d:Device)-[:INSTALLED_IN]->(p:Place) WHERE {_SEEN_P} "
    "UNWIND [x IN $codes WHERE x IN p.line] AS c RETURN c, d.status, count(d)",
)
TALLY_ALARMS = st.read(
    "devices.tally_alarms",
    f"MATCH (a:Alarm)-[:OF]->(d:Device)-[:INSTALLED_IN]->(p:Place) WHERE a.cleared_at IS NULL AND {_SEEN_P} "
    "UNWIND [x IN $codes WHERE x IN p.line] AS c RETURN c, count(a)",
)
REGISTERED = st.read("devices.registered", "UNWIND $codes AS c MATCH (d:Device {code: c}) RETURN d.code")
SAVE_STATES = st.write(
    "devices.save_states",
    "UNWIND $rows AS r MATCH (d:Device {code: r.code}) SET d = "
    + _whole(
        "d",
        {
            "status": "r.status",
            "last_seen": "r.last_seen",
            "values": "r.`values`",
            "reading_at": "coalesce(r.reading_at, d.reading_at)",
        },
        ("code", *_REGISTRATION, *_STATE),
    )
    + " RETURN count(d)",
)

# -- readings --------------------------------------------------------------------------------

ADD_READINGS = st.write(
    "devices.add_readings",
    "UNWIND $rows AS r MATCH (d:Device {code: r.device}) MERGE (x:Reading {key: r.key}) ON CREATE SET x = r RETURN count(x)",
)
READINGS = st.read(
    "devices.readings",
    f"MATCH (d:Device {{code: $code}})-[:INSTALLED_IN]->(p:Place) WHERE {_SEEN_P} "
    "MATCH (r:Reading {device: $code}) WHERE $since IS NULL OR r.at >= $since "
    "RETURN r.at, r.received_at, r.kind, r.`values` ORDER BY r.at DESC LIMIT $limit",
)
PRUNE = st.write(
    "devices.prune_readings",
    "MATCH (r:Reading) WHERE r.at < $before WITH r LIMIT $chunk DELETE r RETURN count(r)",
)

# -- alarms ----------------------------------------------------------------------------------

_ALARM_RETURN = "RETURN properties(a), d.code, d.type, d.lon, d.lat, p.code"

RAISE = st.write(
    "devices.raise_alarm",
    "MATCH (d:Device {code: $device})-[:INSTALLED_IN]->(p:Place) "
    "OPTIONAL MATCH (x:Alarm {active_key: $active_key}) WITH d, count(x) AS active "
    "OPTIONAL MATCH (y:Alarm {raise_key: $raise_key}) WITH d, active, count(y) AS again "
    "OPTIONAL MATCH (t:Alarm {id: $given_key}) WITH d, active, again, count(t) AS taken "
    "OPTIONAL MATCH (z:Alarm {day: $head}) WITH d, active, again, taken, coalesce(max(z.number), 0) + 1 AS next "
    "OPTIONAL MATCH (k:Case {id: $case_key}) WITH d, active, again, taken, next, count(k) AS cases "
    "WITH d, active, again, taken, next, cases, "
    "CASE WHEN $given IS NULL THEN $head + right($zeros + toString(next), $digits) ELSE $given END AS key "
    "WITH d, active, again, taken, next, cases, key, "
    "active = 0 AND again = 0 AND taken = 0 AND ($case_id IS NULL OR cases > 0) "
    "AND ($given IS NOT NULL OR next < $limit) AS ok "
    "FOREACH (_ IN CASE WHEN ok THEN [1] ELSE [] END | "
    "MERGE (n:Counter {name: 'alarm.seq'}) ON CREATE SET n.value = 0 SET n.value = n.value + 1 "
    "CREATE (a:Alarm)-[:OF]->(d) SET a = "
    + _whole(
        "a",
        {
            "id": "key",
            "seq": "n.value",
            "day": "CASE WHEN $given IS NULL THEN $head ELSE $given_day END",
            "number": "CASE WHEN $given IS NULL THEN next ELSE $given_number END",
            **{name: f"$props.`{name}`" for name in _ALARM if name not in ("id", "seq", "day", "number")},
        },
        _ALARM,
    )
    + ") RETURN ok, active + again, taken, next, cases, key",
)
ALARMS = st.read(
    "devices.alarms",
    f"UNWIND $ids AS i MATCH (a:Alarm {{id: i}})-[:OF]->(d:Device)-[:INSTALLED_IN]->(p:Place) WHERE {_SEEN_P} {_ALARM_RETURN}",
)
CLEAR = st.write(
    "devices.clear_alarm",
    "MATCH (a:Alarm {active_key: $active_key}) SET a = "
    + _whole("a", {"cleared_at": "$at", "active_key": "null"}, _ALARM)
    + " RETURN a.id",
)
ACKNOWLEDGE = st.write(
    "devices.acknowledge_alarm",
    f"MATCH (a:Alarm {{id: $id}})-[:OF]->(d:Device)-[:INSTALLED_IN]->(p:Place) WHERE {_SEEN_P} SET a = "
    + _whole(
        "a",
        {
            "acknowledged_at": "coalesce(a.acknowledged_at, $at)",
            "acknowledged_by": "CASE WHEN a.acknowledged_at IS NULL THEN $actor ELSE a.acknowledged_by END",
        },
        _ALARM,
    )
    + " RETURN a.id",
)
LINK = st.write(
    "devices.link_alarm_case",
    "OPTIONAL MATCH (a:Alarm {id: $id}) OPTIONAL MATCH (k:Case {id: $case_id}) "
    "WITH a, count(k) AS cases "
    "FOREACH (_ IN CASE WHEN a IS NOT NULL AND cases > 0 THEN [1] ELSE [] END | SET a = "
    + _whole("a", {"case_id": "$case_id"}, _ALARM)
    + ") RETURN a IS NOT NULL, cases > 0",
)
_ALARM_FILTER = (
    f"WHERE {_SEEN_P} AND ($active IS NULL OR (a.cleared_at IS NULL) = $active) "
    "AND ($devices IS NULL OR d.code IN $devices) AND ($since IS NULL OR a.raised_at >= $since)"
).replace("{", "{{").replace("}", "}}")
ALARM_PAGE = _variants(
    "alarm_page",
    "{under} MATCH (a:Alarm)-[:OF]->(d) " + _ALARM_FILTER
    + " AND ($at IS NULL OR a.raised_at < $at OR (a.raised_at = $at AND a.seq < $seq)) "
    + f"WITH a, d, p ORDER BY a.raised_at DESC, a.seq DESC LIMIT $limit {_ALARM_RETURN}",
)
ALARM_COUNT = _variants("alarm_count", "{under} MATCH (a:Alarm)-[:OF]->(d) " + _ALARM_FILTER + " RETURN count(a)")
ALARM_MARK = st.read("devices.alarm_mark", "MATCH (a:Alarm {id: $id}) RETURN a.raised_at, a.seq")

_NUMBERED = re.compile(rf"{ALARM_PREFIX}(\d{{8}})(\d{{{DIGITS}}})")


# -- records ---------------------------------------------------------------------------------


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _time(value: int | None) -> dt.datetime | None:
    return values.from_micros(value)


def _device(props: dict[str, Any], place: str) -> Device:
    lon, lat = props.get("lon"), props.get("lat")
    registered = _time(props.get("registered_at"))
    return Device(
        code=props["code"],
        type=DeviceType(props["type"]),
        model=props["model"],
        place_code=place,
        interval=int(props["interval_s"]),
        point=None if lon is None or lat is None else Point(lon, lat),
        name=props.get("name", ""),
        thresholds=json.loads(props.get("thresholds") or "{}"),
        provenance=provenance_of(props),
        status=DeviceStatus(props["status"]),
        last_seen=_time(props.get("last_seen")),
        values=json.loads(props.get("values") or "{}"),
        registered_at=registered,
        reading_at=_time(props.get("reading_at")),
    )


def _registration_props(device: Device) -> dict[str, Any]:
    point = device.point
    return {
        "type": device.type.value,
        "model": device.model,
        "name": device.name,
        "lon": float(point.lon) if point else None,
        "lat": float(point.lat) if point else None,
        "interval_s": device.interval,
        "thresholds": _json({name: float(value) for name, value in device.thresholds.items()}),
        "source": None,
        "source_record": None,
        "fetched_at": None,
        "run_id": None,
        **provenance_props(device.provenance),
    }


def _alarm(row: tuple[Any, ...]) -> Alarm:
    props, code, kind, lon, lat, place = row
    raised = _time(props["raised_at"])
    assert raised is not None
    return Alarm(
        id=props["id"],
        device_code=code,
        device_type=DeviceType(kind),
        rule=props["rule"],
        severity=Severity(props["severity"]),
        message=props["message"],
        raised_at=raised,
        place_code=place,
        point=None if lon is None or lat is None else Point(lon, lat),
        value=props.get("value"),
        acknowledged_at=_time(props.get("acknowledged_at")),
        acknowledged_by=props.get("acknowledged_by"),
        cleared_at=_time(props.get("cleared_at")),
        case_id=props.get("case_id"),
    )


def _active_key(device: str, rule: str) -> str:
    return f"{device}\n{rule}"


def _page_size(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


def _device_mark(after: str | None) -> int | None:
    mark = decode_cursor(after)
    if mark is None:
        return None
    if not (mark.startswith("d") and mark[1:].isdigit()):
        raise InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")
    return int(mark[1:])


def _bad_cursor(after: str | None) -> InvalidInput:
    return InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")


class DeviceRecords:
    """The device part of the store port on Cypher (a base of CypherStore)."""

    transport: Transport
    lease: WriteLease

    # -- registration --------------------------------------------------------------------

    async def register_devices(self, devices: Sequence[Device]) -> tuple[int, int]:
        check_registrations(devices)
        if not devices:
            return (0, 0)
        now = dt.datetime.now(dt.timezone.utc)
        async with self.lease.held() as token:
            levels = {
                code: Level(level)
                for code, level in await self.transport.run(PLACE_LEVELS, {"codes": sorted({d.place_code for d in devices})})
            }
            for device in devices:
                check_device_place(device, levels.get(device.place_code))
            stored = {
                props["code"]: _device(props, place)
                for props, place, _ in await self.transport.run(STORED, {"codes": [d.code for d in devices]})
            }
            rows: list[dict[str, Any]] = []
            inserted = updated = 0
            for device in devices:
                old = stored.get(device.code)
                if old is not None and registration(old) == registration(device):
                    continue
                if old is None:
                    inserted += 1
                else:
                    updated += 1
                state = values.present(
                    {
                        "code": device.code,
                        "status": device.status.value,
                        "last_seen": values.micros(device.last_seen),
                        "values": _json(device.values),
                        "registered_at": values.micros(device.registered_at or now),
                    }
                )
                rows.append({"code": device.code, "place": device.place_code, "state": state, **_registration_props(device)})
            if rows:
                written = await self.transport.run(REGISTER, {"rows": rows, "token": token})
                if not written or written[0][0] != len(rows):
                    raise StoreError("the graph store's write lease ran out before the devices were registered")
        return (inserted, updated)

    # -- reads ---------------------------------------------------------------------------

    async def devices(self, codes: Sequence[str], scope: Scope) -> list[Device | None]:
        rows = await self.transport.run(DEVICES, {"codes": list(dict.fromkeys(codes)), **scope_params(scope)})
        found = {props["code"]: _device(props, place) for props, place, _ in rows}
        return [found.get(code) for code in codes]

    async def _under(self, within: str | None) -> tuple[bool, Level | None]:
        """Whether anything may lie under `within`, and the level of the statement variant to
        run (None: anywhere): an unknown place, or a house, holds no devices."""
        if within is None:
            return True, None
        rows = await self.transport.run(LEVEL_OF, {"within": within})
        if not rows or Level(rows[0][0]) not in DEVICE_LEVELS:
            return False, None
        return True, Level(rows[0][0])

    def _filters(
        self, scope: Scope, within: str | None, types: Sequence[DeviceType] | None, statuses: Sequence[DeviceStatus] | None
    ) -> dict[str, Any]:
        return {
            "within": within,
            "types": None if types is None else [kind.value for kind in types],
            "statuses": None if statuses is None else [status.value for status in statuses],
            **scope_params(scope),
        }

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
        first = _page_size(first)
        mark = _device_mark(after)
        after_code = None
        if mark is not None:
            found = await self.transport.run(DEVICE_MARK, {"id": mark})
            if not found:
                raise _bad_cursor(after)
            after_code = found[0][0]
        some, level = await self._under(within)
        if not some:
            return Page(items=[], has_next=False, end_cursor=None)
        rows = await self.transport.run(
            DEVICE_PAGE[level], {**self._filters(scope, within, types, statuses), "after": after_code, "limit": first + 1}
        )
        rows.sort(key=lambda row: row[0]["code"])  # as the statement ordered them, whatever the driver keeps
        shown = rows[:first]
        return Page(
            items=[_device(props, place) for props, place, _ in shown],
            has_next=len(rows) > first,
            end_cursor=encode_cursor(f"d{shown[-1][2]}") if shown else None,
            start_cursor=encode_cursor(f"d{shown[0][2]}") if shown else None,
        )

    async def device_count(
        self,
        scope: Scope,
        *,
        within: str | None = None,
        types: Sequence[DeviceType] | None = None,
        statuses: Sequence[DeviceStatus] | None = None,
    ) -> int:
        some, level = await self._under(within)
        if not some:
            return 0
        rows = await self.transport.run(DEVICE_COUNT[level], self._filters(scope, within, types, statuses))
        return int(rows[0][0]) if rows else 0

    async def device_tallies(self, codes: Sequence[str], scope: Scope) -> list[DeviceTally | None]:
        unique = list(dict.fromkeys(codes))
        params = {"codes": unique, **scope_params(scope)}
        seen_codes = {code for (code,) in await self.transport.run(SEEN_PLACES, params)}
        if not seen_codes:
            return [None for _ in codes]
        params["codes"] = sorted(seen_codes)
        by_status: dict[str, dict[DeviceStatus, int]] = {code: {} for code in seen_codes}
        for code, status, count in await self.transport.run(TALLY_DEVICES, params):
            by_status[code][DeviceStatus(status)] = int(count)
        active = {code: int(count) for code, count in await self.transport.run(TALLY_ALARMS, params)}
        return [
            DeviceTally(by_status=by_status[code], active_alarms=active.get(code, 0)) if code in seen_codes else None
            for code in codes
        ]

    async def all_devices(self) -> list[Device]:
        found = [_device(props, place) for props, place, _ in await self.transport.run(ALL_DEVICES)]
        return sorted(found, key=lambda device: device.code)

    # -- ingestion's hot path ------------------------------------------------------------

    async def save_device_states(self, states: Sequence[DeviceState]) -> None:
        if not states:
            return
        latest = {state.code: state for state in states}  # the last state of a device wins
        rows = [
            {
                "code": state.code,
                "status": state.status.value,
                "last_seen": values.micros(state.last_seen),
                "values": _json(state.values),
                "reading_at": values.micros(state.reading_at),
            }
            for state in latest.values()
        ]
        await self.transport.run(SAVE_STATES, {"rows": rows})

    async def add_readings(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        for reading in readings:
            check_reading(reading)
        codes = list(dict.fromkeys(reading.device_code for reading in readings))
        registered = {code for (code,) in await self.transport.run(REGISTERED, {"codes": codes})}
        rows: dict[str, dict[str, Any]] = {}
        given = 0
        for reading in readings:
            if reading.device_code not in registered:
                continue
            given += 1
            at = values.micros(reading.at)
            text = _json(reading.values)
            digest = _digest(text)
            key = f"{reading.device_code}\n{at}\n{reading.kind}\n{digest}"
            rows[key] = {
                "key": key,
                "device": reading.device_code,
                "at": at,
                "received_at": values.micros(reading.received_at) if reading.received_at is not None else at,
                "kind": reading.kind,
                "values": text,
                "digest": digest,
            }
        if rows:
            await self.transport.run(ADD_READINGS, {"rows": list(rows.values())})
        return given

    async def readings(
        self, code: str, scope: Scope, *, since: dt.datetime | None = None, first: int = 100
    ) -> list[Reading]:
        rows = await self.transport.run(
            READINGS, {"code": code, "since": values.micros(since), "limit": _page_size(first), **scope_params(scope)}
        )
        found = []
        for at, received, kind, text in rows:
            taken = _time(at)
            assert taken is not None
            found.append(Reading(device_code=code, at=taken, values=json.loads(text), kind=kind, received_at=_time(received)))
        return found

    async def prune_readings(self, before: dt.datetime) -> int:
        total = 0
        while True:
            rows = await self.transport.run(PRUNE, {"before": values.micros(before), "chunk": PRUNE_CHUNK})
            deleted = int(rows[0][0]) if rows else 0
            total += deleted
            if deleted < PRUNE_CHUNK:
                return total

    # -- alarms --------------------------------------------------------------------------

    async def raise_alarm(self, alarm: Alarm) -> Alarm | None:
        check_alarm(alarm)
        head = day_prefix(ALARM_PREFIX, alarm.raised_at)
        given = alarm.id or None
        numbered = _NUMBERED.fullmatch(given) if given else None
        raised_at = values.micros(alarm.raised_at)
        params = {
            "device": alarm.device_code,
            "active_key": _active_key(alarm.device_code, alarm.rule),
            "raise_key": f"{alarm.device_code}\n{alarm.rule}\n{raised_at}",
            "given": given,
            "given_key": given or "",  # never null: a null lookup scans every alarm
            "given_day": f"{ALARM_PREFIX}{numbered.group(1)}" if numbered else None,
            "given_number": int(numbered.group(2)) if numbered else None,
            "head": head,
            "zeros": "0" * DIGITS,
            "digits": DIGITS,
            "limit": 10**DIGITS,
            "case_id": alarm.case_id,
            "case_key": alarm.case_id or "",
            "props": {
                "device": alarm.device_code,
                "rule": alarm.rule,
                "severity": alarm.severity.value,
                "message": alarm.message,
                "value": alarm.value,
                "raised_at": raised_at,
                "acknowledged_at": values.micros(alarm.acknowledged_at),
                "acknowledged_by": alarm.acknowledged_by,
                "cleared_at": None,
                "case_id": alarm.case_id,
                "active_key": _active_key(alarm.device_code, alarm.rule),
                "raise_key": f"{alarm.device_code}\n{alarm.rule}\n{raised_at}",
            },
        }
        for _attempt in range(RAISE_ATTEMPTS):
            try:
                rows = await self.transport.run(RAISE, params)
            except StoreError as error:
                if "already exists" in str(error) or "constraint" in str(error).lower():
                    continue  # Neo4j: a racing raiser took a unique key first; look again
                raise
            if not rows:
                raise InvalidInput("device_code", alarm.device_code, "is not a registered device")
            ok, conflicts, taken, number, cases, key = rows[0]
            if ok:
                [stored] = await self.alarms([key], Scope.everything())
                assert stored is not None
                return stored
            if conflicts:
                return None  # active, or raised at this very time (the same message again)
            if alarm.case_id is not None and not cases:
                raise InvalidInput("case_id", alarm.case_id, "is not a stored case")
            if taken:
                raise StoreError(f"alarm {key} already exists")
            daily_id(head, int(number), what="alarms raised")  # the day's sequence is full: raises
            raise StoreError(f"alarm {alarm.rule} of {alarm.device_code} could not be stored")
        raise StoreError(f"alarm {alarm.rule} of {alarm.device_code} could not be stored: other writers kept taking its keys")

    async def clear_alarm(self, device_code: str, rule: str, at: dt.datetime) -> Alarm | None:
        rows = await self.transport.run(CLEAR, {"active_key": _active_key(device_code, rule), "at": values.micros(at)})
        if not rows:
            return None
        [cleared] = await self.alarms([rows[0][0]], Scope.everything())
        return cleared

    async def acknowledge_alarm(self, alarm_id: str, *, actor: str, at: dt.datetime, scope: Scope) -> Alarm:
        check_actor(actor)
        rows = await self.transport.run(
            ACKNOWLEDGE, {"id": alarm_id, "at": values.micros(at), "actor": actor, **scope_params(scope)}
        )
        if not rows:
            raise InvalidInput("id", alarm_id, "is not an alarm you can see")
        [acknowledged] = await self.alarms([alarm_id], Scope.everything())
        assert acknowledged is not None
        return acknowledged

    async def link_alarm_case(self, alarm_id: str, case_id: str) -> None:
        rows = await self.transport.run(LINK, {"id": alarm_id, "case_id": case_id})
        alarm_found, case_found = rows[0] if rows else (False, False)
        if not case_found:
            raise InvalidInput("case_id", case_id, "is not a stored case")
        if not alarm_found:
            raise InvalidInput("alarm_id", alarm_id, "is not a stored alarm")

    async def alarms(self, ids: Sequence[str], scope: Scope) -> list[Alarm | None]:
        rows = await self.transport.run(ALARMS, {"ids": list(dict.fromkeys(ids)), **scope_params(scope)})
        found = {row[0]["id"]: _alarm(row) for row in rows}
        return [found.get(key) for key in ids]

    def _alarm_filters(
        self,
        scope: Scope,
        within: str | None,
        active: bool | None,
        device_codes: Sequence[str] | None,
        since: dt.datetime | None,
    ) -> dict[str, Any]:
        return {
            "within": within,
            "active": active,
            "devices": None if device_codes is None else list(device_codes),
            "since": values.micros(since),
            **scope_params(scope),
        }

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
        first = _page_size(first)
        after_key = decode_cursor(after)
        at = seq = None
        if after_key is not None:
            found = await self.transport.run(ALARM_MARK, {"id": after_key})
            if not found:
                raise _bad_cursor(after)
            at, seq = found[0]
        some, level = await self._under(within)
        if not some:
            return Page(items=[], has_next=False, end_cursor=None)
        rows = await self.transport.run(
            ALARM_PAGE[level],
            {**self._alarm_filters(scope, within, active, device_codes, since), "at": at, "seq": seq, "limit": first + 1},
        )
        rows.sort(key=lambda row: (row[0]["raised_at"], row[0]["seq"]), reverse=True)
        items = [_alarm(row) for row in rows]
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
        some, level = await self._under(within)
        if not some:
            return 0
        rows = await self.transport.run(ALARM_COUNT[level], self._alarm_filters(scope, within, active, device_codes, since))
        return int(rows[0][0]) if rows else 0
