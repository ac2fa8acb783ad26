"""The parts of shared ingestion (devices.sharing): what Mosquitto does with a shared group member
that is away, the rule engine's state carried from one process to another, and the devices'
locks in Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.mqtt import NEVER_EXPIRES, Broker
from devices.sharing import SharedRules
from devices.topics import subscription
from graph.ciphers.keyring import Keyring
from graph.devices import Reading
from graph.rules import RuleEngine
from hub.bench.mosquitto import PrivateBroker
from tests.devices.conftest import fleet
from tests.services import REDIS, run_id

BASE = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


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


def _member(port: int, client_id: str) -> aiomqtt.Client:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = NEVER_EXPIRES
    return Broker("127.0.0.1", port).client(
        identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=properties
    )


async def _collect(client: aiomqtt.Client, into: list[str], quiet: float = 0.5) -> None:
    """Messages until none came for `quiet` seconds."""
    try:
        while True:
            message = await asyncio.wait_for(anext(aiter(client.messages)), quiet)
            into.append(bytes(message.payload).decode())  # type: ignore[arg-type]
    except asyncio.TimeoutError:
        return


async def test_mosquitto_keeps_the_share_of_a_member_that_is_away_for_its_session(broker: PrivateBroker) -> None:
    """Mosquitto 2 hands a shared group's messages round robin to every member with a session,
    connected or not: a member that is away gets its share queued in its persistent session
    and delivered when it comes back under the same client id; the others do not get it."""
    topic = subscription("away", "g")
    first: list[str] = []
    async with _member(broker.port, "member-a") as a:
        async with _member(broker.port, "member-b") as b:
            await a.subscribe(topic, qos=1)
            await b.subscribe(topic, qos=1)
        # b is away now, its session kept
        async with Broker("127.0.0.1", broker.port).client(identifier="pub-away", protocol=aiomqtt.ProtocolVersion.V5) as publisher:
            for n in range(20):
                await publisher.publish(f"away/devices/D-{n:04d}/telemetry", str(n), qos=1)
        await _collect(a, first)
    later: list[str] = []
    async with _member(broker.port, "member-b") as b:
        await _collect(b, later)
    assert sorted(first + later, key=int) == [str(n) for n in range(20)]
    assert first and later and not set(first) & set(later)
    assert len(first) == len(later) == 10  # round robin, whether b was there or not


def test_a_devices_rule_state_goes_on_in_another_engine() -> None:
    """`state_of` in one engine, `restore` in another: the second goes on as the first would
    have (a duration half elapsed, a repeat counted once, an alarm active with its hysteresis)."""
    devices = fleet(1)
    gas = next(device for device in devices if device.code.startswith("GD"))
    door = next(device for device in devices if device.code.startswith("EL"))
    said = [
        (gas.code, {"lel": 22.0}), (door.code, {"door_fault": True}),
        (gas.code, {"lel": 25.0}), (door.code, {"door_fault": True}),
        (gas.code, {"lel": 18.0}), (door.code, {"door_fault": True}),
        (gas.code, {"lel": 16.0}), (door.code, {"door_fault": True}),
        (gas.code, {"lel": 12.0}), (door.code, {"door_fault": False}),
    ]
    readings = [Reading(code, BASE + dt.timedelta(seconds=10 * n), values, "telemetry", BASE) for n, (code, values) in enumerate(said)]

    def signals(engine: RuleEngine, part: list[Reading]) -> list[tuple[str, str, bool, dt.datetime]]:
        return [(s.device_code, s.rule, s.raised, s.at) for r in part for s in engine.evaluate(r)]

    alone = RuleEngine()
    alone.load(devices)
    expected = signals(alone, readings)
    assert [(rule, raised) for _, rule, raised, _ in expected] == [
        ("gas.low", True), ("elevator.door_fault", True), ("gas.low", False), ("elevator.door_fault", False)
    ]

    # every reading judged by one of two engines in turn, the state handed over each time
    engines = [RuleEngine(), RuleEngine()]
    for engine in engines:
        engine.load(devices)
    handed: list[tuple[str, str, bool, dt.datetime]] = []
    states: dict[str, dict[str, object]] = {}
    for n, reading in enumerate(readings):
        engine = engines[n % 2]
        if reading.device_code in states:
            engine.restore(reading.device_code, states[reading.device_code])
        handed += signals(engine, [reading])
        saved = engine.state_of(reading.device_code)
        assert saved is not None
        states[reading.device_code] = saved
    assert handed == expected
    # a late reading (older than the newest judged) changes nothing wherever it lands
    late = engines[0]
    late.restore(gas.code, states[gas.code])
    assert late.evaluate(Reading(gas.code, BASE, {"lel": 60.0}, "telemetry", BASE)) == []


@pytest.fixture
async def shared() -> AsyncIterator[tuple[SharedRules, SharedRules]]:
    if not REDIS.ensure():
        pytest.fail("Redis is neither running on 127.0.0.1:6379 nor installed to be started")
    namespace = f"test-sharing-{run_id()}"
    url = f"redis://{REDIS.host}:{REDIS.port}/0"
    one, two = SharedRules(url, namespace, lock_ms=300, wait=5.0), SharedRules(url, namespace, lock_ms=300, wait=5.0)
    try:
        yield one, two
    finally:
        keys = [key async for key in one.redis.scan_iter(f"{namespace}:*")]
        if keys:
            await one.redis.delete(*keys)
        await one.close()
        await two.close()


async def test_a_device_is_judged_by_one_member_at_a_time(shared: tuple[SharedRules, SharedRules]) -> None:
    one, two = shared
    held = await one.take(["B", "A"])
    assert held.codes == ["A", "B"] and held.states == {"A": None, "B": None}
    taking = asyncio.create_task(two.take(["C", "B"]))  # B is held: waits, holding not even C
    await asyncio.sleep(0.1)
    assert not taking.done()
    c_alone = await one.take(["C"])  # C was not kept by the waiting member
    await one.give(c_alone, {"C": {"n": 0}})
    await one.give(held, {"A": {"n": 1}, "B": {"n": 2}})
    second = await taking
    assert second.states == {"B": {"n": 2}, "C": {"n": 0}}
    assert two.stats.waits > 0
    await two.release(second)  # freed without writing: the states stay
    third = await one.take(["A", "B", "C"], fresh=True)
    assert third.states == {"A": {"n": 1}, "B": {"n": 2}, "C": {"n": 0}}
    await one.give(third, {"A": {"n": 3}, "B": {"n": 4}, "C": None})
    # what a member wrote last is not read back by it (its engine has it), but by the others
    mine = await one.take(["A", "B", "C"])
    assert mine.states == {"A": None, "B": None, "C": {"n": 0}} and one.stats.kept == 2
    await one.release(mine)  # the batch failed: read back next time
    again = await one.take(["A"])
    assert again.states == {"A": {"n": 3}}
    await one.release(again)
    theirs = await two.take(["A", "B"])
    assert theirs.states == {"A": {"n": 3}, "B": {"n": 4}}
    await two.release(theirs)


async def test_a_lock_whose_holder_died_expires_and_its_late_state_is_not_written(shared: tuple[SharedRules, SharedRules]) -> None:
    one, two = shared
    dead = await one.take(["D"])  # as if the process were killed now: never given back
    taken = await two.take(["D"])  # after lock_ms (300 ms) the lock is free again
    await two.give(taken, {"D": {"by": "two"}})
    await one.give(dead, {"D": {"by": "one"}})  # too late: not written over the newer state
    assert one.stats.lost == 1
    again = await two.take(["D"], fresh=True)
    assert again.states == {"D": {"by": "two"}}
    await two.release(again)


async def test_one_member_sweeps(shared: tuple[SharedRules, SharedRules]) -> None:
    one, two = shared
    assert await one.lead(300)
    assert await one.lead(300)  # renewed
    assert not await two.lead(300)
    await asyncio.sleep(0.4)  # the sweeper died: another takes over
    assert await two.lead(300)
    assert not await one.lead(300)


def test_hub_ingest_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main
    from hub.commands.ingest import default_client_id

    monkeypatch.delenv("HUB_MQTT", raising=False)
    for name in ("HUB_MQTT_RULES", "HUB_REDIS", "HUB_BROKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HUB_MQTT_SHARE", raising=False)
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    assert main(["ingest", "--db", db]) == 2
    assert "HUB_MQTT" in capsys.readouterr().err
    monkeypatch.setenv("HUB_MQTT", "mqtt://127.0.0.1:1")
    assert main(["ingest", "--db", db, "--share", "a/b"]) == 2
    assert "mqtt_share" in capsys.readouterr().err
    keys = tmp_path / "hub.keys"
    Keyring.generate().save(keys)
    assert main(["ingest", "--db", db, "--keys", str(keys), "--share", "g"]) == 2
    assert "HUB_MQTT_RULES" in capsys.readouterr().err
    assert default_client_id(2, "node a") == "hub-ingest-node-a-2"


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def test_two_members_sweep_once_from_the_shared_states(store: Any) -> None:
    """A door fault begun at one member and held at the other completes its 30 s with no newer
    reading: the sweep raises it once, from the shared state, whichever member sweeps; a device
    silent past three intervals goes offline once; a later reading at either member clears it."""
    from devices.pipeline import Pipeline
    from graph.events import EventBus
    from graph.scope import Scope
    from graph.workflow import Workflow

    if not REDIS.ensure():
        pytest.fail("Redis is neither running on 127.0.0.1:6379 nor installed to be started")
    namespace = f"test-sweep-{run_id()}"
    url = f"redis://{REDIS.host}:{REDIS.port}/0"
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=30)
    clock = _Clock(start)
    members = []
    for _ in range(2):
        shared = SharedRules(url, namespace)
        bus = EventBus()
        member = Pipeline(
            store, RuleEngine(), Workflow(store, bus=bus, clock=clock), bus,
            clock=clock, prefix="hub", sweep_every=3600, refresh_every=0.0, shared=shared,
        )
        await member.start()
        members.append((member, shared))
    try:
        one, two = members[0][0], members[1][0]

        async def say(member: Pipeline, values: dict[str, object], at: dt.datetime) -> None:
            clock.now = at
            payload = json.dumps({"ts": at.isoformat(), "values": values}).encode()
            await member.submit("hub/devices/EL-0001/telemetry", payload, at)
            await member.drain()

        await say(one, {"door_fault": True}, start + dt.timedelta(seconds=1))
        await say(two, {"door_fault": True}, start + dt.timedelta(seconds=11))
        clock.now = start + dt.timedelta(seconds=35)  # 34 s held, nothing newer came
        await one.sweep()
        await two.sweep()
        clock.now = start + dt.timedelta(seconds=40)
        await two.sweep()
        await one.sweep()
        page = await store.alarm_page(Scope.everything(), 10, active=True, device_codes=["EL-0001"])
        assert [alarm.rule for alarm in page.items] == ["elevator.door_fault"]
        assert one.stats.alarms_raised + two.stats.alarms_raised == 1

        clock.now = start + dt.timedelta(seconds=11 + 91)  # silent past 3 × 30 s
        await two.sweep()
        await one.sweep()
        page = await store.alarm_page(Scope.everything(), 10, active=True, device_codes=["EL-0001"])
        assert sorted(alarm.rule for alarm in page.items) == ["device.offline", "elevator.door_fault"]
        await say(one, {"door_fault": False}, start + dt.timedelta(seconds=110))  # a reading clears both
        page = await store.alarm_page(Scope.everything(), 10, active=True, device_codes=["EL-0001"])
        assert page.items == []
        assert one.stats.alarms_raised + two.stats.alarms_raised == 2
        assert one.stats.alarms_cleared + two.stats.alarms_cleared == 2
    finally:
        for member, shared in members:
            await member.stop()
            await shared.close()
        cleaner = SharedRules(url, namespace)
        keys = [key async for key in cleaner.redis.scan_iter(f"{namespace}:*")]
        if keys:
            await cleaner.redis.delete(*keys)
        await cleaner.close()
