"""`hub bench --only workers`: `house(code)` requests/s from one hub process and from `hub serve
--workers 2`, beside the bare Starlette route returning the same JSON, in one run.

Every server is a real subprocess on loopback, and the load comes from separate processes too
(`LOADERS` Python processes, each keeping `CONNECTIONS` keep-alive httpx connections busy for
the measured seconds, after a second of warm-up), so the client's own Python does not share a
core's time with the server it measures any more than the machine forces it to. Figures:

- hub, 1 process, no Redis: what one process does alone (the rate limit in memory);
- hub, 1 worker + Redis: the same app as one process of a cluster (rate limit in Redis, events
  bridged), to show what the cluster machinery costs a request;
- hub, 2 workers + Redis: `hub serve --workers 2`;
- bare Starlette, 1 process: the floor (hub.bench.bare).

On this 2-core machine two workers and the load generators share two cores: the gain of the
second worker is bounded by that, and says more on a machine with cores to spare.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from hub.bench.http import HOUSE, _tokens, free_port, sample_codes, server, serve_command

LOADERS = 2
CONNECTIONS = 8
REDIS_URL = os.environ.get("HUB_BENCH_REDIS", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True, slots=True)
class WorkersRate:
    name: str
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def _load(base: str, payload: bytes, token: str, seconds: float, connections: int) -> int:
    done = 0
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:

        async def worker(until: float, counting: bool) -> None:
            nonlocal done
            while time.perf_counter() < until:
                response = await client.post(f"{base}/graphql", content=payload, headers=headers)
                response.raise_for_status()
                if counting:
                    done += 1

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm, False) for _ in range(connections)))
        until = time.perf_counter() + seconds
        await asyncio.gather(*(worker(until, True) for _ in range(connections)))
    return done


def _rate(name: str, base: str, payload_file: str, token: str, seconds: float) -> WorkersRate:
    """Requests/s the loaders got answered together (each prints its count)."""
    command = [sys.executable, "-m", "hub.bench.workers", base, payload_file, token, str(seconds), str(CONNECTIONS)]
    loaders = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(LOADERS)]
    total = 0
    for loader in loaders:
        output, errors = loader.communicate(timeout=seconds + 120)
        if loader.returncode != 0:
            raise RuntimeError(f"a load generator failed: {errors}")
        total += int(output.strip())
    return WorkersRate(name, total, seconds)


def measure_workers(db_file: Path, keys_file: Path, seconds: float) -> list[WorkersRate]:
    import redis

    with redis.Redis.from_url(REDIS_URL) as probe:
        probe.ping()  # the cluster figures need the Redis; say so before starting anything
    houses = sample_codes(db_file, 8, 1)
    street = sample_codes(db_file, 3, 1)[0]
    _, city, _ = asyncio.run(_tokens(db_file, keys_file, street))
    payload = json.dumps({"query": HOUSE, "variables": {"code": houses[0]}}).encode()
    queue = f"bench-workers-{os.getpid()}"
    figures: list[WorkersRate] = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-workers-") as folder:
        payload_file = Path(folder) / "payload.json"
        payload_file.write_bytes(payload)
        body = b""
        for name, workers, redis_url in (
            ("hub, 1 process, no Redis", None, None),
            ("hub, 1 worker + Redis", 1, REDIS_URL),
            ("hub, 2 workers + Redis", 2, REDIS_URL),
        ):
            port = free_port()
            command = serve_command(db_file, keys_file, port) + (["--workers", str(workers)] if workers else [])
            environment = {"HUB_REDIS": redis_url, "HUB_QUEUE": queue} if redis_url else {"HUB_REDIS": ""}
            with _environment(environment), server(command, port) as base:
                if not body:
                    with httpx.Client(headers={"authorization": f"Bearer {city}"}, trust_env=False) as client:
                        body = client.post(f"{base}/graphql", content=payload, headers={"content-type": "application/json"}).content
                figures.append(_rate(name, base, str(payload_file), city, seconds))
        answer = Path(folder) / "answer.json"
        answer.write_bytes(body)
        bare_port = free_port()
        with server([sys.executable, "-m", "hub.bench.bare", str(answer), str(bare_port)], bare_port) as base:
            figures.append(_rate("bare Starlette, 1 process, same JSON", base, str(payload_file), city, seconds))
    _forget(queue)
    return figures


class _environment:
    """Set these variables for the servers started inside (restored after)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *_: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _forget(queue: str) -> None:
    import redis

    from hub.cluster import prefix

    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(match=prefix(queue) + "*"))
        if keys:
            client.delete(*keys)


def render_workers(figures: Sequence[WorkersRate]) -> list[str]:
    bare = figures[-1].per_second
    one = figures[0].per_second
    lines = [
        "### Several processes: `house(code)` requests/s (hub.bench.workers)",
        "",
        f"{LOADERS} load-generator processes × {CONNECTIONS} keep-alive connections, {figures[0].seconds:.0f} s each, "
        "one house code; every server a subprocess on loopback.",
        "",
        "| server | requests/s | vs 1 process | vs bare |",
        "|---|---:|---:|---:|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.name} | {figure.per_second:,.0f} | {figure.per_second / one:.2f}× | {figure.per_second / bare:.0%} |"
        )
    return lines


if __name__ == "__main__":
    base_url, payload_path, bearer, duration, connections = sys.argv[1:6]
    print(asyncio.run(_load(base_url, Path(payload_path).read_bytes(), bearer, float(duration), int(connections))))
