"""The Open311 client source against the hub's own Open311 endpoint, served on loopback over a
second store full of cases: the shared connector contract, then windows and status mapping."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Rejected, SourceRecord
from connectors.cityops.linking import source_case_id
from connectors.open311.client import Open311Source
from connectors.runner import sync
from graph.cases import CaseCategory, CaseSource, CaseStatus, Point
from graph.casework import Casework
from graph.ciphers.sealing import Sealer
from graph.ledger import Reason, RunStatus
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from hub.auth.issuing import issue_token
from tests.connectors.harness import ConnectorContract
from tests.connectors.test_cityops_feed import closed_port
from tests.case_city import DAY, City, build_city, case_at, serve_hub

EVERYTHING = Scope.everything()
CASES = 180
LIFECYCLE = [CaseStatus.DISPATCHED, CaseStatus.SIGNED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED]


@dataclass
class Remote:
    """The other hub: its Open311 base URL, admin token, and a way to act on its store."""

    url: str
    token: str
    city: City
    loop: asyncio.AbstractEventLoop
    store: SqlStore
    opened: list[str]

    def run(self, work: Any) -> Any:
        """Run a coroutine on the remote server's own loop (its store lives there)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)


@pytest.fixture(scope="module")
async def remote(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Remote]:
    folder = tmp_path_factory.mktemp("open311-remote")
    city = await build_city(folder / "city.sqlite")
    shutil.copy(city.path, folder / "remote.sqlite")
    now = dt.datetime.now(dt.timezone.utc)

    async def prepare(store: SqlStore, shared: dict[str, Any]) -> None:
        rng = random.Random(21)
        opened: list[str] = []
        for index in range(CASES):
            estate = rng.choice(city.estates)
            at = now - dt.timedelta(days=rng.randint(1, 150), minutes=index)
            category = rng.choice(list(CaseCategory))
            case = await Casework(store).open_case(case_at(estate.code, at, category=category, description=f"第{index}号诉求"), actor="12345")
            for status in LIFECYCLE[: rng.randint(0, len(LIFECYCLE))]:
                await Casework(store).move_case(case.id, status, actor="物业", note=f"{status.label}了", at=at + dt.timedelta(hours=1), scope=EVERYTHING)
            opened.append(case.id)
        shared.update(token=await issue_token(store, city.keys, "admin", "*", "open311 reader", DAY), opened=opened)

    with serve_hub(f"sqlite:///{folder / 'remote.sqlite'}", city.keys, prepare) as (base, shared):
        yield Remote(base + "/open311/v2", shared["token"], city, shared["loop"], shared["store"], shared["opened"])


def configured(url: str, token: str, **extra: Any) -> Open311Source:
    values = {"url": url, "api_key": token, "window_days": 20, **extra}
    return Open311Source("open311", Open311Source.config_schema.validate("open311", values))


@dataclass
class ClientFixture:
    store: SqlStore
    remote: Remote
    total: int
    unplaced: int = 0
    """Requests the remote holds with no place (added by the bad-records test): set aside here."""
    handed: list[Open311Source] = field(default_factory=list)
    moved: int = 0

    def _source(self, url: str) -> Open311Source:
        source = configured(url, self.remote.token)
        self.handed.append(source)
        return source

    async def source(self) -> Open311Source:
        return self._source(self.remote.url)

    async def down_source(self) -> Open311Source:
        return self._source(closed_port() + "/open311/v2")

    async def change(self) -> int:
        async def move() -> int:
            moved = 0
            for key in self.remote.opened:
                [case] = await self.remote.store.cases([key], EVERYTHING)
                assert case is not None
                if case.status is CaseStatus.ACCEPTED and moved < 12:
                    await Casework(self.remote.store).move_case(key, CaseStatus.DISPATCHED, actor="派单员", note="派至物业", at=dt.datetime.now(dt.timezone.utc), scope=EVERYTHING)
                    moved += 1
            return moved

        self.moved = self.remote.run(move())
        return self.moved

    async def add_bad(self) -> dict[str, Reason]:
        async def add() -> dict[str, Reason]:
            at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
            beijing = await Casework(self.remote.store).open_case(case_at(None, at, point=Point(116.397, 39.909)), actor="x")
            vague = await Casework(self.remote.store).open_case(case_at(None, at, address="青岛市市南区某某花园3号楼"), actor="x")
            return {beijing.id: Reason.UNMATCHED_ADDRESS, vague.id: Reason.UNMATCHED_ADDRESS}

        bad: dict[str, Reason] = self.remote.run(add())
        return bad

    async def snapshot(self) -> Any:
        page = await self.store.case_page(EVERYTHING, 500)
        cases = [replace(case, provenance=None) for case in page.items]
        return cases, await self.store.case_events([c.id for c in cases], EVERYTHING)


