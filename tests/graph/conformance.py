"""The store conformance suite: every rule of `graph.store.Store`, tested through the port only.

Nothing here knows SQL or any adapter's insides, so every adapter (SQLite, PostgreSQL, Neo4j)
runs the very same tests. A test module that runs them imports the classes below
(`from tests.graph.conformance import *`) and provides three fixtures:

- `store`: a fresh, empty store of its own, for tests that write;
- `loaded`: a store holding `fixture_city()`, written and nothing else (every write keeps the
  roll-ups current: no `refresh_stats()`), shared by the read-only tests of one backend and
  never written to;
- `untouched`: another such store, shared by the tests of batches that must fail: each checks
  that its batch left the store exactly as it was, so a store that is not rolled back fails the
  case that damaged it.

The fixture city is handcrafted and small enough to reason about: 青岛市 (370200) with 市南区
(two streets) and 市北区 (one street), four communities (one of them empty), three estates,
four buildings, five entrances and twenty houses; owners with a transfer (A until 2018-06-01,
then B and C half and half), an owner with houses in both districts, an owner with none; property
firms with a change of firm at 海韵花园 on 2020-07-01. Expected answers are written out by hand
where a reader should check them, and otherwise computed from the batch by `CityFacts`, a
deliberately naive oracle (plain Python over the records written).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, overload

import pytest

from graph.clock import today
from graph.codes import (
    BuildingCode,
    CreditCode,
    EntranceCode,
    EstateCode,
    HouseCode,
    ParcelCode,
    ResidentId,
    credit_check_character,
    resident_id_check_digit,
)
from graph.errors import CodeError, InvalidInput, StoreError
from graph.levels import Level
from graph.model import (
    Batch,
    Management,
    Owner,
    OwnerKind,
    Ownership,
    Page,
    Place,
    PropertyFirm,
    Provenance,
    Stats,
    Usage,
    WriteCounts,
    centi_m2_of,
)
from graph.scope import Scope
from graph.store import MAX_PAGE, Store

__all__ = [
    "TestPlaces",
    "TestChildren",
    "TestAncestors",
    "TestSubtree",
    "TestStats",
    "TestPlaceStats",
    "TestRefreshStats",
    "TestRollupsOnWrite",
    "TestSearch",
    "TestShapes",
    "TestOwnerships",
    "TestOwners",
    "TestOwnersKnown",
    "TestLookupDigest",
    "TestFirmsAndManagements",
    "TestWrite",
    "TestFailedWrites",
    "TestProvenance",
]

EVERYTHING = Scope.everything()
TODAY = today()  # the hub's today (Beijing): "current" owners are counted on it

# --------------------------------------------------------------------------------------------
# The fixture city
# --------------------------------------------------------------------------------------------

CITY = "370200"
SHINAN = "370202"  # 市南区
SHIBEI = "370203"  # 市北区
ST_A = "370202001"  # 市南区 · 香港中路街道: 海韵花园
ST_B = "370202002"  # 市南区 · 八大关街道: 八大关花园_一期
ST_C = "370203001"  # 市北区 · 台东街道: 百分百%家园
CM_A1 = "370202001001"
CM_A2 = "370202001002"  # no estates: its roll-up is a zero row
CM_B1 = "370202002001"
CM_C1 = "370203001001"
E_A = "370202001001E001"  # 海韵花园, two parcels, two buildings, ten houses
E_B = "370202002001E001"  # 八大关花园_一期, one building, five houses
E_C = "370203001001E001"  # 百分百%家园, one building, five houses
P_A1, P_A2 = "370202001001GB00001", "370202001001GB00002"
P_B = "370202002001GB00003"
P_C = "370203001001GB00004"
B_A1 = P_A1 + "F0001"  # 1号楼: entrances 01 and 02, three houses each
B_A2 = P_A1 + "F0002"  # 2号楼: entrance 01, four houses
B_B1 = P_B + "F0001"
B_C1 = P_C + "F0001"
EN_A11, EN_A12, EN_A21 = B_A1 + "01", B_A1 + "02", B_A2 + "01"
EN_B11, EN_C11 = B_B1 + "01", B_C1 + "01"
T_HOUSE = B_A1 + "0101"  # 370202001001GB00001F00010101: sold by A to B and C on 2018-06-01
D_SHINAN = B_A2 + "0201"  # owner D's house in 市南区
D_SHIBEI = B_C1 + "0201"  # owner D's house in 市北区
F_HOUSE = B_A2 + "0101"  # the shop owned by an organisation
E_HOUSE = B_B1 + "0101"
G_HOUSE = B_C1 + "0301"
UNOWNED = B_A1 + "0302"
UNKNOWN_HOUSE = P_A1 + "F00090901"  # well-formed, never written
UNKNOWN_ESTATE = "370202001001E009"
UNKNOWN_STREET = "370202009"

TRANSFER = dt.date(2018, 6, 1)
FIRM_CHANGE = dt.date(2020, 7, 1)
CST = dt.timezone(dt.timedelta(hours=8), "CST")


def resident_id(first17: str) -> str:
    return str(ResidentId(first17 + resident_id_check_digit(first17)))


def credit_code(first17: str) -> str:
    return str(CreditCode(first17 + credit_check_character(first17)))


OWNER_A, OWNER_B, OWNER_C, OWNER_D = "owner-a", "owner-b", "owner-c", "owner-d"
OWNER_E, OWNER_F, OWNER_G, OWNER_H = "owner-e", "owner-f", "owner-g", "owner-h"
FIRM_1 = credit_code("91370202MA3C00011")  # 海韵物业: 海韵花园 until 2020-07-01
FIRM_2 = credit_code("91370202MA3C00022")  # 八大关物业: 八大关花园 since 2016, 海韵花园 since 2020-07-01
FIRM_3 = credit_code("91370203MA3C00033")  # 台东物业: 百分百%家园
FIRM_4 = credit_code("91370200MA3C00044")  # manages nothing


def provenance(record_id: str, source: str = "registry") -> Provenance:
    return Provenance(
        source=source,
        record_id=record_id,
        fetched_at=dt.datetime(2024, 5, 1, 8, 30, 15, 250000, tzinfo=CST),
        run_id="run-20240501-01",
    )


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _place(code: str, level: Level, name: str, parent: str | None, **facts: Any) -> Place:
    return Place(code, level, name, parent, provenance=provenance(f"place/{code}"), **facts)


def _houses(entrance: str, numbers: Sequence[str], areas: Sequence[str]) -> list[Place]:
    """Houses of an entrance, their areas written in m² as a registry writes them (kept in whole
    hundredths of a m²)."""
    building = BuildingCode(entrance[:24])
    houses = []
    for number, area in zip(numbers, areas, strict=True):
        code = str(HouseCode(building + number))
        floor = int(number[:2])
        usage = {F_HOUSE: Usage.COMMERCIAL, B_C1 + "0101": Usage.PARKING, B_B1 + "0501": Usage.OFFICE}
        houses.append(
            _place(
                code,
                Level.HOUSE,
                f"{building.number}号楼{int(entrance[24:])}单元{floor}{number[2:]}室",
                entrance,
                area_centi_m2=centi_m2_of(area),
                floor=floor,
                usage=usage.get(code, Usage.RESIDENTIAL),
            )
        )
    return houses


def fixture_places() -> list[Place]:
    for parcel in (P_A1, P_A2, P_B, P_C):
        ParcelCode(parcel)
    for estate in (E_A, E_B, E_C):
        EstateCode(estate)
    for entrance in (EN_A11, EN_A12, EN_A21, EN_B11, EN_C11):
        EntranceCode(entrance)
    places = [
        _place(CITY, Level.CITY, "青岛市", None, geometry=square(120.0, 36.0, 0.5)),
        _place(SHINAN, Level.DISTRICT, "市南区", CITY, geometry=square(120.30, 36.03, 0.1)),
        _place(SHIBEI, Level.DISTRICT, "市北区", CITY, geometry=square(120.33, 36.08, 0.1)),
        _place(ST_A, Level.STREET, "香港中路街道", SHINAN, geometry=square(120.38, 36.05, 0.02)),
        _place(ST_B, Level.STREET, "八大关街道", SHINAN),
        _place(ST_C, Level.STREET, "台东街道", SHIBEI),
        _place(CM_A1, Level.COMMUNITY, "东海路社区", ST_A),
        _place(CM_A2, Level.COMMUNITY, "燕儿岛路社区", ST_A),
        _place(CM_B1, Level.COMMUNITY, "太平角社区", ST_B),
        _place(CM_C1, Level.COMMUNITY, "威海路社区", ST_C),
        _place(
            E_A, Level.ESTATE, "海韵花园", CM_A1,
            geometry=square(120.385, 36.055, 0.004), parcel_codes=(P_A1, P_A2),
        ),
        _place(E_B, Level.ESTATE, "八大关花园_一期", CM_B1, parcel_codes=(P_B,)),
        _place(
            E_C, Level.ESTATE, "百分百%家园", CM_C1,
            geometry=square(120.345, 36.085, 0.003), parcel_codes=(P_C,),
        ),
        _place(B_A1, Level.BUILDING, "1号楼", E_A, floors=6),
        _place(B_A2, Level.BUILDING, "2号楼", E_A, floors=4),
        _place(B_B1, Level.BUILDING, "1号楼", E_B, floors=5),
        _place(B_C1, Level.BUILDING, "1号楼", E_C, floors=5),
        _place(EN_A11, Level.ENTRANCE, "1单元", B_A1),
        _place(EN_A12, Level.ENTRANCE, "2单元", B_A1),
        _place(EN_A21, Level.ENTRANCE, "1单元", B_A2),
        _place(EN_B11, Level.ENTRANCE, "1单元", B_B1),
        _place(EN_C11, Level.ENTRANCE, "1单元", B_C1),
    ]
    places += _houses(EN_A11, ["0101", "0201", "0301"], ["89.5", "89.5", "120.25"])
    places += _houses(EN_A12, ["0102", "0202", "0302"], ["76", "76", "98.75"])
    places += _houses(EN_A21, ["0101", "0201", "0301", "0401"], ["150", "66.5", "66.5", "132"])
    places += _houses(EN_B11, ["0101", "0201", "0301", "0401", "0501"], ["210", "180.5", "180.5", "95.25", "60"])
    places += _houses(EN_C11, ["0101", "0201", "0301", "0401", "0501"], ["12.5", "88", "88", "101", "101"])
    return places


def fixture_owners() -> list[Owner]:
    def person(key: str, name: str, first17: str, phone: str | None = None) -> Owner:
        return Owner(key, OwnerKind.PERSON, name, resident_id(first17), phone, provenance(f"owner/{key}"))

    return [
        person(OWNER_A, "张伟", "37020219700315001", "13800000001"),
        person(OWNER_B, "李娜", "37020219820607002", "13800000002"),
        person(OWNER_C, "王芳", "37020319850912003"),
        person(OWNER_D, "刘洋", "37021119791120004", "13800000004"),
        person(OWNER_E, "陈静", "37020219900101005"),
        Owner(
            OWNER_F, OwnerKind.ORGANISATION, "青岛海韵商贸有限公司",
            credit_code("91370202MA3C00101"), "0532-80000006", provenance(f"owner/{OWNER_F}"),
        ),
        person(OWNER_G, "赵磊", "37020319751230007"),
        person(OWNER_H, "孙丽", "37020219880808008"),  # owns nothing
    ]


def fixture_ownerships() -> list[Ownership]:
    def owns(house: str, owner: str, share: float, since: dt.date, until: dt.date | None = None,
             source: str = "registration") -> Ownership:
        return Ownership(house, owner, share, since, until, source, provenance(f"own/{house}/{owner}/{since}"))

    return [
        owns(T_HOUSE, OWNER_A, 1.0, dt.date(2010, 3, 15), TRANSFER),
        owns(T_HOUSE, OWNER_B, 0.5, TRANSFER, source="transaction"),
        owns(T_HOUSE, OWNER_C, 0.5, TRANSFER, source="transaction"),
        owns(D_SHINAN, OWNER_D, 1.0, dt.date(2012, 1, 9)),
        owns(D_SHIBEI, OWNER_D, 1.0, dt.date(2015, 8, 20)),
        owns(F_HOUSE, OWNER_F, 1.0, dt.date(2016, 4, 1)),
        owns(E_HOUSE, OWNER_E, 1.0, dt.date(2019, 11, 30)),
        owns(G_HOUSE, OWNER_G, 1.0, dt.date(2009, 2, 28)),
    ]


def fixture_firms() -> list[PropertyFirm]:
    return [
        PropertyFirm(FIRM_1, "青岛海韵物业服务有限公司", "0532-81000001", provenance(f"firm/{FIRM_1}", "market")),
        PropertyFirm(FIRM_2, "青岛八大关物业管理有限公司", "0532-81000002", provenance(f"firm/{FIRM_2}", "market")),
        PropertyFirm(FIRM_3, "青岛台东物业有限公司", None, provenance(f"firm/{FIRM_3}", "market")),
        PropertyFirm(FIRM_4, "青岛未聘物业有限公司", None, provenance(f"firm/{FIRM_4}", "market")),
    ]


def fixture_managements() -> list[Management]:
    def manages(firm: str, estate: str, since: dt.date, until: dt.date | None = None) -> Management:
        return Management(firm, estate, since, until, provenance(f"manage/{estate}/{firm}/{since}", "housing"))

    return [
        manages(FIRM_1, E_A, dt.date(2015, 1, 1), FIRM_CHANGE),
        manages(FIRM_2, E_A, FIRM_CHANGE),
        manages(FIRM_2, E_B, dt.date(2016, 1, 1)),
        manages(FIRM_3, E_C, dt.date(2017, 3, 1)),
    ]


def fixture_city() -> Batch:
    """The handcrafted city as one batch, parents before children."""
    return Batch(
        places=fixture_places(),
        owners=fixture_owners(),
        ownerships=fixture_ownerships(),
        firms=fixture_firms(),
        managements=fixture_managements(),
    )


# --------------------------------------------------------------------------------------------
# The oracle: what a correct store answers for a batch, computed naively
# --------------------------------------------------------------------------------------------


class CityFacts:
    """Answers computed in plain Python from the records written (no store involved)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.places = {place.code: place for place in batch.places}

    def lineage(self, code: str) -> list[str]:
        """Ancestors of `code`, top down."""
        chain: list[str] = []
        parent = self.places[code].parent_code
        while parent is not None:
            chain.append(parent)
            parent = self.places[parent].parent_code
        return chain[::-1]

    def under(self, code: str | None, *, inclusive: bool = True) -> list[str]:
        return sorted(
            other
            for other in self.places
            if code is None or code in self.lineage(other) or (inclusive and other == code)
        )

    def level(self, level: Level, within: str | None) -> list[str]:
        return [code for code in self.under(within) if self.places[code].level == level]

    def children(self, code: str) -> list[str]:
        return sorted(other for other, place in self.places.items() if place.parent_code == code)

    def owners_on(self, houses: Sequence[str], day: dt.date) -> set[str]:
        wanted = set(houses)
        return {o.owner_id for o in self.batch.ownerships if o.house_code in wanted and o.holds_on(day)}

    def stats(self, code: str, day: dt.date = TODAY) -> tuple[int, int, int, int, int]:
        houses = self.level(Level.HOUSE, code)
        return (
            len(houses),
            sum(self.places[house].area_centi_m2 or 0 for house in houses),
            len(self.owners_on(houses, day)),
            len(self.level(Level.ESTATE, code)),
            len(self.level(Level.BUILDING, code)),
        )


