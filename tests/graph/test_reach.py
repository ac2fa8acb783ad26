"""The rule of writes (graph.reach) over a real store: the conformance suite's fixture city
(青岛市: 市南区 and 市北区) and a second city (济南市) with one estate of its own.

What the security suite cannot show with one city is shown here: a scope holding a whole city
treats a place of another city exactly as it treats a place that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.cases import Point
from graph.errors import InvalidInput
from graph.levels import Level
from graph.model import Batch, Place, Provenance
from graph.reach import OutOfReach, Reach, holds_a_city
from graph.scope import Scope
from graph.sql import SqlStore
from tests.conftest import open_sql_store
from tests.graph.conformance import (
    CITY,
    CM_A1,
    D_SHINAN,
    E_A,
    E_C,
    EN_A11,
    SHIBEI,
    SHINAN,
    ST_A,
    T_HOUSE,
    UNKNOWN_ESTATE,
    UNKNOWN_HOUSE,
    fixture_city,
    square,
)

JINAN, LIXIA = "370100", "370102"
JINAN_STREET, JINAN_COMMUNITY, JINAN_ESTATE = "370102001", "370102001001", "370102001001E001"
IN_E_A = Point(120.387, 36.057)  # inside 海韵花园's outline
IN_E_C = Point(120.3465, 36.0865)  # inside 百分百%家园's
IN_JINAN = Point(117.002, 36.652)
NOWHERE = Point(100.0, 30.0)


def _jinan() -> Batch:
    source = Provenance("reach-test", "jinan", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "reach-test")

    def place(code: str, level: Level, name: str, parent: str | None, geometry: dict[str, object] | None = None) -> Place:
        return Place(code, level, name, parent, geometry, provenance=source)

    return Batch(
        places=[
            place(JINAN, Level.CITY, "济南市", None),
            place(LIXIA, Level.DISTRICT, "历下区", JINAN),
            place(JINAN_STREET, Level.STREET, "解放路街道", LIXIA),
            place(JINAN_COMMUNITY, Level.COMMUNITY, "山大路社区", JINAN_STREET),
            place(JINAN_ESTATE, Level.ESTATE, "泉城花园", JINAN_COMMUNITY, square(117.0, 36.65, 0.004)),
        ]
    )


@pytest.fixture(scope="module")
async def store(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SqlStore]:
    opened = await open_sql_store(backend, request, Path(tmp_path_factory.mktemp(f"reach-{backend}")), fixture_city(), _jinan())
    try:
        yield opened
    finally:
        await opened.close()


async def _refusal(work: object) -> str:
    with pytest.raises(OutOfReach) as refused:
        await work  # type: ignore[misc]
    return str(refused.value)


def test_which_scopes_hold_a_city() -> None:
    assert holds_a_city(Scope.everything()) and holds_a_city(Scope.of(CITY)) and holds_a_city(Scope.of(SHINAN, JINAN))
    assert not holds_a_city(Scope.of(SHINAN)) and not holds_a_city(Scope.of(E_A)) and not holds_a_city(Scope.of())


async def test_a_named_place_is_one_the_caller_reads(store: SqlStore) -> None:
    street = Reach(store, Scope.of(ST_A))
    assert (await street.place(E_A, field="place")).code == E_A
    foreign = await _refusal(street.place(E_C, field="place"))
    absent = await _refusal(street.place(UNKNOWN_ESTATE, field="place"))
    assert foreign.replace(E_C, "<>") == absent.replace(UNKNOWN_ESTATE, "<>") == "place: '<>' is not a place you can see"
    # a whole city's scope: another city's place is refused as one that does not exist
    city = Reach(store, Scope.of(CITY))
    assert (await city.place(E_C, field="place")).code == E_C
    other = await _refusal(city.place(JINAN_ESTATE, field="address_id"))
    nothing = await _refusal(city.place(UNKNOWN_ESTATE, field="address_id"))
    assert other.replace(JINAN_ESTATE, "<>") == nothing.replace(UNKNOWN_ESTATE, "<>")
    # and admin writes anywhere that exists, and nowhere that does not
    assert (await Reach(store, Scope.everything()).place(JINAN_ESTATE, field="place")).code == JINAN_ESTATE
    await _refusal(Reach(store, Scope.everything()).place(UNKNOWN_HOUSE, field="place"))


async def test_a_point_lands_at_the_estate_around_it_in_scope(store: SqlStore) -> None:
    street = Reach(store, Scope.of(ST_A))
    assert await street.point(IN_E_A, field="point") == E_A
    foreign = await _refusal(street.point(IN_E_C, field="point"))
    nowhere = await _refusal(street.point(NOWHERE, field="point"))
    assert foreign == "point: '120.347,36.0865' is not in a place you can see"
    assert nowhere == "point: '100,30' is not in a place you can see"
    assert E_C not in foreign  # never the place the hub found for it


async def test_where_there_is_no_place_only_a_whole_city_writes(store: SqlStore) -> None:
    city = Reach(store, Scope.of(CITY))
    assert await city.point(NOWHERE, field="point") is None
    # another city's estate lands at no place either, as a point in no outline does
    assert await city.point(IN_JINAN, field="point") is None
    assert await city.found(JINAN_ESTATE, field="address_string", given="济南市历下区泉城花园") is None
    assert await city.found(E_C, field="address_string", given="市北区百分百%家园") == E_C
    district = Reach(store, Scope.of(SHINAN))
    outside = await _refusal(district.found(E_C, field="address_string", given="某地"))
    missing = await _refusal(district.found(None, field="address_string", given="某地"))
    assert outside == missing == "address_string: '某地' is not in a place you can see"
    assert await Reach(store, Scope.everything()).point(IN_JINAN, field="point") == JINAN_ESTATE


async def test_a_point_beside_a_place_may_lie_around_or_under_it(store: SqlStore) -> None:
    owner = Reach(store, Scope.of(T_HOUSE))
    # a phone's position in the estate around the owner's house
    assert await owner.landing(code=T_HOUSE, point=IN_E_A) == T_HOUSE
    # alone, the same point is outside an owner's scope (its estate is above it)
    await _refusal(owner.landing(point=IN_E_A))
    # beside its house, a point in another estate or nowhere is refused alike
    foreign = await _refusal(owner.landing(code=T_HOUSE, point=IN_E_C))
    nowhere = await _refusal(owner.landing(code=T_HOUSE, point=NOWHERE))
    assert foreign.replace("120.347,36.0865", "<>") == nowhere.replace("100,30", "<>")
    # a community's point inside one of its estates lies under the place named
    community = Reach(store, Scope.of(CM_A1))
    assert await community.landing(code=CM_A1, point=IN_E_A) == CM_A1
    # an entrance of the estate: the point in its estate lies around it
    assert await Reach(store, Scope.of(E_A)).landing(code=EN_A11, point=IN_E_A) == EN_A11
    assert await Reach(store, Scope.of(E_A)).landing(code=D_SHINAN) == D_SHINAN


async def test_a_write_naming_nothing_needs_a_whole_city(store: SqlStore) -> None:
    assert await Reach(store, Scope.of(CITY)).landing() is None
    with pytest.raises(InvalidInput, match="place: '' is required"):
        await Reach(store, Scope.of(SHIBEI)).landing()
