"""Bulk load rate through the store port beside raw `sqlite3.executemany` of the same rows."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from graph.model import Batch
from graph.ciphers.sealing import Sealer
from graph import open_store

TABLES = ("place", "firm", "owner", "management", "ownership", "place_stats")


@dataclass(frozen=True, slots=True)
class LoadFigures:
    preset: str
    records: int
    generate_seconds: float
    port_seconds: float
    refresh_seconds: float
    raw_rows: int
    raw_seconds: float

    @property
    def port_rate(self) -> float:
        return self.records / self.port_seconds

    @property
    def raw_rate(self) -> float:
        return self.raw_rows / self.raw_seconds

    @property
    def ratio(self) -> float:
        return self.port_rate / self.raw_rate


async def measure_load(preset: str, seed: int = 2020) -> LoadFigures:
    from hub import demo

    started = time.perf_counter()
    batches: list[Batch] = list(demo.generate(preset, seed))
    generate_seconds = time.perf_counter() - started
    records = sum(len(batch) for batch in batches)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder:
        port_file = Path(folder) / "port.sqlite"
        store = await open_store(f"sqlite:///{port_file}", sealer=Sealer.generate())
        started = time.perf_counter()
        for batch in batches:
            await store.write(batch)
        port_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await store.refresh_stats()
        refresh_seconds = time.perf_counter() - started
        await store.close()
        del batches

        raw_file = Path(folder) / "raw.sqlite"
        empty = await open_store(f"sqlite:///{raw_file}", sealer=Sealer.generate())  # the same schema and indexes
        await empty.close()
        raw_rows, raw_seconds = _raw_copy(port_file, raw_file, batch_size=5000)
    return LoadFigures(preset, records, generate_seconds, port_seconds, refresh_seconds, raw_rows, raw_seconds)


def _raw_copy(source: Path, target: Path, *, batch_size: int) -> tuple[int, float]:
    """Insert the rows the port wrote into an empty copy of the schema with plain executemany;
    only the inserts are timed (the rows are read into memory first)."""
    reader = sqlite3.connect(source)
    tables = {name: reader.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall() for name in TABLES[:-1]}
    columns = {name: len(reader.execute(f"SELECT * FROM {name} LIMIT 0").description) for name in tables}
    reader.close()
    writer = sqlite3.connect(target, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "cache_size=-131072", "temp_store=MEMORY"):
        writer.execute(f"PRAGMA {pragma}")
    rows = 0
    started = time.perf_counter()
    for name, content in tables.items():
        statement = f"INSERT INTO {name} VALUES ({', '.join('?' * columns[name])})"
        for start in range(0, len(content), batch_size):
            chunk = content[start : start + batch_size]
            writer.execute("BEGIN")
            writer.executemany(statement, chunk)
            writer.execute("COMMIT")
            rows += len(chunk)
    seconds = time.perf_counter() - started
    writer.close()
    return rows, seconds
