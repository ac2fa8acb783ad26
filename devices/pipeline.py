"""From MQTT messages to readings, states, alarms and cases: the ingestion pipeline.

`submit` puts a message on a bounded queue and waits while it is full, so a hub that cannot
keep up slows its MQTT reader, which stops acknowledging, which makes the broker hold the
messages (QoS 1): backpressure ends at the broker, not in this process's memory. One consumer
task takes the messages in batches (up to `batch_size`) and writes each batch with a few
statements: readings appended, latest states merged. It takes what is queued and does not wait
for more (`batch_wait`, 0 by default): under load the queue fills while a batch is written, so
batches are large anyway, and a lone alarm is handled at once instead of waiting for company
(a 50 ms wait was most of the alarm-to-case latency).

Each message is checked in order: its topic (BAD_TOPIC), its device (UNKNOWN_DEVICE, after a
rate-limited reload of the registry so a device registered after the start is found), its
payload (MALFORMED_PAYLOAD, devices.payloads) and its values against what the metric can be
(OUT_OF_RANGE, graph.rules). A refused message is counted by reason and set aside as a dead
letter of connector `mqtt` keyed by device (or topic) and reason, so a flood of the same mistake
is one row with a `seen` count, not a flood of rows.

Good readings go through the rule engine; a raised signal stores an alarm (the store refuses a
second active alarm of the same rule: no storms) and opens a case through the workflow (未诉先办),
whose id the alarm keeps; a cleared signal clears it. Both are announced on the event bus. The
same consumer sweeps the engine every `sweep_every` (durations, silence → offline) and prunes
readings older than the retention every `prune_every`, so the engine never sees two callers.

Nothing in a message can stop the consumer: when a batch fails, the failure is logged and
counted and the batch's messages are handled one at a time, so one poisonous message fails
alone (logged, counted as `failed`) and the others are kept.

**Settling.** `submit` may pass a `settled` callback, called once per message when what the
hub does with it is decided: True once everything written for it is committed (its batch's
readings, alarms, cases and latest states, or its dead letter), False when it failed even alone.
The MQTT reader acknowledges on True, and only then (QoS 1: a message the hub acknowledged is
never lost, whatever happens to the process), and leaves a False to be sent again. A message is
therefore handled again after a crash, and everything it does is idempotent: the store keeps a
reading once (device, time, kind, values), never raises two alarms of a device and rule at one
time, and a case once per alarm (its `external_id`); the rules resume from the newest reading
time committed with the latest states (`Device.reading_at`), so the messages after it are judged
as the first time. An active alarm left without its case by a crash between the two gets it
when the pipeline starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from devices.payloads import PayloadError, decode_reading, decode_status, render
from devices.topics import Stream, parse_topic
from graph.alarm_cases import CaseOpener, open_alarm_case
from graph.cases import Case, CaseSource
from graph.devices import Alarm, Device, DeviceState, DeviceStatus, DeviceStore, Reading, Value, derive_status, every_active_alarm, every_device, registration
from graph.errors import InvalidInput
from graph.events import Event, EventBus, Topic
from graph.facilities.service import RULES
from graph.ledger import DeadLetter, Ledger, Reason
from graph.rules import RuleEngine, Signal

if TYPE_CHECKING:
    from devices.sharing import SharedRules

log = logging.getLogger("hub.devices")

OVERDUE_RULES = frozenset(RULES.values())
"""The facilities' overdue alarms (graph.facilities.service): raised by its sweep, not by a
device's messages, so they do not make a heard-from device's status `alarm`; a case missing for
one is opened at the start like any other alarm's."""

CONNECTOR = "mqtt"
"""The connector name the ingestion's dead letters are filed under."""


class IngestStore(DeviceStore, Ledger, Protocol):
    """What the pipeline needs of the store: the device part, the ledger's dead letters, and
    finding the case a device alarm opened (graph.cases.CaseStore)."""

    async def cases_by_external(self, source: CaseSource, external_ids: Sequence[str]) -> list[Case | None]: ...


