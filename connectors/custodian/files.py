"""A folder of the custodian's statement files (kind `custodian`).

    [connectors.fund]
    kind = "custodian"
    folder = "/srv/drops/qd-fund-centre"   # the statement files, *.csv and *.json
    every = "1d"

Files are read in (modification time, name) order; each file's name without its suffix is its
**statement id** (`2026-01` for `2026-01.csv`): 1 to 40 printable characters without ':', '|'
or white space, part of every booked line's reference `statement:<connector>:<statement
id>:<流水号>` (see `connectors.custodian.lines`). So a statement re-sent under the same name books
nothing twice, and a connector must keep its name (renamed, it would read its files as new).

The cursor `mtime_ns|name|row/rows` is the last line checkpointed: a file whose last line is
checkpointed (`row == rows`) is not opened again, a file the runner stopped in is read on from
the next line (its lines already booked are found booked and counted unchanged), and a new file
is read from its first line. A file modified less than `settle_seconds` ago may still be being
written: it and every later file wait for the next run. A file that is not a statement
(`connectors.custodian.statements`) is one dead letter, and the next file is read.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Check, Config, ConfigField, ConfigSchema, ConnectorError, FieldType, SourceRecord, Stream
from connectors.custodian.lines import LineStream, STREAM
from connectors.custodian.statements import STATEMENT, Columns, StatementError, decode, rows

SUFFIXES = (".csv", ".json")
STATEMENT_ID = re.compile(r"[^\s:|]{1,40}")


def statement_id(path: Path) -> str | None:
    """The file's statement id (its name without the suffix), None when it breaks the rule."""
    stem = path.stem
    return stem if STATEMENT_ID.fullmatch(stem) and stem.isprintable() else None


class CustodianStatements:
    """The custodian's statements in a folder (see the module docstring)."""

    kind: ClassVar[str] = "custodian"
    columns: ClassVar[Columns] = STATEMENT
    """The files' columns (a subclass reading other files of the same shape sets its own)."""
    stream: ClassVar[str] = STREAM
    noun: ClassVar[str] = "statement"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("folder", FieldType.PATH, "the folder the custodian's statement files (*.csv, *.json) are put in"),
            ConfigField(
                "settle_seconds", FieldType.INTEGER, "a file changed more recently may still be being written",
                required=False, default=5, bounds=(0, 86_400),
            ),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self.folder = Path(str(config["folder"])).expanduser()

    def files(self) -> list[tuple[int, str, Path]]:
        """The settled statement files in cursor order; stops at the first one still changing."""
        if not self.folder.is_dir():
            raise ConnectorError(f"{self.name}: the {self.noun}s folder {self.folder} does not exist or is not a folder")
        found = sorted(
            (path.stat().st_mtime_ns, path.name, path)
            for path in self.folder.iterdir()
            if path.suffix.lower() in SUFFIXES and path.is_file()
        )
        horizon = time.time_ns() - int(self.config["settle_seconds"]) * 1_000_000_000
        settled: list[tuple[int, str, Path]] = []
        for mtime, name, path in found:
            if mtime > horizon:
                break  # still being written (or just finished): next run
            settled.append((mtime, name, path))
        return settled

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        """The lines after the cursor `after`, file by file (see the module docstring)."""
        position: tuple[int, str, int, int] | None = None
        if after:
            try:
                mtime_text, name, counted = after.split("|")
                row_text, _, rows_text = counted.partition("/")
                position = (int(mtime_text), name, int(row_text), int(rows_text))
            except ValueError:
                raise ConnectorError(f"{self.name}: the saved cursor {after!r} is not mtime|name|row/rows; run it with --full") from None
        for mtime, name, path in self.files():
            start = 0
            if position is not None:
                if (mtime, name) < position[:2]:
                    continue
                if (mtime, name) == position[:2]:
                    if position[2] >= position[3]:
                        continue  # read to its end already: not opened again
                    start = position[2]
            async for record in self._file(mtime, name, path, start):
                yield record

    async def _file(self, mtime: int, name: str, path: Path, start: int) -> AsyncIterator[SourceRecord]:
        ident = statement_id(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise ConnectorError(f"{self.name}: cannot read {path}: {error}") from None
        if path.stat().st_mtime_ns != mtime:
            return  # changed while read: the next run reads it whole
        try:
            if ident is None:
                raise StatementError(
                    "has a name whose stem is not a statement id (1 to 40 printable characters without ':', '|' or spaces)"
                )
            lines = list(rows(decode(raw), path.suffix.lower(), self.columns))
        except StatementError as problem:
            if start == 0:
                said = {"statement": ident or name[:100], "file": name, "row": 1, "problem": str(problem)}
                yield SourceRecord(self.stream, name[:100], f"{mtime:020d}|{name}|{1:08d}/{1:08d}", said)
            return
        total = len(lines)
        first: dict[str, int] = {}
        for row, line in enumerate(lines, 1):
            given = line.get("line", "")
            earlier = first.setdefault(given, row) if given else row
            if row <= start:
                continue
            data: dict[str, Any] = {"statement": ident, "file": name, "row": row, **line}
            key = f"{ident}:{given or '#' + str(row)}"
            if earlier != row:
                data["repeats"] = earlier
                key = f"{key}@{row}"
            yield SourceRecord(self.stream, key, f"{mtime:020d}|{name}|{row:08d}/{total:08d}", data)

    def streams(self) -> Sequence[Stream]:
        return [LineStream(self.name, self.read)]

    async def check(self) -> Check:
        try:
            files = self.files()
        except (ConnectorError, OSError) as error:
            return Check(False, str(error) if self.name in str(error) else f"{self.name}: {error}")
        if not files:
            return Check(False, f"{self.name}: no {self.noun} files (*.csv, *.json) in {self.folder}")
        return Check(True, f"{self.name}: {self.folder} holds {len(files)} {self.noun} file(s), the newest {files[-1][1]}")

    async def close(self) -> None:
        """Nothing to release: files are opened and closed per read."""
