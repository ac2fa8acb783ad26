"""Tests of the alarm rules engine (graph.rules) with a controllable clock: every reading's time
and every sweep's `now` are chosen here, as seconds after T0."""

from __future__ import annotations

import collections
import datetime as dt
import math
from collections.abc import Mapping

import pytest

from graph.devices import Alarm, Device, DeviceType, Reading, Severity, Value
from graph.errors import InvalidInput
from graph.rules import (
    METRICS,
    OFFLINE,
    PARAMETERS,
    RULES,
    MetricKind,
    Problem,
    RuleEngine,
    Signal,
    check_thresholds,
    parameter_table,
    parameters,
)

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)


def t(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make(code: str, kind: DeviceType, interval: int = 60, **thresholds: float) -> Device:
    return Device(code, kind, "M-1", "370202001001E0001", interval, thresholds=thresholds)


def engine_of(*devices: Device, active: tuple[Alarm, ...] = ()) -> RuleEngine:
    engine = RuleEngine()
    engine.load(devices, active)
    return engine


def feed(engine: RuleEngine, code: str, seconds: float, **values: Value) -> list[Signal]:
    return engine.evaluate(Reading(code, t(seconds), values))


def changes(signals: list[Signal]) -> list[tuple[str, bool]]:
    return [(s.rule, s.raised) for s in signals]


def alarm(code: str, kind: DeviceType, rule: str, *, cleared: bool = False) -> Alarm:
    return Alarm(
        "A1", code, kind, rule, Severity.CRITICAL, "x", t(-100), "370202001001E0001", cleared_at=t(-50) if cleared else None
    )


# -- duration, repeat, hysteresis, dedup -------------------------------------------------------


def test_duration_raises_at_60_seconds_not_59_and_a_dip_resets_it() -> None:
    engine = engine_of(make("PUMP-1", DeviceType.WATER_PUMP, interval=30))
    assert feed(engine, "PUMP-1", 0, outlet_pressure=0.10) == []
    assert feed(engine, "PUMP-1", 30, outlet_pressure=0.12) == []
    assert feed(engine, "PUMP-1", 59, outlet_pressure=0.11) == []
    [signal] = feed(engine, "PUMP-1", 60, outlet_pressure=0.10)
    assert signal == Signal("PUMP-1", "pump.pressure_low", True, Severity.MAJOR, "水泵出口压力过低", "0.10 MPa", t(60))
    assert engine.sweep(t(80)) == []  # raised by a reading: no sweep raises it again
    assert changes(feed(engine, "PUMP-1", 81, outlet_pressure=0.30)) == [("pump.pressure_low", False)]
    assert feed(engine, "PUMP-1", 82, outlet_pressure=0.10) == []  # after a clear the duration starts over
    assert engine.sweep(t(141)) == []
    assert changes(engine.sweep(t(142))) == [("pump.pressure_low", True)]

    engine = engine_of(make("PUMP-1", DeviceType.WATER_PUMP, interval=10))
    feed(engine, "PUMP-1", 0, outlet_pressure=0.10)
    assert feed(engine, "PUMP-1", 30, outlet_pressure=0.30) == []  # the dip: back inside the band
    assert feed(engine, "PUMP-1", 40, outlet_pressure=0.10) == []
    assert feed(engine, "PUMP-1", 99, outlet_pressure=0.10) == []  # 59 s since the dip
    assert changes(feed(engine, "PUMP-1", 100, outlet_pressure=0.10)) == [("pump.pressure_low", True)]


def test_a_sweep_completes_a_duration_when_no_newer_reading_came() -> None:
    engine = engine_of(make("PUMP-1", DeviceType.WATER_PUMP, interval=30))
    feed(engine, "PUMP-1", 0, outlet_pressure=0.95)
    feed(engine, "PUMP-1", 20, outlet_pressure=0.97)
    assert engine.sweep(t(59)) == []
    [signal] = engine.sweep(t(60))
    assert (signal.rule, signal.raised, signal.at, signal.value) == ("pump.pressure_high", True, t(60), "0.97 MPa")
    assert engine.sweep(t(61)) == []
    assert feed(engine, "PUMP-1", 70, outlet_pressure=0.99) == []  # raised once while active
    assert engine.active("PUMP-1") == ["pump.pressure_high"]


def test_a_sweep_does_not_complete_a_duration_a_newer_reading_broke() -> None:
    engine = engine_of(make("PUMP-1", DeviceType.WATER_PUMP, interval=30))
    feed(engine, "PUMP-1", 0, outlet_pressure=0.95)
    feed(engine, "PUMP-1", 20, outlet_pressure=0.50)
    assert engine.sweep(t(100)) == []  # 100 s after the first: long enough, had it held
    assert engine.active("PUMP-1") == []


def test_repeat_count_needs_consecutive_readings() -> None:
    engine = engine_of(make("GAS-1", DeviceType.GAS_DETECTOR))
    assert feed(engine, "GAS-1", 0, lel=21.0) == []
    assert feed(engine, "GAS-1", 1, lel=10.0) == []  # breaks the run
    assert feed(engine, "GAS-1", 2, lel=22.0) == []
    [signal] = feed(engine, "GAS-1", 3, lel=23.5)
    assert (signal.rule, signal.raised, signal.severity, signal.value) == ("gas.low", True, Severity.MAJOR, "23.5 %LEL")
    assert signal.message == "可燃气体浓度低限报警"
    assert changes(feed(engine, "GAS-1", 4, lel=5.0)) == [("gas.low", False)]
    assert feed(engine, "GAS-1", 5, lel=21.0) == []  # after a clear the count starts over
    assert changes(feed(engine, "GAS-1", 6, lel=21.0)) == [("gas.low", True)]
    # a repeat-count rule is not completed by a sweep: only readings count
    engine = engine_of(make("GAS-2", DeviceType.GAS_DETECTOR))
    feed(engine, "GAS-2", 0, lel=21.0)
    assert [s for s in engine.sweep(t(30)) if s.rule == "gas.low"] == []


def test_hysteresis_no_clear_between_the_clear_and_raise_levels() -> None:
    engine = engine_of(make("GAS-1", DeviceType.GAS_DETECTOR))
    assert changes(feed(engine, "GAS-1", 0, lel=55.0)) == [("gas.high", True)]
    assert changes(feed(engine, "GAS-1", 1, lel=55.0)) == [("gas.low", True)]
    assert feed(engine, "GAS-1", 2, lel=45.0) == []  # below 50, not below 40
    assert feed(engine, "GAS-1", 3, lel=40.0) == []
    [cleared] = feed(engine, "GAS-1", 4, lel=39.9)
    assert (cleared.rule, cleared.raised, cleared.message, cleared.value) == (
        "gas.high", False, "可燃气体浓度高限报警，已恢复", "39.9 %LEL",
    )
    assert feed(engine, "GAS-1", 5, lel=16.0) == []  # below 20, not below 15
    assert changes(feed(engine, "GAS-1", 6, lel=14.9)) == [("gas.low", False)]
    assert feed(engine, "GAS-1", 7, lel=0.0) == []  # clears once


def test_no_flapping_storm_around_the_raise_level() -> None:
    engine = engine_of(make("GAS-1", DeviceType.GAS_DETECTOR))
    signals: list[Signal] = []
    for i in range(100):
        signals += feed(engine, "GAS-1", i, lel=50.5 if i % 2 == 0 else 49.5)
    assert collections.Counter(changes(signals)) == {("gas.high", True): 1, ("gas.low", True): 1}


def test_repeated_raise_conditions_give_one_signal_and_clear_once() -> None:
    engine = engine_of(make("ELV-1", DeviceType.ELEVATOR))
    assert feed(engine, "ELV-1", 0, trapped=False) == []  # a clear condition while not active
    signals = [s for i in range(1, 6) for s in feed(engine, "ELV-1", i, trapped=True)]
    assert signals == [Signal("ELV-1", "elevator.trapped", True, Severity.CRITICAL, "电梯困人", "困人=是", t(1))]
    clears = [s for i in range(6, 9) for s in feed(engine, "ELV-1", i, trapped=False)]
    assert changes(clears) == [("elevator.trapped", False)]
    assert clears[0].message == "电梯困人，已恢复"
    assert changes(feed(engine, "ELV-1", 9, trapped=True)) == [("elevator.trapped", True)]  # raises again after clearing


def test_out_of_order_readings_do_not_flip_state_backwards() -> None:
    engine = engine_of(make("ELV-1", DeviceType.ELEVATOR))
    assert changes(feed(engine, "ELV-1", 10, trapped=True)) == [("elevator.trapped", True)]
    assert feed(engine, "ELV-1", 5, trapped=False) == []
    assert engine.active("ELV-1") == ["elevator.trapped"]
    assert feed(engine, "ELV-1", 10, trapped=False) != []  # the same time is not older


def test_a_reading_carrying_none_of_a_rules_metrics_leaves_it_alone() -> None:
    engine = engine_of(make("ELV-1", DeviceType.ELEVATOR))
    feed(engine, "ELV-1", 0, trapped=True)
    assert feed(engine, "ELV-1", 1, floor=3.0, running=False) == []
    assert engine.active("ELV-1") == ["elevator.trapped"]


def test_an_unknown_device_gives_nothing() -> None:
    engine = engine_of()
    assert feed(engine, "NOPE-1", 0, trapped=True) == []
    assert engine.went_offline("NOPE-1", t(0)) == []
    assert engine.device("NOPE-1") is None
    assert engine.active("NOPE-1") == []


# -- per-device overrides and check_thresholds -------------------------------------------------


def test_per_device_overrides_change_the_levels_of_that_device_only() -> None:
    engine = engine_of(
        make("GAS-1", DeviceType.GAS_DETECTOR), make("GAS-2", DeviceType.GAS_DETECTOR, lel_major=10, lel_major_clear=5)
    )
    for second in (0, 1):
        assert feed(engine, "GAS-1", second, lel=12.0) == []
    assert feed(engine, "GAS-2", 0, lel=12.0) == []
    assert changes(feed(engine, "GAS-2", 1, lel=12.0)) == [("gas.low", True)]
    assert feed(engine, "GAS-2", 2, lel=6.0) == []
    assert changes(feed(engine, "GAS-2", 3, lel=4.0)) == [("gas.low", False)]


def test_check_thresholds_returns_floats_and_refuses_bad_overrides() -> None:
    assert check_thresholds(DeviceType.GAS_DETECTOR, {"lel_major": 10, "lel_major_clear": 5, "offline_multiple": 4}) == {
        "lel_major": 10.0, "lel_major_clear": 5.0, "offline_multiple": 4.0,
    }
    with pytest.raises(InvalidInput, match=r"thresholds.lel_major: '10' must be above lel_major_clear \(with lel_major_clear=15"):
        check_thresholds(DeviceType.GAS_DETECTOR, {"lel_major": 10})
    assert check_thresholds(DeviceType.ELEVATOR, {}) == {}
    with pytest.raises(InvalidInput) as unknown:
        check_thresholds(DeviceType.GAS_DETECTOR, {"lel_majr": 10})
    assert unknown.value.field == "thresholds.lel_majr"
    assert "not a parameter of a gas_detector" in str(unknown.value)
    assert "lel_major, lel_major_clear, lel_critical, lel_critical_clear, offline_multiple" in str(unknown.value)
    with pytest.raises(InvalidInput, match=r"thresholds.lel_major: '30' must be between 1 and 25 %LEL"):
        check_thresholds(DeviceType.GAS_DETECTOR, {"lel_major": 30})
    with pytest.raises(InvalidInput, match="must be a number"):
        check_thresholds(DeviceType.GAS_DETECTOR, {"lel_major": "10"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="must be a number"):
        check_thresholds(DeviceType.GAS_DETECTOR, {"lel_major": True})
    with pytest.raises(InvalidInput, match="must be between"):
        check_thresholds(DeviceType.GAS_DETECTOR, {"lel_major": math.nan})
    with pytest.raises(InvalidInput, match="must be between 1.5 and 100"):
        check_thresholds(DeviceType.SMOKE_DETECTOR, {"offline_multiple": 1})
    with pytest.raises(InvalidInput) as ordering:
        check_thresholds(DeviceType.GAS_DETECTOR, {"lel_major_clear": 22})
    assert ordering.value.field == "thresholds.lel_major_clear"
    assert "must be below lel_major (with lel_major_clear=22, lel_major=20)" in str(ordering.value)
    with pytest.raises(InvalidInput, match="leaves no band") as band:
        check_thresholds(DeviceType.WATER_PUMP, {"pressure_high": 0.24})
    assert band.value.field == "thresholds.pressure_high"
    with pytest.raises(InvalidInput, match="thresholds.fan_c: '140' must be below alarm_c"):
        check_thresholds(DeviceType.TRANSFORMER, {"fan_c": 140})


def test_load_with_bad_thresholds_names_the_device_and_keeps_the_engine_as_it_was() -> None:
    engine = engine_of(make("ELV-1", DeviceType.ELEVATOR))
    feed(engine, "ELV-1", 0, trapped=True)
    with pytest.raises(InvalidInput) as error:
        engine.load([make("GAS-9", DeviceType.GAS_DETECTOR, lel_major=99)])
    assert error.value.field == "devices[GAS-9].thresholds.lel_major"
    assert engine.active("ELV-1") == ["elevator.trapped"]
    assert engine.device("GAS-9") is None
    with pytest.raises(InvalidInput, match="interval"):
        engine.upsert(make("GAS-9", DeviceType.GAS_DETECTOR, interval=0))


def test_parameters_are_the_defaults_and_every_rule_names_known_metrics_and_parameters() -> None:
    gas = parameters(DeviceType.GAS_DETECTOR)
    assert gas == {"lel_major": 20.0, "lel_major_clear": 15.0, "lel_critical": 50.0, "lel_critical_clear": 40.0,
                   "offline_multiple": 3.0}
    gas["lel_major"] = 1.0  # a copy: the defaults stay
    assert parameters(DeviceType.GAS_DETECTOR)["lel_major"] == 20.0
    for kind in DeviceType:
        assert RULES[kind][-1] is OFFLINE
        assert check_thresholds(kind, parameters(kind)) == parameters(kind)  # defaults pass their own checks
        known = parameter_table(kind)
        assert set(known) == {p.name for p in PARAMETERS[kind]} | {"offline_multiple"}
        for rule in RULES[kind]:
            assert set(rule.metrics) <= set(METRICS[kind]), rule.name
            assert set(rule.parameters) <= set(known), rule.name
            assert rule.condition and rule.clear and rule.message


# -- every type ------------------------------------------------------------------------------


def test_elevator_trapped_fault_code_and_door_fault() -> None:
    engine = engine_of(make("ELV-1", DeviceType.ELEVATOR, interval=10))
    [fault] = feed(engine, "ELV-1", 0, fault_code="E12", trapped=False, door_fault=False)
    assert (fault.rule, fault.severity, fault.message, fault.value) == ("elevator.fault", Severity.MAJOR, "电梯故障", "故障码 E12")
    assert feed(engine, "ELV-1", 1, fault_code="E30") == []  # another code while active: still one alarm
    assert changes(feed(engine, "ELV-1", 2, fault_code="0")) == [("elevator.fault", False)]
    assert changes(feed(engine, "ELV-1", 3, fault_code=7)) == [("elevator.fault", True)]
    assert feed(engine, "ELV-1", 4, fault_code=" E7 ") == []
    assert changes(feed(engine, "ELV-1", 5, fault_code="")) == [("elevator.fault", False)]
    assert feed(engine, "ELV-1", 6, fault_code=0) == []
    # door fault must persist 30 s
    assert feed(engine, "ELV-1", 10, door_fault=True) == []
    assert feed(engine, "ELV-1", 39, door_fault=True) == []
    [door] = feed(engine, "ELV-1", 40, door_fault=True)
    assert (door.rule, door.severity, door.message) == ("elevator.door_fault", Severity.MAJOR, "电梯门故障")
    assert changes(feed(engine, "ELV-1", 41, door_fault=False)) == [("elevator.door_fault", False)]
    # trapped is immediate and critical, alongside the others
    assert changes(feed(engine, "ELV-1", 42, trapped=True, fault_code="E01")) == [
        ("elevator.trapped", True), ("elevator.fault", True),
    ]


def test_smoke_alarm_and_low_battery_with_hysteresis() -> None:
    engine = engine_of(make("SMK-1", DeviceType.SMOKE_DETECTOR))
    assert feed(engine, "SMK-1", 0, smoke=False, battery=80.0) == []
    [fire] = feed(engine, "SMK-1", 1, smoke=True)
    assert (fire.rule, fire.severity, fire.message) == ("smoke.alarm", Severity.CRITICAL, "烟感报警（疑似火情）")
    assert changes(feed(engine, "SMK-1", 2, smoke=False)) == [("smoke.alarm", False)]
    assert feed(engine, "SMK-1", 3, battery=20.0) == []
    [low] = feed(engine, "SMK-1", 4, battery=19.0)
    assert (low.rule, low.severity, low.value) == ("smoke.battery_low", Severity.WARNING, "19 %")
    assert feed(engine, "SMK-1", 5, battery=24.0) == []
    assert changes(feed(engine, "SMK-1", 6, battery=25.0)) == [("smoke.battery_low", False)]


def test_water_pump_stopped_while_demanded_uses_values_from_earlier_messages() -> None:
    engine = engine_of(make("PUMP-1", DeviceType.WATER_PUMP, interval=10))
    assert feed(engine, "PUMP-1", 0, demand=True) == []  # running not known yet: undecided
    assert feed(engine, "PUMP-1", 5, running=False, outlet_pressure=0.40) == []  # demand from the event before
    assert feed(engine, "PUMP-1", 34, running=False) == []
    [stopped] = feed(engine, "PUMP-1", 35, running=False)
    assert (stopped.rule, stopped.severity, stopped.value) == ("pump.stopped", Severity.CRITICAL, "需求=是，运行=否")
    assert changes(feed(engine, "PUMP-1", 40, demand=False)) == [("pump.stopped", False)]
    # cleared by running again, too
    feed(engine, "PUMP-1", 50, demand=True)
    assert changes(engine.sweep(t(80))) == [("pump.stopped", True)]
    assert changes(feed(engine, "PUMP-1", 81, running=True)) == [("pump.stopped", False)]


def test_water_pump_pressure_band_clears_inside_the_band_with_the_margin() -> None:
    engine = engine_of(make("PUMP-1", DeviceType.WATER_PUMP, interval=10))
    feed(engine, "PUMP-1", 0, outlet_pressure=0.90)
    assert changes(feed(engine, "PUMP-1", 60, outlet_pressure=0.85)) == [("pump.pressure_high", True)]
    assert feed(engine, "PUMP-1", 61, outlet_pressure=0.78) == []  # inside the band, not by the margin
    assert changes(feed(engine, "PUMP-1", 62, outlet_pressure=0.77)) == [("pump.pressure_high", False)]
    feed(engine, "PUMP-1", 70, outlet_pressure=0.05)
    assert changes(feed(engine, "PUMP-1", 130, outlet_pressure=0.05)) == [("pump.pressure_low", True)]
    assert feed(engine, "PUMP-1", 131, outlet_pressure=0.22) == []
    assert changes(feed(engine, "PUMP-1", 132, outlet_pressure=0.23)) == [("pump.pressure_low", False)]


def test_manhole_tilt_from_its_baseline_overturned_always_and_immersion() -> None:
    engine = engine_of(make("MH-1", DeviceType.MANHOLE_COVER), make("MH-2", DeviceType.MANHOLE_COVER, tilt_baseline=30))
    # default baseline 0: 11° twice raises (repeat 2)
    assert feed(engine, "MH-1", 0, tilt=11.0) == []
    [tilt] = feed(engine, "MH-1", 1, tilt=12.0)
    assert (tilt.rule, tilt.severity, tilt.value) == ("manhole.tilt", Severity.MAJOR, "12.0 °（偏离基准 12.0 °）")
    assert feed(engine, "MH-1", 2, tilt=9.0) == []  # within 10° but not within 8°
    assert changes(feed(engine, "MH-1", 3, tilt=8.0)) == [("manhole.tilt", False)]
    # baseline 30: 35 and 39 are fine, 41 twice raises, 21 (9° off) does not clear, 23 does
    for second, degrees in enumerate((35.0, 39.0, 39.0)):
        assert feed(engine, "MH-2", second, tilt=degrees) == []
    feed(engine, "MH-2", 3, tilt=41.0)
    assert changes(feed(engine, "MH-2", 4, tilt=41.0)) == [("manhole.tilt", True)]
    assert feed(engine, "MH-2", 5, tilt=21.0) == []
    assert changes(feed(engine, "MH-2", 6, tilt=23.0)) == [("manhole.tilt", False)]
    # over 90° is critical and immediate whatever the baseline
    engine = engine_of(make("MH-3", DeviceType.MANHOLE_COVER, tilt_baseline=85))
    [over] = feed(engine, "MH-3", 0, tilt=95.0)  # only 10° from its baseline: no tilt alarm
    assert (over.rule, over.severity, over.message) == ("manhole.overturned", Severity.CRITICAL, "井盖翻开或缺失")
    assert feed(engine, "MH-3", 1, tilt=85.0) == []
    assert changes(feed(engine, "MH-3", 2, tilt=79.0)) == [("manhole.overturned", False)]
    assert changes(feed(engine, "MH-3", 3, immersion=True)) == [("manhole.immersion", True)]
    assert changes(feed(engine, "MH-3", 4, immersion=False)) == [("manhole.immersion", False)]


def test_transformer_levels_use_the_hottest_winding() -> None:
    engine = engine_of(make("TR-1", DeviceType.TRANSFORMER))
    assert feed(engine, "TR-1", 0, temp_a=95.0, temp_b=105.0, temp_c=99.0) == []
    [fan] = feed(engine, "TR-1", 1, temp_a=96.0, temp_b=111.0, temp_c=99.0)
    assert (fan.rule, fan.severity, fan.value) == ("transformer.fan", Severity.WARNING, "111.0 °C（B相）")
    assert changes(feed(engine, "TR-1", 2, temp_c=131.0)) == [("transformer.alarm", True)]  # the others from before
    [trip] = feed(engine, "TR-1", 3, temp_c=151.0)
    assert (trip.rule, trip.severity, trip.value) == ("transformer.trip", Severity.CRITICAL, "151.0 °C（C相）")
    assert feed(engine, "TR-1", 4, temp_a=90.0, temp_b=90.0, temp_c=141.0) == []
    assert changes(feed(engine, "TR-1", 5, temp_c=139.0)) == [("transformer.trip", False)]
    assert changes(feed(engine, "TR-1", 6, temp_c=119.0)) == [("transformer.alarm", False)]
    assert changes(feed(engine, "TR-1", 7, temp_a=89.0, temp_b=88.0, temp_c=89.5)) == [("transformer.fan", False)]


# -- offline ---------------------------------------------------------------------------------


def test_offline_via_sweep_after_the_multiple_of_the_interval_and_its_clear() -> None:
    engine = engine_of(
        make("SMK-1", DeviceType.SMOKE_DETECTOR, interval=60),
        make("SMK-2", DeviceType.SMOKE_DETECTOR, interval=60, offline_multiple=5),
        make("SMK-3", DeviceType.SMOKE_DETECTOR, interval=60),  # never heard from: NEW, not offline
    )
    feed(engine, "SMK-1", 0, smoke=False)
    feed(engine, "SMK-2", 0, smoke=False)
    assert engine.sweep(t(180)) == []
    [offline] = engine.sweep(t(181))
    assert offline == Signal("SMK-1", "device.offline", True, Severity.MINOR, "设备离线", "静默 181 s（允许 180 s）", t(181))
    assert engine.sweep(t(200)) == []
    assert engine.active("SMK-1") == ["device.offline"]
    assert changes(engine.sweep(t(301))) == [("device.offline", True)] and engine.active("SMK-2") == ["device.offline"]
    [back] = feed(engine, "SMK-1", 400, battery=90.0)
    assert (back.rule, back.raised, back.at, back.message) == ("device.offline", False, t(400), "设备离线，已恢复")
    assert engine.sweep(t(500)) == []


def test_silence_counts_from_when_the_hub_began_listening() -> None:
    """A hub back after an hour away does not call every device offline at once (a storm):
    each gets its full window from the restart to speak."""
    seen_an_hour_ago = Device("SMK-9", DeviceType.SMOKE_DETECTOR, "x", "370202001001E001", 60, last_seen=t(-3600), values={"smoke": False})
    engine = RuleEngine()
    engine.load([seen_an_hour_ago], listening_since=t(0))
    assert engine.sweep(t(5)) == [] and engine.sweep(t(180)) == []
    assert changes(engine.sweep(t(181))) == [("device.offline", True)]
    # without it (a hub that never left), the hour of silence counts at the first sweep
    engine.load([seen_an_hour_ago])
    assert changes(engine.sweep(t(5))) == [("device.offline", True)]


def test_went_offline_raises_at_once_once_and_a_reading_clears_it() -> None:
    engine = engine_of(make("PUMP-1", DeviceType.WATER_PUMP, interval=10))
    feed(engine, "PUMP-1", 0, outlet_pressure=0.10)
    assert engine.went_offline("PUMP-1", t(-5)) == []  # the device spoke after that
    [offline] = engine.went_offline("PUMP-1", t(10))
    assert (offline.rule, offline.raised, offline.at, offline.value) == ("device.offline", True, t(10), "连接断开（遗嘱消息）")
    assert engine.went_offline("PUMP-1", t(11)) == []
    assert engine.sweep(t(1000)) == []  # neither offline again nor the pressure rule completed
    # the low pressure building up before the gap starts over
    assert changes(feed(engine, "PUMP-1", 20, outlet_pressure=0.10)) == [("device.offline", False)]
    assert feed(engine, "PUMP-1", 65, outlet_pressure=0.10) == []
    assert changes(feed(engine, "PUMP-1", 80, outlet_pressure=0.10)) == [("pump.pressure_low", True)]


# -- restart, registry -----------------------------------------------------------------------


def test_restart_with_active_alarms_neither_raises_again_nor_forgets_to_clear() -> None:
    devices = (make("ELV-1", DeviceType.ELEVATOR), make("SMK-1", DeviceType.SMOKE_DETECTOR))
    active = (
        alarm("ELV-1", DeviceType.ELEVATOR, "elevator.trapped"),
        alarm("ELV-1", DeviceType.ELEVATOR, "elevator.fault", cleared=True),  # cleared: not active
        alarm("SMK-1", DeviceType.SMOKE_DETECTOR, "device.offline"),
        alarm("GONE-1", DeviceType.SMOKE_DETECTOR, "smoke.alarm"),  # no longer registered
        alarm("SMK-1", DeviceType.SMOKE_DETECTOR, "smoke.retired_rule"),
    )
    engine = engine_of(*devices, active=active)
    assert engine.active("ELV-1") == ["elevator.trapped"]
    assert feed(engine, "ELV-1", 0, trapped=True) == []
    assert changes(feed(engine, "ELV-1", 1, trapped=False)) == [("elevator.trapped", False)]
    assert changes(feed(engine, "ELV-1", 2, fault_code="E9")) == [("elevator.fault", True)]
    assert engine.went_offline("SMK-1", t(0)) == []
    assert changes(feed(engine, "SMK-1", 3, smoke=False)) == [("device.offline", False)]
    # a load replaces everything: nothing active is carried over unless told
    engine.load(devices)
    assert engine.active("ELV-1") == []


def test_load_takes_the_latest_state_from_the_registry() -> None:
    stored = Device(
        "GAS-1", DeviceType.GAS_DETECTOR, "M", "370202001001E0001", 60, last_seen=t(100), values={"lel": 21.0}
    )
    engine = engine_of(stored)
    assert feed(engine, "GAS-1", 50, lel=60.0) == []  # older than what the store saw last
    assert changes(engine.sweep(t(281))) == [("device.offline", True)]


def test_upsert_registers_and_changes_a_device_keeping_its_rule_state() -> None:
    engine = engine_of()
    engine.upsert(make("GAS-1", DeviceType.GAS_DETECTOR))
    assert engine.device("GAS-1") == make("GAS-1", DeviceType.GAS_DETECTOR)
    assert changes(feed(engine, "GAS-1", 0, lel=60.0)) == [("gas.high", True)]
    assert changes(feed(engine, "GAS-1", 1, lel=45.0)) == [("gas.low", True)]
    engine.upsert(make("GAS-1", DeviceType.GAS_DETECTOR, lel_critical=70, lel_critical_clear=25))
    assert engine.device("GAS-1") == make("GAS-1", DeviceType.GAS_DETECTOR, lel_critical=70, lel_critical_clear=25)
    assert feed(engine, "GAS-1", 2, lel=30.0) == []
    assert engine.active("GAS-1") == ["gas.low", "gas.high"]
    assert changes(feed(engine, "GAS-1", 3, lel=26.0)) == []  # new clear level 25 applies to the active alarm
    assert changes(feed(engine, "GAS-1", 4, lel=24.0)) == [("gas.high", False)]
    assert feed(engine, "GAS-1", -1, lel=99.0) == []  # the newest time seen survives an upsert
    # a changed type drops the old rules
    engine.upsert(make("GAS-1", DeviceType.SMOKE_DETECTOR))
    assert engine.active("GAS-1") == []
    assert changes(feed(engine, "GAS-1", 5, smoke=True)) == [("smoke.alarm", True)]


# -- validate --------------------------------------------------------------------------------


def test_validate_finds_unknown_metrics_wrong_kinds_nan_and_out_of_range() -> None:
    engine = engine_of()
    gas = make("GAS-1", DeviceType.GAS_DETECTOR)
    assert engine.validate(gas, {"lel": 12.5}) == []
    assert engine.validate(gas, {"lel": 0}) == []
    found = engine.validate(gas, {"lel": 140.0, "temp": 20.0})
    assert found == [
        Problem("lel", 140.0, "is 140 %LEL, outside 0..100"),
        Problem("temp", 20.0, "is not a metric of a gas_detector (known: lel)"),
    ]
    assert engine.validate(gas, {"lel": "12"}) == [Problem("lel", "12", "is text, not a number")]
    assert engine.validate(gas, {"lel": True}) == [Problem("lel", True, "is a flag, not a number")]
    [nan] = engine.validate(gas, {"lel": math.nan})
    assert (nan.metric, nan.why) == ("lel", "is not a finite number")
    assert engine.validate(gas, {"lel": math.inf})[0].why == "is not a finite number"
    assert engine.validate(gas, {"lel": 10**400})[0].why == "is not a finite number"
    assert engine.validate(gas, {"lel": -0.1})[0].why == "is -0.1 %LEL, outside 0..100"
    bad: Mapping[str, object] = {"lel": None}
    assert engine.validate(gas, bad)[0].why == "is null, not a number"  # type: ignore[arg-type]
    elevator = make("ELV-1", DeviceType.ELEVATOR)
    assert engine.validate(elevator, {"trapped": True, "fault_code": "E12", "door_fault": False, "floor": -2, "running": True}) == []
    assert engine.validate(elevator, {"fault_code": 12}) == []
    assert engine.validate(elevator, {"trapped": 1})[0].why == "is a number, not a flag (true or false)"
    assert engine.validate(elevator, {"fault_code": False})[0].why == "is a flag, not a code (text or a whole number)"
    assert engine.validate(elevator, {"fault_code": 1.5})[0].why == "is a number, not a code (text or a whole number)"
    assert engine.validate(elevator, {"fault_code": "E" * 33})[0].why == "is 33 characters long, more than 32"
    manhole = make("MH-1", DeviceType.MANHOLE_COVER)
    assert engine.validate(manhole, {"tilt": 181.0})[0].why == "is 181 °, outside 0..180"
    assert engine.validate(manhole, {"lel": 1.0})[0].why == "is not a metric of a manhole_cover (known: tilt, immersion)"


def test_metrics_kinds_are_what_the_rules_read() -> None:
    assert METRICS[DeviceType.GAS_DETECTOR]["lel"].kind is MetricKind.NUMBER
    assert METRICS[DeviceType.ELEVATOR]["fault_code"].kind is MetricKind.CODE
    assert METRICS[DeviceType.WATER_PUMP]["demand"].kind is MetricKind.FLAG
    assert (METRICS[DeviceType.GAS_DETECTOR]["lel"].low, METRICS[DeviceType.GAS_DETECTOR]["lel"].high) == (0, 100)


def test_a_reading_delivered_twice_counts_once() -> None:
    """QoS 1 sends a message again when its acknowledgement was lost: the newest reading again
    must not count a second time towards `repeat` (gas.low needs two readings at 20 %LEL)."""
    engine = engine_of(make("GD-1", DeviceType.GAS_DETECTOR))
    assert changes(feed(engine, "GD-1", 0, lel=25.0)) == []
    assert changes(feed(engine, "GD-1", 0, lel=25.0)) == []
    assert changes(feed(engine, "GD-1", 1, lel=26.0)) == [("gas.low", True)]


def test_after_a_restart_the_rules_resume_from_the_newest_reading_time() -> None:
    """A device's `reading_at` (its own clock) is where the rules resume, not `last_seen` (the
    hub's, later): the backlog after it is judged, and an old reading sent again does not clear
    an alarm a newer reading raised."""
    import dataclasses

    device = dataclasses.replace(make("GD-1", DeviceType.GAS_DETECTOR), reading_at=t(10), last_seen=t(500))
    raised = dataclasses.replace(alarm("GD-1", DeviceType.GAS_DETECTOR, "gas.high"), raised_at=t(8))
    engine = engine_of(device, active=(raised,))
    assert changes(feed(engine, "GD-1", 5, lel=3.0)) == []  # older than reading_at
    engine = engine_of(dataclasses.replace(device, reading_at=t(4)), active=(raised,))
    assert changes(feed(engine, "GD-1", 5, lel=3.0)) == []  # newer than reading_at, older than the raise
    assert changes(feed(engine, "GD-1", 9, lel=3.0)) == [("gas.high", False)]
    assert changes(feed(engine, "GD-1", 20, lel=55.0)) == [("gas.high", True)]  # a backlog before last_seen
