"""The staff part of the store conformance suite: every member of `graph.staff.records.StaffStore`,
through the port only, on the fixture city of `tests/graph/conformance.py`; run on every backend
by `tests/graph/test_store_conformance.py`. (The case port's assignee — `Case.assignee`,
`arrive_by`, `arrived_at`, `case_page(assignee=)`, `assigned_loads`, the on-site tallies — is
held in `tests/graph/conformance_cases.py`, `TestCaseAssignee`.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from graph.cases import Point
from graph.errors import InvalidInput, StoreError
from graph.scope import Scope
from graph.staff.records import (
    Certificate,
    CertificateKind,
    DatedShift,
    Position,
    Post,
    StaffMember,
    WeeklyShift,
)
from graph.store import Store
from tests.graph.conformance import B_A1, E_A, E_B, E_C, FIRM_1, FIRM_2, FIRM_3, ST_A, ST_B, ST_C, fixture_city

EVERYTHING = Scope.everything()
CST = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST)
FIRM_UNKNOWN = "91350100M000100Y43"


def member(key: str, employer: str = FIRM_2, estates: tuple[str, ...] = (E_A,), **changes: object) -> StaffMember:
    made = StaffMember(
        id=key,
        employer=employer,
        post=Post.ELEVATOR_MECHANIC,
        name=f"李{key}",
        id_number="37020219900101123X",
        phone="138-0000-0001",
        estates=estates,
        certificates=(
            Certificate(CertificateKind.ELEVATOR_REPAIR, f"T-{key}", dt.date(2022, 1, 1), dt.date(2027, 1, 1)),
            Certificate(CertificateKind.LOW_VOLTAGE, f"D-{key}", dt.date(2020, 1, 1), dt.date(2026, 1, 1)),
        ),
        shifts=(
            WeeklyShift(1, dt.time(8), dt.time(17)),
            WeeklyShift(5, dt.time(22), dt.time(6)),
            DatedShift(T0, T0 + dt.timedelta(hours=8)),
        ),
        position=Position(Point(120.385, 36.055), T0),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def staff_city(store: Store) -> Store:
    await store.write(fixture_city())
    return store


def _utc(value: StaffMember) -> StaffMember:
    """The member as a store gives it back: times in UTC."""
    shifts = tuple(
        DatedShift(s.start.astimezone(dt.timezone.utc), s.end.astimezone(dt.timezone.utc)) if isinstance(s, DatedShift) else s
        for s in value.shifts
    )
    position = value.position
    if position is not None:
        position = Position(position.point, position.at.astimezone(dt.timezone.utc))
    return replace(value, shifts=shifts, position=position)


class TestSaveStaff:
    async def test_a_member_reads_back_whole(self, staff_city: Store) -> None:
        saved = member("S1", estates=(E_B, E_A))
        await staff_city.save_staff([saved])
        [found] = await staff_city.staff(["S1"], EVERYTHING)
        assert found == replace(_utc(saved), estates=(E_A, E_B))
        assert found is not None and found.position is not None and found.position.at.utcoffset() == dt.timedelta(0)

    async def test_saving_again_replaces_it(self, staff_city: Store) -> None:
        await staff_city.save_staff([member("S1")])
        changed = member("S1", estates=(E_B,), post=Post.PLUMBER, phone=None, certificates=(), shifts=(), position=None)
        await staff_city.save_staff([changed])
        assert await staff_city.staff(["S1"], EVERYTHING) == [changed]
        assert await staff_city.staff(["S1"], Scope.of(ST_A)) == [None]

    @pytest.mark.parametrize(
        ("bad", "error"),
        [
            (member("S9", employer=FIRM_UNKNOWN), StoreError),
            (member("S9", estates=(B_A1,)), StoreError),
            (member("S9", estates=("370202001001E009",)), StoreError),
            (member("S/9"), InvalidInput),
            (member("S9", name=" "), InvalidInput),
            (member("S9", employer="91370202MA3C000550"), InvalidInput),
            (member("S9", shifts=(WeeklyShift(8, dt.time(8), dt.time(9)),)), InvalidInput),
            (member("S9", shifts=(DatedShift(T0, T0),)), InvalidInput),
            (member("S9", position=Position(Point(200.0, 36.0), T0)), InvalidInput),
            (
                member("S9", certificates=(Certificate(CertificateKind.PLUMBING, "G1", dt.date(2026, 1, 2), dt.date(2026, 1, 1)),)),
                InvalidInput,
            ),
        ],
        ids=["unknown employer", "not an estate", "unknown estate", "slash in id", "no name", "bad credit code", "weekday 8",
             "empty shift", "bad position", "expiry before issue"],
    )
    async def test_a_refused_batch_stores_nothing(self, staff_city: Store, bad: StaffMember, error: type[Exception]) -> None:
        with pytest.raises(error):
            await staff_city.save_staff([member("S1"), bad])
        assert await staff_city.staff(["S1", bad.id], EVERYTHING) == [None, None]


class TestStaffReads:
    @pytest.fixture
    async def crew(self, staff_city: Store) -> Store:
        await staff_city.save_staff(
            [
                member("S3", estates=(E_A,)),
                member("S1", estates=(E_A, E_B)),
                member("S2", employer=FIRM_3, estates=(E_C,), phone="13900001111"),
                member("S4", employer=FIRM_2, estates=(), phone="13900001111"),
            ]
        )
        return staff_city

    async def test_by_id_in_key_order_none_where_missing_or_out_of_scope(self, crew: Store) -> None:
        found = await crew.staff(["S2", "S1", "nobody", "S3"], Scope.of(ST_A))
        assert [m.id if m else None for m in found] == [None, "S1", None, "S3"]
        assert [m.id if m else None for m in await crew.staff(["S1", "S3"], Scope.of(ST_B))] == ["S1", None]
        assert [m.id if m else None for m in await crew.staff(["S4"], Scope.of(ST_A))] == [None]
        assert [m.id if m else None for m in await crew.staff(["S4"], EVERYTHING)] == ["S4"]

    async def test_staff_of_each_employer_by_id_in_scope(self, crew: Store) -> None:
        mine, theirs, none = await crew.staff_of([FIRM_2, FIRM_3, FIRM_1], EVERYTHING)
        assert [m.id for m in mine] == ["S1", "S3", "S4"]
        assert [m.id for m in theirs] == ["S2"] and none == []
        [seen] = await crew.staff_of([FIRM_2], Scope.of(ST_B))
        assert [m.id for m in seen] == ["S1"]
        [hidden] = await crew.staff_of([FIRM_3], Scope.of(ST_A))
        assert hidden == []

    async def test_staff_of_without_personal_data_opens_nothing(self, crew: Store) -> None:
        [found] = await crew.staff_of([FIRM_3], EVERYTHING, personal=False)
        [whole] = await crew.staff(["S2"], EVERYTHING)
        assert whole is not None
        assert found == [replace(whole, name="", id_number="", phone=None)]

    async def test_found_by_blind_index_in_scope(self, crew: Store) -> None:
        assert [m.id for m in await crew.staff_by("phone", "139 0000 1111", EVERYTHING)] == ["S2", "S4"]
        assert [m.id for m in await crew.staff_by("phone", "13900001111", Scope.of(ST_C))] == ["S2"]
        assert [m.id for m in await crew.staff_by("name", "李S1", EVERYTHING)] == ["S1"]
        assert [m.id for m in await crew.staff_by("id_number", "37020219900101123x", Scope.of(ST_A))] == ["S1", "S3"]
        assert await crew.staff_by("name", "李", EVERYTHING) == []
        with pytest.raises(InvalidInput):
            await crew.staff_by("post", "electrician", EVERYTHING)

    async def test_a_position_is_kept_unless_an_older_one_comes(self, crew: Store) -> None:
        later = Position(Point(120.39, 36.06), T0 + dt.timedelta(minutes=5))
        assert await crew.report_position("S1", later)
        assert await crew.report_position("S1", Position(Point(121.0, 37.0), T0 + dt.timedelta(minutes=1)))
        [found] = await crew.staff(["S1"], EVERYTHING)
        assert found is not None and found.position == Position(later.point, later.at.astimezone(dt.timezone.utc))
        assert not await crew.report_position("nobody", later)
        with pytest.raises(InvalidInput):
            await crew.report_position("S1", Position(Point(120.0, 95.0), T0))