FACTS = CityFacts(fixture_city())


def figures(row: Stats) -> tuple[int, int, int, int, int]:
    return (row.houses, row.floor_area_centi_m2, row.owners, row.estates, row.buildings)


def assert_figures(row: Stats, expected: tuple[int, int, int, int, int]) -> None:
    houses, area, owners, estates, buildings = expected
    assert (row.houses, row.owners, row.estates, row.buildings) == (houses, owners, estates, buildings), row
    assert row.floor_area_centi_m2 == area and type(row.floor_area_centi_m2) is int, row  # exact, in hundredths of a m²


@overload
def codes(items: Sequence[Place]) -> list[str]: ...
@overload
def codes(items: Sequence[Place | None]) -> list[str | None]: ...
def codes(items: Sequence[Place | None]) -> list[str | None] | list[str]:
    return [None if item is None else item.code for item in items]


async def walk_subtree(
    store: Store, level: Level, within: str | None, scope: Scope, first: int
) -> tuple[list[str], list[Page[Place]]]:
    pages: list[Page[Place]] = []
    after: str | None = None
    seen: list[str] = []
    for _ in range(1000):
        page = await store.subtree(level, within, scope, first, after)
        pages.append(page)
        seen += [place.code for place in page.items]
        if not page.has_next:
            return seen, pages
        after = page.end_cursor
    raise AssertionError("subtree paging did not end")


async def walk_children(
    store: Store, parent: str, scope: Scope, first: int
) -> tuple[list[str], list[Page[Place]]]:
    pages: list[Page[Place]] = []
    after: str | None = None
    seen: list[str] = []
    for _ in range(1000):
        [page] = await store.children([parent], scope, first, after)
        pages.append(page)
        seen += [place.code for place in page.items]
        if not page.has_next:
            return seen, pages
        after = page.end_cursor
    raise AssertionError("children paging did not end")


async def snapshot(store: Store, batch: Batch | None = None) -> dict[str, Any]:
    """Everything the port can tell about the fixture city and about the records of `batch`."""
    extra = batch or Batch()
    place_codes = sorted(set(FACTS.places) | {place.code for place in extra.places})
    houses = sorted(
        set(FACTS.level(Level.HOUSE, None))
        | {o.house_code for o in extra.ownerships}
        | {p.code for p in extra.places if p.level == Level.HOUSE}
    )
    owner_ids = sorted({o.id for o in fixture_owners()} | {o.id for o in extra.owners}
                       | {o.owner_id for o in extra.ownerships})
    firm_codes = sorted({f.code for f in fixture_firms()} | {f.code for f in extra.firms}
                        | {m.firm_code for m in extra.managements})
    estates = sorted(set(FACTS.level(Level.ESTATE, None)) | {m.estate_code for m in extra.managements})
    listed = {}
    for level in Level:
        seen, _ = await walk_subtree(store, level, None, EVERYTHING, MAX_PAGE)
        listed[level.name] = seen
    return {
        "places": await store.places(place_codes, EVERYTHING),
        "listed": listed,
        "children": [
            list(page.items) for page in await store.children(place_codes, EVERYTHING, MAX_PAGE)
        ],
        "owners": await store.owners(owner_ids, EVERYTHING),
        "ownerships": await store.ownerships(houses, None, EVERYTHING),
        "houses_of": await store.houses_of(owner_ids, None, EVERYTHING),
        "firms": await store.firms(firm_codes, EVERYTHING),
        "managements": await store.managements(estates, None, EVERYTHING),
        "estates_of": await store.estates_of(firm_codes, None, EVERYTHING),
        "stats": await store.place_stats(place_codes, EVERYTHING),
    }


def house(code: str, entrance: str, area: float, **facts: Any) -> Place:
    return Place(code, Level.HOUSE, f"新房{code[-4:]}", entrance, area_centi_m2=centi_m2_of(area), floor=int(code[-4:-2]),
                 usage=Usage.RESIDENTIAL, **facts)


def garbage_cursors() -> list[str]:
    return [
        "not-a-cursor",
        "",
        "!!!!",
        base64.urlsafe_b64encode(b"offset:10").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    ]


# --------------------------------------------------------------------------------------------
# places()
# --------------------------------------------------------------------------------------------


class TestPlaces:
    async def test_every_place_round_trips(self, loaded: Store) -> None:
        written = fixture_places()
        found = await loaded.places([place.code for place in written], EVERYTHING)
        assert found == written

    async def test_answers_follow_the_keys(self, loaded: Store) -> None:
        keys = [T_HOUSE, CITY, UNKNOWN_ESTATE, E_C, SHINAN, T_HOUSE, UNKNOWN_HOUSE, CITY]
        found = await loaded.places(keys, EVERYTHING)
        assert codes(found) == [T_HOUSE, CITY, None, E_C, SHINAN, T_HOUSE, None, CITY]
        assert found[0] == found[5]
        assert found[1] is not None and found[1].level == Level.CITY and found[1].parent_code is None
        assert found[3] is not None and found[3].parent_code == CM_C1

    async def test_no_keys_no_answers(self, loaded: Store) -> None:
        assert await loaded.places([], EVERYTHING) == []

    async def test_many_keys(self, loaded: Store) -> None:
        """Batch reads take any number of keys (DataLoaders send a thousand at once)."""
        unknown = [str(HouseCode(f"{P_B}F0009{number:04d}")) for number in range(1001, 2501)]
        real = [T_HOUSE, E_C, D_SHIBEI, SHINAN]
        keys = unknown[:700] + real[:2] + unknown[700:1400] + real[2:] + unknown[1400:] + real
        places = await loaded.places(keys, EVERYTHING)
        assert codes(places) == [key if key in real else None for key in keys]
        pages = await loaded.children(keys, EVERYTHING, 5)
        assert [codes(page.items) for page in pages] == [
            FACTS.children(key)[:5] if key in real else [] for key in keys
        ]
        chains = await loaded.ancestors(keys, EVERYTHING)
        assert [codes(chain) for chain in chains] == [
            FACTS.lineage(key) if key in real else [] for key in keys
        ]
        held = await loaded.ownerships(keys, None, EVERYTHING)
        assert [len(items) for items in held] == [
            len([o for o in fixture_ownerships() if o.house_code == key]) for key in keys
        ]
        owner_keys = [f"owner-x{number}" for number in range(1500)] + [OWNER_D]
        owners = await loaded.owners(owner_keys, EVERYTHING)
        assert [o and o.id for o in owners] == [None] * 1500 + [OWNER_D]
        assert [len(items) for items in await loaded.houses_of(owner_keys, None, EVERYTHING)][-1] == 2

    async def test_out_of_scope_is_none(self, loaded: Store) -> None:
        keys = [ST_A, CM_A1, CM_A2, E_A, B_A2, EN_A21, T_HOUSE, SHINAN, CITY, SHIBEI, ST_B, E_B, E_C, D_SHIBEI]
        found = await loaded.places(keys, Scope.of(ST_A))
        assert codes(found) == [ST_A, CM_A1, CM_A2, E_A, B_A2, EN_A21, T_HOUSE] + [None] * 7

    async def test_scope_of_several_roots(self, loaded: Store) -> None:
        found = await loaded.places([ST_A, E_C, D_SHIBEI, E_B, ST_C], Scope.of(ST_A, E_C))
        assert codes(found) == [ST_A, E_C, D_SHIBEI, None, None]

    async def test_scope_of_a_house_sees_only_that_house(self, loaded: Store) -> None:
        found = await loaded.places([T_HOUSE, UNOWNED, EN_A11, E_A], Scope.of(T_HOUSE))
        assert codes(found) == [T_HOUSE, None, None, None]

    async def test_empty_scope_and_unknown_root_see_nothing(self, loaded: Store) -> None:
        keys = [CITY, SHINAN, E_A, T_HOUSE]
        assert await loaded.places(keys, Scope.of()) == [None] * 4
        assert await loaded.places(keys, Scope.of(UNKNOWN_STREET)) == [None] * 4


# --------------------------------------------------------------------------------------------
# children()
# --------------------------------------------------------------------------------------------


