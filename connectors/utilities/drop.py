"""A folder where a utility drops CSV files (kind `utilities-csv`).

Files are `accounts*.csv`, `bills*.csv` and `outages*.csv` (columns as
`connectors.utilities.reference.COLUMNS`), in UTF-8, UTF-8 with a BOM (Excel) or GBK (Windows
exports). A stream reads its files in (modification time, name) order; the cursor
`mtime_ns|name|row` is the last row checkpointed, so a new drop is read from its first row and
a file the runner stopped in is read on from the next row. A file modified less than
`settle_seconds` ago may still be being written: it and every later file wait for the next run,
so the cursor never passes a file half read.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Check, Config, ConfigField, ConfigSchema, ConnectorError, FieldType, SourceRecord, Stream
from connectors.utilities.streams import STREAMS, record_key, utility_streams
from graph.utilities import Utility

_LISTS = ("place_codes", "addresses")
_TRUE, _FALSE = ("是", "true", "1", "yes", "y"), ("否", "false", "0", "no", "n")


def decode(raw: bytes, encoding: str) -> str:
    """The file's text: UTF-8 (BOM or not) first, then GB18030 (a superset of GBK)."""
    if encoding != "auto":
        return raw.decode(encoding)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def typed(row: dict[str, str], utility: Utility) -> dict[str, Any]:
    """A CSV row as the JSON values the streams expect; what cannot be converted stays text, so
    the stream's schema names it. Sums of money stay text: the bills stream reads them in whole
    fen exactly (`graph.utilities.fen_of`), never through a float."""
    data: dict[str, Any] = {}
    for name, value in row.items():
        if name is None:
            continue
        text = (value or "").strip()
        if not text:
            continue
        if name in _LISTS:
            data[name] = [item.strip() for item in text.split(";") if item.strip()]
        elif name == "planned":
            lowered = text.lower()
            data[name] = True if lowered in _TRUE else False if lowered in _FALSE else text
        else:
            data[name.strip()] = text
    data.setdefault("utility", utility.value)
    return data


class UtilitiesDrop:
    kind: ClassVar[str] = "utilities-csv"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("folder", FieldType.PATH, "the folder the utility drops its CSV files in"),
            ConfigField("utility", FieldType.STRING, "which utility this is", choices=tuple(u.value for u in Utility)),
            ConfigField("encoding", FieldType.STRING, "file encoding: auto (UTF-8, else GBK), utf-8, gbk", required=False, default="auto"),
            ConfigField("settle_seconds", FieldType.INTEGER, "a file changed more recently may still be being written", required=False, default=5),
            ConfigField("within", FieldType.STRING, "a place code bounding address matching", required=False),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self.utility = Utility(config["utility"])
        self.folder = Path(str(config["folder"])).expanduser()

    def files(self, stream: str) -> list[tuple[int, str, Path]]:
        """The stream's settled files in cursor order; stops at the first one still changing."""
        if not self.folder.is_dir():
            raise ConnectorError(f"{self.name}: the drop folder {self.folder} does not exist or is not a folder")
        found = sorted((path.stat().st_mtime_ns, path.name, path) for path in self.folder.glob(f"{stream}*.csv") if path.is_file())
        settled: list[tuple[int, str, Path]] = []
        horizon = time.time_ns() - int(self.config["settle_seconds"]) * 1_000_000_000
        for mtime, name, path in found:
            if mtime > horizon:
                break  # still being written (or just finished): next run
            settled.append((mtime, name, path))
        return settled

    def _reader(self, stream: str) -> Any:
        async def read(after: str | None) -> AsyncIterator[SourceRecord]:
            position: tuple[int, str, int] | None = None
            if after:
                saved_mtime, saved_name, saved_row = after.split("|")
                position = (int(saved_mtime), saved_name, int(saved_row))
            for mtime, name, path in self.files(stream):
                if position is not None and (mtime, name) < position[:2]:
                    continue
                start = position[2] if position is not None and (mtime, name) == position[:2] else 0
                try:
                    text = decode(path.read_bytes(), str(self.config["encoding"]))
                except (OSError, UnicodeDecodeError, LookupError) as error:
                    raise ConnectorError(f"{self.name}: cannot read {path}: {error}") from None
                if path.stat().st_mtime_ns != mtime:
                    return  # changed while read: the next run reads it whole
                for number, line in enumerate(csv.DictReader(io.StringIO(text)), 1):
                    if number <= start:
                        continue
                    data = typed(line, self.utility)
                    key = record_key(stream, data)
                    yield SourceRecord(stream, key, f"{mtime:020d}|{name}|{number:08d}", data)

        return read

    def streams(self) -> Sequence[Stream]:
        return utility_streams(self.utility, self._reader, within=self.config.values.get("within"))

    async def check(self) -> Check:
        try:
            counts = {stream: len(self.files(stream)) for stream in STREAMS}
        except (ConnectorError, OSError) as error:
            return Check(False, f"{self.name}: {error}" if self.name not in str(error) else str(error))
        if not any(counts.values()):
            return Check(False, f"{self.name}: no accounts*.csv, bills*.csv or outages*.csv in {self.folder}")
        shown = ", ".join(f"{count} {stream} file(s)" for stream, count in counts.items())
        return Check(True, f"{self.name}: {self.folder} holds {shown}")

    async def close(self) -> None:
        """Nothing to release: files are opened and closed per read."""
