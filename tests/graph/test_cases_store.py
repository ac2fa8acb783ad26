"""Cases on every backend (SQLite, PostgreSQL, FalkorDB; Neo4j when configured): ids, scope, the 12345 lifecycle, writes from sources, the outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import doctest
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import graph.cases
import graph.casework
import graph.daily_ids
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Point
from graph.casework import Casework
from graph.cursors import encode_cursor
from graph.errors import InvalidInput, StoreError
from graph.model import Batch, Provenance
from graph.scope import Scope
from graph.store import Store
from tests import backends
from tests.graph.two_streets import ESTATE_1, ESTATE_2, FIRM, STREET_1, STREET_2, T0, city

EVERYTHING = Scope.everything()
@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)  # session servers, outside any running event loop
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, tmp_path)
    try:
        await opened.write(city())
        yield opened
    finally:
        await backends.discard(opened)


def new_case(place: str | None = ESTATE_1, *, at: dt.datetime = T0, **changes: object) -> Case:
    case = Case(
        id="",
        source=CaseSource.OWNER,
        category=CaseCategory.REPAIR,
        status=CaseStatus.ACCEPTED,
        title="楼道灯不亮",
        reported_at=at,
        updated_at=at,
        description="3号楼2单元楼道声控灯坏了一周",
        place_code=place,
    )
    return dataclasses.replace(case, **changes)  # type: ignore[arg-type]


def fed(number: int, status: CaseStatus = CaseStatus.DISPATCHED, *, at: dt.datetime = T0, **changes: object) -> Case:
    """A case as the 12345 feed's connector writes it."""
    case = new_case(
        ESTATE_1,
        at=at,
        id=f"cityops:QD{number:06d}",
        source=CaseSource.HOTLINE,
        status=status,
        external_id=f"QD{number:06d}",
        push_to="cityops",
        provenance=Provenance("cityops", f"QD{number:06d}", at, "run-1"),
    )
    return dataclasses.replace(case, **changes)  # type: ignore[arg-type]


async def test_the_hub_numbers_its_cases_by_day_in_china(store: Store) -> None:
    first = await Casework(store).open_case(new_case(), actor="owner 张三")
    second = await Casework(store).open_case(new_case(), actor="owner 张三")
    late = await Casework(store).open_case(new_case(at=T0 + dt.timedelta(hours=15)), actor="owner 张三")  # 00:30 next day
    assert (first.id, second.id, late.id) == ("GD20260302000001", "GD20260302000002", "GD20260303000001")
    [stored] = await store.cases([first.id], EVERYTHING)
    assert stored == first
    [[event]] = await store.case_events([first.id], EVERYTHING)
    assert (event.seq, event.from_status, event.to_status, event.actor) == (1, None, CaseStatus.ACCEPTED, "owner 张三")
    with pytest.raises(StoreError, match="GD20260302000001 already exists"):
        await Casework(store).open_case(dataclasses.replace(new_case(), id=first.id), actor="x")
    with pytest.raises(StoreError, match="place 370202009001E001 is not in the store"):
        await Casework(store).open_case(new_case("370202009001E001"), actor="x")


async def test_a_case_is_seen_where_its_place_is(store: Store) -> None:
    inside = await Casework(store).open_case(new_case(ESTATE_1), actor="a")
    outside = await Casework(store).open_case(new_case(ESTATE_2), actor="a")
    nowhere = await Casework(store).open_case(new_case(None, point=Point(120.38, 36.06)), actor="a")
    street = Scope.of(STREET_1)
    assert await store.cases([inside.id, outside.id, nowhere.id, "GD19990101000001"], street) == [inside, None, None, None]
    # no place: the city's as a whole, seen by a scope holding the whole city and by no smaller one
    assert await store.cases([nowhere.id], Scope.of("370200")) == [nowhere]
    assert await store.cases([nowhere.id], Scope.of("370202")) == [None]
    assert await store.cases([nowhere.id], EVERYTHING) == [nowhere]
    assert await store.case_events([outside.id, inside.id], street) == [[], [(await store.case_events([inside.id], EVERYTHING))[0][0]]]
    assert [c.id for c in (await store.case_page(street, 50)).items] == [inside.id]
    assert [c.id for c in (await store.case_page(Scope.of(ESTATE_1), 50)).items] == [inside.id]
    assert [c.id for c in (await store.case_page(Scope.of_codes([]), 50)).items] == []
    everything = await store.case_page(EVERYTHING, 50)
    assert [c.id for c in everything.items] == [nowhere.id, outside.id, inside.id]  # same time: id descending
    assert [c.id for c in (await store.case_page(EVERYTHING, 50, within=STREET_2)).items] == [outside.id]
    assert (await store.case_page(street, 50, within=STREET_2)).items == []