class TestChildren:
    async def test_children_ordered_by_code(self, loaded: Store) -> None:
        city, street, building = await loaded.children([CITY, ST_A, B_A1], EVERYTHING, 50)
        assert codes(city.items) == [SHINAN, SHIBEI]
        assert codes(street.items) == [CM_A1, CM_A2]
        assert codes(building.items) == [EN_A11, EN_A12]
        assert all(p.parent_code == ST_A for p in street.items)
        assert not city.has_next and not street.has_next and not building.has_next
        assert list(city.items) == await loaded.places([SHINAN, SHIBEI], EVERYTHING)

    async def test_every_parent_matches_the_oracle(self, loaded: Store) -> None:
        parents = sorted(FACTS.places)
        pages = await loaded.children(parents, EVERYTHING, 50)
        assert len(pages) == len(parents)
        for parent, page in zip(parents, pages):
            assert codes(page.items) == FACTS.children(parent), parent
            assert not page.has_next

    async def test_pages_follow_keys_with_duplicates_and_unknowns(self, loaded: Store) -> None:
        pages = await loaded.children([ST_A, UNKNOWN_ESTATE, CITY, ST_A, T_HOUSE], EVERYTHING, 50)
        assert [codes(page.items) for page in pages] == [
            [CM_A1, CM_A2], [], [SHINAN, SHIBEI], [CM_A1, CM_A2], [],
        ]
        for empty in (pages[1], pages[4]):
            assert not empty.has_next and empty.end_cursor is None

    async def test_no_parents_no_pages(self, loaded: Store) -> None:
        assert await loaded.children([], EVERYTHING, 10) == []

    async def test_walking_one_by_one_visits_every_child_once(self, loaded: Store) -> None:
        for parent in (CITY, SHINAN, ST_A, E_A, B_A1, EN_A21, EN_B11):
            seen, pages = await walk_children(loaded, parent, EVERYTHING, 1)
            assert seen == FACTS.children(parent), parent
            assert all(len(page.items) == 1 for page in pages)
            assert [page.has_next for page in pages] == [True] * (len(pages) - 1) + [False]
            assert all(page.end_cursor is not None for page in pages)

    async def test_has_next_at_the_boundary(self, loaded: Store) -> None:
        [exact] = await loaded.children([EN_B11], EVERYTHING, 5)
        [short] = await loaded.children([EN_B11], EVERYTHING, 4)
        assert len(exact.items) == 5 and not exact.has_next
        assert len(short.items) == 4 and short.has_next
        [rest] = await loaded.children([EN_B11], EVERYTHING, 4, short.end_cursor)
        assert codes(rest.items) == [B_B1 + "0501"] and not rest.has_next
        [after_last] = await loaded.children([EN_B11], EVERYTHING, 4, rest.end_cursor)
        assert list(after_last.items) == [] and not after_last.has_next

    async def test_scope_hides_children_outside(self, loaded: Store) -> None:
        scope = Scope.of(ST_A)
        district, city, other, inside = await loaded.children([SHINAN, CITY, ST_B, E_A], scope, 50)
        assert codes(district.items) == [ST_A]
        assert list(city.items) == []  # 市南区 lies above the scope, not in it
        assert list(other.items) == []
        assert codes(inside.items) == [B_A1, B_A2]
        seen, _ = await walk_children(loaded, SHINAN, scope, 1)
        assert seen == [ST_A]

    async def test_a_bad_cursor_names_after(self, loaded: Store) -> None:
        for cursor in garbage_cursors():
            with pytest.raises(InvalidInput) as raised:
                await loaded.children([CITY], EVERYTHING, 10, cursor)
            assert raised.value.field == "after"
            assert "after" in str(raised.value)


# --------------------------------------------------------------------------------------------
# ancestors()
# --------------------------------------------------------------------------------------------


class TestAncestors:
    async def test_top_down(self, loaded: Store) -> None:
        house, estate, district, city = await loaded.ancestors([T_HOUSE, E_C, SHIBEI, CITY], EVERYTHING)
        assert codes(house) == [CITY, SHINAN, ST_A, CM_A1, E_A, B_A1, EN_A11]
        assert codes(estate) == [CITY, SHIBEI, ST_C, CM_C1]
        assert codes(district) == [CITY]
        assert city == []
        assert house[-1] == (await loaded.places([EN_A11], EVERYTHING))[0]

    async def test_every_place_matches_the_oracle(self, loaded: Store) -> None:
        every = sorted(FACTS.places)
        for code, found in zip(every, await loaded.ancestors(every, EVERYTHING)):
            assert codes(found) == FACTS.lineage(code), code

    async def test_answers_follow_keys(self, loaded: Store) -> None:
        found = await loaded.ancestors([E_B, UNKNOWN_HOUSE, E_B, ST_C], EVERYTHING)
        assert [codes(chain) for chain in found] == [
            [CITY, SHINAN, ST_B, CM_B1], [], [CITY, SHINAN, ST_B, CM_B1], [CITY, SHIBEI],
        ]
        assert await loaded.ancestors([], EVERYTHING) == []

    async def test_a_street_sees_only_ancestors_inside_its_scope(self, loaded: Store) -> None:
        house, street, outside, district = await loaded.ancestors(
            [T_HOUSE, ST_A, D_SHIBEI, SHINAN], Scope.of(ST_A)
        )
        assert codes(house) == [ST_A, CM_A1, E_A, B_A1, EN_A11]
        assert street == []
        assert outside == []  # not seen at all
        assert district == []

    async def test_an_estate_scope(self, loaded: Store) -> None:
        [chain] = await loaded.ancestors([G_HOUSE], Scope.of(E_C))
        assert codes(chain) == [E_C, B_C1, EN_C11]
        assert await loaded.ancestors([G_HOUSE], Scope.of(T_HOUSE)) == [[]]


# --------------------------------------------------------------------------------------------
# subtree() and count()
# --------------------------------------------------------------------------------------------


class TestSubtree:
    async def test_by_level_within_a_place(self, loaded: Store) -> None:
        page = await loaded.subtree(Level.HOUSE, E_A, EVERYTHING, 50)
        assert codes(page.items) == FACTS.level(Level.HOUSE, E_A)
        assert len(page.items) == 10 and not page.has_next
        estates = await loaded.subtree(Level.ESTATE, SHINAN, EVERYTHING, 50)
        assert codes(estates.items) == [E_A, E_B]
        assert all(isinstance(place, Place) and place.level == Level.ESTATE for place in estates.items)
        assert codes((await loaded.subtree(Level.ENTRANCE, B_A1, EVERYTHING, 50)).items) == [EN_A11, EN_A12]
        assert codes((await loaded.subtree(Level.COMMUNITY, CITY, EVERYTHING, 50)).items) == [
            CM_A1, CM_A2, CM_B1, CM_C1,
        ]

    async def test_anywhere(self, loaded: Store) -> None:
        for level in Level:
            page = await loaded.subtree(level, None, EVERYTHING, 50)
            assert codes(page.items) == FACTS.level(level, None), level
            assert await loaded.count(level, None, EVERYTHING) == len(FACTS.level(level, None))
        assert await loaded.count(Level.HOUSE, None, EVERYTHING) == 20
        assert await loaded.count(Level.ESTATE, None, EVERYTHING) == 3

    async def test_count_matches_the_oracle_everywhere(self, loaded: Store) -> None:
        for within in [CITY, SHINAN, SHIBEI, ST_A, ST_B, CM_A2, E_A, B_A2, EN_C11]:
            for level in (Level.STREET, Level.ESTATE, Level.BUILDING, Level.ENTRANCE, Level.HOUSE):
                below = [code for code in FACTS.level(level, within) if code != within]
                page = await loaded.subtree(level, within, EVERYTHING, 50)
                assert [c for c in codes(page.items) if c != within] == below, (level, within)
                counted = await loaded.count(level, within, EVERYTHING)
                assert counted == len(page.items), (level, within)

    async def test_levels_above_within_are_empty(self, loaded: Store) -> None:
        assert list((await loaded.subtree(Level.DISTRICT, E_A, EVERYTHING, 50)).items) == []
        assert await loaded.count(Level.CITY, ST_A, EVERYTHING) == 0

    async def test_paging(self, loaded: Store) -> None:
        seen, pages = await walk_subtree(loaded, Level.HOUSE, None, EVERYTHING, 7)
        assert seen == FACTS.level(Level.HOUSE, None)
        assert [len(page.items) for page in pages] == [7, 7, 6]
        assert [page.has_next for page in pages] == [True, True, False]
        exact = await loaded.subtree(Level.HOUSE, None, EVERYTHING, 20)
        assert len(exact.items) == 20 and not exact.has_next
        one_short = await loaded.subtree(Level.HOUSE, None, EVERYTHING, 19)
        assert len(one_short.items) == 19 and one_short.has_next
        seen, _ = await walk_subtree(loaded, Level.HOUSE, E_C, EVERYTHING, 1)
        assert seen == FACTS.level(Level.HOUSE, E_C)

    async def test_unknown_within_is_empty(self, loaded: Store) -> None:
        page = await loaded.subtree(Level.HOUSE, UNKNOWN_ESTATE, EVERYTHING, 50)
        assert list(page.items) == [] and not page.has_next and page.end_cursor is None
        assert await loaded.count(Level.HOUSE, UNKNOWN_ESTATE, EVERYTHING) == 0
        assert await loaded.count(Level.HOUSE, UNKNOWN_STREET, EVERYTHING) == 0

    async def test_scope_intersects(self, loaded: Store) -> None:
        scope = Scope.of(ST_A)
        page = await loaded.subtree(Level.HOUSE, CITY, scope, 50)
        assert codes(page.items) == FACTS.level(Level.HOUSE, ST_A)
        assert await loaded.count(Level.HOUSE, CITY, scope) == 10
        assert await loaded.count(Level.HOUSE, None, scope) == 10
        assert codes((await loaded.subtree(Level.STREET, None, scope, 50)).items) == [ST_A]
        assert list((await loaded.subtree(Level.DISTRICT, None, scope, 50)).items) == []
        assert list((await loaded.subtree(Level.HOUSE, SHIBEI, scope, 50)).items) == []
        assert await loaded.count(Level.HOUSE, SHIBEI, scope) == 0
        both = Scope.of(ST_B, E_C)
        assert await loaded.count(Level.HOUSE, None, both) == 10
        assert await loaded.count(Level.HOUSE, SHINAN, both) == 5
        assert await loaded.count(Level.HOUSE, None, Scope.of()) == 0
        seen, _ = await walk_subtree(loaded, Level.HOUSE, None, both, 3)
        assert seen == FACTS.level(Level.HOUSE, E_B) + FACTS.level(Level.HOUSE, E_C)

    async def test_a_bad_cursor_names_after(self, loaded: Store) -> None:
        for cursor in garbage_cursors():
            with pytest.raises(InvalidInput) as raised:
                await loaded.subtree(Level.HOUSE, None, EVERYTHING, 10, cursor)
            assert raised.value.field == "after"

    async def test_pages_are_capped(self, store: Store) -> None:
        await store.write(fixture_city())
        many = [house(str(HouseCode(f"{B_B1}{floor:02d}{room:02d}")), EN_B11, 50.0)
                for floor in range(10, 36) for room in range(1, 21)]
        assert len(many) > MAX_PAGE
        await store.write(Batch(places=many))
        page = await store.subtree(Level.HOUSE, E_B, EVERYTHING, MAX_PAGE * 4)
        assert len(page.items) == MAX_PAGE and page.has_next
        [children] = await store.children([EN_B11], EVERYTHING, MAX_PAGE * 4)
        assert len(children.items) == MAX_PAGE and children.has_next
        found = await store.search(B_B1, None, EVERYTHING, MAX_PAGE * 4)
        assert len(found) == MAX_PAGE
        assert await store.count(Level.HOUSE, E_B, EVERYTHING) == len(many) + 5


# --------------------------------------------------------------------------------------------
# stats()
# --------------------------------------------------------------------------------------------


