"""Realistic device traffic for the demo and the tests (`hub simulate`), deterministic per seed.

Each simulated device walks its metrics randomly inside the normal band of its type (a gas
detector hovers at a few %LEL, a transformer's windings at 60-95 °C, a pump's outlet at
0.3-0.6 MPa), and now and then (probability `faults` per message) starts a fault that lasts
a while and then recovers, so alarms rise and clear:

    elevator        trapped passenger (an event), or a fault code
    smoke_detector  smoke (an event)
    gas_detector    a leak: %LEL climbs past the low and then the high alarm level
    water_pump      stopped while water is demanded (the rule waits 30 s before raising)
    manhole_cover   tilted 25° off its baseline
    transformer     one phase over the alarm temperature

A fault's first message goes to the device's `events` topic (devices report such things at
once); everything else is telemetry. The generators only build (topic, payload) pairs: the
command sends them to a broker or into an in-process pipeline, the same bytes either way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import secrets
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

from devices.mqtt import Broker
from devices.pipeline import Pipeline
from devices.topics import Stream, topic
from graph.devices import Device, DeviceType, Value

FAULT_SECONDS: dict[DeviceType, tuple[float, float]] = {
    DeviceType.ELEVATOR: (8.0, 20.0),
    DeviceType.SMOKE_DETECTOR: (5.0, 15.0),
    DeviceType.GAS_DETECTOR: (8.0, 20.0),
    DeviceType.WATER_PUMP: (40.0, 60.0),  # longer than pump.stopped's 30 s
    DeviceType.MANHOLE_COVER: (8.0, 20.0),
    DeviceType.TRANSFORMER: (8.0, 20.0),
}
"""How long a fault lasts, by type (uniformly in the range)."""


@dataclass
class SimulatedDevice:
    """One device's walk: its current values, and the fault it is in (if any) until when."""

    device: Device
    values: dict[str, Value]
    fault: str | None = None
    fault_until: dt.datetime | None = None
    faults: int = 0
    messages: int = 0
    baseline: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def _walk(rng: random.Random, value: float, step: float, low: float, high: float) -> float:
    return min(high, max(low, value + rng.uniform(-step, step)))


def _normal(rng: random.Random, device: Device) -> dict[str, Value]:
    kind = device.type
    if kind is DeviceType.ELEVATOR:
        return {"trapped": False, "fault_code": "0", "door_fault": False, "floor": float(rng.randint(1, 18)), "running": rng.random() < 0.5}
    if kind is DeviceType.SMOKE_DETECTOR:
        return {"smoke": False, "battery": float(rng.randint(70, 100))}
    if kind is DeviceType.GAS_DETECTOR:
        return {"lel": round(rng.uniform(0.0, 4.0), 1)}
    if kind is DeviceType.WATER_PUMP:
        return {"outlet_pressure": round(rng.uniform(0.35, 0.55), 2), "running": True, "demand": True}
    if kind is DeviceType.MANHOLE_COVER:
        baseline = float(device.thresholds.get("tilt_baseline", 0.0))
        return {"tilt": round(baseline + rng.uniform(0.0, 1.5), 1), "immersion": False}
    return {f"temp_{phase}": round(rng.uniform(60.0, 85.0), 1) for phase in "abc"}


