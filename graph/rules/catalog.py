"""The rules of each device type, as data the engine runs and the API shows.

A rule reads the device's latest values (those of this message over those seen before: a pump's
`demand` may come on the event topic, its pressure on telemetry) and is looked at only when the
message carries one of its `metrics`. `measure` reduces the values to what the rule compares (None
when they do not say), `raises` and `clears` are the two separate conditions (hysteresis), and
`show` renders the value for the alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graph.devices import DeviceType, Severity, Value
from graph.rules.metrics import METRICS, code_text, shown

Values = Mapping[str, Value]
Params = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    severity: Severity
    message: str
    condition: str
    """The raise condition in words, with parameter names (for documentation and the API)."""
    clear: str
    """The clear condition in words."""
    metrics: tuple[str, ...]
    parameters: tuple[str, ...] = ()
    duration: float = 0.0
    """Seconds the raise condition must hold (reading times; a sweep may complete it)."""
    repeat: int = 1
    """Consecutive readings the raise condition must hold in."""
    measure: Callable[[Values, Params], Any] = field(default=lambda v, p: None, repr=False, compare=False)
    raises: Callable[[Any, Params], bool] = field(default=lambda x, p: False, repr=False, compare=False)
    clears: Callable[[Any, Params], bool] = field(default=lambda x, p: False, repr=False, compare=False)
    show: Callable[[Any, Values, Params], str] = field(default=lambda x, v, p: str(x), repr=False, compare=False)

    @property
    def timed(self) -> bool:
        return self.duration > 0


def _get(metric: str) -> Callable[[Values, Params], Any]:
    return lambda values, p: values.get(metric)


def _flag_rule(
    device_type: DeviceType, name: str, metric: str, severity: Severity, message: str, **timing: Any
) -> Rule:
    label = METRICS[device_type][metric].label
    return Rule(
        name,
        severity,
        message,
        f"{metric} = true（{label}）",
        f"{metric} = false",
        (metric,),
        measure=_get(metric),
        raises=lambda x, p: x is True,
        clears=lambda x, p: x is False,
        show=lambda x, v, p: shown(METRICS[device_type][metric], x),
        **timing,
    )


def _at_least(
    device_type: DeviceType, name: str, metric: str, level: str, clear: str, severity: Severity, message: str, **timing: Any
) -> Rule:
    """Raised at `metric` ≥ p[level], cleared below p[clear]."""
    return Rule(
        name,
        severity,
        message,
        f"{metric} ≥ {level}",
        f"{metric} < {clear}",
        (metric,),
        (level, clear),
        measure=_get(metric),
        raises=lambda x, p: x >= p[level],
        clears=lambda x, p: x < p[clear],
        show=lambda x, v, p: shown(METRICS[device_type][metric], x),
        **timing,
    )


_PHASES = (("temp_a", "A相"), ("temp_b", "B相"), ("temp_c", "C相"))


def _hottest(values: Values, p: Params) -> float | None:
    hottest: float | None = None
    for metric, _ in _PHASES:
        value = values.get(metric)
        if value is not None and (hottest is None or value > hottest):  # type: ignore[operator]
            hottest = float(value)
    return hottest


def _show_hottest(x: float, values: Values, p: Params) -> str:
    phase = next((label for metric, label in _PHASES if values.get(metric) == x), "")
    return f"{x:.1f} °C（{phase}）" if phase else f"{x:.1f} °C"


def _transformer(name: str, level: str, clear: str, severity: Severity, message: str) -> Rule:
    return Rule(
        name,
        severity,
        message,
        f"max(temp_a, temp_b, temp_c) ≥ {level}",
        f"max(temp_a, temp_b, temp_c) < {clear}",
        ("temp_a", "temp_b", "temp_c"),
        (level, clear),
        measure=_hottest,
        raises=lambda x, p: x >= p[level],
        clears=lambda x, p: x < p[clear],
        show=_show_hottest,
    )


_NO_FAULT = frozenset({"", "0"})


def _fault(values: Values, p: Params) -> str | None:
    value = values.get("fault_code")
    return None if value is None else code_text(value)


def _stopped(values: Values, p: Params) -> bool | None:
    demand, running = values.get("demand"), values.get("running")
    if demand is None or running is None:
        return None
    return demand is True and running is False


def _tilt_off(values: Values, p: Params) -> float | None:
    tilt = values.get("tilt")
    return None if tilt is None else abs(float(tilt) - p["tilt_baseline"])


def _pressure(x: float, v: Values, p: Params) -> str:
    return shown(METRICS[DeviceType.WATER_PUMP]["outlet_pressure"], x)


OVERTURNED_DEGREES = 90.0
"""Over this the cover is open or gone, whatever its baseline: not a parameter."""
OVERTURNED_CLEAR_DEGREES = 80.0

OFFLINE = Rule(
    "device.offline",
    Severity.MINOR,
    "设备离线",
    "no message for longer than offline_multiple × interval (sweep), or the status topic says offline (last will)",
    "any newer message",
    (),
    ("offline_multiple",),
)
"""Run by the engine itself (sweep and went_offline), not by a message's values."""

