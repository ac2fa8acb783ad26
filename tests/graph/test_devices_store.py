"""Devices, readings and alarms on every SQL backend: registration, scope, pages, the hot path,
and one active alarm per device and rule however many raisers race."""

from __future__ import annotations

import asyncio
import dataclasses
import doctest
import datetime as dt
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import graph.devices
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Point
from graph.casework import Casework
from graph.cursors import encode_cursor
from graph.devices import (
    Alarm,
    Device,
    DeviceState,
    DeviceStatus,
    DeviceSummary,
    DeviceType,
    Reading,
    Severity,
    device_summaries,
    every_active_alarm,
    every_device,
)
from graph.errors import InvalidInput, StoreError
from graph.model import Provenance
from graph.scope import Scope
from graph.sql import SqlStore, tables
from tests.conftest import open_sql_store
from tests.graph.two_streets import STREET_1, STREET_2, ESTATE_1, ESTATE_2, BUILDING_1, ENTRANCE_1, HOUSE_1, T0, city

EVERYTHING = Scope.everything()
@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_sql_store(backend, request, tmp_path, city())
    try:
        yield opened
    finally:
        await opened.close()


def elevator(code: str = "DT-0001", place: str = ENTRANCE_1, **changes: object) -> Device:
    device = Device(
        code=code,
        type=DeviceType.ELEVATOR,
        model="KONE MonoSpace 500",
        place_code=place,
        interval=60,
        point=Point(120.3821, 36.0671),
        name="1号楼1单元电梯",
        registered_at=T0,
    )
    return dataclasses.replace(device, **changes)  # type: ignore[arg-type]


def gas(code: str, place: str = ESTATE_1, **changes: object) -> Device:
    device = elevator(code, place, type=DeviceType.GAS_DETECTOR, model="GT-AEC2232", name="", thresholds={"lel_major": 20.0})
    return dataclasses.replace(device, **changes)  # type: ignore[arg-type]


def alarm(code: str = "DT-0001", rule: str = "elevator.trapped", *, at: dt.datetime = T0, **changes: object) -> Alarm:
    raised = Alarm(
        id="",
        device_code=code,
        device_type=DeviceType.ELEVATOR,
        rule=rule,
        severity=Severity.CRITICAL,
        message="电梯困人",
        raised_at=at,
        place_code="",
        value="trapped=true",
    )
    return dataclasses.replace(raised, **changes)  # type: ignore[arg-type]


async def rows_in(store: SqlStore, table: object) -> int:
    async with store.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


# -- registration --------------------------------------------------------------------------


