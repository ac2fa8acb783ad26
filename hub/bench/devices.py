"""Device ingestion against a real Mosquitto: telemetry ingested per second with the rules
evaluated, beside the rate `mosquitto_sub` receives the same stream in the same run (target: at
least half of it), and alarm-to-case latency p50/p99 (target: p99 under 200 ms).

A Mosquitto of the benchmark's own (hub.bench.mosquitto: a queue deep enough that the broker
drops nothing) serves, on loopback, publisher processes sending the demo city's devices'
telemetry (the simulator's values, no faults) at QoS 1 as fast as they can, a `mosquitto_sub`
process subscribed to the same topics at QoS 1 that stamps each message as it arrives, and the
hub's own ingestion (devices.service.Ingestion, as `hub serve` runs it) on a SQLite store with
the `small` demo city and its devices: topic and payload checks, rules, readings and latest
state written, alarms and cases when rules fire. Three phases:

1. live: two publishers send the stream while `mosquitto_sub` and the hub both read it; each
   consumer's rate runs from the first message it received to the last it finished. This is the
   target's comparison: does the hub keep up with a stream as fast as this machine publishes.
2. capacity: both consumers hold persistent sessions and are away while the stream is published
   again, so the broker queues it for each; then each drains its queue alone, never sharing the
   CPU with a publisher or with the other. This is what each can take at most.
3. alarm to case: trapped-passenger messages from distinct elevators, 20 a second, each stamped
   with the time it was sent; the latency of each runs from that moment to the moment the
   workflow announced the case opened for its alarm (stored; dispatch follows).
4. ingesters: real `hub ingest` processes drain the same queued stream (`shared_messages`, half
   the phases' count by default) of the `small` city's devices, each run on a fresh copy of the
   same store (a SQLite file, and a PostgreSQL database made from a template when the server at
   `HUB_BENCH_POSTGRES` answers): one alone (no share group: the single ingester of before), one
   in a share group (its rule states in Redis: the cost of sharing), and two in the group (the
   broker splits the stream between their sessions, round robin). The members connect once and
   leave (their sessions stay), the stream is published while they are away, then they are
   started and each rate runs from the first reading stored to the last (the store polled every
   20 ms), so process start-up is not in it. The shared runs need Redis (`HUB_BENCH_REDIS`,
   default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devices.pipeline import PipelineStats

FAULT_RATE = 20.0
"""Trapped-passenger messages per second in the latency phase."""
PUBLISHERS = 2


@dataclass(frozen=True, slots=True)
class Rates:
    """One phase's messages per second: the publishers', `mosquitto_sub`'s and the hub's."""

    published: float
    subscriber: float
    subscriber_received: int
    hub: float
    hub_done: int

    @property
    def ratio(self) -> float:
        return self.hub / self.subscriber if self.subscriber else 0.0


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    devices: int
    messages: int
    live: Rates
    capacity: Rates
    set_aside: int
    alarms_raised: int
    latency_samples: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    ingesters: list[IngesterRun]
    ingesters_note: str = ""


@dataclass(frozen=True, slots=True)
class IngesterRun:
    """Phase 4: `members` `hub ingest` processes (in a share group or not) draining the stream."""

    engine: str
    members: int
    shared: bool
    messages: int
    stored: int
    seconds: float
    timed: int
    """Readings stored from the first poll that saw any to the last: what `seconds` timed."""
    note: str = ""

    @property
    def rate(self) -> float:
        return self.timed / self.seconds if self.seconds > 0 else 0.0


def _publisher(port: int, stream: Path, *, paced: float | None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hub.bench.publisher", str(port), str(stream)]
    if paced:
        command += ["--paced", str(paced)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


async def _publish_all(port: int, streams: Sequence[Path]) -> float:
    """Run one publisher per stream file at once; the messages per second they sent together."""
    processes = [_publisher(port, stream, paced=None) for stream in streams]
    outputs = await asyncio.gather(*(asyncio.to_thread(process.communicate, None, 600) for process in processes))
    reports = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    return float(sum(report["published"] for report in reports) / max(report["seconds"] for report in reports))


async def _hub_rate(stats: Callable[[], PipelineStats], expected: int) -> tuple[float, int]:
    """Watch the ingestion's counters until it has dealt with `expected` more messages (or has
    done nothing for 15 s): its rate from the first message received to the last dealt with."""
    counters = stats()
    received, done_before = counters.received, counters.accepted + counters.set_aside_total
    first: float | None = None
    last = stalled = time.perf_counter()
    progress = 0
    while True:
        await asyncio.sleep(0.002)
        now = time.perf_counter()
        counters = stats()
        if first is None and counters.received > received:
            first = now
        done = counters.accepted + counters.set_aside_total - done_before
        if done != progress:
            progress, stalled, last = done, now, now
        if done >= expected or now - stalled > 15:
            break
    rate = (progress - 1) / (last - first) if first is not None and last > first else 0.0
    return rate, progress


def _rate(stamps: Sequence[float]) -> float:
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return 0.0
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class _SqliteCopies:
    """Copies of one SQLite store, one per run of phase 4."""

    engine = "SQLite"

    def __init__(self, folder: Path, base: Path) -> None:
        self.folder = folder
        self.base = base

    async def copy(self) -> str:
        import sqlite3

        target = self.folder / f"ingest-{secrets.token_hex(4)}.sqlite"
        with sqlite3.connect(self.base) as reading, sqlite3.connect(target) as writing:
            reading.backup(writing)
        return f"sqlite:///{target}"

    async def count(self, url: str) -> int:
        import sqlite3

        def read() -> int:
            with sqlite3.connect(f"file:{url.split('///', 1)[1]}?mode=ro", uri=True, timeout=30) as connection:
                return int(connection.execute("SELECT count(*) FROM reading").fetchone()[0])

        return await asyncio.to_thread(read)

    async def close(self) -> None:
        pass


class _PostgresCopies:
    """Databases made from one template database (CREATE DATABASE … TEMPLATE), one per run."""

    engine = "PostgreSQL"

    def __init__(self, admin: str, base: str) -> None:
        self.admin = admin
        self.base = base
        self.made = [base]

    @classmethod
    async def made_from(cls, admin: str, fill: Callable[[str], Awaitable[object]]) -> _PostgresCopies:
        copies = cls(admin, f"hub_bench_ingest_{secrets.token_hex(4)}")
        await copies._execute(f'CREATE DATABASE "{copies.base}"')
        try:
            await fill(copies._url(copies.base))
        except BaseException:
            await copies.close()
            raise
        return copies

    def _url(self, name: str) -> str:
        return self.admin.rsplit("/", 1)[0] + "/" + name

    async def _execute(self, sql: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def copy(self) -> str:
        name = f"hub_bench_ingest_{secrets.token_hex(4)}"
        await self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.base}"')
        self.made.append(name)
        return self._url(name)

    async def count(self, url: str) -> int:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM reading"))
        finally:
            await connection.close()

    async def close(self) -> None:
        for name in reversed(self.made):
            await self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


Copies = _SqliteCopies | _PostgresCopies


async def _ingesters(copies: Copies, folder: Path, port: int, stream: Path, messages: int, members: int, shared: bool) -> IngesterRun:
    """Phase 4, one run: sessions made, the stream queued for them, then drained."""
    import os
    import signal

    from devices.sharing import drop_group, namespace
    from hub.commands.ingest import default_client_id

    tag = secrets.token_hex(3)
    db = await copies.copy()
    prefix = stream.read_text(encoding="utf-8").split("/", 1)[0]
    env = {**os.environ, "HUB_MQTT": f"mqtt://127.0.0.1:{port}", "HUB_MQTT_PREFIX": prefix, "HUB_KEYS": str(folder / "hub.keys")}
    env["HUB_MQTT_RULES"] = os.environ.get("HUB_BENCH_REDIS", "redis://127.0.0.1:6379/0")
    env.pop("HUB_MQTT_CLIENT_ID", None)
    command = [sys.executable, "-m", "hub.cli", "ingest", "--db", db]
    if shared:
        command += ["--share", f"bench{tag}"]
    logs = [folder / f"ingest-{tag}-{slot}.log" for slot in range(members)]

    async def start(times: int) -> list[subprocess.Popen[bytes]]:
        """Start the members; wait until each has subscribed (for the `times`th time in its log)."""
        processes = []
        for slot, log in enumerate(logs):
            with log.open("ab") as out:  # a file, not a pipe: a pipe nobody reads would stop it
                client = default_client_id(slot, f"bench-{tag}")
                processes.append(subprocess.Popen([*command, "--client-id", client], env=env, stdout=out, stderr=subprocess.STDOUT))
        for process, log in zip(processes, logs):
            deadline = time.monotonic() + 120
            while log.read_text(errors="replace").count("subscribed to") < times:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hub ingest did not subscribe: {log.read_text(errors='replace')[-1500:]}")
                await asyncio.sleep(0.05)
        return processes

    async def stop(processes: list[subprocess.Popen[bytes]]) -> None:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process, log in zip(processes, logs):
            try:
                await asyncio.to_thread(process.wait, 60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise RuntimeError(f"hub ingest did not stop on SIGTERM: {log.read_text(errors='replace')[-1500:]}") from None

    # the members' sessions and subscriptions, then the stream queued for them while they are away
    await stop(await start(1))
    await _publish_all(port, [stream])
    processes = await start(2)
    try:
        first: float | None = None
        at_first = 0
        last = stalled = time.perf_counter()
        stored = 0
        while stored < messages and time.perf_counter() - stalled < 60:
            await asyncio.sleep(0.02)
            count = await copies.count(db)
            now = time.perf_counter()
            if count and first is None:
                first, at_first = now, count
            if count != stored:
                stored, last, stalled = count, now, now
        seconds = last - first if first is not None else 0.0
    finally:
        await stop(processes)
        if shared:
            await drop_group(env["HUB_MQTT_RULES"], namespace(prefix, f"bench{tag}"))
    note = "" if stored == messages else f"stopped at {stored:,} of {messages:,}"
    return IngesterRun(copies.engine, members, shared, messages, stored, seconds, stored - at_first, note)


async def _measure_ingesters(folder: Path, port: int, messages: int) -> tuple[list[IngesterRun], str]:
    """Phase 4: the `small` city and its devices in a SQLite store and, when the server is
    there, a PostgreSQL database; a stream of `messages` for them; each run on a fresh copy."""
    from devices.simulator import Simulator
    from graph.ciphers.keyring import Keyring
    from graph.devices import Device, every_device
    from graph import open_store
    from hub import demo
    from hub.demo.devices import register_demo_devices
    from hub.loading import load

    keys = Keyring.generate()
    keys.save(folder / "hub.keys")
    city = list(demo.generate("small", 2020))  # loaded into each store

    async def fill(url: str) -> list[Device]:
        store = await open_store(url, sealer=keys.sealer())
        try:
            await load(store, city, progress=False)
            await register_demo_devices(store)
            return await every_device(store)
        finally:
            await store.close()

    streams: list[Path] = []

    def stream_of(devices: list[Device]) -> None:
        """The stream of one store's devices (the same seed, the same count for every store)."""
        stream = folder / f"ingesters-{len(streams)}.tsv"
        simulator = Simulator(devices, prefix=f"benchi{secrets.token_hex(3)}", seed=2, faults=0.0)
        at = time.time() - 60 - messages / 1_000
        with stream.open("w", encoding="utf-8") as out:
            for _ in range(messages):
                topic, payload = simulator.next(dt.datetime.fromtimestamp(at, dt.timezone.utc))
                at += 1 / 1_000
                out.write(f"{topic}\t{payload.decode()}\n")
        streams.append(stream)

    stream_of(await fill(f"sqlite:///{folder / 'ingest-base.sqlite'}"))
    targets: list[Copies] = [_SqliteCopies(folder, folder / "ingest-base.sqlite")]
    note = ""
    try:

        async def fill_postgres(url: str) -> None:
            stream_of(await fill(url))

        targets.append(await _PostgresCopies.made_from(_bench_postgres(), fill_postgres))
    except Exception as error:  # no PostgreSQL here: SQLite only
        note = f"PostgreSQL not measured: {error}"[:300]
    runs = []
    try:
        for target, stream in zip(targets, streams):
            for members, shared in ((1, False), (1, True), (2, True)):
                try:
                    runs.append(await _ingesters(target, folder, port, stream, messages, members, shared))
                except Exception as error:  # no Redis here: the run is reported as not made
                    runs.append(IngesterRun(target.engine, members, shared, messages, 0, 0.0, 0, f"not measured: {error}"[:300]))
    finally:
        for target in targets:
            await target.close()
    return runs, note


