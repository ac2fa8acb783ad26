"""Registry sync rates: a full sync of a demo preset's exchange database, and an incremental sync
of 1% changes (target: under 5 s), beside a raw SELECT of the same rows from the same database.

The exchange database is a SQLite file by default, or the PostgreSQL database named by
`HUB_BENCH_REGISTRY_URL` (its tables are replaced). The hub store is a fresh SQLite file holding
the preset's places (as the property platform would have them) and nothing else, so the full
sync writes every unit, holder and ownership; with `HUB_BENCH_STORE_URL` naming a PostgreSQL
database (dropped and created afresh: nothing in it is kept) the same syncs are measured again
with the hub store there, each beside a raw read of its own run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.registry import exchange
from connectors.registry.database import RegistryDatabase
from connectors.sourcedb import source_url
from connectors.registry.reference import build_exchange, record_changes
from connectors.heap import collecting_less
from connectors.runner import sync
from graph.ciphers.sealing import Sealer
from graph.levels import Level
from graph.model import Batch
from graph import open_store

INCREMENTAL_TARGET_SECONDS = 5.0
FULL_SHARE_TARGET = 0.20
"""The full sync's rate as a share of the raw read's (issue 16)."""
CHANGES_AT = dt.datetime(2026, 6, 1, 9, 0)


@dataclass(frozen=True, slots=True)
class RegistryFigures:
    preset: str
    backend: str
    store: str
    records: int
    full_seconds: float
    raw_rows: int
    raw_seconds: float
    changed: int
    incremental_read: int
    incremental_seconds: float

    @property
    def full_rate(self) -> float:
        return self.records / self.full_seconds

    @property
    def raw_rate(self) -> float:
        return self.raw_rows / self.raw_seconds


async def _raw_select(url: str) -> tuple[int, float]:
    """Every row of the three tables, in cursor order, as a client reading them would."""
    engine = create_async_engine(source_url("bench", url))
    tables = exchange.exchange_tables()
    rows = 0
    started = time.perf_counter()
    try:
        async with engine.connect() as connection:
            for name in (exchange.UNITS, exchange.HOLDERS, exchange.REGISTRATIONS):
                table = tables.by_name(name)
                result = await connection.stream(select(table).order_by(table.c.gxsj, table.c[exchange.KEYS[name]]))
                async for _ in result:
                    rows += 1
    finally:
        await engine.dispose()
    return rows, time.perf_counter() - started


async def measure_registry(preset: str, url: str | None = None, seed: int = 2020) -> list[RegistryFigures]:
    """The syncs into a SQLite hub store, and into PostgreSQL too when `HUB_BENCH_STORE_URL` names one."""
    stores: list[str | None] = [None]
    if os.environ.get("HUB_BENCH_STORE_URL"):
        stores.append(os.environ["HUB_BENCH_STORE_URL"])
    return [await _measure(preset, url, store, seed) for store in stores]


async def _fresh_postgres(url: str) -> None:
    """The PostgreSQL database `url` names, dropped and created again empty."""
    import asyncpg

    target = make_url(url)
    if target.get_backend_name() != "postgresql" or not target.database:
        raise RuntimeError("HUB_BENCH_STORE_URL must name a PostgreSQL database (postgresql://user@host/db)")
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await connection.close()


async def _measure(preset: str, url: str | None, store_url: str | None, seed: int) -> RegistryFigures:
    from hub import demo
    from hub.loading import load

    url = url or os.environ.get("HUB_BENCH_REGISTRY_URL")
    with tempfile.TemporaryDirectory(prefix="hub-bench-registry-") as folder:
        city = await open_store(f"sqlite:///{Path(folder) / 'city.sqlite'}", sealer=Sealer.generate())
        await load(city, demo.generate(preset, seed), progress=False)
        registry_url = url or f"sqlite:///{Path(folder) / 'exchange.sqlite'}"
        await build_exchange(registry_url, city, seed=seed)
        await city.close()
        if store_url is not None:
            await _fresh_postgres(store_url)
        hub = await open_store(store_url or f"sqlite:///{Path(folder) / 'hub.sqlite'}", sealer=Sealer.generate())
        for batch in demo.generate(preset, seed):
            places = [
                dataclasses.replace(p, area_centi_m2=None, usage=None, floor=None) if p.level == Level.HOUSE else p for p in batch.places
            ]
            await hub.write(Batch(places=places))
        source = RegistryDatabase("registry", RegistryDatabase.config_schema.validate("registry", {"url": registry_url}))
        try:
            raw_rows, raw_seconds = await _raw_select(registry_url)
            started = time.perf_counter()
            with collecting_less():  # as `hub sync` runs it
                full = await sync(hub, source, batch_size=500)
            full_seconds = time.perf_counter() - started
            if full.error:
                raise RuntimeError(f"the registry bench's full sync failed: {full.error}")
            changed = await record_changes(registry_url, fraction=0.01, seed=seed, at=CHANGES_AT)
            started = time.perf_counter()
            with collecting_less():
                incremental = await sync(hub, source, batch_size=500)
            incremental_seconds = time.perf_counter() - started
            if incremental.error:
                raise RuntimeError(f"the registry bench's incremental sync failed: {incremental.error}")
        finally:
            await source.close()
            await hub.close()
    return RegistryFigures(
        preset,
        "PostgreSQL" if registry_url.startswith("postgres") else "SQLite",
        "PostgreSQL" if store_url is not None else "SQLite",
        full.counts.read,
        full_seconds,
        raw_rows,
        raw_seconds,
        changed,
        incremental.counts.read,
        incremental_seconds,
    )


def render_registry(measured: list[RegistryFigures]) -> list[str]:
    lines: list[str] = []
    for figures in measured:
        lines += ([""] if lines else []) + _render(figures)
    return lines


def _render(figures: RegistryFigures) -> list[str]:
    ok = figures.incremental_seconds < INCREMENTAL_TARGET_SECONDS
    share = figures.full_rate / figures.raw_rate
    return [
        f"### Registry sync, `{figures.preset}` preset, exchange database on {figures.backend}, hub store on {figures.store}",
        "",
        "| path | records | seconds | records/s |",
        "|---|---:|---:|---:|",
        f"| full sync (`registry-db`, 500-record batches: read, link, write, checkpoint) | {figures.records:,} "
        f"| {figures.full_seconds:.2f} | {figures.full_rate:,.0f} |",
        f"| raw SELECT of the same rows in cursor order (baseline) | {figures.raw_rows:,} | {figures.raw_seconds:.2f} "
        f"| {figures.raw_rate:,.0f} |",
        f"| incremental sync after 1% of units changed ({figures.changed:,} records changed) | {figures.incremental_read:,} "
        f"| {figures.incremental_seconds:.2f} | {figures.incremental_read / figures.incremental_seconds:,.0f} |",
        "",
        f"Incremental sync of 1% changes: {figures.incremental_seconds:.2f} s (target < {INCREMENTAL_TARGET_SECONDS:g} s: "
        f"{'met' if ok else '**missed**'}). The full sync runs at {share:.0%} of the raw read rate "
        f"(target ≥ {FULL_SHARE_TARGET:.0%}: {'met' if share >= FULL_SHARE_TARGET else '**missed**'}).",
    ]
