"""hub.demo.facilities on the conformance suite's city and device fleet (the example street,
香港中路街道, is its street A): every elevator, pump, transformer and smoke detector gets a life
record with a year of history that folds to the record stored, loading again loads nothing,
and the overdue sweep raises the example elevator's maintenance alarm and opens its case,
dispatched to the firm managing its estate."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.cases import CaseSource, CaseStatus
from graph.devices import DeviceType
from graph.facilities.intervals import Intervals
from graph.facilities.life import fold
from graph.facilities.records import EventKind
from graph.facilities.service import Facilities
from graph.scope import Scope
from graph.store import Store
from hub.demo.facilities import KINDS, build_demo_facilities, history
from tests import backends
from tests.graph.conformance import FIRM_2, ST_A
from tests.graph.conformance_devices import FLEET, fleet

EVERYTHING = Scope.everything()
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)
EXAMPLE = min(d.code for d in FLEET if d.type is DeviceType.ELEVATOR and d.place_code.startswith(ST_A))
"""The example street's first elevator, by code: the one always left overdue."""


@pytest.fixture
async def store(request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    opened = await backends.open_fresh("sqlite", request, Path(sqlite_path).parent)
    await fleet(opened)
    try:
        yield opened
    finally:
        await backends.discard(opened)


async def test_the_demo_facilities_and_their_overdue_elevator(store: Store) -> None:
    made = await build_demo_facilities(store, 7, now=NOW)
    kept = sorted(d.code for d in FLEET if d.type in KINDS)
    assert made.records == len(kept) and made.example_overdue == EXAMPLE
    assert made.overdue_maintenance >= 1
    lives = await store.facilities(kept, EVERYTHING)
    assert all(life is not None and life.contractor_code and life.registration_number and life.last_inspected_at for life in lives)
    for device in FLEET:
        if device.type not in KINDS:
            continue
        events = history(device, 7, NOW, Intervals(), force_overdue=device.code == EXAMPLE)
        assert (await store.facilities([device.code], EVERYTHING))[0] == fold(device.code, device.type, device.place_code, events, Intervals())
        maintained = [e.at for e in events if e.kind is EventKind.MAINTENANCE]
        # within the contract: from a year and up to 60 days ago
        assert all(NOW - dt.timedelta(days=430) < at < NOW for at in maintained)
    [example] = await store.facilities([EXAMPLE], EVERYTHING)
    assert example is not None and example.maintenance_due_at is not None and example.maintenance_due_at < NOW
    assert (await build_demo_facilities(store, 7, now=NOW)).records == 0
    swept = await Facilities(store, clock=lambda: NOW).overdue_sweep()
    assert swept.raised >= 1 and swept.cases == swept.raised
    [alarm] = [a for a in (await store.alarm_page(EVERYTHING, 50, device_codes=[EXAMPLE])).items if a.rule == "maintenance.overdue"]
    assert alarm.case_id is not None
    [case] = await store.cases([alarm.case_id], EVERYTHING)
    assert case is not None and case.source is CaseSource.DEVICE_ALARM and case.status is CaseStatus.DISPATCHED and case.firm_code == FIRM_2
