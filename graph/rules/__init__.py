"""Alarm rules per device type (告警规则): what each type reports, when it alarms, when it clears.

Pure domain: no store, no MQTT. Ingestion validates a message (`RuleEngine.validate`), feeds it
to `RuleEngine.evaluate`, calls `sweep(now)` every few seconds and `went_offline` on a last will,
and turns the `Signal`s into alarms.

Every rule has a raise condition and a separate clear condition (hysteresis: a gas reading
hovering at 20 %LEL raises once, not on every message), a severity, and may require its raise
condition to hold for a duration (reading times; a sweep completes it when no newer reading
came) or in consecutive readings. A rule raises once while active and clears once; its clear
condition is looked at only while it is active. Parameters (names in the conditions below) have
defaults per type, overridden per device in `Device.thresholds` and checked by
`check_thresholds`.

| rule | raised when | cleared when | duration / repeat | severity | message |
|---|---|---|---|---|---|
| elevator.trapped | trapped = true | trapped = false | immediate | critical | 电梯困人 |
| elevator.fault | fault_code not "" / "0" | fault_code "" or "0" | immediate | major | 电梯故障 |
| elevator.door_fault | door_fault = true | door_fault = false | 30 s | major | 电梯门故障 |
| smoke.alarm | smoke = true | smoke = false | immediate | critical | 烟感报警（疑似火情） |
| smoke.battery_low | battery < battery_low (20 %) | battery ≥ battery_clear (25 %) | immediate | warning | 烟感电量低 |
| gas.low | lel ≥ lel_major (20 %LEL) | lel < lel_major_clear (15) | 2 readings | major | 可燃气体浓度低限报警 |
| gas.high | lel ≥ lel_critical (50 %LEL) | lel < lel_critical_clear (40) | immediate | critical | 可燃气体浓度高限报警 |
| pump.pressure_low | outlet_pressure < pressure_low (0.20 MPa) | ≥ pressure_low + pressure_margin (0.03) | 60 s | major | 水泵出口压力过低 |
| pump.pressure_high | outlet_pressure > pressure_high (0.80 MPa) | ≤ pressure_high − pressure_margin | 60 s | major | 水泵出口压力过高 |
| pump.stopped | demand = true and running = false | running = true or demand = false | 30 s | critical | 水泵停机（有用水需求但未运行） |
| manhole.tilt | abs(tilt − tilt_baseline (0°)) > tilt_limit (10°) | ≤ tilt_clear (8°) | 2 readings | major | 井盖倾斜（偏离安装基准） |
| manhole.overturned | tilt > 90°, whatever the baseline | tilt < 80° | immediate | critical | 井盖翻开或缺失 |
| manhole.immersion | immersion = true | immersion = false | immediate | major | 井下水浸 |
| transformer.fan | hottest winding ≥ fan_c (110 °C) | < fan_clear_c (90 °C) | immediate | warning | 变压器绕组温度高（启动风机） |
| transformer.alarm | hottest winding ≥ alarm_c (130 °C) | < alarm_clear_c (120 °C) | immediate | major | 变压器绕组超温报警 |
| transformer.trip | hottest winding ≥ trip_c (150 °C) | < trip_clear_c (140 °C) | immediate | critical | 变压器绕组超温跳闸 |
| device.offline (every type) | silent > offline_multiple (3) × interval, or a last will | any newer reading | sweep / at once | minor | 设备离线 |

Where the defaults come from: GB 15322.1 (combustible gas detectors: low alarm set point within
1..25 %LEL, high at 50 %LEL); the usual settings of dry-type transformer temperature controllers
for class F insulation (fan 110/90 °C, alarm 130 °C, trip 150 °C); a secondary water supply
pump's outlet band of 0.20..0.80 MPa; smoke detectors' low-battery warning at 20 %.

Metrics (`METRICS`, with their physical ranges, which `validate` enforces):
elevator trapped / door_fault / running (flags), fault_code (code), floor (-10..200);
smoke_detector smoke (flag), battery (0..100 %); gas_detector lel (0..100 %LEL);
water_pump outlet_pressure (0..4 MPa), running / demand (flags); manhole_cover tilt (0..180°),
immersion (flag); transformer temp_a / temp_b / temp_c (-50..250 °C).
"""

from __future__ import annotations

from graph.rules.catalog import OFFLINE, RULES, Rule
from graph.rules.engine import RuleEngine, Signal
from graph.rules.metrics import METRICS, Metric, MetricKind, Problem
from graph.rules.parameters import PARAMETERS, Parameter, check_thresholds, parameter_table, parameters

__all__ = [
    "METRICS",
    "OFFLINE",
    "PARAMETERS",
    "RULES",
    "Metric",
    "MetricKind",
    "Parameter",
    "Problem",
    "Rule",
    "RuleEngine",
    "Signal",
    "check_thresholds",
    "parameter_table",
    "parameters",
]
