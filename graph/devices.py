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

What belongs to the domain lives here, once, for every adapter: what a valid registration,
alarm and reading are (`check_registrations`, `check_device_place`, `check_alarm`,
`check_reading`, `check_actor`), when a registration changes a device (`registration`), what
status a heard-from device has (`derive_status`), and the services that run over the port
(`device_summaries` over `device_tallies`, `every_active_alarm` over `alarm_page`). The
port, `DeviceStore`, only stores, finds and counts; its members' contracts are in their
docstrings and `tests/graph/conformance_devices.py` holds every adapter to them.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from graph.cases import Point
from graph.errors import InvalidInput
from graph.levels import Level
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
class DeviceTally:
    """What the store counts of a place's devices: how many in each status (a status none has
    is left out), and their active alarms. `device_summaries` makes a DeviceSummary of it."""

    by_status: Mapping[DeviceStatus, int]
    active_alarms: int


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    """A place's devices by status and its active alarms, for dashboards (设备在线, 告警)."""

    total: int = 0
    new: int = 0
    online: int = 0
    offline: int = 0
    alarm: int = 0
    active_alarms: int = 0


# --------------------------------------------------------------------------------------------
# The rules every adapter applies (pure: no store)
# --------------------------------------------------------------------------------------------

DEVICE_PLACE_LEVELS = (Level.ESTATE, Level.BUILDING, Level.ENTRANCE)
"""Where a device may be installed: an elevator hangs at its entrance, a cover lies in its estate."""

READING_KINDS = frozenset({"telemetry", "event"})

MAX_INTERVAL = 86_400
"""A device promises to report at least once a day."""

ALARM_PREFIX = "AL"
"""The prefix of the ids the store numbers alarms by: `AL` + the day raised in China (yyyymmdd)
+ a six-digit sequence of that day (`AL20260302000001`)."""

MAX_ALARM_ID = 32
"""The longest alarm id a caller may choose (the store's own are 16 characters)."""


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_device(device: Device) -> None:
    """Everything about a registration that needs no store; InvalidInput names the device and
    the field."""
    code = device_code(device.code)
    where = f"device {code!r}"
    if not isinstance(device.type, DeviceType):
        raise InvalidInput(f"{where} type", device.type, f"must be one of {', '.join(t.value for t in DeviceType)}")
    if not isinstance(device.model, str) or not device.model.strip() or len(device.model) > 100:
        raise InvalidInput(f"{where} model", device.model, "must be 1 to 100 characters")
    if not isinstance(device.name, str) or len(device.name) > 100:
        raise InvalidInput(f"{where} name", device.name, "must be at most 100 characters")
    interval = device.interval
    if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= MAX_INTERVAL:
        raise InvalidInput(f"{where} interval", interval, f"must be a whole number of seconds from 1 to {MAX_INTERVAL}")
    point = device.point
    if point is not None and not (
        _finite(point.lon) and _finite(point.lat) and -180 <= point.lon <= 180 and -90 <= point.lat <= 90
    ):
        raise InvalidInput(f"{where} point", f"{point.lon},{point.lat}", "is not a WGS-84 longitude, latitude")
    if not isinstance(device.thresholds, Mapping):
        raise InvalidInput(f"{where} thresholds", device.thresholds, "must map parameter names to numbers")
    for name, value in device.thresholds.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise InvalidInput(f"{where} thresholds", name, "names must be 1 to 64 characters")
        if not _finite(value):
            raise InvalidInput(f"{where} thresholds.{name}", value, "must be a finite number")
    if not isinstance(device.status, DeviceStatus):
        raise InvalidInput(f"{where} status", device.status, f"must be one of {', '.join(s.value for s in DeviceStatus)}")


def check_registrations(devices: Sequence[Device]) -> None:
    """Every device of a batch checked (`check_device`), and no code twice in it."""
    seen: set[str] = set()
    for device in devices:
        check_device(device)
        if device.code in seen:
            raise InvalidInput(f"device {device.code!r} code", device.code, "appears twice in the batch")
        seen.add(device.code)


