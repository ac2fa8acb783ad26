"""Distances on the ground between WGS-84 points: haversine on a sphere of the Earth's mean
radius (IUGG, 6 371 008.8 m). Within a district the error against the ellipsoid is under 0.5 %,
well inside the spread of a phone's position; fast (a few trigonometric calls, no projection).

>>> from graph.cases import Point
>>> round(metres(Point(120.3826, 36.0671), Point(120.3826, 36.0761)))
1001
"""

from __future__ import annotations

import math

from graph.cases import Point

EARTH_RADIUS_M = 6_371_008.8


def metres(a: Point, b: Point) -> float:
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
