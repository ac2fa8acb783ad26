"""The tunable numbers of the rules: per type a default, bounds, and the orderings they must keep.

A device overrides them by name in `Device.thresholds`; `check_thresholds` is the one gate every
override passes (registration, import, the engine's load), so a raise level below its own clear
level, which would make a rule flap, never reaches the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from graph.devices import DeviceType
from graph.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    default: float
    low: float
    high: float
    unit: str
    label: str


@dataclass(frozen=True, slots=True)
class Ordering:
    """A constraint between parameters, checked on the defaults merged with the overrides."""

    names: tuple[str, ...]
    holds: Callable[[Mapping[str, float]], bool]
    rules: tuple[str, ...]
    """What each of `names` must do, in the same order: the error names the one overridden."""


OFFLINE_MULTIPLE = Parameter("offline_multiple", 3.0, 1.5, 100.0, "×", "离线判定倍数（上报周期的倍数）")

PARAMETERS: dict[DeviceType, tuple[Parameter, ...]] = {
    DeviceType.ELEVATOR: (),
    DeviceType.SMOKE_DETECTOR: (
        Parameter("battery_low", 20.0, 1.0, 90.0, "%", "低电量报警"),
        Parameter("battery_clear", 25.0, 2.0, 100.0, "%", "低电量恢复"),
    ),
    DeviceType.GAS_DETECTOR: (
        # GB 15322.1: the low alarm set point lies within 1..25 %LEL, the high one at 50 %LEL
        Parameter("lel_major", 20.0, 1.0, 25.0, "%LEL", "低限报警"),
        Parameter("lel_major_clear", 15.0, 0.5, 25.0, "%LEL", "低限恢复"),
        Parameter("lel_critical", 50.0, 20.0, 100.0, "%LEL", "高限报警"),
        Parameter("lel_critical_clear", 40.0, 10.0, 100.0, "%LEL", "高限恢复"),
    ),
    DeviceType.WATER_PUMP: (
        Parameter("pressure_low", 0.20, 0.0, 2.0, "MPa", "出口压力下限"),
        Parameter("pressure_high", 0.80, 0.05, 4.0, "MPa", "出口压力上限"),
        Parameter("pressure_margin", 0.03, 0.0, 0.5, "MPa", "恢复回差"),
    ),
    DeviceType.MANHOLE_COVER: (
        Parameter("tilt_baseline", 0.0, 0.0, 90.0, "°", "安装基准倾角"),
        Parameter("tilt_limit", 10.0, 1.0, 80.0, "°", "偏离基准报警角"),
        Parameter("tilt_clear", 8.0, 0.0, 80.0, "°", "偏离基准恢复角"),
    ),
    DeviceType.TRANSFORMER: (
        # the usual settings of dry-type transformer temperature controllers (class F insulation)
        Parameter("fan_c", 110.0, 40.0, 220.0, "°C", "启动风机"),
        Parameter("fan_clear_c", 90.0, 30.0, 220.0, "°C", "停止风机"),
        Parameter("alarm_c", 130.0, 40.0, 220.0, "°C", "超温报警"),
        Parameter("alarm_clear_c", 120.0, 30.0, 220.0, "°C", "超温报警恢复"),
        Parameter("trip_c", 150.0, 40.0, 220.0, "°C", "超温跳闸"),
        Parameter("trip_clear_c", 140.0, 30.0, 220.0, "°C", "跳闸恢复"),
    ),
}


def _below(lower: str, upper: str) -> Ordering:
    return Ordering(
        (lower, upper), lambda p: p[lower] < p[upper], (f"must be below {upper}", f"must be above {lower}")
    )


ORDERINGS: dict[DeviceType, tuple[Ordering, ...]] = {
    DeviceType.ELEVATOR: (),
    DeviceType.SMOKE_DETECTOR: (_below("battery_low", "battery_clear"),),
    DeviceType.GAS_DETECTOR: (
        _below("lel_major_clear", "lel_major"),
        _below("lel_critical_clear", "lel_critical"),
        _below("lel_major", "lel_critical"),
    ),
    DeviceType.WATER_PUMP: (
        Ordering(
            ("pressure_margin", "pressure_low", "pressure_high"),
            lambda p: p["pressure_low"] + 2 * p["pressure_margin"] < p["pressure_high"],
            ("leaves no band: pressure_low + 2 × pressure_margin must be below pressure_high",) * 3,
        ),
    ),
    DeviceType.MANHOLE_COVER: (_below("tilt_clear", "tilt_limit"),),
    DeviceType.TRANSFORMER: (
        _below("fan_clear_c", "fan_c"),
        _below("alarm_clear_c", "alarm_c"),
        _below("trip_clear_c", "trip_c"),
        _below("fan_c", "alarm_c"),
        _below("alarm_c", "trip_c"),
    ),
}

_BY_NAME: dict[DeviceType, dict[str, Parameter]] = {
    kind: {p.name: p for p in (*PARAMETERS[kind], OFFLINE_MULTIPLE)} for kind in DeviceType
}
_DEFAULTS: dict[DeviceType, dict[str, float]] = {
    kind: {name: p.default for name, p in params.items()} for kind, params in _BY_NAME.items()
}


def parameter_table(device_type: DeviceType) -> dict[str, Parameter]:
    """Every parameter of a type by name, `offline_multiple` included."""
    return dict(_BY_NAME[device_type])


def parameters(device_type: DeviceType) -> dict[str, float]:
    """The defaults of a type's parameters (a fresh dict: the caller may change it)."""
    return dict(_DEFAULTS[device_type])


def check_thresholds(device_type: DeviceType, thresholds: Mapping[str, float]) -> dict[str, float]:
    """Per-device overrides checked, returned as floats.

    InvalidInput("thresholds.<name>", value, rule) for a name the type does not have (listing the
    ones it has), a value that is not a finite number or lies outside the parameter's bounds, or
    a set of values that breaks an ordering (a clear level not below its raise level).
    """
    known = _BY_NAME[device_type]
    checked: dict[str, float] = {}
    for name, value in thresholds.items():
        parameter = known.get(name)
        if parameter is None:
            raise InvalidInput(
                f"thresholds.{name}", value, f"is not a parameter of a {device_type.value} (known: {', '.join(known)})"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"thresholds.{name}", value, "must be a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not (math.isfinite(number) and parameter.low <= number <= parameter.high):
            raise InvalidInput(
                f"thresholds.{name}", value, f"must be between {parameter.low:g} and {parameter.high:g} {parameter.unit}"
            )
        checked[name] = number
    merged = {**_DEFAULTS[device_type], **checked}
    for ordering in ORDERINGS[device_type]:
        if not ordering.holds(merged):
            index = next((i for i, n in enumerate(ordering.names) if n in checked), 0)
            name = ordering.names[index]
            shown = ", ".join(f"{n}={merged[n]:g}" for n in ordering.names)
            raise InvalidInput(f"thresholds.{name}", thresholds.get(name, merged[name]), f"{ordering.rules[index]} (with {shown})")
    return checked
