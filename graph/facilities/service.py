"""The rules of facilities' life records over the port (graph.facilities.records).

What each event does to the record:
- installation: when and by whom it was installed; the first maintenance falls due an
  interval after it;
- registration: the 使用登记证 number and, for an elevator, its 救援识别码;
- contract: the maintenance contractor (GB 32100 credit code, name) and its contract (number,
  start and end dates);
- maintenance: booked by the contractor (inside its contract's dates) or the firm managing
  the estate, at a point at or near the device's estate (its outline, or `near_metres` of the
  device's own point); the next one falls due `Intervals` days after the latest;
- inspection: its result (合格 / 不合格 / 复检合格 / 复检不合格) and the next due date (a year
  on when not given); due the day after that date ends (China Standard Time);
- repair: linked to a case the recorder can see and, optionally, a maintenance-fund repair
  project it can see; counted;
- part: a part replaced (name, serial, the case it was for);
- retirement: from then on the record only reads (every write is InvalidInput naming `code`).

The first event of any kind opens the record (a facility installed before the hub knew it
starts with its registration, say); its maintenance falls due an interval after that event.
Times are aware and not in the future; a record booked late (an older maintenance read after a
newer one) never moves a due time back.

Overdue: `overdue_sweep(now)` lists the records whose maintenance or inspection due time passed
and was not yet alarmed (`FacilityStore.facilities_due`, an index on the due time: never every
device), raises `maintenance.overdue` / `inspection.overdue` through `DeviceStore.raise_alarm`
(raised at the due time, so raising again after a crash raises nothing new), opens its case as
any device alarm does (graph.alarm_cases: dispatched to the managing firm) and marks the record
alarmed. Booking the maintenance (inspection) that brings the due time into the future clears
the alarm.

Place figures (`figures`): facilities, due this week, overdue, the inspection pass rate (the
share of inspected facilities whose latest result is a pass) and repairs per elevator in the
year, as exact fractions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from graph.alarm_cases import case_for_alarm, open_alarm_case
from graph.cases import Point
from graph.clock import CHINA_STANDARD_TIME
from graph.errors import Unreachable
from graph.devices import Alarm, Device, DeviceType, Severity, device_code
from graph.errors import InvalidInput, StoreBusy
from graph.events import Event, EventBus, Topic
from graph.facilities.checks import check_credit, check_rescue_code, check_text
from graph.facilities.intervals import INSPECTION_DAYS, Intervals
from graph.facilities.life import apply
from graph.facilities.records import (
    EventKind,
    Facility,
    FacilityEvent,
    FacilityTally,
    InspectionResult,
    Watch,
    data_of,
)
from graph.levels import Level
from graph.scope import Scope
from graph.votes.checks import check_time

if TYPE_CHECKING:
    from graph.geo import PlaceLocator
    from graph.store import Store
    from graph.workflow import Workflow

log = logging.getLogger("hub.facilities")

EVERYTHING = Scope.everything()
RULES = {Watch.MAINTENANCE: "maintenance.overdue", Watch.INSPECTION: "inspection.overdue"}
"""The alarm rule of each watch (graph.devices.Alarm.rule)."""
NEAR_METRES = 300.0
"""How far from the device's own point a maintenance may be booked when its estate has no
outline holding the point."""
SKEW = dt.timedelta(minutes=5)
"""How far ahead of the hub's clock an event's time may be (clocks differ)."""
WEEK = dt.timedelta(days=7)
ATTEMPTS = 8
SWEEP_BATCH = 500
IN_FLIGHT = 8
"""Overdue records a sweep raises at once: their cases' reads overlap (a store serialises
what it must)."""


@dataclass(frozen=True, slots=True)
class Recorder:
    """Who did a maintenance (or a repair): an organisation by credit code and, when known, the
    person by the organisation's staff id."""

    org: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a write left: the record, the event it booked (None when its key was booked
    before: a record read twice is booked once)."""

    facility: Facility
    event: FacilityEvent | None

    @property
    def booked(self) -> bool:
        return self.event is not None


@dataclass(frozen=True, slots=True)
class FacilityFigures:
    """A place's facilities (FacilityTally) and the rates made of them."""

    code: str
    year: int
    tally: FacilityTally

    @property
    def pass_rate(self) -> Fraction | None:
        """Inspected facilities whose latest result is a pass, over those inspected."""
        return None if not self.tally.inspected else Fraction(self.tally.passed, self.tally.inspected)

    @property
    def repairs_per_elevator(self) -> Fraction | None:
        """Repairs of elevators booked in the year over the elevators in service."""
        return None if not self.tally.elevators else Fraction(self.tally.elevator_repairs, self.tally.elevators)


