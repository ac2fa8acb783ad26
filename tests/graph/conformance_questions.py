"""Conformance of `Store.reach`, the port member behind the graph questions (graph.questions),
and of the questions themselves over it: through the port only, so every adapter runs them.

A test module runs them by importing the classes below (`from tests.graph.conformance_questions
import *`) and providing the `store` fixture of `tests/graph/conformance.py` (a fresh, empty
store). Each test writes the conformance suite's fixture city plus the cases of `CASES`: open and
closed ones at houses, an entrance, a building, an estate and a street, and one linked to no
place. Expected answers are written out by hand where a reader should check them, and otherwise
computed naively from the records (`expected_reach`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import pytest

from graph import questions
from graph.cases import OPEN_STATUSES, Case, CaseCategory, CaseSource, CaseStatus
from graph.devices import Device, DeviceType
from graph.errors import CodeError, InvalidInput
from graph.levels import Level
from graph.model import Batch, Provenance, Reached
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.utilities import Outage, Utility
from tests.graph.conformance import (
    B_A1,
    B_A2,
    B_C1,
    CITY,
    CM_A2,
    D_SHIBEI,
    D_SHINAN,
    E_A,
    E_B,
    E_C,
    E_HOUSE,
    EN_A11,
    EN_A21,
    EN_C11,
    F_HOUSE,
    FACTS,
    FIRM_1,
    FIRM_2,
    FIRM_3,
    FIRM_4,
    G_HOUSE,
    OWNER_A,
    OWNER_B,
    OWNER_C,
    OWNER_D,
    OWNER_F,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    ST_C,
    T_HOUSE,
    TODAY,
    TRANSFER,
    UNKNOWN_ESTATE,
    UNKNOWN_HOUSE,
    fixture_city,
    garbage_cursors,
)

__all__ = ["TestReach", "TestReachScope", "TestReachCases", "TestImpact", "TestPath", "TestFootprint"]

EVERYTHING = Scope.everything()
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)
SOURCE = Provenance("questions-suite", "cases", T0, "run-questions")


def _case(number: int, place: str | None, status: CaseStatus) -> Case:
    at = T0 + dt.timedelta(hours=number)
    return Case(
        f"QX{number:03d}", CaseSource.HOTLINE, CaseCategory.REPAIR, status, f"问题工单{number}", at, at,
        place_code=place, external_id=f"12345-QX-{number:03d}", provenance=SOURCE,
    )


CASES = [
    _case(1, T_HOUSE, CaseStatus.ACCEPTED),
    _case(2, EN_A11, CaseStatus.DISPATCHED),
    _case(3, E_A, CaseStatus.RESOLVED),  # closed: never reached
    _case(4, B_A2, CaseStatus.IN_PROGRESS),
    _case(5, E_HOUSE, CaseStatus.RETURNED),
    _case(6, ST_A, CaseStatus.SIGNED),  # above every estate
    _case(7, None, CaseStatus.ACCEPTED),  # linked to no place: under none
    _case(8, G_HOUSE, CaseStatus.ARCHIVED),
    _case(9, G_HOUSE, CaseStatus.SIGNED),
    _case(10, E_A, CaseStatus.FOLLOWED_UP),
]
OPEN_IDS = {case.id for case in CASES if case.status in OPEN_STATUSES}


async def write_city(store: Store, *, cases: bool = False) -> None:
    """The fixture city, and with `cases` the cases of `CASES` too."""
    batch = fixture_city()
    if cases:
        batch.cases = list(CASES)
    await store.write(batch)


def expected_reach(
    places: Sequence[str], as_of: dt.date = TODAY, cases: Sequence[Case] = CASES
) -> tuple[list[str], set[str], list[str]]:
    """Houses, owners on `as_of` and open cases of `cases` (newest first) at or under `places`,
    naively."""
    under = {code for place in places if place in FACTS.places for code in FACTS.under(place)}
    houses = sorted(code for code in under if FACTS.places[code].level == Level.HOUSE)
    owners = FACTS.owners_on(houses, as_of)
    found = sorted(
        (case for case in cases if case.status in OPEN_STATUSES and case.place_code in under),
        key=lambda case: (case.reported_at, case.id),
        reverse=True,
    )
    return houses, owners, [case.id for case in found]


async def walk(store: Store, places: Sequence[str], scope: Scope, first: int, as_of: dt.date = TODAY) -> list[Reached]:
    pages: list[Reached] = []
    after: str | None = None
    for _ in range(100):
        reached = await store.reach(places, scope, first, after, as_of=as_of)
        pages.append(reached)
        if not reached.houses.has_next:
            return pages
        after = reached.houses.end_cursor
    raise AssertionError("reach paging did not end")


def house_codes(pages: Sequence[Reached]) -> list[str]:
    return [place.code for page in pages for place in page.houses.items]


def nothing_open(reached: Reached) -> bool:
    return reached.open_cases == () and reached.open_case_count == 0


class TestReach:
    """Houses and their holders (the city holds no cases here: see TestReachCases)."""

    async def test_an_estate_reaches_its_houses_and_holders(self, store: Store) -> None:
        await write_city(store)
        reached = await store.reach([E_A], EVERYTHING, 50, as_of=TODAY)
        assert reached.places == (E_A,)
        assert [place.code for place in reached.houses.items] == FACTS.level(Level.HOUSE, E_A)
        assert all(place.level == Level.HOUSE for place in reached.houses.items)
        assert reached.houses.items[0] == (await store.places([reached.houses.items[0].code], EVERYTHING))[0]
        assert len(reached.houses.items) == reached.house_count == 10
        assert not reached.houses.has_next
        # every house of the page has its holders, sorted; unowned houses hold none
        assert set(reached.holders) == {place.code for place in reached.houses.items}
        assert {code: ids for code, ids in reached.holders.items() if ids} == {
            T_HOUSE: (OWNER_B, OWNER_C), D_SHINAN: (OWNER_D,), F_HOUSE: (OWNER_F,)
        }
        assert reached.owner_count == 4
        assert nothing_open(reached)

    async def test_every_place_reaches_what_lies_under_it(self, store: Store) -> None:
        await write_city(store)
        for code in sorted(FACTS.places):
            houses, owners, _ = expected_reach([code])
            reached = await store.reach([code], EVERYTHING, MAX_PAGE, as_of=TODAY)
            assert reached.places == (code,), code
            assert [place.code for place in reached.houses.items] == houses, code
            assert reached.house_count == len(houses), code
            assert reached.owner_count == len(owners), code
            assert {owner for ids in reached.holders.values() for owner in ids} == owners, code

    async def test_a_house_reaches_itself(self, store: Store) -> None:
        await write_city(store)
        house = await store.reach([T_HOUSE], EVERYTHING, 10, as_of=TODAY)
        assert [place.code for place in house.houses.items] == [T_HOUSE]
        assert house.holders == {T_HOUSE: (OWNER_B, OWNER_C)} and house.owner_count == 2
        city = await store.reach([CITY], EVERYTHING, MAX_PAGE, as_of=TODAY)
        assert city.house_count == 20 and city.owner_count == 6  # B, C, D, E, F, G
        empty = await store.reach([CM_A2], EVERYTHING, 10, as_of=TODAY)
        assert empty.places == (CM_A2,) and empty.houses.items == [] and empty.holders == {}
        assert (empty.house_count, empty.owner_count) == (0, 0) and nothing_open(empty)

    async def test_places_repeated_or_nested_count_once(self, store: Store) -> None:
        await write_city(store)
        alone = await store.reach([E_A], EVERYTHING, MAX_PAGE, as_of=TODAY)
        nested = await store.reach([B_A1, E_A, B_A1, EN_A11, T_HOUSE], EVERYTHING, MAX_PAGE, as_of=TODAY)
        assert nested.places == (B_A1, E_A, EN_A11, T_HOUSE)
        assert nested.houses == alone.houses and nested.holders == alone.holders
        assert (nested.house_count, nested.owner_count) == (alone.house_count, alone.owner_count)
        # an owner holding houses under two places is one owner
        both = await store.reach([E_A, E_C], EVERYTHING, MAX_PAGE, as_of=TODAY)
        assert both.house_count == 15
        assert both.owner_count == 5  # B, C, D (in both), F, G

    async def test_holders_on_a_day(self, store: Store) -> None:
        await write_city(store)
        before = await store.reach([E_A, E_C], EVERYTHING, MAX_PAGE, as_of=TRANSFER - dt.timedelta(days=1))
        assert before.holders[T_HOUSE] == (OWNER_A,)
        assert before.owner_count == 4  # A, D (both houses), F, G
        on = await store.reach([T_HOUSE], EVERYTHING, 5, as_of=TRANSFER)
        assert on.holders == {T_HOUSE: (OWNER_B, OWNER_C)}
        long_ago = await store.reach([E_A, E_B, E_C], EVERYTHING, MAX_PAGE, as_of=dt.date(2000, 1, 1))
        assert long_ago.owner_count == 0 and all(ids == () for ids in long_ago.holders.values())
        assert long_ago.house_count == 20

    async def test_pages_of_houses(self, store: Store) -> None:
        await write_city(store)
        pages = await walk(store, [E_A, E_B], EVERYTHING, 3)
        houses, owners, _ = expected_reach([E_A, E_B])
        assert house_codes(pages) == houses
        assert [len(page.houses.items) for page in pages] == [3, 3, 3, 3, 3]
        for page in pages:
            # the counts are the whole reach's, on every page
            assert (page.house_count, page.owner_count) == (15, len(owners))
            assert set(page.holders) == {place.code for place in page.houses.items}
            assert page.houses.start_cursor is not None and page.houses.end_cursor is not None
        assert [page.houses.has_next for page in pages] == [True] * 4 + [False]
        again = await store.reach([E_A, E_B], EVERYTHING, 3, pages[1].houses.end_cursor, as_of=TODAY)
        assert again.houses == pages[2].houses

    async def test_page_sizes_are_clamped_and_foreign_cursors_refused(self, store: Store) -> None:
        await write_city(store)
        one = await store.reach([E_A], EVERYTHING, 0, as_of=TODAY)
        assert len(one.houses.items) == 1 and one.houses.has_next
        many = await store.reach([CITY], EVERYTHING, 10 * MAX_PAGE, as_of=TODAY)
        assert len(many.houses.items) == 20 and not many.houses.has_next
        for cursor in garbage_cursors():
            with pytest.raises(InvalidInput):
                await store.reach([E_A], EVERYTHING, 5, cursor, as_of=TODAY)

    async def test_unknown_places_are_absent(self, store: Store) -> None:
        await write_city(store)
        nothing = await store.reach([UNKNOWN_ESTATE, UNKNOWN_HOUSE], EVERYTHING, 10, as_of=TODAY)
        assert nothing.places == () and nothing.houses.items == [] and not nothing.houses.has_next
        assert (nothing.house_count, nothing.owner_count) == (0, 0) and nothing_open(nothing)
        some = await store.reach([UNKNOWN_ESTATE, E_B], EVERYTHING, 10, as_of=TODAY)
        assert some.places == (E_B,) and some.house_count == 5
        assert (await store.reach([], EVERYTHING, 10, as_of=TODAY)).places == ()


class TestReachCases:
    """The open cases a reach finds (the city holds the cases of `CASES`)."""

    async def test_an_estate_reaches_its_open_cases(self, store: Store) -> None:
        await write_city(store, cases=True)
        reached = await store.reach([E_A], EVERYTHING, 50, as_of=TODAY)
        # open cases at the house, the entrance and the building; the estate's are closed
        assert reached.open_cases == ("QX004", "QX002", "QX001")
        assert reached.open_case_count == 3
        assert reached.house_count == 10 and reached.owner_count == 4

    async def test_every_place_reaches_the_open_cases_under_it(self, store: Store) -> None:
        await write_city(store, cases=True)
        for code in sorted(FACTS.places):
            _, _, cases = expected_reach([code])
            reached = await store.reach([code], EVERYTHING, MAX_PAGE, as_of=TODAY)
            assert list(reached.open_cases) == cases and reached.open_case_count == len(cases), code

    async def test_cases_at_a_house_above_estates_and_nowhere(self, store: Store) -> None:
        await write_city(store, cases=True)
        house = await store.reach([T_HOUSE], EVERYTHING, 10, as_of=TODAY)
        assert (house.open_cases, house.open_case_count) == (("QX001",), 1)
        street = await store.reach([ST_A], EVERYTHING, 10, as_of=TODAY)
        assert street.open_cases == ("QX006", "QX004", "QX002", "QX001")
        city = await store.reach([CITY], EVERYTHING, MAX_PAGE, as_of=TODAY)
        assert set(city.open_cases) == OPEN_IDS - {"QX007"}  # the case linked to no place is under none
        empty = await store.reach([CM_A2], EVERYTHING, 10, as_of=TODAY)
        assert nothing_open(empty)

    async def test_nested_places_and_pages(self, store: Store) -> None:
        await write_city(store, cases=True)
        nested = await store.reach([B_A1, E_A, EN_A11, T_HOUSE], EVERYTHING, MAX_PAGE, as_of=TODAY)
        assert (nested.open_cases, nested.open_case_count) == (("QX004", "QX002", "QX001"), 3)
        both = await store.reach([E_A, E_C], EVERYTHING, MAX_PAGE, as_of=TODAY)
        assert both.open_cases == ("QX009", "QX004", "QX002", "QX001")
        _, _, cases = expected_reach([E_A, E_B])
        for page in await walk(store, [E_A, E_B], EVERYTHING, 3):
            # the newest open cases, at most a page, the same on every page
            assert list(page.open_cases) == cases[:3] and page.open_case_count == len(cases)
        one = await store.reach([E_A], EVERYTHING, 0, as_of=TODAY)
        assert one.open_cases == ("QX004",) and one.open_case_count == 3

    async def test_cases_in_scope(self, store: Store) -> None:
        await write_city(store, cases=True)
        street = Scope.of(ST_B)
        assert await store.reach([E_A], street, 10, as_of=TODAY) == await store.reach([UNKNOWN_ESTATE], street, 10, as_of=TODAY)
        mixed = await store.reach([E_A, E_B, D_SHIBEI], street, 10, as_of=TODAY)
        assert (mixed.open_cases, mixed.open_case_count) == (("QX005",), 1)
        for above in (CITY, SHINAN):
            assert nothing_open(await store.reach([above], Scope.of(ST_A), 10, as_of=TODAY))
        firm = await store.reach([SHINAN, E_A, E_B, E_C], Scope.of(E_A, E_C), MAX_PAGE, as_of=TODAY)
        assert firm.open_cases == ("QX009", "QX004", "QX002", "QX001")
        owner = Scope.of(T_HOUSE)
        assert (await store.reach([T_HOUSE], owner, 5, as_of=TODAY)).open_cases == ("QX001",)

    async def test_a_footprint_counts_open_cases(self, store: Store) -> None:
        await write_city(store, cases=True)
        rows = await questions.footprint(store, FIRM_2, EVERYTHING, as_of=TODAY)
        assert rows is not None and [(row.key, row.open_cases) for row in rows] == [(SHINAN, 4)]
        spread = [dataclasses.replace(item, firm_code=FIRM_3) for item in fixture_city().managements if item.estate_code == E_B]
        await store.write(Batch(managements=spread))
        rows = await questions.footprint(store, FIRM_3, EVERYTHING, as_of=TODAY)
        assert rows is not None and [(row.key, row.open_cases) for row in rows] == [(SHINAN, 1), (SHIBEI, 1)]


class TestReachScope:
    async def test_places_outside_the_scope_are_absent_as_unknown_ones(self, store: Store) -> None:
        await write_city(store)
        street = Scope.of(ST_B)
        foreign = await store.reach([E_A], street, 10, as_of=TODAY)
        unknown = await store.reach([UNKNOWN_ESTATE], street, 10, as_of=TODAY)
        assert foreign == unknown
        assert foreign.places == () and foreign.house_count == 0 and foreign.open_case_count == 0
        mixed = await store.reach([E_A, E_B, D_SHIBEI], street, 10, as_of=TODAY)
        assert mixed.places == (E_B,)
        assert [place.code for place in mixed.houses.items] == FACTS.level(Level.HOUSE, E_B)
        assert mixed.owner_count == 1

    async def test_a_place_above_the_scope_is_absent_though_the_scope_lies_under_it(self, store: Store) -> None:
        await write_city(store)
        for above in (CITY, SHINAN):
            reached = await store.reach([above], Scope.of(ST_A), 10, as_of=TODAY)
            assert reached.places == () and reached.house_count == 0 and reached.open_cases == ()

    async def test_a_scope_of_estates(self, store: Store) -> None:
        await write_city(store)
        firm = Scope.of(E_A, E_C)
        reached = await store.reach([SHINAN, E_A, E_B, E_C], firm, MAX_PAGE, as_of=TODAY)
        assert reached.places == (E_A, E_C)
        assert reached.house_count == 15 and reached.owner_count == 5
        owner = Scope.of(T_HOUSE)
        assert (await store.reach([T_HOUSE], owner, 5, as_of=TODAY)).holders == {T_HOUSE: (OWNER_B, OWNER_C)}
        assert (await store.reach([EN_A11], owner, 5, as_of=TODAY)).places == ()

    async def test_an_empty_scope_reaches_nothing(self, store: Store) -> None:
        await write_city(store)
        reached = await store.reach([CITY, E_A, T_HOUSE], Scope(frozenset()), 10, as_of=TODAY)
        assert reached.places == () and reached.houses.items == [] and reached.house_count == 0


DEVICE = "EL-QX-0001"
OUTAGE = Outage(Utility.WATER, "SW-QX-1", (B_A2, E_C), T0, None, "管网检修", provenance=SOURCE)
OTHER_OUTAGE = Outage(Utility.POWER, "SW-QX-1", (E_B,), T0 - dt.timedelta(hours=1), None, "检修", provenance=SOURCE)


async def write_devices_and_outages(store: Store) -> None:
    await write_city(store, cases=True)
    await store.register_devices([Device(DEVICE, DeviceType.ELEVATOR, "问答型", EN_A21, 60)])
    await store.write(Batch(outages=[OUTAGE, OTHER_OUTAGE]))


class TestImpact:
    async def test_from_a_place_a_device_and_an_outage(self, store: Store) -> None:
        await write_devices_and_outages(store)
        building = await questions.impact(store, B_A2, EVERYTHING, 10, as_of=TODAY)
        assert building is not None and building.kind is questions.Struck.PLACE and building.code == B_A2
        assert [place.code for place in building.reached.houses.items] == FACTS.level(Level.HOUSE, B_A2)
        lower = await questions.impact(store, B_A2.lower(), EVERYTHING, 10, as_of=TODAY)
        assert lower is not None and lower.code == B_A2
        device = await questions.impact(store, DEVICE, EVERYTHING, 10, as_of=TODAY)
        assert device is not None and device.kind is questions.Struck.DEVICE and device.code == DEVICE
        assert device.reached.places == (EN_A21,)
        assert device.reached == await store.reach([EN_A21], EVERYTHING, 10, as_of=TODAY)
        outage = await questions.impact(store, "water:SW-QX-1", EVERYTHING, 10, as_of=TODAY)
        assert outage is not None and outage.kind is questions.Struck.OUTAGE and outage.code == "water:SW-QX-1"
        assert outage.reached.places == (B_A2, E_C)
        houses, owners, cases = expected_reach([B_A2, E_C])
        assert [place.code for place in outage.reached.houses.items] == houses
        assert outage.reached.owner_count == len(owners) == 3  # D (one owner in both), F, G
        assert list(outage.reached.open_cases) == cases == ["QX009", "QX004"]
        power = await questions.impact(store, "POWER:SW-QX-1", EVERYTHING, 10, as_of=TODAY)
        assert power is not None and power.reached.places == (E_B,)

    async def test_out_of_scope_is_absent_and_an_outage_keeps_its_places_in_scope(self, store: Store) -> None:
        await write_devices_and_outages(store)
        street = Scope.of(ST_B)
        for code in (B_A2, DEVICE, "water:SW-QX-1", UNKNOWN_ESTATE, "EL-QX-9999", "gas:SW-QX-1"):
            assert await questions.impact(store, code, street, 10, as_of=TODAY) is None, code
        north = await questions.impact(store, "water:SW-QX-1", Scope.of(ST_C), 10, as_of=TODAY)
        assert north is not None and north.reached.places == (E_C,)
        assert north.reached.house_count == 5

    async def test_bad_codes_and_cursors_are_refused(self, store: Store) -> None:
        await write_devices_and_outages(store)
        for bad in ("", "  ", "a/b", "x", "steam:SW-QX-1", "water:", "水:SW-QX-1"):
            with pytest.raises(InvalidInput) as refused:
                await questions.impact(store, bad, EVERYTHING, 10, as_of=TODAY)
            assert refused.value.field == "code", bad
        with pytest.raises(InvalidInput) as refused:
            await questions.impact(store, E_A, EVERYTHING, 10, "not-a-cursor", as_of=TODAY)
        assert refused.value.field == "after"


class TestPath:
    async def test_up_to_the_lowest_common_place_and_down(self, store: Store) -> None:
        await write_city(store)
        found = await questions.path(store, T_HOUSE, D_SHIBEI, EVERYTHING)
        assert found is not None and found.common is not None and found.common.code == CITY
        up = list(reversed(FACTS.lineage(T_HOUSE)))[:-1]
        assert [place.code for place in found.places] == [T_HOUSE, *up, CITY, *FACTS.lineage(D_SHIBEI)[1:], D_SHIBEI]
        assert (found.up, found.down) == (7, 7)
        near = await questions.path(store, T_HOUSE, F_HOUSE, EVERYTHING)
        assert near is not None and near.common is not None and near.common.code == E_A
        assert [place.code for place in near.places] == [T_HOUSE, EN_A11, B_A1, E_A, B_A2, EN_A21, F_HOUSE]

    async def test_a_place_and_its_ancestor_and_itself(self, store: Store) -> None:
        await write_city(store)
        down = await questions.path(store, ST_A, T_HOUSE, EVERYTHING)
        assert down is not None and down.common is not None and down.common.code == ST_A
        assert [place.code for place in down.places] == [ST_A, *FACTS.lineage(T_HOUSE)[3:], T_HOUSE]
        assert (down.up, down.down) == (0, 5)
        up = await questions.path(store, T_HOUSE, SHINAN, EVERYTHING)
        assert up is not None and [place.code for place in up.places] == [T_HOUSE, *reversed(FACTS.lineage(T_HOUSE)[1:])]
        same = await questions.path(store, E_B, E_B, EVERYTHING)
        assert same is not None and [place.code for place in same.places] == [E_B] and same.up == 0

    async def test_only_places_in_scope(self, store: Store) -> None:
        await write_city(store)
        street = Scope.of(ST_A)
        inside = await questions.path(store, T_HOUSE, F_HOUSE, street)
        assert inside is not None and inside.common is not None and inside.common.code == E_A
        assert await questions.path(store, T_HOUSE, E_HOUSE, street) is None  # the far end is not seen
        assert await questions.path(store, E_HOUSE, T_HOUSE, street) is None
        assert await questions.path(store, UNKNOWN_HOUSE, T_HOUSE, street) is None
        firm = Scope.of(E_A, E_C)
        split = await questions.path(store, T_HOUSE, G_HOUSE, firm)
        assert split is not None and split.common is None and (split.up, split.down) == (None, None)
        assert [place.code for place in split.places] == [T_HOUSE, EN_A11, B_A1, E_A, E_C, B_C1, EN_C11, G_HOUSE]
        assert all(place.code not in (CITY, SHINAN, SHIBEI, ST_A, ST_C) for place in split.places)

    async def test_bad_codes_name_their_end(self, store: Store) -> None:
        await write_city(store)
        with pytest.raises(CodeError) as refused:
            await questions.path(store, "3702", T_HOUSE, EVERYTHING)
        assert refused.value.field == "from"
        with pytest.raises(CodeError) as refused:
            await questions.path(store, T_HOUSE, "not a code", EVERYTHING)
        assert refused.value.field == "to"


class TestFootprint:
    async def test_per_district_on_a_day(self, store: Store) -> None:
        await write_city(store)
        rows = await questions.footprint(store, FIRM_2, EVERYTHING, as_of=TODAY)
        assert rows is not None and [row.key for row in rows] == [SHINAN]
        [row] = rows
        assert row.district is not None and row.district.code == SHINAN
        assert row.estates == (E_A, E_B)
        houses, owners, _ = expected_reach([E_A, E_B])
        assert (row.houses, row.owners, row.open_cases) == (len(houses), len(owners), 0) == (15, 5, 0)
        area = sum(FACTS.places[code].area_centi_m2 or 0 for code in houses)
        assert row.floor_area_centi_m2 == area and type(area) is int
        before = await questions.footprint(store, FIRM_2, EVERYTHING, as_of=dt.date(2019, 1, 1))
        assert before is not None and [item.estates for item in before] == [(E_B,)]
        assert await questions.footprint(store, FIRM_1, EVERYTHING, as_of=TODAY) == []
        assert await questions.footprint(store, FIRM_4, EVERYTHING, as_of=TODAY) == []

    async def test_across_districts_and_in_scope(self, store: Store) -> None:
        await write_city(store)
        spread = [
            dataclasses.replace(item, firm_code=FIRM_3)
            for item in fixture_city().managements
            if item.estate_code == E_B
        ]
        await store.write(Batch(managements=spread))
        rows = await questions.footprint(store, FIRM_3, EVERYTHING, as_of=TODAY)
        assert rows is not None and [(row.key, row.estates) for row in rows] == [(SHINAN, (E_B,)), (SHIBEI, (E_C,))]
        assert [(row.houses, row.owners, row.open_cases) for row in rows] == [(5, 1, 0), (5, 2, 0)]
        north = await questions.footprint(store, FIRM_3, Scope.of(ST_C), as_of=TODAY)
        assert north is not None and [(row.key, row.estates) for row in north] == [(SHIBEI, (E_C,))]
        assert north[0].district is None  # the district lies above the street's scope
        assert await questions.footprint(store, FIRM_2, Scope.of(ST_C), as_of=TODAY) is None
        assert await questions.footprint(store, FIRM_3, Scope.of(ST_A), as_of=TODAY) is None
