"""GeoJSON FeatureCollections (RFC 7946) of places coloured by their roll-ups, for map pages.

Three store calls whatever the number of features: the shapes, the stats of the same level
under the same place, and the houses in utility arrears under each shape, joined here by code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graph.model import Place, Stats

METRICS = ("houses", "floor_area", "owners", "estates", "buildings")
_PROPERTY = {"floor_area": "floorArea"}


def feature(place: Place, row: Stats | None, arrears: int | None = None) -> dict[str, Any]:
    """One Feature whose `id` is the place code; metrics are null when no roll-up exists yet,
    `housesInArrears` when it was not counted (a place outside the caller's scope)."""
    properties: dict[str, Any] = {"code": place.code, "name": place.name, "level": place.level.name}
    for metric in METRICS:
        properties[_PROPERTY.get(metric, metric)] = None if row is None else getattr(row, metric)
    properties["housesInArrears"] = arrears
    return {"type": "Feature", "id": place.code, "geometry": place.geometry, "properties": properties}


def feature_collection(
    shapes: Sequence[Place], rows: Sequence[Stats], arrears: Mapping[str, int | None] | None = None
) -> dict[str, Any]:
    by_code = {row.place.code: row for row in rows}
    owing = arrears or {}
    return {
        "type": "FeatureCollection",
        "features": [feature(place, by_code.get(place.code), owing.get(place.code)) for place in shapes],
    }
