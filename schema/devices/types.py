"""The GraphQL types of devices and alarms, and the enums they use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import strawberry

from graph import devices as domain
from graph.cases import Point
from graph.devices import DeviceStatus, DeviceType, Severity, device_code
from graph.rules import METRICS, MetricKind, parameters
from schema.cases.types import Case, GeoPoint
from schema.context import Info
from schema.fields import field
from schema.places.types import CODE_KEY, Place, maybe_place

strawberry.enum(DeviceType, description="What a device is: 电梯, 烟感, 可燃气体探测器, 水泵, 井盖, 干式变压器.")
strawberry.enum(DeviceStatus, description="A device's state: never heard from, online, offline, or online with an active alarm.")
strawberry.enum(Severity, description="How grave an alarm is: 紧急 critical, 重要 major, 次要 minor, 提示 warning.")


def _point(point: Point | None) -> GeoPoint | None:
    return None if point is None else GeoPoint(lon=point.lon, lat=point.lat)


def _text(value: domain.Value, digits: int | None) -> str:
    """A value as people read it: true/false, a number to its metric's decimals, or a code."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and digits is not None:
        return f"{value:.{digits}f}"
    return str(value)


@strawberry.type(description="The latest value of one metric a device reports.")
class MetricValue:
    metric: str
    label: str = strawberry.field(description="The metric's name in Chinese.")
    value: str = strawberry.field(description="As text: a number, true/false, or a code.")
    unit: str | None


@strawberry.type(description="A rule parameter of a device: its type's default or the device's own value.")
class Threshold:
    name: str
    value: float
    overridden: bool = strawberry.field(description="True when the device sets it itself.")


@strawberry.type(description="A place's devices by state and their active alarms (设备在线率, 告警数).")
class DeviceSummary:
    total: int
    new: int = strawberry.field(description="Registered, never heard from.")
    online: int
    offline: int
    alarm: int = strawberry.field(description="Online with an active alarm.")
    active_alarms: int

    @classmethod
    def of(cls, record: domain.DeviceSummary) -> DeviceSummary:
        return cls(
            total=record.total, new=record.new, online=record.online, offline=record.offline,
            alarm=record.alarm, active_alarms=record.active_alarms,
        )


@strawberry.type(description="One message a device sent: when, on which channel, and its values.")
class Reading:
    at: dt.datetime
    kind: str = strawberry.field(description="telemetry or event.")
    values: list[MetricValue]


def _values(device_type: DeviceType, values: Mapping[str, domain.Value]) -> list[MetricValue]:
    metrics = METRICS[device_type]
    found: list[MetricValue] = []
    for name, value in sorted(values.items()):
        metric = metrics.get(name)
        found.append(
            MetricValue(
                metric=name,
                label=metric.label if metric else name,
                value=_text(value, metric.digits if metric and metric.kind is MetricKind.NUMBER else None),
                unit=(metric.unit or None) if metric else None,
            )
        )
    return found


