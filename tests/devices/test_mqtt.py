"""Ingestion through a real Mosquitto: a flood with a bounded queue, a broker restart with a
persistent session, and the ACL written by `hub devices acl` enforced by mosquitto itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from devices.acl import HUB_USER, credentials, write_acl
from devices.mqtt import Broker
from devices.service import Ingestion
from graph.cases import Point
from graph.devices import Device, DeviceType, every_device
from graph.events import EventBus
from graph.scope import Scope
from graph.sql import SqlStore
from graph.workflow import Workflow
from hub.settings import Settings
from tests.devices.conftest import BUILDING, PrivateBroker, eventually
from tests.services import run_id

EVERYTHING = Scope.everything()


def gas(count: int) -> list[Device]:
    return [Device(f"FL-{n:05d}", DeviceType.GAS_DETECTOR, "GT-1", BUILDING, 30, Point(120.38, 36.07)) for n in range(count)]


def message(n: int, base: dt.datetime) -> bytes:
    at = base + dt.timedelta(milliseconds=n)
    return json.dumps({"ts": at.isoformat(), "values": {"lel": round((n % 50) / 10, 1)}}).encode()


async def distinct_readings(store: SqlStore, codes: list[str]) -> int:
    total = 0
    for code in codes:
        total += len({r.at for r in await store.readings(code, EVERYTHING, first=100_000)})
    return total


def ingestion(store: SqlStore, url: str, prefix: str, client_id: str, **options: Any) -> Ingestion:
    bus = EventBus()
    settings = Settings(mqtt=url, mqtt_prefix=prefix, mqtt_client_id=client_id)
    return Ingestion(store, settings, bus=bus, workflow=Workflow(store, bus=bus), **options)


async def forget_session(broker: Broker, client_id: str) -> None:
    """Connect once with a clean session: the broker drops what it kept for `client_id`."""
    async with broker.client(identifier=client_id, clean_session=True):
        pass


@pytest.fixture
async def flood_store(store: SqlStore) -> AsyncIterator[SqlStore]:
    await store.register_devices(gas(200))
    yield store


async def test_a_flood_through_the_broker_loses_nothing(private_broker: PrivateBroker, flood_store: SqlStore) -> None:
    """20,400 messages from 8 publishers as fast as the broker takes them, into a pipeline whose
    queue holds 500: the reader stops acknowledging while the queue is full and the broker
    keeps the rest for the session. The broker is configured as a production one must be for
    floods (`max_queued_messages 1000000`, hub.bench.mosquitto): with mosquitto's default of 1000 a subscriber
    slower than its publishers loses messages at the broker whatever it does (measured here:
    a bare aiomqtt subscriber acknowledging at once got 2,541 of 5,000)."""
    private_broker.start()
    host, port = "127.0.0.1", private_broker.port
    prefix, client_id = f"t{run_id()}", f"hub-test-{run_id()}"
    service = ingestion(flood_store, f"mqtt://{host}:{port}", prefix, client_id, queue_size=500, batch_size=200)
    await service.start()
    broker = Broker(host, port)
    try:
        await service.wait_subscribed()
        base = dt.datetime.now(dt.timezone.utc)  # the newest reading is 20 s ahead: within the slack
        codes = [d.code for d in gas(200)]
        total, bad = 20_000, 400

        async def publisher(part: int, parts: int) -> None:
            async with broker.client(identifier=f"{client_id}-pub{part}") as client:
                for n in range(part, total, parts):
                    code = codes[n % len(codes)]
                    await client.publish(f"{prefix}/devices/{code}/telemetry", message(n, base), qos=1)
                for n in range(part, bad, parts):
                    await client.publish(f"{prefix}/devices/{codes[n % 7]}/telemetry", b"\x00garbage", qos=1)

        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(publisher(part, 8) for part in range(8)))
        stats = service.stats
        published = asyncio.get_running_loop().time() - started
        await eventually(lambda: stats.handled >= total + bad, timeout=120)
        seconds = asyncio.get_running_loop().time() - started
        await service.pipeline.drain()
        assert stats.accepted == total and stats.readings == total
        assert stats.set_aside == {"malformed_payload": bad}
        assert stats.failed == 0 and stats.batch_failures == 0
        assert stats.received == stats.handled == total + bad
        assert stats.queue_high_water <= 500
        assert await distinct_readings(flood_store, codes) == total
        print(f"flood: {total + bad} messages published in {published:.1f}s, ingested in {seconds:.1f}s "
              f"({(total + bad) / seconds:.0f}/s), "
              f"queue high water {stats.queue_high_water}, batches {stats.batches}")
    finally:
        await service.stop()
        await forget_session(broker, client_id)


async def test_messages_published_while_the_hub_or_the_broker_is_down_are_ingested(
    private_broker: PrivateBroker, store: SqlStore
) -> None:
    private_broker.start()
    broker = Broker("127.0.0.1", private_broker.port)
    url, prefix, client_id = f"mqtt://127.0.0.1:{private_broker.port}", "hub", "hub-ingest-restart"
    base = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    sent = 0

    async def publish(count: int) -> None:
        nonlocal sent
        async with broker.client(identifier="device-gateway", clean_session=True) as client:
            for _ in range(count):
                await client.publish("hub/devices/GD-0001/telemetry", message(sent, base), qos=1)
                sent += 1

    service = ingestion(store, url, prefix, client_id)
    assert service.reader is not None
    service.reader.backoff_start = 1.0
    await service.start()
    try:
        await service.wait_subscribed()
        await publish(50)
        await eventually(lambda: service.stats.accepted == 50)

        # the broker restarts under the running hub; devices publish before the hub is back
        private_broker.stop()
        await eventually(lambda: not service.reader.stats.connected)
        private_broker.start()
        await publish(50)
        assert not service.reader.stats.connected
        await eventually(lambda: service.stats.accepted == 100, timeout=30)
        assert service.reader.stats.connects >= 2
    finally:
        await service.stop()

    # the hub is down: its session keeps what arrives, across a broker restart too
    await publish(40)
    private_broker.stop()
    private_broker.start()
    await publish(60)
    again = ingestion(store, url, prefix, client_id)
    await again.start()
    try:
        await eventually(lambda: again.stats.accepted == 100, timeout=30)
    finally:
        await again.stop()
    assert await distinct_readings(store, ["GD-0001"]) == sent == 200


async def test_the_acl_lets_a_device_publish_only_to_its_own_topics(
    private_broker: PrivateBroker, store: SqlStore, tmp_path: Path
) -> None:
    codes = [d.code for d in await every_device(store)]
    files = write_acl(codes, tmp_path / "acl", prefix="hub")
    private_broker.extra = f"allow_anonymous false\npassword_file {files.passwords}\nacl_file {files.acl}\n"
    private_broker.start()
    secrets_ = credentials(files.credentials)
    url = f"mqtt://{HUB_USER}:{secrets_[HUB_USER]}@127.0.0.1:{private_broker.port}"
    service = ingestion(store, url, "hub", "hub-ingest-acl")
    await service.start()
    try:
        await service.wait_subscribed()
        now = dt.datetime.now(dt.timezone.utc)
        own = Broker("127.0.0.1", private_broker.port, "EL-0001", secrets_["EL-0001"])
        lift = json.dumps({"ts": now.isoformat(), "values": {"floor": 5, "running": True}}).encode()
        async with own.client(identifier="EL-0001") as device:
            await device.publish("hub/devices/EL-0002/telemetry", lift, qos=1)  # someone else's
            await device.publish("hub/devices/EL-0001/telemetry", lift, qos=1)  # its own
        await eventually(lambda: service.stats.accepted >= 1)
        await asyncio.sleep(0.5)
        assert service.stats.accepted == 1
        assert await store.readings("EL-0001", EVERYTHING) and not await store.readings("EL-0002", EVERYTHING)

        # a wrong password, or no user at all, is refused at the door
        for wrong in (Broker("127.0.0.1", private_broker.port, "EL-0001", "guess"), Broker("127.0.0.1", private_broker.port)):
            with pytest.raises(aiomqtt.MqttError):
                async with wrong.client():
                    pass
        # the hub's user reads, and may not publish as a device
        hub = Broker("127.0.0.1", private_broker.port, HUB_USER, secrets_[HUB_USER])
        async with hub.client(identifier="hub-writer") as writer:
            await writer.publish("hub/devices/EL-0002/telemetry", lift, qos=1)
        await asyncio.sleep(0.5)
        assert service.stats.received == 1
    finally:
        await service.stop()


async def test_messages_the_store_refused_are_not_acknowledged_and_come_again(
    private_broker: PrivateBroker, store: SqlStore
) -> None:
    """The store fails for a while (a database restarting): the messages it refused are not
    acknowledged, the reader reconnects so the broker sends them again, and once the store is
    back every one is stored, once."""
    private_broker.start()
    broker = Broker("127.0.0.1", private_broker.port)
    service = ingestion(store, f"mqtt://127.0.0.1:{private_broker.port}", "hub", "hub-ingest-refused")
    assert service.reader is not None
    service.reader.backoff_start = 0.2
    real = store.add_readings
    refusals = 0

    async def down(readings):  # type: ignore[no-untyped-def]
        nonlocal refusals
        if refusals < 3:
            refusals += 1
            raise ConnectionError("the database is restarting")
        return await real(readings)

    store.add_readings = down  # type: ignore[method-assign]
    await service.start()
    base = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    try:
        await service.wait_subscribed()
        async with broker.client(identifier="device-gateway-refused") as client:
            for n in range(30):
                await client.publish("hub/devices/GD-0001/telemetry", message(n, base), qos=1)
        await eventually(lambda: distinct_readings(store, ["GD-0001"]), timeout=20)
        await eventually(lambda: service.reader.stats.acknowledged >= 30, timeout=20)  # type: ignore[union-attr]
        assert await distinct_readings(store, ["GD-0001"]) == 30
        assert len(await store.readings("GD-0001", EVERYTHING, first=1000)) == 30
        assert refusals == 3 and service.stats.failed >= 1
        assert service.reader.stats.unacknowledged >= 1 and service.reader.stats.retries >= 1
        assert service.reader.stats.connects >= 2
    finally:
        store.add_readings = real  # type: ignore[method-assign]
        await service.stop()
