"""`hub bench --only facilities`: the facilities' overdue sweep over as many devices as the
`city` preset's city has, on SQLite, in this process, beside a baseline taken in the same run.

How many devices: the demo registers a city's devices by what its estates, buildings and
entrances hold (hub.demo.devices); its `small` preset of 10,000 houses has 516 of them, and
devices grow with buildings, that is with houses: the city preset's 2,430,000 houses give
`devices_for("city")` ≈ 125,388. The city itself is not built (it takes hours on 2 cores): its
4,000 estates are written as places (ten communities of one street), one firm manages them all,
and the devices are registered at the estates through `register_devices`, types in the demo's
proportions. Each gets a life record loaded through the store (`load_facilities`): installed,
contracted, maintained once, inspected, folded by graph.facilities.life as the service would.
A share of them (`overdue`, default 0.1%: about a day of missed maintenance in a city) was last
maintained two intervals ago: overdue now.

Figures:
1. **the first sweep** (`Facilities.overdue_sweep`): finds the overdue records through the
   watch index, raises each one's `maintenance.overdue` alarm, opens its case (dispatched to the
   managing firm) and marks it: seconds, and per overdue record;
2. **the steady sweep**: the same sweep a minute later, nothing newly overdue (what `hub serve`
   runs every minute): seconds;
3. **baseline**: reading every device row (`all_devices`, what a sweep without the index
   would start from) and every life record by code (`facilities`, in pages of 500).
Target: each sweep < 5 s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graph import open_store
from graph.cases import Point
from graph.ciphers.keyring import Keyring
from graph.codes import credit_check_character
from graph.devices import Device, DeviceType
from graph.facilities.intervals import Intervals
from graph.facilities.life import fold
from graph.facilities.records import EventKind, Facility, FacilityEvent, InspectionResult
from graph.facilities.service import Facilities
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm
from graph.scope import Scope
from hub.demo.presets import resolve

SWEEP_TARGET = 5.0
SMALL_DEVICES = 516
"""Devices the demo registers in the `small` preset's city (BENCHMARKS.md, devices over MQTT)."""
CITY, DISTRICT, STREET = "370200", "370202", "370202001"
COMMUNITIES = 10
MIX = (
    (DeviceType.ELEVATOR, 40), (DeviceType.SMOKE_DETECTOR, 35), (DeviceType.MANHOLE_COVER, 12),
    (DeviceType.WATER_PUMP, 7), (DeviceType.TRANSFORMER, 4), (DeviceType.GAS_DETECTOR, 2),
)
"""Device types in about the proportions the demo city has them."""
FIRM = "91370202MA3C8BN01" + credit_check_character("91370202MA3C8BN01")
CONTRACTOR = "91370202MA3C8BN02" + credit_check_character("91370202MA3C8BN02")
CHUNK = 2_000


def devices_for(preset: str) -> int:
    """About how many devices the demo registers for `preset` (see the module docstring)."""
    return round(resolve(preset).houses * SMALL_DEVICES / resolve("small").houses)


@dataclass(frozen=True, slots=True)
class FacilityFigures:
    devices: int
    estates: int
    overdue: int
    setup_seconds: float
    first_sweep_seconds: float
    raised: int
    cases: int
    steady_sweep_seconds: float
    read_devices_seconds: float
    read_records_seconds: float


