"""`hub serve`'s background runs the facilities' overdue sweep: an elevator whose maintenance
fell due gets its `maintenance.overdue` alarm and its case within a sweep, announced on the
event bus, and nothing more on the sweeps after."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.events import EventBus, Topic
from graph.facilities.service import Facilities
from graph.scope import Scope
from graph.store import Store
from hub.background import Background
from hub.settings import Settings
from tests import backends
from tests.graph.conformance_devices import fleet

EVERYTHING = Scope.everything()


@pytest.fixture
async def store(request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    opened = await backends.open_fresh("sqlite", request, Path(sqlite_path).parent)
    await fleet(opened)
    try:
        yield opened
    finally:
        await backends.discard(opened)


async def test_the_background_sweep_raises_the_overdue_alarm_and_opens_its_case(store: Store) -> None:
    installed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=20)  # an elevator is due every 15 days
    await Facilities(store).record_installation("DT-A11-01", at=installed, scope=EVERYTHING, recorded_by="test")
    bus = EventBus()
    alarms, cases = bus.subscribe(Topic.ALARMS), bus.subscribe(Topic.CASES)
    background = Background(store, bus, Settings(db="unused"), ingest=False, escalate_every=None, overdue_every=0.05)
    await background.start()
    try:
        for _ in range(200):
            page = await store.alarm_page(EVERYTHING, 5, device_codes=["DT-A11-01"])
            if page.items and page.items[0].case_id is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a few more sweeps: nothing more
    finally:
        await background.stop()
    [alarm] = (await store.alarm_page(EVERYTHING, 5, device_codes=["DT-A11-01"])).items
    assert alarm.rule == "maintenance.overdue" and alarm.active and alarm.case_id is not None
    assert alarm.raised_at == installed + dt.timedelta(days=15)
    # announced on the app's bus, so the GraphQL subscriptions see them: the alarm raised once, its case opened
    assert [(e.id, e.kind) for e in alarms.ready()] == [(alarm.id, "raised")]
    assert ("opened" in {e.kind for e in cases.ready() if e.id == alarm.case_id})