@dataclass
class PipelineStats:
    """Counters of one ingestion session, readable at any time (they only grow)."""

    received: int = 0
    """Messages submitted."""
    handled: int = 0
    """Messages taken off the queue and dealt with (accepted, set aside or failed)."""
    accepted: int = 0
    readings: int = 0
    """Telemetry and event readings stored (accepted minus status messages)."""
    set_aside: Counter[str] = field(default_factory=Counter)
    """By reason (graph.ledger.Reason value)."""
    failed: int = 0
    """Messages whose handling raised even alone (logged; settled False: not acknowledged, the
    broker sends them again on the reader's next connection)."""
    batch_failures: int = 0
    """Batches that raised and were retried message by message."""
    alarms_raised: int = 0
    alarms_cleared: int = 0
    cases_opened: int = 0
    case_failures: int = 0
    """Alarms whose case could not be opened (the alarm stays; logged)."""
    queue_high_water: int = 0
    batches: int = 0
    sweeps: int = 0
    pruned: int = 0

    @property
    def set_aside_total(self) -> int:
        return sum(self.set_aside.values())

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain data (for logs, the API and benchmarks)."""
        return {
            "received": self.received,
            "handled": self.handled,
            "accepted": self.accepted,
            "readings": self.readings,
            "set_aside": dict(self.set_aside),
            "failed": self.failed,
            "batch_failures": self.batch_failures,
            "alarms_raised": self.alarms_raised,
            "alarms_cleared": self.alarms_cleared,
            "cases_opened": self.cases_opened,
            "case_failures": self.case_failures,
            "queue_high_water": self.queue_high_water,
            "batches": self.batches,
            "sweeps": self.sweeps,
            "pruned": self.pruned,
        }


Settled = Callable[[bool], None]
"""Told once per message: True when what was written for it is committed, False when it failed."""


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    received_at: dt.datetime
    settled: Settled | None = None


class _Refused(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Pipeline:
    """The ingestion pipeline; `start`, `submit` messages, `drain`, `stop`."""

    def __init__(
        self,
        store: IngestStore,
        engine: RuleEngine,
        workflow: CaseOpener,
        bus: EventBus | None,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        prefix: str = "hub",
        retention: dt.timedelta = dt.timedelta(days=30),
        batch_size: int = 500,
        batch_wait: float = 0.0,
        queue_size: int = 10_000,
        sweep_every: float = 5.0,
        prune_every: float = 3600.0,
        refresh_every: float = 1.0,
        run_id: str | None = None,
        shared: SharedRules | None = None,
    ) -> None:
        if batch_size < 1 or queue_size < 1:
            raise InvalidInput("batch_size", batch_size, "and queue_size must be at least 1")
        self.store = store
        self.engine = engine
        self.workflow = workflow
        self.bus = bus
        self.clock = clock
        self.prefix = prefix
        self.retention = retention
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.sweep_every = sweep_every
        self.prune_every = prune_every
        self.refresh_every = refresh_every
        self.run_id = run_id or f"mqtt-{clock():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        self.stats = PipelineStats()
        self.shared = shared
        """With a share group: the devices' rule states in Redis, judged under their locks
        (devices.sharing); None: this process alone judges every device."""
        self._queue: asyncio.Queue[_Message] = asyncio.Queue(maxsize=queue_size)
        self._devices: dict[str, Device] = {}
        self._values: dict[str, dict[str, Value]] = {}
        self._last_seen: dict[str, dt.datetime] = {}
        """When each device was last heard, as this process knows it (the registry's record
        holds it as of the start)."""
        self._reading_at: dict[str, dt.datetime] = {}
        """The newest reading's own time per device that the rules took in (Device.reading_at)."""
        self._active: dict[str, set[str]] = {}
        self._refreshed_at: float | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._stored: set[int] = set()
        """Messages of the batch in hand whose readings are written already (by `id`): a batch
        retried message by message after a failure does not write them twice."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the registry and the active alarms, and start the consumer."""
        devices = await every_device(self.store)
        active = await every_active_alarm(self.store)
        self._devices = {device.code: device for device in devices}
        self._values = {device.code: dict(device.values) for device in devices}
        self._reading_at = {device.code: device.reading_at for device in devices if device.reading_at is not None}
        self._active = {}
        for alarm in active:
            if alarm.rule not in OVERDUE_RULES:  # a facility's overdue maintenance is no state of the device's own
                self._active.setdefault(alarm.device_code, set()).add(alarm.rule)
        self.engine.load(devices, active=active, listening_since=self.clock())
        self._refreshed_at = asyncio.get_running_loop().time()
        await self._open_missing_cases(active)
        self._consumer = asyncio.create_task(self._consume(), name="devices-pipeline")

    async def submit(
        self, topic: str, payload: bytes, received_at: dt.datetime | None = None, settled: Settled | None = None
    ) -> None:
        """Queue one message; waits while the queue is full (backpressure). `settled` is told
        when the message's batch is committed (True) or the message failed (False)."""
        self.stats.received += 1
        await self._queue.put(_Message(topic, bytes(payload), received_at or self.clock(), settled))
        size = self._queue.qsize()
        if size > self.stats.queue_high_water:
            self.stats.queue_high_water = size

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def drain(self) -> None:
        """Wait until every message submitted so far has been handled."""
        await self._queue.join()

    async def stop(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the consumer, by default after handling what is queued (at most `timeout`)."""
        if self._consumer is None:
            return
        if drain:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.drain(), timeout)
        self._consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._consumer
        self._consumer = None

    # -- the consumer ------------------------------------------------------------------------

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self.sweep_every
        next_prune = loop.time()
        while True:
            try:
                now = loop.time()
                if now >= next_prune:
                    next_prune = now + self.prune_every
                    await self._prune()
                if now >= next_sweep:
                    next_sweep = now + self.sweep_every
                    await self.sweep()
                batch = await self._take(max(0.0, next_sweep - loop.time()))
                if batch:
                    await self._handle_safely(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop outlives anything a sweep or prune can raise
                log.exception("device pipeline: sweep or prune failed")
                await asyncio.sleep(0.5)

    async def _take(self, wait: float) -> list[_Message]:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as a message does, and `stop` then waited on a consumer that never ended
        try:
            if wait > 0:
                async with asyncio.timeout(wait):
                    first = await self._queue.get()
            else:
                first = self._queue.get_nowait()
        except (TimeoutError, asyncio.QueueEmpty):
            return []
        batch = [first]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch_wait
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(left):
                    batch.append(await self._queue.get())
            except TimeoutError:
                break
        return batch

    async def _handle_safely(self, batch: list[_Message]) -> None:
        try:
            try:
                await self._handle(batch)
            except Exception:
                self.stats.batch_failures += 1
                log.exception("device pipeline: a batch of %d failed; handling its messages one by one", len(batch))
                for message in batch:
                    try:
                        await self._handle([message])
                    except Exception:
                        self.stats.failed += 1
                        self.stats.handled += 1
                        log.exception("device pipeline: message on %.200s failed", message.topic)
                        _settle(message, False)
                    else:
                        _settle(message, True)
            else:
                for message in batch:
                    _settle(message, True)
        finally:
            self._stored.clear()
            for _ in batch:
                self._queue.task_done()

    async def _handle(self, batch: Sequence[_Message]) -> None:
        now = self.clock()
        oldest = now - self.retention
        letters: list[DeadLetter] = []
        refused: Counter[str] = Counter()
        readings: list[Reading] = []
        written: list[int] = []
        ordered: list[Reading | tuple[Device, DeviceStatus, dt.datetime]] = []
        seen: dict[str, dt.datetime] = {}
        for message in batch:
            stream_name, key = "unknown", message.topic[:400]
            try:
                try:
                    where = parse_topic(self.prefix, message.topic)
                except InvalidInput as error:
                    raise _Refused(Reason.BAD_TOPIC, str(error)) from None
                stream_name, key = where.stream.value, where.code
                device = await self._device(where.code)
                if device is None:
                    raise _Refused(Reason.UNKNOWN_DEVICE, f"no device {where.code} is registered")
                if where.stream is Stream.STATUS:
                    try:
                        status = decode_status(message.payload)
                    except PayloadError as error:
                        raise _Refused(Reason.MALFORMED_PAYLOAD, error.detail) from None
                    ordered.append((device, status, message.received_at))
                else:
                    try:
                        decoded = decode_reading(message.payload, now=now, oldest=oldest)
                    except PayloadError as error:
                        raise _Refused(Reason.MALFORMED_PAYLOAD, error.detail) from None
                    problems = self.engine.validate(device, decoded.values)
                    if problems:
                        said = "; ".join(f"{p.metric} {p.value!r}: {p.why}" for p in problems[:5])
                        raise _Refused(Reason.OUT_OF_RANGE, said)
                    kind = "telemetry" if where.stream is Stream.TELEMETRY else "event"
                    reading = Reading(device.code, decoded.at, decoded.values, kind, message.received_at)
                    if id(message) not in self._stored:
                        readings.append(reading)
                        written.append(id(message))
                    ordered.append(reading)
                    newest = self._reading_at.get(device.code)
                    if newest is None or decoded.at > newest:
                        self._reading_at[device.code] = decoded.at
                seen[device.code] = max(message.received_at, seen.get(device.code, message.received_at))
            except _Refused as refusal:
                refused[refusal.reason.value] += 1
                letters.append(
                    DeadLetter(
                        connector=CONNECTOR,
                        stream=stream_name,
                        record_key=key,
                        reason=refusal.reason,
                        detail=refusal.detail[:1000],
                        payload={"topic": message.topic[:400], **render(message.payload)},
                        run_id=self.run_id,
                        at=message.received_at,
                    )
                )
        if letters:
            await self.store.set_aside(letters)
        if readings:
            await self.store.add_readings(readings)
            self._stored.update(written)
        if self.shared is None:
            await self._judge(ordered, seen)
        else:
            await self._judge_shared(self.shared, ordered, seen)
        stats = self.stats
        stats.batches += 1
        stats.handled += len(batch)
        stats.accepted += len(batch) - len(letters)
        stats.readings += len(readings)
        stats.set_aside.update(refused)

    async def _judge_shared(
        self, shared: SharedRules, ordered: list[Reading | tuple[Device, DeviceStatus, dt.datetime]], seen: dict[str, dt.datetime]
    ) -> None:
        """`_judge` under the locks of the batch's devices, from and back to their shared
        states (devices.sharing), in reading-time order."""
        if not ordered:
            return
        codes = sorted({step.device_code if isinstance(step, Reading) else step[0].code for step in ordered})
        held = await shared.take(codes)
        try:
            self._adopt(held.states)
            ordered.sort(key=_step_time)
            await self._judge(ordered, seen)
            states = self._shared_states(codes)
        except BaseException:
            await shared.release(held)
            raise
        await shared.give(held, states)

    def _adopt(self, states: dict[str, dict[str, Any] | None]) -> None:
        """Take the shared states in: the engine's rules, and what `_save` writes of each device
        (latest values, newest reading time, when last heard, active rules)."""
        for code, state in states.items():
            if state is None:
                continue
            self.engine.restore(code, state)
            self._active[code] = set(self.engine.active(code))
            latest, newest = self.engine.newest(code)
            self._values[code] = dict(latest)
            if newest is not None:
                self._reading_at[code] = newest
            heard = state.get("seen")
            if isinstance(heard, str):
                self._last_seen[code] = dt.datetime.fromisoformat(heard)

    def _shared_states(self, codes: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        states: dict[str, dict[str, Any] | None] = {}
        for code in codes:
            state = self.engine.state_of(code)
            heard = self._last_seen.get(code)
            if state is not None and heard is not None:
                state["seen"] = heard.isoformat()
            states[code] = state
        return states

    async def _judge(self, ordered: list[Reading | tuple[Device, DeviceStatus, dt.datetime]], seen: dict[str, dt.datetime]) -> None:
        changed: set[str] = set()
        offline: dict[str, bool] = {}
        for step in ordered:  # in arrival order: a status then a reading of one device, or the reverse
            if isinstance(step, Reading):
                self._values.setdefault(step.device_code, {}).update(step.values)
                offline[step.device_code] = False
                changed.add(step.device_code)
                await self._signals(self.engine.evaluate(step), changed, offline)
                continue
            device, status, at = step
            changed.add(device.code)
            offline[device.code] = status is DeviceStatus.OFFLINE
            if status is DeviceStatus.OFFLINE:
                await self._signals(self.engine.went_offline(device.code, at), changed, offline)
        if self.shared is not None:  # latest values and reading time as the shared state has them
            for code in changed:
                latest, newest = self.engine.newest(code)
                self._values[code] = dict(latest)
                if newest is not None:
                    self._reading_at[code] = newest
        await self._save(changed, offline, seen)

    async def _save(self, codes: Iterable[str], offline: dict[str, bool], seen: dict[str, dt.datetime]) -> None:
        states = []
        for code in sorted(codes):
            device = self._devices.get(code)
            if device is None:
                continue
            status = derive_status(offline=bool(offline.get(code)), alarmed=bool(self._active.get(code)))
            heard = [at for at in (seen.get(code), self._last_seen.get(code)) if at is not None]
            last_seen = max(heard) if heard else device.last_seen  # (another ingester may have heard it later)
            if last_seen is not None:
                self._last_seen[code] = last_seen
            states.append(DeviceState(code, status, last_seen, dict(self._values.get(code, {})), self._reading_at.get(code)))
        if states:
            await self.store.save_device_states(states)

    async def sweep(self) -> None:
        """Let the engine raise what time alone decides (durations, silence); with a share
        group, only the member holding the sweeper's lease does, on the shared states."""
        changed: set[str] = set()
        offline: dict[str, bool] = {}
        if self.shared is None:
            await self._signals(self.engine.sweep(self.clock()), changed, offline)
            await self._save(changed, offline, {})
        else:
            await self._sweep_shared(self.shared, changed, offline)
        self.stats.sweeps += 1

    async def _sweep_shared(self, shared: SharedRules, changed: set[str], offline: dict[str, bool]) -> None:
        if not await shared.lead(int(max(3 * self.sweep_every, 10.0) * 1000)):
            return
        now = self.clock()
        shared.forget_all()  # the snapshot below changes this engine's states without locks
        for code, saved in (await shared.states(list(self._devices))).items():
            self.engine.restore(code, saved)  # a snapshot: who would signal now?
        due = sorted({signal.device_code for signal in self.engine.sweep(now)})
        if not due:
            return
        held = await shared.take(due, fresh=True)  # again under their locks, from their states now
        try:
            self._adopt(held.states)
            await self._signals(self.engine.sweep(now, due), changed, offline)
            await self._save(changed, offline, {})
            states = self._shared_states(due)
        except BaseException:
            await shared.release(held)
            raise
        await shared.give(held, states)

    async def _prune(self) -> None:
        self.stats.pruned += await self.store.prune_readings(self.clock() - self.retention)

    # -- alarms and cases --------------------------------------------------------------------

    async def _signals(self, signals: Sequence[Signal], changed: set[str], offline: dict[str, bool]) -> None:
        for signal in signals:
            device = self._devices.get(signal.device_code)
            if device is None:
                continue
            changed.add(device.code)
            is_offline_rule = signal.rule.rsplit(".", 1)[-1] == "offline"
            if signal.raised:
                if is_offline_rule:
                    offline[device.code] = True
                await self._raise(device, signal)
            else:
                if is_offline_rule:
                    offline[device.code] = False
                await self._clear(device, signal)

    async def _raise(self, device: Device, signal: Signal) -> None:
        alarm = await self.store.raise_alarm(
            Alarm(
                id="",
                device_code=device.code,
                device_type=device.type,
                rule=signal.rule,
                severity=signal.severity,
                message=signal.message,
                raised_at=signal.at,
                place_code=device.place_code,
                point=device.point,
                value=signal.value,
            )
        )
        self._active.setdefault(device.code, set()).add(signal.rule)
        if alarm is None:
            return  # already active (raised once while active), or this very raise again
        self.stats.alarms_raised += 1
        if self.bus is not None:
            self.bus.publish(Event(Topic.ALARMS, alarm.id, "raised", device.place_code))
        await self._open_case(device, alarm)

    async def _open_missing_cases(self, active: Sequence[Alarm]) -> None:
        """An active alarm without a case (the process died between storing the one and opening
        the other, or the opening failed) gets one now; a case opened whose link to the alarm
        was not yet stored is linked, not opened again (a case per alarm: its external id)."""
        orphans = [alarm for alarm in active if alarm.case_id is None]
        if not orphans:
            return
        found = await self.store.cases_by_external(CaseSource.DEVICE_ALARM, [alarm.id for alarm in orphans])
        for alarm, case in zip(orphans, found):
            device = self._devices.get(alarm.device_code)
            if device is None:
                continue
            if case is not None:
                await self.store.link_alarm_case(alarm.id, case.id)
                continue
            log.info("device pipeline: alarm %s has no case; opening it now", alarm.id)
            await self._open_case(device, alarm)

    async def _open_case(self, device: Device, alarm: Alarm) -> None:
        try:
            await open_alarm_case(self.store, self.workflow, device, alarm)
        except Exception:
            self.stats.case_failures += 1
            log.exception("device pipeline: no case could be opened for alarm %s", alarm.id)
            return
        self.stats.cases_opened += 1

    async def _clear(self, device: Device, signal: Signal) -> None:
        self._active.get(device.code, set()).discard(signal.rule)
        alarm = await self.store.clear_alarm(device.code, signal.rule, signal.at)
        if alarm is None:
            return
        self.stats.alarms_cleared += 1
        if self.bus is not None:
            self.bus.publish(Event(Topic.ALARMS, alarm.id, "cleared", device.place_code))

    # -- the registry cache ------------------------------------------------------------------

    async def _device(self, code: str) -> Device | None:
        device = self._devices.get(code)
        if device is not None:
            return device
        loop = asyncio.get_running_loop()
        if self._refreshed_at is not None and loop.time() - self._refreshed_at < self.refresh_every:
            return None
        self._refreshed_at = loop.time()
        await self.refresh()
        return self._devices.get(code)

    async def refresh(self) -> None:
        """Reload the registry: new devices are picked up, changed registrations replace the
        cached ones (their latest values stay as this process knows them)."""
        for device in await every_device(self.store):
            known = self._devices.get(device.code)
            if known is None:
                self._values[device.code] = dict(device.values)
            elif registration(known) == registration(device):
                continue
            self._devices[device.code] = device
            self.engine.upsert(device)


def _step_time(step: Reading | tuple[Device, DeviceStatus, dt.datetime]) -> dt.datetime:
    return step.at if isinstance(step, Reading) else step[2]


def _settle(message: _Message, committed: bool) -> None:
    if message.settled is None:
        return
    try:
        message.settled(committed)
    except Exception:  # the reader's business (its connection may be gone): never the consumer's
        log.exception("device pipeline: settling a message on %.200s failed", message.topic)