async def _measure(folder: Path, port: int, messages: int, faults: int) -> DeviceFigures:
    from devices.service import Ingestion
    from devices.simulator import Simulator
    from graph.ciphers.keyring import Keyring
    from graph.devices import every_device
    from graph.events import EventBus
    from graph import open_store
    from graph.workflow import Workflow
    from hub import demo
    from hub.demo.devices import register_demo_devices
    from hub.loading import load
    from hub.settings import Settings

    keys = Keyring.generate()
    db = f"sqlite:///{folder / 'devices.sqlite'}"
    store = await open_store(db, sealer=keys.sealer())
    try:
        await load(store, demo.generate("small", 2020), progress=False)
        await register_demo_devices(store)
        devices = await every_device(store)
        prefix = f"bench{secrets.token_hex(3)}"
        settings = Settings(db=db, mqtt=f"mqtt://127.0.0.1:{port}", mqtt_prefix=prefix, mqtt_client_id=f"hub-bench-{secrets.token_hex(3)}")
        bus = EventBus()

        def ingestion() -> Ingestion:
            return Ingestion(store, settings, bus=bus, workflow=Workflow(store, bus=bus))

        # two streams of the same messages' kind, stamped in the past (phase 3's messages must
        # be the newest each device sent, or the rules would take them for out-of-order ones)
        simulator = Simulator(devices, prefix=prefix, seed=1, faults=0.0)
        start = time.time() - 60 - 2 * messages / 10_000
        streams: list[list[Path]] = []
        for phase in ("live", "capacity"):
            files = [folder / f"{phase}-{number}.tsv" for number in range(PUBLISHERS)]
            outs = [file.open("w", encoding="utf-8") for file in files]
            for index in range(messages):
                topic, payload = simulator.next(dt.datetime.fromtimestamp(start, dt.timezone.utc))
                start += 1 / 10_000
                outs[index % PUBLISHERS].write(f"{topic}\t{payload.decode()}\n")
            for out in outs:
                out.close()
            streams.append(files)
        topics = f"{prefix}/devices/+/telemetry"
        subscriber = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topics]

        # 1. live
        live_hub = ingestion()
        await live_hub.start()
        await live_hub.wait_subscribed()
        watching = subprocess.Popen([*subscriber, "-C", str(messages), "-F", "%U"], stdout=subprocess.PIPE, text=True)
        await asyncio.sleep(1.0)  # mosquitto_sub says nothing when it has subscribed
        watch = asyncio.create_task(_hub_rate(lambda: live_hub.stats, messages))
        published = await _publish_all(port, streams[0])
        hub_rate, hub_done = await watch
        stamps = [float(line) for line in (await asyncio.to_thread(watching.communicate, None, 120))[0].split()]
        live = Rates(published, _rate(stamps), len(stamps), hub_rate, hub_done)
        await live_hub.stop()  # its session stays with the broker: the hub is away

        # 2. capacity
        session = [*subscriber, "-c", "-i", f"bench-sub-{prefix}"]
        await asyncio.to_thread(subprocess.run, [*session, "-E"], check=True, timeout=30)
        published = await _publish_all(port, streams[1])
        drained = await asyncio.to_thread(subprocess.run, [*session, "-C", str(messages), "-F", "%U"], capture_output=True, text=True, timeout=600)
        stamps = [float(line) for line in drained.stdout.split()]
        draining = ingestion()
        watch = asyncio.create_task(_hub_rate(lambda: draining.stats, messages))
        await draining.start()
        hub_rate, hub_done = await watch
        capacity = Rates(published, _rate(stamps), len(stamps), hub_rate, hub_done)
        try:
            # 3. alarm to case
            raised = draining.stats.alarms_raised
            latencies = await _alarm_to_case(store, bus, folder, port, prefix, devices, faults)
            raised_now = draining.stats.alarms_raised
            await draining.stop()
            return DeviceFigures(
                devices=len(devices),
                messages=messages,
                live=live,
                capacity=capacity,
                set_aside=live_hub.stats.set_aside_total + draining.stats.set_aside_total,
                alarms_raised=raised_now - raised,
                latency_samples=len(latencies),
                latency_p50_ms=statistics.median(latencies) if latencies else 0.0,
                latency_p99_ms=_percentile(latencies, 0.99),
                latency_max_ms=max(latencies, default=0.0),
                ingesters=[],
            )
        finally:
            await draining.stop()
    finally:
        await store.close()