@strawberry.type(description="An IoT device installed at an estate, building or entrance (物联设备).", directives=[CODE_KEY])
class Device:
    record: strawberry.Private[domain.Device]

    @classmethod
    def of(cls, record: domain.Device) -> Device:
        return cls(record=record)

    @classmethod
    async def resolve_reference(cls, info: Info, code: str) -> Device | None:
        """The device a federation gateway names; null when absent or outside the caller's scope."""
        found = await info.context.devices.by_code.load(device_code(code.strip(), field_name="representations"))
        return None if found is None else cls.of(found)

    @field(description="The device's unique code; it names its MQTT topics.")
    def code(self) -> str:
        return self.record.code

    @field(description="What it is.")
    def type(self) -> DeviceType:
        return self.record.type

    @field(description="What it is, in Chinese.")
    def type_label(self) -> str:
        return self.record.type.label

    @field(description="Make and model.")
    def model(self) -> str:
        return self.record.model

    @field(description="A name people use for it (e.g. 3号楼1单元电梯).")
    def name(self) -> str:
        return self.record.name

    @field(description="The estate, building or entrance it is installed at; null if not seen.")
    async def place(self, info: Info) -> Place | None:
        return maybe_place(await info.context.places.by_code.load(self.record.place_code))

    @field(description="Where it is, in WGS-84.")
    def point(self) -> GeoPoint | None:
        return _point(self.record.point)

    @field(description="Seconds between the reports it promises.")
    def interval(self) -> int:
        return self.record.interval

    @field(description="Its state now.")
    def status(self) -> DeviceStatus:
        return self.record.status

    @field(description="Its state in Chinese (在线, 离线, 告警, 未上线).")
    def status_label(self) -> str:
        return self.record.status.label

    @field(description="When it was last heard from.")
    def last_seen(self) -> dt.datetime | None:
        return self.record.last_seen

    @field(description="The latest value of each metric it reports.")
    def values(self) -> list[MetricValue]:
        return _values(self.record.type, self.record.values)

    @field(description="The parameters of its type's rules, with its own values where it overrides them.")
    def thresholds(self) -> list[Threshold]:
        own = self.record.thresholds
        merged = {**parameters(self.record.type), **own}
        return [Threshold(name=name, value=float(value), overridden=name in own) for name, value in sorted(merged.items())]

    @field(description="Its alarms not yet cleared, newest first.")
    async def active_alarms(self, info: Info) -> list[Alarm]:
        return [Alarm.of(alarm) for alarm in await info.context.devices.active_alarms.load(self.record.code)]

    @field(description="Its latest raw readings, newest first (kept for the hub's retention period).")
    async def readings(self, info: Info, first: int = 20, since: dt.datetime | None = None) -> list[Reading]:
        from schema.arguments import page_argument

        size = page_argument(first, default=20)
        found = await info.context.store.readings(self.record.code, info.context.scope, since=since, first=size)
        return [Reading(at=item.at, kind=item.kind, values=_values(self.record.type, item.values)) for item in found]


@strawberry.type(description="An alarm a device's rule raised (告警): active until its clear condition holds.")
class Alarm:
    record: strawberry.Private[domain.Alarm]

    @classmethod
    def of(cls, record: domain.Alarm) -> Alarm:
        return cls(record=record)

    @field(description="The hub's alarm id (AL + day + sequence).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @field(description="The rule that raised it, e.g. elevator.trapped.")
    def rule(self) -> str:
        return self.record.rule

    @field(description="How grave it is.")
    def severity(self) -> Severity:
        return self.record.severity

    @field(description="How grave it is, in Chinese.")
    def severity_label(self) -> str:
        return self.record.severity.label

    @field(description="What is wrong, in Chinese (e.g. 电梯困人).")
    def message(self) -> str:
        return self.record.message

    @field(description="The value that raised it, with its unit.")
    def value(self) -> str | None:
        return self.record.value

    @field(description="When it was raised (the device's time).")
    def raised_at(self) -> dt.datetime:
        return self.record.raised_at

    @field(description="When someone acknowledged it.")
    def acknowledged_at(self) -> dt.datetime | None:
        return self.record.acknowledged_at

    @field(description="Who acknowledged it.")
    def acknowledged_by(self) -> str | None:
        return self.record.acknowledged_by

    @field(description="When its clear condition held; null while active.")
    def cleared_at(self) -> dt.datetime | None:
        return self.record.cleared_at

    @field(description="True until it clears.")
    def active(self) -> bool:
        return self.record.active

    @field(description="The type of the device that raised it.")
    def device_type(self) -> DeviceType:
        return self.record.device_type

    @field(description="The device that raised it; null if not seen.")
    async def device(self, info: Info) -> Device | None:
        found = await info.context.devices.by_code.load(self.record.device_code)
        return None if found is None else Device.of(found)

    @field(description="Where the device is installed; null if not seen.")
    async def place(self, info: Info) -> Place | None:
        return maybe_place(await info.context.places.by_code.load(self.record.place_code))

    @field(description="Where the device is, in WGS-84.")
    def point(self) -> GeoPoint | None:
        return _point(self.record.point)

    @field(description="The work order opened for it (未诉先办); null until opened or if not seen.")
    async def case(self, info: Info) -> Case | None:
        if self.record.case_id is None:
            return None
        found = await info.context.devices.cases.load(self.record.case_id)
        return None if found is None else Case.of(found)
