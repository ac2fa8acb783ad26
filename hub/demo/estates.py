"""What an estate holds: its buildings, their entrances and the houses in them.

An estate's plan is drawn before its shape: the buildings (floors, entrances, flats per floor,
flat sizes) follow the era it was completed in, from the six-storey walk-ups of the 1990s to the
33-storey towers of the 2010s, and the plan's floor area sizes the estate's land (by plot ratio,
容积率) and each building's footprint.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

LAST_DAY = dt.date(2025, 12, 31)
"""Nothing in the demo city happens after this day."""


@dataclass(frozen=True, slots=True)
class BuildingPlan:
    """One building: `units` flats per floor in each of its `entrances`, and its parking."""

    floors: int
    entrances: int
    units: int
    areas: tuple[float, ...]
    """The floor plan: the area (m²) of flat 01, 02, ... on every floor."""
    shops: bool
    """Floor 1 is shops (网点房) facing the street."""
    parking: int

    @property
    def flats(self) -> int:
        return self.floors * self.entrances * self.units

    @property
    def houses(self) -> int:
        return self.flats + self.parking

    @property
    def floor_area(self) -> float:
        return sum(self.areas) * self.entrances * self.floors

    @property
    def footprint(self) -> tuple[float, float]:
        """(length, depth) in metres: deeper for towers, long for walk-ups with many entrances."""
        depth = 12.0 if self.floors <= 7 else 15.0 if self.floors <= 18 else 19.0
        per_floor = sum(self.areas) * self.entrances * 1.1
        return max(per_floor / depth, depth), depth


@dataclass(frozen=True, slots=True)
class EstatePlan:
    code: str
    name: str
    completed: dt.date
    buildings: tuple[BuildingPlan, ...]
    parcels: tuple[str, ...]
    aspect: float
    """Length over width of the estate's land."""

    @property
    def houses(self) -> int:
        return sum(building.houses for building in self.buildings)

    @property
    def land(self) -> float:
        """The estate's land in m²: its floor area over the era's plot ratio (容积率)."""
        ratio = 1.4 if self.completed.year < 1998 else 1.9 if self.completed.year < 2008 else 2.6
        floor_area = sum(building.floor_area for building in self.buildings)
        return max(floor_area / ratio, 2_500.0)


def completion_year(rng: random.Random, old_town: bool) -> int:
    """Old urban districts were mostly built before 2005, the new ones after 2008."""
    mode = 2000 if old_town else 2012
    return min(2024, int(rng.triangular(1980, 2025, mode)))


def _floors(rng: random.Random, year: int) -> int:
    if year < 1998:
        return rng.choice((5, 6, 6, 6, 6, 7))
    if year < 2008:
        floors = rng.choices((6, 11, 18, 26), weights=(55, 25, 15, 5))[0]
    else:
        floors = rng.choices((6, 11, 18, 26, 33), weights=(10, 25, 25, 20, 20))[0]
    if floors > 6 and rng.random() < 0.15:
        floors += rng.choice((-1, 1))
    return floors


def _flat_area(rng: random.Random, year: int) -> float:
    """The size of one flat plan (建筑面积): small before 2000, larger and more varied since."""
    if year < 1998:
        area = rng.gauss(68, 12)
    elif year < 2008:
        area = rng.gauss(104, 22)
    else:
        area = rng.choices(
            (rng.gauss(95, 12), rng.gauss(128, 15), rng.gauss(155, 12)), weights=(40, 40, 20)
        )[0]
    return round(min(178.0, max(46.0, area)), 2)


def building_plan(rng: random.Random, year: int) -> BuildingPlan:
    floors = _floors(rng, year)
    if floors <= 7:
        entrances, units = rng.randint(2, 4), 2 if rng.random() < 0.85 else 3
    elif floors <= 12:
        entrances, units = rng.randint(1, 3), 2 if rng.random() < 0.7 else 3
    else:
        entrances = 1 if rng.random() < 0.6 else 2
        units = rng.choices((2, 3, 4), weights=(40, 30, 30))[0]
    areas = tuple(_flat_area(rng, year) for _ in range(units))
    shops = rng.random() < 0.15
    flats = floors * entrances * units
    parking = 0
    if year >= 2005 and floors >= 11 and rng.random() < 0.5:
        parking = max(1, round(flats * rng.uniform(0.1, 0.3)))
    return BuildingPlan(floors, entrances, units, areas, shops, parking)


def plan_buildings(rng: random.Random, year: int, target: int) -> tuple[BuildingPlan, ...]:
    """Buildings until the estate holds about `target` houses (never fewer than one building).

    Near the end smaller buildings are preferred, and a building that would overshoot by more
    than half its size is left out, so estates land close to their target on average.
    """
    buildings: list[BuildingPlan] = []
    total = 0
    while total < target:
        remaining = target - total
        candidates = [building_plan(rng, year) for _ in range(3)]
        fitting = [plan for plan in candidates if plan.houses <= remaining * 1.3]
        plan = fitting[0] if fitting else min(candidates, key=lambda item: item.houses)
        if buildings and total + plan.houses / 2 > target:
            break
        buildings.append(plan)
        total += plan.houses
        if len(buildings) >= 9_999:
            break
    return tuple(buildings)


def parcel_count(rng: random.Random, buildings: int) -> int:
    """Most estates sit on one parcel (宗地); larger ones were often granted in two or three."""
    wanted = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    return max(1, min(wanted, buildings))


def house_name(entrance: int, floor: int, unit: int, shop: bool) -> str:
    """'2单元501室' for flat 01 on floor 5 of entrance 2; shops are 网点 (as Qingdao calls them)."""
    return f"{entrance}单元{floor}{unit:02d}{'网点' if shop else '室'}"


def parking_name(number: int) -> str:
    return f"地下B1-{number:03d}车位"
