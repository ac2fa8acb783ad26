"""The demo city's devices: what a Qingdao estate really has wired up, placed where it would be.

Per estate: a secondary water-supply pump room (二次供水) with one or two pumps, a dry-type
transformer in its substation (配电房), manhole covers along its roads (井盖, one per 2–3
buildings, at least two), combustible-gas detectors in the garage or boiler room of newer
estates; per building a smoke detector in its public area; per entrance of a building of seven
floors or more an elevator (电梯, as the national code requires lifts from the seventh floor).

Codes say what and where: `EL-` + entrance code, `SD-` + building code, and `WP-`, `TR-`,
`MH-`, `GD-` + estate code + a number. Points: buildings and entrances at their building's
outline, estate-level devices drawn inside the estate's outline. Everything comes from private
random streams of the seed and the estate's code (hub.demo.seeds), so the same city gets the
same devices.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

from shapely.geometry import shape as to_shape

from graph.cases import Point
from graph.devices import Device, DeviceType
from graph.levels import Level
from graph.model import Place
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from hub.demo.geometry import sample_points
from hub.demo.seeds import stream

EVERYTHING = Scope.everything()

MODELS = {
    DeviceType.ELEVATOR: ("日立 HGP-1000 物联网关", "三菱 NEXIEZ-MRL 监测终端", "奥的斯 Gen2 远程监测"),
    DeviceType.SMOKE_DETECTOR: ("海湾 JTY-GD-G3T NB-IoT", "泛海三江 JTY-GM-FS3052"),
    DeviceType.GAS_DETECTOR: ("汉威 BS01 可燃气体探测器", "华西 HX-1000 点型探测器"),
    DeviceType.WATER_PUMP: ("格兰富 Hydro MPC-E 变频泵组", "威乐 COR-3 变频供水设备"),
    DeviceType.MANHOLE_COVER: ("拓普 TP-JG200 智能井盖", "慧联 HL-MC1 井盖监测终端"),
    DeviceType.TRANSFORMER: ("顺特 SCB13-800/10 温控器", "金盘 SCB12-1000 温控器"),
}
INTERVALS = {
    DeviceType.ELEVATOR: 30,
    DeviceType.SMOKE_DETECTOR: 300,
    DeviceType.GAS_DETECTOR: 60,
    DeviceType.WATER_PUMP: 30,
    DeviceType.MANHOLE_COVER: 300,
    DeviceType.TRANSFORMER: 60,
}
"""Seconds between reports, as such terminals are usually set up."""

ELEVATOR_FLOORS = 7
EXAMPLE_STREET = "370202001"
"""香港中路街道, the first street of the first district: the street office `hub demo` issues a
token for and the README's examples ask as. The served demo simulates all its devices and makes
them fault more often, so its alarms and cases show within a minute (hub.background.Simulation)."""


async def _all(store: Store, level: Level, within: str | None) -> AsyncIterator[Place]:
    after: str | None = None
    while True:
        page = await store.subtree(level, within, EVERYTHING, MAX_PAGE, after)
        for place in page.items:
            yield place
        if not page.has_next:
            return
        after = page.end_cursor


def _device(kind: DeviceType, code: str, place: Place, point: Point | None, name: str, rng: random.Random) -> Device:
    return Device(
        code=code,
        type=kind,
        model=rng.choice(MODELS[kind]),
        place_code=place.code,
        interval=INTERVALS[kind],
        point=point,
        name=name,
    )


def _centre(place: Place) -> Point | None:
    if not place.geometry:
        return None
    inner = to_shape(place.geometry).representative_point()
    return Point(round(inner.x, 7), round(inner.y, 7))


def _inside(estate: Place, count: int, rng: random.Random) -> list[Point | None]:
    if not estate.geometry or count == 0:
        return [None] * count
    return [Point(round(x, 7), round(y, 7)) for x, y in sample_points(to_shape(estate.geometry), count, rng)]


async def estate_devices(store: Store, estate: Place, seed: int) -> list[Device]:
    """The devices of one estate, its buildings and entrances."""
    rng = stream(seed, "devices", estate.code)
    buildings = [building async for building in _all(store, Level.BUILDING, estate.code)]
    entrances = [entrance async for entrance in _all(store, Level.ENTRANCE, estate.code)]
    by_building: dict[str, list[Place]] = {}
    for entrance in entrances:
        by_building.setdefault(entrance.parent_code or "", []).append(entrance)
    found: list[Device] = []
    for building in buildings:
        centre = _centre(building)
        found.append(_device(DeviceType.SMOKE_DETECTOR, f"SD-{building.code}", building, centre, f"{building.name}公共区域烟感", rng))
        if (building.floors or 0) >= ELEVATOR_FLOORS:
            for entrance in by_building.get(building.code, []):
                found.append(_device(DeviceType.ELEVATOR, f"EL-{entrance.code}", entrance, centre, f"{building.name}{entrance.name}电梯", rng))
    pumps = 1 + (len(buildings) > 8)
    covers = max(2, len(buildings) // 2)
    detectors = rng.randint(1, 2) if any((b.floors or 0) >= ELEVATOR_FLOORS for b in buildings) else 0
    plan = [(DeviceType.WATER_PUMP, "WP", "二次供水泵", pumps), (DeviceType.TRANSFORMER, "TR", "配电房干式变压器", 1),
            (DeviceType.MANHOLE_COVER, "MH", "井盖", covers), (DeviceType.GAS_DETECTOR, "GD", "地下车库可燃气体探测器", detectors)]
    for kind, prefix, label, count in plan:
        for number, point in enumerate(_inside(estate, count, rng), start=1):
            found.append(_device(kind, f"{prefix}-{estate.code}-{number:02d}", estate, point, f"{estate.name}{label}{number}号", rng))
    return found


async def register_demo_devices(store: Store, seed: int = 2020) -> int:
    """Register every estate's devices (again: an update that keeps their state); returns how
    many devices the city has."""
    total = 0
    batch: list[Device] = []
    async for estate in _all(store, Level.ESTATE, None):
        batch.extend(await estate_devices(store, estate, seed))
        if len(batch) >= 2000:
            await store.register_devices(batch)
            total += len(batch)
            batch = []
    if batch:
        await store.register_devices(batch)
        total += len(batch)
    return total