class TestStats:
    async def test_one_row_per_place_of_the_group_level(self, loaded: Store) -> None:
        districts = await loaded.stats(CITY, Level.DISTRICT, EVERYTHING)
        assert codes([row.place for row in districts]) == [SHINAN, SHIBEI]
        streets = await loaded.stats(CITY, Level.STREET, EVERYTHING)
        assert codes([row.place for row in streets]) == [ST_A, ST_B, ST_C]
        estates = await loaded.stats(SHINAN, Level.ESTATE, EVERYTHING)
        assert codes([row.place for row in estates]) == [E_A, E_B]
        assert [row.place for row in districts] == await loaded.places([SHINAN, SHIBEI], EVERYTHING)

    async def test_every_row_matches_the_oracle(self, loaded: Store) -> None:
        for level in (Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.ESTATE,
                      Level.BUILDING, Level.ENTRANCE, Level.HOUSE):
            rows = await loaded.stats(CITY, level, EVERYTHING)
            assert codes([row.place for row in rows]) == FACTS.level(level, CITY)
            for row in rows:
                assert_figures(row, FACTS.stats(row.place.code))

    async def test_hand_counted_figures(self, loaded: Store) -> None:
        [city] = await loaded.stats(CITY, Level.CITY, EVERYTHING)
        assert_figures(city, (20, 208175, 6, 3, 4))
        shinan, shibei = await loaded.stats(CITY, Level.DISTRICT, EVERYTHING)
        assert_figures(shinan, (15, 169125, 5, 2, 3))
        assert_figures(shibei, (5, 39050, 2, 1, 1))
        [estate] = await loaded.stats(E_A, Level.ESTATE, EVERYTHING)
        assert_figures(estate, (10, 96500, 4, 1, 2))
        [building] = await loaded.stats(B_A1, Level.BUILDING, EVERYTHING)
        assert_figures(building, (6, 55000, 2, 0, 1))

    async def test_sums_add_up_level_by_level(self, loaded: Store) -> None:
        [city] = await loaded.stats(CITY, Level.CITY, EVERYTHING)
        districts = await loaded.stats(CITY, Level.DISTRICT, EVERYTHING)
        for total, parts in [(city, districts)] + [
            (district, await loaded.stats(district.place.code, Level.STREET, EVERYTHING))
            for district in districts
        ]:
            assert total.houses == sum(part.houses for part in parts)
            assert total.floor_area_centi_m2 == sum(part.floor_area_centi_m2 for part in parts)
            assert total.estates == sum(part.estates for part in parts)
            assert total.buildings == sum(part.buildings for part in parts)
        estates = await loaded.stats(CITY, Level.ESTATE, EVERYTHING)
        houses = await loaded.stats(CITY, Level.HOUSE, EVERYTHING)
        assert city.houses == sum(row.houses for row in estates) == len(houses)
        assert city.floor_area_centi_m2 == sum(row.floor_area_centi_m2 for row in houses)

    async def test_owners_are_distinct_current_owners(self, loaded: Store) -> None:
        [city] = await loaded.stats(CITY, Level.CITY, EVERYTHING)
        shinan, shibei = await loaded.stats(CITY, Level.DISTRICT, EVERYTHING)
        # B, C, D, E, F in 市南区; D and G in 市北区; D counted once in the city; A sold in 2018.
        assert (shinan.owners, shibei.owners, city.owners) == (5, 2, 6)
        [transferred] = await loaded.stats(T_HOUSE, Level.HOUSE, EVERYTHING)
        assert transferred.owners == 2
        [unowned] = await loaded.stats(UNOWNED, Level.HOUSE, EVERYTHING)
        assert unowned.owners == 0

    async def test_group_by_the_level_of_within_is_within_itself(self, loaded: Store) -> None:
        for code in (CITY, SHIBEI, ST_B, CM_C1, E_B, B_C1, EN_A12, G_HOUSE):
            level = FACTS.places[code].level
            [row] = await loaded.stats(code, level, EVERYTHING)
            assert row.place == FACTS.places[code]
            assert_figures(row, FACTS.stats(code))

    async def test_group_by_house(self, loaded: Store) -> None:
        rows = await loaded.stats(E_A, Level.HOUSE, EVERYTHING)
        assert codes([row.place for row in rows]) == FACTS.level(Level.HOUSE, E_A)
        for row in rows:
            assert row.houses == 1 and row.estates == 0 and row.buildings == 0
            assert row.floor_area_centi_m2 == FACTS.places[row.place.code].area_centi_m2
            assert row.owners == len(FACTS.owners_on([row.place.code], TODAY))
        by_code = {row.place.code: row for row in rows}
        assert by_code[T_HOUSE].owners == 2 and by_code[D_SHINAN].owners == 1

    async def test_a_place_with_nothing_under_it_has_a_zero_row(self, loaded: Store) -> None:
        rows = await loaded.stats(ST_A, Level.COMMUNITY, EVERYTHING)
        assert codes([row.place for row in rows]) == [CM_A1, CM_A2]
        assert figures(rows[1]) == (0, 0.0, 0, 0, 0)
        [empty] = await loaded.stats(CM_A2, Level.COMMUNITY, EVERYTHING)
        assert figures(empty) == (0, 0.0, 0, 0, 0)

    async def test_levels_above_within_and_unknown_within_give_no_rows(self, loaded: Store) -> None:
        assert await loaded.stats(ST_A, Level.DISTRICT, EVERYTHING) == []
        assert await loaded.stats(UNKNOWN_ESTATE, Level.HOUSE, EVERYTHING) == []
        assert await loaded.stats(UNKNOWN_STREET, Level.STREET, EVERYTHING) == []

    async def test_scope(self, loaded: Store) -> None:
        scope = Scope.of(ST_A)
        streets = await loaded.stats(CITY, Level.STREET, scope)
        assert codes([row.place for row in streets]) == [ST_A]
        assert_figures(streets[0], FACTS.stats(ST_A))
        assert await loaded.stats(CITY, Level.DISTRICT, scope) == []
        assert await loaded.stats(CITY, Level.CITY, scope) == []
        assert await loaded.stats(ST_B, Level.COMMUNITY, scope) == []
        estates = await loaded.stats(CITY, Level.ESTATE, Scope.of(E_B, E_C))
        assert codes([row.place for row in estates]) == [E_B, E_C]
        houses = await loaded.stats(CITY, Level.HOUSE, Scope.of(T_HOUSE))
        assert codes([row.place for row in houses]) == [T_HOUSE]
        assert await loaded.stats(CITY, Level.HOUSE, Scope.of()) == []


# --------------------------------------------------------------------------------------------
# place_stats()
# --------------------------------------------------------------------------------------------


class TestPlaceStats:
    async def test_every_place_matches_the_oracle(self, loaded: Store) -> None:
        every = sorted(FACTS.places)
        rows = await loaded.place_stats(every, EVERYTHING)
        assert len(rows) == len(every)
        for code, row in zip(every, rows):
            assert row is not None and row.place == FACTS.places[code], code
            assert_figures(row, FACTS.stats(code))

    async def test_the_same_rows_as_stats(self, loaded: Store) -> None:
        for code in (CITY, SHINAN, ST_C, CM_A2, E_A, B_B1, EN_A12, T_HOUSE, UNOWNED):
            [row] = await loaded.place_stats([code], EVERYTHING)
            assert [row] == await loaded.stats(code, FACTS.places[code].level, EVERYTHING), code

    async def test_answers_follow_the_keys(self, loaded: Store) -> None:
        keys = [E_C, UNKNOWN_ESTATE, T_HOUSE, CITY, E_C, UNKNOWN_HOUSE, CM_A2]
        rows = await loaded.place_stats(keys, EVERYTHING)
        assert [row and row.place.code for row in rows] == [E_C, None, T_HOUSE, CITY, E_C, None, CM_A2]
        assert rows[0] == rows[4]
        assert rows[2] is not None and figures(rows[2])[0::2] == (1, 2, 0)  # a house: itself, B and C
        assert rows[6] is not None and figures(rows[6]) == (0, 0.0, 0, 0, 0)  # a zero row, not None
        assert await loaded.place_stats([], EVERYTHING) == []

    async def test_scope(self, loaded: Store) -> None:
        keys = [CITY, SHINAN, ST_A, E_A, T_HOUSE, E_C, G_HOUSE]
        rows = await loaded.place_stats(keys, Scope.of(ST_A))
        assert [row and row.place.code for row in rows] == [None, None, ST_A, E_A, T_HOUSE, None, None]
        assert rows[2] is not None
        assert_figures(rows[2], FACTS.stats(ST_A))
        assert await loaded.place_stats(keys, Scope.of()) == [None] * len(keys)

    async def test_a_place_written_later_is_counted_at_once(self, store: Store) -> None:
        await store.write(fixture_city())
        estate = Place("370202001002E001", Level.ESTATE, "燕岛新苑", CM_A2)
        await store.write(Batch(places=[estate]))
        [row, community, city] = await store.place_stats([estate.code, CM_A2, CITY], EVERYTHING)
        assert row is not None and row.place == estate and figures(row) == (0, 0.0, 0, 1, 0)
        assert community is not None and figures(community) == (0, 0.0, 0, 1, 0)
        assert city is not None and city.estates == 4


# --------------------------------------------------------------------------------------------
# refresh_stats()
# --------------------------------------------------------------------------------------------


class TestRefreshStats:
    async def all_rows(self, store: Store) -> dict[str, tuple[int, float, int, int, int]]:
        rows: dict[str, tuple[int, float, int, int, int]] = {}
        for level in Level:
            for row in await store.stats(CITY, level, EVERYTHING):
                rows[row.place.code] = figures(row)
        return rows

    async def test_refresh_within_an_estate_updates_it_and_its_ancestors(self, store: Store) -> None:
        await store.write(fixture_city())
        await store.refresh_stats()
        before = await self.all_rows(store)
        new = [house(B_A2 + f"{floor:02d}01", EN_A21, 100.0 + floor) for floor in (5, 6, 7)]
        newcomer = Owner("owner-new", OwnerKind.PERSON, "周杰", resident_id("37020219950505009"))
        await store.write(Batch(
            places=new,
            owners=[newcomer],
            ownerships=[Ownership(new[0].code, newcomer.id, 1.0, dt.date(2023, 3, 3))],
        ))
        await store.refresh_stats(within=E_A)
        after = await self.all_rows(store)
        added = 3, 10000 * 3 + 500 + 600 + 700, 1
        for code in (CITY, SHINAN, ST_A, CM_A1, E_A, B_A2, EN_A21):
            old, now = before[code], after[code]
            assert now[0] == old[0] + added[0], code
            assert now[1] == old[1] + added[1], code
            assert now[2] == old[2] + added[2], code
            assert now[3:] == old[3:], code
        for code in (SHIBEI, ST_B, ST_C, CM_A2, CM_B1, E_B, E_C, B_A1, EN_A11, B_C1):
            assert after[code] == before[code], code
        [city] = await store.stats(CITY, Level.CITY, EVERYTHING)
        assert city.houses == 23
        by_place = await store.place_stats(list(after), EVERYTHING)
        assert {row.place.code: figures(row) for row in by_place if row is not None} == after

        # A full refresh agrees with the partial one, row for row.
        await store.refresh_stats()
        full = await self.all_rows(store)
        assert full.keys() == after.keys()
        for code, values in full.items():
            assert values[0] == after[code][0] and values[2:] == after[code][2:], code
            assert values[1] == after[code][1], code

    async def test_refresh_within_a_building_reaches_the_city(self, store: Store) -> None:
        await store.write(fixture_city())
        await store.refresh_stats()
        await store.write(Batch(places=[house(B_C1 + "0601", EN_C11, 77.0)]))
        await store.refresh_stats(within=B_C1)
        for code in (CITY, SHIBEI, ST_C, CM_C1, E_C, B_C1, EN_C11):
            [row] = await store.stats(code, FACTS.places[code].level, EVERYTHING)
            houses, area, owners, estates, buildings = FACTS.stats(code)
            assert_figures(row, (houses + 1, area + 7700, owners, estates, buildings))
        [shinan] = await store.stats(SHINAN, Level.DISTRICT, EVERYTHING)
        assert_figures(shinan, FACTS.stats(SHINAN))

    async def test_refreshing_a_new_place_changes_nothing_the_write_did_not(self, store: Store) -> None:
        await store.write(fixture_city())
        estate = Place("370202001002E001", Level.ESTATE, "燕岛新苑", CM_A2)
        await store.write(Batch(places=[estate]))
        [row] = await store.stats(estate.code, Level.ESTATE, EVERYTHING)
        assert figures(row) == (0, 0.0, 0, 1, 0)
        await store.refresh_stats(within=estate.code)
        [row] = await store.stats(estate.code, Level.ESTATE, EVERYTHING)
        assert figures(row) == (0, 0.0, 0, 1, 0)
        [community] = await store.stats(CM_A2, Level.COMMUNITY, EVERYTHING)
        assert figures(community) == (0, 0.0, 0, 1, 0)
        [city] = await store.stats(CITY, Level.CITY, EVERYTHING)
        assert city.estates == 4


# --------------------------------------------------------------------------------------------
# roll-ups kept by write()
# --------------------------------------------------------------------------------------------


