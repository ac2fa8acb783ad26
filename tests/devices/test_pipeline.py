"""The ingestion pipeline end to end on a real SQLite store, the real rules and the real case
workflow: readings, latest states, alarms raised once and cleared, cases opened and linked,
events on the bus, and every refused message counted and set aside."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Mapping

import pytest

from devices.pipeline import Pipeline
from graph.cases import CaseCategory, CaseSource
from graph.devices import Device, DeviceStatus, DeviceType, Reading
from graph.events import EventBus, Topic
from graph.ledger import Reason
from graph.rules import RuleEngine
from graph.scope import Scope
from graph.sql import SqlStore
from graph.workflow import Workflow
from tests.devices.conftest import ENTRANCE, FIRM, eventually

EVERYTHING = Scope.everything()
T0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def telemetry(values: Mapping[str, object], at: dt.datetime) -> bytes:
    return json.dumps({"ts": at.isoformat(), "values": values}).encode()


@pytest.fixture
async def pipeline(store: SqlStore) -> AsyncIterator[Pipeline]:
    clock = Clock()
    bus = EventBus()
    running = Pipeline(
        store, RuleEngine(), Workflow(store, bus=bus, clock=clock), bus,
        clock=clock, prefix="hub", batch_wait=0.01, sweep_every=3600, refresh_every=0.0,
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_readings_states_alarm_once_case_and_clear(pipeline: Pipeline, store: SqlStore) -> None:
    clock: Clock = pipeline.clock  # type: ignore[assignment]
    alarms = pipeline.bus.subscribe(Topic.ALARMS)  # type: ignore[union-attr]
    cases = pipeline.bus.subscribe(Topic.CASES)  # type: ignore[union-attr]
    topic = "hub/devices/EL-0001/telemetry"
    await pipeline.submit("hub/devices/EL-0001/status", b"online", clock())
    await pipeline.submit(topic, telemetry({"trapped": False, "floor": 3, "running": True}, T0), clock())
    await pipeline.drain()
    [device] = await store.devices(["EL-0001"], EVERYTHING)
    assert device is not None and device.status is DeviceStatus.ONLINE
    assert device.values == {"trapped": False, "floor": 3.0, "running": True}
    assert device.last_seen == T0

    # a trapped passenger, reported three times (an event and then telemetry): one alarm, one case
    for n in range(3):
        stream = "events" if n == 0 else "telemetry"
        at = T0 + dt.timedelta(seconds=10 + n)
        await pipeline.submit(f"hub/devices/EL-0001/{stream}", telemetry({"trapped": True}, at), at)
    await pipeline.drain()
    page = await store.alarm_page(EVERYTHING, 10, active=True, device_codes=["EL-0001"])
    [alarm] = page.items
    assert alarm.rule == "elevator.trapped" and alarm.place_code == ENTRANCE and alarm.case_id
    [device] = await store.devices(["EL-0001"], EVERYTHING)
    assert device is not None and device.status is DeviceStatus.ALARM
    assert device.values["floor"] == 3.0 and device.values["trapped"] is True  # merged, not replaced
    [case] = await store.cases([alarm.case_id], EVERYTHING)
    assert case is not None
    assert case.source is CaseSource.DEVICE_ALARM and case.category is CaseCategory.EMERGENCY
    assert case.external_id == alarm.id and case.place_code == ENTRANCE and case.severity == "critical"
    assert "电梯困人" in case.title and "EL-0001" in case.title
    assert case.firm_code == FIRM  # dispatched to the firm managing the estate
    assert (await alarms.get()).kind == "raised"
    assert (await cases.get()).id == case.id

    clear_at = T0 + dt.timedelta(seconds=20)
    await pipeline.submit(topic, telemetry({"trapped": False}, clear_at), clear_at)
    await pipeline.drain()
    [cleared] = await store.alarms([alarm.id], EVERYTHING)
    assert cleared is not None and cleared.cleared_at == clear_at
    event = await alarms.get()
    assert (event.id, event.kind, event.place_code) == (alarm.id, "cleared", ENTRANCE)
    [device] = await store.devices(["EL-0001"], EVERYTHING)
    assert device is not None and device.status is DeviceStatus.ONLINE
    readings = await store.readings("EL-0001", EVERYTHING, first=10)
    assert len(readings) == 5
    assert {r.kind for r in readings} == {"telemetry", "event"}
    stats = pipeline.stats
    assert (stats.received, stats.accepted, stats.readings, stats.set_aside_total) == (6, 6, 5, 0)
    assert (stats.alarms_raised, stats.alarms_cleared, stats.cases_opened) == (1, 1, 1)


async def test_refused_messages_are_counted_and_set_aside(pipeline: Pipeline, store: SqlStore) -> None:
    clock: Clock = pipeline.clock  # type: ignore[assignment]
    now = clock()
    bad = [
        ("hub/devices/GD-0001/debug", b"{}", Reason.BAD_TOPIC),
        ("elsewhere/x", b"{}", Reason.BAD_TOPIC),
        ("hub/devices/NOPE-404/telemetry", telemetry({"lel": 1}, now), Reason.UNKNOWN_DEVICE),
        ("hub/devices/GD-0001/telemetry", b"\xff\xfe garbage", Reason.MALFORMED_PAYLOAD),
        ("hub/devices/GD-0001/telemetry", b'{"ts": 1, "values": {"lel": NaN}}', Reason.MALFORMED_PAYLOAD),
        ("hub/devices/GD-0001/status", b"sleeping", Reason.MALFORMED_PAYLOAD),
        ("hub/devices/GD-0001/telemetry", telemetry({"lel": 150}, now), Reason.OUT_OF_RANGE),
        ("hub/devices/GD-0001/telemetry", telemetry({"smoke": True}, now), Reason.OUT_OF_RANGE),
        ("hub/devices/GD-0001/telemetry", b"x" * 100_000, Reason.MALFORMED_PAYLOAD),
    ]
    for name, payload, _ in bad:
        await pipeline.submit(name, payload, now)
    await pipeline.submit("hub/devices/GD-0001/telemetry", telemetry({"lel": 2.5}, now), now)
    await pipeline.drain()
    stats = pipeline.stats
    expected: dict[str, int] = {}
    for _, _, reason in bad:
        expected[reason.value] = expected.get(reason.value, 0) + 1
    assert dict(stats.set_aside) == expected
    assert stats.accepted == 1 and stats.received == len(bad) + 1 and stats.handled == stats.received
    letters = (await store.dead_letters("mqtt", first=50)).items
    keys = {(x.stream, x.record_key, x.reason) for x in letters}
    assert ("unknown", "elsewhere/x", Reason.BAD_TOPIC) in keys
    assert ("telemetry", "NOPE-404", Reason.UNKNOWN_DEVICE) in keys
    assert ("telemetry", "GD-0001", Reason.OUT_OF_RANGE) in keys
    assert ("status", "GD-0001", Reason.MALFORMED_PAYLOAD) in keys
    out_of_range = next(x for x in letters if x.reason is Reason.OUT_OF_RANGE)
    assert "smoke" in out_of_range.detail or "lel" in out_of_range.detail
    assert all(x.run_id == pipeline.run_id for x in letters)
    big = next(x for x in letters if x.payload.get("bytes") == 100_000)
    assert big.payload["truncated"] and len(big.payload["text"]) == 512

    # the same mistake again, in a later batch: the same row, seen twice
    await pipeline.submit("hub/devices/NOPE-404/telemetry", telemetry({"lel": 1}, now), now)
    await pipeline.drain()
    letters = (await store.dead_letters("mqtt", first=50)).items
    unknown = next(x for x in letters if x.reason is Reason.UNKNOWN_DEVICE)
    assert unknown.seen == 2 and len(letters) == len(keys)
    [gas] = await store.devices(["GD-0001"], EVERYTHING)
    assert gas is not None and gas.values == {"lel": 2.5}


async def test_every_refused_message_counts_and_the_first_and_last_detail_are_kept(pipeline: Pipeline, store: SqlStore) -> None:
    """Five readings out of range, in whatever batches the pipeline takes them: one letter, seen
    five times, with what was wrong the first time and the last time, and when."""
    clock: Clock = pipeline.clock  # type: ignore[assignment]
    topic = "hub/devices/GD-0001/telemetry"
    for n, lel in enumerate((150, 160, 170)):
        at = T0 + dt.timedelta(seconds=n)
        await pipeline.submit(topic, telemetry({"lel": lel}, T0), at)
    await pipeline.drain()
    clock.now = T0 + dt.timedelta(minutes=1)
    for n, lel in enumerate((180, 190)):
        await pipeline.submit(topic, telemetry({"lel": lel}, T0), clock.now + dt.timedelta(seconds=n))
    await pipeline.drain()
    assert pipeline.stats.set_aside["out_of_range"] == 5
    [letter] = (await store.dead_letters("mqtt", first=10)).items
    assert (letter.reason, letter.record_key, letter.seen) == (Reason.OUT_OF_RANGE, "GD-0001", 5)
    assert "150" in (letter.first_detail or "") and "190" in letter.detail
    assert letter.first_at == T0 and letter.at == clock.now + dt.timedelta(seconds=1)
    assert not letter.retryable


async def test_a_device_registered_after_the_start_is_picked_up(pipeline: Pipeline, store: SqlStore) -> None:
    now = pipeline.clock()
    await pipeline.submit("hub/devices/TR-0099/telemetry", telemetry({"temp_a": 70}, now), now)
    await pipeline.drain()
    assert pipeline.stats.set_aside["unknown_device"] == 1
    await store.register_devices([Device("TR-0099", DeviceType.TRANSFORMER, "SCB10", "370202001001E001", 60)])
    await pipeline.submit("hub/devices/TR-0099/telemetry", telemetry({"temp_a": 140, "temp_b": 70, "temp_c": 71}, now), now)
    await pipeline.drain()
    assert pipeline.stats.accepted == 1 and pipeline.stats.alarms_raised == 2  # fan and alarm levels
    raised = (await store.alarm_page(EVERYTHING, 5, active=True, device_codes=["TR-0099"])).items
    assert {a.rule for a in raised} == {"transformer.fan", "transformer.alarm"}
    assert all("140.0" in (a.value or "") and a.case_id for a in raised)


async def test_offline_by_last_will_and_by_silence(pipeline: Pipeline, store: SqlStore) -> None:
    clock: Clock = pipeline.clock  # type: ignore[assignment]
    await pipeline.submit("hub/devices/SD-0001/telemetry", telemetry({"smoke": False, "battery": 90}, T0), T0)
    await pipeline.submit("hub/devices/SD-0002/telemetry", telemetry({"smoke": False, "battery": 90}, T0), T0)
    await pipeline.submit("hub/devices/SD-0001/status", b'{"status": "offline"}', T0 + dt.timedelta(seconds=1))
    await pipeline.drain()
    [one, two] = await store.devices(["SD-0001", "SD-0002"], EVERYTHING)
    assert one is not None and one.status is DeviceStatus.OFFLINE
    assert two is not None and two.status is DeviceStatus.ONLINE
    # SD-0002 reports every 30 s; silent for 10 minutes, the sweep finds it offline
    clock.now = T0 + dt.timedelta(minutes=10)
    await pipeline.sweep()
    [two] = await store.devices(["SD-0002"], EVERYTHING)
    assert two is not None and two.status is DeviceStatus.OFFLINE
    offline = (await store.alarm_page(EVERYTHING, 10, active=True, device_codes=["SD-0001", "SD-0002"])).items
    assert {a.device_code for a in offline if a.rule == "device.offline"} == {"SD-0001", "SD-0002"}
    # it speaks again: online, its offline alarm cleared
    later = clock.now
    await pipeline.submit("hub/devices/SD-0002/telemetry", telemetry({"smoke": False, "battery": 89}, later), later)
    await pipeline.drain()
    [two] = await store.devices(["SD-0002"], EVERYTHING)
    assert two is not None and two.status is DeviceStatus.ONLINE
    assert not (await store.alarm_page(EVERYTHING, 10, active=True, device_codes=["SD-0002"])).items


class FaultyEngine(RuleEngine):
    """The real engine with one bug planted: it raises on one device's readings."""

    def evaluate(self, reading: Reading):  # type: ignore[no-untyped-def]
        if reading.device_code == "MC-0002":
            raise RuntimeError("planted bug")
        return super().evaluate(reading)


