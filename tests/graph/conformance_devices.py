"""The device part of the store conformance suite: every member of `graph.devices.DeviceStore`,
tested through the port only, and the services over it.

Like `tests/graph/conformance.py` (whose fixture city it uses), nothing here knows SQL or any
adapter's insides: `tests/graph/test_store_conformance.py` imports these classes and runs them on
every backend with its `store` fixture (a fresh, empty store per test).

Each member is held to its contract: its scope (out of scope behaves as absent: None, left out,
0, or the same error as an unknown key), its ordering and paging, its errors (a refused write
leaves nothing of itself), its atomicity (one active alarm per device and rule however many
raisers race; one acknowledgement; one clear), and ingestion's redelivery (a message sent again
after a crash doubles no reading and raises no alarm).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import replace

import pytest

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Point
from graph.cursors import encode_cursor
from graph.devices import (
    Alarm,
    Device,
    DeviceState,
    DeviceStatus,
    DeviceSummary,
    DeviceTally,
    DeviceType,
    Reading,
    Severity,
    device_summaries,
    every_active_alarm,
    every_device,
)
from graph.errors import InvalidInput, StoreError
from graph.model import Page, Provenance
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.workflow import Workflow
from tests.graph.conformance import (
    B_A1,
    B_A2,
    CITY,
    E_A,
    E_B,
    E_C,
    EN_A11,
    EN_A12,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    T_HOUSE,
    UNKNOWN_ESTATE,
    UNKNOWN_STREET,
    fixture_city,
    garbage_cursors,
)

__all__ = [
    "TestRegisterDevices",
    "TestDevices",
    "TestDevicePage",
    "TestDeviceCount",
    "TestDeviceTallies",
    "TestSaveDeviceStates",
    "TestReadings",
    "TestPruneReadings",
    "TestRaiseAlarm",
    "TestClearAlarm",
    "TestAcknowledgeAlarm",
    "TestAlarmCases",
    "TestAlarms",
    "TestAlarmPage",
    "TestAlarmCount",
    "TestAllDevices",
    "TestDeviceServices",
    "TestRedeliveredDeviceMessages",
]

EVERYTHING = Scope.everything()
UTC = dt.timezone.utc
T = dt.datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
"""09:30 on 2 March 2026 in China: alarms the store numbers that day are AL20260302……"""
CST = dt.timezone(dt.timedelta(hours=8))

STREET_A = Scope.of(ST_A)  # 香港中路街道: 海韵花园 (E_A) and its buildings
STREET_B = Scope.of(ST_B)  # 八大关街道: E_B
NORTH = Scope.of(SHIBEI)  # 市北区: E_C
NOBODY = Scope.of_codes([])


def elevator(code: str, place: str = EN_A11, **changes: object) -> Device:
    device = Device(
        code=code,
        type=DeviceType.ELEVATOR,
        model="KONE MonoSpace 500",
        place_code=place,
        interval=60,
        point=Point(120.3821, 36.0671),
        name="1号楼1单元电梯",
        registered_at=T,
    )
    return replace(device, **changes)  # type: ignore[arg-type]


def gas(code: str, place: str = E_A, **changes: object) -> Device:
    device = Device(
        code=code,
        type=DeviceType.GAS_DETECTOR,
        model="GT-AEC2232",
        place_code=place,
        interval=30,
        thresholds={"lel_major": 20.0},
        registered_at=T,
    )
    return replace(device, **changes)  # type: ignore[arg-type]


FLEET = [
    elevator("DT-A11-02"),
    elevator("DT-A11-01"),
    elevator("DT-A12-01", EN_A12, point=None, name=""),
    gas("GD-A-01"),
    gas("SD-A2-01", B_A2, type=DeviceType.SMOKE_DETECTOR, thresholds={}),
    gas("GD-B-01", E_B),
    gas("WP-C-01", E_C, type=DeviceType.WATER_PUMP, thresholds={}),
    elevator("DT-" + "9" * 61, B_A1),  # a 64-character code pages like any other
]
"""Where each lies: 海韵花园 (E_A, street A) holds six, 八大关 (E_B, street B) one, 市北 (E_C) one."""

IN_STREET_A = sorted(d.code for d in FLEET if d.place_code not in (E_B, E_C))


async def fleet(store: Store) -> list[Device]:
    """The fixture city and the fleet, registered."""
    await store.write(fixture_city())
    assert await store.register_devices(FLEET) == (len(FLEET), 0)
    return FLEET


def raised(code: str, rule: str = "elevator.trapped", at: dt.datetime = T, **changes: object) -> Alarm:
    alarm = Alarm(
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
    return replace(alarm, **changes)  # type: ignore[arg-type]


async def walk_devices(store: Store, scope: Scope, first: int, **filters: object) -> list[str]:
    walked: list[str] = []
    after: str | None = None
    for _ in range(1000):
        page: Page[Device] = await store.device_page(scope, first, after, **filters)  # type: ignore[arg-type]
        assert len(page.items) <= max(1, first)
        walked += [d.code for d in page.items]
        if page.items:
            assert page.start_cursor is not None and page.end_cursor is not None
        if not page.has_next:
            return walked
        after = page.end_cursor
    raise AssertionError("the device pages never ended")


async def walk_alarms(store: Store, scope: Scope, first: int, **filters: object) -> list[str]:
    walked: list[str] = []
    after: str | None = None
    for _ in range(1000):
        page: Page[Alarm] = await store.alarm_page(scope, first, after, **filters)  # type: ignore[arg-type]
        assert len(page.items) <= max(1, first)
        walked += [a.id for a in page.items]
        if not page.has_next:
            return walked
        after = page.end_cursor
    raise AssertionError("the alarm pages never ended")


async def open_case(store: Store, place: str = EN_A11) -> Case:
    case = Case(
        id="",
        source=CaseSource.DEVICE_ALARM,
        category=CaseCategory.EMERGENCY,
        status=CaseStatus.ACCEPTED,
        title="电梯困人",
        reported_at=T,
        updated_at=T,
        place_code=place,
    )
    return await Workflow(store).open_case(case, actor="hub", dispatch=False)


# --------------------------------------------------------------------------------------------
# register_devices
# --------------------------------------------------------------------------------------------


class TestRegisterDevices:
    async def test_a_registration_round_trips_new_and_never_seen(self, store: Store) -> None:
        await fleet(store)
        provenance = Provenance("devices-import", "row-1", T, "run-1")
        device = gas("GD-A-02", thresholds={"lel_major": 15, "lel_critical": 40.5}, provenance=provenance)
        assert await store.register_devices([device]) == (1, 0)
        [stored] = await store.devices(["GD-A-02"], EVERYTHING)
        assert stored == device  # thresholds keep their numbers (15 == 15.0)
        assert (stored.status, stored.last_seen, stored.values, stored.registered_at, stored.reading_at) == (
            DeviceStatus.NEW, None, {}, T, None
        )
        for given in FLEET:
            [found] = await store.devices([given.code], EVERYTHING)
            assert found == given

    async def test_registered_at_defaults_to_now(self, store: Store) -> None:
        await fleet(store)
        before = dt.datetime.now(UTC)
        await store.register_devices([gas("GD-A-02", registered_at=None)])
        [stored] = await store.devices(["GD-A-02"], EVERYTHING)
        assert stored is not None and stored.registered_at is not None
        assert before - dt.timedelta(seconds=1) <= stored.registered_at <= dt.datetime.now(UTC) + dt.timedelta(seconds=1)

    async def test_an_update_changes_the_registration_and_keeps_the_state(self, store: Store) -> None:
        await fleet(store)
        seen = T + dt.timedelta(minutes=5)
        await store.save_device_states([DeviceState("DT-A11-01", DeviceStatus.ONLINE, seen, {"floor": 7.0, "door": "closed"}, reading_at=seen)])
        moved = elevator(
            "DT-A11-01", B_A1, model="KONE MonoSpace 700", interval=30, point=None, name="",
            thresholds={"trapped_seconds": 45.0}, registered_at=T + dt.timedelta(days=1),
            provenance=Provenance("import", "r2", T, "run-2"),
        )
        assert await store.register_devices([moved, gas("GD-A-01")]) == (0, 1)  # the unchanged one counts as neither
        [again] = await store.devices(["DT-A11-01"], EVERYTHING)
        assert again is not None
        assert (again.place_code, again.model, again.interval, again.point, again.name, again.thresholds) == (
            B_A1, "KONE MonoSpace 700", 30, None, "", {"trapped_seconds": 45.0}
        )
        assert again.provenance == moved.provenance
        assert (again.status, again.last_seen, again.values, again.reading_at) == (DeviceStatus.ONLINE, seen, {"floor": 7.0, "door": "closed"}, seen)
        assert again.registered_at == T
        assert await store.register_devices([moved]) == (0, 0)
        assert await store.register_devices([]) == (0, 0)

    async def test_an_identical_registration_keeps_its_provenance(self, store: Store) -> None:
        await fleet(store)
        first = gas("GD-A-02", provenance=Provenance("a", "1", T, "run-a"))
        await store.register_devices([first])
        assert await store.register_devices([replace(first, provenance=Provenance("b", "2", T, "run-b"))]) == (0, 0)
        [stored] = await store.devices(["GD-A-02"], EVERYTHING)
        assert stored is not None and stored.provenance == first.provenance

    async def test_every_place_level_that_may_hold_a_device(self, store: Store) -> None:
        await fleet(store)
        assert await store.register_devices([gas("X-EST", E_A), gas("X-BLD", B_A1), gas("X-ENT", EN_A11)]) == (3, 0)

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            (gas("a/b"), "code: 'a/b' must be 3 to 64 ASCII letters"),
            (gas("X-BAD", type="lift"), "device 'X-BAD' type: 'lift' must be one of elevator, "),
            (gas("X-BAD", model=" "), "device 'X-BAD' model: ' ' must be 1 to 100 characters"),
            (gas("X-BAD", name="n" * 101), "device 'X-BAD' name: '" + "n" * 101 + "' must be at most 100 characters"),
            (gas("X-BAD", interval=0), "device 'X-BAD' interval: '0' must be a whole number of seconds from 1 to 86400"),
            (gas("X-BAD", interval=True), "device 'X-BAD' interval: 'True' must be a whole number"),
            (gas("X-BAD", point=Point(120.0, 91.0)), "device 'X-BAD' point: '120.0,91.0' is not a WGS-84 longitude, latitude"),
            (gas("X-BAD", point=Point(math.nan, 36.0)), "device 'X-BAD' point: 'nan,36.0' is not a WGS-84"),
            (gas("X-BAD", thresholds={"": 1.0}), "device 'X-BAD' thresholds: '' names must be 1 to 64 characters"),
            (gas("X-BAD", thresholds={"lel_major": math.inf}), "device 'X-BAD' thresholds.lel_major: 'inf' must be a finite number"),
            (gas("X-BAD", thresholds={"lel_major": "20"}), "device 'X-BAD' thresholds.lel_major: '20' must be a finite number"),
            (gas("X-BAD", place=UNKNOWN_ESTATE), f"device 'X-BAD' place_code: '{UNKNOWN_ESTATE}' is not a place in the store"),
            (gas("X-BAD", place=T_HOUSE), f"device 'X-BAD' place_code: '{T_HOUSE}' must be an estate, building or entrance, not a house"),
            (gas("X-BAD", place=ST_A), f"device 'X-BAD' place_code: '{ST_A}' must be an estate, building or entrance, not a street"),
            (gas("X-BAD", place=CITY), f"device 'X-BAD' place_code: '{CITY}' must be an estate, building or entrance, not a city"),
            (gas("GD-A-02", model="again"), "device 'GD-A-02' code: 'GD-A-02' appears twice in the batch"),
        ],
    )
    async def test_a_bad_registration_names_the_device_and_writes_nothing_of_its_batch(
        self, store: Store, bad: Device, message: str
    ) -> None:
        await fleet(store)
        # a good new device and a good change of a stored one travel with the bad one
        with pytest.raises(InvalidInput, match=re.escape(message)):
            await store.register_devices([gas("GD-A-02"), elevator("DT-A11-01", model="changed"), bad])
        assert await store.devices(["GD-A-02", "X-BAD"], EVERYTHING) == [None, None]
        [kept] = await store.devices(["DT-A11-01"], EVERYTHING)
        assert kept is not None and kept.model == "KONE MonoSpace 500"
        assert await store.device_count(EVERYTHING) == len(FLEET)


# --------------------------------------------------------------------------------------------
# devices, device_page, device_count
# --------------------------------------------------------------------------------------------


class TestDevices:
    async def test_one_answer_per_code_in_order_none_when_missing(self, store: Store) -> None:
        await fleet(store)
        found = await store.devices(["WP-C-01", "NOPE-1", "DT-A11-01", "WP-C-01"], EVERYTHING)
        assert [d and d.code for d in found] == ["WP-C-01", None, "DT-A11-01", "WP-C-01"]
        assert await store.devices([], EVERYTHING) == []

    async def test_out_of_scope_is_absent(self, store: Store) -> None:
        await fleet(store)
        codes = ["DT-A11-01", "GD-B-01", "WP-C-01"]
        assert [d and d.code for d in await store.devices(codes, STREET_A)] == ["DT-A11-01", None, None]
        assert [d and d.code for d in await store.devices(codes, NORTH)] == [None, None, "WP-C-01"]
        assert [d and d.code for d in await store.devices(codes, Scope.of(EN_A11))] == ["DT-A11-01", None, None]
        assert await store.devices(codes, NOBODY) == [None, None, None]


class TestDevicePage:
    async def test_pages_run_by_code_whatever_their_size(self, store: Store) -> None:
        await fleet(store)
        every = sorted(d.code for d in FLEET)
        for first in (1, 2, 3, 7, 8, 50):
            assert await walk_devices(store, EVERYTHING, first) == every

    async def test_first_is_clamped(self, store: Store) -> None:
        await fleet(store)
        assert len((await store.device_page(EVERYTHING, 0)).items) == 1
        assert len((await store.device_page(EVERYTHING, -5)).items) == 1
        page = await store.device_page(EVERYTHING, MAX_PAGE * 10)
        assert len(page.items) == len(FLEET) and not page.has_next

    async def test_within_takes_the_place_and_everything_under_it(self, store: Store) -> None:
        await fleet(store)
        assert await walk_devices(store, EVERYTHING, 3, within=E_A) == IN_STREET_A
        assert await walk_devices(store, EVERYTHING, 3, within=SHINAN) == sorted(IN_STREET_A + ["GD-B-01"])
        assert await walk_devices(store, EVERYTHING, 3, within=B_A1) == sorted(["DT-A11-01", "DT-A11-02", "DT-A12-01", "DT-" + "9" * 61])
        assert await walk_devices(store, EVERYTHING, 3, within=EN_A11) == ["DT-A11-01", "DT-A11-02"]
        assert await walk_devices(store, EVERYTHING, 3, within=T_HOUSE) == []  # under a house: nothing
        assert await walk_devices(store, EVERYTHING, 3, within=UNKNOWN_STREET) == []

    async def test_types_and_statuses_filter(self, store: Store) -> None:
        await fleet(store)
        await store.save_device_states([
            DeviceState("GD-A-01", DeviceStatus.ONLINE, T, {"lel": 3.0}),
            DeviceState("DT-A11-01", DeviceStatus.ALARM, T, {"trapped": True}),
            DeviceState("WP-C-01", DeviceStatus.OFFLINE, T, {}),
        ])
        assert await walk_devices(store, EVERYTHING, 2, types=[DeviceType.GAS_DETECTOR]) == ["GD-A-01", "GD-B-01"]
        assert await walk_devices(store, EVERYTHING, 2, types=[DeviceType.WATER_PUMP, DeviceType.SMOKE_DETECTOR]) == ["SD-A2-01", "WP-C-01"]
        assert await walk_devices(store, EVERYTHING, 2, statuses=[DeviceStatus.ONLINE, DeviceStatus.ALARM]) == ["DT-A11-01", "GD-A-01"]
        assert await walk_devices(store, EVERYTHING, 2, statuses=[DeviceStatus.OFFLINE], within=SHINAN) == []
        assert await walk_devices(store, EVERYTHING, 2, within=E_A, types=[DeviceType.ELEVATOR], statuses=[DeviceStatus.NEW]) == [
            "DT-" + "9" * 61, "DT-A11-02", "DT-A12-01"
        ]
        assert await walk_devices(store, EVERYTHING, 2, types=[]) == []
        assert await walk_devices(store, EVERYTHING, 2, statuses=[]) == []

    async def test_out_of_scope_is_not_listed(self, store: Store) -> None:
        await fleet(store)
        assert await walk_devices(store, STREET_A, 2) == IN_STREET_A
        assert await walk_devices(store, STREET_B, 2) == ["GD-B-01"]
        assert await walk_devices(store, STREET_B, 2, within=E_A) == []
        assert await walk_devices(store, STREET_A, 2, within=SHINAN) == IN_STREET_A  # above the scope: only its part
        assert await walk_devices(store, NOBODY, 2) == []

    async def test_a_cursor_not_from_the_list_is_refused(self, store: Store) -> None:
        await fleet(store)
        for bad in [*garbage_cursors(), encode_cursor("999999999"), encode_cursor("DT-A11-01"), encode_cursor("AL20260302000001")]:
            with pytest.raises(InvalidInput, match="is not a cursor from this list"):
                await store.device_page(EVERYTHING, 2, bad)

    async def test_an_empty_store_lists_nothing(self, store: Store) -> None:
        await store.write(fixture_city())
        page = await store.device_page(EVERYTHING, 10)
        assert (list(page.items), page.has_next, page.end_cursor) == ([], False, None)


class TestDeviceCount:
    async def test_counts_what_the_pages_list(self, store: Store) -> None:
        await fleet(store)
        await store.save_device_states([DeviceState("GD-A-01", DeviceStatus.ONLINE, T, {}), DeviceState("GD-B-01", DeviceStatus.OFFLINE, T, {})])
        cases: list[tuple[Scope, dict[str, object]]] = [
            (EVERYTHING, {}),
            (EVERYTHING, {"within": E_A}),
            (EVERYTHING, {"within": EN_A11}),
            (EVERYTHING, {"within": SHINAN, "types": [DeviceType.GAS_DETECTOR]}),
            (EVERYTHING, {"statuses": [DeviceStatus.NEW]}),
            (EVERYTHING, {"statuses": [DeviceStatus.ONLINE, DeviceStatus.OFFLINE]}),
            (EVERYTHING, {"types": []}),
            (EVERYTHING, {"within": UNKNOWN_STREET}),
            (STREET_A, {}),
            (STREET_A, {"within": SHINAN}),
            (STREET_B, {"within": E_A}),
            (NORTH, {"types": [DeviceType.WATER_PUMP]}),
            (NOBODY, {}),
        ]
        for scope, filters in cases:
            assert await store.device_count(scope, **filters) == len(await walk_devices(store, scope, 3, **filters)), (scope, filters)  # type: ignore[arg-type]
        assert await store.device_count(EVERYTHING) == 8
        assert await store.device_count(STREET_A) == 6
        assert await store.device_count(EVERYTHING, statuses=[DeviceStatus.NEW]) == 6


class TestDeviceTallies:
    async def _states_and_alarms(self, store: Store) -> None:
        await fleet(store)
        await store.save_device_states([
            DeviceState("DT-A11-01", DeviceStatus.ALARM, T, {"trapped": True}),
            DeviceState("GD-A-01", DeviceStatus.ONLINE, T, {"lel": 3.0}),
            DeviceState("GD-B-01", DeviceStatus.OFFLINE, T, {}),
        ])
        await store.raise_alarm(raised("DT-A11-01"))
        await store.raise_alarm(raised("DT-A11-01", "elevator.door", message="门故障"))
        await store.raise_alarm(raised("GD-A-01", "gas.low", device_type=DeviceType.GAS_DETECTOR))
        await store.raise_alarm(raised("GD-B-01", "device.offline", device_type=DeviceType.GAS_DETECTOR))
        await store.clear_alarm("GD-A-01", "gas.low", T)

    async def test_a_places_devices_by_status_and_their_active_alarms(self, store: Store) -> None:
        await self._states_and_alarms(store)
        codes = [SHINAN, E_A, EN_A11, E_C, EN_A12, T_HOUSE, UNKNOWN_STREET, E_A]
        assert await store.device_tallies(codes, EVERYTHING) == [
            DeviceTally({DeviceStatus.NEW: 4, DeviceStatus.ONLINE: 1, DeviceStatus.OFFLINE: 1, DeviceStatus.ALARM: 1}, 3),
            DeviceTally({DeviceStatus.NEW: 4, DeviceStatus.ONLINE: 1, DeviceStatus.ALARM: 1}, 2),
            DeviceTally({DeviceStatus.NEW: 1, DeviceStatus.ALARM: 1}, 2),
            DeviceTally({DeviceStatus.NEW: 1}, 0),
            DeviceTally({DeviceStatus.NEW: 1}, 0),
            DeviceTally({}, 0),  # a place without devices
            None,
            DeviceTally({DeviceStatus.NEW: 4, DeviceStatus.ONLINE: 1, DeviceStatus.ALARM: 1}, 2),
        ]
        assert await store.device_tallies([], EVERYTHING) == []

    async def test_they_agree_with_the_counts_in_every_scope(self, store: Store) -> None:
        await self._states_and_alarms(store)
        codes = [CITY, SHINAN, ST_A, ST_B, E_A, B_A1, EN_A11, E_C]
        for scope in (EVERYTHING, STREET_A, STREET_B, NORTH, Scope.of(B_A1)):
            for code, tally in zip(codes, await store.device_tallies(codes, scope)):
                if tally is None:
                    continue
                for status in DeviceStatus:
                    assert tally.by_status.get(status, 0) == await store.device_count(scope, within=code, statuses=[status])
                assert tally.active_alarms == await store.alarm_count(scope, within=code, active=True)

    async def test_a_place_out_of_scope_is_absent_even_above_the_scope(self, store: Store) -> None:
        await self._states_and_alarms(store)
        above, mine, theirs, north = await store.device_tallies([SHINAN, ST_A, ST_B, E_C], STREET_A)
        assert above is None and theirs is None and north is None
        assert mine == DeviceTally({DeviceStatus.NEW: 4, DeviceStatus.ONLINE: 1, DeviceStatus.ALARM: 1}, 2)
        assert await store.device_tallies([E_A], NOBODY) == [None]


# --------------------------------------------------------------------------------------------
# save_device_states
# --------------------------------------------------------------------------------------------


class TestSaveDeviceStates:
    async def test_the_latest_state_is_replaced_and_the_registration_kept(self, store: Store) -> None:
        await fleet(store)
        at = T + dt.timedelta(minutes=3)
        await store.save_device_states([DeviceState("GD-A-01", DeviceStatus.ONLINE, T, {"lel": 3.5, "alarm": False, "code": "E0"}, reading_at=at)])
        [device] = await store.devices(["GD-A-01"], EVERYTHING)
        assert device is not None
        assert (device.status, device.last_seen, device.values, device.reading_at) == (
            DeviceStatus.ONLINE, T, {"lel": 3.5, "alarm": False, "code": "E0"}, at
        )
        assert replace(device, status=DeviceStatus.NEW, last_seen=None, values={}, reading_at=None) == gas("GD-A-01")
        # values are replaced, not merged; a state that does not say keeps the reading time
        later = T + dt.timedelta(minutes=9)
        await store.save_device_states([DeviceState("GD-A-01", DeviceStatus.OFFLINE, later, {"lel": 1.0})])
        [device] = await store.devices(["GD-A-01"], EVERYTHING)
        assert device is not None
        assert (device.status, device.last_seen, device.values, device.reading_at) == (DeviceStatus.OFFLINE, later, {"lel": 1.0}, at)

    async def test_the_last_state_of_a_code_wins_and_unknown_codes_are_ignored(self, store: Store) -> None:
        await fleet(store)
        await store.save_device_states([
            DeviceState("DT-A11-01", DeviceStatus.ONLINE, T, {"floor": 1.0}),
            DeviceState("NOT-REGISTERED", DeviceStatus.ONLINE, T, {}),
            DeviceState("DT-A11-01", DeviceStatus.ALARM, T + dt.timedelta(seconds=1), {"floor": 2.0}),
        ])
        [device, missing] = await store.devices(["DT-A11-01", "NOT-REGISTERED"], EVERYTHING)
        assert missing is None
        assert device is not None and (device.status, device.values) == (DeviceStatus.ALARM, {"floor": 2.0})
        await store.save_device_states([])
        assert await store.device_count(EVERYTHING) == len(FLEET)

    async def test_saving_the_same_states_again_changes_nothing(self, store: Store) -> None:
        await fleet(store)
        states = [DeviceState(d.code, DeviceStatus.ONLINE, T, {"v": 1.0}, reading_at=T) for d in FLEET]
        await store.save_device_states(states)
        once = await every_device(store)
        await store.save_device_states(states)
        assert await every_device(store) == once


# --------------------------------------------------------------------------------------------
# add_readings, readings, prune_readings
# --------------------------------------------------------------------------------------------


class TestReadings:
    async def test_readings_are_added_and_read_newest_first(self, store: Store) -> None:
        await fleet(store)
        batch = [Reading("DT-A11-01", T + dt.timedelta(minutes=m), {"floor": float(m), "running": m % 2 == 0}) for m in range(30)]
        batch += [
            Reading("UNKNOWN-1", T, {"floor": 1.0}),  # skipped
            Reading("GD-B-01", T, {"lel": 2.5, "state": "ok"}, kind="event", received_at=T + dt.timedelta(seconds=2)),
        ]
        assert await store.add_readings(batch) == 31
        assert await store.add_readings([]) == 0
        newest = await store.readings("DT-A11-01", EVERYTHING, first=3)
        assert newest == [
            Reading("DT-A11-01", T + dt.timedelta(minutes=m), {"floor": float(m), "running": m % 2 == 0}, received_at=T + dt.timedelta(minutes=m))
            for m in (29, 28, 27)
        ]
        assert len(await store.readings("DT-A11-01", EVERYTHING)) == 30  # first defaults to 100
        since = await store.readings("DT-A11-01", EVERYTHING, since=T + dt.timedelta(minutes=20), first=100)
        assert [r.at for r in since] == [T + dt.timedelta(minutes=m) for m in range(29, 19, -1)]  # since is inclusive
        assert len(await store.readings("DT-A11-01", EVERYTHING, first=0)) == 1  # first clamped
        assert await store.readings("GD-B-01", EVERYTHING) == [
            Reading("GD-B-01", T, {"lel": 2.5, "state": "ok"}, kind="event", received_at=T + dt.timedelta(seconds=2))
        ]
        assert await store.readings("UNKNOWN-1", EVERYTHING) == []

    async def test_times_keep_their_instant_whatever_the_zone(self, store: Store) -> None:
        await fleet(store)
        at = dt.datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=CST)
        await store.add_readings([Reading("GD-A-01", at, {"lel": 1.0})])
        [found] = await store.readings("GD-A-01", EVERYTHING)
        assert found.at == at and found.at.utcoffset() is not None

    async def test_out_of_scope_readings_are_absent(self, store: Store) -> None:
        await fleet(store)
        await store.add_readings([Reading("GD-B-01", T, {"lel": 1.0}), Reading("GD-A-01", T, {"lel": 2.0})])
        assert await store.readings("GD-B-01", STREET_A) == []
        assert len(await store.readings("GD-A-01", STREET_A)) == 1
        assert await store.readings("GD-A-01", NOBODY) == []

    async def test_a_bad_kind_is_refused_and_writes_nothing_of_its_batch(self, store: Store) -> None:
        await fleet(store)
        with pytest.raises(InvalidInput, match=re.escape("reading of 'GD-A-01' kind: 'status' must be telemetry or event")):
            await store.add_readings([Reading("GD-A-02", T, {}), Reading("GD-A-01", T, {"lel": 1.0}), Reading("GD-A-01", T, {}, kind="status")])
        assert await store.readings("GD-A-01", EVERYTHING) == []


class TestPruneReadings:
    async def test_readings_taken_before_the_retention_are_deleted_of_every_device(self, store: Store) -> None:
        await fleet(store)
        await store.add_readings([Reading("DT-A11-01", T + dt.timedelta(seconds=s), {"floor": 1.0}) for s in range(40)])
        await store.add_readings([Reading("WP-C-01", T + dt.timedelta(seconds=s), {"flow": 1.0}, kind="event") for s in (5, 25)])
        assert await store.prune_readings(T + dt.timedelta(seconds=25)) == 26  # strictly before: 25 of one, 1 of the other
        assert await store.prune_readings(T + dt.timedelta(seconds=25)) == 0
        kept = await store.readings("DT-A11-01", EVERYTHING, first=100)
        assert len(kept) == 15 and kept[-1].at == T + dt.timedelta(seconds=25)
        assert [r.at for r in await store.readings("WP-C-01", EVERYTHING)] == [T + dt.timedelta(seconds=25)]
        assert await store.prune_readings(T - dt.timedelta(days=1)) == 0

    async def test_pruning_an_empty_store_deletes_nothing(self, store: Store) -> None:
        await store.write(fixture_city())
        assert await store.prune_readings(T) == 0


# --------------------------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------------------------


class TestRaiseAlarm:
    async def test_the_store_numbers_alarms_by_day_in_china_and_fills_in_the_device(self, store: Store) -> None:
        await fleet(store)
        first = await store.raise_alarm(raised("DT-A11-01", place_code="wrong", point=None, device_type=DeviceType.TRANSFORMER))
        assert first == replace(raised("DT-A11-01"), id="AL20260302000001", place_code=EN_A11, point=Point(120.3821, 36.0671))
        second = await store.raise_alarm(raised("DT-A12-01"))
        assert second is not None and second.id == "AL20260302000002" and second.point is None
        # 00:30 the next day in China
        next_day = await store.raise_alarm(raised("DT-A11-01", "elevator.door", T + dt.timedelta(hours=15), message="门故障"))
        assert next_day is not None and next_day.id == "AL20260303000001"
        chosen = await store.raise_alarm(raised("GD-A-01", "gas.high", id="MY-ALARM-1"))
        assert chosen is not None and chosen.id == "MY-ALARM-1"
        assert await store.alarms([first.id], EVERYTHING) == [first]

    async def test_one_active_alarm_per_device_and_rule(self, store: Store) -> None:
        await fleet(store)
        first = await store.raise_alarm(raised("DT-A11-01"))
        assert first is not None and first.active
        assert await store.raise_alarm(raised("DT-A11-01", at=T + dt.timedelta(minutes=1))) is None
        assert await store.raise_alarm(raised("DT-A11-01", "elevator.door", message="门故障")) is not None  # another rule
        assert await store.raise_alarm(raised("DT-A11-02")) is not None  # another device
        await store.clear_alarm("DT-A11-01", "elevator.trapped", T + dt.timedelta(minutes=2))
        again = await store.raise_alarm(raised("DT-A11-01", at=T + dt.timedelta(minutes=3)))
        assert again is not None and again.id != first.id
        assert await store.alarm_count(EVERYTHING) == 4

    async def test_concurrent_raisers_store_exactly_one_alarm(self, store: Store) -> None:
        await fleet(store)
        results = await asyncio.gather(*(store.raise_alarm(raised("DT-A11-01", at=T + dt.timedelta(seconds=i))) for i in range(10)))
        assert len([r for r in results if r is not None]) == 1
        # the same message raced by several consumers: one alarm too
        same = await asyncio.gather(*(store.raise_alarm(raised("DT-A11-02")) for _ in range(6)))
        assert len([r for r in same if r is not None]) == 1
        assert await store.alarm_count(EVERYTHING, active=True) == 2
        # raisers of different rules at once each get their own id
        others = await asyncio.gather(*(store.raise_alarm(raised("GD-A-01", f"gas.rule{i}")) for i in range(8)))
        ids = [o.id for o in others if o is not None]
        assert len(ids) == 8 and len(set(ids)) == 8 and all(i.startswith("AL20260302") for i in ids)
        assert await store.alarm_count(EVERYTHING) == 10

    async def test_bad_alarms_are_refused_and_store_nothing(self, store: Store) -> None:
        await fleet(store)
        first = await store.raise_alarm(raised("DT-A11-01"))
        assert first is not None
        with pytest.raises(InvalidInput, match=re.escape("device_code: 'NOT-REGISTERED' is not a registered device")):
            await store.raise_alarm(raised("NOT-REGISTERED"))
        with pytest.raises(StoreError, match=f"alarm {first.id} already exists"):
            await store.raise_alarm(raised("DT-A11-01", "elevator.fault", id=first.id))
        with pytest.raises(InvalidInput, match="alarm of 'DT-A11-01' cleared_at"):
            await store.raise_alarm(raised("DT-A11-01", "elevator.fault", cleared_at=T))
        with pytest.raises(InvalidInput, match="alarm of 'DT-A11-01' message"):
            await store.raise_alarm(raised("DT-A11-01", "elevator.fault", message=" "))
        with pytest.raises(InvalidInput, match="alarm of 'DT-A11-01' rule"):
            await store.raise_alarm(raised("DT-A11-01", ""))
        with pytest.raises(InvalidInput, match="alarm of 'DT-A11-01' id"):
            await store.raise_alarm(raised("DT-A11-01", "elevator.fault", id="X" * 33))
        assert await walk_alarms(store, EVERYTHING, 10) == [first.id]
        # the refused raises took nothing: the rule still raises
        assert await store.raise_alarm(raised("DT-A11-01", "elevator.fault")) is not None

    async def test_a_days_numbers_run_out_with_a_clear_error(self, store: Store) -> None:
        await fleet(store)
        assert await store.raise_alarm(raised("DT-A11-01", id="AL20260302999999")) is not None
        with pytest.raises(StoreError, match="more than 999999 alarms raised on 20260302: the day's sequence is full"):
            await store.raise_alarm(raised("DT-A11-01", "elevator.door", message="门故障"))
        # ids of another shape do not count; another day has its own sequence
        assert await store.raise_alarm(raised("DT-A11-01", "elevator.door", id="AL2026030299999999")) is not None
        later = await store.raise_alarm(raised("DT-A11-01", "elevator.fault", T + dt.timedelta(days=1)))
        assert later is not None and later.id == "AL20260303000001"


class TestClearAlarm:
    async def test_clearing_returns_the_alarm_cleared_once(self, store: Store) -> None:
        await fleet(store)
        first = await store.raise_alarm(raised("DT-A11-01"))
        other = await store.raise_alarm(raised("DT-A11-01", "elevator.door", message="门故障"))
        assert first is not None and other is not None
        at = T + dt.timedelta(minutes=2)
        assert await store.clear_alarm("DT-A11-01", "elevator.trapped", at) == replace(first, cleared_at=at)
        assert await store.clear_alarm("DT-A11-01", "elevator.trapped", at + dt.timedelta(minutes=1)) is None
        assert await store.clear_alarm("DT-A11-02", "elevator.trapped", at) is None  # never raised
        assert await store.clear_alarm("NOT-REGISTERED", "elevator.trapped", at) is None
        assert await store.alarms([first.id, other.id], EVERYTHING) == [replace(first, cleared_at=at), other]

    async def test_concurrent_clears_clear_once(self, store: Store) -> None:
        await fleet(store)
        first = await store.raise_alarm(raised("DT-A11-01"))
        assert first is not None
        results = await asyncio.gather(*(store.clear_alarm("DT-A11-01", "elevator.trapped", T + dt.timedelta(seconds=i + 1)) for i in range(6)))
        cleared = [r for r in results if r is not None]
        assert len(cleared) == 1
        [stored] = await store.alarms([first.id], EVERYTHING)
        assert stored == cleared[0]


class TestAcknowledgeAlarm:
    async def test_the_first_acknowledgement_stands(self, store: Store) -> None:
        await fleet(store)
        alarm = await store.raise_alarm(raised("DT-A11-01"))
        assert alarm is not None
        at = T + dt.timedelta(minutes=1)
        first = await store.acknowledge_alarm(alarm.id, actor="物业值班员 李四", at=at, scope=Scope.of(E_A))
        second = await store.acknowledge_alarm(alarm.id, actor="街道 王五", at=at + dt.timedelta(minutes=8), scope=EVERYTHING)
        assert first == second == replace(alarm, acknowledged_at=at, acknowledged_by="物业值班员 李四")
        assert await store.alarms([alarm.id], EVERYTHING) == [first]
        # a cleared alarm may still be acknowledged
        other = await store.raise_alarm(raised("DT-A11-02"))
        assert other is not None
        cleared = await store.clear_alarm("DT-A11-02", "elevator.trapped", at)
        assert cleared is not None
        acknowledged = await store.acknowledge_alarm(other.id, actor="李四", at=at, scope=EVERYTHING)
        assert acknowledged == replace(cleared, acknowledged_at=at, acknowledged_by="李四")

    async def test_concurrent_acknowledgements_keep_one(self, store: Store) -> None:
        await fleet(store)
        alarm = await store.raise_alarm(raised("DT-A11-01"))
        assert alarm is not None
        results = await asyncio.gather(
            *(store.acknowledge_alarm(alarm.id, actor=f"值班员{i}", at=T + dt.timedelta(seconds=i), scope=EVERYTHING) for i in range(6))
        )
        [stored] = await store.alarms([alarm.id], EVERYTHING)
        assert stored is not None and stored.acknowledged_by is not None
        assert all(result == stored for result in results)

    async def test_out_of_scope_is_refused_exactly_as_unknown(self, store: Store) -> None:
        await fleet(store)
        theirs = await store.raise_alarm(raised("GD-B-01", "gas.high", device_type=DeviceType.GAS_DETECTOR))
        assert theirs is not None
        with pytest.raises(InvalidInput) as outside:
            await store.acknowledge_alarm(theirs.id, actor="街道值班员", at=T, scope=STREET_A)
        with pytest.raises(InvalidInput) as unknown:
            await store.acknowledge_alarm("AL19990101000001", actor="街道值班员", at=T, scope=STREET_A)
        assert str(outside.value) == f"id: '{theirs.id}' is not an alarm you can see"
        assert str(unknown.value) == "id: 'AL19990101000001' is not an alarm you can see"
        with pytest.raises(InvalidInput, match="is not an alarm you can see"):
            await store.acknowledge_alarm(theirs.id, actor="nobody", at=T, scope=NOBODY)
        [untouched] = await store.alarms([theirs.id], EVERYTHING)
        assert untouched == theirs

    async def test_a_bad_actor_is_refused(self, store: Store) -> None:
        await fleet(store)
        alarm = await store.raise_alarm(raised("DT-A11-01"))
        assert alarm is not None
        for actor in ("", "  ", "x" * 201):
            with pytest.raises(InvalidInput, match="actor"):
                await store.acknowledge_alarm(alarm.id, actor=actor, at=T, scope=EVERYTHING)
        assert await store.alarms([alarm.id], EVERYTHING) == [alarm]


class TestAlarmCases:
    """An alarm and the case opened for it (`link_alarm_case`, and `raise_alarm` with a case)."""

    async def test_an_alarm_raised_with_its_case_keeps_it(self, store: Store) -> None:
        await fleet(store)
        case = await open_case(store)
        alarm = await store.raise_alarm(raised("DT-A11-01", case_id=case.id))
        assert alarm is not None and alarm.case_id == case.id

    async def test_an_alarm_raised_with_an_unknown_case_is_refused(self, store: Store) -> None:
        await fleet(store)
        with pytest.raises(InvalidInput, match=re.escape("case_id: 'GD19990101000001' is not a stored case")):
            await store.raise_alarm(raised("DT-A11-01", case_id="GD19990101000001"))
        assert await store.alarm_count(EVERYTHING) == 0
        assert await store.raise_alarm(raised("DT-A11-01")) is not None

    async def test_the_case_opened_for_an_alarm_is_recorded(self, store: Store) -> None:
        await fleet(store)
        alarm = await store.raise_alarm(raised("DT-A11-01"))
        assert alarm is not None and alarm.case_id is None
        case = await open_case(store)
        await store.link_alarm_case(alarm.id, case.id)
        await store.link_alarm_case(alarm.id, case.id)  # again: the same
        assert await store.alarms([alarm.id], EVERYTHING) == [replace(alarm, case_id=case.id)]
        assert [a.case_id for a in await every_active_alarm(store)] == [case.id]

    async def test_an_unknown_alarm_or_case_is_refused_and_changes_nothing(self, store: Store) -> None:
        await fleet(store)
        alarm = await store.raise_alarm(raised("DT-A11-01"))
        assert alarm is not None
        case = await open_case(store)
        with pytest.raises(InvalidInput, match=re.escape("case_id: 'GD19990101000001' is not a stored case")):
            await store.link_alarm_case(alarm.id, "GD19990101000001")
        with pytest.raises(InvalidInput, match=re.escape("alarm_id: 'AL19990101000001' is not a stored alarm")):
            await store.link_alarm_case("AL19990101000001", case.id)
        assert await store.alarms([alarm.id], EVERYTHING) == [alarm]


class TestAlarms:
    async def test_one_answer_per_id_in_order_none_when_missing_or_out_of_scope(self, store: Store) -> None:
        await fleet(store)
        mine = await store.raise_alarm(raised("DT-A11-01"))
        theirs = await store.raise_alarm(raised("WP-C-01", "pump.stopped", device_type=DeviceType.WATER_PUMP, message="水泵停机"))
        assert mine is not None and theirs is not None
        ids = [theirs.id, "AL19990101000001", mine.id, theirs.id]
        assert await store.alarms(ids, EVERYTHING) == [theirs, None, mine, theirs]
        assert await store.alarms(ids, STREET_A) == [None, None, mine, None]
        assert await store.alarms(ids, NORTH) == [theirs, None, None, theirs]
        assert await store.alarms(ids, NOBODY) == [None] * 4
        assert await store.alarms([], EVERYTHING) == []


async def _nine_alarms(store: Store) -> list[Alarm]:
    """Nine alarms on three devices (two in street A, one in street B), raised in pairs at one
    moment; the first and the fifth cleared."""
    await fleet(store)
    made: list[Alarm] = []
    for index in range(9):
        code = ["DT-A11-01", "DT-A12-01", "GD-B-01"][index % 3]
        alarm = await store.raise_alarm(raised(code, f"rule.{index}", T + dt.timedelta(minutes=index // 2)))
        assert alarm is not None
        made.append(alarm)
    await store.clear_alarm("DT-A11-01", "rule.0", T + dt.timedelta(hours=1))
    await store.clear_alarm("DT-A12-01", "rule.4", T + dt.timedelta(hours=1))
    return made


class TestAlarmPage:
    async def test_pages_run_newest_first_whatever_their_size(self, store: Store) -> None:
        made = await _nine_alarms(store)
        at = {a.id: a.raised_at for a in made}
        for first in (1, 2, 4, 9, 50):
            walked = await walk_alarms(store, EVERYTHING, first)
            assert sorted(walked) == sorted(at) and len(walked) == 9
            assert [at[i] for i in walked] == sorted(at.values(), reverse=True)
        # pairs raised at one moment come in one order, whatever the page size
        assert await walk_alarms(store, EVERYTHING, 1) == await walk_alarms(store, EVERYTHING, 50)
        assert len((await store.alarm_page(EVERYTHING, 0)).items) == 1

    async def test_filters(self, store: Store) -> None:
        made = await _nine_alarms(store)
        every = await walk_alarms(store, EVERYTHING, 50)

        def only(keep: Sequence[int]) -> list[str]:
            wanted = {made[i].id for i in keep}
            return [i for i in every if i in wanted]

        assert await walk_alarms(store, EVERYTHING, 2, active=True) == only([1, 2, 3, 5, 6, 7, 8])
        assert await walk_alarms(store, EVERYTHING, 2, active=False) == only([0, 4])
        assert await walk_alarms(store, EVERYTHING, 2, within=ST_B) == only([2, 5, 8])
        assert await walk_alarms(store, EVERYTHING, 2, within=EN_A12) == only([1, 4, 7])
        assert await walk_alarms(store, EVERYTHING, 2, within=B_A1, device_codes=["DT-A12-01"]) == only([1, 4, 7])
        assert await walk_alarms(store, EVERYTHING, 2, device_codes=["GD-B-01", "DT-A11-01"], active=True) == only([2, 3, 5, 6, 8])
        assert await walk_alarms(store, EVERYTHING, 2, device_codes=[]) == []
        assert await walk_alarms(store, EVERYTHING, 2, since=T + dt.timedelta(minutes=3)) == only([6, 7, 8])  # inclusive
        assert await walk_alarms(store, EVERYTHING, 2, within=UNKNOWN_STREET) == []
        assert await walk_alarms(store, EVERYTHING, 2, within=T_HOUSE) == []

    async def test_out_of_scope_is_not_listed(self, store: Store) -> None:
        made = await _nine_alarms(store)
        every = await walk_alarms(store, EVERYTHING, 50)
        street_a = [i for i in every if i not in {made[2].id, made[5].id, made[8].id}]
        assert await walk_alarms(store, STREET_A, 2) == street_a
        assert await walk_alarms(store, STREET_A, 2, within=SHINAN) == street_a
        assert await walk_alarms(store, STREET_B, 2, within=E_A) == []
        assert await walk_alarms(store, NOBODY, 2) == []

    async def test_a_cursor_not_from_the_list_is_refused(self, store: Store) -> None:
        await _nine_alarms(store)
        device_cursor = (await store.device_page(EVERYTHING, 1)).end_cursor
        for bad in [*garbage_cursors(), encode_cursor("AL19990101000001"), device_cursor]:
            with pytest.raises(InvalidInput, match="is not a cursor from this list"):
                await store.alarm_page(EVERYTHING, 4, bad)


class TestAlarmCount:
    async def test_counts_what_the_pages_list(self, store: Store) -> None:
        await _nine_alarms(store)
        cases: list[tuple[Scope, dict[str, object]]] = [
            (EVERYTHING, {}),
            (EVERYTHING, {"active": True}),
            (EVERYTHING, {"active": False}),
            (EVERYTHING, {"within": ST_B}),
            (EVERYTHING, {"within": EN_A12, "active": True}),
            (EVERYTHING, {"device_codes": ["GD-B-01"]}),
            (EVERYTHING, {"device_codes": []}),
            (EVERYTHING, {"since": T + dt.timedelta(minutes=3)}),
            (EVERYTHING, {"within": UNKNOWN_STREET}),
            (STREET_A, {}),
            (STREET_B, {"within": E_A}),
            (NOBODY, {}),
        ]
        for scope, filters in cases:
            assert await store.alarm_count(scope, **filters) == len(await walk_alarms(store, scope, 4, **filters)), (scope, filters)  # type: ignore[arg-type]
        assert await store.alarm_count(EVERYTHING) == 9
        assert await store.alarm_count(EVERYTHING, active=True) == 7
        assert await store.alarm_count(STREET_A) == 6


# --------------------------------------------------------------------------------------------
# The services over the port
# --------------------------------------------------------------------------------------------


class TestAllDevices:
    async def test_the_whole_registry_unscoped_by_code_with_its_state(self, store: Store) -> None:
        await store.write(fixture_city())
        assert await store.all_devices() == []
        await fleet(store)
        await store.save_device_states([DeviceState("GD-B-01", DeviceStatus.OFFLINE, T, {"lel": 1.0}, reading_at=T)])
        found = await store.all_devices()
        assert [d.code for d in found] == sorted(d.code for d in FLEET)
        by_code = {d.code: d for d in found}
        assert by_code["GD-B-01"] == replace(gas("GD-B-01", E_B), status=DeviceStatus.OFFLINE, last_seen=T, values={"lel": 1.0}, reading_at=T)
        assert by_code["DT-A11-01"] == elevator("DT-A11-01")
        assert await every_device(store) == found  # the service over it
        many = [gas(f"GX-{n:04d}", E_C) for n in range(MAX_PAGE + 3)]  # more than a page
        await store.register_devices(many)
        assert len(await store.all_devices()) == len(FLEET) + len(many)


class TestDeviceServices:

    async def test_every_active_alarm_oldest_first(self, store: Store) -> None:
        made = await _nine_alarms(store)
        oldest_first = list(reversed(await walk_alarms(store, EVERYTHING, 50, active=True)))
        assert [a.id for a in await every_active_alarm(store)] == oldest_first
        assert {made[0].id, made[4].id}.isdisjoint(oldest_first)

    async def test_summaries_count_a_places_devices_by_status_and_its_active_alarms(self, store: Store) -> None:
        await fleet(store)
        await store.save_device_states([
            DeviceState("DT-A11-01", DeviceStatus.ALARM, T, {"trapped": True}),
            DeviceState("GD-A-01", DeviceStatus.ONLINE, T, {"lel": 3.0}),
            DeviceState("GD-B-01", DeviceStatus.OFFLINE, T, {}),
        ])
        await store.raise_alarm(raised("DT-A11-01"))
        await store.raise_alarm(raised("GD-A-01", "gas.low", device_type=DeviceType.GAS_DETECTOR))
        await store.raise_alarm(raised("GD-B-01", "device.offline", device_type=DeviceType.GAS_DETECTOR))
        await store.clear_alarm("GD-A-01", "gas.low", T)
        district, street, estate, entrance, north = await device_summaries(store, [SHINAN, ST_A, E_A, EN_A11, SHIBEI], EVERYTHING)
        assert district == DeviceSummary(total=7, new=4, online=1, offline=1, alarm=1, active_alarms=2)
        assert street == estate == DeviceSummary(total=6, new=4, online=1, offline=0, alarm=1, active_alarms=1)
        assert entrance == DeviceSummary(total=2, new=1, online=0, offline=0, alarm=1, active_alarms=1)
        assert north == DeviceSummary(total=1, new=1)
        mine, above, theirs, unknown = await device_summaries(store, [ST_A, SHINAN, ST_B, UNKNOWN_STREET], STREET_A)
        assert mine == street and above is None and theirs is None and unknown is None


# --------------------------------------------------------------------------------------------
# Redelivery
# --------------------------------------------------------------------------------------------


class TestRedeliveredDeviceMessages:
    """Ingestion acknowledges an MQTT message only once what it wrote is committed, so a crash
    makes the broker send it again: the store must take it as the same message."""

    async def _detector(self, store: Store) -> str:
        await store.write(fixture_city())
        await store.register_devices([Device("GC-0001", DeviceType.GAS_DETECTOR, "GT-1", E_A, 30)])
        return "GC-0001"

    async def test_a_reading_delivered_again_is_stored_once(self, store: Store) -> None:
        code = await self._detector(store)
        first = [Reading(code, T + dt.timedelta(seconds=s), {"lel": float(s)}) for s in range(5)]
        await store.add_readings(first)
        # the same five again, in a batch with a repeat of its own and two new ones at a stored time
        await store.add_readings([
            *first,
            first[0],
            Reading(code, T, {"lel": 9.5}),  # other values at the same time: another reading
            Reading(code, T, {"lel": 0.0}, kind="event"),  # another stream
        ])
        stored = await store.readings(code, EVERYTHING, first=100)
        assert len(stored) == 7
        assert sorted((r.at, r.kind, r.values["lel"]) for r in stored) == sorted(
            [(r.at, "telemetry", r.values["lel"]) for r in first] + [(T, "telemetry", 9.5), (T, "event", 0.0)]
        )

    async def test_a_reading_delivered_again_by_racing_writers_is_stored_once(self, store: Store) -> None:
        code = await self._detector(store)
        batch = [Reading(code, T + dt.timedelta(seconds=s), {"lel": float(s)}) for s in range(20)]
        await asyncio.gather(*(store.add_readings(batch) for _ in range(4)))
        assert len(await store.readings(code, EVERYTHING, first=100)) == 20

    async def test_a_raise_delivered_again_raises_nothing_even_after_its_clear(self, store: Store) -> None:
        code = await self._detector(store)
        alarm = Alarm("", code, DeviceType.GAS_DETECTOR, "gas.high", Severity.CRITICAL, "可燃气体浓度高限报警", T, E_A, value="60.0 %LEL")
        first = await store.raise_alarm(alarm)
        assert first is not None
        assert await store.raise_alarm(alarm) is None  # active
        assert await store.clear_alarm(code, "gas.high", T + dt.timedelta(seconds=1)) is not None
        assert await store.raise_alarm(alarm) is None  # cleared, but raised at this very time before
        assert await store.clear_alarm(code, "gas.high", T + dt.timedelta(seconds=1)) is None  # its clear again: nothing
        later = await store.raise_alarm(replace(alarm, raised_at=T + dt.timedelta(seconds=2)))
        assert later is not None and later.id != first.id
        assert await walk_alarms(store, EVERYTHING, 10) == [later.id, first.id]

    async def test_the_newest_reading_time_is_kept_with_the_state(self, store: Store) -> None:
        code = await self._detector(store)
        [device] = await every_device(store)
        assert device.reading_at is None
        at = T + dt.timedelta(minutes=5)
        await store.save_device_states([DeviceState(code, DeviceStatus.ONLINE, T, {"lel": 1.0}, reading_at=at)])
        [device] = await every_device(store)
        assert device.reading_at == at and device.last_seen == T
        # a state that does not say keeps the stored time
        await store.save_device_states([DeviceState(code, DeviceStatus.OFFLINE, T + dt.timedelta(minutes=9), {})])
        [device] = await every_device(store)
        assert device.reading_at == at and device.status is DeviceStatus.OFFLINE