async def _alarm_to_case(store: object, bus: object, folder: Path, port: int, prefix: str, devices: Sequence[object], faults: int) -> list[float]:
    """Milliseconds from each trapped-passenger message's sending to its case being opened."""
    from graph.devices import Device, DeviceType
    from graph.events import EventBus, Topic
    from graph.scope import Scope
    from graph.store import Store

    assert isinstance(bus, EventBus)
    hub: Store = store  # type: ignore[assignment]
    elevators = [d for d in devices if isinstance(d, Device) and d.type is DeviceType.ELEVATOR][:faults]
    fault_file = folder / "faults.tsv"
    fault_file.write_text(
        "".join(f"{prefix}/devices/{d.code}/telemetry\t{json.dumps({'ts': 0, 'values': {'trapped': True}})}\n" for d in elevators),
        encoding="utf-8",
    )
    opened: dict[str, float] = {}
    listening = bus.subscribe(Topic.CASES)

    async def listen() -> None:
        async for event in listening:
            if event.kind == "opened":
                opened[event.id] = time.time()

    listener = asyncio.create_task(listen())
    sender = _publisher(port, fault_file, paced=FAULT_RATE)
    sent_lines, _ = await asyncio.to_thread(sender.communicate, None, 120)
    deadline = time.monotonic() + 10
    while len(opened) < len(elevators) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    listener.cancel()
    listening.close()
    sent = {line.split("\t")[0].split("/")[2]: float(line.split("\t")[1]) for line in sent_lines.splitlines() if "\t" in line}
    cases = [case for case in await hub.cases(list(opened), Scope.everything()) if case is not None]
    alarms = await hub.alarms([case.external_id or "" for case in cases], Scope.everything())
    return [
        (opened[case.id] - sent[alarm.device_code]) * 1000
        for case, alarm in zip(cases, alarms)
        if alarm is not None and alarm.device_code in sent
    ]


