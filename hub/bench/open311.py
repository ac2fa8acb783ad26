"""Open311 `requests.json` latency over HTTP, beside `/healthz` on the same server in the same run.

A demo preset is built into a fresh SQLite store with `cases` work orders spread over its
estates and the last 60 days; the hub is served in a subprocess (`hub serve`, as deployed) and
asked as a city dashboard: the default list (the newest 1,000 of the last 90 days), one request
by id, a street office's list (its scope applied), and `/healthz` as the floor any request pays.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from hub.bench.http import free_port, p50_p99_ms, serve_command, server

CHINA = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class Open311Latency:
    name: str
    samples: int
    p50_ms: float
    p99_ms: float
    results: int


@dataclass(frozen=True, slots=True)
class Open311Figures:
    preset: str
    cases: int
    latencies: list[Open311Latency]


async def _build(db_file: Path, keys_file: Path, preset: str, cases: int) -> tuple[str, str, str, str]:
    """The store with its cases; tokens for a city dashboard and a street office, a street code
    and one case id."""
    from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
    from graph.ciphers.keyring import Keyring
    from graph.levels import Level
    from graph.model import Batch, Provenance
    from graph.scope import Scope
    from graph import open_store
    from hub import demo
    from hub.auth.issuing import issue_token
    from hub.loading import load

    keys = Keyring.generate()
    keys.save(keys_file, overwrite=True)
    store = await open_store(f"sqlite:///{db_file}", sealer=keys.sealer())
    try:
        await load(store, demo.generate(preset, 2020), progress=False)
        everything = Scope.everything()
        estates = list((await store.subtree(Level.ESTATE, None, everything, 500)).items)
        rng = random.Random(311)
        now = dt.datetime.now(dt.timezone.utc)
        statuses = list(CaseStatus)
        batch = Batch()
        for number in range(cases):
            estate = rng.choice(estates)
            at = now - dt.timedelta(minutes=rng.randint(1, 60 * 24 * 60))
            batch.cases.append(
                Case(
                    id=f"bench:{number:07d}",
                    source=CaseSource.HOTLINE,
                    category=rng.choice(list(CaseCategory)),
                    status=rng.choice(statuses),
                    title="楼道灯不亮",
                    description="市民来电反映楼道声控灯坏了一周",
                    reported_at=at,
                    updated_at=at + dt.timedelta(hours=2),
                    place_code=estate.code,
                    external_id=f"QD{number:07d}",
                    provenance=Provenance("bench", f"QD{number:07d}", now, "bench"),
                )
            )
            if len(batch.cases) >= 5000:
                await store.write(batch)
                batch = Batch()
        await store.write(batch)
        street = estates[0].code[:9]
        day = dt.timedelta(days=1)
        city = await issue_token(store, keys, "city", "370200", "hub bench dashboard", day, issuer="bench")
        office = await issue_token(store, keys, "street", street, "hub bench street office", day, issuer="bench")
        return city, office, street, "bench:0000000"
    finally:
        await store.close()


def _latency(base: str, name: str, path: str, token: str | None, requests: int) -> Open311Latency:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    times: list[float] = []
    results = 0
    with httpx.Client(base_url=base, headers=headers, timeout=60, trust_env=False) as client:
        for index in range(min(10, requests) + requests):
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")
            if index >= min(10, requests):  # the first ones warm caches and the connection
                times.append(elapsed)
                body = response.json()
                results = len(body) if isinstance(body, list) else 1
    return Open311Latency(name, len(times), *p50_p99_ms(times), results)


def measure_open311(preset: str = "small", cases: int = 20_000, requests: int = 200) -> Open311Figures:
    with tempfile.TemporaryDirectory(prefix="hub-bench-open311-") as folder:
        db_file, keys_file = Path(folder) / "cases.sqlite", Path(folder) / "cases.keys"
        city, office, street, one = asyncio.run(_build(db_file, keys_file, preset, cases))
        port = free_port()
        with server(serve_command(db_file, keys_file, port), port) as base:
            latencies = [
                _latency(base, "/healthz (baseline, same server)", "/healthz", None, requests),
                _latency(base, "requests.json, city: newest of the last 90 days (≤ 1,000)", "/open311/v2/requests.json", city, max(20, requests // 4)),
                _latency(base, "requests.json?status=open&service_code=repair, city", "/open311/v2/requests.json?status=open&service_code=repair", city, max(20, requests // 4)),
                _latency(base, f"requests.json, street office {street} (scoped)", "/open311/v2/requests.json", office, requests),
                _latency(base, "requests/{id}.json, city", f"/open311/v2/requests/{one}.json", city, requests),
            ]
    return Open311Figures(preset, cases, latencies)


def render_open311(figures: Open311Figures) -> list[str]:
    floor = figures.latencies[0].p50_ms
    lines = [
        f"### Open311 `requests.json` latency, `{figures.preset}` preset with {figures.cases:,} cases, hub on SQLite",
        "",
        "| request | results | p50 ms | p99 ms | p50 over /healthz |",
        "|---|---:|---:|---:|---:|",
    ]
    for item in figures.latencies:
        lines.append(f"| {item.name} | {item.results:,} | {item.p50_ms:.2f} | {item.p99_ms:.2f} | {item.p50_ms / floor:.1f}× |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m hub.bench.open311 [cases]`: this benchmark alone."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    figures = measure_open311(cases=int(arguments[0]) if arguments else 20_000)
    print("\n".join(render_open311(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