class Simulator:
    """Messages of `devices` in round-robin order, one device per call of `next`.

    `faults` is each message's chance of starting a fault; the devices named in `focus` start
    them with `focus_faults` instead (the demo makes the street its examples look at lively)."""

    def __init__(
        self,
        devices: Sequence[Device],
        *,
        prefix: str = "hub",
        seed: int = 0,
        faults: float = 0.01,
        focus: Collection[str] = (),
        focus_faults: float | None = None,
    ) -> None:
        if not devices:
            raise ValueError("no devices to simulate")
        for chance in (faults, focus_faults if focus_faults is not None else faults):
            if not 0.0 <= chance <= 1.0:
                raise ValueError("faults must be a probability between 0 and 1")
        self.prefix = prefix
        self.faults = faults
        self.focus = frozenset(focus)
        self.focus_faults = faults if focus_faults is None else focus_faults
        self.rng = random.Random(seed)
        self.devices = [
            SimulatedDevice(d, _normal(self.rng, d), baseline=float(d.thresholds.get("tilt_baseline", 0.0)))
            for d in sorted(devices, key=lambda d: d.code)
        ]
        self._turn = 0
        self.faults_started: dict[str, int] = {}

    def status(self, online: bool = True) -> Iterator[tuple[str, bytes]]:
        """The status message of every device (publish retained)."""
        payload = b"online" if online else b"offline"
        for sim in self.devices:
            yield topic(self.prefix, sim.device.code, Stream.STATUS), payload

    def next(self, now: dt.datetime) -> tuple[str, bytes]:
        """The next device's next message at `now` (its `ts`)."""
        sim = self.devices[self._turn]
        self._turn = (self._turn + 1) % len(self.devices)
        stream = self._step(sim, now)
        sim.messages += 1
        body = {"ts": now.isoformat(timespec="milliseconds"), "values": sim.values}
        return topic(self.prefix, sim.device.code, stream), json.dumps(body, separators=(",", ":")).encode()

    def _step(self, sim: SimulatedDevice, now: dt.datetime) -> Stream:
        rng = self.rng
        if sim.fault is not None and sim.fault_until is not None and now >= sim.fault_until:
            sim.fault, sim.fault_until = None, None
            self._recover(sim)
            return Stream.TELEMETRY
        chance = self.focus_faults if sim.device.code in self.focus else self.faults
        if sim.fault is None and rng.random() < chance:
            low, high = FAULT_SECONDS[sim.device.type]
            sim.fault_until = now + dt.timedelta(seconds=rng.uniform(low, high))
            sim.fault = self._start_fault(sim)
            sim.faults += 1
            self.faults_started[sim.fault] = self.faults_started.get(sim.fault, 0) + 1
            return Stream.EVENTS
        self._drift(sim)
        return Stream.TELEMETRY

    def _start_fault(self, sim: SimulatedDevice) -> str:
        v, rng, kind = sim.values, self.rng, sim.device.type
        if kind is DeviceType.ELEVATOR:
            if rng.random() < 0.6:
                v.update(trapped=True, running=False)
                return "trapped"
            v["fault_code"] = rng.choice(("E12", "E35", "E41"))
            return "fault_code"
        if kind is DeviceType.SMOKE_DETECTOR:
            v["smoke"] = True
            return "smoke"
        if kind is DeviceType.GAS_DETECTOR:
            v["lel"] = round(rng.uniform(26.0, 35.0), 1)
            return "gas_leak"
        if kind is DeviceType.WATER_PUMP:
            v.update(running=False, demand=True, outlet_pressure=round(rng.uniform(0.22, 0.3), 2))
            return "pump_stop"
        if kind is DeviceType.MANHOLE_COVER:
            v["tilt"] = round(min(90.0, sim.baseline + rng.uniform(22.0, 30.0)), 1)
            return "tilted"
        v["temp_a"] = round(rng.uniform(132.0, 140.0), 1)
        return "over_temperature"

    def _drift(self, sim: SimulatedDevice) -> None:
        v, rng, kind = sim.values, self.rng, sim.device.type
        if kind is DeviceType.ELEVATOR and sim.fault is None:
            v["floor"] = float(min(18, max(1, int(v["floor"]) + rng.choice((-1, 0, 1)))))
            v["running"] = rng.random() < 0.5
        elif kind is DeviceType.SMOKE_DETECTOR:
            v["battery"] = max(30.0, float(v["battery"]) - (1.0 if rng.random() < 0.02 else 0.0))
        elif kind is DeviceType.GAS_DETECTOR:
            if sim.fault == "gas_leak":  # a leak builds up to past the high level
                v["lel"] = round(min(70.0, float(v["lel"]) + rng.uniform(3.0, 9.0)), 1)
            else:
                v["lel"] = round(_walk(rng, float(v["lel"]), 0.5, 0.0, 5.0), 1)
        elif kind is DeviceType.WATER_PUMP and sim.fault is None:
            v["outlet_pressure"] = round(_walk(rng, float(v["outlet_pressure"]), 0.02, 0.3, 0.6), 2)
        elif kind is DeviceType.MANHOLE_COVER and sim.fault is None:
            v["tilt"] = round(_walk(rng, float(v["tilt"]), 0.3, sim.baseline, sim.baseline + 2.0), 1)
        elif kind is DeviceType.TRANSFORMER:
            for phase in ("temp_b", "temp_c") if sim.fault else ("temp_a", "temp_b", "temp_c"):
                v[phase] = round(_walk(rng, float(v[phase]), 1.0, 55.0, 95.0), 1)

    def _recover(self, sim: SimulatedDevice) -> None:
        fresh = _normal(self.rng, sim.device)
        if sim.device.type is DeviceType.SMOKE_DETECTOR:
            fresh["battery"] = sim.values["battery"]
        sim.values = fresh