def check_device_place(device: Device, level: Level | None) -> None:
    """The device's place, found at `level` by the store (None: not stored), may hold it."""
    where = f"device {device.code!r} place_code"
    if level is None:
        raise InvalidInput(where, device.place_code, "is not a place in the store")
    if level not in DEVICE_PLACE_LEVELS:
        raise InvalidInput(where, device.place_code, f"must be an estate, building or entrance, not a {level.name.lower()}")


def registration(device: Device) -> tuple[Any, ...]:
    """What a registration says of a device, to compare (its state and provenance are not part
    of it): a registration equal to the stored one by this changes nothing."""
    return (
        device.type,
        device.model,
        device.name,
        device.place_code,
        None if device.point is None else (float(device.point.lon), float(device.point.lat)),
        device.interval,
        {name: float(value) for name, value in device.thresholds.items()},
    )


def derive_status(*, offline: bool, alarmed: bool) -> DeviceStatus:
    """A heard-from device's status: offline when it said so or the offline rule raised,
    else in alarm while one of its alarms is active, else online (NEW is only a device never
    heard from: ingestion never writes it).

    >>> derive_status(offline=True, alarmed=True).value, derive_status(offline=False, alarmed=True).value
    ('offline', 'alarm')
    """
    if offline:
        return DeviceStatus.OFFLINE
    return DeviceStatus.ALARM if alarmed else DeviceStatus.ONLINE


def check_alarm(alarm: Alarm) -> None:
    """An alarm to raise: its fields within bounds, and active (not cleared)."""
    where = f"alarm of {alarm.device_code!r}"
    if alarm.id and (len(alarm.id) > MAX_ALARM_ID or not alarm.id.isascii() or not alarm.id.isprintable()):
        raise InvalidInput(f"{where} id", alarm.id, f"must be empty (the store numbers it) or 1 to {MAX_ALARM_ID} printable ASCII characters")
    if not 1 <= len(alarm.rule) <= 64:
        raise InvalidInput(f"{where} rule", alarm.rule, "must be 1 to 64 characters")
    if not isinstance(alarm.severity, Severity):
        raise InvalidInput(f"{where} severity", alarm.severity, f"must be one of {', '.join(s.value for s in Severity)}")
    if not alarm.message.strip() or len(alarm.message) > 400:
        raise InvalidInput(f"{where} message", alarm.message[:40], "must be 1 to 400 characters")
    if alarm.value is not None and len(alarm.value) > 200:
        raise InvalidInput(f"{where} value", alarm.value[:40] + "…", "must be at most 200 characters")
    if alarm.cleared_at is not None:
        raise InvalidInput(f"{where} cleared_at", alarm.cleared_at, "must be empty: a raised alarm is active")


def check_reading(reading: Reading) -> None:
    if reading.kind not in READING_KINDS:
        raise InvalidInput(f"reading of {reading.device_code!r} kind", reading.kind, "must be telemetry or event")


def check_actor(actor: str) -> None:
    if not actor.strip() or len(actor) > 200:
        raise InvalidInput("actor", actor[:40], "must be 1 to 200 characters")


# --------------------------------------------------------------------------------------------
# The port
# --------------------------------------------------------------------------------------------