async def test_registration_round_trips_and_an_upsert_keeps_the_latest_state(store: SqlStore) -> None:
    provenance = Provenance("devices-import", "row-1", T0, "run-1")
    device = elevator(thresholds={"trapped_seconds": 30}, provenance=provenance)
    assert await store.register_devices([device, gas("GAS-0001")]) == (2, 0)
    [stored, missing] = await store.devices(["DT-0001", "NOPE-1"], EVERYTHING)
    assert missing is None
    assert stored == device  # new, never seen, no values; thresholds kept as numbers
    assert (stored.status, stored.last_seen, stored.values, stored.registered_at) == (DeviceStatus.NEW, None, {}, T0)

    seen = T0 + dt.timedelta(minutes=5)
    await store.save_device_states([DeviceState("DT-0001", DeviceStatus.ONLINE, seen, {"floor": 7.0, "door": "closed", "trapped": False})])
    moved = elevator(place=BUILDING_1, model="KONE MonoSpace 700", interval=30, point=None, name="", registered_at=T0 + dt.timedelta(days=1))
    assert await store.register_devices([moved, gas("GAS-0001")]) == (0, 1)  # the unchanged one counts as neither
    [again] = await store.devices(["DT-0001"], EVERYTHING)
    assert again is not None
    assert (again.place_code, again.model, again.interval, again.point, again.name, again.thresholds) == (
        BUILDING_1, "KONE MonoSpace 700", 30, None, "", {}
    )
    # the state ingestion wrote and the first registration time survive a re-registration
    assert (again.status, again.last_seen, again.values) == (DeviceStatus.ONLINE, seen, {"floor": 7.0, "door": "closed", "trapped": False})
    assert again.registered_at == T0
    assert await store.register_devices([moved]) == (0, 0)
    assert await store.register_devices([]) == (0, 0)
    assert [d.code for d in await every_device(store)] == ["DT-0001", "GAS-0001"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (elevator("a/b"), "code: 'a/b' must be 3 to 64 ASCII letters"),
        (elevator(type="lift"), "device 'DT-0009' type: 'lift' must be one of elevator, "),
        (elevator(model=""), "device 'DT-0009' model: '' must be 1 to 100 characters"),
        (elevator(model="m" * 101), "device 'DT-0009' model: '" + "m" * 101 + "' must be 1 to 100 characters"),
        (elevator(name="n" * 101), "device 'DT-0009' name: '" + "n" * 101 + "' must be at most 100 characters"),
        (elevator(interval=0), "device 'DT-0009' interval: '0' must be a whole number of seconds from 1 to 86400"),
        (elevator(interval=86_401), "device 'DT-0009' interval: '86401' must be a whole number"),
        (elevator(point=Point(181.0, 36.0)), "device 'DT-0009' point: '181.0,36.0' is not a WGS-84 longitude, latitude"),
        (elevator(point=Point(120.0, math.nan)), "device 'DT-0009' point: '120.0,nan' is not a WGS-84"),
        (elevator(thresholds={"": 1.0}), "device 'DT-0009' thresholds: '' names must be 1 to 64 characters"),
        (elevator(thresholds={"t" * 65: 1.0}), "device 'DT-0009' thresholds: '" + "t" * 65 + "' names must be 1 to 64"),
        (elevator(thresholds={"lel_major": math.inf}), "device 'DT-0009' thresholds.lel_major: 'inf' must be a finite number"),
        (elevator(thresholds={"lel_major": "20"}), "device 'DT-0009' thresholds.lel_major: '20' must be a finite number"),
        (elevator(thresholds={"lel_major": True}), "device 'DT-0009' thresholds.lel_major: 'True' must be a finite number"),
        (elevator(place="370202001001E099"), "device 'DT-0009' place_code: '370202001001E099' is not a place in the store"),
        (elevator(place=HOUSE_1), f"device 'DT-0009' place_code: '{HOUSE_1}' must be an estate, building or entrance, not a house"),
        (elevator(place=STREET_1), "device 'DT-0009' place_code: '370202001' must be an estate, building or entrance, not a street"),
    ],
)
async def test_a_bad_registration_names_the_device_and_field_and_writes_nothing_of_its_batch(
    store: SqlStore, bad: Device, message: str
) -> None:
    if bad.code == "DT-0001":
        bad = dataclasses.replace(bad, code="DT-0009")
    await store.register_devices([elevator("DT-0001")])
    # a good new device and a good change of a stored one travel with the bad one
    with pytest.raises(InvalidInput, match=re.escape(message)):
        await store.register_devices([gas("GAS-0001"), elevator("DT-0001", model="changed"), bad])
    assert await store.devices(["GAS-0001", bad.code], EVERYTHING) == [None, None]
    [kept] = await store.devices(["DT-0001"], EVERYTHING)
    assert kept is not None and kept.model == "KONE MonoSpace 500"
    assert await rows_in(store, tables.device) == 1


async def test_a_code_twice_in_one_batch_is_refused(store: SqlStore) -> None:
    with pytest.raises(InvalidInput, match="device 'DT-0001' code: 'DT-0001' appears twice in the batch"):
        await store.register_devices([elevator(), elevator(model="other")])
    assert await rows_in(store, tables.device) == 0


# -- scope, pages, counts -------------------------------------------------------------------


async def test_a_street_sees_its_devices_and_alarms_and_not_another_streets(store: SqlStore) -> None:
    await store.register_devices([elevator("DT-0001"), gas("GAS-0002", ESTATE_2)])
    mine = await store.raise_alarm(alarm("DT-0001"))
    theirs = await store.raise_alarm(alarm("GAS-0002", "gas.lel", message="可燃气体浓度超标", value="34.0 %LEL"))
    assert mine is not None and theirs is not None
    street = Scope.of(STREET_1)
    assert [d and d.code for d in await store.devices(["DT-0001", "GAS-0002"], street)] == ["DT-0001", None]
    assert [d.code for d in (await store.device_page(street, 50)).items] == ["DT-0001"]
    assert await store.device_count(street) == 1
    assert await store.device_count(Scope.of_codes([])) == 0
    assert await store.alarms([mine.id, theirs.id, "AL19990101000001"], street) == [mine, None, None]
    assert [a.id for a in (await store.alarm_page(street, 50)).items] == [mine.id]
    assert await store.readings("GAS-0002", street) == []
    # acknowledging out of scope is refused exactly as acknowledging an unknown id
    with pytest.raises(InvalidInput) as outside:
        await store.acknowledge_alarm(theirs.id, actor="街道值班员", at=T0, scope=street)
    with pytest.raises(InvalidInput) as unknown:
        await store.acknowledge_alarm("AL19990101000001", actor="街道值班员", at=T0, scope=street)
    assert str(outside.value) == f"id: '{theirs.id}' is not an alarm you can see"
    assert str(unknown.value) == "id: 'AL19990101000001' is not an alarm you can see"
    [untouched] = await store.alarms([theirs.id], EVERYTHING)
    assert untouched is not None and untouched.acknowledged_at is None