def merged(batches: Sequence[Batch]) -> Batch:
    """What a store holds after writing `batches` in order: the last record of each key."""
    places: dict[str, Place] = {}
    owners: dict[str, Owner] = {}
    ownerships: dict[tuple[str, str, dt.date], Ownership] = {}
    firms: dict[str, PropertyFirm] = {}
    managements: dict[tuple[str, str, dt.date], Management] = {}
    for batch in batches:
        places.update((item.code, item) for item in batch.places)
        owners.update((item.id, item) for item in batch.owners)
        ownerships.update(((item.house_code, item.owner_id, item.since), item) for item in batch.ownerships)
        firms.update((item.code, item) for item in batch.firms)
        managements.update(((item.estate_code, item.firm_code, item.since), item) for item in batch.managements)
    return Batch(
        places=list(places.values()),
        owners=list(owners.values()),
        ownerships=list(ownerships.values()),
        firms=list(firms.values()),
        managements=list(managements.values()),
    )


class TestRollupsOnWrite:
    """`write` keeps every roll-up current: what a batch changes is counted by the time it
    returns, at the places it touched and at every place above them, with no refresh."""

    async def assert_current(self, store: Store, written: Sequence[Batch]) -> None:
        facts = CityFacts(merged(written))
        every = sorted(facts.places)
        for code, row in zip(every, await store.place_stats(every, EVERYTHING)):
            assert row is not None, code
            assert row.place.parent_code == facts.places[code].parent_code, code
            assert_figures(row, facts.stats(code))
        for level in Level:
            rows = await store.stats(CITY, level, EVERYTHING)
            assert [row.place.code for row in rows] == facts.level(level, CITY)
            for row in rows:
                assert_figures(row, facts.stats(row.place.code))

    async def test_every_write_keeps_every_row_current(self, store: Store) -> None:
        written: list[Batch] = []

        async def write(batch: Batch) -> None:
            await store.write(batch)
            written.append(batch)
            await self.assert_current(store, written)

        def owns(house_code: str, owner: str, since: dt.date, until: dt.date | None = None, share: float = 1.0) -> Ownership:
            return Ownership(house_code, owner, share, since, until, provenance=provenance(f"own/{house_code}/{owner}/{since}"))

        await write(fixture_city())
        # new houses, one of them held by a new owner
        new = [house(B_A2 + f"{floor:02d}01", EN_A21, 100.0 + floor) for floor in (5, 6, 7)]
        newcomer = Owner("owner-new", OwnerKind.PERSON, "周杰", resident_id("37020219950505009"))
        await write(Batch(places=new, owners=[newcomer], ownerships=[owns(new[0].code, newcomer.id, dt.date(2023, 3, 3))]))
        # a transfer: E sells to D, who already holds a house in 市南区 but none in 八大关街道
        await write(Batch(ownerships=[
            owns(E_HOUSE, OWNER_E, dt.date(2019, 11, 30), until=dt.date(2024, 5, 6)),
            owns(E_HOUSE, OWNER_D, dt.date(2024, 5, 6)),
        ]))
        # a sale that completes only tomorrow, and one registered to start next month
        await write(Batch(ownerships=[
            owns(G_HOUSE, OWNER_G, dt.date(2009, 2, 28), until=TODAY + dt.timedelta(days=1)),
            owns(UNOWNED, OWNER_H, TODAY + dt.timedelta(days=30)),
        ]))
        # a house measured again
        await write(Batch(places=[replace(FACTS.places[D_SHINAN], area_centi_m2=14150)]))
        # a building moves to an estate of another street, and its owner D buys there too
        await write(Batch(
            places=[replace(FACTS.places[B_A2], parent_code=E_B)],
            ownerships=[owns(B_B1 + "0201", OWNER_D, dt.date(2025, 1, 2))],
        ))
        # a house moves to an entrance in the other district
        await write(Batch(places=[replace(FACTS.places[D_SHIBEI], parent_code=EN_A11)]))
        # an estate in the empty community, then a building, an entrance and a house under it
        estate = Place("370202001002E001", Level.ESTATE, "燕岛新苑", CM_A2)
        await write(Batch(places=[estate]))
        building = Place("370202001002GB00009F0001", Level.BUILDING, "1号楼", estate.code, floors=3)
        entrance = Place(building.code + "01", Level.ENTRANCE, "1单元", building.code)
        flat = house(building.code + "0101", entrance.code, 88.0)
        await write(Batch(places=[building, entrance, flat], ownerships=[owns(flat.code, OWNER_A, dt.date(2024, 9, 1))]))
        # an ownership ended: A sells it on
        await write(Batch(ownerships=[owns(flat.code, OWNER_A, dt.date(2024, 9, 1), until=dt.date(2025, 2, 1))]))
        # writing everything again changes nothing
        await write(merged(written))

        # and a full refresh agrees with what the writes kept, row for row
        every = sorted(CityFacts(merged(written)).places)
        kept = await store.place_stats(every, EVERYTHING)
        await store.refresh_stats()
        assert await store.place_stats(every, EVERYTHING) == kept

    async def test_writes_at_once_are_all_counted(self, store: Store) -> None:
        """Batches written at the same time (two connectors, a sync beside an API call) each
        move the city's row: none of their changes is lost."""
        await store.write(fixture_city())
        batches = []
        for index, floor in enumerate(range(5, 11)):
            flat = house(B_A2 + f"{floor:02d}01", EN_A21, 90.0 + floor)
            buyer = Owner(f"owner-at-once-{index}", OwnerKind.PERSON, "吴敏", resident_id(f"37020219950606{index:03d}"))
            batches.append(Batch(places=[flat], owners=[buyer], ownerships=[Ownership(flat.code, buyer.id, 1.0, dt.date(2024, 1, 2))]))
        await asyncio.gather(*(store.write(batch) for batch in batches))
        await self.assert_current(store, [fixture_city(), *batches])
        [city] = await store.place_stats([CITY], EVERYTHING)
        assert city is not None and (city.houses, city.owners) == (FACTS.stats(CITY)[0] + 6, FACTS.stats(CITY)[2] + 6)

    async def test_a_refused_batch_leaves_every_row_as_it_was(self, store: Store) -> None:
        await store.write(fixture_city())
        before = await store.place_stats(sorted(FACTS.places), EVERYTHING)
        bad = Batch(
            places=[house(B_A1 + "0401", EN_A11, 90.0)],
            ownerships=[Ownership(B_A1 + "0401", "owner-nobody", 1.0, dt.date(2020, 1, 1))],
        )
        with pytest.raises(StoreError):
            await store.write(bad)
        assert await store.place_stats(sorted(FACTS.places), EVERYTHING) == before


# --------------------------------------------------------------------------------------------
# search()
# --------------------------------------------------------------------------------------------


class TestSearch:
    async def test_by_code_prefix_houses_included(self, loaded: Store) -> None:
        found = await loaded.search(B_A1, None, EVERYTHING, 50)
        expected = [B_A1, EN_A11, EN_A12] + FACTS.level(Level.HOUSE, B_A1)
        assert sorted(codes(found)) == sorted(expected)
        assert len(found) == len(set(codes(found)))
        [exact] = await loaded.search(T_HOUSE, None, EVERYTHING, 50)
        assert exact == FACTS.places[T_HOUSE]
        streets = await loaded.search(ST_B, None, EVERYTHING, 50)
        assert sorted(codes(streets)) == FACTS.under(ST_B)

    async def test_by_name(self, loaded: Store) -> None:
        assert sorted(codes(await loaded.search("花园", None, EVERYTHING, 50))) == [E_A, E_B]
        assert sorted(codes(await loaded.search("八大关", None, EVERYTHING, 50))) == [ST_B, E_B]
        assert codes(await loaded.search("市南", None, EVERYTHING, 50)) == [SHINAN]
        assert codes(await loaded.search("燕儿岛", None, EVERYTHING, 50)) == [CM_A2]
        assert await loaded.search("不存在的地方", None, EVERYTHING, 50) == []

    async def test_within(self, loaded: Store) -> None:
        assert codes(await loaded.search("花园", ST_B, EVERYTHING, 50)) == [E_B]
        assert await loaded.search("花园", SHIBEI, EVERYTHING, 50) == []
        assert await loaded.search("花园", UNKNOWN_STREET, EVERYTHING, 50) == []
        found = await loaded.search("3702", E_C, EVERYTHING, 50)
        assert sorted(codes(found)) == FACTS.under(E_C)

    async def test_scope(self, loaded: Store) -> None:
        assert codes(await loaded.search("花园", None, Scope.of(ST_B), 50)) == [E_B]
        assert await loaded.search("花园", None, Scope.of(SHIBEI), 50) == []
        assert await loaded.search(B_A1, None, Scope.of(SHIBEI), 50) == []
        found = await loaded.search("3702", CITY, Scope.of(E_C), 50)
        assert sorted(codes(found)) == FACTS.under(E_C)
        assert await loaded.search("3702", None, Scope.of(), 50) == []

    async def test_first_bounds_the_answer(self, loaded: Store) -> None:
        found = await loaded.search("3702", None, EVERYTHING, 3)
        assert len(found) == 3
        assert all(place.code.startswith("3702") for place in found)
        assert len(await loaded.search(P_A1, None, EVERYTHING, 4)) == 4

    async def test_percent_and_underscore_are_literal(self, loaded: Store) -> None:
        assert codes(await loaded.search("%", None, EVERYTHING, 50)) == [E_C]
        assert codes(await loaded.search("_", None, EVERYTHING, 50)) == [E_B]
        assert codes(await loaded.search("百分百%", None, EVERYTHING, 50)) == [E_C]
        assert codes(await loaded.search("花园_一", None, EVERYTHING, 50)) == [E_B]
        # As LIKE wildcards these would match 八大关街道 and 百分百%家园.
        assert await loaded.search("八大关_", None, EVERYTHING, 50) == []
        assert await loaded.search("百分%家园", None, EVERYTHING, 50) == []
        assert await loaded.search("%%", None, EVERYTHING, 50) == []


# --------------------------------------------------------------------------------------------
# shapes()
# --------------------------------------------------------------------------------------------


class TestShapes:
    async def test_only_places_with_geometry(self, loaded: Store) -> None:
        estates = await loaded.shapes(Level.ESTATE, CITY, EVERYTHING)
        assert codes(estates) == [E_A, E_C]
        assert [place.geometry for place in estates] == [FACTS.places[E_A].geometry, FACTS.places[E_C].geometry]
        assert codes(await loaded.shapes(Level.DISTRICT, CITY, EVERYTHING)) == [SHINAN, SHIBEI]
        assert codes(await loaded.shapes(Level.STREET, SHINAN, EVERYTHING)) == [ST_A]
        assert await loaded.shapes(Level.COMMUNITY, CITY, EVERYTHING) == []
        assert await loaded.shapes(Level.HOUSE, CITY, EVERYTHING) == []

    async def test_within(self, loaded: Store) -> None:
        assert codes(await loaded.shapes(Level.ESTATE, SHIBEI, EVERYTHING)) == [E_C]
        assert codes(await loaded.shapes(Level.ESTATE, ST_A, EVERYTHING)) == [E_A]
        assert await loaded.shapes(Level.ESTATE, ST_B, EVERYTHING) == []
        assert await loaded.shapes(Level.ESTATE, UNKNOWN_STREET, EVERYTHING) == []

    async def test_scope(self, loaded: Store) -> None:
        assert codes(await loaded.shapes(Level.ESTATE, CITY, Scope.of(ST_A))) == [E_A]
        assert await loaded.shapes(Level.DISTRICT, CITY, Scope.of(ST_A)) == []
        assert await loaded.shapes(Level.ESTATE, SHIBEI, Scope.of(ST_A)) == []
        assert codes(await loaded.shapes(Level.DISTRICT, CITY, Scope.of(SHIBEI))) == [SHIBEI]


# --------------------------------------------------------------------------------------------
# ownerships(), owners(), houses_of()
# --------------------------------------------------------------------------------------------


def holders(ownerships: Sequence[Ownership]) -> list[tuple[str, float]]:
    return sorted((item.owner_id, item.share) for item in ownerships)