class DeviceStore(Protocol):
    """The device part of the store port: registry, latest state, readings, alarms. Storage
    primitives only: the rules above decide what is valid, the services below combine them.

    Rules every member keeps, beside the store's (graph.store):
    - scope: a device, its readings and its alarms are in a caller's scope when the device's
      place is; out of scope behaves exactly as absent (None, left out, 0, or the same error as
      an unknown key), never an error that tells it exists;
    - a write either happens whole or not at all: a refused batch leaves nothing of itself;
    - ingestion may send any write again (a message redelivered after a crash): every write it
      makes is idempotent, as each member says.
    """

    async def register_devices(self, devices: Sequence[Device]) -> tuple[int, int]:
        """Insert or update registrations by code, in one atomic step.

        Checks: `check_registrations` (no store needed), then every place must be stored and
        of `DEVICE_PLACE_LEVELS` (`check_device_place`); a failure raises InvalidInput naming
        the device and nothing of the batch is written. An update changes the registration
        only: the latest state (status, last_seen, values, reading_at) and `registered_at` stay
        as stored; a new device takes the state it carries and `registered_at` (now if None).
        Returns (inserted, updated); a registration equal to the stored one by `registration`
        counts as neither and keeps its provenance. Unscoped (callers check their scope)."""

    async def devices(self, codes: Sequence[str], scope: Scope) -> list[Device | None]:
        """The devices with these codes, one answer per code in the order given (a code asked
        twice is answered twice); None where missing or out of scope."""

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
        """Devices in scope whose place is `within` or under it (None: anywhere), of `types`
        and `statuses` (None: any; empty: none), ordered by code, keyset-paged: `first`
        clamped to 1..MAX_PAGE, `after` an opaque cursor of this list (an `end_cursor`), and
        InvalidInput ("is not a cursor from this list") for anything else. A `within` that is
        not a stored place lists nothing."""

    async def device_count(
        self,
        scope: Scope,
        *,
        within: str | None = None,
        types: Sequence[DeviceType] | None = None,
        statuses: Sequence[DeviceStatus] | None = None,
    ) -> int:
        """How many devices `device_page` would list with the same filters, over all pages."""

    async def device_tallies(self, codes: Sequence[str], scope: Scope) -> list[DeviceTally | None]:
        """For each place code, the devices in scope at or under it counted by status (a status
        no device has is left out: an empty map for a place without devices) and their active
        alarms; None for a place that is missing or out of scope (a place above the caller's
        scope is out of it, though devices under it are not). One answer per code, in the order
        given. What `device_count(within=code, statuses=[s])` and `alarm_count(within=code,
        active=True)` would say, in one read."""

    async def all_devices(self) -> list[Device]:
        """Every registered device, unscoped, by code, in one read: ingestion's registry cache
        (never for a caller). Not a walk of `device_page`: a graph backend's keyset page costs
        a scan of what is left, so a walk of the registry would cost the square of its size."""

    async def save_device_states(self, states: Sequence[DeviceState]) -> None:
        """Write latest states by code, in one atomic step: status, last_seen and values are
        replaced; reading_at too unless the state's is None (the stored one stays). Unknown codes
        are ignored; of one code given twice in the batch the last wins. Writing the same
        states again changes nothing. The registration is never touched. Not `save_states`: the
        connector ledger's stream states have that name."""

    async def add_readings(self, readings: Sequence[Reading]) -> int:
        """Append raw readings of registered devices, in one atomic step; readings of codes no
        device has are skipped; a kind not in READING_KINDS raises InvalidInput (`check_reading`)
        and writes nothing. Returns how many were given for registered devices. A reading equal
        to a stored one or to another of the batch (same device, time, kind and values: a
        message delivered again) is stored once; one differing in any of them is another."""

    async def readings(
        self, code: str, scope: Scope, *, since: dt.datetime | None = None, first: int = 100
    ) -> list[Reading]:
        """A device's readings in scope, newest first by time (readings of one time in an order
        the adapter chooses), at most `first` (clamped to 1..MAX_PAGE), taken at or after `since`; empty for
        an unknown or out-of-scope device. `received_at` is as given (the reading's time when
        it was None)."""

    async def prune_readings(self, before: dt.datetime) -> int:
        """Delete every reading taken strictly before `before` (the retention), of every
        device; returns how many. Readings at or after it stay. May run in several atomic steps
        (each chunk its own): an interrupted prune leaves a consistent store, and pruning again
        finishes it; pruning twice deletes nothing the second time."""

    async def raise_alarm(self, alarm: Alarm) -> Alarm | None:
        """Store a new active alarm, atomically with the check that allows it: None, storing
        nothing, when the device already has an active alarm of the same rule, or had one of
        the same rule raised at the same time (the message that raised it, delivered again).
        However many raisers race for one device and rule, one alarm is stored.

        `check_alarm` first (InvalidInput); InvalidInput for an unregistered device, or a
        `case_id` that is no stored case. The id is the one given, or when empty the store
        numbers it: `ALARM_PREFIX` + the day of `raised_at` in China + the day's next six-digit
        number (StoreError when the day's 999999 are taken); StoreError when a given id is
        taken. `place_code`, `point` and `device_type` of the returned alarm are the device's
        as stored, whatever the argument said. Unscoped (ingestion's)."""

    async def clear_alarm(self, device_code: str, rule: str, at: dt.datetime) -> Alarm | None:
        """Clear the device's active alarm of this rule at `at`, atomically; returns it cleared.
        None when there is none (never raised, cleared already, unknown device), so clearing
        twice clears once. Unscoped (ingestion's)."""

    async def acknowledge_alarm(self, alarm_id: str, *, actor: str, at: dt.datetime, scope: Scope) -> Alarm:
        """Acknowledge an alarm in scope by `actor` (`check_actor`) at `at`, atomically; an
        alarm acknowledged before keeps its first acknowledgement and is returned as stored.
        InvalidInput ("is not an alarm you can see") for an unknown or out-of-scope id alike."""

    async def link_alarm_case(self, alarm_id: str, case_id: str) -> None:
        """Record the case opened for an alarm (linking again replaces it with the same).
        InvalidInput for an alarm or a case that is not stored, changing nothing. Unscoped."""

    async def alarms(self, ids: Sequence[str], scope: Scope) -> list[Alarm | None]:
        """The alarms with these ids, one answer per id in the order given; None where missing
        or out of scope."""

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
        """Alarms in scope of devices whose place is `within` or under it (None: anywhere),
        newest raised first (ties: the later stored first), keyset-paged like `device_page`
        (an alarm cursor from elsewhere, or garbage: InvalidInput). `active` True for those not
        cleared, False for cleared ones, None both; `device_codes` only these devices (empty:
        none); `since` bounds the raise time (inclusive). A `within` that is not a stored place
        lists nothing."""

    async def alarm_count(
        self,
        scope: Scope,
        *,
        within: str | None = None,
        active: bool | None = None,
        device_codes: Sequence[str] | None = None,
        since: dt.datetime | None = None,
    ) -> int:
        """How many alarms `alarm_page` would list with the same filters, over all pages."""