async def test_pages_run_newest_report_first_and_filter(store: Store) -> None:
    opened = [
        await Casework(store).open_case(new_case(at=T0 + dt.timedelta(minutes=index % 4), category=category), actor="a")
        for index, category in enumerate([CaseCategory.REPAIR, CaseCategory.COMPLAINT] * 5)
    ]
    expected = [c.id for c in sorted(opened, key=lambda c: (c.reported_at, c.id), reverse=True)]
    seen: list[str] = []
    after = None
    while True:
        page = await store.case_page(EVERYTHING, 3, after)
        seen += [c.id for c in page.items]
        if not page.has_next:
            break
        assert page.end_cursor == encode_cursor(page.items[-1].id)
        after = page.end_cursor
    assert seen == expected
    complaints = await store.case_page(EVERYTHING, 50, categories=[CaseCategory.COMPLAINT])
    assert {c.category for c in complaints.items} == {CaseCategory.COMPLAINT} and len(complaints.items) == 5
    window = await store.case_page(EVERYTHING, 50, since=T0 + dt.timedelta(minutes=1), until=T0 + dt.timedelta(minutes=3))
    assert {c.reported_at for c in window.items} == {T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=2)}
    assert (await store.case_page(EVERYTHING, 50, source=CaseSource.HOTLINE)).items == []
    with pytest.raises(InvalidInput, match="after"):
        await store.case_page(EVERYTHING, 3, encode_cursor("GD19990101000001"))


async def test_moves_follow_the_lifecycle_and_queue_what_the_source_must_hear(store: Store) -> None:
    await store.write(Batch(cases=[fed(1)]))
    own = await Casework(store).open_case(new_case(), actor="a")
    at = T0 + dt.timedelta(hours=1)
    signed = await Casework(store).move_case("cityops:QD000001", CaseStatus.SIGNED, actor="物业 李四", note="已签收", at=at, scope=Scope.of(ESTATE_1))
    assert signed.status is CaseStatus.SIGNED and signed.updated_at == at
    assert (await store.cases([signed.id], EVERYTHING)) == [signed]
    history = (await store.case_events([signed.id], EVERYTHING))[0]
    assert [(e.from_status, e.to_status, e.actor, e.note) for e in history] == [
        (None, CaseStatus.DISPATCHED, "cityops", "read from cityops (record QD000001)"),
        (CaseStatus.DISPATCHED, CaseStatus.SIGNED, "物业 李四", "已签收"),
    ]
    [message] = await Casework(store).outbox_due("cityops", at)
    assert (message.case_id, message.external_id, message.payload["status"], message.payload["note"]) == (
        "cityops:QD000001", "QD000001", "signed", "已签收"
    )
    await Casework(store).move_case(own.id, CaseStatus.DISPATCHED, actor="a", note="", at=at, scope=EVERYTHING)
    assert await store.outbox_pending() == 1  # the hub's own case has nowhere to be pushed
    with pytest.raises(InvalidInput, match=r"case GD20260302000001 is dispatched \(派单\): it may go to returned \(退单\), signed \(签收\) only"):
        await Casework(store).move_case(own.id, CaseStatus.RESOLVED, actor="a", note="", at=at, scope=EVERYTHING)
    unknown = await _message_of(Casework(store).move_case("GD19990101000001", CaseStatus.SIGNED, actor="a", note="", at=at, scope=EVERYTHING))
    foreign = await _message_of(Casework(store).move_case(own.id, CaseStatus.SIGNED, actor="a", note="", at=at, scope=Scope.of(STREET_2)))
    assert unknown.replace("GD19990101000001", "X") == foreign.replace(own.id, "X")
    assert (await store.cases([own.id], EVERYTHING))[0].status is CaseStatus.DISPATCHED  # nothing moved
    for status in (CaseStatus.SIGNED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED):
        await Casework(store).move_case(own.id, status, actor="a", note="", at=at, scope=EVERYTHING)
    with pytest.raises(InvalidInput, match="rating"):
        await Casework(store).move_case(own.id, CaseStatus.FOLLOWED_UP, actor="a", note="", at=at, scope=EVERYTHING)
    rated = await Casework(store).move_case(own.id, CaseStatus.FOLLOWED_UP, actor="a", note="满意", at=at, scope=EVERYTHING, rating=5)
    assert rated.rating == 5 and (await store.cases([own.id], EVERYTHING))[0].rating == 5


