"""graph.facilities.service.Facilities on every backend of `tests.backends`, over the conformance
suite's city and device fleet: the maintenance interval table and its overrides, who may book a
maintenance and where, the overdue sweep raising one alarm and opening one case per overdue
facility (dispatched to the managing firm), cleared when the maintenance or inspection is booked,
retirement leaving a record that only reads, a source key booked once, refused input naming its
field and changing nothing, and the place figures as exact fractions."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import pytest

from graph.cases import CaseSource, CaseStatus, Point
from graph.devices import DeviceType
from graph.errors import InvalidInput
from graph.facilities.intervals import DEFAULT_DAYS, Intervals
from graph.facilities.records import EventKind, InspectionResult
from graph.facilities.life import day_end
from graph.facilities.service import Facilities
from graph.scope import Scope
from graph.store import Store
from tests import backends
from tests.graph.conformance import E_A, E_B, EN_A11, FIRM_2, FIRM_3, ST_A, ST_B, credit_code
from tests.graph.conformance_devices import fleet, open_case
from tests.graph.conformance_facilities import CONTRACTOR

EVERYTHING = Scope.everything()
CST = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=CST)
IN_E_A = Point(120.387, 36.057)  # inside 海韵花园's outline
FAR = Point(120.2, 36.2)
OTHER = credit_code("91370202MA3C00099")
WHO = "property_firm:test"


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, Path(sqlite_path).parent)
    await fleet(opened)
    try:
        yield opened
    finally:
        await backends.discard(opened)


async def contracted(facilities: Facilities, code: str = "DT-A11-01", at: dt.datetime = START) -> None:
    await facilities.record_installation(code, at=at, installed_by="通力电梯", scope=EVERYTHING, recorded_by=WHO)
    await facilities.record_contract(
        code, at=at, contractor_code=CONTRACTOR, contractor_name="青岛安达电梯维保有限公司", number="WB-2026-001",
        start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31), scope=EVERYTHING, recorded_by=WHO,
    )


def test_the_interval_table_and_its_overrides() -> None:
    assert DEFAULT_DAYS[DeviceType.ELEVATOR] == 15 and DEFAULT_DAYS[DeviceType.SMOKE_DETECTOR] == 30
    table = Intervals.parse("water_pump=14, transformer=60")
    assert table.for_type(DeviceType.WATER_PUMP) == 14 and table.for_type(DeviceType.ELEVATOR) == 15
    for text, field in (("lift=3", "intervals"), ("elevator=0", "intervals.elevator"), ("elevator=x", "intervals.elevator")):
        with pytest.raises(InvalidInput) as refused:
            Intervals.parse(text)
        assert refused.value.field == field


async def test_each_type_falls_due_by_its_interval(store: Store) -> None:
    clock = Clock(START)
    facilities = Facilities(store, clock=clock, intervals=Intervals.of({DeviceType.WATER_PUMP: 14}))
    for code in ("DT-A11-01", "SD-A2-01", "WP-C-01", "GD-A-01"):
        await facilities.record_installation(code, at=START, scope=EVERYTHING, recorded_by=WHO)
    found = {f.code: f for f in await store.facilities(["DT-A11-01", "SD-A2-01", "WP-C-01", "GD-A-01"], EVERYTHING) if f}
    assert {code: f.maintenance_due_at - START for code, f in found.items() if f.maintenance_due_at} == {
        "DT-A11-01": dt.timedelta(days=15),
        "SD-A2-01": dt.timedelta(days=30),
        "WP-C-01": dt.timedelta(days=14),
        "GD-A-01": dt.timedelta(days=30),
    }


async def test_who_may_book_a_maintenance_and_where(store: Store) -> None:
    clock = Clock(START + dt.timedelta(days=10))
    facilities = Facilities(store, clock=clock)
    await contracted(facilities)
    at = START + dt.timedelta(days=9)
    done = await facilities.record_maintenance(
        "DT-A11-01", at=at, by_org=CONTRACTOR, by_staff="W-007", point=IN_E_A, scope=EVERYTHING, recorded_by=WHO, items="半月保养"
    )
    assert done.facility.last_maintained_at == at and done.facility.maintenance_due_at == at + dt.timedelta(days=15)
    assert done.event is not None and (done.event.by_org, done.event.by_staff) == (CONTRACTOR, "W-007")
    # the managing firm (八大关物业 manages 海韵花园 since 2020) may book one too, near the device's own point
    await facilities.record_maintenance("DT-A11-01", at=at, by_org=FIRM_2, point=Point(120.3822, 36.0672), scope=EVERYTHING, recorded_by=WHO)
    refusals = [
        (dict(by_org=OTHER, point=IN_E_A), "by_org"),
        (dict(by_org=FIRM_3, point=IN_E_A), "by_org"),
        (dict(by_org="91370202MA3C0009X", point=IN_E_A), "by_org"),
        (dict(by_org=CONTRACTOR, point=FAR), "point"),
        (dict(by_org=CONTRACTOR, point=IN_E_A, at=dt.datetime(2025, 12, 31, 9, 0, tzinfo=CST)), "at"),
        (dict(by_org=CONTRACTOR, point=IN_E_A, at=clock.at + dt.timedelta(hours=1)), "at"),
        (dict(by_org=CONTRACTOR, point=IN_E_A, at=dt.datetime(2026, 3, 5, 9, 0)), "at"),
    ]
    before = await store.facilities(["DT-A11-01"], EVERYTHING)
    for changes, field in refusals:
        arguments: dict[str, object] = dict(at=at, scope=EVERYTHING, recorded_by=WHO) | changes
        with pytest.raises(InvalidInput) as refused:
            await facilities.record_maintenance("DT-A11-01", **arguments)  # type: ignore[arg-type]
        assert refused.value.field == field, changes
    assert await store.facilities(["DT-A11-01"], EVERYTHING) == before
    # out of the recorder's scope: the device reads as unknown
    with pytest.raises(InvalidInput) as refused:
        await facilities.record_maintenance("DT-A11-01", at=at, by_org=CONTRACTOR, point=IN_E_A, scope=Scope.of(ST_B), recorded_by=WHO)
    assert (refused.value.field, refused.value.rule) == ("code", "is not a device you can see")


async def test_overdue_maintenance_raises_one_alarm_and_one_case_cleared_when_booked(store: Store) -> None:
    clock = Clock(START)
    facilities = Facilities(store, clock=clock)
    await contracted(facilities)
    [life] = await store.facilities(["DT-A11-01"], EVERYTHING)
    assert life is not None and life.maintenance_due_at == START + dt.timedelta(days=15)
    clock.at = START + dt.timedelta(days=14)
    assert (await facilities.overdue_sweep()).raised == 0
    clock.at = START + dt.timedelta(days=16)
    swept = await facilities.overdue_sweep()
    assert (swept.raised, swept.cases, swept.marked, swept.failed) == (1, 1, 1, 0)
    again = await facilities.overdue_sweep()
    assert (again.raised, again.cases, again.marked) == (0, 0, 0)
    page = await store.alarm_page(EVERYTHING, 10, device_codes=["DT-A11-01"])
    [alarm] = page.items
    assert alarm.rule == "maintenance.overdue" and alarm.active and alarm.raised_at == START + dt.timedelta(days=15)
    assert alarm.case_id is not None
    [case] = await store.cases([alarm.case_id], EVERYTHING)
    assert case is not None and case.source is CaseSource.DEVICE_ALARM and case.external_id == alarm.id
    assert case.status is CaseStatus.DISPATCHED and case.firm_code == FIRM_2 and case.place_code == EN_A11
    [cases] = [await store.cases_by_external(CaseSource.DEVICE_ALARM, [alarm.id])]
    assert [c.id for c in cases if c] == [case.id]
    # a late maintenance that does not bring it current keeps the alarm
    await facilities.record_maintenance(
        "DT-A11-01", at=START - dt.timedelta(days=20), by_org=FIRM_2, point=IN_E_A, scope=EVERYTHING, recorded_by=WHO
    )
    [still] = await store.alarms([alarm.id], EVERYTHING)
    assert still is not None and still.active
    await facilities.record_maintenance("DT-A11-01", at=clock.at, by_org=CONTRACTOR, point=IN_E_A, scope=EVERYTHING, recorded_by=WHO)
    [cleared] = await store.alarms([alarm.id], EVERYTHING)
    assert cleared is not None and not cleared.active
    # overdue again: a new alarm and a new case
    clock.at += dt.timedelta(days=16)
    swept = await facilities.overdue_sweep()
    assert (swept.raised, swept.cases) == (1, 1)
    assert (await store.alarm_count(EVERYTHING, device_codes=["DT-A11-01"])) == 2


async def test_an_alarm_left_without_its_case_gets_it_on_the_next_sweep(store: Store) -> None:
    clock = Clock(START)
    facilities = Facilities(store, clock=clock)
    await contracted(facilities)
    clock.at = START + dt.timedelta(days=16)
    # a sweep died after raising: the alarm stands, the record is not marked, no case
    from graph.devices import Alarm, Severity

    raised = await store.raise_alarm(
        Alarm("", "DT-A11-01", DeviceType.ELEVATOR, "maintenance.overdue", Severity.MAJOR, "电梯维保超期", START + dt.timedelta(days=15), "")
    )
    assert raised is not None and raised.case_id is None
    swept = await facilities.overdue_sweep()
    assert (swept.raised, swept.cases, swept.marked) == (0, 1, 1)
    [alarm] = await store.alarms([raised.id], EVERYTHING)
    assert alarm is not None and alarm.case_id is not None


async def test_overdue_inspection_and_its_result(store: Store) -> None:
    clock = Clock(START)
    facilities = Facilities(store, clock=clock)
    await contracted(facilities)
    done = await facilities.record_inspection(
        "DT-A11-01", at=START, result=InspectionResult.FAILED, next_due=dt.date(2026, 4, 1), inspector="青岛市特检院", report="DT2026-0001",
        scope=EVERYTHING, recorded_by=WHO,
    )
    assert done.facility.inspection_due_at == day_end(dt.date(2026, 4, 1))
    assert done.facility.inspection_due_at == dt.datetime(2026, 4, 2, tzinfo=CST)
    clock.at = dt.datetime(2026, 4, 1, 23, 59, tzinfo=CST)
    await facilities.record_maintenance("DT-A11-01", at=clock.at, by_org=CONTRACTOR, point=IN_E_A, scope=EVERYTHING, recorded_by=WHO)
    assert (await facilities.overdue_sweep()).raised == 0  # due through the whole day
    clock.at = dt.datetime(2026, 4, 2, 0, 1, tzinfo=CST)
    assert (await facilities.overdue_sweep()).raised == 1
    [alarm] = (await store.alarm_page(EVERYTHING, 5, active=True, device_codes=["DT-A11-01"])).items
    assert alarm.rule == "inspection.overdue"
    redone = await facilities.record_inspection(
        "DT-A11-01", at=clock.at, result=InspectionResult.PASSED_ON_RECHECK, scope=EVERYTHING, recorded_by=WHO
    )
    assert redone.facility.inspection_result is InspectionResult.PASSED_ON_RECHECK
    assert redone.facility.inspection_due_at == day_end(dt.date(2027, 4, 2))
    assert await store.alarm_count(EVERYTHING, active=True, device_codes=["DT-A11-01"]) == 0
    for changes, field in (
        (dict(result="合格"), "result"),
        (dict(result=InspectionResult.PASSED, next_due=dt.date(2026, 4, 2)), "next_due"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await facilities.record_inspection("DT-A11-01", at=clock.at, scope=EVERYTHING, recorded_by=WHO, **changes)  # type: ignore[arg-type]
        assert refused.value.field == field


async def test_retirement_leaves_a_record_that_only_reads(store: Store) -> None:
    clock = Clock(START)
    facilities = Facilities(store, clock=clock)
    await contracted(facilities)
    clock.at = START + dt.timedelta(days=20)
    assert (await facilities.overdue_sweep()).raised == 1
    retired = await facilities.record_retirement("DT-A11-01", at=clock.at, reason="更新改造", scope=EVERYTHING, recorded_by=WHO)
    assert retired.facility.retired_at == clock.at
    assert await store.alarm_count(EVERYTHING, active=True, device_codes=["DT-A11-01"]) == 0
    writes = [
        facilities.record_maintenance("DT-A11-01", at=clock.at, by_org=CONTRACTOR, point=IN_E_A, scope=EVERYTHING, recorded_by=WHO),
        facilities.record_registration("DT-A11-01", at=clock.at, number="梯1", scope=EVERYTHING, recorded_by=WHO),
        facilities.record_part("DT-A11-01", at=clock.at, part="曳引机", scope=EVERYTHING, recorded_by=WHO),
        facilities.record_retirement("DT-A11-01", at=clock.at, scope=EVERYTHING, recorded_by=WHO),
        facilities.record_installation("DT-A11-01", at=clock.at, scope=EVERYTHING, recorded_by=WHO),
    ]
    for write in writes:
        with pytest.raises(InvalidInput) as refused:
            await write
        assert refused.value.field == "code" and "retired" in refused.value.rule
    assert [e.kind for e in (await store.facility_events("DT-A11-01", EVERYTHING, 10)).items][0] is EventKind.RETIREMENT
    clock.at += dt.timedelta(days=60)
    assert (await facilities.overdue_sweep()).raised == 0


async def test_a_source_key_is_booked_once(store: Store) -> None:
    clock = Clock(START + dt.timedelta(days=2))
    facilities = Facilities(store, clock=clock)
    await contracted(facilities)
    first = await facilities.record_maintenance(
        "DT-A11-01", at=START + dt.timedelta(days=1), by_org=CONTRACTOR, point=None, scope=EVERYTHING, recorded_by=WHO, key="安达:0001"
    )
    second = await facilities.record_maintenance(
        "DT-A11-01", at=START + dt.timedelta(days=1), by_org=CONTRACTOR, point=None, scope=EVERYTHING, recorded_by=WHO, key="安达:0001"
    )
    assert first.booked and not second.booked and second.facility == first.facility
    events = (await store.facility_events("DT-A11-01", EVERYTHING, 10, kinds=[EventKind.MAINTENANCE])).items
    assert len(events) == 1


async def test_repairs_parts_and_registration_check_what_they_name(store: Store) -> None:
    clock = Clock(START)
    facilities = Facilities(store, clock=clock)
    await contracted(facilities)
    case = await open_case(store)
    done = await facilities.record_repair("DT-A11-01", at=START, case_id=case.id, scope=Scope.of(ST_A), recorded_by=WHO)
    assert done.facility.repairs == 1 and done.event is not None and dict(done.event.data) == {"case_id": case.id}
    refusals = [
        (facilities.record_repair("DT-A11-01", at=START, case_id="NO-SUCH", scope=EVERYTHING, recorded_by=WHO), "case_id"),
        (facilities.record_repair("DT-A11-01", at=START, case_id=case.id, project_id="P-NONE", scope=EVERYTHING, recorded_by=WHO), "project_id"),
        (facilities.record_part("DT-A11-01", at=START, part="", scope=EVERYTHING, recorded_by=WHO), "part"),
        (facilities.record_registration("DT-A11-01", at=START, number="梯1", rescue_code="96333a", scope=EVERYTHING, recorded_by=WHO), "rescue_code"),
        (facilities.record_contract(
            "DT-A11-01", at=START, contractor_code=CONTRACTOR, contractor_name="x", number="1",
            start=dt.date(2026, 2, 1), end=dt.date(2026, 1, 1), scope=EVERYTHING, recorded_by=WHO,
        ), "end"),
        (facilities.record_installation("NO-SUCH", at=START, scope=EVERYTHING, recorded_by=WHO), "code"),
        (facilities.record_installation("GD-B-01", at=START, scope=Scope.of(ST_A), recorded_by=WHO), "code"),
    ]
    for write, field in refusals:
        with pytest.raises(InvalidInput) as refused:
            await write
        assert refused.value.field == field
    [life] = await store.facilities(["DT-A11-01"], EVERYTHING)
    assert life is not None and life.repairs == 1 and life.registration_number is None


async def test_place_figures_are_exact_fractions(store: Store) -> None:
    clock = Clock(START)
    facilities = Facilities(store, clock=clock)
    for code in ("DT-A11-01", "DT-A11-02", "DT-A12-01"):
        await contracted(facilities, code)
    await facilities.record_inspection("DT-A11-01", at=START, result=InspectionResult.PASSED, scope=EVERYTHING, recorded_by=WHO)
    await facilities.record_inspection("DT-A11-02", at=START, result=InspectionResult.FAILED, scope=EVERYTHING, recorded_by=WHO)
    await facilities.record_inspection("DT-A12-01", at=START, result=InspectionResult.PASSED_ON_RECHECK, scope=EVERYTHING, recorded_by=WHO)
    case = await open_case(store)
    for _ in range(2):
        await facilities.record_repair("DT-A11-01", at=START, case_id=case.id, scope=EVERYTHING, recorded_by=WHO)
    clock.at = START + dt.timedelta(days=10)
    [estate, other] = await facilities.figures([E_A, E_B], EVERYTHING)
    assert estate is not None and other is not None
    assert estate.pass_rate == Fraction(2, 3) and estate.repairs_per_elevator == Fraction(2, 3)
    assert estate.tally.due_soon == 3 and estate.tally.overdue == 0 and estate.year == 2026
    assert other.pass_rate is None and other.repairs_per_elevator is None
    clock.at = START + dt.timedelta(days=16)
    [estate] = await facilities.figures([E_A], EVERYTHING)
    assert estate is not None and estate.tally.overdue == 3 and estate.tally.maintenance_overdue == 3
    assert await facilities.figures([E_A], Scope.of(ST_B)) == [None]
