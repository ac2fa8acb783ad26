"""`hub bench`: the figures in BENCHMARKS.md, each beside a baseline measured in the same run.

- bulk load of the `district` preset through the store port, beside raw `sqlite3.executemany`
  of the same rows into the same schema (target: at least a quarter of the raw rate);
- latency p50/p99 over HTTP on the `city` preset of `house(code)`, `place(code){children}` and
  `stats(scope:"370200", groupBy: DISTRICT)` (targets: house < 5 ms p50, stats < 50 ms p50);
- requests/s of `house(code)` beside a bare Starlette route returning the same JSON;
- per-value SM4 sealing and SM3 blind indexes through OpenSSL beside gmssl's pure Python
  (target: OpenSSL at least 20× faster), and SM2 signs and verifies per second;
- Open311 `requests.json` latency p50/p99 as a city token with 20,000 cases, beside `/healthz`;
- device telemetry ingested per second over a real Mosquitto, beside `mosquitto_sub` reading
  the same stream (target: at least half), and alarm-to-case latency (target: p99 < 200 ms);
- the graph store (FalkorDB) beside SQLite on the same records: load rate, `house(code)` and
  `stats(groupBy: STREET)` over HTTP, FalkorDB's memory (hub.bench.graph);
- an owners' vote on an estate of 5,000 houses (hub.bench.votes): `castBallot` ballots/s over HTTP
  beside `{ me { role } }` at the same concurrency (target ≥ 200/s), closing and publishing
  (target < 2 s), `hub votes verify` (target < 10 s) and inclusion proofs (target < 10 ms);
- the owners' money books (hub.bench.funds): a ¥1,000,000.00 repair apportioned over 5,000
  houses and debited (target < 1 s, exact), journal entries appended per second (target ≥
  2,000), a journal of 1,000,000 entries verified (target < 60 s), inclusion proofs (target <
  10 ms) and a period statement (target < 200 ms);
- the facilities' overdue sweep (hub.bench.facilities) over the city preset's number of devices
  with life records: the sweep that raises the newly overdue and opens their cases, and the
  steady sweep (target < 5 s each), beside reading every device row.
- firms' credit (hub.bench.credit): a month's scores for every firm of the `city` preset's
  firms, estates and cases in one pass (target < 60 s), beside the one grouped case read.
- several processes (hub.bench.workers): `house(code)` requests/s from one hub process and from
  `hub serve --workers 2` (through Redis), beside the bare Starlette route, on the city preset.
- the demo city's build (hub.bench.build): `hub demo --preset city --no-sources` into a fresh
  SQLite file and a fresh PostgreSQL database, each its own process: wall time, records/s, peak
  RSS and the time of each phase (target < 240 s on each).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from graph.errors import HubError
from hub.bench.ciphers import measure_ciphers
from hub.bench.devices import measure_devices, render_devices
from hub.bench.http import measure_http
from hub.bench.load import measure_load
from hub.bench.machine import describe
from hub.bench.open311 import measure_open311, render_open311
from hub.bench.registry import measure_registry, render_registry
from hub.bench.report import render, render_http, render_machine


SECTIONS = ("core", "http", "registry", "open311", "devices", "graph", "votes", "funds", "facilities", "credit", "dispatch", "workers", "build")


def _sections(only: str | None) -> set[str]:
    if not only:
        return set(SECTIONS)
    chosen = {part.strip() for part in only.split(",") if part.strip()}
    unknown = chosen - set(SECTIONS)
    if unknown or not chosen:
        raise HubError(f"--only: {', '.join(sorted(unknown)) or only!r} is not a section; use {', '.join(SECTIONS)}")
    return chosen


def run_benchmarks(arguments: argparse.Namespace) -> int:
    quick = bool(arguments.quick)
    sections = _sections(getattr(arguments, "only", None))
    machine = describe()
    report = render_core(arguments, machine, quick) if "core" in sections else render_machine(machine, quick)
    if "http" in sections and "core" not in sections:  # core measures HTTP on the city preset already
        report += "\n" + render_http_only(arguments, quick)
    if "registry" in sections:
        print("measuring registry syncs…", flush=True)
        report += "\n" + "\n".join(render_registry(asyncio.run(measure_registry("small" if quick else "district")))) + "\n"
    if "open311" in sections:
        print("measuring Open311 requests.json…", flush=True)
        report += "\n" + "\n".join(render_open311(measure_open311(cases=2_000 if quick else 20_000))) + "\n"
    if "devices" in sections:
        print("measuring device ingestion over MQTT…", flush=True)
        report += "\n" + "\n".join(render_devices(measure_devices(messages=5_000 if quick else 50_000))) + "\n"
    if "graph" in sections:
        from hub.bench.graph import measure_graph, render_graph

        print("measuring the graph store beside SQLite…", flush=True)
        preset = "small" if quick else getattr(arguments, "graph_preset", None) or "district"
        report += "\n" + "\n".join(render_graph(measure_graph(preset, min(arguments.requests, 300) if quick else arguments.requests))) + "\n"
    if "votes" in sections:
        from hub.bench.votes import measure_votes, render_votes

        print("measuring an owners' vote…", flush=True)
        houses = 200 if quick else getattr(arguments, "votes_houses", None) or 5_000
        concurrency = 8 if quick else getattr(arguments, "votes_concurrency", None) or 32
        figures = measure_votes(houses, concurrency, min(arguments.requests, 50) if quick else arguments.requests)
        report += "\n" + "\n".join(render_votes(figures)) + "\n"
    if "dispatch" in sections:
        from hub.bench.dispatch import measure_dispatch, render_dispatch

        dispatched = measure_dispatch(10, 10, 100, 50) if quick else measure_dispatch()
        report += "\n" + "\n".join(render_dispatch(dispatched)) + "\n"
    if "funds" in sections:
        from hub.bench.funds import measure_funds, render_funds

        print("measuring the owners' money books…", flush=True)
        houses = 200 if quick else getattr(arguments, "funds_houses", None) or 5_000
        entries = 20_000 if quick else getattr(arguments, "funds_entries", None) or 1_000_000
        report += "\n" + "\n".join(render_funds(measure_funds(houses, entries, 500 if quick else 4_000))) + "\n"
    if "facilities" in sections:
        from hub.bench.facilities import measure_facilities, render_facilities

        print("measuring the facilities' overdue sweep…", flush=True)
        devices = 3_000 if quick else getattr(arguments, "facilities_devices", None)
        overdue = getattr(arguments, "facilities_overdue", None) or 0.001
        report += "\n" + "\n".join(render_facilities(measure_facilities(devices, overdue))) + "\n"
    if "credit" in sections:
        from hub.bench.credit import measure_credit, render_credit

        print("measuring firms' credit…", flush=True)
        report += "\n" + "\n".join(render_credit(measure_credit(0.05 if quick else 1.0))) + "\n"
    if "workers" in sections:
        from hub.bench.workers import measure_workers, render_workers

        print("measuring requests/s with several hub processes…", flush=True)
        with _city_store(arguments, quick) as (city_db, keys_file, _, _):
            report += "\n" + "\n".join(render_workers(measure_workers(city_db, keys_file, 3.0 if quick else 10.0))) + "\n"
    if "build" in sections:
        from hub.bench.build import measure_build, render_build

        print("measuring the demo city's build…", flush=True)
        preset = "small" if quick else getattr(arguments, "build_preset", None) or "city"
        load = "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg()) + " at the start"
        report += "\n" + "\n".join(render_build(measure_build(preset), load)) + "\n"
    print(report)
    if arguments.output:
        Path(arguments.output).write_text(report, encoding="utf-8")
    return 0


def _bench_store(arguments: argparse.Namespace, quick: bool, folder: str) -> tuple[Path, Path, str, float | None]:
    """The store the HTTP figures read (built once if missing): its file, key file, preset, and
    the seconds its build took in this run (None: it existed)."""
    preset = "small" if quick else getattr(arguments, "http_preset", None) or "city"
    if quick:
        db = Path(folder) / "small.sqlite"
    elif getattr(arguments, "http_db", None):
        db = Path(arguments.http_db)
    else:
        db = Path(arguments.city_db) if preset == "city" else Path(f"var/bench-{preset}.sqlite")
    keys_file = db.with_name(db.name + ".keys")
    build_seconds = None
    if not db.exists():
        print(f"building the {preset} preset into {db} (once)…", flush=True)
        started = time.perf_counter()
        asyncio.run(_build(db, keys_file, preset))
        build_seconds = time.perf_counter() - started
    elif not keys_file.exists():
        raise HubError(f"{db} has no key file {keys_file} beside it: delete it to rebuild")
    return db, keys_file, preset, build_seconds


def render_http_only(arguments: argparse.Namespace, quick: bool) -> str:
    """HTTP latency of house(code), place{children} and stats, and house(code)'s rate beside the
    bare Starlette route's, measured in the same run (the `http` section)."""
    with _city_store(arguments, quick) as (db, keys_file, preset, build_seconds):
        print(f"measuring HTTP latency and request rate on the {preset} preset…", flush=True)
        latencies, rates, _ = measure_http(db, keys_file, arguments.requests, 3.0 if quick else 10.0, scope_costs=False)
    return render_http(preset, build_seconds, latencies, rates)


