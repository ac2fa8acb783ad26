"""Fixtures of the device suites: a small city with registered devices on a real SQLite store,
the machine's Mosquitto, and private Mosquitto processes a test may stop, restart or lock down."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from graph.cases import Point
from graph.ciphers.sealing import Sealer
from graph.devices import Device, DeviceType
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm
from graph import open_store
from graph.sql import SqlStore
from hub.bench.mosquitto import PrivateBroker
from tests.services import MOSQUITTO

STREET = "370202001"
ESTATE = "370202001001E001"
BUILDING = "370202001001GB00001F0001"
ENTRANCE = "370202001001GB00001F000101"
HOUSE = "370202001001GB00001F00010001"
FIRM = "91370202MA06EM7T05"


def city() -> Batch:
    return Batch(
        places=[
            Place("370200", Level.CITY, "青岛市", None),
            Place("370202", Level.DISTRICT, "市南区", "370200"),
            Place(STREET, Level.STREET, "香港中路街道", "370202"),
            Place("370202001001", Level.COMMUNITY, "云霄路社区", STREET),
            Place(ESTATE, Level.ESTATE, "海信花园", "370202001001"),
            Place(BUILDING, Level.BUILDING, "1号楼", ESTATE),
            Place(ENTRANCE, Level.ENTRANCE, "1单元", BUILDING),
            Place(HOUSE, Level.HOUSE, "1单元101室", ENTRANCE, area_centi_m2=8800),
        ],
        firms=[PropertyFirm(FIRM, "青岛海信物业服务有限公司")],
        managements=[Management(FIRM, ESTATE, dt.date(2020, 1, 1))],
    )


KINDS = {
    DeviceType.ELEVATOR: ("EL", ENTRANCE),
    DeviceType.SMOKE_DETECTOR: ("SD", BUILDING),
    DeviceType.GAS_DETECTOR: ("GD", BUILDING),
    DeviceType.WATER_PUMP: ("WP", ESTATE),
    DeviceType.MANHOLE_COVER: ("MC", ESTATE),
    DeviceType.TRANSFORMER: ("TR", ESTATE),
}


def fleet(per_type: int = 2) -> list[Device]:
    """`per_type` devices of every type, codes like EL-0001."""
    return [
        Device(f"{prefix}-{n:04d}", kind, "M1", place, 30, Point(120.38, 36.07), name=f"{kind.label}{n}")
        for kind, (prefix, place) in KINDS.items()
        for n in range(1, per_type + 1)
    ]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    await opened.write(city())
    await opened.register_devices(fleet())
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="session")
def mosquitto() -> tuple[str, int]:
    if not MOSQUITTO.ensure():
        pytest.fail("Mosquitto is neither running on 127.0.0.1:1883 nor installed to be started")
    return MOSQUITTO.host, MOSQUITTO.port


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    if shutil.which("mosquitto") is None:
        pytest.fail("the mosquitto binary is not installed")
    directory = tmp_path / "broker"
    directory.mkdir()
    os.chmod(directory, 0o700)
    broker = PrivateBroker(directory)
    try:
        yield broker
    finally:
        broker.stop()


async def eventually(check, timeout: float = 15.0, every: float = 0.05):  # type: ignore[no-untyped-def]
    """Wait until `check()` (sync or async) is truthy; its last value, or AssertionError."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true after {timeout}s: {check}")
        await asyncio.sleep(every)
