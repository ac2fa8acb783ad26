"""Checking a place's shape before it is stored: GeoJSON as RFC 7946 has it, in WGS-84, valid.

A place's shape is an area (a Polygon or a MultiPolygon). What is refused, each with the
position that breaks the rule:

- not an object, another type (a Point, a Feature), no `coordinates`;
- a `crs` member: RFC 7946 removed it, and a file that still names one is usually in a projected
  system (CGCS2000 / Gauss-Krüger metres) the hub cannot place;
- a position that is not two or three finite numbers, a longitude outside -180..180 or a latitude
  outside -90..90 (projected metres, or latitude and longitude swapped, land here);
- a ring of fewer than four positions or one that does not end where it starts;
- a polygon shapely finds invalid (self-intersections, a hole outside its shell, rings that
  cross), with shapely's own explanation and where it is.

The shape comes back as a clean GeoJSON geometry (`type` and `coordinates` only, numbers as
floats), which is what the store keeps and `geo` serves.
"""

from __future__ import annotations

import math
from typing import Any

from shapely.errors import ShapelyError
from shapely.geometry import shape as to_shape
from shapely.validation import explain_validity

AREAS = ("Polygon", "MultiPolygon")


class ShapeProblem(ValueError):
    """A shape that breaks a rule: the message says which and where (ring, position)."""


def checked_geometry(value: object) -> dict[str, Any]:
    """The geometry as stored, or ShapeProblem saying what is wrong with it."""
    if not isinstance(value, dict):
        raise ShapeProblem(f"must be a GeoJSON geometry object, not {type(value).__name__}")
    if "crs" in value:
        raise ShapeProblem("has a 'crs' member: RFC 7946 GeoJSON is WGS-84 longitude/latitude and names no other system")
    kind = value.get("type")
    if kind not in AREAS:
        raise ShapeProblem(f"type must be Polygon or MultiPolygon (a place is an area), not {kind!r}")
    coordinates = value.get("coordinates")
    if kind == "Polygon":
        clean: list[Any] = _polygon(coordinates, "")
    else:
        if not isinstance(coordinates, list) or not coordinates:
            raise ShapeProblem("coordinates must be a non-empty list of polygons")
        clean = [_polygon(polygon, f"polygon {index + 1}, ") for index, polygon in enumerate(coordinates)]
    geometry = {"type": kind, "coordinates": clean}
    try:
        shaped = to_shape(geometry)
        valid = shaped.is_valid
    except (ShapelyError, ValueError, TypeError) as error:
        raise ShapeProblem(f"is not a shape shapely can read: {error}") from None
    if not valid:
        raise ShapeProblem(f"is not a valid {kind}: {explain_validity(shaped)}")
    if shaped.is_empty or shaped.area == 0:
        raise ShapeProblem("encloses no area")
    return geometry


def _polygon(rings: object, where: str) -> list[list[list[float]]]:
    if not isinstance(rings, list) or not rings:
        raise ShapeProblem(f"{where}coordinates must be a non-empty list of rings")
    return [_ring(ring, f"{where}ring {index + 1}") for index, ring in enumerate(rings)]


def _ring(ring: object, where: str) -> list[list[float]]:
    if not isinstance(ring, list):
        raise ShapeProblem(f"{where} must be a list of positions")
    positions = [_position(position, f"{where}, position {index + 1}") for index, position in enumerate(ring)]
    if len(positions) < 4:
        raise ShapeProblem(f"{where} has {len(positions)} positions; a linear ring needs at least 4")
    if positions[0] != positions[-1]:
        raise ShapeProblem(f"{where} is not closed: it starts at {positions[0]} and ends at {positions[-1]}")
    return positions


def _position(position: object, where: str) -> list[float]:
    if not isinstance(position, list | tuple) or len(position) not in (2, 3):
        raise ShapeProblem(f"{where} must be [longitude, latitude] (or with an altitude), got {_short(position)}")
    numbers: list[float] = []
    for value in position:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ShapeProblem(f"{where} must hold finite numbers, got {_short(position)}")
        numbers.append(float(value))
    lon, lat = numbers[0], numbers[1]
    if not -180 <= lon <= 180 or not -90 <= lat <= 90:
        raise ShapeProblem(
            f"{where} {_short(position)} is outside WGS-84 (longitude -180..180, latitude -90..90): "
            "projected metres, or latitude and longitude swapped?"
        )
    return numbers


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
