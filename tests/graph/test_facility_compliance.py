"""Facilities' compliance for the firms' credit (graph.facilities.compliance) from recorded life
histories on a real store (SQLite, PostgreSQL, FalkorDB): maintenance on time, late and missed,
inspections passed, failed and late, a retired facility, an estate handed to another firm in the
middle of the month, and the credit service of the hub (hub.credit) showing the two parts.

The histories are loaded as the demo city or an import would (`load_facilities`, each record
folded from its events by graph.facilities.life); November 2026 in China Standard Time is the
period, as in tests/graph/test_credit.py. Each expected count is worked out in the comments from
the dates of the plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import pytest

from graph.credit.engine import FacilityCompliance
from graph.credit.periods import Period
from graph.devices import DeviceType
from graph.facilities.compliance import facility_compliance, inspection_dues, maintenance_dues
from graph.facilities.intervals import Intervals
from graph.facilities.life import fold
from graph.facilities.records import EventKind, FacilityActivity, FacilityEvent, InspectionMark, InspectionResult
from graph.model import Batch, Management
from graph.store import Store
from hub.credit import credit_service
from tests import backends
from tests.graph.conformance import E_C, FIRM_1, FIRM_2, FIRM_3, FIRM_4, provenance
from tests.graph.conformance_devices import elevator, fleet

CST = dt.timezone(dt.timedelta(hours=8))
NOV = Period(2026, 11)
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=CST)
HANDOVER = dt.date(2026, 11, 16)  # 百分百%家园 (E_C) passes from FIRM_3 to FIRM_4
INSTALLED = dt.datetime(2026, 1, 1, 10, tzinfo=CST)
M, I, R = EventKind.MAINTENANCE, EventKind.INSPECTION, EventKind.RETIREMENT


def on(month: int, day: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, 10, tzinfo=CST)


def inspected(result: str, next_due: str) -> dict[str, str]:
    return {"result": result, "next_due": next_due}


PLAN: dict[str, list[tuple[EventKind, dt.datetime, dict[str, str]]]] = {
    # E_A (FIRM_2 all month). Elevators, every 15 days.
    # on time twice: due 11-09 (done 11-08), due 11-23 (done 11-22); next due 12-07. Inspection
    # due 2026-11-18 (set a year before), passed on 11-16.
    "DT-A11-01": [
        (M, on(10, 25), {}), (M, on(11, 8), {}), (M, on(11, 22), {}),
        (I, on(11, 20, 2025), inspected("合格", "2026-11-18")), (I, on(11, 16), inspected("合格", "2027-11-15")),
    ],
    # late: due 11-09 missed (done 11-12, which restarts the clock), due 11-27 on time (11-26).
    # Inspection due 11-24: the only inspection since failed (不合格) → not passed.
    "DT-A11-02": [
        (M, on(10, 25), {}), (M, on(11, 12), {}), (M, on(11, 26), {}),
        (I, on(11, 25, 2025), inspected("合格", "2026-11-24")), (I, on(11, 20), inspected("不合格", "2026-12-20")),
    ],
    # missed: last maintained 09-01, due every 15 days since: 11-15 and 11-30 fall in November,
    # both missed. Inspection due 11-09 passed late (11-12) → not passed.
    "DT-A12-01": [
        (M, on(9, 1), {}),
        (I, on(11, 10, 2025), inspected("合格", "2026-11-09")), (I, on(11, 12), inspected("复检合格", "2027-11-09")),
    ],
    # retired 11-15: due 11-09 on time (11-08); due 11-23 and the inspection due 11-20 come after
    # its retirement and count for nothing.
    "DT-" + "9" * 61: [
        (M, on(10, 25), {}), (M, on(11, 8), {}), (I, on(11, 21, 2025), inspected("合格", "2026-11-20")), (R, on(11, 15), {}),
    ],
    # a smoke detector (30 days) retired mid-month: due 11-04 missed, before its retirement.
    "SD-A2-01": [(M, on(10, 5), {}), (R, on(11, 10), {})],
    # a gas detector retired before November: left out (it would owe 11-30).
    "GD-A-01": [(M, on(9, 1), {}), (R, on(10, 20), {})],
    # E_C: FIRM_3 until 11-16, FIRM_4 from then. Elevator: due 11-12 on time (11-10) → FIRM_3;
    # due 11-25 missed → FIRM_4. Inspection due 11-14 passed 11-13 → FIRM_3.
    "DT-C-01": [
        (M, on(10, 28), {}), (M, on(11, 10), {}),
        (I, on(11, 14, 2025), inspected("合格", "2026-11-14")), (I, on(11, 13), inspected("合格", "2027-11-13")),
    ],
    # water pump (30 days): due 11-04 on time (11-03) → FIRM_3.
    "WP-C-01": [(M, on(10, 5), {}), (M, on(11, 3), {})],
}
EXPECTED = {
    FIRM_2: FacilityCompliance(maintenance_due=2 + 2 + 2 + 1 + 1, maintenance_on_time=2 + 1 + 0 + 1 + 0, inspections_due=3, inspections_passed=1),
    FIRM_3: FacilityCompliance(maintenance_due=2, maintenance_on_time=2, inspections_due=1, inspections_passed=1),
    FIRM_4: FacilityCompliance(maintenance_due=1, maintenance_on_time=0, inspections_due=0, inspections_passed=0),
}


async def lived(store: Store) -> None:
    """The fixture city, its fleet and one elevator at 百分百%家园, the handover of that estate, and
    the histories of PLAN (each opened by its installation on 2026-01-01)."""
    devices = {d.code: d for d in [*await fleet(store), elevator("DT-C-01", E_C)]}
    assert await store.register_devices([devices["DT-C-01"]]) == (1, 0)

    def manages(firm: str, since: dt.date, until: dt.date | None = None) -> Management:
        return Management(firm, E_C, since, until, provenance(f"manage/{E_C}/{firm}/{since}", "housing"))

    await store.write(Batch(managements=[manages(FIRM_3, dt.date(2017, 3, 1), HANDOVER), manages(FIRM_4, HANDOVER)]))
    items = []
    for code, plan in PLAN.items():
        device = devices[code]
        made = [(EventKind.INSTALLATION, INSTALLED, {}), *sorted(plan, key=lambda step: step[1])]
        events = [
            FacilityEvent(code=code, seq=seq, kind=kind, at=at, recorded_by=f"property_firm:{FIRM_2}", data=data)
            for seq, (kind, at, data) in enumerate(made, start=1)
        ]
        items.append((fold(code, device.type, device.place_code, events, Intervals()), events))
    assert await store.load_facilities(items) == len(PLAN)


@pytest.fixture(params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)  # session servers, outside any running event loop
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, tmp_path)
    try:
        yield opened
    finally:
        await backends.discard(opened)


async def test_each_firm_answers_for_what_fell_due_while_it_managed(store: Store) -> None:
    await lived(store)
    found = await facility_compliance(store, [FIRM_1, FIRM_2, FIRM_3, FIRM_4], NOV.start, NOV.end)
    assert found == EXPECTED  # FIRM_1 left 海韵花园 in 2020: no data
    # the month before the handover's: FIRM_4 managed nothing in October
    october = await facility_compliance(store, [FIRM_3, FIRM_4], NOV.previous().start, NOV.previous().end)
    assert set(october) == {FIRM_3}
    assert await facility_compliance(store, [], NOV.start, NOV.end) == {}
    # asked alone, a firm counts the same: nothing of another firm's estates leaks in
    assert await facility_compliance(store, [FIRM_3], NOV.start, NOV.end) == {FIRM_3: EXPECTED[FIRM_3]}


async def test_the_hubs_credit_service_shows_maintenance_and_inspection(store: Store) -> None:
    await lived(store)
    scores = {found.firm_code: found for found in await credit_service(store).compute(NOV, now=NOW)}
    for firm, counts in EXPECTED.items():
        parts = {part.name: part for part in scores[firm].parts}
        assert parts["maintenance"].figures == (("due", counts.maintenance_due), ("onTime", counts.maintenance_on_time))
        assert parts["maintenance"].rate is not None
        if counts.inspections_due:
            assert parts["inspection"].figures == (("due", counts.inspections_due), ("passedOnTime", counts.inspections_passed))
            assert parts["inspection"].rate is not None
        else:
            assert parts["inspection"].rate is None  # nothing fell due: no data, not a bad rate
    assert {part.name: part.rate for part in scores[FIRM_2].parts}["maintenance"] == Fraction(4, 8)


# -- the rules on one facility (no store: the activity as the store answers it) ----------------

DAY = dt.timedelta(days=1)
FIFTEEN = 15 * DAY
LOOKBACK = 90 * DAY


def activity(*maintenances: dt.datetime, installed: dt.datetime = INSTALLED, **changes: object) -> FacilityActivity:
    return FacilityActivity(
        code="DT-X", device_type=DeviceType.ELEVATOR, installed_at=installed, opened_at=installed, retired_at=None,
        maintenances=tuple(maintenances), **changes,  # type: ignore[arg-type]
    )


def test_no_maintenance_in_the_lookback_means_overdue_as_the_period_opens() -> None:
    dues = maintenance_dues(activity(), FIFTEEN, NOV.start, NOV.end, LOOKBACK)
    assert dues == [(NOV.start, False), (NOV.start + FIFTEEN, False)]
    # maintained at the very start: that due is on time, the next one an interval later
    dues = maintenance_dues(activity(NOV.start), FIFTEEN, NOV.start, NOV.end, LOOKBACK)
    assert dues == [(NOV.start, True), (NOV.start + FIFTEEN, False)]


def test_a_facility_installed_in_the_period_falls_due_an_interval_after() -> None:
    dues = maintenance_dues(activity(installed=on(11, 10)), FIFTEEN, NOV.start, NOV.end, LOOKBACK)
    assert dues == [(on(11, 25), False)]
    dues = maintenance_dues(activity(on(11, 25), installed=on(11, 10)), FIFTEEN, NOV.start, NOV.end, LOOKBACK)
    assert dues == [(on(11, 25), True)]  # exactly at the due time is on time


def test_an_inspection_due_date_ends_with_its_day_and_a_duplicate_counts_once() -> None:
    setter = InspectionMark(on(11, 1, 2025), InspectionResult.PASSED, dt.date(2026, 11, 30))
    again = InspectionMark(on(11, 2, 2025), InspectionResult.PASSED, dt.date(2026, 11, 30))  # a correction
    last_day = InspectionMark(dt.datetime(2026, 11, 30, 23, 59, tzinfo=CST), InspectionResult.PASSED_ON_RECHECK, dt.date(2027, 11, 30))
    found = inspection_dues(activity(inspections=(setter, again, last_day)), NOV.start, NOV.end)
    # 30 November ends at 1 December 00:00 CST, the period's end: it falls due in December
    assert found == []
    in_nov = inspection_dues(activity(inspections=(setter, again, last_day)), NOV.start, NOV.end + DAY)
    assert in_nov == [(NOV.end, True)]
    assert inspection_dues(activity(inspections=(setter, again)), NOV.start, NOV.end + DAY) == [(NOV.end, False)]