def _places(estates: int) -> list[Place]:
    places = [
        Place(CITY, Level.CITY, "青岛市", None),
        Place(DISTRICT, Level.DISTRICT, "市南区", CITY),
        Place(STREET, Level.STREET, "香港中路街道", DISTRICT),
    ]
    per = -(-estates // COMMUNITIES)
    for number in range(COMMUNITIES):
        community = f"{STREET}{number + 1:03d}"
        places.append(Place(community, Level.COMMUNITY, f"第{number + 1}社区", STREET))
        for index in range(min(per, estates - number * per)):
            places.append(Place(f"{community}E{index + 1:03d}", Level.ESTATE, f"小区{number + 1}-{index + 1}", community))
    return places


def _history(device: Device, now: dt.datetime, overdue: bool, intervals: Intervals, rng: random.Random) -> list[FacilityEvent]:
    days = intervals.for_type(device.type)
    maintained = now - dt.timedelta(days=2 * days if overdue else rng.uniform(0.5, days - 1))
    start = (now - dt.timedelta(days=200)).date()
    made = [
        (EventKind.INSTALLATION, now - dt.timedelta(days=2000), {}),
        (EventKind.CONTRACT, now - dt.timedelta(days=200), {
            "contractor_code": CONTRACTOR, "contractor_name": "青岛安达电梯工程有限公司", "contract_number": "WB-1",
            "start": start.isoformat(), "end": (start + dt.timedelta(days=730)).isoformat(),
        }),
        (EventKind.INSPECTION, now - dt.timedelta(days=100), {"result": InspectionResult.PASSED.value, "next_due": (now + dt.timedelta(days=265)).date().isoformat()}),
        (EventKind.MAINTENANCE, maintained, {}),
    ]
    made.sort(key=lambda item: item[1])
    return [FacilityEvent(device.code, seq, kind, at, "bench", data=data) for seq, (kind, at, data) in enumerate(made, start=1)]


async def _measure(folder: Path, count: int, estates: int, share: float) -> FacilityFigures:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'facilities.sqlite'}", sealer=keys.sealer())
    try:
        started = time.perf_counter()
        places = _places(estates)
        codes = [place.code for place in places if place.level is Level.ESTATE]
        since = dt.date(2020, 1, 1)
        await store.write(Batch(
            places=places, firms=[PropertyFirm(FIRM, "青岛基准物业服务有限公司", None)],
            managements=[Management(FIRM, code, since) for code in codes],
        ))
        rng = random.Random(15)
        kinds = [kind for kind, weight in MIX for _ in range(weight)]
        now = dt.datetime.now(dt.timezone.utc)
        intervals = Intervals()
        every = max(1, round(1 / share)) if share > 0 else 0
        overdue = 0
        for start in range(0, count, CHUNK):
            devices = [
                Device(f"BN-{number:07d}", kinds[number % len(kinds)], "基准型", codes[number % len(codes)], 60, Point(120.38, 36.06))
                for number in range(start, min(count, start + CHUNK))
            ]
            await store.register_devices(devices)
            loads: list[tuple[Facility, list[FacilityEvent]]] = []
            for device in devices:
                late = every > 0 and int(device.code[3:]) % every == 0
                overdue += late
                events = _history(device, now, late, intervals, rng)
                loads.append((fold(device.code, device.type, device.place_code, events, intervals), events))
            await store.load_facilities(loads)
        setup = time.perf_counter() - started
        facilities = Facilities(store, clock=lambda: now)
        started = time.perf_counter()
        first = await facilities.overdue_sweep(now)
        first_seconds = time.perf_counter() - started
        later = now + dt.timedelta(minutes=1)
        started = time.perf_counter()
        await facilities.overdue_sweep(later)
        steady = time.perf_counter() - started
        started = time.perf_counter()
        every_device = await store.all_devices()
        read_devices = time.perf_counter() - started
        started = time.perf_counter()
        everything = Scope.everything()
        names = [device.code for device in every_device]
        for at in range(0, len(names), 500):
            await store.facilities(names[at : at + 500], everything)
        read_records = time.perf_counter() - started
        return FacilityFigures(
            devices=count, estates=estates, overdue=overdue, setup_seconds=setup, first_sweep_seconds=first_seconds,
            raised=first.raised, cases=first.cases, steady_sweep_seconds=steady,
            read_devices_seconds=read_devices, read_records_seconds=read_records,
        )
    finally:
        await store.close()


def measure_facilities(devices: int | None = None, overdue: float = 0.001) -> FacilityFigures:
    """The figures of the module docstring; `devices` defaults to the city preset's count."""
    count = devices if devices is not None else devices_for("city")
    estates = min(resolve("city").estates, max(1, count // 30))
    with tempfile.TemporaryDirectory(prefix="hub-bench-facilities-") as folder:
        return asyncio.run(_measure(Path(folder), count, estates, overdue))


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render_facilities(figures: FacilityFigures) -> list[str]:
    f = figures
    per = f.first_sweep_seconds / f.raised * 1000 if f.raised else 0.0
    city = " (the city preset's count)" if f.devices == devices_for("city") else f" (the city preset has about {devices_for('city'):,})"
    return [
        f"### Facilities' overdue sweep: {f.devices:,} devices with life records{city} in {f.estates:,} estates, SQLite, in process",
        "",
        f"Places, devices and life records written in {f.setup_seconds:.1f} s (not counted); {f.overdue:,} records overdue "
        f"({f.overdue / f.devices:.1%}).",
        "",
        "| figure | measured | baseline, same run | target |",
        "|---|---:|---:|---|",
        f"| first sweep: {f.raised:,} overdue found by the watch index, each alarm raised, case opened and dispatched ({f.cases:,}), "
        f"record marked, s | {f.first_sweep_seconds:.2f} ({per:.1f} ms per overdue record) | reading every device row "
        f"(`all_devices`): {f.read_devices_seconds:.2f} | < {SWEEP_TARGET:g} s: {_verdict(f.first_sweep_seconds < SWEEP_TARGET)} |",
        f"| steady sweep a minute later (nothing newly overdue: what `hub serve` runs every minute), s | {f.steady_sweep_seconds:.3f} | "
        f"reading every life record by code, 500 a read: {f.read_records_seconds:.2f} | < {SWEEP_TARGET:g} s: "
        f"{_verdict(f.steady_sweep_seconds < SWEEP_TARGET)} |",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m hub.bench.facilities [devices [overdue share]]`: this benchmark alone."""
    import sys

    arguments = list(sys.argv[1:] if argv is None else argv)
    devices = int(arguments[0]) if arguments else None
    share = float(arguments[1]) if len(arguments) > 1 else 0.001
    print("\n".join(render_facilities(measure_facilities(devices, share))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