@dataclass(slots=True)
class SweepResult:
    raised: int = 0  # new overdue alarms
    cases: int = 0  # cases opened for them (or for earlier alarms left without one)
    marked: int = 0  # records marked alarmed
    failed: int = 0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def china_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA_STANDARD_TIME).date()


def metres(a: Point, b: Point) -> float:
    """The distance between two WGS-84 points (equirectangular: exact enough below a few km)."""
    lat = math.radians((a.lat + b.lat) / 2)
    dx = math.radians(b.lon - a.lon) * math.cos(lat)
    dy = math.radians(b.lat - a.lat)
    return 6_371_000.0 * math.hypot(dx, dy)


class Facilities:
    """The facilities' rules over a store; cheap to build. `workflow` opens the overdue alarms'
    cases (one is built on the store when not given); `intervals` the maintenance table."""

    def __init__(
        self,
        store: Store,
        *,
        workflow: Workflow | None = None,
        intervals: Intervals | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        locator: PlaceLocator | None = None,
        bus: EventBus | None = None,
        near_metres: float = NEAR_METRES,
    ) -> None:
        self.store = store
        self._workflow = workflow
        self.intervals = intervals or Intervals()
        self.clock = clock or _utc_now
        self._locator = locator
        self.bus = bus
        self.near_metres = near_metres

    @property
    def workflow(self) -> Workflow:
        if self._workflow is None:
            from graph.workflow import Workflow

            self._workflow = Workflow(self.store, bus=self.bus, clock=self.clock, locator=self._locator)
        return self._workflow

    @property
    def locator(self) -> PlaceLocator:
        if self._locator is None:
            from graph.geo import PlaceLocator

            self._locator = PlaceLocator(self.store)
        return self._locator

    def _now(self) -> dt.datetime:
        return check_time(self.clock(), "clock").astimezone(dt.timezone.utc)

    # -- reading -----------------------------------------------------------------------------

    async def life(self, code: str, scope: Scope) -> Facility | None:
        [found] = await self.store.facilities([code], scope)
        return found

    async def figures(self, codes: Sequence[str], scope: Scope, *, now: dt.datetime | None = None) -> list[FacilityFigures | None]:
        """Each place's facility figures for the week from `now` (default the clock) and the
        calendar year (China) holding it; None for a place missing or out of scope."""
        now = check_time(now, "now") if now is not None else self._now()
        year = china_day(now).year
        start = dt.datetime(year, 1, 1, tzinfo=CHINA_STANDARD_TIME)
        end = dt.datetime(year + 1, 1, 1, tzinfo=CHINA_STANDARD_TIME)
        tallies = await self.store.facility_tallies(codes, scope, now=now, soon_until=now + WEEK, year_from=start, year_until=end)
        return [None if tally is None else FacilityFigures(code, year, tally) for code, tally in zip(codes, tallies)]

    # -- writing -----------------------------------------------------------------------------

    async def _device(self, code: str, scope: Scope) -> Device:
        if not isinstance(code, str):
            raise InvalidInput("code", code, "is not a device code")
        device_code(code)
        [device] = await self.store.devices([code], scope)
        if device is None:
            raise InvalidInput("code", code, "is not a device you can see")
        return device

    def _check_at(self, at: dt.datetime, field: str = "at") -> dt.datetime:
        check_time(at, field)
        if at > self._now() + SKEW:
            raise InvalidInput(field, at.isoformat(), "is in the future")
        return at.astimezone(dt.timezone.utc)

    async def _record(
        self,
        code: str,
        kind: EventKind,
        check: Callable[[Facility], None] | None = None,
        *,
        at: dt.datetime,
        scope: Scope,
        recorded_by: str,
        data: Mapping[str, str | None] | None = None,
        by: Recorder | None = None,
        point: Point | None = None,
        key: str | None = None,
        note: str = "",
    ) -> Recorded:
        """Book the event and the record it makes (graph.facilities.life.apply; opened if none),
        once `check` accepts the record as it stands, compare-and-set on the version: re-read
        and try again when another writer went first."""
        device = await self._device(code, scope)
        at = self._check_at(at)
        check_text(recorded_by, "recorded_by")
        check_text(note, "note", 400, empty=True)
        if key is not None:
            check_text(key, "key", 128)
        for _ in range(ATTEMPTS):
            [current] = await self.store.facilities([code], EVERYTHING)
            if key is not None and (await self.store.facility_keys(code, [key]))[0]:
                assert current is not None
                return Recorded(current, None)
            if current is not None and current.retired_at is not None:
                raise InvalidInput("code", code, f"was retired on {china_day(current.retired_at)}: its life record only reads")
            base = current or Facility(code=code, device_type=device.type, place_code=device.place_code)
            if check is not None:
                check(base)
            event = FacilityEvent(
                code=code,
                seq=base.version + 1,
                kind=kind,
                at=at,
                recorded_by=recorded_by,
                by_org=None if by is None else by.org,
                by_staff=None if by is None else by.staff,
                point=point,
                key=key,
                note=note,
                data=data_of(data or {}),
            )
            changed = apply(base, event, self.intervals)
            if await self.store.save_facility(changed, event):
                await self._settle(device, base, changed)
                return Recorded(changed, event)
        raise StoreBusy(f"facility {code}: other writers kept changing its life record; nothing was written")

    async def _settle(self, device: Device, before: Facility, after: Facility) -> None:
        """Clear the overdue alarms a write ended: the due time moved past now, or retirement."""
        now = self._now()
        for watch in Watch:
            due = after.due_at(watch)
            ended = after.retired_at is not None or (due != before.due_at(watch) and due is not None and due > now)
            if not ended:
                continue
            alarm = await self.store.clear_alarm(device.code, RULES[watch], now)
            if alarm is not None and self.bus is not None:
                self.bus.publish(Event(Topic.ALARMS, alarm.id, "cleared", device.place_code))

    async def record_installation(
        self, code: str, *, at: dt.datetime, installed_by: str | None = None, scope: Scope, recorded_by: str,
        key: str | None = None, note: str = "",
    ) -> Recorded:
        if installed_by is not None:
            check_text(installed_by, "installed_by")

        return await self._record(
            code, EventKind.INSTALLATION, None, at=at, scope=scope, recorded_by=recorded_by,
            data={"installer": installed_by}, key=key, note=note,
        )

    async def record_registration(
        self, code: str, *, at: dt.datetime, number: str, rescue_code: str | None = None, scope: Scope,
        recorded_by: str, key: str | None = None, note: str = "",
    ) -> Recorded:
        check_text(number, "number")
        if rescue_code is not None:
            check_rescue_code(rescue_code, "rescue_code")

        return await self._record(
            code, EventKind.REGISTRATION, None, at=at, scope=scope, recorded_by=recorded_by,
            data={"registration_number": number, "rescue_code": rescue_code}, key=key, note=note,
        )

    async def record_contract(
        self, code: str, *, at: dt.datetime, contractor_code: str, contractor_name: str, number: str,
        start: dt.date, end: dt.date, scope: Scope, recorded_by: str, key: str | None = None, note: str = "",
    ) -> Recorded:
        contractor = check_credit(contractor_code, "contractor_code")
        check_text(contractor_name, "contractor_name")
        check_text(number, "number")
        for value, name in ((start, "start"), (end, "end")):
            if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
                raise InvalidInput(name, value, "must be a date")
        if end < start:
            raise InvalidInput("end", end.isoformat(), f"is before the start {start.isoformat()}")

        data = {
            "contractor_code": contractor, "contractor_name": contractor_name, "contract_number": number,
            "start": start.isoformat(), "end": end.isoformat(),
        }
        return await self._record(
            code, EventKind.CONTRACT, None, at=at, scope=scope, recorded_by=recorded_by, data=data, key=key, note=note
        )

    async def managing_firms(self, device: Device, at: dt.datetime) -> set[str]:
        """The firms managing the estate holding the device's place on the day of `at`."""
        estate = await self._estate_of(device.place_code)
        if estate is None:
            return set()
        [spans] = await self.store.managements([estate], china_day(at), EVERYTHING)
        return {span.firm_code for span in spans}

    async def _estate_of(self, place: str) -> str | None:
        [lineage] = await self.store.ancestors([place], EVERYTHING)
        [here] = await self.store.places([place], EVERYTHING)
        for found in [*lineage, *([here] if here is not None else [])]:
            if found.level is Level.ESTATE:
                return found.code
        return None

    async def check_near(self, device: Device, point: Point) -> None:
        """The point is inside the outline of the device's estate, or within `near_metres` of
        the device's own point; with neither an outline nor a point there is nothing to check
        against and it passes. InvalidInput naming `point` otherwise."""
        lon, lat = point.lon, point.lat
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (lon, lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InvalidInput("point", f"{lon},{lat}", "is not a WGS-84 longitude, latitude")
        estate = await self._estate_of(device.place_code)
        outlined = estate is not None and estate in (await self.locator.shapes(Level.ESTATE)).codes
        if outlined and await self.locator.estate_at(point) == estate:
            return
        if device.point is not None and metres(device.point, point) <= self.near_metres:
            return
        if not outlined and device.point is None:
            return
        raise InvalidInput("point", f"{lon},{lat}", f"is not at or near the device's place {device.place_code}")

    async def record_maintenance(
        self,
        code: str,
        *,
        at: dt.datetime,
        by_org: str,
        by_staff: str | None = None,
        point: Point | None,
        scope: Scope,
        recorded_by: str,
        items: str | None = None,
        key: str | None = None,
        note: str = "",
    ) -> Recorded:
        """Book a maintenance done at `at` by `by_org` (a credit code: the contractor of the
        facility's contract in force that day, or the firm managing its estate) and, when known,
        its staff member `by_staff`, at `point` (checked by `check_near`)."""
        org = check_credit(by_org, "by_org")
        if by_staff is not None:
            check_text(by_staff, "by_staff", 64)
        if items is not None:
            check_text(items, "items")
        device = await self._device(code, scope)
        at = self._check_at(at)
        if point is not None:
            await self.check_near(device, point)
        managers = await self.managing_firms(device, at)
        day = china_day(at)

        def check(f: Facility) -> None:
            if org != f.contractor_code and org not in managers:
                raise InvalidInput("by_org", org, "is neither the facility's maintenance contractor nor the firm managing its estate")
            if org == f.contractor_code and org not in managers and not (
                f.contract_start is not None and f.contract_end is not None and f.contract_start <= day <= f.contract_end
            ):
                raise InvalidInput("at", at.isoformat(), f"is outside the maintenance contract {f.contract_number} ({f.contract_start} to {f.contract_end})")

        return await self._record(
            code, EventKind.MAINTENANCE, check, at=at, scope=scope, recorded_by=recorded_by,
            data={"items": items}, by=Recorder(org, by_staff), point=point, key=key, note=note,
        )

    async def record_inspection(
        self,
        code: str,
        *,
        at: dt.datetime,
        result: InspectionResult,
        next_due: dt.date | None = None,
        inspector: str | None = None,
        report: str | None = None,
        scope: Scope,
        recorded_by: str,
        key: str | None = None,
        note: str = "",
    ) -> Recorded:
        """Book a periodic inspection: its result and the next due date (a year after the
        inspection's day when not given; it must be after that day)."""
        if not isinstance(result, InspectionResult):
            raise InvalidInput("result", result, f"must be one of {', '.join(r.label for r in InspectionResult)}")
        for value, name in ((inspector, "inspector"), (report, "report")):
            if value is not None:
                check_text(value, name)
        at = self._check_at(at)
        day = china_day(at)
        due_day = next_due if next_due is not None else day + dt.timedelta(days=INSPECTION_DAYS)
        if not isinstance(due_day, dt.date) or isinstance(due_day, dt.datetime):
            raise InvalidInput("next_due", due_day, "must be a date")
        if due_day <= day:
            raise InvalidInput("next_due", due_day.isoformat(), f"must be after the inspection's day {day.isoformat()}")

        data = {"result": result.value, "next_due": due_day.isoformat(), "inspector": inspector, "report": report}
        return await self._record(
            code, EventKind.INSPECTION, None, at=at, scope=scope, recorded_by=recorded_by, data=data, key=key, note=note
        )

    async def record_repair(
        self,
        code: str,
        *,
        at: dt.datetime,
        case_id: str,
        project_id: str | None = None,
        by: Recorder | None = None,
        scope: Scope,
        recorded_by: str,
        key: str | None = None,
        note: str = "",
    ) -> Recorded:
        """Book a repair done for case `case_id` (a case the recorder can see) and, optionally,
        paid from the maintenance fund's repair project `project_id` (one it can see)."""
        await self._check_case(case_id, scope)
        if project_id is not None:
            check_text(project_id, "project_id", 64)
            [project] = await self.store.projects([project_id], scope)
            if project is None:
                raise InvalidInput("project_id", project_id, "is not a repair project you can see")
        if by is not None:
            check_credit(by.org, "by_org")
        return await self._record(
            code, EventKind.REPAIR, None, at=at, scope=scope, recorded_by=recorded_by,
            data={"case_id": case_id, "project_id": project_id}, by=by, key=key, note=note,
        )

    async def _check_case(self, case_id: str, scope: Scope) -> None:
        check_text(case_id, "case_id", 64)
        [case] = await self.store.cases([case_id], scope)
        if case is None:
            raise InvalidInput("case_id", case_id, "is not a case you can see")

    async def record_part(
        self,
        code: str,
        *,
        at: dt.datetime,
        part: str,
        serial: str | None = None,
        case_id: str | None = None,
        scope: Scope,
        recorded_by: str,
        key: str | None = None,
        note: str = "",
    ) -> Recorded:
        check_text(part, "part")
        if serial is not None:
            check_text(serial, "serial")
        if case_id is not None:
            await self._check_case(case_id, scope)
        return await self._record(
            code, EventKind.PART, None, at=at, scope=scope, recorded_by=recorded_by,
            data={"part": part, "serial": serial, "case_id": case_id}, key=key, note=note,
        )

    async def record_retirement(
        self, code: str, *, at: dt.datetime, reason: str | None = None, scope: Scope, recorded_by: str,
        key: str | None = None, note: str = "",
    ) -> Recorded:
        """Retire the facility: its record only reads from now on, and its overdue alarms clear."""
        if reason is not None:
            check_text(reason, "reason")

        return await self._record(
            code, EventKind.RETIREMENT, None, at=at, scope=scope, recorded_by=recorded_by,
            data={"reason": reason}, key=key, note=note,
        )

    # -- the overdue sweep -------------------------------------------------------------------

    async def overdue_sweep(self, now: dt.datetime | None = None) -> SweepResult:
        """Raise the overdue alarms of every record whose maintenance or inspection fell due
        before `now` (default the clock) and was not yet alarmed, open their cases, and mark the
        records alarmed. Reads only the records newly overdue (an index on the due time)."""
        now = check_time(now, "now") if now is not None else self._now()
        result = SweepResult()
        for watch in Watch:
            while True:
                page = await self.store.facilities_due(watch, now, SWEEP_BATCH)
                if not page.items:
                    break
                devices = await self.store.devices([f.code for f in page.items], EVERYTHING)
                marked = result.marked
                gate = asyncio.Semaphore(IN_FLIGHT)
                lost: list[Unreachable] = []

                async def one(facility: Facility, device: Device) -> None:
                    async with gate:
                        if lost:
                            return  # the store is gone (a restart, a failover): the next sweep finds it again
                        try:
                            await self._overdue(watch, facility, device, result)
                        except Unreachable as error:
                            result.failed += 1
                            lost.append(error)
                        except Exception:
                            result.failed += 1
                            log.exception("facilities: the overdue %s of %s could not be raised", watch.value, facility.code)

                await asyncio.gather(*(one(f, d) for f, d in zip(page.items, devices) if d is not None))
                if lost:
                    raise lost[0]  # one word for the caller, not a traceback per facility
                if result.marked == marked:
                    break  # nothing could be marked: the rest waits for the next sweep
        return result

    async def _overdue(self, watch: Watch, facility: Facility, device: Device, result: SweepResult) -> None:
        due = facility.due_at(watch)
        assert due is not None
        what = "维保" if watch is Watch.MAINTENANCE else "定期检验"
        graver = device.type is DeviceType.ELEVATOR
        alarm = await self.store.raise_alarm(
            Alarm(
                id="",
                device_code=device.code,
                device_type=device.type,
                rule=RULES[watch],
                severity=Severity.MAJOR if graver else Severity.MINOR,
                message=f"{device.type.label}{what}超期（应于 {china_day(due - dt.timedelta(microseconds=1)).isoformat()} 前完成）",
                raised_at=due,
                place_code=device.place_code,
                point=device.point,
            )
        )
        if alarm is not None:
            result.raised += 1
            if self.bus is not None:
                self.bus.publish(Event(Topic.ALARMS, alarm.id, "raised", device.place_code))
            await open_alarm_case(self.store, self.workflow, device, alarm)  # new: no case was opened for it
            result.cases += 1
        else:
            # raised before (a sweep that died before marking, or still active): its case, if missing
            page = await self.store.alarm_page(EVERYTHING, 5, active=True, device_codes=[device.code])
            alarm = next((a for a in page.items if a.rule == RULES[watch]), None)
            if alarm is not None and await case_for_alarm(self.store, self.workflow, device, alarm):
                result.cases += 1
        if await self.store.flag_overdue(device.code, watch, due):
            result.marked += 1