@pytest.fixture
async def fixture(remote: Remote, tmp_path: Path) -> AsyncIterator[ClientFixture]:
    path = tmp_path / "hub.sqlite"
    shutil.copy(remote.city.path, path)
    store = await open_store(f"sqlite:///{path}", sealer=Sealer.generate())
    cases = remote.run(_all(remote.store))
    made = ClientFixture(store, remote, total=len(cases), unplaced=sum(1 for c in cases if c.place_code is None))
    try:
        yield made
    finally:
        for source in made.handed:
            await source.close()
        await store.close()


async def _all(store: SqlStore) -> list[Any]:
    page = await store.case_page(EVERYTHING, 500)
    return list(page.items)


class TestOpen311Contract(ConnectorContract):
    pass


async def test_requests_land_as_cases_with_their_step_place_and_category(fixture: ClientFixture) -> None:
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=100)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counts.read == fixture.total and run.counts.dead_lettered == fixture.unplaced
    originals = fixture.remote.run(fixture.remote.store.cases(fixture.remote.opened, EVERYTHING))
    copies = await fixture.store.cases([source_case_id("open311", key) for key in fixture.remote.opened], EVERYTHING)
    for original, copy in zip(originals, copies):
        assert copy is not None and original is not None
        assert (copy.status, copy.category, copy.place_code) == (original.status, original.category, original.place_code)
        assert copy.source is CaseSource.OPEN311 and copy.external_id == original.id and copy.push_to is None
        assert copy.reported_at == original.reported_at.replace(microsecond=0)


async def test_a_full_window_is_split_until_it_fits(fixture: ClientFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.open311.client as client

    monkeypatch.setattr(client, "CAP", 40)  # the hub answers up to 1,000; pretend it stops at 40
    source = configured(fixture.remote.url, fixture.remote.token, window_days=366)
    try:
        run = await sync(fixture.store, source, batch_size=100)
    finally:
        await source.close()
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counts.read == fixture.total and run.counts.duplicates == 0


async def test_a_request_without_a_place_is_set_aside_with_what_was_tried(fixture: ClientFixture) -> None:
    source = await fixture.source()
    [stream] = source.streams()
    record = SourceRecord("requests", "R1", "x", {
        "service_request_id": "R1", "status": "open", "service_code": "pothole", "service_name": "Pothole",
        "requested_datetime": "2026-03-02T09:30:00+08:00", "address_id": "ext-881", "lat": 40.7, "long": -74.0,
    })
    [verdict] = await stream.link([record], fixture.store)
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.UNMATCHED_ADDRESS
    assert "point -74.000000,40.700000" in verdict.detail
    bad_time = SourceRecord("requests", "R2", "x", {**record.data, "service_request_id": "R2", "requested_datetime": "yesterday"})
    [verdict] = await stream.link([bad_time], fixture.store)
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.SCHEMA_MISMATCH and "requested_datetime" in verdict.detail


async def test_a_wrong_key_fails_the_check_without_showing_the_key(fixture: ClientFixture) -> None:
    source = configured(fixture.remote.url, "hub1.not-a-real-token")
    try:
        check = await source.check()
    finally:
        await source.close()
    assert not check.ok and "401" in check.detail and "not-a-real-token" not in check.detail
