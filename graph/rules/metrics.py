"""What each device type may report: its metrics, their kind, unit and physical range.

A message whose values break this (a metric the type does not have, a string where a number
belongs, NaN, 140 %LEL) is refused whole by ingestion with the `Problem`s found here: a sensor
that reports nonsense must be looked at, not half-believed.

Flags are JSON booleans only (`true`/`false`, never 0/1: a 1 is as likely a count as a flag);
codes are strings or whole numbers (elevator controllers send both), read as text.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from graph.devices import DeviceType, Value


class MetricKind(enum.Enum):
    NUMBER = "number"
    FLAG = "flag"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class Metric:
    kind: MetricKind
    unit: str
    low: float
    """Lowest physically possible value (numbers only)."""
    high: float
    label: str
    """Chinese name, for messages."""
    digits: int = 1
    """Decimals shown in alarm values."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one value of a message is refused (ingestion sets the message aside)."""

    metric: str
    value: object
    why: str


def _number(unit: str, low: float, high: float, label: str, digits: int = 1) -> Metric:
    return Metric(MetricKind.NUMBER, unit, low, high, label, digits)


def _flag(label: str) -> Metric:
    return Metric(MetricKind.FLAG, "", 0.0, 1.0, label)


def _code(label: str) -> Metric:
    return Metric(MetricKind.CODE, "", 0.0, 0.0, label)


MAX_CODE_LENGTH = 32

METRICS: dict[DeviceType, dict[str, Metric]] = {
    DeviceType.ELEVATOR: {
        "trapped": _flag("困人"),
        "fault_code": _code("故障码"),
        "door_fault": _flag("门故障"),
        "floor": _number("层", -10, 200, "楼层", 0),
        "running": _flag("运行"),
    },
    DeviceType.SMOKE_DETECTOR: {
        "smoke": _flag("烟雾"),
        "battery": _number("%", 0, 100, "电量", 0),
    },
    DeviceType.GAS_DETECTOR: {
        "lel": _number("%LEL", 0, 100, "可燃气体浓度"),
    },
    DeviceType.WATER_PUMP: {
        "outlet_pressure": _number("MPa", 0, 4, "出口压力", 2),
        "running": _flag("运行"),
        "demand": _flag("需求"),
    },
    DeviceType.MANHOLE_COVER: {
        "tilt": _number("°", 0, 180, "倾角"),
        "immersion": _flag("水浸"),
    },
    DeviceType.TRANSFORMER: {
        "temp_a": _number("°C", -50, 250, "A相绕组温度"),
        "temp_b": _number("°C", -50, 250, "B相绕组温度"),
        "temp_c": _number("°C", -50, 250, "C相绕组温度"),
    },
}


def problems(device_type: DeviceType, values: Mapping[str, Value]) -> list[Problem]:
    """Every value of a message that this type cannot have reported; empty when all are fine."""
    metrics = METRICS[device_type]
    found: list[Problem] = []
    for name, value in values.items():
        metric = metrics.get(name)
        if metric is None:
            known = ", ".join(metrics)
            found.append(Problem(name, value, f"is not a metric of a {device_type.value} (known: {known})"))
            continue
        why = _why(metric, value)
        if why is not None:
            found.append(Problem(name, value, why))
    return found


def _why(metric: Metric, value: object) -> str | None:
    if metric.kind is MetricKind.FLAG:
        return None if isinstance(value, bool) else f"is {_kind_of(value)}, not a flag (true or false)"
    if metric.kind is MetricKind.CODE:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return f"is {_kind_of(value)}, not a code (text or a whole number)"
        if isinstance(value, str) and len(value) > MAX_CODE_LENGTH:
            return f"is {len(value)} characters long, more than {MAX_CODE_LENGTH}"
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is {_kind_of(value)}, not a number"
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of 400 digits
        return "is not a finite number"
    if not math.isfinite(number):
        return "is not a finite number"
    if not metric.low <= number <= metric.high:
        return f"is {number:g} {metric.unit}, outside {metric.low:g}..{metric.high:g}"
    return None


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "a flag"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def shown(metric: Metric, value: Value) -> str:
    """A value as an alarm shows it: `34.0 %LEL`, `困人=是`, `故障码 E12`."""
    if metric.kind is MetricKind.FLAG:
        return f"{metric.label}={'是' if value else '否'}"
    if metric.kind is MetricKind.CODE:
        return f"{metric.label} {code_text(value)}"
    return f"{float(value):.{metric.digits}f} {metric.unit}"


def code_text(value: Value) -> str:
    """A code as text: whole numbers without a decimal point, text stripped."""
    if isinstance(value, str):
        return value.strip()
    return str(int(value))