# --------------------------------------------------------------------------------------------
# Services over the port
# --------------------------------------------------------------------------------------------


_EVERYTHING = Scope(None)
_BATCH = 500
"""A page of the unscoped walks below (the store's MAX_PAGE)."""


async def every_device(store: DeviceStore) -> list[Device]:
    """Every registered device, unscoped, by code: ingestion's registry cache (never for a
    caller); `DeviceStore.all_devices`."""
    return list(await store.all_devices())


async def every_active_alarm(store: DeviceStore) -> list[Alarm]:
    """Every active alarm, unscoped, oldest raised first: ingestion restores its rule state from
    them."""
    found: list[Alarm] = []
    after: str | None = None
    while True:
        page = await store.alarm_page(_EVERYTHING, _BATCH, after, active=True)
        found.extend(page.items)
        if not page.has_next:
            found.reverse()
            return found
        after = page.end_cursor


async def device_summaries(store: DeviceStore, codes: Sequence[str], scope: Scope) -> list[DeviceSummary | None]:
    """For each place, its devices and theirs below it (in scope) counted by status, and their
    active alarms; None for a place missing or out of scope. In key order."""
    found: list[DeviceSummary | None] = []
    for tally in await store.device_tallies(codes, scope):
        if tally is None:
            found.append(None)
            continue
        counts = tally.by_status
        found.append(
            DeviceSummary(
                total=sum(counts.values()),
                new=counts.get(DeviceStatus.NEW, 0),
                online=counts.get(DeviceStatus.ONLINE, 0),
                offline=counts.get(DeviceStatus.OFFLINE, 0),
                alarm=counts.get(DeviceStatus.ALARM, 0),
                active_alarms=tally.active_alarms,
            )
        )
    return found
