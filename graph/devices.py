"""Devices (物联设备) installed at places, what they report, and the alarms they raise.

A device is registered with a unique code, a type, a model, the place it is installed at (an
estate, a building or an entrance: an elevator hangs at its entrance, a manhole cover in its
estate), a WGS-84 point, how often it reports, and per-device overrides of its type's rule
parameters (`thresholds`, see graph.rules). The store keeps, beside the registration, the latest
state (status, when last seen, the latest value of each metric), the raw readings for a
retention period, and the alarms.

An alarm is raised by a rule (graph.rules) for one device; while it is active no second alarm of
the same rule is raised for that device (no storms), nor ever a second one of the same rule at the
same time (a message delivered again after a crash raises nothing new). A person acknowledges it; the rule's clear
condition clears it. Each alarm opens a case (graph.cases, source DEVICE_ALARM), whose id the
alarm keeps.

Scope: a device or alarm is in a caller's scope when the device's place is.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from graph.cases import Point
from graph.errors import InvalidInput
from graph.model import Page, Provenance
from graph.scope import Scope

Value = float | bool | str
"""A metric's value: a measurement, a flag, or a code (an elevator's fault code)."""


class DeviceType(enum.Enum):
    ELEVATOR = "elevator"  # 电梯
    SMOKE_DETECTOR = "smoke_detector"  # 烟感
    GAS_DETECTOR = "gas_detector"  # 可燃气体探测器
    WATER_PUMP = "water_pump"  # 二次供水泵
    MANHOLE_COVER = "manhole_cover"  # 井盖
    TRANSFORMER = "transformer"  # 干式变压器

    @property
    def label(self) -> str:
        return _TYPE_LABELS[self]


_TYPE_LABELS = {
    DeviceType.ELEVATOR: "电梯",
    DeviceType.SMOKE_DETECTOR: "烟感",
    DeviceType.GAS_DETECTOR: "可燃气体探测器",
    DeviceType.WATER_PUMP: "水泵",
    DeviceType.MANHOLE_COVER: "井盖",
    DeviceType.TRANSFORMER: "干式变压器",
}


class DeviceStatus(enum.Enum):
    NEW = "new"
    """Registered, never heard from."""
    ONLINE = "online"
    OFFLINE = "offline"
    """Said so (its last will, or a status message), or silent for longer than the offline rule
    allows."""
    ALARM = "alarm"
    """Online with at least one active alarm."""

    @property
    def label(self) -> str:
        return {"new": "未上线", "online": "在线", "offline": "离线", "alarm": "告警"}[self.value]


class Severity(enum.Enum):
    CRITICAL = "critical"  # 紧急
    MAJOR = "major"  # 重要
    MINOR = "minor"  # 次要
    WARNING = "warning"  # 提示

    @property
    def label(self) -> str:
        return {"critical": "紧急", "major": "重要", "minor": "次要", "warning": "提示"}[self.value]

    @property
    def rank(self) -> int:
        """0 for critical … 3 for warning: lower is graver."""
        return list(Severity).index(self)


_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,63}")


def device_code(text: str, *, field_name: str = "code") -> str:
    """A device code checked: 3 to 64 ASCII letters, digits, `_`, `.` or `-`, starting with a
    letter or digit. It is a segment of the device's MQTT topics, so `/`, `+`, `#` and spaces
    are refused.

    >>> device_code("DT-370202-0001")
    'DT-370202-0001'
    >>> device_code("a/b")
    Traceback (most recent call last):
    ...
    graph.errors.InvalidInput: code: 'a/b' must be 3 to 64 ASCII letters, digits, '_', '.' or '-' (it names the device's MQTT topics)
    """
    if not isinstance(text, str) or not _CODE.fullmatch(text):
        raise InvalidInput(field_name, text, "must be 3 to 64 ASCII letters, digits, '_', '.' or '-' (it names the device's MQTT topics)")
    return text


@dataclass(frozen=True, slots=True)
class Device:
    """A registered device and, when read from a store, its latest state.

    `thresholds` override the parameters of the rules of the device's type by name (graph.rules
    lists them: `{"lel_major": 20}` for a gas detector that should alarm earlier, say).
    """

    code: str
    type: DeviceType
    model: str
    place_code: str
    """The estate, building or entrance it is installed at."""
    interval: int
    """Seconds between reports it promises; the offline rule counts in multiples of it."""
    point: Point | None = None
    name: str = ""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    provenance: Provenance | None = None
    # the latest state, kept by ingestion; registering a device never changes it
    status: DeviceStatus = DeviceStatus.NEW
    last_seen: dt.datetime | None = None
    values: Mapping[str, Value] = field(default_factory=dict)
    """The latest value of each metric."""
    registered_at: dt.datetime | None = None
    reading_at: dt.datetime | None = None
    """The device's own time (`ts`) of the newest reading ingestion's rules took in: after a
    restart the rules resume from it, so a message the broker sends again because the hub died
    before acknowledging it is judged as new when it is newer than this (`last_seen` is the
    hub's clock, when it last heard the device, and would hide it)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One message of a device: its time (the device's `ts`) and the values it carried."""

    device_code: str
    at: dt.datetime
    values: Mapping[str, Value]
    kind: str = "telemetry"
    """telemetry or event (the topic it came on)."""
    received_at: dt.datetime | None = None
    """When the hub took it in (None: same as `at`)."""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A change of a device's latest state, written by ingestion in batches."""

    code: str
    status: DeviceStatus
    last_seen: dt.datetime | None
    values: Mapping[str, Value]
    reading_at: dt.datetime | None = None
    """The newest reading's own time (`Device.reading_at`); None keeps the stored one."""


