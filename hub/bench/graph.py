"""`hub bench --only graph`: the Cypher store on FalkorDB beside the SQL store on SQLite, the same
records, in one run.

- bulk load of one preset through the store port into each (target: FalkorDB at least a third of
  SQLite's rate);
- `house(code)` p50/p99 over HTTP (`hub serve` on each store, the same house codes; target:
  FalkorDB within 1.5× of SQLite) and `stats(groupBy: STREET)` over the whole city (target
  p50 < 50 ms on both);
- the FalkorDB server's memory (`used_memory`) once the preset is loaded.

Both stores are written from one generation of the preset, sealed with one key file, so every
answer is comparable (the report says whether the two servers' answers were equal).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.model import Batch
from hub.bench.http import HOUSE, Latency, free_port, latency, sample_codes, server
from hub.graphserver import GraphServer

STATS_BY_STREET = '{ stats(scope: "370200", groupBy: STREET) { place { code name } houses floorArea owners estates buildings } }'
LOAD_RATIO = 1 / 3
HOUSE_RATIO = 1.5
STATS_MS = 50.0


@dataclass(frozen=True, slots=True)
class StoreFigures:
    backend: str
    records: int
    load_seconds: float
    house: Latency
    stats: Latency

    @property
    def load_rate(self) -> float:
        return self.records / self.load_seconds


@dataclass(frozen=True, slots=True)
class GraphFigures:
    preset: str
    sqlite: StoreFigures
    falkordb: StoreFigures
    falkordb_memory: int
    same_answers: bool


async def _load(url: str, keys: Keyring, batches: Iterable[Batch]) -> tuple[int, float]:
    """Write the batches, timing the writes alone (generating them is not counted): records, seconds."""
    store = await open_store(url, sealer=keys.sealer())
    records, seconds = 0, 0.0
    try:
        for batch in batches:
            started = time.perf_counter()
            await store.write(batch)
            seconds += time.perf_counter() - started
            records += len(batch)
        return records, seconds
    finally:
        await store.close()


async def _city_token(url: str, keys: Keyring) -> str:
    from hub.auth.issuing import issue_token

    store = await open_store(url, sealer=keys.sealer())
    try:
        return await issue_token(store, keys, "city", "370200", "hub bench dashboard", dt.timedelta(days=1), issuer="bench")
    finally:
        await store.close()


def _serve(url: str, keys_file: Path, port: int) -> list[str]:
    import sys

    return [sys.executable, "-m", "hub.cli", "serve", "--db", url, "--keys", str(keys_file), "--port", str(port), "--rate", "100000"]


def _answers(base: str, token: str, houses: Sequence[str]) -> list[object]:
    """What the server says of a few houses and of the streets: compared across the backends."""
    found: list[object] = []
    with httpx.Client(timeout=30, headers={"authorization": f"Bearer {token}"}) as client:
        for code in houses[:20]:
            found.append(client.post(f"{base}/graphql", json={"query": HOUSE, "variables": {"code": code}}).json())
        found.append(client.post(f"{base}/graphql", json={"query": STATS_BY_STREET}).json())
    return found


def measure_graph(preset: str, requests: int) -> GraphFigures:
    from hub import demo

    loads: dict[str, tuple[int, float]] = {}
    figures: dict[str, StoreFigures] = {}
    answers: dict[str, list[object]] = {}
    with tempfile.TemporaryDirectory(prefix="hub-bench-graph-") as folder, GraphServer() as graph_server:
        keys = Keyring.generate()
        keys_file = Path(folder) / "hub.keys"
        keys.save(keys_file, overwrite=True)
        sqlite_file = Path(folder) / "hub.sqlite"
        urls = {"sqlite": f"sqlite:///{sqlite_file}", "falkordb": graph_server.url("bench")}
        for backend, url in urls.items():
            # the same seed generates the same records again for each store: a city's 8.8
            # million records are not held in memory twice over
            print(f"loading the {preset} preset into {backend}…", flush=True)
            loads[backend] = asyncio.run(_load(url, keys, demo.generate(preset, 2020)))
        memory = graph_server.memory()
        houses = sample_codes(sqlite_file, 8, 200)
        for backend, url in urls.items():
            print(f"measuring house(code) and stats over HTTP on {backend}…", flush=True)
            token = asyncio.run(_city_token(url, keys))
            port = free_port()
            with server(_serve(url, keys_file, port), port) as base:
                house = latency(base, "house(code)", HOUSE, houses, requests, token)
                stats = latency(base, "stats(groupBy: STREET)", STATS_BY_STREET, [None], requests, token)
                answers[backend] = _answers(base, token, houses)
            figures[backend] = StoreFigures(backend, *loads[backend], house, stats)
    return GraphFigures(preset, figures["sqlite"], figures["falkordb"], memory, answers["sqlite"] == answers["falkordb"])


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render_graph(figures: GraphFigures) -> list[str]:
    sqlite, falkordb = figures.sqlite, figures.falkordb
    load_ratio = falkordb.load_rate / sqlite.load_rate
    house_ratio = falkordb.house.p50_ms / sqlite.house.p50_ms
    return [
        f"### The graph store: FalkorDB beside SQLite, `{figures.preset}` preset, same records, one run",
        "",
        "| | SQLite (SqlStore) | FalkorDB (CypherStore) | target |",
        "|---|---:|---:|---|",
        f"| bulk load through the port, records/s ({figures.sqlite.records:,} records) | {sqlite.load_rate:,.0f} | "
        f"{falkordb.load_rate:,.0f} | FalkorDB ≥ 1/3 of SQLite: {_verdict(load_ratio >= LOAD_RATIO)} ({load_ratio:.2f}) |",
        f"| `house(code)` over HTTP, p50 / p99 ms ({sqlite.house.samples} requests) | {sqlite.house.p50_ms:.2f} / "
        f"{sqlite.house.p99_ms:.2f} | {falkordb.house.p50_ms:.2f} / {falkordb.house.p99_ms:.2f} | FalkorDB p50 ≤ 1.5× "
        f"SQLite's: {_verdict(house_ratio <= HOUSE_RATIO)} ({house_ratio:.2f}×) |",
        f"| `stats(scope: \"370200\", groupBy: STREET)` over HTTP, p50 / p99 ms | {sqlite.stats.p50_ms:.2f} / "
        f"{sqlite.stats.p99_ms:.2f} | {falkordb.stats.p50_ms:.2f} / {falkordb.stats.p99_ms:.2f} | p50 < 50 ms on both: "
        f"{_verdict(max(sqlite.stats.p50_ms, falkordb.stats.p50_ms) < STATS_MS)} |",
        f"| FalkorDB server memory once loaded (`used_memory`) | — | {figures.falkordb_memory / 2**20:,.0f} MiB | reported |",
        "",
        "The two servers' answers to 20 `house(code)` queries and the street stats were "
        + ("**equal**." if figures.same_answers else "**different** (a defect: see the run's output)."),
        "",
    ]
