"""Assembling `FacilityStore.facility_activity`'s answer from what an adapter read: one function
both adapters call with their rows (the facilities kept, by estate, and their events), so the
windows, the order and the reading of an inspection's data are the same on every backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from graph.devices import DeviceType
from graph.facilities.records import EventKind, FacilityActivity, InspectionMark, InspectionResult

Record = tuple[str, str, DeviceType, dt.datetime | None, dt.datetime | None]
"""estate code, facility code, device type, installed at, retired at"""
Mark = tuple[str, int, EventKind, dt.datetime, Mapping[str, str] | None]
"""facility code, seq, kind, at, data (an inspection's; None may stand for any other's)"""


def activity_of(
    estate_codes: Sequence[str],
    records: Iterable[Record],
    events: Iterable[Mark],
    windows: tuple[dt.datetime, dt.datetime, dt.datetime],
) -> list[list[FacilityActivity]]:
    """Per estate code, in order, its facilities by code with their maintenance times in
    [maintenance_from, until) and inspections in [inspection_from, until), ascending; the
    opening time is the first event's (seq 1)."""
    m_from, i_from, until = windows
    opened: dict[str, dt.datetime] = {}
    maintenances: dict[str, list[dt.datetime]] = {}
    inspections: dict[str, list[InspectionMark]] = {}
    for code, seq, kind, at, data in events:
        if seq == 1:
            opened[code] = at
        if kind is EventKind.MAINTENANCE and m_from <= at < until:
            maintenances.setdefault(code, []).append(at)
        elif kind is EventKind.INSPECTION and i_from <= at < until and data is not None:
            mark = InspectionMark(at, InspectionResult.parse(data.get("result", "")), dt.date.fromisoformat(data["next_due"]))
            inspections.setdefault(code, []).append(mark)
    by_estate: dict[str, list[FacilityActivity]] = {}
    for estate, code, kind_, installed, retired in records:
        by_estate.setdefault(estate, []).append(
            FacilityActivity(
                code=code,
                device_type=kind_,
                installed_at=installed,
                opened_at=opened.get(code) or installed or until,
                retired_at=retired,
                maintenances=tuple(sorted(maintenances.get(code, ()))),
                inspections=tuple(sorted(inspections.get(code, ()), key=lambda mark: (mark.at, mark.next_due))),
            )
        )
    for found in by_estate.values():
        found.sort(key=lambda activity: activity.code)
    return [list(by_estate.get(code, ())) for code in estate_codes]
