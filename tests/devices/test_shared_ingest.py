"""Several `hub ingest` processes as one: an MQTT 5 shared subscription, rule state in Redis.

A private Mosquitto (persistence on, `max_queued_messages` raised) and three real `hub ingest`
subprocesses on one PostgreSQL database (two on one SQLite file: WAL and a busy timeout let two
writer processes take turns) share the group `$share/t/{prefix}/devices/+/+`, each with its own
client id. Seven scripted devices (an odd number: Mosquitto hands messages round robin, so each
device's consecutive messages go to different ingesters) publish 24 rounds at QoS 1, readings ten
seconds apart in their own time, that raise and clear hysteresis rules (gas.low after two
readings, cleared only below 15 %LEL; gas.high cleared only below 40) and duration rules
(elevator.door_fault after 30 s, pump.pressure_low after 60 s; a shorter stretch raises nothing).
Each round is published once the previous one is stored and judged (the devices' latest states
say so), as devices seconds apart are: Mosquitto gives no order across the members of a group,
and a reading judged after a newer one of its device is stored but not judged (devices.sharing).

Twice a round begins with a burst of 300 filler readings and one ingester is killed with -9 at
once, holding messages it received and did not acknowledge; while it is down the broker keeps
its share of the stream in its session; it is started again under the same client id. At the
end every reading is stored exactly once, the alarms are exactly those the rule engine raises
and clears run offline over the same stream in order (device, rule, raised at, cleared at), and
each alarm has exactly one case.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import asyncpg
import pytest

from devices.mqtt import Broker
from devices.sharing import drop_group, namespace
from graph.cases import Point
from graph.ciphers.keyring import Keyring
from graph.devices import Device, DeviceType, Reading
from graph import open_store
from graph.rules import RuleEngine
from hub.bench.mosquitto import PrivateBroker
from tests.conftest import PostgresDatabases
from tests.devices.conftest import BUILDING, ENTRANCE, ESTATE, city
from tests.services import REDIS, run_id

HUB = [sys.executable, "-m", "hub.cli"]
ROUNDS = 24
STEP = dt.timedelta(seconds=10)
KILLS = {7: 1, 15: 0}
"""Round → the ingester killed with -9 as it begins."""
FILLERS = 300

GAS = [5.0, 22.0, 25.0, 18.0, 16.0, 14.0, 55.0, 45.0, 42.0, 38.0, 10.0, 21.0]
"""gas.low raised at 25 (the second ≥ 20), held at 18 and 16, cleared at 14; gas.high raised at
55, held at 45 and 42, cleared at 38; 21 alone raises nothing."""
DOOR = [False, True, True, True, True, False, True, True, False, False, False, False]
"""door_fault holding 30 s (four readings 10 s apart) raises, 10 s (two) does not."""
PUMP = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5, 0.1, 0.1, 0.5]
"""pressure_low holding 60 s (seven readings) raises, then clears; 10 s does not."""


def scripted() -> list[Device]:
    gas = [Device(f"GD-{n:04d}", DeviceType.GAS_DETECTOR, "GT-1", BUILDING, 30, Point(120.38, 36.07)) for n in range(3)]
    doors = [Device(f"EL-{n:04d}", DeviceType.ELEVATOR, "E-1", ENTRANCE, 30, Point(120.38, 36.07)) for n in range(2)]
    pumps = [Device(f"WP-{n:04d}", DeviceType.WATER_PUMP, "P-1", ESTATE, 30, Point(120.38, 36.07)) for n in range(2)]
    return gas + doors + pumps


def fillers() -> list[Device]:
    return [Device(f"GF-{n:04d}", DeviceType.GAS_DETECTOR, "GT-1", BUILDING, 30, Point(120.38, 36.07)) for n in range(30)]


def values(device: Device, k: int, n: int) -> dict[str, Any]:
    i = (k + 3 * n) % 12
    if device.type is DeviceType.GAS_DETECTOR:
        return {"lel": GAS[i]}
    if device.type is DeviceType.ELEVATOR:
        return {"door_fault": DOOR[i]}
    return {"outlet_pressure": PUMP[i]}


def stream(base: dt.datetime) -> list[list[tuple[str, dt.datetime, dict[str, Any]]]]:
    """The rounds: (device code, reading time, values), the kill rounds led by fillers."""
    rounds = []
    for k in range(ROUNDS):
        at = base + k * STEP
        step: list[tuple[str, dt.datetime, dict[str, Any]]] = []
        if k in KILLS:
            step += [
                (filler.code, at + dt.timedelta(milliseconds=n), {"lel": 3.0})
                for n, filler in enumerate(fillers() * (FILLERS // 30))
            ]
        step += [(device.code, at, values(device, k, n)) for n, device in enumerate(scripted())]
        rounds.append(step)
    return rounds


def offline_alarms(rounds: list[list[tuple[str, dt.datetime, dict[str, Any]]]]) -> set[tuple[str, str, dt.datetime, dt.datetime | None]]:
    """What one rule engine raises and clears over the stream in order: (device, rule, raised
    at, cleared at)."""
    engine = RuleEngine()
    engine.load(scripted() + fillers())
    open_: dict[tuple[str, str], dt.datetime] = {}
    found: set[tuple[str, str, dt.datetime, dt.datetime | None]] = set()
    for step in rounds:
        for code, at, said in step:
            for signal_ in engine.evaluate(Reading(code, at, said, "telemetry", at)):
                key = (code, signal_.rule)
                if signal_.raised:
                    open_[key] = signal_.at
                else:
                    found.add((code, signal_.rule, open_.pop(key), signal_.at))
    found.update((code, rule, raised, None) for (code, rule), raised in open_.items())
    return found


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    if shutil.which("mosquitto") is None:
        pytest.fail("the mosquitto binary is not installed")
    directory = tmp_path / "broker"
    directory.mkdir()
    os.chmod(directory, 0o700)
    private = PrivateBroker(directory)
    private.start()
    try:
        yield private
    finally:
        private.stop()


@pytest.fixture
def redis_url() -> str:
    if not REDIS.ensure():
        pytest.fail("Redis is neither running on 127.0.0.1:6379 nor installed to be started")
    return f"redis://{REDIS.host}:{REDIS.port}/0"


class Database:
    """Counts and rows read straight from the store's tables (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as connection:
                return [tuple(row) for row in connection.execute(sql).fetchall()]
        connection = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    async def count(self, sql: str) -> int:
        return int((await self.rows(sql))[0][0])