async def test_one_poisonous_message_does_not_take_its_batch_down(store: SqlStore) -> None:
    bus = EventBus()
    pipeline = Pipeline(store, FaultyEngine(), Workflow(store, bus=bus), bus, batch_wait=0.2, sweep_every=3600)
    await pipeline.start()
    try:
        now = pipeline.clock()
        for code in ("MC-0001", "MC-0002", "WP-0001"):
            values = {"tilt": 1.0} if code.startswith("MC") else {"outlet_pressure": 0.4, "running": True, "demand": True}
            await pipeline.submit(f"hub/devices/{code}/telemetry", telemetry(values, now), now)
        await pipeline.drain()
        # garbage of every kind after it: the consumer still runs
        rng = random.Random(3)
        for _ in range(300):
            name = rng.choice(["hub/devices/MC-0001/telemetry", "hub/devices/MC-0001/status", "hub/x", "hub/devices/#/+"])
            await pipeline.submit(name, bytes(rng.randrange(256) for _ in range(rng.randrange(40))), now)
        await pipeline.submit("hub/devices/WP-0002/telemetry", telemetry({"outlet_pressure": 0.5}, now), now)
        await pipeline.drain()
    finally:
        await pipeline.stop()
    stats = pipeline.stats
    assert stats.batch_failures == 1 and stats.failed == 1
    assert stats.handled == stats.received == 304
    assert stats.accepted + stats.set_aside_total + stats.failed == stats.received
    assert stats.accepted == 3  # MC-0001, WP-0001 and WP-0002
    for code in ("MC-0001", "WP-0001", "WP-0002"):
        assert await store.readings(code, EVERYTHING), code
    # the failed batch had written its readings before the rules failed: retrying its messages
    # one by one does not write them again
    for code in ("MC-0001", "MC-0002", "WP-0001"):
        assert len(await store.readings(code, EVERYTHING)) == 1, code


