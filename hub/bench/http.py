"""API latency and request rate over real HTTP on loopback, against servers in subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOUSE = "query($code: String!) { house(code: $code) { code name area floor usage building { name } owners { share since owner { name } } } }"
CHILDREN = "query($code: String!) { place(code: $code) { code name children(first: 50) { edges { node { code name level } } } } }"
STATS = '{ stats(scope: "370200", groupBy: DISTRICT) { place { code name } houses floorArea owners estates buildings } }'


@dataclass(frozen=True, slots=True)
class Latency:
    name: str
    samples: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Rate:
    name: str
    requests: int
    seconds: float
    cpu_seconds: float | None = None
    """The server process's CPU time (user and system, all threads) over those requests."""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float | None:
        """The server's CPU per request, in milliseconds: unlike the rate, it hardly moves when
        other processes share the machine."""
        return None if self.cpu_seconds is None else self.cpu_seconds / self.requests * 1000


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(command: Sequence[str], port: int) -> Iterator[str]:
    """Start a server subprocess, wait for /healthz, stop it afterwards."""
    with served(command, port) as (base, _):
        yield base


@contextmanager
def served(command: Sequence[str], port: int) -> Iterator[tuple[str, int]]:
    """`server`, yielding its process id beside its base URL."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        process.communicate(timeout=10)


def sample_codes(db_file: Path, level: int, count: int) -> list[str]:
    """Codes spread evenly over the store (every n-th by rowid), the same on every run."""
    connection = sqlite3.connect(db_file)
    try:
        total = connection.execute("SELECT count(*) FROM place WHERE level = ?", (level,)).fetchone()[0]
        step = max(total // count, 1)
        rows = connection.execute(
            "SELECT code FROM place WHERE level = ? ORDER BY id", (level,)
        ).fetchall()
        return [row[0] for row in rows[::step][:count]]
    finally:
        connection.close()


def _post(client: httpx.Client, base: str, query: str, variables: dict[str, str] | None) -> float:
    started = time.perf_counter()
    response = client.post(f"{base}/graphql", json={"query": query, "variables": variables or {}})
    elapsed = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"benchmark query failed: {response.status_code} {body}")
    return elapsed


def p50_p99_ms(times: Sequence[float]) -> tuple[float, float]:
    """The median and the 99th percentile of `times` (seconds), in milliseconds."""
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def serve_command(db_file: Path, keys_file: Path, port: int) -> list[str]:
    """`hub serve` on a bench store, with the rate limit out of the way of the load."""
    return [
        sys.executable, "-m", "hub.cli", "serve", "--db", f"sqlite:///{db_file}", "--keys", str(keys_file),
        "--port", str(port), "--rate", "100000",
    ]


def latency(
    base: str, name: str, query: str, codes: Sequence[str | None], requests: int, token: str
) -> Latency:
    times: list[float] = []
    with httpx.Client(timeout=30, headers={"authorization": f"Bearer {token}"}) as client:
        for index in range(min(20, requests)):  # warm caches and connections
            code = codes[index % len(codes)]
            _post(client, base, query, {"code": code} if code else None)
        for index in range(requests):
            code = codes[index % len(codes)]
            times.append(_post(client, base, query, {"code": code} if code else None))
    return Latency(name, len(times), *p50_p99_ms(times))


async def _hammer(base: str, payload: bytes, seconds: float, connections: int, token: str) -> int:
    done = 0
    deadline = time.perf_counter() + seconds
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            response = await client.post(f"{base}/graphql", content=payload, headers=headers)
            response.raise_for_status()
            done += 1

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return done


def rate(
    base: str, name: str, payload: bytes, seconds: float, token: str, connections: int = 8, *, pid: int | None = None
) -> Rate:
    """Requests per second over `connections` keep-alive connections; with the server's `pid`,
    its CPU time per request too."""
    asyncio.run(_hammer(base, payload, 1.0, connections, token))  # warm-up
    cpu = cpu_seconds(pid) if pid is not None else 0.0
    started = time.perf_counter()
    requests = asyncio.run(_hammer(base, payload, seconds, connections, token))
    elapsed = time.perf_counter() - started
    return Rate(name, requests, elapsed, cpu_seconds(pid) - cpu if pid is not None else None)


SCOPED_STATS = "query($code: String!) { stats(scope: $code, groupBy: COMMUNITY) { place { code } houses owners } }"
SCOPED_SEARCH = "query($code: String!) { search(text: \"社区\", within: $code, first: 20) { code name } }"


@dataclass(frozen=True, slots=True)
class ScopeCost:
    name: str
    unscoped: Latency
    scoped: Latency

    @property
    def cost(self) -> float:
        """How much slower the scoped read is than the unscoped one (0.05 = 5%)."""
        return self.scoped.p50_ms / self.unscoped.p50_ms - 1.0


async def _tokens(db_file: Path, keys_file: Path, street: str) -> tuple[str, str, str]:
    """An admin token (reads unscoped, sees personal data whole: every such read is audited), a
    city dashboard token (the whole city, personal data masked) and a street office's token."""
    import datetime as dt

    from graph.ciphers.keyring import Keyring
    from graph import open_store
    from hub.auth.issuing import issue_token

    keys = Keyring.load(keys_file)
    store = await open_store(f"sqlite:///{db_file}", sealer=keys.sealer())
    try:
        day = dt.timedelta(days=1)
        admin = await issue_token(store, keys, "admin", "*", "hub bench", day, issuer="bench")
        city = await issue_token(store, keys, "city", "370200", "hub bench dashboard", day, issuer="bench")
        office = await issue_token(store, keys, "street", street, "hub bench street office", day, issuer="bench")
        return admin, city, office
    finally:
        await store.close()


