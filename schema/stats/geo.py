"""GeoJSON FeatureCollections (RFC 7946) of places coloured by their roll-ups, for map pages.

Five store calls whatever the number of features: the shapes, the stats of the same level under
the same place, and, for all the shapes together, the houses in utility arrears, the case
figures (open, overdue, satisfaction) and the device summaries (active alarms), joined here by
code. Live figures are null for a place outside the caller's scope, as on `stats` rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graph.cases import CaseMetrics
from graph.devices import DeviceSummary
from graph.model import Place, Stats

METRICS = ("houses", "floor_area", "owners", "estates", "buildings")
_PROPERTY = {"floor_area": "floorArea"}
"""`floorArea` is m² for display (the exact whole hundredths over 100: JSON writes it exactly,
like 12345.67); `floorAreaCentiM2` beside it is the exact integer."""


LIVE_METRICS = ("housesInArrears", "openCases", "overdueCases", "activeAlarms", "satisfactionRate")
"""Properties read live for each feature (not rolled up): what a street office
colours its map by besides the roll-up."""


def feature(
    place: Place,
    row: Stats | None,
    arrears: int | None = None,
    cases: CaseMetrics | None = None,
    devices: DeviceSummary | None = None,
) -> dict[str, Any]:
    """One Feature whose `id` is the place code; metrics are null when no roll-up exists yet,
    the live ones when they were not counted (a place outside the caller's scope).

    `openCases` are the subtree's cases whose work is not done (every case ever reported, less
    those 办结, 回访 or 归档), `overdueCases` those overdue now, `satisfactionRate` 满意率 over
    every rated case (null without ratings), `activeAlarms` the alarms not yet cleared."""
    properties: dict[str, Any] = {"code": place.code, "name": place.name, "level": place.level.name}
    for metric in METRICS:
        if metric == "floor_area":
            properties["floorArea"] = None if row is None else row.floor_area_centi_m2 / 100
            properties["floorAreaCentiM2"] = None if row is None else row.floor_area_centi_m2
        else:
            properties[_PROPERTY.get(metric, metric)] = None if row is None else getattr(row, metric)
    properties["housesInArrears"] = arrears
    properties["openCases"] = None if cases is None else cases.cases - cases.resolved
    properties["overdueCases"] = None if cases is None else cases.overdue
    properties["satisfactionRate"] = None if cases is None else cases.satisfaction_rate
    properties["activeAlarms"] = None if devices is None else devices.active_alarms
    return {"type": "Feature", "id": place.code, "geometry": place.geometry, "properties": properties}


def feature_collection(
    shapes: Sequence[Place],
    rows: Sequence[Stats],
    arrears: Mapping[str, int | None] | None = None,
    cases: Mapping[str, CaseMetrics | None] | None = None,
    devices: Mapping[str, DeviceSummary | None] | None = None,
) -> dict[str, Any]:
    by_code = {row.place.code: row for row in rows}
    owing, figures, summaries = arrears or {}, cases or {}, devices or {}
    return {
        "type": "FeatureCollection",
        "features": [
            feature(place, by_code.get(place.code), owing.get(place.code), figures.get(place.code), summaries.get(place.code))
            for place in shapes
        ],
    }