async def test_device_pages_run_by_code_with_cursors_and_filters(store: SqlStore) -> None:
    devices = [
        elevator("DT-0003", ENTRANCE_1),
        elevator("DT-0001", ENTRANCE_1),
        gas("GAS-0001", ESTATE_1),
        gas("GAS-0002", ESTATE_2),
        gas("GAS-0003", BUILDING_1, type=DeviceType.SMOKE_DETECTOR),
        elevator("DT-" + "9" * 61, BUILDING_1),  # a 64-character code pages like any other
    ]
    await store.register_devices(devices)
    await store.save_device_states(
        [
            DeviceState("GAS-0001", DeviceStatus.ONLINE, T0, {"lel": 3.0}),
            DeviceState("DT-0001", DeviceStatus.ALARM, T0, {"trapped": True}),
            DeviceState("NOT-REGISTERED", DeviceStatus.ONLINE, T0, {}),  # ignored
        ]
    )
    walked: list[str] = []
    after = None
    while True:
        page = await store.device_page(EVERYTHING, 2, after)
        walked += [d.code for d in page.items]
        assert page.start_cursor is not None
        if not page.has_next:
            break
        after = page.end_cursor
    assert walked == sorted(d.code for d in devices)
    assert [d.code for d in (await store.device_page(EVERYTHING, 50, within=BUILDING_1)).items] == [
        "DT-0001", "DT-0003", "DT-" + "9" * 61, "GAS-0003"
    ]
    assert [d.code for d in (await store.device_page(EVERYTHING, 50, within=ESTATE_1, types=[DeviceType.GAS_DETECTOR])).items] == ["GAS-0001"]
    online = await store.device_page(EVERYTHING, 50, statuses=[DeviceStatus.ONLINE, DeviceStatus.ALARM])
    assert [d.code for d in online.items] == ["DT-0001", "GAS-0001"]
    assert await store.device_count(EVERYTHING, statuses=[DeviceStatus.NEW]) == 4
    assert await store.device_count(EVERYTHING, within=ESTATE_1, types=[DeviceType.ELEVATOR, DeviceType.SMOKE_DETECTOR]) == 4
    assert await store.device_count(EVERYTHING, within=STREET_2) == 1
    assert await store.device_count(EVERYTHING, within="370202009") == 0
    assert (await store.device_page(EVERYTHING, 50, within="370202009")).items == []
    assert (await store.device_page(EVERYTHING, 50, types=[])).items == []
    for bad in ("nonsense", encode_cursor("999999"), encode_cursor("DT-0001")):
        with pytest.raises(InvalidInput, match="is not a cursor from this list"):
            await store.device_page(EVERYTHING, 2, bad)


# -- the hot path ---------------------------------------------------------------------------


