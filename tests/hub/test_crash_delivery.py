"""No acknowledged message lost, none counted twice: a served hub `kill -9`ed while it drains an
MQTT backlog, twice, then let finish.

A private Mosquitto (persistence on, `max_queued_messages` raised, as a deployment must set it)
keeps a persistent session for the hub's client id; 20,000 gas readings of 200 detectors are
published while the hub is down, 80 of them spikes that raise 可燃气体浓度高限报警 (each cleared by
the next reading). `hub serve` with `HUB_MQTT` drains the backlog into a SQLite store; the test
reads the store's progress and kills the process (SIGKILL: no clean-up of any kind) once a
fifth of the readings are in, starts it again, kills it again past half, and starts it a last
time. Whatever the hub acknowledged before dying was committed, and whatever it had not was
sent again by the broker and stored once: at the end every reading is there exactly once,
every spike raised exactly one alarm with exactly one case, and the broker holds nothing more
for the session.
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
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.mqtt import Broker
from devices.topics import subscription
from graph.cases import Point
from graph.ciphers.keyring import Keyring
from graph.devices import Device, DeviceType
from graph import open_store
from hub.bench.http import free_port
from hub.bench.mosquitto import PrivateBroker
from tests.devices.conftest import BUILDING, city

HUB = [sys.executable, "-m", "hub.cli"]
DEVICES = 200
PER_DEVICE = 100
TOTAL = DEVICES * PER_DEVICE
SPIKES = (25, 75)
"""The readings (of every fifth device) at 60 %LEL: gas.high raises, the next one clears it."""
PREFIX = "crash"
CLIENT_ID = "hub-ingest-crash"


def detectors() -> list[Device]:
    return [Device(f"GC-{n:04d}", DeviceType.GAS_DETECTOR, "GT-1", BUILDING, 30, Point(120.38, 36.07)) for n in range(DEVICES)]


def backlog(base: dt.datetime) -> tuple[list[str], set[tuple[str, str]]]:
    """The published lines (`topic\\tpayload`, device after device in turn, each device's in time
    order) and the (device, time) of every alarm they must raise."""
    lines: list[str] = []
    alarms: set[tuple[str, str]] = set()
    for k in range(PER_DEVICE):
        for n, device in enumerate(detectors()):
            at = base + dt.timedelta(seconds=k, milliseconds=n)
            spike = n % 5 == 0 and k in SPIKES
            lel = 60.0 if spike else round(1 + (k * 7 + n) % 40 / 10, 1)
            if spike:
                alarms.add((device.code, at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")))
            payload = json.dumps({"ts": at.isoformat(), "values": {"lel": lel}})
            lines.append(f"{PREFIX}/devices/{device.code}/telemetry\t{payload}")
    return lines, alarms


async def _leave_session(port: int) -> int:
    """Connect as the hub would (MQTT 5, session kept, subscribed at QoS 1) and leave; with
    `take` nothing the broker still holds is read: returns how many messages arrived in a second."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0xFFFFFFFF
    client = Broker("127.0.0.1", port).client(
        identifier=CLIENT_ID, protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=properties
    )
    received = 0
    async with client:
        await client.subscribe(subscription(PREFIX), qos=1)

        async def count() -> None:
            nonlocal received
            async for _ in client.messages:
                received += 1

        try:
            await asyncio.wait_for(count(), 1.0)
        except asyncio.TimeoutError:
            pass
    return received


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
        return int(connection.execute(sql).fetchone()[0])


def _wait(check: Callable[[], bool], what: str, timeout: float, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert server.poll() is None, f"hub serve exited ({server.returncode}) before {what}"
        assert time.monotonic() < deadline, f"not {what} within {timeout}s"
        time.sleep(0.02)


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


def test_a_hub_killed_while_draining_its_backlog_loses_nothing_and_doubles_nothing(tmp_path: Path, broker: PrivateBroker) -> None:
    db = tmp_path / "hub.sqlite"
    keys = tmp_path / "hub.keys"
    keyring = Keyring.generate()
    keyring.save(keys)

    async def build() -> None:
        store = await open_store(f"sqlite:///{db}", sealer=keyring.sealer())
        try:
            await store.write(city())
            await store.register_devices(detectors())
        finally:
            await store.close()

    asyncio.run(build())
    assert asyncio.run(_leave_session(broker.port)) == 0

    # the backlog, published while the hub is away (the newest `ts` is a few seconds ago)
    base = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=PER_DEVICE + 30)
    lines, expected_alarms = backlog(base)
    stream = tmp_path / "backlog.tsv"
    stream.write_text("\n".join(lines) + "\n", encoding="utf-8")
    published = subprocess.run(
        [sys.executable, "-m", "hub.bench.publisher", str(broker.port), str(stream)], capture_output=True, text=True, timeout=120
    )
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout.splitlines()[-1])["published"] == TOTAL

    env = {
        **os.environ,
        "HUB_MQTT": f"mqtt://127.0.0.1:{broker.port}",
        "HUB_MQTT_PREFIX": PREFIX,
        "HUB_MQTT_CLIENT_ID": CLIENT_ID,
        "HUB_KEYS": str(keys),
    }

    def serve() -> subprocess.Popen[bytes]:
        with (tmp_path / "serve.log").open("ab") as log:  # the child keeps its own descriptor
            return subprocess.Popen(
                [*HUB, "serve", "--db", f"sqlite:///{db}", "--port", str(free_port())],
                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log,
            )

    def readings() -> int:
        return _count(db, "SELECT count(*) FROM reading")

    killed_at = []
    for share in (0.2, 0.55):
        server = serve()
        try:
            _wait(lambda: readings() >= TOTAL * share, f"{share:.0%} of the readings stored", 60, server)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
        killed_at.append(readings())
    assert killed_at[0] < killed_at[1] < TOTAL, f"the kills did not land mid-backlog: {killed_at}"

    server = serve()
    try:
        _wait(lambda: readings() >= TOTAL, "every reading stored", 90, server)
        _wait(
            lambda: _count(db, "SELECT count(*) FROM alarm WHERE case_id IS NOT NULL") >= len(expected_alarms),
            "every alarm given its case",
            30,
            server,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT d.code, r.at, r.\"values\" FROM reading r JOIN device d ON d.id = r.device_id"
        ).fetchall()
        alarms = connection.execute(
            "SELECT d.code, a.raised_at, a.rule, a.cleared_at, a.key, a.case_id FROM alarm a JOIN device d ON d.id = a.device_id"
        ).fetchall()
        cases = connection.execute("SELECT id, external_id, source_kind FROM work_case").fetchall()
    assert len(rows) == TOTAL and len({(code, at) for code, at, _ in rows}) == TOTAL
    assert sum(json.loads(values)["lel"] == 60.0 for _, _, values in rows) == len(expected_alarms) == 80
    assert len(alarms) == len(expected_alarms)
    assert {(code, raised_at) for code, raised_at, *_ in alarms} == expected_alarms
    assert {rule for _, _, rule, *_ in alarms} == {"gas.high"}
    assert all(cleared is not None for _, _, _, cleared, _, _ in alarms)  # each spike's next reading cleared it
    assert len(cases) == len(alarms)
    assert {case_id for *_, case_id in alarms} == {case_id for case_id, _, _ in cases}
    assert {key for _, _, _, _, key, _ in alarms} == {external for _, external, _ in cases}
    assert {kind for _, _, kind in cases} == {"device_alarm"}

    # every message was acknowledged in the end: the session holds nothing more
    assert asyncio.run(_leave_session(broker.port)) == 0
