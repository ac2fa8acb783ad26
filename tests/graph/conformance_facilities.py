"""The facility part of the store conformance suite: every member of
`graph.facilities.records.FacilityStore`, through the port only, on the fixture city of
`tests/graph/conformance.py` and the device fleet of `tests/graph/conformance_devices.py`.
`tests/graph/test_store_conformance.py` runs it on every backend.

Held: a record and its events read back as written (Chinese text, dates, aware times in UTC,
enums; the device's type and place read through the device); the compare-and-set on the version
(a stale or skipped version, or a key booked before, writes nothing; two savers at once: one
wins); refused input naming its field and writing nothing; scope (out of scope behaves as
absent); events newest first, keyset-paged, filtered by kind; the overdue watch (earliest first,
alarmed and retired records left out, marked once); and tallies per place at every level against
a plain-Python oracle.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest

from graph.cases import Point
from graph.devices import DeviceType
from graph.errors import InvalidInput
from graph.facilities.records import EventKind, Facility, FacilityEvent, FacilityTally, InspectionResult, Watch
from graph.model import Page
from graph.scope import Scope
from graph.store import Store
from tests.graph.conformance import B_A1, B_A2, CITY, CM_A1, E_A, E_B, E_C, EN_A11, SHIBEI, SHINAN, ST_A, ST_B, T_HOUSE, garbage_cursors
from tests.graph.conformance_devices import fleet

__all__ = [
    "TestSaveFacility",
    "TestLoadFacilities",
    "TestFacilities",
    "TestFacilityEvents",
    "TestFacilitiesDue",
    "TestFacilityTallies",
]

EVERYTHING = Scope.everything()
UTC = dt.timezone.utc
CST = dt.timezone(dt.timedelta(hours=8))
T = dt.datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
FIRM = "91350100M000100Y43"  # a valid GB 32100 code (graph.codes doctest)


def _valid_contractor() -> str:
    from graph.codes import credit_check_character

    first = "91370202MA3C5N8K1"
    return first + credit_check_character(first)


CONTRACTOR = _valid_contractor()


def life(code: str, version: int = 1, **changes: object) -> Facility:
    facility = Facility(
        code=code,
        device_type=DeviceType.ELEVATOR,
        place_code=EN_A11,
        version=version,
        installed_at=T - dt.timedelta(days=400),
        installed_by="青岛通力电梯安装队",
        registration_number="梯11370202201800001",
        rescue_code="12345",
        contractor_code=CONTRACTOR,
        contractor_name="青岛安达电梯维保有限公司",
        contract_number="WB-2026-001",
        contract_start=dt.date(2026, 1, 1),
        contract_end=dt.date(2026, 12, 31),
        maintenance_days=15,
        last_maintained_at=T - dt.timedelta(days=10),
        maintenance_due_at=T + dt.timedelta(days=5),
        last_inspected_at=T - dt.timedelta(days=100),
        inspection_result=InspectionResult.PASSED_ON_RECHECK,
        inspection_due_at=T + dt.timedelta(days=265),
        repairs=2,
    )
    return replace(facility, **changes)  # type: ignore[arg-type]


def event(code: str, seq: int = 1, kind: EventKind = EventKind.MAINTENANCE, **changes: object) -> FacilityEvent:
    made = FacilityEvent(
        code=code,
        seq=seq,
        kind=kind,
        at=T - dt.timedelta(days=10),
        recorded_by=f"property_firm:{FIRM}",
        by_org=CONTRACTOR,
        by_staff="W-007",
        point=Point(120.3821, 36.0671),
        note="半月保养：轿厢、层门、制动器",
        data={"items": "A1-A31"} if kind is EventKind.MAINTENANCE else {},
    )
    return replace(made, **changes)  # type: ignore[arg-type]


async def booked(store: Store, facility: Facility, **changes: object) -> Facility:
    """Save `facility` at its version with a maintenance event; asserts it went through."""
    assert await store.save_facility(facility, event(facility.code, facility.version, **changes))
    return facility


class TestSaveFacility:
    async def test_a_record_and_its_event_read_back_as_written(self, store: Store) -> None:
        await fleet(store)
        written = await booked(store, life("DT-A11-01"))
        [read] = await store.facilities(["DT-A11-01"], EVERYTHING)
        assert read == written
        assert read.installed_at is not None and read.installed_at.tzinfo is not None
        page = await store.facility_events("DT-A11-01", EVERYTHING, 10)
        assert page.items == [event("DT-A11-01")]
        assert page.items[0].at.utcoffset() == dt.timedelta(0)

    async def test_the_device_gives_type_and_place(self, store: Store) -> None:
        await fleet(store)
        await booked(store, life("GD-A-01", device_type=DeviceType.ELEVATOR, place_code="anything"))
        [read] = await store.facilities(["GD-A-01"], EVERYTHING)
        assert read is not None and (read.device_type, read.place_code) == (DeviceType.GAS_DETECTOR, E_A)

    async def test_a_sparse_record_keeps_its_empty_fields_empty(self, store: Store) -> None:
        await fleet(store)
        bare = Facility(code="WP-C-01", device_type=DeviceType.WATER_PUMP, place_code=E_C, version=1)
        assert await store.save_facility(bare, event("WP-C-01", kind=EventKind.RETIREMENT, data={}, by_org=None, by_staff=None, point=None, note=""))
        [read] = await store.facilities(["WP-C-01"], EVERYTHING)
        assert read == bare

    async def test_versions_move_one_at_a_time(self, store: Store) -> None:
        await fleet(store)
        await booked(store, life("DT-A11-01"))
        assert not await store.save_facility(life("DT-A11-01", 1, repairs=9), event("DT-A11-01", 1))
        assert not await store.save_facility(life("DT-A11-01", 3, repairs=9), event("DT-A11-01", 3))
        second = await booked(store, life("DT-A11-01", 2, repairs=3))
        assert await store.facilities(["DT-A11-01"], EVERYTHING) == [second]
        assert [e.seq for e in (await store.facility_events("DT-A11-01", EVERYTHING, 10)).items] == [2, 1]

    async def test_a_key_is_booked_once(self, store: Store) -> None:
        await fleet(store)
        await booked(store, life("DT-A11-01"), key="维保单-0001")
        assert not await store.save_facility(life("DT-A11-01", 2, repairs=7), event("DT-A11-01", 2, key="维保单-0001"))
        [read] = await store.facilities(["DT-A11-01"], EVERYTHING)
        assert read is not None and read.version == 1 and read.repairs == 2
        assert await store.facility_keys("DT-A11-01", ["维保单-0001", "维保单-0002"]) == [True, False]
        assert await store.facility_keys("DT-A11-02", ["维保单-0001"]) == [False]
        assert await store.facility_keys("NO-SUCH", ["维保单-0001"]) == [False]
        # the same key on another facility is another record
        await booked(store, life("DT-A11-02"), key="维保单-0001")

    async def test_two_savers_at_once_one_wins(self, store: Store) -> None:
        await fleet(store)
        await booked(store, life("DT-A11-01"))
        results = await asyncio.gather(
            store.save_facility(life("DT-A11-01", 2, repairs=10), event("DT-A11-01", 2)),
            store.save_facility(life("DT-A11-01", 2, repairs=20), event("DT-A11-01", 2)),
        )
        assert sorted(results) == [False, True]
        [read] = await store.facilities(["DT-A11-01"], EVERYTHING)
        assert read is not None and read.repairs == (10 if results[0] else 20)
        assert len((await store.facility_events("DT-A11-01", EVERYTHING, 10)).items) == 2

    @pytest.mark.parametrize(
        ("facility", "made", "field"),
        [
            (life("NO-SUCH-DEVICE"), event("NO-SUCH-DEVICE"), "facility NO-SUCH-DEVICE code"),
            (life("DT-A11-01"), event("DT-A11-01", 2), "event DT-A11-01#2 seq"),
            (life("DT-A11-01"), event("DT-A11-02"), "event DT-A11-02#1 code"),
            (life("DT-A11-01", contractor_code="91350100M000100Y44"), event("DT-A11-01"), "facility DT-A11-01 contractor_code"),
            (life("DT-A11-01", rescue_code="12a45"), event("DT-A11-01"), "facility DT-A11-01 rescue_code"),
            (life("DT-A11-01", retired_at=dt.datetime(2026, 3, 1)), event("DT-A11-01"), "facility DT-A11-01 retired_at"),
            (life("DT-A11-01"), event("DT-A11-01", at=dt.datetime(2026, 3, 1)), "event DT-A11-01#1 at"),
            (life("DT-A11-01"), event("DT-A11-01", by_org="not-a-code"), "event DT-A11-01#1 by_org"),
            (life("DT-A11-01"), event("DT-A11-01", data={"colour": "red"}), "event DT-A11-01#1 data.colour"),
            (life("DT-A11-01"), event("DT-A11-01", kind=EventKind.INSPECTION, data={"result": "合格"}), "event DT-A11-01#1 data.next_due"),
            (
                life("DT-A11-01"),
                event("DT-A11-01", kind=EventKind.INSPECTION, data={"result": "良好", "next_due": "2027-03-01"}),
                "event DT-A11-01#1 data.result",
            ),
            (
                life("DT-A11-01"),
                event("DT-A11-01", kind=EventKind.CONTRACT, data={
                    "contractor_code": CONTRACTOR, "contractor_name": "x", "contract_number": "1", "start": "2026-02-01", "end": "2026-01-01",
                }),
                "event DT-A11-01#1 data.end",
            ),
            (life("DT-A11-01"), event("DT-A11-01", point=Point(200.0, 36.0)), "event DT-A11-01#1 point"),
            (life("DT-A11-01", version=0), event("DT-A11-01", 0), "facility DT-A11-01 version"),
        ],
    )
    async def test_refused_input_names_its_field_and_writes_nothing(
        self, store: Store, facility: Facility, made: FacilityEvent, field: str
    ) -> None:
        await fleet(store)
        with pytest.raises(InvalidInput) as refused:
            await store.save_facility(facility, made)
        assert refused.value.field == field
        assert await store.facilities([facility.code, "DT-A11-01"], EVERYTHING) == [None, None]
        assert (await store.facility_events("DT-A11-01", EVERYTHING, 10)).items == []


def history(code: str, n: int, **changes: object) -> tuple[Facility, list[FacilityEvent]]:
    """A record at version n and its n maintenance events, an hour apart."""
    events = [event(code, seq, at=T - dt.timedelta(hours=n - seq), key=f"k{seq}") for seq in range(1, n + 1)]
    return life(code, n, **changes), events


class TestLoadFacilities:
    async def test_records_and_histories_read_back_and_loading_again_loads_nothing(self, store: Store) -> None:
        await fleet(store)
        items = [history("DT-A11-01", 3), history("GD-B-01", 1, device_type=DeviceType.GAS_DETECTOR, place_code=E_B), history("WP-C-01", 2)]
        assert await store.load_facilities(items) == 3
        read = await store.facilities(["DT-A11-01", "GD-B-01"], EVERYTHING)
        assert read == [items[0][0], items[1][0]]
        page = await store.facility_events("DT-A11-01", EVERYTHING, 10)
        assert page.items == list(reversed(items[0][1]))
        assert await store.facility_keys("DT-A11-01", ["k1", "k3", "k4"]) == [True, True, False]
        # again, with one new record: only the new one is stored, the others left as they are
        again = [history("DT-A11-01", 5), history("DT-A11-02", 2)]
        assert await store.load_facilities(again) == 1
        assert (await store.facilities(["DT-A11-01"], EVERYTHING))[0] == items[0][0]
        # a loaded record goes on by save_facility
        assert await store.save_facility(life("DT-A11-01", 4), event("DT-A11-01", 4))
        assert await store.load_facilities([]) == 0

    @pytest.mark.parametrize(
        ("items", "field"),
        [
            ([history("DT-A11-01", 2), history("NO-SUCH-DEVICE", 1)], "facility NO-SUCH-DEVICE code"),
            ([history("DT-A11-01", 2), history("DT-A11-01", 1)], "facility DT-A11-01 code"),
            ([(life("DT-A11-01", 3), history("DT-A11-01", 2)[1])], "facility DT-A11-01 version"),
            ([(life("DT-A11-01", 1), [event("DT-A11-02", 1)])], "event DT-A11-02#1 code"),
            ([(life("DT-A11-01", 2), [event("DT-A11-01", 1, key="x"), event("DT-A11-01", 2, key="x")])], "event DT-A11-01#2 key"),
            ([(life("DT-A11-01", 1), [event("DT-A11-01", 1, by_org="nope")])], "event DT-A11-01#1 by_org"),
        ],
    )
    async def test_refused_loads_name_the_field_and_write_nothing(
        self, store: Store, items: list[tuple[Facility, list[FacilityEvent]]], field: str
    ) -> None:
        await fleet(store)
        with pytest.raises(InvalidInput) as refused:
            await store.load_facilities(items)
        assert refused.value.field == field
        assert await store.facilities(["DT-A11-01", "DT-A11-02"], EVERYTHING) == [None, None]


class TestFacilities:
    async def test_one_answer_per_code_in_order(self, store: Store) -> None:
        await fleet(store)
        a = await booked(store, life("DT-A11-01"))
        c = await booked(store, life("WP-C-01", device_type=DeviceType.WATER_PUMP, place_code=E_C))
        assert await store.facilities(["WP-C-01", "DT-A11-02", "DT-A11-01", "WP-C-01"], EVERYTHING) == [c, None, a, c]

    async def test_out_of_scope_is_absent(self, store: Store) -> None:
        await fleet(store)
        a = await booked(store, life("DT-A11-01"))
        await booked(store, life("GD-B-01", device_type=DeviceType.GAS_DETECTOR, place_code=E_B))
        assert await store.facilities(["DT-A11-01", "GD-B-01"], Scope.of(ST_A)) == [a, None]
        assert await store.facilities(["DT-A11-01"], Scope.of(B_A2)) == [None]
        assert await store.facilities(["DT-A11-01"], Scope.of(T_HOUSE)) == [None]
        assert (await store.facility_events("DT-A11-01", Scope.of(ST_B), 10)).items == []
        assert (await store.facility_events("DT-A11-01", Scope.of(EN_A11), 10)).items != []

    async def test_a_moved_device_takes_its_record_along(self, store: Store) -> None:
        devices = await fleet(store)
        await booked(store, life("DT-A11-01"))
        moved = next(d for d in devices if d.code == "DT-A11-01")
        await store.register_devices([replace(moved, place_code=B_A2)])
        [read] = await store.facilities(["DT-A11-01"], Scope.of(B_A2))
        assert read is not None and read.place_code == B_A2


class TestFacilityEvents:
    async def _history(self, store: Store) -> None:
        await fleet(store)
        kinds = [EventKind.MAINTENANCE, EventKind.REPAIR, EventKind.MAINTENANCE, EventKind.PART, EventKind.MAINTENANCE]
        for seq, kind in enumerate(kinds, start=1):
            data = {"items": "A1"} if kind is EventKind.MAINTENANCE else {"case_id": "C1"} if kind is EventKind.REPAIR else {"part": "曳引钢丝绳"}
            assert await store.save_facility(life("DT-A11-01", seq), event("DT-A11-01", seq, kind, data=data, at=T + dt.timedelta(days=seq)))

    async def test_newest_first_paged_by_opaque_cursors(self, store: Store) -> None:
        await self._history(store)
        seen: list[int] = []
        after: str | None = None
        while True:
            page: Page[FacilityEvent] = await store.facility_events("DT-A11-01", EVERYTHING, 2, after)
            assert len(page.items) <= 2
            seen += [e.seq for e in page.items]
            if not page.has_next:
                break
            after = page.end_cursor
        assert seen == [5, 4, 3, 2, 1]
        assert (await store.facility_events("DT-A11-01", EVERYTHING, 0)).items[0].seq == 5  # clamped to 1

    async def test_kinds_filter(self, store: Store) -> None:
        await self._history(store)
        page = await store.facility_events("DT-A11-01", EVERYTHING, 10, kinds=[EventKind.MAINTENANCE])
        assert [e.seq for e in page.items] == [5, 3, 1]
        assert (await store.facility_events("DT-A11-01", EVERYTHING, 10, kinds=[])).items == []
        page = await store.facility_events("DT-A11-01", EVERYTHING, 10, kinds=[EventKind.PART, EventKind.REPAIR])
        assert [(e.seq, dict(e.data)) for e in page.items] == [(4, {"part": "曳引钢丝绳"}), (2, {"case_id": "C1"})]

    async def test_unknown_codes_list_nothing_and_garbage_cursors_are_refused(self, store: Store) -> None:
        await self._history(store)
        assert (await store.facility_events("DT-A11-02", EVERYTHING, 10)).items == []
        for cursor in garbage_cursors():
            with pytest.raises(InvalidInput) as refused:
                await store.facility_events("DT-A11-01", EVERYTHING, 10, cursor)
            assert refused.value.field == "after"


class TestFacilitiesDue:
    async def _due(self, store: Store) -> None:
        await fleet(store)
        for code, days in (("DT-A11-01", -3), ("DT-A11-02", -5), ("DT-A12-01", -3), ("GD-A-01", 2), ("GD-B-01", -9)):
            await booked(store, life(code, maintenance_due_at=T + dt.timedelta(days=days), inspection_due_at=T + dt.timedelta(days=-days)))
        await booked(store, life("SD-A2-01", maintenance_due_at=T - dt.timedelta(days=30), maintenance_alarmed=True))
        await booked(store, life("WP-C-01", maintenance_due_at=T - dt.timedelta(days=30), retired_at=T - dt.timedelta(days=1)))

    async def test_earliest_first_then_by_code_alarmed_and_retired_left_out(self, store: Store) -> None:
        await self._due(store)
        page = await store.facilities_due(Watch.MAINTENANCE, T, 10)
        assert [f.code for f in page.items] == ["GD-B-01", "DT-A11-02", "DT-A11-01", "DT-A12-01"]
        assert not page.has_next
        inspection = await store.facilities_due(Watch.INSPECTION, T, 10)
        assert [f.code for f in inspection.items] == ["GD-A-01"]
        assert (await store.facilities_due(Watch.MAINTENANCE, T - dt.timedelta(days=30), 10)).items == []

    async def test_pages_walk_every_due_record(self, store: Store) -> None:
        await self._due(store)
        walked: list[str] = []
        after: str | None = None
        while True:
            page = await store.facilities_due(Watch.MAINTENANCE, T, 1, after)
            walked += [f.code for f in page.items]
            if not page.has_next:
                break
            after = page.end_cursor
        assert walked == ["GD-B-01", "DT-A11-02", "DT-A11-01", "DT-A12-01"]

    async def test_marking_takes_a_record_off_the_watch_once(self, store: Store) -> None:
        await self._due(store)
        due = T - dt.timedelta(days=5)
        assert not await store.flag_overdue("DT-A11-02", Watch.MAINTENANCE, T)  # another due time
        assert await store.flag_overdue("DT-A11-02", Watch.MAINTENANCE, due)
        assert not await store.flag_overdue("DT-A11-02", Watch.MAINTENANCE, due)
        assert not await store.flag_overdue("NO-SUCH", Watch.MAINTENANCE, due)
        [read] = await store.facilities(["DT-A11-02"], EVERYTHING)
        assert read is not None and read.maintenance_alarmed and read.version == 1 and not read.inspection_alarmed
        assert [f.code for f in (await store.facilities_due(Watch.MAINTENANCE, T, 10)).items] == ["GD-B-01", "DT-A11-01", "DT-A12-01"]
        # a new due time (the next save) watches again
        await booked(store, life("DT-A11-02", 2, maintenance_due_at=T - dt.timedelta(days=1)))
        assert "DT-A11-02" in [f.code for f in (await store.facilities_due(Watch.MAINTENANCE, T, 10)).items]

    async def test_naive_times_are_refused(self, store: Store) -> None:
        await self._due(store)
        with pytest.raises(InvalidInput):
            await store.facilities_due(Watch.MAINTENANCE, dt.datetime(2026, 3, 2), 10)
        with pytest.raises(InvalidInput):
            await store.flag_overdue("DT-A11-01", Watch.MAINTENANCE, dt.datetime(2026, 3, 2))


def _oracle(records: list[Facility], repairs: dict[str, list[dt.datetime]], under: set[str], now: dt.datetime) -> FacilityTally:
    soon, start, end = now + dt.timedelta(days=7), dt.datetime(2026, 1, 1, tzinfo=CST), dt.datetime(2027, 1, 1, tzinfo=CST)
    mine = [f for f in records if f.code in under]
    live = [f for f in mine if f.retired_at is None]

    def over(at: dt.datetime | None) -> bool:
        return at is not None and at < now

    def coming(at: dt.datetime | None) -> bool:
        return at is not None and now <= at < soon

    return FacilityTally(
        facilities=len(live),
        retired=len(mine) - len(live),
        due_soon=sum(coming(f.maintenance_due_at) or coming(f.inspection_due_at) for f in live),
        overdue=sum(over(f.maintenance_due_at) or over(f.inspection_due_at) for f in live),
        maintenance_overdue=sum(over(f.maintenance_due_at) for f in live),
        inspection_overdue=sum(over(f.inspection_due_at) for f in live),
        inspected=sum(f.inspection_result is not None for f in live),
        passed=sum(f.inspection_result is not None and f.inspection_result.passed for f in live),
        elevators=sum(f.device_type is DeviceType.ELEVATOR for f in live),
        elevator_repairs=sum(
            start <= at < end for f in mine if f.device_type is DeviceType.ELEVATOR for at in repairs.get(f.code, [])
        ),
    )


class TestFacilityTallies:
    async def test_every_level_against_an_oracle(self, store: Store) -> None:
        devices = {d.code: d for d in await fleet(store)}
        plan = {
            "DT-A11-01": dict(maintenance_due_at=T - dt.timedelta(days=1), inspection_result=InspectionResult.PASSED),
            "DT-A11-02": dict(maintenance_due_at=T + dt.timedelta(days=3), inspection_result=InspectionResult.FAILED),
            "DT-A12-01": dict(maintenance_due_at=T + dt.timedelta(days=30), inspection_due_at=T - dt.timedelta(hours=1)),
            "GD-A-01": dict(maintenance_due_at=T + dt.timedelta(days=8), inspection_result=None, inspection_due_at=T + dt.timedelta(days=6)),
            "SD-A2-01": dict(maintenance_due_at=T - dt.timedelta(days=2), retired_at=T - dt.timedelta(days=1)),
            "GD-B-01": dict(maintenance_due_at=T, inspection_result=InspectionResult.PASSED_ON_RECHECK),
        }
        records: list[Facility] = []
        repairs: dict[str, list[dt.datetime]] = {}
        for code, changes in plan.items():
            device = devices[code]
            first = life(code, 1, device_type=device.type, place_code=device.place_code, **changes)
            await booked(store, first)
            records.append(first)
        # repairs: two of DT-A11-01 this year, one last year; one of DT-A12-01; one of a gas detector
        for code, ats in (
            ("DT-A11-01", [T - dt.timedelta(days=20), T - dt.timedelta(days=1), dt.datetime(2025, 12, 31, 15, 59, tzinfo=UTC)]),
            ("DT-A12-01", [dt.datetime(2025, 12, 31, 16, 0, tzinfo=UTC)]),
            ("GD-A-01", [T - dt.timedelta(days=2)]),
        ):
            for index, at in enumerate(ats, start=2):
                [current] = await store.facilities([code], EVERYTHING)
                assert current is not None
                assert await store.save_facility(
                    replace(current, version=index), event(code, index, EventKind.REPAIR, at=at, data={"case_id": f"C{index}"})
                )
            repairs[code] = ats
        places = [CITY, SHINAN, SHIBEI, ST_A, ST_B, CM_A1, E_A, E_B, E_C, B_A1, B_A2, EN_A11]
        under = {
            place: {code for code, d in devices.items() if d.code in plan and (await self._line(store, d.place_code)) & {place}}
            for place in places
        }
        tallies = await store.facility_tallies(
            places, EVERYTHING, now=T, soon_until=T + dt.timedelta(days=7),
            year_from=dt.datetime(2026, 1, 1, tzinfo=CST), year_until=dt.datetime(2027, 1, 1, tzinfo=CST),
        )
        for place, tally in zip(places, tallies):
            assert tally == _oracle(records, repairs, under[place], T), place
        assert tallies[0] is not None and tallies[0].elevator_repairs == 3 and tallies[0].overdue == 2

    @staticmethod
    async def _line(store: Store, code: str) -> set[str]:
        [lineage] = await store.ancestors([code], EVERYTHING)
        return {p.code for p in lineage} | {code}

    async def test_out_of_scope_and_missing_places_are_none(self, store: Store) -> None:
        await fleet(store)
        await booked(store, life("DT-A11-01"))
        window = dict(now=T, soon_until=T + dt.timedelta(days=7), year_from=T - dt.timedelta(days=60), year_until=T + dt.timedelta(days=300))
        found = await store.facility_tallies([E_A, E_B, "370202001001E999", CITY], Scope.of(ST_A), **window)  # type: ignore[arg-type]
        assert found[1:] == [None, None, None]
        assert found[0] is not None and found[0].facilities == 1 and found[0].elevators == 1
        empty = await store.facility_tallies([E_C], EVERYTHING, **window)  # type: ignore[arg-type]
        assert empty == [FacilityTally()]
        with pytest.raises(InvalidInput):
            await store.facility_tallies([E_A], EVERYTHING, now=dt.datetime(2026, 3, 2), soon_until=T, year_from=T, year_until=T)
