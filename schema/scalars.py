"""The two scalars the API adds: `Date` (ISO 8601 calendar dates) and `GeoJSON` (RFC 7946).

Both are registered through `StrawberryConfig.scalar_map` (see `schema.build_schema`), so
resolvers are annotated with plain `datetime.date` and `GeoJSON` and stay checkable by mypy.
A malformed date is refused with `InvalidInput`, which the error extension keeps visible
(strawberry's built-in Date would raise a bare ValueError, which gets masked).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from graph.errors import InvalidInput

GeoJSON = NewType("GeoJSON", dict[str, Any])
"""A GeoJSON object (geometry, Feature or FeatureCollection), WGS-84 longitude/latitude."""


def _serialize_date(value: dt.date) -> str:
    return value.isoformat()


def _parse_date(value: object) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput("Date", value, "is not a date; write it as YYYY-MM-DD")


def _serialize_geojson(value: dict[str, Any]) -> dict[str, Any]:
    return value


def _parse_geojson(value: object) -> GeoJSON:
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return GeoJSON(value)
    raise InvalidInput("GeoJSON", value, "is not a GeoJSON object (RFC 7946): it needs a `type`")


DATE: ScalarDefinition = strawberry.scalar(
    name="Date",
    description="A calendar date, ISO 8601 (`2024-05-01`), in China Standard Time.",
    specified_by_url="https://www.iso.org/iso-8601-date-and-time-format.html",
    serialize=_serialize_date,
    parse_value=_parse_date,
)

GEOJSON: ScalarDefinition = strawberry.scalar(
    name="GeoJSON",
    description="A GeoJSON object (RFC 7946), coordinates in WGS-84 longitude, latitude.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc7946",
    serialize=_serialize_geojson,
    parse_value=_parse_geojson,
)

SCALARS: dict[object, ScalarDefinition] = {dt.date: DATE, GeoJSON: GEOJSON}
"""The scalar map `build_schema` hands to strawberry."""