class TestOwnerships:
    async def test_before_on_and_after_the_transfer(self, loaded: Store) -> None:
        def on(day: dt.date) -> Any:
            return loaded.ownerships([T_HOUSE], day, EVERYTHING)

        assert await on(dt.date(2010, 3, 14)) == [[]]
        [[first]] = await on(dt.date(2010, 3, 15))
        assert (first.owner_id, first.share, first.until) == (OWNER_A, 1.0, TRANSFER)
        [before] = await on(TRANSFER - dt.timedelta(days=1))
        assert holders(before) == [(OWNER_A, 1.0)]
        [on_the_day] = await on(TRANSFER)  # until is exclusive: the new owners hold on the day
        assert holders(on_the_day) == [(OWNER_B, 0.5), (OWNER_C, 0.5)]
        [later] = await on(TODAY)
        assert holders(later) == [(OWNER_B, 0.5), (OWNER_C, 0.5)]
        assert all(item.house_code == T_HOUSE and item.until is None for item in later)

    async def test_no_date_gives_the_history_by_since(self, loaded: Store) -> None:
        [history] = await loaded.ownerships([T_HOUSE], None, EVERYTHING)
        assert len(history) == 3
        assert [item.since for item in history] == sorted(item.since for item in history)
        assert history[0].owner_id == OWNER_A
        expected = [o for o in fixture_ownerships() if o.house_code == T_HOUSE]
        assert sorted(history, key=lambda o: o.owner_id) == expected

    async def test_answers_follow_keys(self, loaded: Store) -> None:
        found = await loaded.ownerships([G_HOUSE, UNOWNED, UNKNOWN_HOUSE, G_HOUSE, E_A], TODAY, EVERYTHING)
        assert [holders(items) for items in found] == [[(OWNER_G, 1.0)], [], [], [(OWNER_G, 1.0)], []]
        assert await loaded.ownerships([], None, EVERYTHING) == []

    async def test_scope(self, loaded: Store) -> None:
        assert await loaded.ownerships([T_HOUSE, D_SHIBEI], None, Scope.of(SHIBEI)) == [
            [], [o for o in fixture_ownerships() if o.house_code == D_SHIBEI],
        ]
        [inside] = await loaded.ownerships([T_HOUSE], None, Scope.of(ST_A))
        assert len(inside) == 3
        assert await loaded.ownerships([T_HOUSE], None, Scope.of(UNOWNED)) == [[]]

    async def test_spans_alone_open_no_owner(self, loaded: Store) -> None:
        [spans] = await loaded.ownerships([T_HOUSE], None, EVERYTHING, with_owners=False)
        [full] = await loaded.ownerships([T_HOUSE], None, EVERYTHING)
        assert spans == full  # the same spans (owner is not compared) ...
        assert all(span.owner is None for span in spans)  # ... with no personal data opened
        assert await loaded.ownerships([T_HOUSE, D_SHIBEI], None, Scope.of(SHIBEI), with_owners=False) == [
            [], [o for o in fixture_ownerships() if o.house_code == D_SHIBEI],
        ]


class TestOwnersKnown:
    async def test_known_ids_in_key_order_without_scope(self, loaded: Store) -> None:
        assert await loaded.owners_known([OWNER_B, "owner-nobody", OWNER_A, OWNER_B]) == [True, False, True, True]
        assert await loaded.owners_known([]) == []


class TestLookupDigest:
    async def test_one_digest_per_value_as_lookups_compare_them(self, loaded: Store, store: Store) -> None:
        digest = loaded.lookup_digest("id_number", "37020219800101123x")
        assert len(digest) == 64 and int(digest, 16) >= 0
        assert loaded.lookup_digest("id_number", " 37020219800101123X ") == digest
        assert loaded.lookup_digest("phone", "139-0000-1234") == loaded.lookup_digest("phone", "13900001234")
        assert loaded.lookup_digest("name", "张翀") == loaded.lookup_digest("name", " 张翀 ")
        others = {
            loaded.lookup_digest("id_number", "370202198001011230"),
            loaded.lookup_digest("phone", "37020219800101123X"),
            loaded.lookup_digest("name", "37020219800101123X"),
            store.lookup_digest("id_number", "37020219800101123X"),  # another hub, other keys
        }
        assert digest not in others and len(others) == 4
        with pytest.raises(InvalidInput):
            loaded.lookup_digest("address", "青岛")


class TestOwners:
    async def test_round_trip_and_key_order(self, loaded: Store) -> None:
        written = fixture_owners()
        keys = [owner.id for owner in written]
        assert await loaded.owners(keys, EVERYTHING) == written
        found = await loaded.owners([OWNER_D, "owner-nobody", OWNER_D, OWNER_F], EVERYTHING)
        assert [None if o is None else o.id for o in found] == [OWNER_D, None, OWNER_D, OWNER_F]
        assert found[3] is not None and found[3].kind == OwnerKind.ORGANISATION
        assert await loaded.owners([], EVERYTHING) == []

    async def test_in_scope_through_a_house(self, loaded: Store) -> None:
        keys = [OWNER_A, OWNER_B, OWNER_C, OWNER_D, OWNER_E, OWNER_F, OWNER_G, OWNER_H]

        async def seen(scope: Scope) -> list[str]:
            return [owner.id for owner in await loaded.owners(keys, scope) if owner is not None]

        assert await seen(EVERYTHING) == keys
        # A sold in 2018 but its house was in scope: "one of its houses ever was".
        assert await seen(Scope.of(ST_A)) == [OWNER_A, OWNER_B, OWNER_C, OWNER_D, OWNER_F]
        assert await seen(Scope.of(SHINAN)) == [OWNER_A, OWNER_B, OWNER_C, OWNER_D, OWNER_E, OWNER_F]
        assert await seen(Scope.of(SHIBEI)) == [OWNER_D, OWNER_G]
        assert await seen(Scope.of(ST_B)) == [OWNER_E]
        assert await seen(Scope.of(T_HOUSE)) == [OWNER_A, OWNER_B, OWNER_C]
        assert await seen(Scope.of(CM_A2)) == []
        assert await seen(Scope.of()) == []

    async def test_houses_of(self, loaded: Store) -> None:
        both, nothing, unknown = await loaded.houses_of([OWNER_D, OWNER_H, "owner-nobody"], TODAY, EVERYTHING)
        assert sorted(item.house_code for item in both) == sorted([D_SHINAN, D_SHIBEI])
        assert nothing == [] and unknown == []
        [shibei] = await loaded.houses_of([OWNER_D], TODAY, Scope.of(SHIBEI))
        assert [item.house_code for item in shibei] == [D_SHIBEI]
        [shinan] = await loaded.houses_of([OWNER_D], TODAY, Scope.of(ST_A))
        assert [item.house_code for item in shinan] == [D_SHINAN]
        assert await loaded.houses_of([OWNER_D], TODAY, Scope.of(ST_B)) == [[]]

    async def test_houses_of_as_of(self, loaded: Store) -> None:
        [[held]] = await loaded.houses_of([OWNER_A], TRANSFER - dt.timedelta(days=1), EVERYTHING)
        assert (held.house_code, held.share, held.since, held.until) == (
            T_HOUSE, 1.0, dt.date(2010, 3, 15), TRANSFER,
        )
        assert await loaded.houses_of([OWNER_A], TRANSFER, EVERYTHING) == [[]]
        assert await loaded.houses_of([OWNER_B], TRANSFER - dt.timedelta(days=1), EVERYTHING) == [[]]
        [[b_holds]] = await loaded.houses_of([OWNER_B], TRANSFER, EVERYTHING)
        assert (b_holds.house_code, b_holds.share) == (T_HOUSE, 0.5)
        [history] = await loaded.houses_of([OWNER_A], None, EVERYTHING)
        assert history == [o for o in fixture_ownerships() if o.owner_id == OWNER_A]
        [d_history] = await loaded.houses_of([OWNER_D], None, EVERYTHING)
        assert [item.house_code for item in d_history] == [D_SHINAN, D_SHIBEI]  # by since
        assert await loaded.houses_of([OWNER_D], dt.date(2013, 1, 1), Scope.of(SHIBEI)) == [[]]


# --------------------------------------------------------------------------------------------
# managements(), estates_of(), firms()
# --------------------------------------------------------------------------------------------


class TestFirmsAndManagements:
    async def test_firms_round_trip_and_key_order(self, loaded: Store) -> None:
        written = fixture_firms()
        assert await loaded.firms([firm.code for firm in written], EVERYTHING) == written
        unknown = credit_code("91370202MA3C00999")
        found = await loaded.firms([FIRM_3, unknown, FIRM_3], EVERYTHING)
        assert [None if f is None else f.code for f in found] == [FIRM_3, None, FIRM_3]
        assert await loaded.firms([], EVERYTHING) == []

    async def test_managements_as_of(self, loaded: Store) -> None:
        async def firms_of(day: dt.date | None) -> list[str]:
            [found] = await loaded.managements([E_A], day, EVERYTHING)
            return [m.firm_code for m in found]

        assert await firms_of(dt.date(2014, 12, 31)) == []
        assert await firms_of(dt.date(2019, 1, 1)) == [FIRM_1]
        assert await firms_of(FIRM_CHANGE - dt.timedelta(days=1)) == [FIRM_1]
        assert await firms_of(FIRM_CHANGE) == [FIRM_2]
        assert await firms_of(TODAY) == [FIRM_2]
        [history] = await loaded.managements([E_A], None, EVERYTHING)
        assert history == [m for m in fixture_managements() if m.estate_code == E_A]  # by since

    async def test_managements_follow_keys_and_scope(self, loaded: Store) -> None:
        found = await loaded.managements([E_C, UNKNOWN_ESTATE, E_B, E_C], TODAY, EVERYTHING)
        assert [[m.firm_code for m in items] for items in found] == [[FIRM_3], [], [FIRM_2], [FIRM_3]]
        assert await loaded.managements([E_A, E_C], None, Scope.of(SHIBEI)) == [
            [], [m for m in fixture_managements() if m.estate_code == E_C],
        ]
        assert await loaded.managements([E_A], None, Scope.of(ST_B)) == [[]]
        assert await loaded.managements([], None, EVERYTHING) == []

    async def test_estates_of(self, loaded: Store) -> None:
        async def estates(firm: str, day: dt.date | None, scope: Scope = EVERYTHING) -> list[str]:
            [found] = await loaded.estates_of([firm], day, scope)
            return sorted(m.estate_code for m in found)

        assert await estates(FIRM_2, dt.date(2019, 1, 1)) == [E_B]
        assert await estates(FIRM_2, FIRM_CHANGE) == [E_A, E_B]
        assert await estates(FIRM_2, None) == [E_A, E_B]
        assert await estates(FIRM_1, dt.date(2019, 1, 1)) == [E_A]
        assert await estates(FIRM_1, FIRM_CHANGE) == []
        assert await estates(FIRM_1, None) == [E_A]
        assert await estates(FIRM_4, None) == []
        assert await estates(FIRM_2, TODAY, Scope.of(ST_A)) == [E_A]
        assert await estates(FIRM_2, TODAY, Scope.of(SHIBEI)) == []
        assert await estates(FIRM_3, None, Scope.of(SHINAN)) == []
        [history] = await loaded.estates_of([FIRM_2], None, EVERYTHING)
        assert sorted(history, key=lambda m: m.estate_code) == [
            m for m in fixture_managements() if m.firm_code == FIRM_2
        ]
        found = await loaded.estates_of([FIRM_3, "91370202MA3C0099XX", FIRM_3], TODAY, EVERYTHING)
        assert [[m.estate_code for m in items] for items in found] == [[E_C], [], [E_C]]

    async def test_firms_in_scope_through_their_estates(self, loaded: Store) -> None:
        keys = [FIRM_1, FIRM_2, FIRM_3, FIRM_4]

        async def seen(scope: Scope) -> list[str]:
            return [firm.code for firm in await loaded.firms(keys, scope) if firm is not None]

        assert await seen(EVERYTHING) == keys
        # 海韵物业 managed 海韵花园 until 2020: it is the firm of the estate's history.
        assert await seen(Scope.of(ST_A)) == [FIRM_1, FIRM_2]
        assert await seen(Scope.of(ST_B)) == [FIRM_2]
        assert await seen(Scope.of(SHIBEI)) == [FIRM_3]
        assert await seen(Scope.of(CM_A2)) == []
        assert await seen(Scope.of()) == []


# --------------------------------------------------------------------------------------------
# write()
# --------------------------------------------------------------------------------------------


