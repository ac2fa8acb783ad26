"""The demo city's facilities over their whole life (设施设备全生命周期): every elevator, secondary
water-supply pump, dry-type transformer and smoke detector gets a life record with a year of
history, loaded at once (`FacilityStore.load_facilities`, folded by graph.facilities.life as the
service would have booked it event by event):

- installation, years ago (elevators 2–15 years, the rest 1–10);
- registration: 使用登记证 number `梯11` + the district + a serial for an elevator (with a
  five-digit 救援识别码), `设11…` for the rest;
- a maintenance contract with one of four contractors (elevators: two lift firms; smoke
  detectors: a fire-safety firm; pumps and transformers: a plant firm), from a year ago to a
  year on;
- maintenance every interval (graph.facilities.intervals: elevators 15 days, smoke detectors
  and pumps 30, transformers 90) over the past year, a day or two early or late, booked by the
  contractor's staff at the device's point;
- a periodic inspection in the past year: 合格 for most, 不合格 and 复检合格 a month later for a
  few, the next due a year after it;
- a repair and a part replaced for some.

Some fall overdue: about one in thirty stopped being maintained two intervals ago, one in fifty
missed its inspection; and the first elevator of the example street (香港中路街道, whose office
the demo's street token is) is always overdue, so `hub serve`'s overdue sweep raises its
`maintenance.overdue` alarm and opens its case at once. Nothing here is random beyond the seed:
the same city gets the same histories. Loading again loads nothing twice.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from graph.clock import CHINA_STANDARD_TIME, utc_now
from graph.codes import credit_check_character
from graph.devices import Device, DeviceType, every_device
from graph.facilities.intervals import Intervals
from graph.facilities.life import fold
from graph.facilities.records import EventKind, Facility, FacilityEvent, InspectionResult, data_of
from graph.store import Store
from hub.demo.devices import EXAMPLE_STREET
from hub.demo.seeds import stream


def _credit(first17: str) -> str:
    return first17 + credit_check_character(first17)


CONTRACTORS: dict[DeviceType, tuple[tuple[str, str], ...]] = {
    DeviceType.ELEVATOR: (
        (_credit("91370202MA3C7DT01"), "青岛安达电梯工程有限公司"),
        (_credit("91370212MA3C7DT02"), "青岛通达电梯维保有限公司"),
    ),
    DeviceType.SMOKE_DETECTOR: ((_credit("91370203MA3C7XF03"), "青岛消安消防技术服务有限公司"),),
    DeviceType.WATER_PUMP: ((_credit("91370211MA3C7GD04"), "青岛水电设备运维有限公司"),),
    DeviceType.TRANSFORMER: ((_credit("91370211MA3C7GD04"), "青岛水电设备运维有限公司"),),
}
"""The demo's maintenance contractors (维保单位) by what they maintain."""
KINDS = tuple(CONTRACTORS)
RECORDER = "demo:hub demo"
CHUNK = 500
STOPPED = 30  # one in this many stopped being maintained
MISSED = 50  # one in this many missed its inspection


@dataclass(frozen=True, slots=True)
class DemoFacilities:
    records: int  # life records loaded now (0 when built before)
    events: int
    overdue_maintenance: int
    overdue_inspection: int
    example_overdue: str | None  # the example street's elevator left overdue


def _staff(rng: random.Random) -> str:
    return f"W-{rng.randint(1, 60):03d}"


