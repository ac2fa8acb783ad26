"""The registry read from its exports (kind `registry-files`): a folder of CSV or JSON-lines files.

Registries that cannot open their exchange database to the hub drop nightly exports instead:
`bdcdy`, `qlr` and `djxx`, each as `.csv` (a header row naming the columns) or `.jsonl` (one JSON
object per line), UTF-8 with or without a BOM, or GBK / GB18030 as older systems write them. The
streams and cursors are the database kind's; a file is read whole and sorted by (gxsj, key) in
memory, which suits exports of a district (a few hundred thousand rows).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Check, Config, ConfigField, ConfigSchema, ConnectorError, FieldType, SourceRecord, Stream
from connectors.registry import exchange
from connectors.registry.streams import (
    SPECS,
    RegistryStream,
    StreamSpec,
    parse_cursor,
    row_data,
    with_holder_numbers,
)

ENCODINGS = ("utf-8", "gbk", "gb18030")
SUFFIXES = (".csv", ".jsonl")


class RegistryFiles:
    """A folder of 不动产登记 exports."""

    kind: ClassVar[str] = "registry-files"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("path", FieldType.PATH, "folder holding bdcdy, qlr and djxx as .csv or .jsonl"),
            ConfigField(
                "encoding",
                FieldType.STRING,
                "text encoding of the files (UTF-8 may start with a BOM)",
                required=False,
                default="utf-8",
                choices=ENCODINGS,
            ),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self.folder = Path(config["path"]).expanduser()
        encoding = config.values.get("encoding") or "utf-8"
        self.encoding = "utf-8-sig" if encoding == "utf-8" else encoding
        self._streams = [FileStream(self, spec) for spec in SPECS]

    def streams(self) -> Sequence[Stream]:
        return self._streams

    def file(self, table: str) -> Path:
        """The export of `table`: exactly one of table.csv and table.jsonl."""
        if not self.folder.is_dir():
            raise ConnectorError(f"{self.name}: the export folder {self.folder} does not exist or is not a folder")
        found = [self.folder / f"{table}{suffix}" for suffix in SUFFIXES if (self.folder / f"{table}{suffix}").is_file()]
        if not found:
            raise ConnectorError(f"{self.name}: no {table}.csv or {table}.jsonl in {self.folder}")
        if len(found) > 1:
            raise ConnectorError(f"{self.name}: both {table}.csv and {table}.jsonl in {self.folder}; keep one")
        return found[0]

    def rows(self, table: str) -> Iterator[tuple[int, Mapping[str, Any] | None, str]]:
        """(line number, row or None when the line is unreadable, the line's text) of an export."""
        path = self.file(table)
        try:
            text = path.read_text(encoding=self.encoding)
        except UnicodeDecodeError as error:
            raise ConnectorError(
                f"{self.name}: {path.name} is not {self.encoding.removesuffix('-sig')} text "
                f"(byte {error.start}); set encoding to one of {', '.join(ENCODINGS)}"
            ) from None
        except OSError as error:
            raise ConnectorError(f"{self.name}: cannot read {path}: {error.strerror or error}") from None
        if path.suffix == ".csv":
            yield from self._csv(path, text, table)
        else:
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                yield number, row if isinstance(row, dict) else None, line

    def _csv(self, path: Path, text: str, table: str) -> Iterator[tuple[int, Mapping[str, Any] | None, str]]:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [column for column in exchange.COLUMNS[table] if column not in header and column != "dh"]
        if missing:
            raise ConnectorError(
                f"{self.name}: {path.name} has no column {', '.join(missing)} (its header: {', '.join(header) or 'empty'})"
            )
        reader.fieldnames = header
        for row in reader:
            yield reader.line_num, row, ""

    async def check(self) -> Check:
        lines = []
        try:
            for spec in SPECS:
                count = sum(1 for _ in self.rows(spec.table))
                lines.append(f"{spec.name} ({self.file(spec.table).name}): readable, {count} rows")
        except ConnectorError as error:
            return Check(False, str(error))
        return Check(True, f"{self.name}: {self.folder}: " + "; ".join(lines))

    async def close(self) -> None:
        """Nothing stays open between reads."""


class FileStream(RegistryStream):
    def __init__(self, source: RegistryFiles, spec: StreamSpec) -> None:
        super().__init__(spec)
        self.source = source

    def _records(self) -> list[SourceRecord]:
        numbers: dict[str, Any] = {}
        if self.spec.table == exchange.REGISTRATIONS:
            for _, row, _ in self.source.rows(exchange.HOLDERS):
                if row is not None and row.get("qlrid"):
                    numbers[str(row["qlrid"]).strip()] = row.get("zjhm")
        records: list[SourceRecord] = []
        name = f"{self.spec.table}{self.source.file(self.spec.table).suffix}"
        for line, row, text in self.source.rows(self.spec.table):
            if row is None:  # not a JSON object: set aside as a schema mismatch, with its text
                key = f"{name}:{line}"
                records.append(self.record({"line": line, "text": text[:200]}, None, key))
                continue
            data, stamp = row_data(self.spec, {str(k).strip().lower(): v for k, v in row.items() if k is not None})
            keyless = None if data.get(self.spec.key) is not None else f"{name}:{line}"
            if self.spec.table == exchange.REGISTRATIONS:
                with_holder_numbers(data, numbers.get(data.get("qlrid") or ""), numbers.get(data.get("yqlrid") or ""))
            records.append(self.record(data, stamp, keyless))
        records.sort(key=lambda record: record.cursor)
        return records

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        if after is not None:
            try:
                parse_cursor(after)
            except ValueError as error:
                raise ConnectorError(f"{self.source.name}: stream {self.name}: {error}; reset the connector's cursors") from None
        for record in self._records():
            if after is None or record.cursor > after:
                yield record