class TestWrite:
    async def test_counts_and_idempotence(self, store: Store) -> None:
        batch = fixture_city()
        first = await store.write(batch)
        assert isinstance(first, WriteCounts)
        assert first == WriteCounts(inserted=len(batch), updated=0, unchanged=0)
        again = await store.write(fixture_city())
        assert again == WriteCounts(inserted=0, updated=0, unchanged=len(batch))
        assert await store.write(Batch()) == WriteCounts()
        assert len(batch) == 42 + 8 + 8 + 4 + 4

    async def test_a_rewrite_changes_nothing(self, store: Store) -> None:
        await store.write(fixture_city())
        before = await snapshot(store)
        await store.write(fixture_city())
        assert await snapshot(store) == before

    async def test_changing_a_house_area_is_one_update(self, store: Store) -> None:
        await store.write(fixture_city())
        batch = fixture_city()
        index = next(i for i, p in enumerate(batch.places) if p.code == UNOWNED)
        batch.places[index] = replace(batch.places[index], area_centi_m2=10125)
        assert await store.write(batch) == WriteCounts(0, 1, len(batch) - 1)
        [changed] = await store.places([UNOWNED], EVERYTHING)
        assert changed is not None and changed.area_centi_m2 == 10125
        assert changed == batch.places[index]
        again = replace(batch.places[index], name="1号楼2单元302室(改)")
        assert await store.write(Batch(places=[again])) == WriteCounts(0, 1, 0)
        assert (await store.places([UNOWNED], EVERYTHING))[0] == again

    async def test_every_kind_of_record_updates(self, store: Store) -> None:
        await store.write(fixture_city())
        owner = replace(fixture_owners()[2], phone="13900000003")
        ownership = replace(fixture_ownerships()[6], share=0.75)
        firm = replace(fixture_firms()[2], phone="0532-82000003")
        management = replace(fixture_managements()[3], until=dt.date(2030, 1, 1))
        estate = replace(FACTS.places[E_B], parcel_codes=(P_B, "370202002001GB00009"))
        batch = Batch(places=[estate], owners=[owner], ownerships=[ownership], firms=[firm],
                      managements=[management])
        assert await store.write(batch) == WriteCounts(0, 5, 0)
        assert await store.write(batch) == WriteCounts(0, 0, 5)
        assert await store.owners([owner.id], EVERYTHING) == [owner]
        assert await store.ownerships([ownership.house_code], None, EVERYTHING) == [[ownership]]
        assert await store.firms([firm.code], EVERYTHING) == [firm]
        assert await store.managements([E_C], None, EVERYTHING) == [[management]]
        assert await store.places([E_B], EVERYTHING) == [estate]

    async def test_provenance_alone_is_no_change(self, store: Store) -> None:
        await store.write(fixture_city())
        later = Provenance("registry", "rec-2", dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "run-2")
        batch = fixture_city()
        batch.places = [replace(place, provenance=later) for place in batch.places]
        batch.owners = [replace(owner, provenance=later) for owner in batch.owners]
        batch.ownerships = [replace(item, provenance=later) for item in batch.ownerships]
        batch.firms = [replace(firm, provenance=None) for firm in batch.firms]
        batch.managements = [replace(item, provenance=later) for item in batch.managements]
        assert await store.write(batch) == WriteCounts(0, 0, len(batch))

    async def test_parents_may_come_earlier_in_the_same_batch(self, store: Store) -> None:
        batch = fixture_city()
        counts = await store.write(batch)
        assert counts.inserted == len(batch)
        new_estate = Place("370202001002E001", Level.ESTATE, "燕岛新苑", CM_A2, parcel_codes=("370202001002GB00007",))
        building = Place("370202001002GB00007F0001", Level.BUILDING, "1号楼", new_estate.code, floors=3)
        entrance = Place(building.code + "01", Level.ENTRANCE, "1单元", building.code)
        flat = house(building.code + "0101", entrance.code, 60.0)
        counts = await store.write(Batch(
            places=[new_estate, building, entrance, flat],
            ownerships=[Ownership(flat.code, OWNER_H, 1.0, dt.date(2024, 1, 1))],
            managements=[Management(FIRM_4, new_estate.code, dt.date(2024, 1, 1))],
        ))
        assert counts == WriteCounts(6, 0, 0)
        assert codes((await store.subtree(Level.HOUSE, CM_A2, EVERYTHING, 10)).items) == [flat.code]
        assert codes((await store.ancestors([flat.code], EVERYTHING))[0]) == [
            CITY, SHINAN, ST_A, CM_A2, new_estate.code, building.code, entrance.code,
        ]
        assert [o.id for o in await store.owners([OWNER_H], Scope.of(CM_A2)) if o] == [OWNER_H]
        assert [f.code for f in await store.firms([FIRM_4], Scope.of(CM_A2)) if f] == [FIRM_4]

    async def test_moving_a_building_re_points_its_subtree(self, store: Store) -> None:
        await store.write(fixture_city())
        moved = replace(FACTS.places[B_A2], parent_code=E_B)
        assert await store.write(Batch(places=[moved])) == WriteCounts(0, 1, 0)
        moved_houses = FACTS.level(Level.HOUSE, B_A2)
        assert await store.write(Batch(places=[moved])) == WriteCounts(0, 0, 1)

        assert codes((await store.subtree(Level.HOUSE, E_B, EVERYTHING, 50)).items) == sorted(
            FACTS.level(Level.HOUSE, E_B) + moved_houses
        )
        assert codes((await store.subtree(Level.HOUSE, ST_B, EVERYTHING, 50)).items) == sorted(
            FACTS.level(Level.HOUSE, E_B) + moved_houses
        )
        assert codes((await store.subtree(Level.HOUSE, ST_A, EVERYTHING, 50)).items) == sorted(
            set(FACTS.level(Level.HOUSE, ST_A)) - set(moved_houses)
        )
        assert await store.count(Level.ENTRANCE, CM_B1, EVERYTHING) == 2
        assert await store.count(Level.BUILDING, E_A, EVERYTHING) == 1
        [estate_children] = await store.children([E_B], EVERYTHING, 10)
        assert codes(estate_children.items) == [B_A2, B_B1]
        [chain] = await store.ancestors([D_SHINAN], EVERYTHING)
        assert codes(chain) == [CITY, SHINAN, ST_B, CM_B1, E_B, B_A2, EN_A21]

        # Scope follows the move.
        assert codes(await store.places([D_SHINAN, EN_A21], Scope.of(ST_B))) == [D_SHINAN, EN_A21]
        assert await store.places([D_SHINAN, EN_A21], Scope.of(ST_A)) == [None, None]
        assert await store.ownerships([D_SHINAN], None, Scope.of(ST_A)) == [[]]
        [d_in_b] = await store.houses_of([OWNER_D], TODAY, Scope.of(ST_B))
        assert [o.house_code for o in d_in_b] == [D_SHINAN]
        assert [o and o.id for o in await store.owners([OWNER_D, OWNER_F], Scope.of(ST_A))] == [None, None]
        assert codes(await store.search(B_A2, None, Scope.of(ST_B), 50)) != []
        assert await store.search(B_A2, None, Scope.of(ST_A), 50) == []

        # Stats follow the move, with no refresh.
        [e_a] = await store.stats(E_A, Level.ESTATE, EVERYTHING)
        [e_b] = await store.stats(E_B, Level.ESTATE, EVERYTHING)
        assert_figures(e_a, (6, 55000, 2, 1, 1))
        assert_figures(e_b, (9, 114125, 3, 1, 2))
        st_a, st_b = (await store.stats(SHINAN, Level.STREET, EVERYTHING))
        assert (st_a.houses, st_b.houses) == (6, 9)
        [shinan] = await store.stats(SHINAN, Level.DISTRICT, EVERYTHING)
        assert_figures(shinan, FACTS.stats(SHINAN))

    async def test_moving_an_estate_across_districts(self, store: Store) -> None:
        await store.write(fixture_city())
        await store.refresh_stats()
        moved = replace(FACTS.places[E_C], parent_code=CM_A2)
        assert await store.write(Batch(places=[moved])) == WriteCounts(0, 1, 0)
        houses = FACTS.level(Level.HOUSE, E_C)
        assert await store.count(Level.HOUSE, SHIBEI, EVERYTHING) == 0
        assert await store.count(Level.HOUSE, CM_A2, EVERYTHING) == 5
        assert codes(await store.places(houses, Scope.of(ST_A))) == houses
        assert await store.places(houses, Scope.of(SHIBEI)) == [None] * 5
        [chain] = await store.ancestors([G_HOUSE], EVERYTHING)
        assert codes(chain) == [CITY, SHINAN, ST_A, CM_A2, E_C, B_C1, EN_C11]
        [d_shibei] = await store.houses_of([OWNER_D], TODAY, Scope.of(SHIBEI))
        assert d_shibei == []
        assert await store.firms([FIRM_3], Scope.of(SHIBEI)) == [None]
        assert [f and f.code for f in await store.firms([FIRM_3], Scope.of(CM_A2))] == [FIRM_3]
        shinan, shibei = await store.stats(CITY, Level.DISTRICT, EVERYTHING)
        assert_figures(shibei, (0, 0, 0, 0, 0))
        assert_figures(shinan, (20, 208175, 6, 3, 4))

    async def test_a_scope_root_written_later_is_seen(self, store: Store) -> None:
        await store.write(fixture_city())
        estate = Place("370202001002E001", Level.ESTATE, "燕岛新苑", CM_A2)
        scope = Scope.of(estate.code)
        assert await store.places([estate.code], scope) == [None]
        assert await store.count(Level.ESTATE, None, scope) == 0
        await store.write(Batch(places=[estate]))
        assert await store.places([estate.code], scope) == [estate]
        assert await store.count(Level.ESTATE, None, scope) == 1

    async def test_the_last_record_for_a_key_wins(self, store: Store) -> None:
        await store.write(fixture_city())
        new_estate = Place("370202001002E001", Level.ESTATE, "燕岛新苑", CM_A2)
        stored_house = FACTS.places[UNOWNED]
        owner, firm = fixture_owners()[7], fixture_firms()[3]
        ownership, management = fixture_ownerships()[7], fixture_managements()[3]
        batch = Batch(
            places=[new_estate, replace(stored_house, area_centi_m2=100), replace(new_estate, name="燕岛新苑二期"),
                    replace(stored_house, area_centi_m2=200)],
            owners=[replace(owner, phone="1"), replace(owner, phone="2")],
            firms=[replace(firm, phone="1"), replace(firm, phone="2")],
            ownerships=[replace(ownership, share=0.25), replace(ownership, share=0.75)],
            managements=[replace(management, until=dt.date(2031, 1, 1)), replace(management, until=dt.date(2032, 1, 1))],
        )
        counts = await store.write(batch)
        assert counts.inserted + counts.updated + counts.unchanged == len(batch)
        assert counts.inserted == 1
        estate, house_now = await store.places([new_estate.code, UNOWNED], EVERYTHING)
        assert estate is not None and estate.name == "燕岛新苑二期"
        assert house_now is not None and house_now.area_centi_m2 == 200
        assert [o and o.phone for o in await store.owners([OWNER_H], EVERYTHING)] == ["2"]
        assert [f and f.phone for f in await store.firms([FIRM_4], EVERYTHING)] == ["2"]
        assert [[o.share for o in items] for items in await store.ownerships([G_HOUSE], None, EVERYTHING)] == [[0.75]]
        [[managed]] = await store.managements([E_C], None, EVERYTHING)
        assert managed.until == dt.date(2032, 1, 1)
        assert (await store.write(batch)).inserted == 0

    async def test_codes_are_canonical_or_refused(self, store: Store) -> None:
        """A code in lower case or with spaces is either refused or stored as its canonical form:
        never stored where its own canonical code cannot find it."""
        await store.write(fixture_city())
        estate = Place("370202001002e001", Level.ESTATE, "燕岛新苑", CM_A2)
        community = Place(" 370202001003 ", Level.COMMUNITY, "新社区", ST_A)
        firm = PropertyFirm(NEW_FIRM.code.lower(), NEW_FIRM.name)
        for batch, canonical, read in (
            (Batch(places=[estate]), "370202001002E001", store.places),
            (Batch(places=[community]), "370202001003", store.places),
            (Batch(firms=[firm]), NEW_FIRM.code, store.firms),
        ):
            try:
                await store.write(batch)
            except CodeError:
                assert await read([canonical], EVERYTHING) == [None]
            else:
                [found] = await read([canonical], EVERYTHING)
                assert found is not None and found.code == canonical


# --------------------------------------------------------------------------------------------
# Failed writes: the whole batch writes nothing
# --------------------------------------------------------------------------------------------