def history(device: Device, seed: int, now: dt.datetime, intervals: Intervals, *, force_overdue: bool = False) -> list[FacilityEvent]:
    """A device's year: its events in order (see the module docstring)."""
    rng = stream(seed, "facilities", device.code)
    kind = device.type
    org, name = rng.choice(CONTRACTORS[kind])
    years = rng.randint(2, 15) if kind is DeviceType.ELEVATOR else rng.randint(1, 10)
    installed = now - dt.timedelta(days=365 * years + rng.randint(0, 300))
    year_ago = now - dt.timedelta(days=365)
    district = device.code.split("-", 1)[-1][:6]
    made: list[tuple[EventKind, dt.datetime, dict[str, str | None], bool]] = []  # kind, at, data, by the contractor

    def add(what: EventKind, at: dt.datetime, data: dict[str, str | None], by: bool = False) -> None:
        made.append((what, at, data, by))

    add(EventKind.INSTALLATION, installed, {"installer": "青岛市设备安装工程有限公司"})
    prefix = "梯11" if kind is DeviceType.ELEVATOR else "设11"
    rescue = f"{rng.randint(10000, 99999)}" if kind is DeviceType.ELEVATOR else None
    add(EventKind.REGISTRATION, installed + dt.timedelta(days=20), {"registration_number": f"{prefix}{district}{installed.year}{rng.randint(1, 99999):05d}", "rescue_code": rescue})
    start = (year_ago - dt.timedelta(days=rng.randint(0, 60))).astimezone(CHINA_STANDARD_TIME).date()
    add(EventKind.CONTRACT, dt.datetime.combine(start, dt.time(9), CHINA_STANDARD_TIME), {
        "contractor_code": org, "contractor_name": name, "contract_number": f"WB-{start.year}-{rng.randint(1, 9999):04d}",
        "start": start.isoformat(), "end": start.replace(year=start.year + 2).isoformat(),
    })
    days = intervals.for_type(kind)
    stop = now - dt.timedelta(days=2 * days + rng.randint(1, days)) if force_overdue or rng.randrange(STOPPED) == 0 else now
    at = dt.datetime.combine(start, dt.time(9), CHINA_STANDARD_TIME) + dt.timedelta(days=rng.randint(1, days))
    while at < stop and at < now - dt.timedelta(hours=1):
        add(EventKind.MAINTENANCE, at, {"items": "半月保养" if kind is DeviceType.ELEVATOR else "例行保养"}, True)
        at += dt.timedelta(days=days - rng.randint(0, 2), hours=rng.randint(-3, 3))
    inspected = year_ago + dt.timedelta(days=rng.randint(10, 300))
    missed = rng.randrange(MISSED) == 0
    if missed:
        inspected = year_ago - dt.timedelta(days=rng.randint(5, 40))  # the next fell due in the past year
    failed = rng.randrange(12) == 0
    due = (inspected + dt.timedelta(days=365)).astimezone(CHINA_STANDARD_TIME).date()
    add(EventKind.INSPECTION, inspected, {"result": (InspectionResult.FAILED if failed else InspectionResult.PASSED).value, "next_due": due.isoformat(), "inspector": "青岛市特种设备检验研究院"})
    if failed and inspected + dt.timedelta(days=30) < now:
        add(EventKind.INSPECTION, inspected + dt.timedelta(days=30), {"result": InspectionResult.PASSED_ON_RECHECK.value, "next_due": due.isoformat(), "inspector": "青岛市特种设备检验研究院"})
    if rng.randrange(6) == 0:
        when = year_ago + dt.timedelta(days=rng.randint(30, 330))
        part = {"elevator": "层门门锁触点", "smoke_detector": "探测器底座", "water_pump": "机械密封", "transformer": "温控器探头"}[kind.value]
        add(EventKind.PART, when, {"part": part, "serial": f"P{rng.randint(100000, 999999)}"}, True)
    made.sort(key=lambda item: item[1])
    return [
        FacilityEvent(
            code=device.code, seq=seq, kind=what, at=when.astimezone(dt.timezone.utc), recorded_by=RECORDER,
            by_org=org if by else None, by_staff=_staff(rng) if by else None,
            point=device.point if by else None, data=data_of(data),
        )
        for seq, (what, when, data, by) in enumerate(made, start=1)
    ]


async def build_demo_facilities(store: Store, seed: int = 2020, *, now: dt.datetime | None = None, intervals: Intervals | None = None) -> DemoFacilities:
    """Load every elevator's, pump's, transformer's and smoke detector's life record (those
    without one); returns what was loaded and how much of it is overdue now."""
    now = now or utc_now()
    intervals = intervals or Intervals()
    devices = [device for device in await every_device(store) if device.type in KINDS]
    example = next((d.code for d in devices if d.type is DeviceType.ELEVATOR and d.place_code.startswith(EXAMPLE_STREET)), None)
    records = events = overdue_m = overdue_i = 0
    batch: list[tuple[Facility, list[FacilityEvent]]] = []

    async def flush() -> None:
        nonlocal records
        records += await store.load_facilities(batch)
        batch.clear()

    for device in devices:
        made = history(device, seed, now, intervals, force_overdue=device.code == example)
        life = fold(device.code, device.type, device.place_code, made, intervals)
        overdue_m += life.maintenance_due_at is not None and life.maintenance_due_at < now
        overdue_i += life.inspection_due_at is not None and life.inspection_due_at < now
        events += len(made)
        batch.append((life, made))
        if len(batch) >= CHUNK:
            await flush()
    if batch:
        await flush()
    return DemoFacilities(records, events, overdue_m, overdue_i, example)
