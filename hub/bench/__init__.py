"""`hub bench`: the figures in BENCHMARKS.md, each beside a baseline measured in the same run.

- bulk load of the `district` preset through the store port, beside raw `sqlite3.executemany`
  of the same rows into the same schema (target: at least a quarter of the raw rate);
- latency p50/p99 over HTTP on the `city` preset of `house(code)`, `place(code){children}` and
  `stats(scope:"370200", groupBy: DISTRICT)` (targets: house < 5 ms p50, stats < 50 ms p50);
- requests/s of `house(code)` beside a bare Starlette route returning the same JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from hub.bench.http import measure_http
from hub.bench.load import measure_load
from hub.bench.machine import describe
from hub.bench.report import render


def run_benchmarks(arguments: argparse.Namespace) -> int:
    quick = bool(arguments.quick)
    machine = describe()
    print("measuring bulk load…", flush=True)
    load = asyncio.run(measure_load("small" if quick else "district"))
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder:
        city_db = Path(folder) / "small.sqlite" if quick else Path(arguments.city_db)
        preset = "small" if quick else "city"
        build_seconds = None
        if not city_db.exists():
            print(f"building the {preset} preset into {city_db} (once)…", flush=True)
            started = time.perf_counter()
            asyncio.run(_build(city_db, preset))
            build_seconds = time.perf_counter() - started
        print("measuring HTTP latency and request rate…", flush=True)
        latencies, rates = measure_http(city_db, arguments.requests, 3.0 if quick else 10.0)
    report = render(machine, load, preset, build_seconds, latencies, rates, quick=quick)
    print(report)
    if arguments.output:
        Path(arguments.output).write_text(report, encoding="utf-8")
    return 0


async def _build(path: Path, preset: str) -> None:
    from graph.sql import SqlStore
    from hub import demo
    from hub.loading import load

    store = await SqlStore.open(f"sqlite:///{path}")
    try:
        await load(store, demo.generate(preset, 2020), total=demo.estimate(preset), description=preset)
    finally:
        await store.close()
