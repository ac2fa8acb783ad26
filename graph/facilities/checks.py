"""The field checks of `graph.facilities.records.FacilityStore` that need no stored data: what a
life record and an event must look like. Plain Python: both adapters call them before they
write, so every backend refuses the same input naming the same field (`facility <code> …`,
`event <code>#<seq> …`)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

from graph.codes import CreditCode
from graph.devices import device_code
from graph.errors import InvalidInput
from graph.facilities.records import EventKind, Facility, FacilityEvent, InspectionResult
from graph.votes.checks import check_count, check_time

TEXT_LIMIT = 200
NOTE_LIMIT = 400
KEY_LIMIT = 128
STAFF_LIMIT = 64
RESCUE_CODE = re.compile(r"[0-9]{5,8}")
"""救援识别码: the digits on the car's 96333 sticker (5 to 8 of them)."""

DATA_FIELDS: dict[EventKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    EventKind.INSTALLATION: ((), ("installer",)),
    EventKind.REGISTRATION: (("registration_number",), ("rescue_code",)),
    EventKind.CONTRACT: (("contractor_code", "contractor_name", "contract_number", "start", "end"), ()),
    EventKind.MAINTENANCE: ((), ("items",)),
    EventKind.INSPECTION: (("result", "next_due"), ("inspector", "report")),
    EventKind.REPAIR: (("case_id",), ("project_id",)),
    EventKind.PART: (("part",), ("serial", "case_id")),
    EventKind.RETIREMENT: ((), ("reason",)),
}
"""What each kind of event carries in its `data`."""

DATE_FIELDS = frozenset({"start", "end", "next_due"})