def _bench_postgres() -> str:
    """The PostgreSQL server phase 4 makes its databases on (`HUB_BENCH_POSTGRES`, an admin URL)."""
    import os

    return os.environ.get("HUB_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def measure_devices(messages: int = 50_000, faults: int = 200, shared_messages: int | None = None) -> DeviceFigures:
    from hub.bench.mosquitto import PrivateBroker

    with tempfile.TemporaryDirectory(prefix="hub-bench-devices-") as folder:
        root = Path(folder)
        (root / "broker").mkdir()
        broker = PrivateBroker(root / "broker")
        broker.start()
        try:
            figures = asyncio.run(_measure(root, broker.port, messages, faults))
            (root / "ingesters").mkdir()
            runs, note = asyncio.run(_measure_ingesters(root / "ingesters", broker.port, shared_messages or messages // 2))
            return dataclasses.replace(figures, ingesters=runs, ingesters_note=note)
        finally:
            broker.stop()


def render_devices(figures: DeviceFigures) -> list[str]:
    live, capacity = figures.live, figures.capacity
    met = "met" if live.ratio >= 0.5 else "**missed**"
    latency_met = "met" if figures.latency_p99_ms < 200 else "**missed**"
    return [
        f"### Devices over MQTT: {figures.messages:,} telemetry messages per phase from {figures.devices} devices of the `small` demo city, Mosquitto on loopback, hub on SQLite",
        "",
        "| messages per second | publishers | `mosquitto_sub` (baseline) | hub: checked, rules, readings and state stored | hub / `mosquitto_sub` |",
        "|---|---:|---:|---:|---:|",
        f"| live: {PUBLISHERS} publishers as fast as they go, both consumers reading | {live.published:,.0f} | {live.subscriber:,.0f} | {live.hub:,.0f} | {live.ratio:.2f} |",
        f"| capacity: each consumer alone drains its queued session | {capacity.published:,.0f} | {capacity.subscriber:,.0f} | {capacity.hub:,.0f} | {capacity.ratio:.2f} |",
        "",
        f"Live, the hub took {live.ratio:.2f} of the rate `mosquitto_sub` received (target ≥ 0.5: {met}); received "
        f"{live.subscriber_received:,} and {live.hub_done:,} of {figures.messages:,}; set aside {figures.set_aside}.",
        "",
        f"Alarm to case ({figures.latency_samples} trapped-passenger messages, {FAULT_RATE:.0f}/s, from publish to case stored): "
        f"p50 {figures.latency_p50_ms:.1f} ms, p99 {figures.latency_p99_ms:.1f} ms, max {figures.latency_max_ms:.1f} ms "
        f"(target p99 < 200 ms: {latency_met}); alarms raised {figures.alarms_raised}.",
        "",
        *_render_ingesters(figures.ingesters, figures.ingesters_note),
    ]


def _render_ingesters(runs: Sequence[IngesterRun], note: str) -> list[str]:
    if not runs:
        return []
    lines = [
        f"Ingesters: `hub ingest` processes draining the same {runs[0].messages:,} queued messages, each run on a fresh copy of the "
        "same store (the `small` city and its devices), from the first reading stored to the last; Redis on loopback holds the "
        "share group's rule states:",
        "",
        "| store | ingesters | rule state | messages stored | seconds | messages per second | beside one alone |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    alone: dict[str, float] = {}
    for run in runs:
        if run.members == 1 and not run.shared:
            alone[run.engine] = run.rate
        state = "Redis, share group" if run.shared else "in memory, no group"
        base = alone.get(run.engine)
        ratio = f"{run.rate / base:.2f}" if base and run.rate else "-"
        lines.append(
            f"| {run.engine} | {run.members} | {state} | {run.stored:,} | {run.seconds:.1f} | {run.rate:,.0f} | {ratio} |"
            + (f" {run.note}" if run.note else "")
        )
    if note:
        lines += ["", note]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m hub.bench.devices [messages [ingesters' messages]]`: this benchmark alone."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    figures = measure_devices(
        messages=int(arguments[0]) if arguments else 50_000, shared_messages=int(arguments[1]) if len(arguments) > 1 else None
    )
    print("\n".join(render_devices(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
