"""Facilities over their whole life (设施设备全生命周期): what the hub keeps of each device's life
under its registry code, and the port that keeps it.

A **life record** (`Facility`) hangs from a registered device (graph.devices) and holds the
present state of its life: installation, registration (an elevator's 使用登记证 number and its
救援识别码, the code on the car's 96333 sticker), the maintenance contractor (维保单位, GB 32100
credit code and name) and its contract, the last maintenance and when the next is due, the last
periodic inspection (定期检验) with its result and next due date, how many repairs, and
retirement. Every change is an **event** (`FacilityEvent`) appended to the record's history, and
the state is changed with it in one step: the event's `seq` is the record's new `version`, so a
write is a compare-and-set on the version (two recorders at once: one wins, the other re-reads).
An event may carry a `key` (a source's own record id): a key is booked once per facility, so a
contractor's record read twice is booked once.

The rules (what each kind of event does to the state, intervals, who may record, alarms) are
`graph.facilities.service`'s; the field checks both adapters run are `graph.facilities.checks`.
This port stores, finds and counts.

Overdue watch: `maintenance_watch` / `inspection_watch` (derived, never given) are the due time
while no overdue alarm was raised for it, else None; the sweep lists `facilities_due` by them
through an index, so a sweep reads the facilities newly overdue, not every device. Retired
facilities watch nothing.

Scope: a facility and its events are in a caller's scope when its device's place is (read
through the device, so a device moved takes its record with it). Out of scope behaves as absent.
Times are aware; dates are calendar days.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from graph.cases import Point
from graph.devices import DeviceType
from graph.model import Page
from graph.scope import Scope


class EventKind(enum.StrEnum):
    INSTALLATION = "installation"  # 安装
    REGISTRATION = "registration"  # 使用登记
    CONTRACT = "contract"  # 维保合同
    MAINTENANCE = "maintenance"  # 维护保养
    INSPECTION = "inspection"  # 定期检验
    REPAIR = "repair"  # 维修
    PART = "part"  # 更换部件
    RETIREMENT = "retirement"  # 报废 / 停用注销

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    EventKind.INSTALLATION: "安装",
    EventKind.REGISTRATION: "使用登记",
    EventKind.CONTRACT: "维保合同",
    EventKind.MAINTENANCE: "维护保养",
    EventKind.INSPECTION: "定期检验",
    EventKind.REPAIR: "维修",
    EventKind.PART: "更换部件",
    EventKind.RETIREMENT: "报废注销",
}


class InspectionResult(enum.StrEnum):
    """A periodic inspection's conclusion (检验结论, TSG T7001)."""

    PASSED = "passed"  # 合格
    FAILED = "failed"  # 不合格
    PASSED_ON_RECHECK = "passed_on_recheck"  # 复检合格
    FAILED_ON_RECHECK = "failed_on_recheck"  # 复检不合格

    @property
    def label(self) -> str:
        return _RESULT_LABELS[self]

    @property
    def passed(self) -> bool:
        return self in (InspectionResult.PASSED, InspectionResult.PASSED_ON_RECHECK)

    @classmethod
    def parse(cls, text: str) -> InspectionResult | None:
        """The result its Chinese label or its value names; None for anything else."""
        text = text.strip()
        for result, label in _RESULT_LABELS.items():
            if text in (label, result.value):
                return result
        return None


_RESULT_LABELS = {
    InspectionResult.PASSED: "合格",
    InspectionResult.FAILED: "不合格",
    InspectionResult.PASSED_ON_RECHECK: "复检合格",
    InspectionResult.FAILED_ON_RECHECK: "复检不合格",
}


class Watch(enum.StrEnum):
    """What falls due: maintenance or inspection."""

    MAINTENANCE = "maintenance"
    INSPECTION = "inspection"


@dataclass(frozen=True, slots=True)
class Facility:
    """A device's life record: its state after its last event (`version` events so far).
    `device_type` and `place_code` are the device's, read with it (never given)."""

    code: str
    device_type: DeviceType
    place_code: str
    version: int = 0
    installed_at: dt.datetime | None = None
    installed_by: str | None = None
    registration_number: str | None = None  # 使用登记证编号
    rescue_code: str | None = None  # 救援识别码
    contractor_code: str | None = None  # 维保单位统一社会信用代码
    contractor_name: str | None = None
    contract_number: str | None = None
    contract_start: dt.date | None = None
    contract_end: dt.date | None = None
    maintenance_days: int | None = None  # the interval the next due time was set with
    last_maintained_at: dt.datetime | None = None
    maintenance_due_at: dt.datetime | None = None
    maintenance_alarmed: bool = False  # an overdue alarm was raised for this due time
    last_inspected_at: dt.datetime | None = None
    inspection_result: InspectionResult | None = None
    inspection_due_at: dt.datetime | None = None
    inspection_alarmed: bool = False
    repairs: int = 0
    retired_at: dt.datetime | None = None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def due_at(self, watch: Watch) -> dt.datetime | None:
        return self.maintenance_due_at if watch is Watch.MAINTENANCE else self.inspection_due_at

    def alarmed(self, watch: Watch) -> bool:
        return self.maintenance_alarmed if watch is Watch.MAINTENANCE else self.inspection_alarmed

    def watching(self, watch: Watch) -> dt.datetime | None:
        """The due time the overdue sweep watches: None once alarmed, or retired."""
        if self.retired or self.alarmed(watch):
            return None
        return self.due_at(watch)