def check_text(value: object, field: str, limit: int = TEXT_LIMIT, *, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
        raise InvalidInput(field, value if not isinstance(value, str) else value[:40], f"must be {0 if empty else 1} to {limit} characters")
    if any(not ch.isprintable() for ch in value):
        raise InvalidInput(field, value[:40], "must be printable text")
    return value


def check_day_text(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, value, "is not a date (YYYY-MM-DD)") from None


def check_credit(value: object, field: str) -> str:
    return str(CreditCode.parse(value, field=field))


def check_rescue_code(value: object, field: str) -> str:
    if not isinstance(value, str) or not RESCUE_CODE.fullmatch(value):
        raise InvalidInput(field, value, "must be 5 to 8 digits (救援识别码)")
    return value


def check_event(event: FacilityEvent) -> None:
    """An event as `save_facility` takes it."""
    device_code(event.code, field_name="event code")
    where = f"event {event.code}#{event.seq}"
    if isinstance(event.seq, bool) or not isinstance(event.seq, int) or event.seq < 1:
        raise InvalidInput(f"{where} seq", event.seq, "must be 1 or more")
    if not isinstance(event.kind, EventKind):
        raise InvalidInput(f"{where} kind", event.kind, f"must be one of {', '.join(k.value for k in EventKind)}")
    check_time(event.at, f"{where} at")
    check_text(event.recorded_by, f"{where} recorded_by")
    if event.by_org is not None:
        check_credit(event.by_org, f"{where} by_org")
    if event.by_staff is not None:
        check_text(event.by_staff, f"{where} by_staff", STAFF_LIMIT)
    if event.key is not None:
        check_text(event.key, f"{where} key", KEY_LIMIT)
    check_text(event.note, f"{where} note", NOTE_LIMIT, empty=True)
    point = event.point
    if point is not None and not (
        all(isinstance(v, (int, float)) and math.isfinite(v) for v in (point.lon, point.lat))
        and -180 <= point.lon <= 180
        and -90 <= point.lat <= 90
    ):
        raise InvalidInput(f"{where} point", f"{point.lon},{point.lat}", "is not a WGS-84 longitude, latitude")
    required, optional = DATA_FIELDS[event.kind]
    for name in required:
        if name not in event.data:
            raise InvalidInput(f"{where} data.{name}", None, f"is required for a {event.kind.value} event")
    for name, value in event.data.items():
        if name not in required and name not in optional:
            raise InvalidInput(f"{where} data.{name}", value, f"is not a field of a {event.kind.value} event")
        check_text(value, f"{where} data.{name}")
        if name in DATE_FIELDS:
            check_day_text(value, f"{where} data.{name}")
    data = event.data
    if event.kind is EventKind.CONTRACT:
        check_credit(data["contractor_code"], f"{where} data.contractor_code")
        if dt.date.fromisoformat(data["end"]) < dt.date.fromisoformat(data["start"]):
            raise InvalidInput(f"{where} data.end", data["end"], f"is before the start {data['start']}")
    if event.kind is EventKind.REGISTRATION and "rescue_code" in data:
        check_rescue_code(data["rescue_code"], f"{where} data.rescue_code")
    if event.kind is EventKind.INSPECTION and InspectionResult.parse(data["result"]) is None:
        raise InvalidInput(f"{where} data.result", data["result"], f"must be one of {', '.join(r.label for r in InspectionResult)}")


def check_facility(facility: Facility) -> None:
    """A life record as `save_facility` takes it."""
    device_code(facility.code, field_name="facility code")
    where = f"facility {facility.code}"
    if isinstance(facility.version, bool) or not isinstance(facility.version, int) or facility.version < 1:
        raise InvalidInput(f"{where} version", facility.version, "must be 1 or more")
    for name in (
        "installed_at", "last_maintained_at", "maintenance_due_at", "last_inspected_at", "inspection_due_at", "retired_at",
    ):
        value = getattr(facility, name)
        if value is not None:
            check_time(value, f"{where} {name}")
    for name in ("installed_by", "registration_number", "contractor_name", "contract_number"):
        value = getattr(facility, name)
        if value is not None:
            check_text(value, f"{where} {name}")
    if facility.rescue_code is not None:
        check_rescue_code(facility.rescue_code, f"{where} rescue_code")
    if facility.contractor_code is not None:
        check_credit(facility.contractor_code, f"{where} contractor_code")
    for name in ("contract_start", "contract_end"):
        value = getattr(facility, name)
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            raise InvalidInput(f"{where} {name}", value, "must be a date")
    if facility.maintenance_days is not None and (
        isinstance(facility.maintenance_days, bool) or not isinstance(facility.maintenance_days, int) or not 1 <= facility.maintenance_days <= 3660
    ):
        raise InvalidInput(f"{where} maintenance_days", facility.maintenance_days, "must be 1 to 3660 days")
    if facility.inspection_result is not None and not isinstance(facility.inspection_result, InspectionResult):
        raise InvalidInput(f"{where} inspection_result", facility.inspection_result, "is not an inspection result")
    check_count(facility.repairs, f"{where} repairs")


def check_save(facility: Facility, event: FacilityEvent) -> None:
    """Both, and that they belong together."""
    check_facility(facility)
    check_event(event)
    if event.code != facility.code:
        raise InvalidInput(f"event {event.code}#{event.seq} code", event.code, f"must be the facility's code {facility.code}")
    if event.seq != facility.version:
        raise InvalidInput(f"event {event.code}#{event.seq} seq", event.seq, f"must be the facility's new version {facility.version}")


def check_history(items: Sequence[tuple[Facility, Sequence[FacilityEvent]]]) -> None:
    """Records to load: each facility at version n with its events 1..n of its code, every
    event and the record checked, and no code twice."""
    seen: set[str] = set()
    for facility, events in items:
        check_facility(facility)
        if facility.code in seen:
            raise InvalidInput(f"facility {facility.code} code", facility.code, "appears twice in the load")
        seen.add(facility.code)
        if [event.seq for event in events] != list(range(1, facility.version + 1)):
            raise InvalidInput(f"facility {facility.code} version", facility.version, "must be the number of its events, numbered 1 on")
        keys: set[str] = set()
        for event in events:
            check_event(event)
            if event.code != facility.code:
                raise InvalidInput(f"event {event.code}#{event.seq} code", event.code, f"must be the facility's code {facility.code}")
            if event.key is not None:
                if event.key in keys:
                    raise InvalidInput(f"event {event.code}#{event.seq} key", event.key, "is booked twice in the history")
                keys.add(event.key)


def check_window(now: dt.datetime, soon_until: dt.datetime, year_from: dt.datetime, year_until: dt.datetime) -> None:
    """The times `facility_tallies` counts by: each aware."""
    for value, name in ((now, "now"), (soon_until, "soon_until"), (year_from, "year_from"), (year_until, "year_until")):
        check_time(value, name)
