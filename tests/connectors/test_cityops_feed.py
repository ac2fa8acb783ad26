"""The 12345 / city-operations feed connector against the reference feed served on loopback.

`TestCityOpsContract` runs the shared connector contract; the tests after it cover what is
particular to this feed: GCJ-02 points, linking by code, address and point, unmatched
addresses with candidates, and the push-back of the hub's moves through the outbox while the
feed is down and after it comes back.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from connectors.base import Rejected, SourceRecord
from connectors.cityops.feed import CityOpsFeed
from connectors.cityops.gcj02 import gcj_to_wgs, out_of_china, wgs_to_gcj
from connectors.cityops.linking import source_case_id
from connectors.cityops.reference import FeedData, build_orders, feed_app
from connectors.outbox import NOT_SENT, Refused, flush
from connectors.relay import to_bus
from connectors.runner import sync
from graph.cases import CaseSource, CaseStatus
from graph.casework import Casework
from graph.ciphers.sealing import Sealer
from graph.events import EventBus, Topic
from graph.ledger import Reason, RunStatus
from graph.levels import Level
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from hub.demo import generate
from hub.demo.presets import Preset
from hub.loading import load
from tests.connectors.harness import ConnectorContract
from tests.serving import served

TOKEN = "feed-token-7f3a9c"
EVERYTHING = Scope.everything()
ORDERS = 240
TINY = Preset("feed", ("370202",), houses=600, estates=6)


@dataclass
class Feed:
    url: str
    live: FeedData
    template: FeedData
    city: Path

    def reset(self) -> None:
        fresh = self.template.copy()
        with self.live.lock:
            self.live.orders = fresh.orders
            self.live.received.clear()
            self.live.failing = False


@pytest.fixture(scope="module")
async def feed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Feed]:
    city = tmp_path_factory.mktemp("feed") / "city.sqlite"
    store = await open_store(f"sqlite:///{city}", sealer=Sealer.generate())
    await load(store, generate(TINY, seed=3), progress=False)
    template = await build_orders(store, seed=13, count=ORDERS)
    await store.close()
    live = template.copy()

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        server = uvicorn.Server(uvicorn.Config(feed_app(live, token=TOKEN), log_level="warning", lifespan="off"))
        started["server"] = server
        await server.serve(sockets=[sock])

    with served(main, startup_seconds=30) as (url, _):
        yield Feed(url, live, template, city)


def closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def configured(url: str, name: str = "cityops", token: str = TOKEN) -> CityOpsFeed:
    return CityOpsFeed(name, CityOpsFeed.config_schema.validate(name, {"url": url, "token": token, "page_size": 40}))


@dataclass
class FeedFixture:
    store: SqlStore
    feed: Feed
    total: int
    handed: list[CityOpsFeed] = field(default_factory=list)

    def _source(self, url: str) -> CityOpsFeed:
        source = configured(url)
        self.handed.append(source)
        return source

    async def source(self) -> CityOpsFeed:
        return self._source(self.feed.url)

    async def down_source(self) -> CityOpsFeed:
        return self._source(closed_port())

    async def change(self) -> int:
        return self.feed.live.change(25, seed=5, at=self.feed.live.latest() + dt.timedelta(hours=1))

    async def add_bad(self) -> dict[str, Reason]:
        later = self.feed.live.latest() + dt.timedelta(minutes=5)
        base = {
            "channel": "12345热线",
            "category": "报修",
            "title": "路灯不亮",
            "content": "市民反映路灯不亮",
            "status": "受理",
            "reported_at": later.isoformat(),
            "updated_at": later.isoformat(),
        }
        bad = {
            "BAD-CODE": {**base, "house_code": "370202001001GB00001F0001000X"},
            "BAD-STATUS": {**base, "status": "已完成"},
            "BAD-TITLE": {**base, "title": ""},
            "BAD-PLACE": {**base, "address": "北京市东城区东华门街道不存在小区1号楼"},
            "BAD-POINT": {**base, "lng": 116.397, "lat": 39.909},  # 天安门: no estate of this city
            "BAD-CODE-UNKNOWN": {**base, "place_code": "370202099001E009"},
        }
        for no, order in bad.items():
            self.feed.live.put({"order_no": no, **order})
        return {
            "BAD-CODE": Reason.MALFORMED_CODE,
            "BAD-STATUS": Reason.SCHEMA_MISMATCH,
            "BAD-TITLE": Reason.SCHEMA_MISMATCH,
            "BAD-PLACE": Reason.UNMATCHED_ADDRESS,
            "BAD-POINT": Reason.UNMATCHED_ADDRESS,
            "BAD-CODE-UNKNOWN": Reason.UNKNOWN_PLACE,
        }

    async def snapshot(self) -> Any:
        cases = []
        after = None
        while True:
            page = await self.store.case_page(EVERYTHING, 500, after)
            cases += [case.__class__(**{**{s: getattr(case, s) for s in case.__slots__}, "provenance": None}) for case in page.items]  # type: ignore[attr-defined]
            if not page.has_next:
                break
            after = page.end_cursor
        events = await self.store.case_events([c.id for c in cases], EVERYTHING)
        return cases, events


@pytest.fixture
async def fixture(feed: Feed, tmp_path: Path) -> AsyncIterator[FeedFixture]:
    feed.reset()
    path = tmp_path / "hub.sqlite"
    shutil.copy(feed.city, path)
    store = await open_store(f"sqlite:///{path}", sealer=Sealer.generate())
    made = FeedFixture(store, feed, total=ORDERS)
    try:
        yield made
    finally:
        for source in made.handed:
            await source.close()
        await store.close()


class TestCityOpsContract(ConnectorContract):
    pass


# -- GCJ-02 ---------------------------------------------------------------------------------

# published vectors (eviltransform's tests): WGS-84 → GCJ-02 in Shanghai and Shenzhen
VECTORS = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
]


@pytest.mark.parametrize(("wgs", "gcj"), VECTORS)
def test_gcj02_matches_the_published_vectors_both_ways(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    assert wgs_to_gcj(*wgs) == pytest.approx(gcj, abs=1e-9)
    assert gcj_to_wgs(*gcj) == pytest.approx(wgs, abs=1e-8)


def test_gcj02_round_trips_across_qingdao_and_leaves_foreign_points_alone() -> None:
    rng = random.Random(1)
    for _ in range(500):
        lon, lat = rng.uniform(119.5, 121.0), rng.uniform(35.6, 37.1)
        there = wgs_to_gcj(lon, lat)
        assert 100 < _metres(there, (lon, lat)) < 900  # the famous offset of a few hundred metres
        assert _metres(gcj_to_wgs(*there), (lon, lat)) < 0.001
    assert out_of_china(2.35, 48.85) and wgs_to_gcj(2.35, 48.85) == (2.35, 48.85)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    import math

    return math.hypot((a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1])), (a[1] - b[1]) * 110_574)


# -- reading and linking ------------------------------------------------------------------------


async def test_orders_link_by_code_address_and_point_as_cases_that_push_back(fixture: FeedFixture) -> None:
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=100)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counts.dead_lettered == 0 and run.counts.read == ORDERS
    orders = fixture.feed.live.orders
    coded = next(o for o in orders.values() if o.get("house_code"))
    addressed = next(o for o in orders.values() if o.get("address") and not o.get("lng") and not o.get("house_code"))
    pointed = next(o for o in orders.values() if o.get("lng"))
    ids = [source_case_id("cityops", o["order_no"]) for o in (coded, addressed, pointed)]
    by_code, by_address, by_point = await fixture.store.cases(ids, EVERYTHING)
    assert by_code is not None and by_code.place_code == coded["house_code"]
    assert by_code.push_to == "cityops" and by_code.external_id == coded["order_no"]
    assert by_code.source in (CaseSource.HOTLINE, CaseSource.CITY_OPERATIONS)
    assert by_code.status.label == coded["status"]
    assert by_address is not None and by_address.place_code is not None and len(by_address.place_code) == 28
    assert by_address.address == addressed["address"]
    assert by_point is not None and by_point.point is not None and by_point.place_code is not None
    [estate] = await fixture.store.places([by_point.place_code], EVERYTHING)
    assert estate is not None and estate.level is Level.ESTATE
    wgs = gcj_to_wgs(pointed["lng"], pointed["lat"])
    assert (by_point.point.lon, by_point.point.lat) == pytest.approx(wgs, abs=1e-6)
    # a street office sees its street's orders only (the street of the first estate: the tiny
    # city's six estates are spread over six communities, not all streets)
    [estate] = (await fixture.store.subtree(Level.ESTATE, None, EVERYTHING, 1)).items
    [street] = await fixture.store.places([estate.code[:9]], EVERYTHING)
    assert street is not None
    seen = await fixture.store.case_page(Scope.of(street.code), 500)
    assert seen.items and all(c.place_code and c.place_code.startswith(street.code) for c in seen.items)


async def test_a_sync_announces_the_cases_it_wrote_and_a_rerun_with_nothing_new_says_nothing(fixture: FeedFixture) -> None:
    bus = EventBus()
    heard = bus.subscribe(Topic.CASES)
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=100, announce=to_bus(bus))
    assert run.status is RunStatus.SUCCEEDED, run.error
    events = heard.ready()
    orders = fixture.feed.live.orders
    assert {event.id for event in events} == {source_case_id("cityops", number) for number in orders}
    assert {event.kind for event in events} == {"synced"}
    stored = await fixture.store.cases([event.id for event in events], EVERYTHING)
    assert [event.place_code for event in events] == [case.place_code if case else None for case in stored]
    again = await sync(fixture.store, await fixture.source(), batch_size=100, announce=to_bus(bus))
    assert again.status is RunStatus.SUCCEEDED and heard.ready() == []
    heard.close()


async def test_an_unmatched_address_is_set_aside_with_its_candidates(fixture: FeedFixture) -> None:
    some = next(iter(fixture.feed.live.orders.values()))
    estate_name = some["content"].split("：")[1]
    estates = (await fixture.store.subtree(Level.ESTATE, None, EVERYTHING, 50)).items
    name = estates[0].name
    later = fixture.feed.live.latest() + dt.timedelta(minutes=1)
    fixture.feed.live.put({
        "order_no": "VAGUE", "channel": "12345", "category": "投诉", "title": "噪音扰民", "status": "受理",
        "address": f"青岛市市南区{name}", "reported_at": later.isoformat(), "updated_at": later.isoformat(),
    })
    stream = (await fixture.source()).streams()[0]
    record = SourceRecord("orders", "VAGUE", "x", fixture.feed.live.orders["VAGUE"])
    [verdict] = await stream.link([record], fixture.store)
    assert estate_name  # orders carry the place in their content, as 12345 transcripts do
    if isinstance(verdict, Rejected):  # a name shared by phases or without a building is not certain
        assert verdict.reason is Reason.UNMATCHED_ADDRESS and "VAGUE" in verdict.detail
    vague = dict(fixture.feed.live.orders["VAGUE"], address="青岛市市南区某某花园3号楼2单元501室")
    [verdict] = await stream.link([SourceRecord("orders", "VAGUE", "x", vague)], fixture.store)
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.UNMATCHED_ADDRESS
    assert "某某花园" in verdict.detail


# -- pushing back ---------------------------------------------------------------------------------


async def test_moves_made_while_the_feed_is_down_reach_it_in_order_once_it_is_back(fixture: FeedFixture) -> None:
    source = await fixture.source()
    assert (await sync(fixture.store, source, batch_size=100)).status is RunStatus.SUCCEEDED
    dispatched = sorted(
        no for no, o in fixture.feed.live.orders.items() if o["status"] == "派单"
    )[:3]
    assert len(dispatched) == 3
    now = dt.datetime.now(dt.timezone.utc)
    fixture.feed.live.failing = True
    for step, status in enumerate((CaseStatus.SIGNED, CaseStatus.IN_PROGRESS)):
        for no in dispatched:
            await Casework(fixture.store).move_case(
                source_case_id("cityops", no), status, actor="物业 王五", note=f"{status.label} {no}", at=now + dt.timedelta(seconds=step), scope=EVERYTHING
            )
    down = await sync(fixture.store, source, batch_size=100)  # the feed answers 503: the read fails, the outbox waits
    assert down.status is RunStatus.FAILED
    result = await flush(fixture.store, source, now=now + dt.timedelta(seconds=5), rng=random.Random(1))
    assert (result.sent, result.failed, result.pending) == (0, 1, 6) and "503" in (result.error or "")
    first = (await Casework(fixture.store).outbox_due("cityops", now + dt.timedelta(hours=2)))[0]
    assert first.attempts == 1 and "503" in (first.last_error or "")
    assert await Casework(fixture.store).outbox_due("cityops", now + dt.timedelta(seconds=10)) == []  # backing off
    second = await flush(fixture.store, source, now=now + dt.timedelta(seconds=60), rng=random.Random(2))
    assert (second.sent, second.failed) == (0, 1)
    assert fixture.feed.live.received == []
    # a stale read while the moves are unsent does not undo them
    assert (await fixture.store.cases([source_case_id("cityops", dispatched[0])], EVERYTHING))[0].status is CaseStatus.IN_PROGRESS
    fixture.feed.live.failing = False
    back = await flush(fixture.store, source, now=now + dt.timedelta(hours=1))
    assert (back.sent, back.failed, back.pending) == (6, 0, 0)
    assert [(r["order_no"], r["status"]) for r in fixture.feed.live.received] == [
        (no, status.label) for status in (CaseStatus.SIGNED, CaseStatus.IN_PROGRESS) for no in dispatched
    ]
    assert all(fixture.feed.live.orders[no]["status"] == "办理" for no in dispatched)
    rerun = await sync(fixture.store, source, batch_size=100)
    assert rerun.status is RunStatus.SUCCEEDED
    for no in dispatched:
        [case] = await fixture.store.cases([source_case_id("cityops", no)], EVERYTHING)
        assert case is not None and case.status is CaseStatus.IN_PROGRESS
        history = (await fixture.store.case_events([case.id], EVERYTHING))[0]
        assert [e.to_status for e in history][-2:] == [CaseStatus.SIGNED, CaseStatus.IN_PROGRESS]  # nothing echoed
    assert await fixture.store.outbox_pending() == 0


async def test_a_move_the_feed_refuses_is_retried_a_few_times_then_given_up(fixture: FeedFixture) -> None:
    source = await fixture.source()
    await sync(fixture.store, source, batch_size=100)
    dispatched = sorted(no for no, o in fixture.feed.live.orders.items() if o["status"] == "派单")[:2]
    refused_no, fine_no = dispatched
    now = dt.datetime.now(dt.timezone.utc)
    await Casework(fixture.store).move_case(source_case_id("cityops", refused_no), CaseStatus.SIGNED, actor="a", note="", at=now, scope=EVERYTHING)
    await Casework(fixture.store).move_case(source_case_id("cityops", fine_no), CaseStatus.SIGNED, actor="a", note="", at=now, scope=EVERYTHING)
    fixture.feed.live.orders[refused_no]["status"] = "归档"  # archived at the feed meanwhile: 409 for ever
    moment = now
    for attempt in range(1, 4):
        result = await flush(fixture.store, source, now=moment, max_refusals=3, rng=random.Random(attempt))
        moment += dt.timedelta(hours=2)
        if attempt < 3:
            assert (result.sent, result.failed, result.dead) == (0, 1, 0) and "409" in (result.error or "")
    assert (result.sent, result.dead, result.pending) == (1, 1, 0)
    [dead] = await fixture.store.outbox_messages("cityops", dead=True)
    assert dead.external_id == refused_no and dead.attempts == 3 and "given up" in (dead.last_error or "")
    assert [r["order_no"] for r in fixture.feed.live.received] == [fine_no]


async def test_push_stops_at_the_first_failure_and_refuses_what_has_no_order_number(fixture: FeedFixture) -> None:
    from graph.cases import OutboxMessage

    source = await fixture.source()
    now = dt.datetime.now(dt.timezone.utc)
    no = next(iter(fixture.feed.live.orders))
    messages = [
        OutboxMessage(1, "cityops", "GD1", None, {"status": "signed", "label": "签收", "at": now.isoformat()}, now),
        OutboxMessage(2, "cityops", "cityops:" + no, no, {"status": "signed", "label": "签收", "at": now.isoformat()}, now),
    ]
    results = await source.push(messages)
    assert isinstance(results[0], Refused) and "no order number" in results[0]
    assert results[1] == NOT_SENT
    fixture.feed.live.orders[no]["status"] = "签收"
    assert await source.push(messages[1:]) == [None]  # the same step again: 200, unchanged
    assert fixture.feed.live.received[-1]["changed"] is False
    unknown = OutboxMessage(3, "cityops", "cityops:NOPE", "NOPE", {"status": "signed", "label": "签收", "at": now.isoformat()}, now)
    [answer] = await source.push([unknown])
    assert isinstance(answer, Refused) and "404" in answer
    wrong = configured(fixture.feed.url, token="not-the-token")
    try:
        [answer] = await wrong.push(messages[1:])
        assert isinstance(answer, Refused) and "401" in answer
        check = await wrong.check()
        assert not check.ok and "401" in check.detail and "not-the-token" not in check.detail
    finally:
        await wrong.close()


def test_reference_orders_are_realistic_and_deterministic(feed: Feed) -> None:
    orders = list(feed.template.orders.values())
    assert len(orders) == ORDERS
    assert {o["channel"] for o in orders} == {"12345热线", "城市运行管理服务平台"}
    assert {o["category"] for o in orders} >= {"报修", "投诉", "咨询"}
    assert all(o["order_no"].startswith("QD12345") and o["content"].startswith("市民来电反映：") for o in orders)
    assert sum(1 for o in orders if o.get("house_code") or o.get("place_code")) == ORDERS // 3
    assert sum(1 for o in orders if "lng" in o) == ORDERS // 3