@dataclass(frozen=True, slots=True)
class FacilityEvent:
    """One event of a facility's life. `data` holds what its kind says beyond the common fields
    (graph.facilities.checks.DATA_FIELDS: a registration's numbers, a contract's terms, an
    inspection's result and next due date, a repair's case and project, a part's name)."""

    code: str
    seq: int
    kind: EventKind
    at: dt.datetime
    recorded_by: str  # who booked it: a principal (`property_firm:<code>`), a connector run
    by_org: str | None = None  # the organisation that did it (a credit code)
    by_staff: str | None = None  # the person, by the organisation's staff id
    point: Point | None = None
    key: str | None = None  # the source's record id: booked once per facility
    note: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FacilityTally:
    """What the store counts of the facilities at or under a place (retired ones left out of
    every figure but `retired`)."""

    facilities: int = 0
    retired: int = 0
    due_soon: int = 0  # maintenance or inspection due in [now, soon_until)
    overdue: int = 0  # maintenance or inspection due before now
    maintenance_overdue: int = 0
    inspection_overdue: int = 0
    inspected: int = 0  # with an inspection result
    passed: int = 0  # whose latest result is a pass (InspectionResult.passed)
    elevators: int = 0
    elevator_repairs: int = 0  # repair events of elevators in [year_from, year_until)


class FacilityStore(Protocol):
    """The facility part of the store port: storage primitives only (graph.facilities.service
    decides what an event does). Every write is atomic: a refused write leaves nothing."""

    async def save_facility(self, facility: Facility, event: FacilityEvent) -> bool:
        """Append `event` and make `facility` the record's state, at once, if the record stands
        at `facility.version - 1` (0: no record yet) and the event's key (when given) is not
        booked for this code; True. Otherwise change nothing; False. `event.seq` must equal
        `facility.version` and `event.code` `facility.code`; the code must be a registered
        device; the fields pass `graph.facilities.checks.check_facility` and `check_event`:
        InvalidInput naming the field otherwise, nothing written. The watch columns are
        derived from the state (`Facility.watching`). Unscoped: the service checks scope."""

    async def load_facilities(self, items: Sequence[tuple[Facility, Sequence[FacilityEvent]]]) -> int:
        """Store new life records with their whole histories at once (an import, the demo
        city, a bench): each facility at version n with its events numbered 1..n, each pair as
        `save_facility` would check it (`check_history`). A code with a record already is left
        as it is (loading again loads nothing twice); a code given twice, or one that is not a
        registered device, is InvalidInput naming it and nothing is written. May write in
        several atomic chunks (an interrupted load leaves whole records; loading again finishes
        it). Returns how many records were stored. Unscoped."""

    async def facilities(self, codes: Sequence[str], scope: Scope) -> list[Facility | None]:
        """The life records of these device codes, in order; None where there is none or it is
        out of scope. `device_type` and `place_code` are the device's as stored."""

    async def facility_events(
        self, code: str, scope: Scope, first: int, after: str | None = None, *, kinds: Sequence[EventKind] | None = None
    ) -> Page[FacilityEvent]:
        """A facility's events in scope, newest first (by seq descending), of `kinds` (None:
        any), keyset-paged (first clamped to 1..MAX_PAGE; a cursor the store did not make is
        InvalidInput). An unknown or out-of-scope code: an empty page."""

    async def facility_keys(self, code: str, keys: Sequence[str]) -> list[bool]:
        """Whether each key is booked for the facility, in order (False for an unknown code).
        Unscoped (connectors, before booking)."""

    async def facilities_due(self, watch: Watch, before: dt.datetime, first: int, after: str | None = None) -> Page[Facility]:
        """Facilities whose `watching(watch)` time is before `before`, earliest first (ties by
        code), keyset-paged like every list, through an index on the watch: the sweep reads the
        newly overdue, never every facility. Unscoped (the sweep's). A naive `before`: InvalidInput."""

    async def flag_overdue(self, code: str, watch: Watch, due_at: dt.datetime) -> bool:
        """Mark the record's `watch` alarmed, if it is still due at `due_at` and not alarmed
        (leaving version and events as they are); True when this call marked it."""

    async def facility_tallies(
        self,
        codes: Sequence[str],
        scope: Scope,
        *,
        now: dt.datetime,
        soon_until: dt.datetime,
        year_from: dt.datetime,
        year_until: dt.datetime,
    ) -> list[FacilityTally | None]:
        """For each place (any level), the facilities whose device is at or under it counted
        (FacilityTally); None for a place missing or out of scope. Naive times: InvalidInput."""


def data_of(pairs: Mapping[str, str | None]) -> dict[str, str]:
    """An event's data without its empty entries."""
    return {name: value for name, value in pairs.items() if value is not None and value != ""}

