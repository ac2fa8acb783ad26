"""`hub bench --only build`: `hub demo --preset city --no-sources`, the command a new user runs,
timed from start to end into a fresh SQLite file and a fresh PostgreSQL database.

Each build is its own process (`python -m hub.cli demo … --fresh --quiet`), so its peak resident
set is that process's alone (`wait4`'s rusage). Its output lines are timestamped as they arrive,
which splits the wall time into the demo's phases: the places, owners and firms (the load, whose
own records/s the demo prints), devices, facilities' life records, staff, the overdue sweep,
votes, party building and a year of firms' credit. Records/s is the load's records over the
whole command's wall time (what a user waits for).

PostgreSQL: the database named by $HUB_BENCH_POSTGRES (default `hub_bench_build` on the test
server of $HUB_TEST_POSTGRES, postgresql://postgres@127.0.0.1:5432/test) is dropped and created
again through the server's admin database first.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_DATABASE = os.environ.get("HUB_BENCH_POSTGRES", "hub_bench_build")
TARGET_SECONDS = 240.0

_PHASES = (
    ("built the", "places, owners, firms (load)"),
    ("registered", "devices"),
    ("facilities:", "facilities' life records"),
    ("staff:", "staff"),
    ("overdue facilities:", "overdue sweep (alarms, cases)"),
    ("owners' votes:", "owners' votes"),
    ("party building:", "party building"),
    ("firms' credit:", "firms' credit, 12 months"),
)
_LOADED = re.compile(r"built the \w+ demo city: ([\d,]+) records in ([\d.]+) s")


@dataclass
class Build:
    store: str
    preset: str
    seconds: float = 0.0
    records: int = 0
    load_seconds: float = 0.0
    peak_rss_mib: float = 0.0
    phases: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


async def _fresh_postgres(name: str) -> str:
    """Drop and create `name` on the admin URL's server; returns its URL."""
    import asyncpg

    admin = make_url(ADMIN_URL)
    connection = await asyncpg.connect(
        host=admin.host or "127.0.0.1", port=admin.port or 5432, user=admin.username, password=admin.password, database=admin.database
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin.set(database=name).render_as_string(hide_password=False)


def build_once(store: str, url: str, preset: str, folder: Path) -> Build:
    """Run `hub demo` into `url` in a process of its own, timing its phases."""
    command = [sys.executable, "-m", "hub.cli", "demo", "--db", url, "--preset", preset, "--no-sources", "--fresh", "--quiet",
               "--keys", str(folder / "hub.keys")]
    found = Build(store, preset)
    started = time.perf_counter()
    # unbuffered: a pipe would hold the demo's lines until it exits, and the phases with them
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    last = started
    assert process.stdout is not None
    said: list[str] = []
    for line in process.stdout:
        now = time.perf_counter()
        said.append(line)
        for opening, label in _PHASES:
            if line.startswith(opening):
                found.phases.append((label, now - last))
                last = now
                break
        loaded = _LOADED.search(line)
        if loaded:
            found.records = int(loaded.group(1).replace(",", ""))
            found.load_seconds = float(loaded.group(2))
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    found.seconds = time.perf_counter() - started
    found.peak_rss_mib = usage.ru_maxrss / 1024  # KiB on Linux
    if process.returncode != 0:
        found.error = f"exit {process.returncode}: " + "".join(said[-5:]).strip()
    return found


def measure_build(preset: str = "city", stores: tuple[str, ...] = ("sqlite", "postgresql")) -> list[Build]:
    """Each store's build of `preset`, one after the other."""
    builds = []
    for store in stores:
        with tempfile.TemporaryDirectory(prefix=f"hub-bench-build-{store}-") as name:
            folder = Path(name)
            if store == "sqlite":
                url = str(folder / "city.sqlite")
            elif store == "postgresql":
                url = asyncio.run(_fresh_postgres(BENCH_DATABASE))
            else:
                raise ValueError(f"no store {store!r} to build into; use sqlite or postgresql")
            print(f"  building the {preset} preset into {store}…", flush=True)
            builds.append(build_once(store, url, preset, folder))
    return builds


def render_build(builds: list[Build], load: str = "") -> list[str]:
    lines = [
        f"### Building the demo city: `hub demo --preset {builds[0].preset if builds else 'city'} --no-sources`, "
        "whole command, its own process",
        "",
        (f"Machine load while measuring: {load}. " if load else "")
        + f"Target: under {TARGET_SECONDS:.0f} s on each store (issue 16). Records/s: the load's records over the whole wall time.",
        "",
        "| store | wall time | records | records/s | load alone | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for build in builds:
        if build.error:
            lines.append(f"| {build.store} | failed: {build.error} | | | | |")
            continue
        alone = f"{build.load_seconds:.1f} s ({build.records / build.load_seconds:,.0f}/s)" if build.load_seconds else "—"
        lines.append(
            f"| {build.store} | {build.seconds:.1f} s | {build.records:,} | {build.rate:,.0f} | {alone} | {build.peak_rss_mib:,.0f} MiB |"
        )
    lines += ["", "Phases (seconds from the previous line of the demo's output to this one's):", ""]
    labels = [label for _, label in _PHASES]
    lines.append("| phase | " + " | ".join(build.store for build in builds) + " |")
    lines.append("|---|" + "---|" * len(builds))
    for label in labels:
        cells = []
        for build in builds:
            took = dict(build.phases).get(label)
            cells.append("—" if took is None else f"{took:.1f} s")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    """`python -m hub.bench.build [PRESET] [STORE,…]`: the section alone."""
    preset = sys.argv[1] if len(sys.argv) > 1 else "city"
    stores = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("sqlite", "postgresql")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print("\n".join(render_build(measure_build(preset, stores), f"load average {load} at the start")))


if __name__ == "__main__":
    main()
