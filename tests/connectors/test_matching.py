"""Address matching (connectors/matching.py) against the `small` demo city in SQLite.

What a utility or the 12345 hotline writes is matched down the place tree by names; the tests
check each way a match ends (a house, an estate or building named alone, an ambiguity with its
candidates, something missing), that nothing is guessed, and that a Matcher's cache keeps the
store reads of 1,000 addresses of one estate to a handful of lists.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from connectors.matching import CONFIDENT, AddressMatch, Matcher, match_address
from connectors.utilities.reference import postal_address
from graph.ciphers.sealing import Sealer
from graph.levels import Level
from graph.model import Batch, Place, Usage
from graph.scope import Scope
from graph import open_store
from graph.store import MAX_PAGE, Store
from hub import demo
from hub.loading import load
from tests.schema.counting import CountingStore

EVERYTHING = Scope.everything()
TWIN_COMMUNITY = "370202005001"  # 中山路街道's first community
TWIN_PARCEL = "370202005001GB00999"
TWIN_ESTATE = TWIN_COMMUNITY + "E009"
TWIN_HOUSE = TWIN_PARCEL + "F00010001"


@dataclass
class City:
    store: Store
    estate: Place
    """An estate with a building of two or more entrances."""
    lineage: dict[Level, Place]
    """city … community of `estate`."""
    buildings: list[Place]
    entrances: dict[str, list[Place]]
    houses: dict[str, list[Place]]
    """Entrance code → its houses (flats, shops and parking)."""
    twinned: Place
    """An estate in another street whose name the suite gives a second estate in 中山路街道."""

    def full(self, building: Place, entrance: Place, house: Place) -> str:
        """The address with every level, as a careful clerk writes it."""
        line = self.lineage
        return (
            f"{line[Level.CITY].name}{line[Level.DISTRICT].name}{line[Level.STREET].name}"
            f"{line[Level.COMMUNITY].name}{self.estate.name}{building.name}{house.name}"
        )


async def _children(store: Store, code: str) -> list[Place]:
    [page] = await store.children([code], EVERYTHING, MAX_PAGE)
    return list(page.items)


def _twin(name: str) -> Batch:
    """A second estate called `name` in another street (中山路街道), one flat in it."""
    building = TWIN_PARCEL + "F0001"
    return Batch(
        places=[
            Place(TWIN_ESTATE, Level.ESTATE, name, TWIN_COMMUNITY, parcel_codes=(TWIN_PARCEL,)),
            Place(building, Level.BUILDING, "1号楼", TWIN_ESTATE, floors=6),
            Place(building + "01", Level.ENTRANCE, "1单元", building),
            Place(TWIN_HOUSE, Level.HOUSE, "1单元101室", building + "01", area_centi_m2=8000, floor=1, usage=Usage.RESIDENTIAL),
        ]
    )


@pytest.fixture(scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[City]:
    path: Path = tmp_path_factory.mktemp("matching") / "small.sqlite"
    store = await open_store(f"sqlite:///{path}", sealer=Sealer.generate())
    try:
        await load(store, demo.generate("small", 7), progress=False)
        estates = (await store.subtree(Level.ESTATE, None, EVERYTHING, MAX_PAGE)).items
        for estate in estates:
            buildings = [b for b in await _children(store, estate.code) if b.level == Level.BUILDING]
            entrances = {b.code: await _children(store, b.code) for b in buildings}
            if any(len(found) > 1 for found in entrances.values()):
                break
        else:
            raise AssertionError("no estate of the demo city has a building with two entrances")
        houses = {e.code: await _children(store, e.code) for found in entrances.values() for e in found}
        [line] = await store.ancestors([estate.code], EVERYTHING)
        twinned = next(e for e in estates if e.code[:9] != estate.code[:9] and e.code[:9] != TWIN_COMMUNITY[:9])
        await store.write(_twin(twinned.name))
        yield City(store, estate, {p.level: p for p in line}, buildings, entrances, houses, twinned)
    finally:
        await store.close()


def _two_entrance_building(city: City) -> Place:
    return next(b for b in city.buildings if len(city.entrances[b.code]) > 1)


def _flat(city: City, building: Place, entrance_index: int = 0) -> tuple[Place, Place]:
    entrance = city.entrances[building.code][entrance_index]
    house = next(h for h in city.houses[entrance.code] if h.name.endswith("室"))
    return entrance, house


# -- a house, exactly -------------------------------------------------------------------------


async def test_a_full_address_matches_its_house_with_full_confidence(city: City) -> None:
    building = _two_entrance_building(city)
    entrance, house = _flat(city, building, 1)
    found = await match_address(city.store, city.full(building, entrance, house))
    assert (found.house_code, found.place_code, found.level) == (house.code, house.code, Level.HOUSE)
    assert found.confidence == 1.0 and found.matched and found.complete and found.candidates == ()


@pytest.mark.parametrize(
    "style",
    ["no-admin", "terse", "fullwidth", "numerals", "spaces"],
)
async def test_the_forms_clerks_type_match_the_same_house(city: City, style: str) -> None:
    building = _two_entrance_building(city)
    entrance, house = _flat(city, building, 1)
    district, estate = city.lineage[Level.DISTRICT].name, city.estate.name
    number, door = int(building.name.removesuffix("号楼")), int(entrance.name.removesuffix("单元"))
    room = house.name.partition("单元")[2].removesuffix("室")
    numerals = "零一二三四五六七八九"
    text = {
        "no-admin": f"{district}{estate}{number}栋{door}单元{room}",
        "terse": f"{district}{estate}{number}-{door}-{room}",
        "fullwidth": f"{district}{estate}{number}幢{door}单元{room}室".translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"}),
        "numerals": f"山东省青岛市{district}{estate}{numerals[number] if number < 10 else number}号楼{numerals[door]}单元{room}室",
        "spaces": f"青岛市 {district} {estate} {number}号楼 {door}单元 {room}室",
    }[style]
    found = await match_address(city.store, text)
    assert found.house_code == house.code, (text, found)
    assert CONFIDENT <= found.confidence < 1.0 and found.matched  # the street and community were left out


# -- an estate or a building, named alone ----------------------------------------------------


async def test_an_estate_named_alone_is_complete_without_a_house(city: City) -> None:
    text = f"{city.lineage[Level.DISTRICT].name}{city.estate.name}"
    found = await match_address(city.store, text)
    assert (found.house_code, found.place_code, found.level) == (None, city.estate.code, Level.ESTATE)
    assert found.complete and not found.matched and found.candidates == ()


async def test_a_building_named_alone_is_complete_without_a_house(city: City) -> None:
    building = city.buildings[0]
    found = await match_address(city.store, f"{city.lineage[Level.DISTRICT].name}{city.estate.name}{building.name}")
    assert (found.house_code, found.place_code, found.level, found.complete) == (None, building.code, Level.BUILDING, True)


# -- ambiguous: candidates, no guess -------------------------------------------------------------


async def test_a_room_without_its_entrance_in_a_two_entrance_building_lists_the_rooms(city: City) -> None:
    building = _two_entrance_building(city)
    _, house = _flat(city, building, 0)
    room = house.name.partition("单元")[2]
    text = f"{city.lineage[Level.DISTRICT].name}{city.estate.name}{building.name}{room}"
    found = await match_address(city.store, text)
    same_room = sorted(
        h.code for e in city.entrances[building.code] for h in city.houses[e.code] if h.name.partition("单元")[2] == room
    )
    assert len(same_room) > 1
    assert (found.house_code, found.place_code, found.level) == (None, building.code, Level.BUILDING)
    assert sorted(found.candidates) == same_room and not found.complete
    assert "more than one entrance" in found.why


async def test_two_estates_of_one_name_in_the_district_are_not_guessed(city: City) -> None:
    first = city.twinned
    district = city.lineage[Level.DISTRICT].name
    found = await match_address(city.store, f"{district}{first.name}1号楼1单元101室")
    assert found.house_code is None and found.level == Level.DISTRICT
    assert sorted(found.candidates) == sorted([first.code, TWIN_ESTATE])
    assert "2 estates named" in found.why and "street or community" in found.why
    # naming the street settles it, either way
    [line] = await city.store.ancestors([first.code], EVERYTHING)
    street = next(p for p in line if p.level == Level.STREET).name
    here = await match_address(city.store, f"{district}{street}{first.name}1号楼1单元101室")
    assert here.house_code is not None and here.house_code.startswith(first.code[:12])
    there = await match_address(city.store, f"{district}中山路街道{first.name}1号楼1单元101室")
    assert there.house_code == TWIN_HOUSE


# -- missing parts -------------------------------------------------------------------------


async def test_a_building_the_estate_does_not_have(city: City) -> None:
    found = await match_address(city.store, f"{city.lineage[Level.DISTRICT].name}{city.estate.name}99号楼1单元101室")
    assert (found.house_code, found.place_code, found.level) == (None, city.estate.code, Level.ESTATE)
    assert found.candidates == () and "building 99 is not in" in found.why and not found.complete


async def test_a_room_without_a_building_is_not_complete(city: City) -> None:
    found = await match_address(city.store, f"{city.lineage[Level.DISTRICT].name}{city.estate.name}1单元101室")
    assert (found.house_code, found.place_code, found.level) == (None, city.estate.code, Level.ESTATE)
    assert not found.complete and "no building number" in found.why


async def test_an_estate_the_city_does_not_have_lists_similar_names(city: City) -> None:
    district = city.lineage[Level.DISTRICT]
    typo = city.estate.name[:-1] + "园" if not city.estate.name.endswith("园") else city.estate.name[:-1] + "苑"
    found = await match_address(city.store, f"{district.name}{typo}1号楼1单元101室")
    assert (found.house_code, found.place_code, found.level) == (None, district.code, Level.DISTRICT)
    assert city.estate.code in found.candidates and "no estate named" in found.why
    nothing = await match_address(city.store, f"{district.name}不存在花园1号楼1单元101室")
    assert nothing.house_code is None and nothing.candidates == ()


async def test_a_district_the_city_does_not_have(city: City) -> None:
    found = await match_address(city.store, f"青岛市崂山区{city.estate.name}1号楼1单元101室")
    assert found.house_code is None and found.level == Level.CITY and "district" in found.why


@pytest.mark.parametrize("text", ["", "   ", "不详", "香港中路8号"])
async def test_text_that_is_not_an_address_never_raises(city: City, text: str) -> None:
    found = await match_address(city.store, text)
    assert found.house_code is None and not found.matched and found.confidence == 0.0 and found.why


async def test_within_bounds_the_search(city: City) -> None:
    building = city.buildings[0]
    entrance, house = _flat(city, building)
    text = f"{city.estate.name}{building.name}{house.name}"
    street = city.lineage[Level.STREET].code
    assert (await match_address(city.store, text, within=street)).house_code == house.code
    other = next(code for code in ("370202005", "370202010") if code != street)
    outside = await match_address(city.store, text, within=other)
    assert outside.house_code is None and outside.place_code == other


# -- the cache -------------------------------------------------------------------------------


def _addresses(city: City, count: int, seed: int = 5) -> list[tuple[str, str]]:
    """`count` (address, house code) pairs of flats in the estate, in random clerks' styles
    (`full` when a terse form would leave the entrance out of a two-entrance building)."""
    rng = random.Random(seed)
    lineage = tuple(city.lineage[level] for level in (Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY)) + (city.estate,)
    flats = [
        (lineage + (building, entrance), house)
        for building in city.buildings
        for entrance in city.entrances[building.code]
        for house in city.houses[entrance.code]
        if house.usage is not Usage.PARKING
    ]
    found: list[tuple[str, str]] = []
    while len(found) < count:
        line, house = flats[len(found) % len(flats)]
        found.append((postal_address(line, house, rng), house.code))
    return found


async def test_a_thousand_addresses_of_one_estate_read_each_list_once(city: City) -> None:
    counting = CountingStore(city.store)
    matcher = Matcher(cast(Store, counting))
    addresses = _addresses(city, 1000)
    results: list[AddressMatch] = [await matcher.match(text) for text, _ in addresses]
    wrong = [(text, r.why) for (text, code), r in zip(addresses, results) if r.house_code != code]
    assert not wrong, wrong[:5]
    entrances = sum(len(found) for found in city.entrances.values())
    # once each: the city; the districts, streets and communities under it, the estates of the
    # district, street or community an address stopped at, the community and street read to
    # check the names given; the estate's buildings, their entrances and the entrances' houses
    most = 1 + 3 + 3 + 2 + 1 + len(city.buildings) + entrances
    assert matcher.reads <= most, (matcher.reads, most)
    assert sum(counting.snapshot().values()) == matcher.reads  # every list fits one page
    assert matcher.reads * 30 < len(addresses)
    print(f"1,000 addresses: {matcher.reads} lists read, store calls {counting.snapshot()}")


async def test_a_small_cache_evicts_but_still_matches(city: City) -> None:
    addresses = _addresses(city, 200, seed=9)
    small, roomy = Matcher(city.store, cache_size=3), Matcher(city.store)
    for text, code in addresses:
        assert (await small.match(text)).house_code == code == (await roomy.match(text)).house_code
    assert small.reads > roomy.reads