@dataclass(frozen=True, slots=True)
class Alarm:
    """An alarm raised by `rule` on a device. Active until `cleared_at` is set."""

    id: str
    device_code: str
    device_type: DeviceType
    rule: str
    """The rule's name, e.g. `elevator.trapped` (graph.rules)."""
    severity: Severity
    message: str
    """What is wrong, in Chinese, for the person on duty (e.g. 电梯困人)."""
    raised_at: dt.datetime
    place_code: str
    point: Point | None = None
    value: str | None = None
    """The value that raised it, as text (e.g. `34.0 %LEL`)."""
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    cleared_at: dt.datetime | None = None
    case_id: str | None = None
    """The case opened for it."""

    @property
    def active(self) -> bool:
        return self.cleared_at is None


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    """A place's devices by status and its active alarms, for dashboards (设备在线, 告警)."""

    total: int = 0
    new: int = 0
    online: int = 0
    offline: int = 0
    alarm: int = 0
    active_alarms: int = 0


class DeviceStore(Protocol):
    """The device part of the store port: registry, latest state, readings, alarms."""

    async def register_devices(self, devices: Sequence[Device]) -> tuple[int, int]:
        """Insert or update registrations by code (the latest state is kept); every place must
        exist and be an estate, building or entrance, else InvalidInput names the device and
        nothing of the batch is written. Returns (inserted, updated): a registration identical
        to the stored one (provenance aside) counts as neither."""

    async def devices(self, codes: Sequence[str], scope: Scope) -> list[Device | None]:
        """The devices with these codes, in order; None where missing or out of scope."""

    async def device_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        types: Sequence[DeviceType] | None = None,
        statuses: Sequence[DeviceStatus] | None = None,
    ) -> Page[Device]:
        """Devices under `within` (or anywhere) in scope, by code, filtered."""

    async def device_count(
        self,
        scope: Scope,
        *,
        within: str | None = None,
        types: Sequence[DeviceType] | None = None,
        statuses: Sequence[DeviceStatus] | None = None,
    ) -> int:
        """How many devices `device_page` would list."""

    async def device_summaries(self, codes: Sequence[str], scope: Scope) -> list[DeviceSummary | None]:
        """For each place, its devices and theirs below it (in scope) counted by status, and
        their active alarms; None for a place missing or out of scope."""

    async def all_devices(self) -> list[Device]:
        """Every registered device, unscoped: ingestion's registry cache (never for a caller)."""

    async def save_device_states(self, states: Sequence[DeviceState]) -> None:
        """Write latest states (by code; unknown codes are ignored; the last state of a code in
        the batch wins). Not `save_states`: the connector ledger's stream states have that name."""

    async def add_readings(self, readings: Sequence[Reading]) -> int:
        """Append raw readings of registered devices (others are skipped); returns how many
        were given for registered devices. A reading equal to a stored one (same device, time,
        kind and values: a message delivered again) is not stored twice."""

    async def readings(
        self, code: str, scope: Scope, *, since: dt.datetime | None = None, first: int = 100
    ) -> list[Reading]:
        """A device's readings in scope, newest first."""

    async def prune_readings(self, before: dt.datetime) -> int:
        """Delete readings taken before `before` (the retention); returns how many."""

    async def raise_alarm(self, alarm: Alarm) -> Alarm | None:
        """Store a new active alarm (its id assigned by the store when empty); None, storing
        nothing, when the device already has an active alarm of the same rule, or had one of
        the same rule raised at the same time (the message that raised it, delivered again)."""

    async def clear_alarm(self, device_code: str, rule: str, at: dt.datetime) -> Alarm | None:
        """Clear the device's active alarm of this rule; None if there is none."""

    async def acknowledge_alarm(self, alarm_id: str, *, actor: str, at: dt.datetime, scope: Scope) -> Alarm:
        """Acknowledge an alarm in scope (again: keeps the first); InvalidInput for an unknown or
        out-of-scope id (the same message)."""

    async def link_alarm_case(self, alarm_id: str, case_id: str) -> None:
        """Record the case opened for an alarm."""

    async def alarms(self, ids: Sequence[str], scope: Scope) -> list[Alarm | None]:
        """The alarms with these ids, in order; None where missing or out of scope."""

    async def alarm_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        active: bool | None = None,
        device_codes: Sequence[str] | None = None,
        since: dt.datetime | None = None,
    ) -> Page[Alarm]:
        """Alarms under `within` (or anywhere) in scope, newest first; `active` True for those
        not cleared, False for cleared ones; `since` bounds the raise time (inclusive)."""

    async def active_alarms(self) -> list[Alarm]:
        """Every active alarm, unscoped: ingestion restores its rule state from them."""