RULES: dict[DeviceType, tuple[Rule, ...]] = {
    DeviceType.ELEVATOR: (
        _flag_rule(DeviceType.ELEVATOR, "elevator.trapped", "trapped", Severity.CRITICAL, "电梯困人"),
        Rule(
            "elevator.fault",
            Severity.MAJOR,
            "电梯故障",
            "fault_code not in ('', '0')",
            "fault_code in ('', '0')",
            ("fault_code",),
            measure=_fault,
            raises=lambda x, p: x not in _NO_FAULT,
            clears=lambda x, p: x in _NO_FAULT,
            show=lambda x, v, p: f"故障码 {x}",
        ),
        _flag_rule(DeviceType.ELEVATOR, "elevator.door_fault", "door_fault", Severity.MAJOR, "电梯门故障", duration=30.0),
    ),
    DeviceType.SMOKE_DETECTOR: (
        _flag_rule(DeviceType.SMOKE_DETECTOR, "smoke.alarm", "smoke", Severity.CRITICAL, "烟感报警（疑似火情）"),
        Rule(
            "smoke.battery_low",
            Severity.WARNING,
            "烟感电量低",
            "battery < battery_low",
            "battery ≥ battery_clear",
            ("battery",),
            ("battery_low", "battery_clear"),
            measure=_get("battery"),
            raises=lambda x, p: x < p["battery_low"],
            clears=lambda x, p: x >= p["battery_clear"],
            show=lambda x, v, p: shown(METRICS[DeviceType.SMOKE_DETECTOR]["battery"], x),
        ),
    ),
    DeviceType.GAS_DETECTOR: (
        _at_least(
            DeviceType.GAS_DETECTOR, "gas.low", "lel", "lel_major", "lel_major_clear", Severity.MAJOR,
            "可燃气体浓度低限报警", repeat=2,
        ),
        _at_least(
            DeviceType.GAS_DETECTOR, "gas.high", "lel", "lel_critical", "lel_critical_clear", Severity.CRITICAL,
            "可燃气体浓度高限报警",
        ),
    ),
    DeviceType.WATER_PUMP: (
        Rule(
            "pump.pressure_low",
            Severity.MAJOR,
            "水泵出口压力过低",
            "outlet_pressure < pressure_low",
            "outlet_pressure ≥ pressure_low + pressure_margin",
            ("outlet_pressure",),
            ("pressure_low", "pressure_margin"),
            duration=60.0,
            measure=_get("outlet_pressure"),
            raises=lambda x, p: x < p["pressure_low"],
            clears=lambda x, p: x >= p["pressure_low"] + p["pressure_margin"],
            show=_pressure,
        ),
        Rule(
            "pump.pressure_high",
            Severity.MAJOR,
            "水泵出口压力过高",
            "outlet_pressure > pressure_high",
            "outlet_pressure ≤ pressure_high − pressure_margin",
            ("outlet_pressure",),
            ("pressure_high", "pressure_margin"),
            duration=60.0,
            measure=_get("outlet_pressure"),
            raises=lambda x, p: x > p["pressure_high"],
            clears=lambda x, p: x <= p["pressure_high"] - p["pressure_margin"],
            show=_pressure,
        ),
        Rule(
            "pump.stopped",
            Severity.CRITICAL,
            "水泵停机（有用水需求但未运行）",
            "demand = true and running = false",
            "running = true or demand = false",
            ("demand", "running"),
            duration=30.0,
            measure=_stopped,
            raises=lambda x, p: x is True,
            clears=lambda x, p: x is False,
            show=lambda x, v, p: "需求=是，运行=否" if x else "恢复",
        ),
    ),
    DeviceType.MANHOLE_COVER: (
        Rule(
            "manhole.tilt",
            Severity.MAJOR,
            "井盖倾斜（偏离安装基准）",
            "|tilt − tilt_baseline| > tilt_limit",
            "|tilt − tilt_baseline| ≤ tilt_clear",
            ("tilt",),
            ("tilt_baseline", "tilt_limit", "tilt_clear"),
            repeat=2,
            measure=_tilt_off,
            raises=lambda x, p: x > p["tilt_limit"],
            clears=lambda x, p: x <= p["tilt_clear"],
            show=lambda x, v, p: f"{float(v['tilt']):.1f} °（偏离基准 {x:.1f} °）",
        ),
        Rule(
            "manhole.overturned",
            Severity.CRITICAL,
            "井盖翻开或缺失",
            f"tilt > {OVERTURNED_DEGREES:g}°, whatever the baseline",
            f"tilt < {OVERTURNED_CLEAR_DEGREES:g}°",
            ("tilt",),
            measure=_get("tilt"),
            raises=lambda x, p: x > OVERTURNED_DEGREES,
            clears=lambda x, p: x < OVERTURNED_CLEAR_DEGREES,
            show=lambda x, v, p: shown(METRICS[DeviceType.MANHOLE_COVER]["tilt"], x),
        ),
        _flag_rule(DeviceType.MANHOLE_COVER, "manhole.immersion", "immersion", Severity.MAJOR, "井下水浸"),
    ),
    DeviceType.TRANSFORMER: (
        _transformer("transformer.fan", "fan_c", "fan_clear_c", Severity.WARNING, "变压器绕组温度高（启动风机）"),
        _transformer("transformer.alarm", "alarm_c", "alarm_clear_c", Severity.MAJOR, "变压器绕组超温报警"),
        _transformer("transformer.trip", "trip_c", "trip_clear_c", Severity.CRITICAL, "变压器绕组超温跳闸"),
    ),
}
RULES = {kind: (*rules, OFFLINE) for kind, rules in RULES.items()}