# -- running a simulation ---------------------------------------------------------------------


@dataclass
class SimulationReport:
    devices: int
    messages: int = 0
    seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)


def pick(devices: Sequence[Device], count: int, *, seed: int = 0) -> list[Device]:
    """`count` of the registered devices, the same ones for the same seed."""
    ordered = sorted(devices, key=lambda d: d.code)
    if count >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, count), key=lambda d: d.code)


async def paced(
    simulator: Simulator,
    send: Callable[[list[tuple[str, bytes]]], Awaitable[None]],
    *,
    rate: float,
    duration: float | None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    tick: float = 0.05,
) -> SimulationReport:
    """Generate `rate` messages a second in total (for `duration` seconds, or until cancelled),
    handing each tick's messages to `send` together."""
    if rate <= 0:
        raise ValueError("rate must be above 0")
    loop = asyncio.get_running_loop()
    report = SimulationReport(len(simulator.devices))
    started = loop.time()
    try:
        while True:
            elapsed = loop.time() - started
            if duration is not None and elapsed >= duration:
                break
            due = int(rate * elapsed) + 1 - report.messages
            if due > 0:
                now = clock()
                await send([simulator.next(now) for _ in range(due)])
                report.messages += due
            await asyncio.sleep(tick)
    finally:
        report.seconds = loop.time() - started
        report.faults = dict(simulator.faults_started)
    return report


async def publish_to_broker(
    simulator: Simulator, broker: Broker, *, rate: float, duration: float | None, client_id: str | None = None
) -> SimulationReport:
    """Publish over ONE connection for every simulated device (a connection per device does not
    scale to thousands of devices on one machine): each device's `online` status is published
    retained at the start, explicitly, and no will is set, because one connection can carry only
    one last will (a real device sets its own `offline` will on its status topic). When the
    simulation ends its devices fall silent, and the offline rule notices them after
    `offline_multiple` × their interval, as it would a device whose power failed."""
    async with broker.client(identifier=client_id or f"hub-simulator-{secrets.token_hex(4)}", clean_session=True) as client:
        await asyncio.gather(*(client.publish(t, p, qos=1, retain=True) for t, p in simulator.status(True)))

        async def send(messages: list[tuple[str, bytes]]) -> None:
            await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in messages))

        return await paced(simulator, send, rate=rate, duration=duration)


async def feed_pipeline(
    simulator: Simulator, pipeline: Pipeline, *, rate: float, duration: float | None
) -> SimulationReport:
    """The same topics and payload bytes, submitted to an in-process pipeline (no broker)."""
    clock = pipeline.clock
    for t, p in simulator.status(True):
        await pipeline.submit(t, p, clock())

    async def send(messages: list[tuple[str, bytes]]) -> None:
        for t, p in messages:
            await pipeline.submit(t, p, clock())

    return await paced(simulator, send, rate=rate, duration=duration, clock=clock)