def measure_http(
    db_file: Path, keys_file: Path, requests: int, rate_seconds: float, *, scope_costs: bool = True
) -> tuple[list[Latency], list[Rate], list[ScopeCost]]:
    """p50/p99 of house(code), place{children}, stats and the audited house read; the scope
    costs (unless `scope_costs` is false); house(code)'s rate, then the bare route's on the
    same JSON, one after the other in this run."""
    houses = sample_codes(db_file, 8, 200)
    parents = sample_codes(db_file, 4, 50) + sample_codes(db_file, 5, 50)
    street = sample_codes(db_file, 3, 1)[0]
    admin, city, office = asyncio.run(_tokens(db_file, keys_file, street))
    port = free_port()
    with served(serve_command(db_file, keys_file, port), port) as (base, hub_pid):
        # a city dashboard's reads: owners' names come back masked, so nothing is audited
        latencies = [
            latency(base, "house(code)", HOUSE, houses, requests, city),
            latency(base, "place(code){children}", CHILDREN, parents, requests, city),
            latency(base, 'stats(scope:"370200", groupBy: DISTRICT)', STATS, [None], requests, city),
            # the same house query read whole: each request appends a pii.read audit entry
            latency(base, "house(code), names whole (audited)", HOUSE, houses, requests, admin),
        ]
        costs = [
            ScopeCost(
                name,
                latency(base, f"{name}, admin (unscoped)", query, [street], requests, admin),
                latency(base, f"{name}, street office (scoped)", query, [street], requests, office),
            )
            for name, query in (("stats of a street by community", SCOPED_STATS), ("search within a street", SCOPED_SEARCH))
        ] if scope_costs else []
        payload = json.dumps({"query": HOUSE, "variables": {"code": houses[0]}}).encode()
        with httpx.Client(headers={"authorization": f"Bearer {city}"}) as client:
            body = client.post(f"{base}/graphql", content=payload, headers={"content-type": "application/json"}).content
        hub_rate = rate(base, "hub house(code)", payload, rate_seconds, city, pid=hub_pid)
    with tempfile.NamedTemporaryFile(suffix=".json") as answer:
        answer.write(body)
        answer.flush()
        bare_port = free_port()
        bare = [sys.executable, "-m", "hub.bench.bare", answer.name, str(bare_port)]
        with served(bare, bare_port) as (base, bare_pid):
            bare_rate = rate(base, "bare Starlette, same JSON", payload, rate_seconds, city, pid=bare_pid)
    return latencies, [hub_rate, bare_rate], costs
