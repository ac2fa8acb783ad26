"""`hub devices import FILE`: devices registered in bulk from CSV, JSON or JSON Lines.

Columns (CSV header, or keys of each JSON object): `code`, `type` (elevator, smoke_detector,
gas_detector, water_pump, manhole_cover, transformer), `model`, `place` (the code of the estate,
building or entrance it is installed at), `lon` and `lat` (WGS-84, both or neither), `interval`
(seconds between reports), `name` (optional), `thresholds` (optional: a JSON object, or
`name=value;name=value`, checked against the type's rule parameters).

Every row is checked before anything is written, and every problem is reported with its line
and column, so a file is fixed in one pass; one bad row and nothing is registered. CSV may start
with a UTF-8 byte order mark (as spreadsheets save it). Registering a device again updates its
registration and keeps its latest state.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from graph.cases import Point
from graph.devices import Device, DeviceType, device_code
from graph.errors import InvalidInput
from graph.levels import Level
from graph.model import Place, Provenance
from graph.scope import Scope

COLUMNS = ("code", "type", "model", "place", "lon", "lat", "interval", "name", "thresholds")
REQUIRED = ("code", "type", "model", "place", "interval")
MOUNTS = (Level.ESTATE, Level.BUILDING, Level.ENTRANCE)
MAX_ERRORS = 50
MAX_ROWS = 200_000


class RegistryStore(Protocol):
    async def places(self, codes: list[str], scope: Scope) -> list[Place | None]: ...

    async def register_devices(self, devices: list[Device]) -> tuple[int, int]: ...


@dataclass(frozen=True, slots=True)
class Imported:
    inserted: int
    updated: int
    rows: int


class ImportErrors(InvalidInput):
    """Every problem of a file, one per line of the message (at most MAX_ERRORS shown)."""

    def __init__(self, path: str, problems: list[str]) -> None:
        shown = problems[:MAX_ERRORS]
        more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__("file", path, f"has {len(problems)} problem(s); nothing was imported:\n  " + "\n  ".join(shown) + more)
        self.problems = problems


def _rows(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line number, row) pairs; line numbers as an editor shows them."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl" or suffix == ".ndjson":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as error:
                raise ImportErrors(str(path), [f"line {number}: not JSON ({error})"]) from None
            yield number, row
    elif suffix == ".json":
        try:
            rows = json.loads(text)
        except ValueError as error:
            raise ImportErrors(str(path), [f"line {getattr(error, 'lineno', '?')}: not JSON ({error})"]) from None
        if isinstance(rows, dict) and isinstance(rows.get("devices"), list):
            rows = rows["devices"]
        if not isinstance(rows, list):
            raise ImportErrors(str(path), ["line 1: must be a JSON array of devices (or {\"devices\": [...]})"])
        for index, row in enumerate(rows, start=1):
            yield index, row  # JSON arrays have no useful lines: the item's position
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportErrors(str(path), [f"line 1: the header lacks column(s) {', '.join(missing)} (columns: {', '.join(COLUMNS)})"])
        for row in reader:
            yield reader.line_num, row


def _text(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def parse_thresholds(raw: Any) -> dict[str, float]:
    """`{"lel_major": 20}` or `lel_major=20;lel_critical=45` as a dict of floats."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("{"):
            try:
                raw = json.loads(text)
            except ValueError:
                raise ValueError("is not a JSON object") from None
        else:
            pairs: dict[str, Any] = {}
            for part in filter(None, (p.strip() for p in text.split(";"))):
                name, equals, value = part.partition("=")
                if not equals or not name.strip():
                    raise ValueError(f"part {part!r} is not name=value")
                pairs[name.strip()] = value.strip()
            raw = pairs
    if not isinstance(raw, dict):
        raise ValueError("must be a JSON object or name=value;name=value")
    out: dict[str, float] = {}
    for name, value in raw.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {value!r} is not a number") from None
        if isinstance(value, bool) or not math.isfinite(number):
            raise ValueError(f"{name}: {value!r} is not a number")
        out[str(name)] = number
    return out


def parse_devices(path: str | Path, text: str, *, at: dt.datetime, run_id: str) -> tuple[list[Device], list[str]]:
    """The devices of a file and the problems found (line and column named); no store needed."""
    from graph.rules import check_thresholds

    where = Path(path)
    devices: list[Device] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, row in _rows(where, text.removeprefix("\ufeff")):
        if len(devices) + len(problems) > MAX_ROWS:
            problems.append(f"line {number}: more than {MAX_ROWS} rows; split the file")
            break
        if not isinstance(row, Mapping):
            problems.append(f"line {number}: must be an object with {', '.join(REQUIRED)}")
            continue
        before = len(problems)

        def bad(column: str, rule: str) -> None:
            problems.append(f"line {number}, column {column}: {rule}")

        for column in REQUIRED:
            if not _text(row, column):
                bad(column, "is required")
        code = _text(row, "code")
        if code:
            try:
                device_code(code)
            except InvalidInput as error:
                bad("code", f"{code!r} {error.rule}")
            if code in first_line:
                bad("code", f"{code!r} is also on line {first_line[code]}")
            else:
                first_line[code] = number
        kind: DeviceType | None = None
        if _text(row, "type"):
            try:
                kind = DeviceType(_text(row, "type"))
            except ValueError:
                bad("type", f"{_text(row, 'type')!r} must be one of {', '.join(t.value for t in DeviceType)}")
        model = _text(row, "model")
        if len(model) > 64:
            bad("model", "must be at most 64 characters")
        name = _text(row, "name")
        if len(name) > 200:
            bad("name", "must be at most 200 characters")
        interval = 0
        if _text(row, "interval"):
            try:
                interval = int(_text(row, "interval"))
                if not 1 <= interval <= 86_400:
                    raise ValueError
            except ValueError:
                bad("interval", f"{_text(row, 'interval')!r} must be whole seconds between 1 and 86400")
        point = None
        lon, lat = _text(row, "lon"), _text(row, "lat")
        if lon or lat:
            if not _coordinate(lon, 180):
                bad("lon", f"{lon!r} must be a WGS-84 longitude (-180 to 180), given with lat")
            elif not _coordinate(lat, 90):
                bad("lat", f"{lat!r} must be a WGS-84 latitude (-90 to 90), given with lon")
            else:
                point = Point(float(lon), float(lat))
        thresholds: dict[str, float] = {}
        try:
            thresholds = parse_thresholds(row.get("thresholds"))
            if kind is not None:
                thresholds = check_thresholds(kind, thresholds)
        except InvalidInput as error:
            bad("thresholds", str(error))
        except ValueError as error:
            bad("thresholds", str(error))
        if len(problems) > before or kind is None:
            continue
        devices.append(
            Device(
                code=code,
                type=kind,
                model=model,
                place_code=_text(row, "place"),
                interval=interval,
                point=point,
                name=name,
                thresholds=thresholds,
                provenance=Provenance("import", f"{where.name}:{number}", at, run_id),
            )
        )
    return devices, problems


def _coordinate(text: str, limit: float) -> bool:
    try:
        return -limit <= float(text) <= limit
    except ValueError:
        return False


def _line_of(problem: str) -> int:
    found = re.match(r"line (\d+)", problem)
    return int(found.group(1)) if found else 0


async def import_devices(store: RegistryStore, path: str | Path, *, at: dt.datetime | None = None) -> Imported:
    """Check every row of the file and register all its devices, or none (ImportErrors)."""
    where = Path(path)
    try:
        raw = where.read_bytes()
    except OSError as error:
        raise InvalidInput("file", str(where), f"cannot be read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ImportErrors(str(where), [f"line {line}: not UTF-8 (save the file as UTF-8)"]) from None
    moment = at or dt.datetime.now(dt.timezone.utc)
    devices, problems = parse_devices(where, text, at=moment, run_id=f"import-{moment:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}")
    lines = {device.code: int(device.provenance.record_id.rsplit(":", 1)[1]) for device in devices if device.provenance}
    codes = sorted({device.place_code for device in devices})
    places = dict(zip(codes, await store.places(codes, Scope.everything()))) if codes else {}
    for device in devices:
        place = places.get(device.place_code)
        if place is None:
            problems.append(f"line {lines[device.code]}, column place: no place {device.place_code!r} is known")
        elif place.level not in MOUNTS:
            problems.append(
                f"line {lines[device.code]}, column place: {device.place_code} is a {place.level.name.lower()}; "
                "a device is installed at an estate, a building or an entrance"
            )
    if problems:
        problems.sort(key=_line_of)
        raise ImportErrors(str(where), problems)
    if not devices:
        raise ImportErrors(str(where), ["line 1: no devices in the file"])
    inserted, updated = await store.register_devices(devices)
    return Imported(inserted, updated, len(devices))
