"""Records to rows and back: the only place that knows how a record is laid out in SQL."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graph.cases import Point
from graph.levels import Level
from graph.model import (
    GeoJSON,
    Management,
    Owner,
    OwnerKind,
    Ownership,
    Place,
    PropertyFirm,
    Provenance,
    Usage,
)
from graph.ciphers.sealing import PERSONAL_FIELDS, Sealer
from graph.sql import tables

PLACE_FACTS = ("name", "geometry", "parcel_codes", "floors", "area_centi_m2", "floor", "usage")
"""Columns compared to decide whether a write changes a place (provenance is not a fact)."""


def utc(moment: dt.datetime) -> dt.datetime:
    """An aware time in UTC: SQLite keeps no offset, so every backend stores UTC (naive means
    UTC), and PostgreSQL hands back aware values in the session's zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def maybe_utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else utc(moment)


def provenance_row(provenance: Provenance | None) -> dict[str, Any]:
    if provenance is None:
        return {"source": None, "source_record": None, "fetched_at": None, "run_id": None}
    return {
        "source": provenance.source,
        "source_record": provenance.record_id,
        "fetched_at": utc(provenance.fetched_at),
        "run_id": provenance.run_id,
    }


def provenance_of(row: Mapping[Any, Any]) -> Provenance | None:
    if row["source"] is None:
        return None
    return Provenance(row["source"], row["source_record"], utc(row["fetched_at"]), row["run_id"])


def point_of(row: Mapping[Any, Any]) -> Point | None:
    """The `lon`, `lat` columns of a case or device as a point; None unless both are set."""
    if row["lon"] is None or row["lat"] is None:
        return None
    return Point(float(row["lon"]), float(row["lat"]))


def _bounds(geometry: GeoJSON | None) -> tuple[float | None, ...]:
    if not geometry:
        return (None, None, None, None)
    lons: list[float] = []
    lats: list[float] = []
    _collect(geometry.get("coordinates", []), lons, lats)
    for part in geometry.get("geometries", []):
        _collect(part.get("coordinates", []), lons, lats)
    if not lons:
        return (None, None, None, None)
    return (min(lons), min(lats), max(lons), max(lats))


def _collect(coordinates: Any, lons: list[float], lats: list[float]) -> None:
    if coordinates and isinstance(coordinates[0], (int, float)):
        lons.append(float(coordinates[0]))
        lats.append(float(coordinates[1]))
        return
    for item in coordinates:
        _collect(item, lons, lats)


def place_facts(place: Place) -> dict[str, Any]:
    """The columns of a place that are facts about it (compared on upsert)."""
    return {
        "name": place.name,
        "geometry": json.dumps(place.geometry, ensure_ascii=False, separators=(",", ":"))
        if place.geometry is not None
        else None,
        "parcel_codes": ",".join(place.parcel_codes) or None,
        "floors": place.floors,
        "area_centi_m2": place.area_centi_m2,
        "floor": place.floor,
        "usage": place.usage.name if place.usage is not None else None,
    }


def place_row(place: Place, parent_id: int | None, lineage: Sequence[int | None]) -> dict[str, Any]:
    facts = place_facts(place)
    min_lon, min_lat, max_lon, max_lat = _bounds(place.geometry)
    row: dict[str, Any] = {
        "code": place.code,
        "level": int(place.level),
        "parent_id": parent_id,
        **dict(zip(tables.ANCESTOR_COLUMNS, lineage)),
        **facts,
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        **provenance_row(place.provenance),
    }
    return row


@functools.lru_cache(maxsize=4096)
def _geometry(text: str) -> GeoJSON:
    """Decoded once per distinct shape: the outlines of a city and its districts come back with
    every ancestors read, and decoding them cost more than the query. Callers share the dict and
    must not change it."""
    decoded: GeoJSON = json.loads(text)
    return decoded


def place_of(row: Mapping[Any, Any], parent_code: str | None) -> Place:
    geometry = row["geometry"]
    return Place(
        code=row["code"],
        level=Level(row["level"]),
        name=row["name"],
        parent_code=parent_code,
        geometry=_geometry(geometry) if geometry else None,
        parcel_codes=tuple(row["parcel_codes"].split(",")) if row["parcel_codes"] else (),
        floors=row["floors"],
        area_centi_m2=row["area_centi_m2"],
        floor=row["floor"],
        usage=Usage[row["usage"]] if row["usage"] else None,
        provenance=provenance_of(row),
    )


OWNER_FACTS = ("kind", "name_index", "id_number_index", "phone_index")
"""What decides whether an owner changed: sealed values differ on every write (fresh nonces),
their blind indexes only when the value does."""


def owner_row(owner: Owner, sealer: Sealer, *, sealed: bool = True) -> dict[str, Any]:
    """The owner's row; `sealed=False` leaves out the sealed values (their blind indexes, which
    decide whether the owner changed, are in), for a writer that seals only what it writes."""
    row: dict[str, Any] = {"key": owner.id, "kind": owner.kind.value, **provenance_row(owner.provenance), **sealer.index_fields(owner)}
    return {**row, **sealed_values(owner, sealer)} if sealed else row


def sealed_values(owner: Owner, sealer: Sealer) -> dict[str, bytes | None]:
    """The owner's personal values sealed with SM4-GCM (a fresh nonce each time)."""
    return sealer.seal_fields(owner, owner.id)


def sealed_column(row: Mapping[Any, Any]) -> Callable[[str], bytes | None]:
    """Reads a row's `<field>_sealed` column as bytes (drivers give memoryview or bytes)."""

    def read(field: str) -> bytes | None:
        value = row[f"{field}_sealed"]
        return None if value is None else bytes(value)

    return read


def owner_of(row: Mapping[Any, Any], sealer: Sealer) -> Owner:
    opened = sealer.open_fields(sealed_column(row), row["key"])
    return Owner(
        id=row["key"],
        kind=OwnerKind(row["kind"]),
        name=opened["name"] or "",
        id_number=opened["id_number"] or "",
        phone=opened["phone"],
        provenance=provenance_of(row),
    )


OWNER_PREFIX = "owner_"
"""Owner columns read alongside an ownership carry this prefix (both tables have `id`, `source`…)."""


def ownership_of(row: Mapping[Any, Any], sealer: Sealer | None = None) -> Ownership:
    owner = None
    if sealer is not None and OWNER_PREFIX + "key" in row:
        owner = owner_of({name: row[OWNER_PREFIX + name] for name in _OWNER_COLUMNS}, sealer)
    return Ownership(
        house_code=row["house_code"],
        owner_id=row["owner_key"],
        share=row["share"],
        since=row["since"],
        until=row["until"],
        source=row["origin"],
        provenance=provenance_of(row),
        owner=owner,
    )


_OWNER_COLUMNS = (
    "key", "kind", *(f"{field}_sealed" for field in PERSONAL_FIELDS),
    "source", "source_record", "fetched_at", "run_id",
)


def firm_row(firm: PropertyFirm) -> dict[str, Any]:
    return {"code": firm.code, "name": firm.name, "phone": firm.phone, **provenance_row(firm.provenance)}


def firm_of(row: Mapping[Any, Any]) -> PropertyFirm:
    return PropertyFirm(code=row["code"], name=row["name"], phone=row["phone"], provenance=provenance_of(row))


def management_of(row: Mapping[Any, Any]) -> Management:
    return Management(
        firm_code=row["firm_code"],
        estate_code=row["estate_code"],
        since=row["since"],
        until=row["until"],
        provenance=provenance_of(row),
    )