def render_core(arguments: argparse.Namespace, machine: dict[str, str], quick: bool) -> str:
    """Ciphers, bulk load, and HTTP latency and rates on the city preset."""
    print("measuring ciphers…", flush=True)
    ciphers = measure_ciphers(0.25 if quick else 1.0)
    print("measuring bulk load…", flush=True)
    load = asyncio.run(measure_load("small" if quick else "district"))
    with _city_store(arguments, quick) as (city_db, keys_file, preset, build_seconds):
        print("measuring HTTP latency and request rate…", flush=True)
        # the scope costs are measured by hub.bench.http; the report does not show them yet
        latencies, rates, scope_costs = measure_http(city_db, keys_file, arguments.requests, 3.0 if quick else 10.0)
    return render(
        machine, load, preset, build_seconds, latencies, rates, quick=quick, ciphers=ciphers, scope_costs=scope_costs
    )


@contextlib.contextmanager
def _city_store(arguments: argparse.Namespace, quick: bool) -> Iterator[tuple[Path, Path, str, float | None]]:
    """The HTTP figures' store (`_bench_store`: the city preset's `--city-db` unless
    `--http-preset`/`--http-db` say otherwise; the small preset in a temporary folder when
    quick), its key file, the preset, and the seconds building it took in this run."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder:
        yield _bench_store(arguments, quick, folder)


async def _build(path: Path, keys_file: Path, preset: str) -> None:
    """Build the preset into a fresh store, its owners sealed with a new key file beside it."""
    from graph.ciphers.keyring import Keyring
    from graph import open_store
    from hub import demo
    from hub.loading import load

    keys = Keyring.generate()
    keys.save(keys_file, overwrite=True)
    store = await open_store(f"sqlite:///{path}", sealer=keys.sealer())
    try:
        await load(store, demo.generate(preset, 2020), total=demo.estimate(preset), description=preset)
    finally:
        await store.close()