async def test_readings_are_added_read_newest_first_and_pruned(store: SqlStore) -> None:
    await store.register_devices([elevator("DT-0001"), gas("GAS-0002", ESTATE_2)])
    batch = [
        Reading("DT-0001", T0 + dt.timedelta(minutes=minute), {"floor": float(minute), "running": True})
        for minute in range(600)
    ] + [
        Reading("UNKNOWN-1", T0, {"floor": 1.0}),  # skipped
        Reading("GAS-0002", T0, {"lel": 2.5}, kind="event", received_at=T0 + dt.timedelta(seconds=2)),
    ]
    assert await store.add_readings(batch) == 601
    assert await store.add_readings([]) == 0
    newest = await store.readings("DT-0001", EVERYTHING, first=3)
    assert [r.values["floor"] for r in newest] == [599.0, 598.0, 597.0]
    assert newest[0] == Reading("DT-0001", T0 + dt.timedelta(minutes=599), {"floor": 599.0, "running": True}, received_at=T0 + dt.timedelta(minutes=599))
    since = await store.readings("DT-0001", EVERYTHING, since=T0 + dt.timedelta(minutes=590), first=100)
    assert len(since) == 10
    assert await store.readings("GAS-0002", EVERYTHING) == [
        Reading("GAS-0002", T0, {"lel": 2.5}, kind="event", received_at=T0 + dt.timedelta(seconds=2))
    ]
    with pytest.raises(InvalidInput, match="reading of 'DT-0001' kind: 'status' must be telemetry or event"):
        await store.add_readings([Reading("DT-0001", T0, {}, kind="status")])
    # taken before T0 + 100 min: the first 100 of the elevator and the gas detector's one
    assert await store.prune_readings(T0 + dt.timedelta(minutes=100)) == 101
    assert await store.prune_readings(T0 + dt.timedelta(minutes=100)) == 0
    assert await rows_in(store, tables.reading) == 500
    assert (await store.readings("DT-0001", EVERYTHING, first=500))[-1].at == T0 + dt.timedelta(minutes=100)