async def test_readings_older_than_the_retention_are_pruned(store: SqlStore) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    old, recent = now - dt.timedelta(days=8), now - dt.timedelta(days=6)
    await store.add_readings([Reading("GD-0001", old, {"lel": 1.0}), Reading("GD-0001", recent, {"lel": 2.0})])
    bus = EventBus()
    pipeline = Pipeline(store, RuleEngine(), Workflow(store, bus=bus), bus, retention=dt.timedelta(days=7))
    await pipeline.start()
    try:
        await eventually(lambda: pipeline.stats.pruned == 1)
    finally:
        await pipeline.stop()
    assert [r.at for r in await store.readings("GD-0001", EVERYTHING)] == [recent]


async def test_status_and_readings_of_one_batch_apply_in_arrival_order(pipeline: Pipeline, store: SqlStore) -> None:
    now = pipeline.clock()
    values = {"outlet_pressure": 0.4, "running": True, "demand": True}
    # WP-0001 died and came back; WP-0002 reported and then died: both in one batch
    await pipeline.submit("hub/devices/WP-0001/status", b"offline", now)
    await pipeline.submit("hub/devices/WP-0001/telemetry", telemetry(values, now), now)
    await pipeline.submit("hub/devices/WP-0002/telemetry", telemetry(values, now), now)
    await pipeline.submit("hub/devices/WP-0002/status", b"offline", now)
    await pipeline.drain()
    assert pipeline.stats.batches == 1
    back, gone = await store.devices(["WP-0001", "WP-0002"], EVERYTHING)
    assert back is not None and back.status is DeviceStatus.ONLINE
    assert gone is not None and gone.status is DeviceStatus.OFFLINE
    active = (await store.alarm_page(EVERYTHING, 10, active=True, device_codes=["WP-0001", "WP-0002"])).items
    assert [a.device_code for a in active] == ["WP-0002"]


