"""The rule engine: readings in, raise and clear signals out, one per change of a rule's state.

It keeps, per device, its parameters (type defaults under its overrides, resolved once when the
device is loaded, not per message), its latest values and the time of its newest reading, and per
(device code, rule) whether the rule is active and, while its raise condition holds but not yet
long or often enough, since when and in how many readings. Nothing is allocated per call beyond
the signals it returns: it runs for every telemetry message.

Time is the readings' own (`Reading.at`); `sweep(now)` brings the hub's clock in for what happens
when nothing arrives: a device silent too long, a duration completed with no newer reading. A
reading older than the newest one seen for its device changes nothing (QoS 1 redelivery and
reconnect bursts arrive out of order; an old "trapped: false" must not clear a newer "trapped").
After a restart the newest one is the device's `reading_at` as ingestion last committed it, and
an active alarm raised by a reading is cleared only by a reading no older than that one: what
the broker sends again after a crash is then judged as the first time, and the store refuses
what it raised already (`DeviceStore.raise_alarm`).

The engine owns no store: ingestion turns raised signals into alarms (`DeviceStore.raise_alarm`)
and cleared ones into `clear_alarm`, and after a restart hands the active alarms back to `load`
so that nothing is raised twice and nothing active is forgotten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from graph.devices import Alarm, Device, Reading, Severity, Value
from graph.errors import InvalidInput
from graph.rules.catalog import OFFLINE, RULES, Rule
from graph.rules.metrics import Problem, problems
from graph.rules.parameters import check_thresholds, parameters


@dataclass(frozen=True, slots=True)
class Signal:
    """A rule of a device changed state: raise an alarm, or clear the active one."""

    device_code: str
    rule: str
    """"gas.high", "elevator.trapped", "device.offline", ..."""
    raised: bool
    """True: raise an alarm; False: clear it."""
    severity: Severity
    message: str
    """Chinese, for the person on duty, e.g. 电梯困人 (a clear says 电梯困人，已恢复)."""
    value: str | None
    """The value that decided it, as text with its unit: "34.0 %LEL"."""
    at: dt.datetime
    """The reading's time (or the sweep's now)."""


class _State:
    """One rule of one device: active, or how long and how often its raise condition has held."""

    __slots__ = ("active", "since", "count", "need", "raised_at")

    def __init__(self, rule: Rule) -> None:
        self.active = False
        self.since: dt.datetime | None = None
        self.count = 0
        self.need = dt.timedelta(seconds=rule.duration)
        self.raised_at: dt.datetime | None = None
        """The time of the reading that raised the active alarm (rules raised by one reading
        only: a sweep raises at the hub's clock, not comparable with readings' own)."""

    def reset(self) -> None:
        self.since = None
        self.count = 0


class _Unit:
    """A device as the engine runs it."""

    __slots__ = ("device", "params", "window", "latest", "last_at", "checks", "offline")

    def __init__(self, device: Device, params: dict[str, float], states: dict[tuple[str, str], _State]) -> None:
        self.device = device
        self.params = params
        self.window = dt.timedelta(seconds=params["offline_multiple"] * device.interval)
        self.latest: dict[str, Value] = dict(device.values)
        # readings' own time; `last_seen` (the hub's clock) only for a store from before it
        self.last_at = device.reading_at if device.reading_at is not None else device.last_seen
        checks = []
        self.offline: _State
        for rule in RULES[device.type]:
            state = states.setdefault((device.code, rule.name), _State(rule))
            if rule is OFFLINE:
                self.offline = state
            else:
                checks.append((rule, state))
        self.checks: tuple[tuple[Rule, _State], ...] = tuple(checks)


class RuleEngine:
    """The rules of every registered device, with their state. Not thread-safe: one owner."""

    def __init__(self) -> None:
        self._units: dict[str, _Unit] = {}
        self._states: dict[tuple[str, str], _State] = {}
        self._pending: dict[tuple[str, str], Rule] = {}
        """Timed rules whose raise condition holds, not yet long enough: what a sweep looks at."""

    # -- the registry ------------------------------------------------------------------------

    def load(
        self, devices: Iterable[Device], active: Iterable[Alarm] = (), *, listening_since: dt.datetime | None = None
    ) -> None:
        """(Re)build from the registry; active alarms mark their rules active, so a restart
        neither raises them again nor forgets to clear them. An alarm of a device or rule the
        registry no longer has is ignored. Atomic: InvalidInput (naming the device) for bad
        thresholds leaves the engine as it was.

        `listening_since` is when the caller began hearing devices (ingestion's start): silence
        is counted from then at the earliest, because a hub that was away cannot tell a silent
        device from its own absence, and calling every device offline at a restart would be a
        storm of alarms and cases."""
        units: dict[str, _Unit] = {}
        states: dict[tuple[str, str], _State] = {}
        for device in devices:
            units[device.code] = _Unit(device, _resolved(device), states)
        for alarm in active:
            state = states.get((alarm.device_code, alarm.rule))
            if state is not None and alarm.active:
                state.active = True
                if not state.need:
                    state.raised_at = alarm.raised_at
        self._units, self._states, self._pending = units, states, {}
        self._listening_since = listening_since

    def upsert(self, device: Device) -> None:
        """A device registered or changed: new parameters, same rule state (an active alarm
        stays active). A changed type drops the old type's rules and values."""
        params = _resolved(device)
        old = self._units.get(device.code)
        if old is not None and old.device.type is not device.type:
            for rule in RULES[old.device.type]:
                self._states.pop((device.code, rule.name), None)
                self._pending.pop((device.code, rule.name), None)
            old = None
        unit = _Unit(device, params, self._states)
        if old is not None:
            unit.latest = old.latest
            unit.latest.update(device.values)
            if old.last_at is not None and (unit.last_at is None or old.last_at > unit.last_at):
                unit.last_at = old.last_at
        self._units[device.code] = unit

    def device(self, code: str) -> Device | None:
        unit = self._units.get(code)
        return None if unit is None else unit.device

    def active(self, code: str) -> list[str]:
        """The names of the device's active rules, in the order of its type's rules."""
        unit = self._units.get(code)
        if unit is None:
            return []
        names = [rule.name for rule, state in unit.checks if state.active]
        return [*names, OFFLINE.name] if unit.offline.active else names

    # -- state kept elsewhere (devices.sharing: several ingesters, one state per device) -----

    def state_of(self, code: str) -> dict[str, object] | None:
        """What the engine knows of one device's rules, as JSON-able data for `restore`: its
        latest values, its newest reading's time and, per rule, active / since / count /
        raised_at. None for a device the engine does not have."""
        unit = self._units.get(code)
        if unit is None:
            return None
        # a rule at rest (inactive, nothing building up) is left out: most are, most of the time
        rules = {rule.name: _state_data(state) for rule, state in unit.checks if state.active or state.count}
        if unit.offline.active:
            rules[OFFLINE.name] = _state_data(unit.offline)
        return {"latest": dict(unit.latest), "last_at": _iso(unit.last_at), "rules": rules}

    def newest(self, code: str) -> tuple[dict[str, Value], dt.datetime | None]:
        """The device's latest values and its newest reading's time, as the engine has them."""
        unit = self._units.get(code)
        return ({}, None) if unit is None else (unit.latest, unit.last_at)

    def restore(self, code: str, data: dict[str, object]) -> None:
        """Put back what `state_of` gave (perhaps in another process): the device's rules go on
        from there; a rule the data leaves out is at rest."""
        unit = self._units.get(code)
        if unit is None:
            return
        latest = data.get("latest")
        if isinstance(latest, dict):
            unit.latest = dict(latest)
        unit.last_at = _time(data.get("last_at"))
        rules = data.get("rules")
        if not isinstance(rules, dict):
            return
        for rule, state in (*unit.checks, (OFFLINE, unit.offline)):
            saved = rules.get(rule.name)
            if not isinstance(saved, list) or len(saved) != 4:
                if state.active or state.count or rule.duration:
                    state.active, state.raised_at = False, None
                    state.reset()
                    self._pending.pop((code, rule.name), None)
                continue
            state.active = bool(saved[0])
            state.since = _time(saved[1])
            state.count = int(saved[2])
            state.raised_at = _time(saved[3])
            if rule.duration and state.since is not None and not state.active:
                self._pending[(code, rule.name)] = rule
            else:
                self._pending.pop((code, rule.name), None)

    # -- messages ----------------------------------------------------------------------------

    def validate(self, device: Device, values: Mapping[str, Value]) -> list[Problem]:
        """Why these values cannot have come from this device (empty: they are fine)."""
        return problems(device.type, values)

    def evaluate(self, reading: Reading) -> list[Signal]:
        """The signals of one validated reading: raises whose conditions have now held long and
        often enough, clears whose conditions now hold, and the clear of `device.offline`."""
        code = reading.device_code
        unit = self._units.get(code)
        if unit is None:
            return []
        at = reading.at
        values = reading.values
        latest = unit.latest
        if unit.last_at is not None and at <= unit.last_at:
            # older, or the newest one again (delivered twice): it would count twice towards
            # `repeat`; a different message of the same time (another topic) still counts
            if at < unit.last_at or all(latest.get(metric) == value for metric, value in values.items()):
                return []
        unit.last_at = at
        latest.update(values)
        params = unit.params
        signals: list[Signal] = []
        if unit.offline.active:
            unit.offline.active = False
            signals.append(Signal(code, OFFLINE.name, False, OFFLINE.severity, _cleared(OFFLINE), None, at))
        for rule, state in unit.checks:
            for metric in rule.metrics:
                if metric in values:
                    break
            else:
                continue
            x = rule.measure(latest, params)
            if x is None:
                continue
            if state.active:
                # a reading older than the one that raised the alarm does not clear it: after a
                # restart the broker sends again what was not acknowledged, in its old order
                if rule.clears(x, params) and (state.raised_at is None or at >= state.raised_at):
                    state.active = False
                    state.raised_at = None
                    signals.append(
                        Signal(code, rule.name, False, rule.severity, _cleared(rule), rule.show(x, latest, params), at)
                    )
            elif rule.raises(x, params):
                state.count += 1
                if state.since is None:
                    state.since = at
                if state.count >= rule.repeat and at - state.since >= state.need:
                    state.active = True
                    state.raised_at = None if rule.duration else at
                    state.reset()
                    if rule.duration:
                        self._pending.pop((code, rule.name), None)
                    signals.append(
                        Signal(code, rule.name, True, rule.severity, rule.message, rule.show(x, latest, params), at)
                    )
                elif rule.duration:
                    self._pending[(code, rule.name)] = rule
            elif state.count:
                state.reset()
                if rule.duration:
                    self._pending.pop((code, rule.name), None)
        return signals

    def went_offline(self, code: str, at: dt.datetime) -> list[Signal]:
        """The status topic said offline (the device's last will): raise `device.offline` now,
        unless it is active already or the device spoke after `at`."""
        unit = self._units.get(code)
        if unit is None or unit.offline.active or (unit.last_at is not None and at < unit.last_at):
            return []
        return [self._offline(unit, at, "连接断开（遗嘱消息）")]

    def sweep(self, now: dt.datetime, codes: Iterable[str] | None = None) -> list[Signal]:
        """Time-driven rules: offline (silent longer than `offline_multiple` × the interval;
        a device never heard from is NEW, not offline) and timed conditions that have held long
        enough by `now` with no newer reading. Signals are at `now`. With `codes`, only those
        devices are looked at."""
        signals: list[Signal] = []
        since = self._listening_since
        only = None if codes is None else set(codes)
        units = self._units.values() if only is None else [self._units[c] for c in only if c in self._units]
        for unit in units:
            last = unit.last_at
            if last is not None and since is not None and since > last:
                last = since
            if last is not None and not unit.offline.active and now - last > unit.window:
                silent = (now - last).total_seconds()
                allowed = unit.window.total_seconds()
                signals.append(self._offline(unit, now, f"静默 {silent:.0f} s（允许 {allowed:.0f} s）"))
        for key, rule in list(self._pending.items()):
            if only is not None and key[0] not in only:
                continue
            state = self._states[key]
            since = state.since
            if since is None:  # raised or reset since it was noted
                del self._pending[key]
                continue
            if state.count < rule.repeat or now - since < state.need:
                continue
            unit = self._units[key[0]]
            x = rule.measure(unit.latest, unit.params)
            del self._pending[key]
            state.reset()
            if x is None:
                continue
            state.active = True
            state.raised_at = None
            signals.append(
                Signal(key[0], rule.name, True, rule.severity, rule.message, rule.show(x, unit.latest, unit.params), now)
            )
        return signals

    def _offline(self, unit: _Unit, at: dt.datetime, value: str) -> Signal:
        """Raise offline; what was building up towards a raise starts over when it returns."""
        unit.offline.active = True
        for rule, state in unit.checks:
            if not state.active:
                state.reset()
                self._pending.pop((unit.device.code, rule.name), None)
        return Signal(unit.device.code, OFFLINE.name, True, OFFLINE.severity, OFFLINE.message, value, at)


def _resolved(device: Device) -> dict[str, float]:
    try:
        overrides = check_thresholds(device.type, device.thresholds)
    except InvalidInput as error:
        raise InvalidInput(f"devices[{device.code}].{error.field}", error.value, error.rule) from None
    if device.interval <= 0:
        raise InvalidInput(f"devices[{device.code}].interval", device.interval, "must be a positive number of seconds")
    return {**parameters(device.type), **overrides}


def _iso(at: dt.datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _time(text: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if isinstance(text, str) else None


def _state_data(state: _State) -> list[object]:
    return [state.active, _iso(state.since), state.count, _iso(state.raised_at)]


def _cleared(rule: Rule) -> str:
    return f"{rule.message}，已恢复"