def _time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


async def _run(tmp_path: Path, db_url: str, port: int, redis_url: str, members: int) -> None:
    keys = tmp_path / "hub.keys"
    keyring = Keyring.generate()
    keyring.save(keys)
    store = await open_store(db_url, sealer=keyring.sealer())
    try:
        await store.write(city())
        await store.register_devices(scripted() + fillers())
    finally:
        await store.close()
    prefix = f"share{run_id()}"
    env = {
        **os.environ,
        "HUB_MQTT": f"mqtt://127.0.0.1:{port}",
        "HUB_MQTT_PREFIX": prefix,
        "HUB_MQTT_RULES": redis_url,
        "HUB_KEYS": str(keys),
    }
    env.pop("HUB_MQTT_CLIENT_ID", None)
    logs = [tmp_path / f"ingest-{slot}.log" for slot in range(members)]

    async def start(slot: int) -> subprocess.Popen[bytes]:
        with logs[slot].open("ab") as log:
            process = subprocess.Popen(
                # no sweeps during the test: what time alone decides is the hub's clock, not the stream's
                [*HUB, "ingest", "--db", db_url, "--share", "t", "--slot", str(slot), "--sweep-every", "3600"],
                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        for _ in range(600):
            if "subscribed to" in logs[slot].read_text(errors="replace").split("ingest: stopping")[-1]:
                return process
            assert process.poll() is None, logs[slot].read_text(errors="replace")[-3000:]
            await asyncio.sleep(0.05)
        raise AssertionError(f"ingester {slot} did not subscribe: {logs[slot].read_text(errors='replace')[-3000:]}")

    database = Database(db_url)
    base = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    rounds = stream(base)
    total = sum(len(step) for step in rounds)
    processes = [await start(slot) for slot in range(members)]
    published = 0
    try:
        async with Broker("127.0.0.1", port).client(identifier=f"pub-{prefix}", protocol=aiomqtt.ProtocolVersion.V5) as publisher:
            for k, step in enumerate(rounds):
                for code, at, said in step:
                    payload = json.dumps({"ts": at.isoformat(), "values": said})
                    await publisher.publish(f"{prefix}/devices/{code}/telemetry", payload, qos=1)
                published += len(step)
                if k in KILLS:
                    victim = KILLS[k] % members
                    processes[victim].send_signal(signal.SIGKILL)  # holding part of the burst
                    processes[victim].wait(timeout=10)
                    await asyncio.sleep(0.5)
                    stored = await database.count("SELECT count(*) FROM reading")
                    print(f"round {k}: ingester {victim} killed; {published - stored} of {published} readings not stored while it is down")
                    processes[victim] = await start(victim)
                round_at = base + k * STEP
                for _ in range(1200):
                    # stored, and judged: the latest states (committed after the rules) say so
                    if await database.count("SELECT count(*) FROM reading") >= published and all(
                        (judged := _time(at)) is not None and judged >= round_at
                        for _, at in await database.rows("SELECT code, reading_at FROM device WHERE code NOT LIKE 'GF-%'")
                    ):
                        break
                    for slot, process in enumerate(processes):
                        assert process.poll() is None, logs[slot].read_text(errors="replace")[-3000:]
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"round {k}: not every reading stored within a minute")
        # the cases follow their alarms in the same batch; let the last batches settle
        for _ in range(200):
            orphans = await database.count("SELECT count(*) FROM alarm WHERE case_id IS NULL")
            if not orphans:
                break
            await asyncio.sleep(0.05)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        await drop_group(redis_url, namespace(prefix, "t"))
    for log in logs:
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]

    readings = await database.rows("SELECT d.code, r.at FROM reading r JOIN device d ON d.id = r.device_id")
    assert len(readings) == total == published
    assert len({(code, _time(at)) for code, at in readings}) == total  # each once

    alarms = await database.rows(
        "SELECT d.code, a.rule, a.raised_at, a.cleared_at, a.key, a.case_id FROM alarm a JOIN device d ON d.id = a.device_id"
    )
    expected = offline_alarms(rounds)
    assert {rule for _, rule, *_ in expected} >= {"gas.low", "gas.high", "elevator.door_fault", "pump.pressure_low"}
    assert {(code, rule, _time(raised), _time(cleared)) for code, rule, raised, cleared, _, _ in alarms} == expected
    assert len(alarms) == len(expected)

    cases = await database.rows("SELECT id, external_id FROM work_case WHERE source_kind = 'device_alarm'")
    assert len(cases) == len(alarms)
    assert {key for *_, key, _ in alarms} == {external for _, external in cases}
    assert {case_id for *_, case_id in alarms} == {case_id for case_id, _ in cases}


@pytest.mark.postgres
async def test_three_ingesters_one_killed_twice_store_each_reading_once_and_raise_what_one_would(
    tmp_path: Path, broker: PrivateBroker, redis_url: str, postgres_databases: PostgresDatabases
) -> None:
    url = await postgres_databases.create_migrated()
    await _run(tmp_path, url, broker.port, redis_url, members=3)


async def test_two_ingesters_on_one_sqlite_file_take_turns_and_raise_what_one_would(
    tmp_path: Path, broker: PrivateBroker, redis_url: str
) -> None:
    await _run(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite'}", broker.port, redis_url, members=2)