# -- settling: what the MQTT reader acknowledges ---------------------------------------------


async def test_a_message_is_settled_once_what_it_wrote_is_committed(store: SqlStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`settled(True)` comes when the message's reading (or dead letter) is in the database, as
    another connection reads it; the message that fails even alone is settled False."""
    import sqlite3

    bus = EventBus()
    pipeline = Pipeline(store, FaultyEngine(), Workflow(store, bus=bus), bus, batch_wait=0.2, sweep_every=3600)
    outcomes: dict[str, bool] = {}
    committed_before: dict[str, int] = {}

    def settled(name: str, code: str) -> object:
        def tell(ok: bool) -> None:
            outcomes[name] = ok
            with sqlite3.connect(tmp_path / "hub.sqlite") as reader:
                committed_before[name] = reader.execute(
                    "SELECT count(*) FROM reading r JOIN device d ON d.id = r.device_id WHERE d.code = ?", (code,)
                ).fetchone()[0] + reader.execute("SELECT count(*) FROM dead_letter WHERE record_key = ?", (code,)).fetchone()[0]
        return tell

    await pipeline.start()
    try:
        now = pipeline.clock()
        for code in ("MC-0001", "MC-0002", "WP-0001"):
            values = {"tilt": 1.0} if code.startswith("MC") else {"outlet_pressure": 0.4, "running": True, "demand": True}
            await pipeline.submit(f"hub/devices/{code}/telemetry", telemetry(values, now), now, settled(code, code))  # type: ignore[arg-type]
        await pipeline.submit("hub/devices/NOPE-0404/telemetry", telemetry({"lel": 1}, now), now, settled("unknown", "NOPE-0404"))  # type: ignore[arg-type]
        await pipeline.drain()
    finally:
        await pipeline.stop()
    assert outcomes == {"MC-0001": True, "MC-0002": False, "WP-0001": True, "unknown": True}
    assert committed_before == {"MC-0001": 1, "MC-0002": 1, "WP-0001": 1, "unknown": 1}  # MC-0002's reading, not its rules


class CrashBeforeStates(BaseException):
    """Not an Exception: nothing in the pipeline catches it, as nothing survives a `kill -9`."""


async def test_messages_handled_again_after_a_crash_write_nothing_twice(store: SqlStore) -> None:
    """The process dies after a batch's readings, alarms and cases are committed but before its
    latest states are (so nothing was acknowledged, and the rules' resume point did not move):
    a new pipeline handed the same messages by the broker stores each reading, alarm and case once."""
    at = T0 - dt.timedelta(minutes=5)
    messages = [
        ("hub/devices/GD-0001/telemetry", telemetry({"lel": lel}, at + dt.timedelta(seconds=n)))
        for n, lel in enumerate([3.0, 60.0, 5.0, 61.0, 62.0, 4.0, 70.0])
    ]  # gas.high raised three times, cleared twice; gas.low (two readings ≥ 20) once, at 62.0
    bus = EventBus()
    real_save = store.save_device_states

    async def crash(states):  # type: ignore[no-untyped-def]
        raise CrashBeforeStates()

    store.save_device_states = crash  # type: ignore[method-assign]
    first = Pipeline(store, RuleEngine(), Workflow(store, bus=bus), bus, sweep_every=3600)
    await first.start()
    outcomes: list[bool] = []
    for topic, payload in messages:
        await first.submit(topic, payload, T0, outcomes.append)
    await first.drain()
    with pytest.raises(CrashBeforeStates):
        await first.stop()
    assert outcomes == []  # none of them was acknowledged
    store.save_device_states = real_save  # type: ignore[method-assign]
    raised = await store.alarm_page(EVERYTHING, 50)
    assert len(raised.items) == 4

    second = Pipeline(store, RuleEngine(), Workflow(store, bus=bus), bus, sweep_every=3600)
    await second.start()
    outcomes.clear()
    for topic, payload in messages:
        await second.submit(topic, payload, T0, outcomes.append)
    await second.drain()
    await second.stop()
    assert outcomes == [True] * len(messages)
    assert second.stats.alarms_raised == 0 and second.stats.cases_opened == 0
    assert len(await store.readings("GD-0001", EVERYTHING)) == len(messages)
    alarms = (await store.alarm_page(EVERYTHING, 50)).items
    assert sorted((a.rule, a.raised_at - at, a.active) for a in alarms) == [
        ("gas.high", dt.timedelta(seconds=1), False),
        ("gas.high", dt.timedelta(seconds=3), False),
        ("gas.high", dt.timedelta(seconds=6), True),
        ("gas.low", dt.timedelta(seconds=4), False),
    ]
    assert all(alarm.case_id for alarm in alarms) and len({alarm.case_id for alarm in alarms}) == 4
    cases = await store.case_page(EVERYTHING, 50, source=CaseSource.DEVICE_ALARM)
    assert len(cases.items) == 4
    [device] = await store.devices(["GD-0001"], EVERYTHING)
    assert device is not None and device.reading_at == at + dt.timedelta(seconds=6) and device.status is DeviceStatus.ALARM

    # and once the states are in, the same messages once more change nothing at all
    third = Pipeline(store, RuleEngine(), Workflow(store, bus=bus), bus, sweep_every=3600)
    await third.start()
    for topic, payload in messages:
        await third.submit(topic, payload, T0)
    await third.drain()
    await third.stop()
    assert third.stats.alarms_raised == third.stats.alarms_cleared == 0
    assert (await store.alarm_page(EVERYTHING, 50)).items == alarms


async def test_an_alarm_left_without_its_case_gets_one_at_the_start_and_only_one(store: SqlStore) -> None:
    from graph.devices import Alarm, Severity

    bus = EventBus()
    workflow = Workflow(store, bus=bus)
    orphan = await store.raise_alarm(Alarm("", "GD-0001", DeviceType.GAS_DETECTOR, "gas.high", Severity.CRITICAL, "可燃气体浓度高限报警", T0, ""))
    unlinked = await store.raise_alarm(Alarm("", "GD-0002", DeviceType.GAS_DETECTOR, "gas.high", Severity.CRITICAL, "可燃气体浓度高限报警", T0, ""))
    assert orphan is not None and unlinked is not None
    # the process died after opening this one's case, before linking it
    starter = Pipeline(store, RuleEngine(), workflow, bus, sweep_every=3600)
    await starter._open_case((await store.devices(["GD-0002"], EVERYTHING))[0], unlinked)  # type: ignore[arg-type]
    async with store.engine.begin() as connection:
        from sqlalchemy import update

        from graph.sql import tables

        await connection.execute(update(tables.alarm).where(tables.alarm.c.key == unlinked.id).values(case_id=None))
    for _ in range(2):  # a second start finds nothing to do
        pipeline = Pipeline(store, RuleEngine(), workflow, bus, sweep_every=3600)
        await pipeline.start()
        await pipeline.stop()
    found = await store.alarms([orphan.id, unlinked.id], EVERYTHING)
    assert all(alarm is not None and alarm.case_id for alarm in found)
    cases = (await store.case_page(EVERYTHING, 50, source=CaseSource.DEVICE_ALARM)).items
    assert sorted(case.external_id or "" for case in cases) == sorted([orphan.id, unlinked.id])
    assert {case.id for case in cases} == {alarm.case_id for alarm in found if alarm}


async def test_an_overdue_maintenance_alarm_is_no_state_of_the_device(store: SqlStore) -> None:
    """A facility's `maintenance.overdue` alarm (raised by the facilities' sweep, not by the
    device) leaves a heard-from device online after a restart; its missing case is opened at the
    start like any other alarm's."""
    from graph.devices import Alarm, Severity

    overdue = await store.raise_alarm(Alarm("", "EL-0001", DeviceType.ELEVATOR, "maintenance.overdue", Severity.MAJOR, "电梯维保超期", T0, ""))
    assert overdue is not None
    clock = Clock()
    bus = EventBus()
    pipeline = Pipeline(store, RuleEngine(), Workflow(store, bus=bus, clock=clock), bus, clock=clock, prefix="hub", sweep_every=3600)
    await pipeline.start()
    try:
        await pipeline.submit("hub/devices/EL-0001/telemetry", telemetry({"trapped": False, "floor": 2}, T0), clock())
        await pipeline.drain()
    finally:
        await pipeline.stop()
    [device] = await store.devices(["EL-0001"], EVERYTHING)
    assert device is not None and device.status is DeviceStatus.ONLINE
    [alarm] = await store.alarms([overdue.id], EVERYTHING)
    assert alarm is not None and alarm.active and alarm.case_id is not None