async def _message_of(move: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        await move  # type: ignore[misc]
    return str(caught.value)


async def test_source_writes_are_idempotent_and_keep_status_changes_without_echo(store: Store) -> None:
    counts = await store.write(Batch(cases=[fed(1), fed(2)]))
    assert (counts.inserted, counts.updated) == (2, 0)
    again = await store.write(Batch(cases=[fed(1), fed(2, provenance=Provenance("cityops", "QD000002", T0, "run-2"))]))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    later = T0 + dt.timedelta(hours=2)
    moved = await store.write(Batch(cases=[fed(1, CaseStatus.SIGNED, updated_at=later)]))
    assert moved.updated == 1
    [history] = await store.case_events(["cityops:QD000001"], EVERYTHING)
    assert [(e.from_status, e.to_status, e.at, e.actor) for e in history][-1] == (CaseStatus.DISPATCHED, CaseStatus.SIGNED, later, "cityops")
    assert await store.outbox_pending() == 0  # read from the source: never sent back


async def test_a_bad_case_stops_its_batch_and_stores_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="place 370202009001E001 is not in the store"):
        await store.write(Batch(cases=[fed(1), fed(2, place_code="370202009001E001")]))
    with pytest.raises(StoreError, match="firm 91350100M000100Y43 is not in the store"):
        await store.write(Batch(cases=[fed(1, firm_code="91350100M000100Y43")]))
    with pytest.raises(InvalidInput, match="rating"):
        await store.write(Batch(cases=[fed(1, rating=9)]))
    await store.write(Batch(cases=[fed(1)]))
    with pytest.raises(StoreError, match="hotline id QD000001 is already case cityops:QD000001"):
        await store.write(Batch(cases=[fed(1, id="other:QD000001")]))
    assert [c.id for c in (await store.case_page(EVERYTHING, 50)).items] == ["cityops:QD000001"]


async def test_a_stale_source_does_not_undo_what_the_hub_has_not_pushed_yet(store: Store) -> None:
    await store.write(Batch(cases=[fed(1)]))
    at = T0 + dt.timedelta(hours=1)
    await Casework(store).move_case("cityops:QD000001", CaseStatus.SIGNED, actor="物业", note="", at=at, scope=EVERYTHING)
    # the feed still says dispatched, with a newer time of its own: the hub's move is kept
    await store.write(Batch(cases=[fed(1, updated_at=at + dt.timedelta(minutes=5), title="楼道灯不亮（补充）")]))
    [case] = await store.cases(["cityops:QD000001"], EVERYTHING)
    assert (case.status, case.title, case.updated_at) == (CaseStatus.SIGNED, "楼道灯不亮（补充）", at)
    [message] = await Casework(store).outbox_due("cityops", at)
    await store.outbox_sent([message.id], at + dt.timedelta(minutes=6))
    # delivered: an older record no longer wins, a newer one does
    await store.write(Batch(cases=[fed(1, updated_at=at - dt.timedelta(minutes=5))]))
    assert (await store.cases(["cityops:QD000001"], EVERYTHING))[0].status is CaseStatus.SIGNED
    await store.write(Batch(cases=[fed(1, CaseStatus.IN_PROGRESS, updated_at=at + dt.timedelta(hours=1))]))
    assert (await store.cases(["cityops:QD000001"], EVERYTHING))[0].status is CaseStatus.IN_PROGRESS