NEW_ESTATE = Place("370202001002E001", Level.ESTATE, "燕岛新苑", CM_A2, parcel_codes=("370202001002GB00007",))
NEW_BUILDING = Place("370202001002GB00007F0001", Level.BUILDING, "1号楼", NEW_ESTATE.code, floors=3)
NEW_OWNER = Owner("owner-new", OwnerKind.PERSON, "周杰", resident_id("37020219950505009"))
NEW_FIRM = PropertyFirm(credit_code("91370202MA3C00055"), "青岛燕岛物业有限公司")


def _valid_part() -> Batch:
    """Good records that a failing batch carries along: a change, new places, owners and firms."""
    changed = replace(fixture_places()[-1], area_centi_m2=99900)  # an update of a stored house
    return Batch(
        places=[changed, NEW_ESTATE, NEW_BUILDING],
        owners=[NEW_OWNER, replace(fixture_owners()[0], name="张伟(改)")],
        ownerships=[Ownership(UNOWNED, NEW_OWNER.id, 1.0, dt.date(2024, 2, 2))],
        firms=[NEW_FIRM],
        managements=[Management(NEW_FIRM.code, NEW_ESTATE.code, dt.date(2024, 2, 2))],
    )


def _with(**extra: list[Any]) -> Callable[[], Batch]:
    def build() -> Batch:
        batch = _valid_part()
        for name, records in extra.items():
            getattr(batch, name).extend(records)
        return batch

    return build


BAD_BATCHES: dict[str, tuple[Callable[[], Batch], type[Exception], list[str]]] = {
    "missing parent": (
        _with(places=[Place("370202001001E005", Level.ESTATE, "无主小区", "370202001009")]),
        StoreError, ["370202001001E005", "370202001009"],
    ),
    "parent not above": (
        _with(places=[Place("370202003", Level.STREET, "错位街道", CM_A1)]),
        StoreError, ["370202003"],
    ),
    "code of another level": (
        _with(places=[Place("370202003", Level.COMMUNITY, "假社区", ST_A)]),
        StoreError, ["370202003"],
    ),
    "city with a parent": (
        _with(places=[Place("370300", Level.CITY, "淄博市", CITY)]),
        StoreError, ["370300"],
    ),
    "district without a parent": (
        _with(places=[Place("370211", Level.DISTRICT, "黄岛区", None)]),
        StoreError, ["370211"],
    ),
    "empty name": (
        _with(places=[Place("370202001003", Level.COMMUNITY, "  ", ST_A)]),
        StoreError, ["370202001003"],
    ),
    "malformed house code": (
        _with(places=[Place("370202001001GB00001F0001010", Level.HOUSE, "短号", EN_A11)]),
        CodeError, ["370202001001GB00001F0001010"],
    ),
    "malformed credit code": (
        _with(firms=[PropertyFirm("91370202MA3C000550", "校验错误物业")]),
        CodeError, ["91370202MA3C000550"],
    ),
    "owner with a malformed ID number": (
        _with(owners=[Owner("owner-bad-id", OwnerKind.PERSON, "王五", "11010519491231002Y")]),
        CodeError, ["owner-bad-id", "11010519491231002Y"],
    ),
    "organisation owner with a malformed credit code": (
        _with(owners=[Owner("owner-bad-org", OwnerKind.ORGANISATION, "某公司", "91370202MA3C000550")]),
        CodeError, ["owner-bad-org", "91370202MA3C000550"],
    ),
    "unknown house in an ownership": (
        _with(ownerships=[Ownership(UNKNOWN_HOUSE, OWNER_B, 1.0, dt.date(2020, 1, 1))]),
        StoreError, [UNKNOWN_HOUSE],
    ),
    "ownership of a building": (
        _with(ownerships=[Ownership(B_A1, OWNER_B, 1.0, dt.date(2020, 1, 1))]),
        StoreError, [B_A1],
    ),
    "unknown owner": (
        _with(ownerships=[Ownership(UNOWNED, "owner-nobody", 1.0, dt.date(2020, 1, 1))]),
        StoreError, ["owner-nobody", UNOWNED],
    ),
    "share of zero": (
        _with(ownerships=[Ownership(UNOWNED, OWNER_B, 0.0, dt.date(2020, 1, 1))]),
        StoreError, [UNOWNED, OWNER_B],
    ),
    "share above one": (
        _with(ownerships=[Ownership(UNOWNED, OWNER_B, 1.5, dt.date(2020, 1, 1))]),
        StoreError, [UNOWNED, OWNER_B],
    ),
    "negative share": (
        _with(ownerships=[Ownership(UNOWNED, OWNER_B, -0.5, dt.date(2020, 1, 1))]),
        StoreError, [UNOWNED, OWNER_B],
    ),
    "ownership until before since": (
        _with(ownerships=[Ownership(UNOWNED, OWNER_B, 1.0, dt.date(2020, 1, 1), dt.date(2019, 1, 1))]),
        StoreError, [UNOWNED, OWNER_B],
    ),
    "unknown estate in a management": (
        _with(managements=[Management(FIRM_1, UNKNOWN_ESTATE, dt.date(2020, 1, 1))]),
        StoreError, [UNKNOWN_ESTATE],
    ),
    "management of a building": (
        _with(managements=[Management(FIRM_1, B_A1, dt.date(2020, 1, 1))]),
        StoreError, [B_A1],
    ),
    "unknown firm": (
        _with(managements=[Management(credit_code("91370202MA3C00999"), E_A, dt.date(2020, 1, 1))]),
        StoreError, [credit_code("91370202MA3C00999")],
    ),
    "management until before since": (
        _with(managements=[Management(FIRM_1, E_B, dt.date(2020, 1, 1), dt.date(2019, 12, 31))]),
        StoreError, [E_B, FIRM_1],
    ),
}


class TestFailedWrites:
    @pytest.mark.parametrize("case", sorted(BAD_BATCHES))
    async def test_a_bad_record_fails_the_whole_batch(self, untouched: Store, case: str) -> None:
        build, error, named = BAD_BATCHES[case]
        store = untouched
        before = await snapshot(store, build())
        stats_before = await store.stats(CITY, Level.ESTATE, EVERYTHING)
        with pytest.raises(error) as raised:
            await store.write(build())
        message = str(raised.value)
        for part in named:
            assert part in message, (case, message)
        # The store lost nothing it held and gained nothing from the batch.
        assert await snapshot(store, build()) == before
        assert await store.places([NEW_ESTATE.code, NEW_BUILDING.code], EVERYTHING) == [None, None]
        assert await store.owners([NEW_OWNER.id], EVERYTHING) == [None]
        assert await store.firms([NEW_FIRM.code], EVERYTHING) == [None]
        await store.refresh_stats()
        assert await store.stats(CITY, Level.ESTATE, EVERYTHING) == stats_before
        assert (await store.write(fixture_city())).unchanged == len(fixture_city())

    async def test_the_good_records_go_in_once_the_bad_one_is_gone(self, store: Store) -> None:
        await store.write(fixture_city())
        build, error, _ = BAD_BATCHES["unknown owner"]
        with pytest.raises(error):
            await store.write(build())
        assert await store.write(_valid_part()) == WriteCounts(inserted=6, updated=2, unchanged=0)
        assert codes(await store.places([NEW_ESTATE.code, NEW_BUILDING.code], EVERYTHING)) == [
            NEW_ESTATE.code, NEW_BUILDING.code,
        ]
        assert [m.firm_code for m in (await store.managements([NEW_ESTATE.code], TODAY, EVERYTHING))[0]] == [
            NEW_FIRM.code
        ]
        [[held]] = await store.ownerships([UNOWNED], TODAY, EVERYTHING)
        assert held.owner_id == NEW_OWNER.id

    async def test_places_of_a_failed_batch_cannot_be_parents_later(self, store: Store) -> None:
        await store.write(fixture_city())
        bad = Batch(
            places=[NEW_ESTATE, NEW_BUILDING],
            ownerships=[Ownership(UNOWNED, "owner-nobody", 1.0, dt.date(2020, 1, 1))],
        )
        with pytest.raises(StoreError):
            await store.write(bad)
        entrance = Place(NEW_BUILDING.code + "01", Level.ENTRANCE, "1单元", NEW_BUILDING.code)
        with pytest.raises(StoreError, match=NEW_BUILDING.code):
            await store.write(Batch(places=[entrance]))
        with pytest.raises(StoreError, match=NEW_ESTATE.code):
            await store.write(Batch(managements=[Management(FIRM_1, NEW_ESTATE.code, dt.date(2024, 1, 1))]))
        assert await store.places([NEW_ESTATE.code, NEW_BUILDING.code, entrance.code], EVERYTHING) == [None] * 3
        assert list((await store.children([NEW_BUILDING.code], EVERYTHING, 10))[0].items) == []
        assert await store.count(Level.ESTATE, NEW_ESTATE.code, EVERYTHING) == 0
        assert await store.count(Level.ESTATE, None, Scope.of(NEW_ESTATE.code)) == 0
        # Written properly now, they are parents like any other.
        await store.write(Batch(places=[NEW_ESTATE, NEW_BUILDING, entrance]))
        assert codes((await store.ancestors([entrance.code], EVERYTHING))[0])[-2:] == [
            NEW_ESTATE.code, NEW_BUILDING.code,
        ]


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------


def _assert_aware(provenance: Provenance | None, expected: Provenance | None) -> None:
    assert provenance == expected
    assert provenance is not None and expected is not None
    assert provenance.fetched_at.tzinfo is not None
    assert provenance.fetched_at.utcoffset() is not None
    assert provenance.fetched_at == expected.fetched_at  # the same instant, whatever the zone


class TestProvenance:
    async def test_places(self, loaded: Store) -> None:
        for written, found in zip(fixture_places(), await loaded.places(list(FACTS.places), EVERYTHING)):
            assert found is not None
            _assert_aware(found.provenance, written.provenance)
        [estate] = await loaded.places([E_A], EVERYTHING)
        assert estate is not None and estate.provenance == Provenance(
            "registry", f"place/{E_A}",
            dt.datetime(2024, 5, 1, 0, 30, 15, 250000, tzinfo=dt.timezone.utc), "run-20240501-01",
        )

    async def test_owners(self, loaded: Store) -> None:
        written = fixture_owners()
        for expected, found in zip(written, await loaded.owners([o.id for o in written], EVERYTHING)):
            assert found is not None
            _assert_aware(found.provenance, expected.provenance)

    async def test_ownerships(self, loaded: Store) -> None:
        [history] = await loaded.ownerships([T_HOUSE], None, EVERYTHING)
        expected = {(o.owner_id, o.since): o for o in fixture_ownerships()}
        for found in history:
            _assert_aware(found.provenance, expected[(found.owner_id, found.since)].provenance)
            assert found.source == expected[(found.owner_id, found.since)].source
        assert {o.source for o in history} == {"registration", "transaction"}

    async def test_firms_and_managements(self, loaded: Store) -> None:
        written = fixture_firms()
        for expected, found in zip(written, await loaded.firms([f.code for f in written], EVERYTHING)):
            assert found is not None
            _assert_aware(found.provenance, expected.provenance)
        [history] = await loaded.managements([E_A], None, EVERYTHING)
        for written_management, management in zip(
            [m for m in fixture_managements() if m.estate_code == E_A], history, strict=True
        ):
            _assert_aware(management.provenance, written_management.provenance)

    async def test_records_without_provenance(self, store: Store) -> None:
        city = Place(CITY, Level.CITY, "青岛市", None)
        firm = PropertyFirm(FIRM_4, "青岛未聘物业有限公司")
        owner = Owner(OWNER_H, OwnerKind.PERSON, "孙丽", resident_id("37020219880808008"))
        await store.write(Batch(places=[city], firms=[firm], owners=[owner]))
        assert await store.places([CITY], EVERYTHING) == [city]
        assert await store.firms([FIRM_4], EVERYTHING) == [firm]
        assert await store.owners([OWNER_H], EVERYTHING) == [owner]

    async def test_fetched_at_keeps_its_instant(self, store: Store) -> None:
        stamp = dt.datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
        city = Place(CITY, Level.CITY, "青岛市", None, provenance=Provenance("s", "r", stamp, "run"))
        await store.write(Batch(places=[city]))
        [found] = await store.places([CITY], EVERYTHING)
        assert found is not None and found.provenance is not None
        assert found.provenance.fetched_at == stamp
        assert found.provenance.fetched_at.utcoffset() is not None

