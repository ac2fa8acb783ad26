"""How big a demo city to build: which districts, and how many estates and houses.

Qingdao counts about 4,000 estates and 2.43 million houses. The city preset shares them out
among the districts by resident population; the figures below are approximations of the 2020
census (第七次全国人口普查) counts, in thousands, used only as weights and never shown as data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CITY_ESTATES = 4_000
CITY_HOUSES = 2_430_000

POPULATION_2020: Mapping[str, int] = {
    "370202": 589,  # 市南区
    "370203": 1_103,  # 市北区
    "370211": 1_903,  # 黄岛区
    "370212": 561,  # 崂山区
    "370213": 724,  # 李沧区
    "370214": 1_110,  # 城阳区
    "370215": 1_345,  # 即墨区
    "370281": 1_003,  # 胶州市
    "370283": 1_174,  # 平度市
    "370285": 734,  # 莱西市
}


@dataclass(frozen=True)
class Preset:
    """A demo city to build: the districts to fill and the targets for the whole preset."""

    name: str
    districts: tuple[str, ...]
    houses: int
    estates: int

    def __post_init__(self) -> None:
        if not self.districts:
            raise ValueError(f"preset {self.name!r} has no districts")
        unknown = [code for code in self.districts if code not in POPULATION_2020]
        if unknown:
            raise ValueError(f"preset {self.name!r}: {unknown} are not districts of Qingdao")
        if len(set(self.districts)) != len(self.districts):
            raise ValueError(f"preset {self.name!r} names a district twice")
        if self.estates < len(self.districts) or self.houses < self.estates:
            raise ValueError(
                f"preset {self.name!r}: needs an estate per district and a house per estate"
            )

    def targets(self) -> dict[str, tuple[int, int]]:
        """(estates, houses) per district, shared by population, summing to the preset's targets."""
        weights = [POPULATION_2020[code] for code in self.districts]
        estates = share(self.estates, weights)
        houses = share(self.houses, weights)
        return {
            code: (max(1, count), max(1, homes))
            for code, count, homes in zip(self.districts, estates, houses)
        }


def share(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` by largest remainder, so the parts add up."""
    whole = sum(weights)
    exact = [total * weight / whole for weight in weights]
    parts = [int(value) for value in exact]
    order = sorted(range(len(exact)), key=lambda index: (parts[index] - exact[index], index))
    for index in order[: total - sum(parts)]:
        parts[index] += 1
    return parts


def _district_share(code: str) -> tuple[int, int]:
    weights = list(POPULATION_2020.values())
    index = list(POPULATION_2020).index(code)
    return share(CITY_ESTATES, weights)[index], share(CITY_HOUSES, weights)[index]


_SHINAN_ESTATES, _SHINAN_HOUSES = _district_share("370202")

PRESETS: dict[str, Preset] = {
    # an estate in each of 市南区's 50 communities: every street office sees all its communities
    "small": Preset("small", ("370202",), houses=10_000, estates=50),
    "district": Preset("district", ("370202",), houses=_SHINAN_HOUSES, estates=_SHINAN_ESTATES),
    "city": Preset("city", tuple(POPULATION_2020), houses=CITY_HOUSES, estates=CITY_ESTATES),
}


def resolve(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(
            f"unknown demo preset {preset!r}; choose one of {', '.join(PRESETS)}"
        ) from None