async def test_pruning_runs_in_chunks(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import graph.sql.devices

    monkeypatch.setattr(graph.sql.devices, "PRUNE_CHUNK", 7)
    await store.register_devices([elevator()])
    await store.add_readings([Reading("DT-0001", T0 + dt.timedelta(seconds=s), {"floor": 1.0}) for s in range(30)])
    assert await store.prune_readings(T0 + dt.timedelta(seconds=22)) == 22
    assert await rows_in(store, tables.reading) == 8


async def test_a_device_registered_by_another_process_is_found_by_the_hot_path(store: SqlStore) -> None:
    other = SqlStore(store.engine, sealer=store.sealer)  # a second process on the same database
    assert await other.add_readings([Reading("DT-0001", T0, {"floor": 1.0})]) == 0  # not registered yet
    await store.register_devices([elevator()])
    assert await other.add_readings([Reading("DT-0001", T0, {"floor": 1.0})]) == 1
    await other.save_device_states([DeviceState("DT-0001", DeviceStatus.OFFLINE, T0, {})])
    [device] = await store.devices(["DT-0001"], EVERYTHING)
    assert device is not None and device.status is DeviceStatus.OFFLINE


# -- alarms ---------------------------------------------------------------------------------


async def test_an_alarm_is_raised_once_while_active_and_again_after_it_clears(store: SqlStore) -> None:
    await store.register_devices([elevator()])
    first = await store.raise_alarm(alarm())
    assert first is not None
    assert first == dataclasses.replace(
        alarm(), id="AL20260302000001", place_code=ENTRANCE_1, point=Point(120.3821, 36.0671)
    )
    assert await store.raise_alarm(alarm(at=T0 + dt.timedelta(minutes=1))) is None
    other_rule = await store.raise_alarm(alarm(rule="elevator.door", message="门故障"))
    assert other_rule is not None and other_rule.id == "AL20260302000002"
    cleared = await store.clear_alarm("DT-0001", "elevator.trapped", T0 + dt.timedelta(minutes=2))
    assert cleared == dataclasses.replace(first, cleared_at=T0 + dt.timedelta(minutes=2))
    assert await store.clear_alarm("DT-0001", "elevator.trapped", T0 + dt.timedelta(minutes=3)) is None
    assert await store.clear_alarm("NOT-REGISTERED", "elevator.trapped", T0) is None
    again = await store.raise_alarm(alarm(at=T0 + dt.timedelta(hours=15)))  # 00:30 the next day in China
    assert again is not None and again.id == "AL20260303000001" and again.active
    assert [a.id for a in await every_active_alarm(store)] == [other_rule.id, again.id]
    with pytest.raises(InvalidInput, match="device_code: 'NOT-REGISTERED' is not a registered device"):
        await store.raise_alarm(alarm("NOT-REGISTERED"))
    with pytest.raises(StoreError, match=f"alarm {first.id} already exists"):
        await store.raise_alarm(alarm(rule="elevator.fault", id=first.id))
    with pytest.raises(InvalidInput, match="alarm of 'DT-0001' cleared_at"):
        await store.raise_alarm(alarm(rule="elevator.fault", cleared_at=T0))
    with pytest.raises(InvalidInput, match="alarm of 'DT-0001' message"):
        await store.raise_alarm(alarm(rule="elevator.fault", message=" "))


async def test_concurrent_raisers_store_exactly_one_active_alarm(store: SqlStore) -> None:
    await store.register_devices([elevator(), gas("GAS-0001")])
    results = await asyncio.gather(*(store.raise_alarm(alarm(at=T0 + dt.timedelta(seconds=i))) for i in range(10)))
    raised = [result for result in results if result is not None]
    assert len(raised) == 1
    # raisers of different devices and rules at once each get their own day-numbered id
    others = await asyncio.gather(
        *(store.raise_alarm(alarm("GAS-0001", f"gas.rule{i}", message="可燃气体浓度超标")) for i in range(8))
    )
    assert all(other is not None for other in others)
    assert sorted(other.id for other in others if other) == [f"AL20260302{n:06d}" for n in range(2, 10)]
    assert await rows_in(store, tables.alarm) == 9


async def test_the_database_itself_refuses_a_second_active_alarm_of_a_rule(store: SqlStore) -> None:
    """A writer that bypasses raise_alarm still meets the partial unique index."""
    await store.register_devices([elevator()])
    first = await store.raise_alarm(alarm())
    assert first is not None
    async with store.engine.connect() as connection:
        device_id = (await connection.execute(select(tables.device.c.id))).scalar_one()
    row = {"device_id": device_id, "rule": "elevator.trapped", "severity": "critical", "message": "电梯困人", "raised_at": T0}
    with pytest.raises(IntegrityError):
        async with store.engine.begin() as connection:
            await connection.execute(tables.alarm.insert().values(key="AL-BYPASS-1", **row))
    await store.clear_alarm("DT-0001", "elevator.trapped", T0)
    async with store.engine.begin() as connection:  # a cleared one does not count
        await connection.execute(tables.alarm.insert().values(key="AL-BYPASS-2", **row))
    assert await store.raise_alarm(alarm()) is None  # the bypasser's is active now


async def test_acknowledging_keeps_the_first_and_a_case_is_linked(store: SqlStore) -> None:
    await store.register_devices([elevator()])
    raised = await store.raise_alarm(alarm())
    assert raised is not None
    first = await store.acknowledge_alarm(raised.id, actor="物业值班员 李四", at=T0 + dt.timedelta(minutes=1), scope=Scope.of(ESTATE_1))
    second = await store.acknowledge_alarm(raised.id, actor="街道 王五", at=T0 + dt.timedelta(minutes=9), scope=EVERYTHING)
    assert first == second == dataclasses.replace(raised, acknowledged_at=T0 + dt.timedelta(minutes=1), acknowledged_by="物业值班员 李四")
    with pytest.raises(InvalidInput, match="actor"):
        await store.acknowledge_alarm(raised.id, actor="", at=T0, scope=EVERYTHING)

    case = await Casework(store).open_case(
        Case(
            id="",
            source=CaseSource.DEVICE_ALARM,
            category=CaseCategory.EMERGENCY,
            status=CaseStatus.ACCEPTED,
            title="电梯困人",
            reported_at=T0,
            updated_at=T0,
            place_code=ENTRANCE_1,
        ),
        actor="hub",
    )
    await store.link_alarm_case(raised.id, case.id)
    [linked] = await store.alarms([raised.id], EVERYTHING)
    assert linked is not None and linked.case_id == case.id
    assert (await every_active_alarm(store))[0].case_id == case.id
    with pytest.raises(InvalidInput, match="case_id: 'GD19990101000001' is not a stored case"):
        await store.link_alarm_case(raised.id, "GD19990101000001")
    with pytest.raises(InvalidInput, match="alarm_id: 'AL19990101000001' is not a stored alarm"):
        await store.link_alarm_case("AL19990101000001", case.id)
    # an alarm raised with its case already known keeps it too
    with_case = await store.raise_alarm(alarm(rule="elevator.door", message="门故障", case_id=case.id))
    assert with_case is not None and with_case.case_id == case.id


async def test_alarm_pages_run_newest_first_with_cursors_and_filters(store: SqlStore) -> None:
    await store.register_devices([elevator("DT-0001"), elevator("DT-0002", BUILDING_1), gas("GAS-0002", ESTATE_2)])
    raised = []
    for index in range(9):
        code = ["DT-0001", "DT-0002", "GAS-0002"][index % 3]
        at = T0 + dt.timedelta(minutes=index // 2)  # pairs raised at the same moment: id breaks the tie
        made = await store.raise_alarm(alarm(code, f"rule.{index}", at=at))
        assert made is not None
        raised.append(made)
    await store.clear_alarm("DT-0001", "rule.0", T0 + dt.timedelta(hours=1))
    await store.clear_alarm("DT-0002", "rule.4", T0 + dt.timedelta(hours=1))
    newest_first = [a.id for a in sorted(raised, key=lambda a: (a.raised_at, a.id), reverse=True)]
    walked: list[str] = []
    after = None
    while True:
        page = await store.alarm_page(EVERYTHING, 4, after)
        walked += [a.id for a in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert walked == newest_first
    active = await store.alarm_page(EVERYTHING, 50, active=True)
    assert {a.id for a in active.items} == {a.id for a in raised} - {raised[0].id, raised[4].id}
    assert [a.id for a in (await store.alarm_page(EVERYTHING, 50, active=False)).items] == [raised[4].id, raised[0].id]
    assert [a.id for a in (await store.alarm_page(EVERYTHING, 50, within=STREET_2)).items] == [raised[8].id, raised[5].id, raised[2].id]
    assert [a.id for a in (await store.alarm_page(EVERYTHING, 50, within=BUILDING_1, device_codes=["DT-0002"])).items] == [
        raised[7].id, raised[4].id, raised[1].id
    ]
    since = await store.alarm_page(EVERYTHING, 50, since=T0 + dt.timedelta(minutes=3))
    assert [a.id for a in since.items] == [raised[8].id, raised[7].id, raised[6].id]
    assert (await store.alarm_page(EVERYTHING, 50, within="370202009")).items == []
    with pytest.raises(InvalidInput, match="is not a cursor from this list"):
        await store.alarm_page(EVERYTHING, 4, encode_cursor("AL19990101000001"))


async def test_a_days_alarm_numbers_run_out_with_a_clear_error(store: SqlStore) -> None:
    await store.register_devices([elevator()])
    assert await store.raise_alarm(alarm(id="AL20260302999999")) is not None
    with pytest.raises(StoreError, match="more than 999999 alarms raised on 20260302: the day's sequence is full"):
        await store.raise_alarm(alarm(rule="elevator.door", message="门故障"))
    # another day has its own sequence; ids of another shape do not count
    assert await store.raise_alarm(alarm(rule="elevator.door", id="AL2026030299999999")) is not None
    later = await store.raise_alarm(alarm(rule="elevator.fault", message="故障码 E12", at=T0 + dt.timedelta(days=1)))
    assert later is not None and later.id == "AL20260303000001"


def test_the_device_rules_doctests() -> None:
    failures, tried = doctest.testmod(graph.devices)
    assert tried >= 3 and failures == 0


async def test_summaries_count_a_places_devices_by_status_and_its_active_alarms(store: SqlStore) -> None:
    await store.register_devices([elevator("DT-0001"), elevator("DT-0002"), gas("GAS-0001"), gas("GAS-0002", ESTATE_2)])
    seen = T0 + dt.timedelta(minutes=1)
    await store.save_device_states([
        DeviceState("DT-0001", DeviceStatus.ALARM, seen, {"trapped": True}),
        DeviceState("GAS-0001", DeviceStatus.ONLINE, seen, {"lel": 3.0}),
        DeviceState("GAS-0002", DeviceStatus.OFFLINE, seen, {}),
    ])
    raised = await store.raise_alarm(alarm("DT-0001"))
    cleared = await store.raise_alarm(alarm("GAS-0001", "gas.low", device_type=DeviceType.GAS_DETECTOR))
    await store.raise_alarm(alarm("GAS-0002", "device.offline", device_type=DeviceType.GAS_DETECTOR))
    assert raised is not None and cleared is not None
    await store.clear_alarm("GAS-0001", "gas.low", seen)
    district, street, estate, entrance = await device_summaries(store, ["370202", STREET_1, ESTATE_1, ENTRANCE_1], EVERYTHING)
    assert district == DeviceSummary(total=4, new=1, online=1, offline=1, alarm=1, active_alarms=2)
    assert street == estate == DeviceSummary(total=3, new=1, online=1, offline=0, alarm=1, active_alarms=1)
    assert entrance == DeviceSummary(total=2, new=1, online=0, offline=0, alarm=1, active_alarms=1)
    # a street office counts its own street only, and is told nothing of a place outside it
    mine, above, theirs, unknown = await device_summaries(store, [STREET_1, "370202", STREET_2, "370202099"], Scope.of(STREET_1))
    assert mine == street and above is None and theirs is None and unknown is None