async def test_the_outbox_keeps_order_backs_off_and_gives_up_on_dead_messages(store: Store) -> None:
    await store.write(Batch(cases=[fed(1), fed(2)]))
    at = T0 + dt.timedelta(hours=1)
    await Casework(store).move_case("cityops:QD000001", CaseStatus.SIGNED, actor="a", note="1", at=at, scope=EVERYTHING)
    await Casework(store).move_case("cityops:QD000002", CaseStatus.SIGNED, actor="a", note="2", at=at, scope=EVERYTHING)
    await Casework(store).move_case("cityops:QD000001", CaseStatus.IN_PROGRESS, actor="a", note="3", at=at, scope=EVERYTHING)
    due = await Casework(store).outbox_due("cityops", at)
    assert [m.payload["note"] for m in due] == ["1", "2", "3"]
    assert await Casework(store).outbox_due("cityops", at - dt.timedelta(seconds=1)) == []
    assert await Casework(store).outbox_due("elsewhere", at) == []
    first = due[0]
    await store.outbox_failed(first.id, "503 Service Unavailable", at + dt.timedelta(seconds=30))
    assert await Casework(store).outbox_due("cityops", at + dt.timedelta(seconds=10)) == []  # the first holds back the rest
    retry = await Casework(store).outbox_due("cityops", at + dt.timedelta(seconds=30))
    assert [(m.attempts, m.last_error) for m in retry][0] == (1, "503 Service Unavailable")
    await store.outbox_failed(first.id, "409 illegal move", None)
    assert await store.outbox_pending("cityops") == 2
    [dead] = await store.outbox_messages("cityops", dead=True)
    assert (dead.id, dead.dead, dead.attempts, dead.last_error) == (first.id, True, 2, "409 illegal move")
    rest = await Casework(store).outbox_due("cityops", at)
    assert [m.payload["note"] for m in rest] == ["2", "3"]
    await store.outbox_sent([m.id for m in rest], at)
    assert await store.outbox_pending() == 0 and await Casework(store).outbox_due("cityops", at) == []


async def test_cases_written_in_bulk_page_one_by_one_each_once(store: Store) -> None:
    """Times written by the bulk path sort with the times a query binds (a cursor after a case
    must not find that case again)."""
    written = [
        new_case(at=T0 + dt.timedelta(minutes=index), id=f"hotline:QD{index:04d}", source=CaseSource.HOTLINE, external_id=f"QD{index:04d}")
        for index in range(5)
    ]
    await store.write(Batch(cases=written))
    paged: list[str] = []
    after = None
    for _ in range(10):
        page = await store.case_page(EVERYTHING, 1, after)
        paged += [case.id for case in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert paged == [case.id for case in reversed(written)]


async def test_a_source_rewrite_keeps_the_hubs_workflow_fields(store: Store) -> None:
    await store.write(Batch(cases=[fed(1)]))
    at = T0 + dt.timedelta(hours=1)
    sign_by = at + dt.timedelta(hours=2)
    moved = await Casework(store).advance_case(
        "cityops:QD000001", [], actor="hub", note="", at=at, scope=EVERYTHING, changes={"sign_by": sign_by, "firm_code": FIRM}
    )
    assert (moved.sign_by, moved.firm_code, moved.status) == (sign_by, FIRM, CaseStatus.DISPATCHED)
    await store.write(Batch(cases=[fed(1, title="楼道灯不亮（补充）", firm_code=FIRM, updated_at=at + dt.timedelta(minutes=5))]))
    [case] = await store.cases(["cityops:QD000001"], EVERYTHING)
    assert case is not None and (case.title, case.sign_by) == ("楼道灯不亮（补充）", sign_by)
    assert [c.id for c in (await store.case_page(EVERYTHING, 50, overdue=True, now=sign_by + dt.timedelta(seconds=1))).items] == [case.id]
    assert [c.id for c in (await store.case_page(EVERYTHING, 50, firm_code=FIRM)).items] == [case.id]
    with pytest.raises(InvalidInput, match="now"):
        await store.case_page(EVERYTHING, 50, overdue=True)
    with pytest.raises(InvalidInput, match="firm: '91350100M000100Y43' is not a property firm the hub knows"):
        await Casework(store).advance_case(case.id, [], actor="hub", note="", at=at, scope=EVERYTHING, changes={"firm_code": "91350100M000100Y43"})
    with pytest.raises(StoreError, match="not title"):
        await Casework(store).advance_case(case.id, [], actor="hub", note="", at=at, scope=EVERYTHING, changes={"title": "x"})
    assert (await store.cases([case.id], EVERYTHING))[0] == case


@pytest.mark.parametrize("module", [graph.cases, graph.casework, graph.daily_ids], ids=lambda m: m.__name__)
def test_doctests_of_the_case_rules(module: object) -> None:
    failures, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried > 0 and failures == 0


def test_the_conformance_module_calls_every_member_of_the_case_port() -> None:
    """`tests/graph/conformance_cases.py` holds every backend to each `CaseStore` member: a
    member added to the port without a test there fails here."""
    import inspect

    import tests.graph.conformance_cases as suite

    members = {name for name, _ in inspect.getmembers(graph.cases.CaseStore, inspect.iscoroutinefunction)}
    source = inspect.getsource(suite)
    assert len(members) >= 13
    assert {name for name in members if f".{name}(" not in source} == set()
