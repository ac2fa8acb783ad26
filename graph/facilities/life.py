"""What each event does to a life record: one pure function, `apply`, for every writer — the
service booking one event (graph.facilities.service), and whoever loads a history at once
(`fold`: the demo city, the bench).

- installation: installed_at and installed_by;
- registration: the 使用登记证 number and the 救援识别码;
- contract: the contractor (credit code, name) and the contract (number, start, end);
- maintenance: the latest maintenance time (a record booked late never moves it back) and the
  next due time, `Intervals` days after it; the overdue mark cleared when the due time moves;
- inspection: the latest inspection's result and next due date (due once that day has ended,
  Beijing time); an older inspection booked late leaves the latest standing;
- repair: one more repair; part: nothing beyond its event; retirement: retired_at.

The first event opens the record, and its maintenance falls due an interval after that event
unless the event set it. The record's version is the event's seq.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

from graph.clock import CHINA_STANDARD_TIME
from graph.devices import DeviceType
from graph.facilities.intervals import Intervals
from graph.facilities.records import EventKind, Facility, FacilityEvent, InspectionResult


def day_end(day: dt.date) -> dt.datetime:
    """The moment a due date has passed: the start of the next day in China, in UTC."""
    start = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), CHINA_STANDARD_TIME)
    return start.astimezone(dt.timezone.utc)


def _later(old: dt.datetime | None, new: dt.datetime) -> dt.datetime:
    return new if old is None or new > old else old


def apply(facility: Facility, event: FacilityEvent, intervals: Intervals) -> Facility:
    """The record after `event` (its seq the new version); the event's fields are taken as
    checked (graph.facilities.checks)."""
    f, data, at = facility, event.data, event.at.astimezone(dt.timezone.utc)
    kind = event.kind
    if kind is EventKind.INSTALLATION:
        f = replace(f, installed_at=at, installed_by=data.get("installer"))
    elif kind is EventKind.REGISTRATION:
        f = replace(f, registration_number=data["registration_number"], rescue_code=data.get("rescue_code"))
    elif kind is EventKind.CONTRACT:
        f = replace(
            f, contractor_code=data["contractor_code"], contractor_name=data["contractor_name"],
            contract_number=data["contract_number"], contract_start=dt.date.fromisoformat(data["start"]),
            contract_end=dt.date.fromisoformat(data["end"]),
        )
    elif kind is EventKind.MAINTENANCE:
        last = _later(f.last_maintained_at, at)
        days = intervals.for_type(f.device_type)
        due = last + dt.timedelta(days=days)
        f = replace(
            f, last_maintained_at=last, maintenance_days=days, maintenance_due_at=due,
            maintenance_alarmed=f.maintenance_alarmed and due == f.maintenance_due_at,
        )
    elif kind is EventKind.INSPECTION:
        if f.last_inspected_at is None or at >= f.last_inspected_at:
            result = InspectionResult.parse(data["result"])
            due = day_end(dt.date.fromisoformat(data["next_due"]))
            f = replace(
                f, last_inspected_at=at, inspection_result=result, inspection_due_at=due,
                inspection_alarmed=f.inspection_alarmed and due == f.inspection_due_at,
            )
    elif kind is EventKind.REPAIR:
        f = replace(f, repairs=f.repairs + 1)
    elif kind is EventKind.RETIREMENT:
        f = replace(f, retired_at=at)
    if f.maintenance_due_at is None and f.retired_at is None:
        days = intervals.for_type(f.device_type)
        f = replace(f, maintenance_days=days, maintenance_due_at=at + dt.timedelta(days=days))
    return replace(f, version=event.seq)


def fold(code: str, device_type: DeviceType, place_code: str, events: Iterable[FacilityEvent], intervals: Intervals) -> Facility:
    """The record a history makes, from nothing."""
    found = Facility(code=code, device_type=device_type, place_code=place_code)
    for event in events:
        found = apply(found, event, intervals)
    return found
