"""The case workflow on every backend (SQLite, PostgreSQL, FalkorDB; Neo4j when configured): dispatch by house, building, point and to nobody;
deadlines by category and severity; sign, resolve, rate, return and re-dispatch; illegal steps
refused with the lifecycle's message; escalation timing with a controllable clock; metrics
against hand-computed figures; and the events on the bus."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from graph.cases import Case, CaseCategory, CaseMetrics, CaseSource, CaseStatus, Escalation, Point
from graph.casework import Casework
from graph.errors import InvalidInput
from graph.events import EventBus, Topic
from graph.levels import Level
from graph.model import Batch, Management, Place, PropertyFirm
from graph.scope import Scope
from graph.store import Store
from graph.workflow import DEFAULT_DEADLINES, DeadlinePolicy, Deadlines, Workflow
from tests import backends

EVERYTHING = Scope.everything()
COMMUNITY = "370202001001"
ESTATE_1, ESTATE_2, ESTATE_3 = "370202001001E001", "370202001001E002", "370202001001E003"
BUILDING_1 = "370202001001GB00001F0001"
ENTRANCE_1 = BUILDING_1 + "01"
HOUSE_1 = "370202001001GB00001F00010101"
HOUSE_2 = "370202001001GB00001F00010102"
FIRM_A, FIRM_B, UNKNOWN_FIRM = "91370202MA06EM7T05", "91370203MA3C5LXK1H", "91370211MA3NB2RC4M"
T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)  # 09:30 in China
HOUR = dt.timedelta(hours=1)


def square(lon: float, lat: float, size: float) -> dict[str, object]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


IN_ESTATE_1 = Point(120.3825, 36.0625)
IN_ESTATE_2 = Point(120.3925, 36.0625)
BETWEEN_ESTATES = Point(120.3875, 36.0680)  # in the community, in no estate


def city() -> Batch:
    places = [
        Place("370200", Level.CITY, "青岛市", None),
        Place("370202", Level.DISTRICT, "市南区", "370200"),
        Place("370202001", Level.STREET, "香港中路街道", "370202"),
        Place(COMMUNITY, Level.COMMUNITY, "云霄路社区", "370202001", geometry=square(120.37, 36.05, 0.04)),
        Place(ESTATE_1, Level.ESTATE, "海信花园", COMMUNITY, geometry=square(120.380, 36.060, 0.005)),
        Place(ESTATE_2, Level.ESTATE, "无物业小区", COMMUNITY, geometry=square(120.390, 36.060, 0.005)),
        Place(ESTATE_3, Level.ESTATE, "换了物业的小区", COMMUNITY, geometry=square(120.380, 36.070, 0.005)),
        Place(BUILDING_1, Level.BUILDING, "1号楼", ESTATE_1),
        Place(ENTRANCE_1, Level.ENTRANCE, "1单元", BUILDING_1),
        Place(HOUSE_1, Level.HOUSE, "1单元101室", ENTRANCE_1, area_centi_m2=8800),
        Place(HOUSE_2, Level.HOUSE, "1单元102室", ENTRANCE_1, area_centi_m2=9000),
    ]
    return Batch(
        places=places,
        firms=[PropertyFirm(FIRM_A, "青岛海信物业服务有限公司"), PropertyFirm(FIRM_B, "青岛城建物业有限公司")],
        managements=[
            Management(FIRM_A, ESTATE_1, dt.date(2020, 1, 1)),
            # the estate changed firms: on the day of the cases it is FIRM_B's
            Management(FIRM_A, ESTATE_3, dt.date(2019, 1, 1), dt.date(2022, 12, 31)),
            Management(FIRM_B, ESTATE_3, dt.date(2023, 1, 1)),
        ],
    )


class Clock:
    """A controllable clock: tests set and advance it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.now += delta
        return self.now


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


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def flow(store: Store, clock: Clock, bus: EventBus) -> Workflow:
    return Workflow(store, bus=bus, clock=clock)


def report(place: str | None = HOUSE_1, *, category: CaseCategory = CaseCategory.REPAIR, **changes: object) -> Case:
    case = Case(
        id="",
        source=CaseSource.OWNER,
        category=category,
        status=CaseStatus.ACCEPTED,
        title="楼道灯不亮",
        reported_at=T0,
        updated_at=T0,
        description="1号楼1单元楼道声控灯坏了一周",
        place_code=place,
    )
    return dataclasses.replace(case, **changes)  # type: ignore[arg-type]


async def history(store: Store, case_id: str) -> list[tuple[CaseStatus | None, CaseStatus, str, str]]:
    [events] = await store.case_events([case_id], EVERYTHING)
    return [(e.from_status, e.to_status, e.actor, e.note) for e in events]


async def stored(store: Store, case_id: str) -> Case:
    [case] = await store.cases([case_id], EVERYTHING)
    assert case is not None
    return case


# -- dispatch ----------------------------------------------------------------------------


async def test_a_case_is_dispatched_to_the_firm_managing_its_estate(flow: Workflow, store: Store, clock: Clock) -> None:
    by_house = await flow.open_case(report(HOUSE_1), actor="业主 张三")
    assert (by_house.status, by_house.firm_code, by_house.dispatched_at) == (CaseStatus.DISPATCHED, FIRM_A, T0)
    assert by_house.sign_by == T0 + 2 * HOUR and by_house.deadline is None  # resolution starts at signing
    assert await history(store, by_house.id) == [
        (None, CaseStatus.ACCEPTED, "业主 张三", ""),
        (CaseStatus.ACCEPTED, CaseStatus.DISPATCHED, "hub:dispatch", f"自动派单：{FIRM_A} 管理该小区"),
    ]
    assert await stored(store, by_house.id) == by_house
    by_building = await flow.open_case(report(BUILDING_1), actor="巡查员")
    assert by_building.firm_code == FIRM_A
    # the firm managing on the day, not the one that managed before
    changed_hands = await flow.open_case(report(ESTATE_3), actor="a")
    assert changed_hands.firm_code == FIRM_B


async def test_a_case_with_only_a_point_goes_to_the_estate_around_it(flow: Workflow) -> None:
    inside = await flow.open_case(report(None, point=IN_ESTATE_1), actor="a")
    assert (inside.place_code, inside.status, inside.firm_code) == (ESTATE_1, CaseStatus.DISPATCHED, FIRM_A)
    between = await flow.open_case(report(None, point=BETWEEN_ESTATES), actor="a")
    assert (between.place_code, between.status, between.firm_code) == (COMMUNITY, CaseStatus.ACCEPTED, None)
    # a case placed at the community but reported inside an estate: the estate's firm
    at_community = await flow.open_case(report(COMMUNITY, point=IN_ESTATE_1), actor="a")
    assert (at_community.place_code, at_community.firm_code) == (COMMUNITY, FIRM_A)


async def test_a_case_no_firm_manages_stays_accepted_until_dispatched_by_hand(flow: Workflow, store: Store, clock: Clock) -> None:
    orphan = await flow.open_case(report(None, point=IN_ESTATE_2), actor="a")
    assert (orphan.place_code, orphan.status, orphan.firm_code, orphan.sign_by) == (ESTATE_2, CaseStatus.ACCEPTED, None, None)
    with pytest.raises(InvalidInput, match=f"no property firm manages the estate of case {orphan.id} today: name the firm"):
        await flow.dispatch(orphan.id, actor="街道 王科长", scope=EVERYTHING)
    with pytest.raises(InvalidInput, match=f"firm: '{UNKNOWN_FIRM}' is not a property firm the hub knows"):
        await flow.dispatch(orphan.id, actor="街道 王科长", scope=EVERYTHING, firm_code=UNKNOWN_FIRM)
    assert (await stored(store, orphan.id)).status is CaseStatus.ACCEPTED
    clock.advance(HOUR)
    sent = await flow.dispatch(orphan.id, actor="街道 王科长", scope=EVERYTHING, firm_code=FIRM_B, note="指派城建物业")
    assert (sent.status, sent.firm_code, sent.dispatched_at, sent.sign_by) == (CaseStatus.DISPATCHED, FIRM_B, T0 + HOUR, T0 + 3 * HOUR)
    assert (await history(store, orphan.id))[-1] == (CaseStatus.ACCEPTED, CaseStatus.DISPATCHED, "街道 王科长", "指派城建物业")
    held = await flow.open_case(report(HOUSE_1), actor="a", dispatch=False)
    assert (held.status, held.firm_code) == (CaseStatus.ACCEPTED, None)


async def test_an_owner_opens_cases_only_at_its_own_houses(flow: Workflow, store: Store) -> None:
    owner = Scope.of(HOUSE_1)
    mine = await flow.open_case(report(HOUSE_1), actor="业主 张三", scope=owner)
    assert mine.place_code == HOUSE_1
    with pytest.raises(InvalidInput, match=f"place: '{HOUSE_2}' is not a place you can see"):
        await flow.open_case(report(HOUSE_2), actor="业主 张三", scope=owner)
    with pytest.raises(InvalidInput, match="place: '' is required"):
        await flow.open_case(report(None), actor="业主 张三", scope=owner)
    # a point in the estate (above the owner's house) is outside its scope: the refusal quotes the
    # point as given and never names the estate it found
    with pytest.raises(InvalidInput, match=f"point: '{IN_ESTATE_1.lon:g},{IN_ESTATE_1.lat:g}' is not in a place you can see") as refused:
        await flow.open_case(report(None, point=IN_ESTATE_1), actor="业主 张三", scope=owner)
    assert ESTATE_1 not in str(refused.value)
    # beside its own house the point may lie in the estate around it
    beside = await flow.open_case(report(HOUSE_1, point=IN_ESTATE_1), actor="业主 张三", scope=owner)
    assert beside.place_code == HOUSE_1 and beside.point == IN_ESTATE_1
    assert sorted(c.id for c in (await store.case_page(EVERYTHING, 50)).items) == sorted([mine.id, beside.id])


# -- deadlines ---------------------------------------------------------------------------


def test_the_default_deadlines_by_category_and_severity() -> None:
    policy = DeadlinePolicy()
    minutes = {
        category: (policy.for_case(category, None).sign_within, policy.for_case(category, None).resolve_within)
        for category in CaseCategory
    }
    assert minutes == {
        CaseCategory.EMERGENCY: (dt.timedelta(minutes=20), dt.timedelta(hours=4)),
        CaseCategory.REPAIR: (dt.timedelta(hours=2), dt.timedelta(hours=24)),
        CaseCategory.COMPLAINT: (dt.timedelta(hours=4), dt.timedelta(days=3)),
        CaseCategory.CONSULTATION: (dt.timedelta(hours=4), dt.timedelta(days=1)),
        CaseCategory.SUGGESTION: (dt.timedelta(days=1), dt.timedelta(days=5)),
    }
    assert policy.for_case(CaseCategory.EMERGENCY, "critical") == Deadlines(dt.timedelta(minutes=5), dt.timedelta(hours=1))
    assert policy.for_case(CaseCategory.EMERGENCY, "MAJOR") == Deadlines(dt.timedelta(minutes=10), dt.timedelta(hours=2))
    assert policy.for_case(CaseCategory.REPAIR, "minor") == DEFAULT_DEADLINES[CaseCategory.REPAIR]
    with pytest.raises(InvalidInput, match="no deadlines for these categories"):
        DeadlinePolicy(by_category={CaseCategory.REPAIR: Deadlines(HOUR, HOUR)})
    with pytest.raises(InvalidInput, match="may only shorten"):
        DeadlinePolicy(severity_factors={"critical": 2.0})


async def test_deadlines_follow_the_policy_and_start_at_signing(store: Store, clock: Clock) -> None:
    flow = Workflow(store, clock=clock)
    urgent = await flow.open_case(report(HOUSE_1, category=CaseCategory.EMERGENCY, severity="critical", title="电梯困人"), actor="设备")
    assert urgent.sign_by == T0 + dt.timedelta(minutes=5)
    clock.advance(dt.timedelta(minutes=3))
    signed = await flow.sign(urgent.id, actor="物业 李四", scope=EVERYTHING)
    assert (signed.signed_at, signed.deadline) == (T0 + dt.timedelta(minutes=3), T0 + dt.timedelta(minutes=63))
    suggestion = await flow.open_case(report(HOUSE_1, category=CaseCategory.SUGGESTION), actor="a")
    assert suggestion.sign_by == clock.now + dt.timedelta(days=1)
    own = DeadlinePolicy(by_category={**DEFAULT_DEADLINES, CaseCategory.REPAIR: Deadlines(dt.timedelta(minutes=30), 8 * HOUR)})
    custom = await Workflow(store, clock=clock, policy=own).open_case(report(HOUSE_1), actor="a")
    assert custom.sign_by == clock.now + dt.timedelta(minutes=30)


# -- the steps -----------------------------------------------------------------------------


async def test_sign_resolve_and_a_satisfied_rating_archive_the_case(flow: Workflow, store: Store, clock: Clock) -> None:
    case = await flow.open_case(report(HOUSE_1), actor="业主 张三")
    clock.advance(dt.timedelta(minutes=30))
    signed = await flow.sign(case.id, actor="物业 李四", scope=Scope.of(ESTATE_1), note="已签收", firm_code=FIRM_A)
    assert (signed.status, signed.signed_at, signed.deadline) == (CaseStatus.SIGNED, clock.now, clock.now + 24 * HOUR)
    with pytest.raises(InvalidInput, match="note: '  ' must say what was done"):
        await flow.resolve(case.id, actor="物业 李四", scope=EVERYTHING, note="  ")
    resolved_at = clock.advance(3 * HOUR)
    resolved = await flow.resolve(case.id, actor="物业 李四", scope=EVERYTHING, note="已更换灯泡")
    assert (resolved.status, resolved.resolved_at) == (CaseStatus.RESOLVED, resolved_at)
    clock.advance(HOUR)
    with pytest.raises(InvalidInput, match="rating: '6' must be 1"):
        await flow.rate(case.id, 6, actor="业主 张三", scope=Scope.of(HOUSE_1))
    rated = await flow.rate(case.id, 5, actor="业主 张三", scope=Scope.of(HOUSE_1))
    assert (rated.status, rated.rating, rated.resolved_at) == (CaseStatus.ARCHIVED, 5, resolved_at)
    assert [(step[0], step[1], step[2]) for step in await history(store, case.id)][2:] == [
        (CaseStatus.DISPATCHED, CaseStatus.SIGNED, "物业 李四"),
        (CaseStatus.SIGNED, CaseStatus.IN_PROGRESS, "物业 李四"),  # resolving a signed case passes 办理
        (CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, "物业 李四"),
        (CaseStatus.RESOLVED, CaseStatus.FOLLOWED_UP, "业主 张三"),
        (CaseStatus.FOLLOWED_UP, CaseStatus.ARCHIVED, "业主 张三"),
    ]
    [events] = await store.case_events([case.id], EVERYTHING)
    assert events[3].at == events[4].at == resolved_at and events[4].note == "已更换灯泡"
    assert events[-1].note == "回访满意（5分），归档"


async def test_an_unsatisfied_rating_reopens_the_work(flow: Workflow, store: Store, clock: Clock) -> None:
    case = await flow.open_case(report(HOUSE_1), actor="业主")
    await flow.sign(case.id, actor="物业", scope=EVERYTHING)
    await flow.resolve(case.id, actor="物业", scope=EVERYTHING, note="已处理")
    followed = clock.advance(2 * HOUR)
    reopened = await flow.rate(case.id, 2, actor="业主", scope=EVERYTHING, note="灯还是不亮")
    assert (reopened.status, reopened.rating, reopened.resolved_at) == (CaseStatus.IN_PROGRESS, 2, None)
    assert reopened.deadline == followed + 24 * HOUR
    assert (await history(store, case.id))[-1] == (CaseStatus.RESOLVED, CaseStatus.IN_PROGRESS, "业主", "回访不满意（2分），重新办理：灯还是不亮")
    await flow.resolve(case.id, actor="物业", scope=EVERYTHING, note="更换了线路")
    closed = await flow.rate(case.id, 4, actor="业主", scope=EVERYTHING)
    assert (closed.status, closed.rating) == (CaseStatus.ARCHIVED, 4)


async def test_a_returned_case_is_dispatched_again(flow: Workflow, store: Store, clock: Clock) -> None:
    case = await flow.open_case(report(HOUSE_1), actor="业主")
    await flow.sign(case.id, actor="物业A", scope=EVERYTHING, firm_code=FIRM_A)
    with pytest.raises(InvalidInput, match="reason: '' must say why"):
        await flow.return_case(case.id, actor="物业A", scope=EVERYTHING, reason="")
    with pytest.raises(InvalidInput, match=f"is not dispatched to your firm \\({FIRM_B}\\)"):
        await flow.return_case(case.id, actor="物业B", scope=EVERYTHING, reason="不归我们管", firm_code=FIRM_B)
    returned = await flow.return_case(case.id, actor="物业A", scope=EVERYTHING, reason="属市政管网，非物业范围", firm_code=FIRM_A)
    assert (returned.status, returned.firm_code, returned.sign_by, returned.signed_at, returned.deadline) == (
        CaseStatus.RETURNED, None, None, None, None
    )
    clock.advance(HOUR)
    again = await flow.dispatch(returned.id, actor="街道", scope=EVERYTHING, firm_code=FIRM_B, note="改派")
    assert (again.status, again.firm_code, again.sign_by) == (CaseStatus.DISPATCHED, FIRM_B, clock.now + 2 * HOUR)
    with pytest.raises(InvalidInput, match=f"is not dispatched to your firm \\({FIRM_A}\\)"):
        await flow.sign(case.id, actor="物业A", scope=EVERYTHING, firm_code=FIRM_A)
    assert (await flow.sign(case.id, actor="物业B", scope=EVERYTHING, firm_code=FIRM_B)).status is CaseStatus.SIGNED
    assert [step[1] for step in await history(store, case.id)] == [
        CaseStatus.ACCEPTED, CaseStatus.DISPATCHED, CaseStatus.SIGNED, CaseStatus.RETURNED, CaseStatus.DISPATCHED, CaseStatus.SIGNED
    ]


async def test_illegal_steps_are_refused_with_the_lifecycle_message(flow: Workflow, store: Store) -> None:
    accepted = (await flow.open_case(report(HOUSE_1), actor="a", dispatch=False)).id
    dispatched = (await flow.open_case(report(HOUSE_1), actor="a")).id
    signed = (await flow.open_case(report(HOUSE_1), actor="a")).id
    await flow.sign(signed, actor="f", scope=EVERYTHING)
    archived = (await flow.open_case(report(HOUSE_1), actor="a")).id
    await flow.sign(archived, actor="f", scope=EVERYTHING)
    await flow.resolve(archived, actor="f", scope=EVERYTHING, note="done")
    await flow.rate(archived, 5, actor="o", scope=EVERYTHING)
    anyone: Any = {"actor": "x", "scope": EVERYTHING}
    refusals = [
        (flow.sign(accepted, **anyone), f"case {accepted} is accepted \\(受理\\): it may go to dispatched \\(派单\\) only"),
        (flow.resolve(accepted, note="n", **anyone), f"case {accepted} is accepted \\(受理\\): it may go to dispatched"),
        (flow.return_case(accepted, reason="r", **anyone), f"status: 'returned' case {accepted} is accepted"),
        (flow.rate(accepted, 5, **anyone), f"case {accepted} is accepted \\(受理\\): this step takes a case that is resolved \\(办结\\)"),
        (flow.resolve(dispatched, note="n", **anyone), f"case {dispatched} is dispatched \\(派单\\): it may go to returned \\(退单\\), signed \\(签收\\) only"),
        (flow.sign(signed, **anyone), f"case {signed} is signed \\(签收\\): it may go to in_progress \\(办理\\), returned \\(退单\\) only"),
        (flow.dispatch(signed, firm_code=FIRM_B, **anyone), f"status: 'dispatched' case {signed} is signed"),
        (flow.rate(signed, 1, **anyone), f"case {signed} is signed \\(签收\\): this step takes a case that is resolved"),
        (flow.return_case(archived, reason="r", **anyone), f"case {archived} is archived \\(归档\\): it is archived and cannot change"),
        (flow.move(archived, CaseStatus.DISPATCHED, **anyone), f"case {archived} is archived \\(归档\\): it is archived and cannot change"),
    ]
    before = {key: (await stored(store, key), await history(store, key)) for key in (accepted, dispatched, signed, archived)}
    for attempt, message in refusals:
        with pytest.raises(InvalidInput, match=message):
            await attempt
    after = {key: (await stored(store, key), await history(store, key)) for key in (accepted, dispatched, signed, archived)}
    assert after == before  # nothing refused changed anything
    with pytest.raises(InvalidInput, match="id: 'GD19990101000001' is not a case you can see"):
        await flow.sign("GD19990101000001", **anyone)
    with pytest.raises(InvalidInput, match=f"id: '{signed}' is not a case you can see"):
        await flow.resolve(signed, actor="x", scope=Scope.of(ESTATE_2), note="n")


async def test_move_keeps_working_and_starts_the_periods(flow: Workflow, store: Store, clock: Clock) -> None:
    case = await flow.open_case(report(HOUSE_1, category=CaseCategory.COMPLAINT), actor="a", dispatch=False)
    moved = await flow.move(case.id, CaseStatus.DISPATCHED, actor="街道", scope=EVERYTHING, note="派单")
    assert (moved.status, moved.sign_by, moved.dispatched_at) == (CaseStatus.DISPATCHED, T0 + 4 * HOUR, T0)
    signed = await flow.move(case.id, CaseStatus.SIGNED, actor="物业", scope=EVERYTHING)
    assert (signed.signed_at, signed.deadline) == (T0, T0 + dt.timedelta(days=3))
    with pytest.raises(InvalidInput, match="rating"):
        await flow.move(case.id, CaseStatus.IN_PROGRESS, actor="物业", scope=EVERYTHING, rating=3)


# -- escalation --------------------------------------------------------------------------


async def test_escalation_climbs_one_rung_per_period_and_never_twice(flow: Workflow, store: Store, clock: Clock) -> None:
    case = await flow.open_case(report(HOUSE_1), actor="业主")  # repair: sign for within 2 h
    assert case.sign_by == T0 + 2 * HOUR
    clock.now = T0 + 2 * HOUR
    assert await flow.escalate_due() == []  # at the deadline: not yet overdue
    assert (await store.case_page(EVERYTHING, 50, overdue=True, now=clock.now)).items == []
    clock.now = T0 + 2 * HOUR + dt.timedelta(seconds=1)
    [first] = await flow.escalate_due()
    assert (first.id, first.escalation, first.escalated_at, first.status) == (case.id, Escalation.STEWARD, clock.now, CaseStatus.DISPATCHED)
    assert (await history(store, case.id))[-1] == (CaseStatus.DISPATCHED, CaseStatus.DISPATCHED, "hub:escalation", "逾期未签收，升级至物业管家")
    assert [c.id for c in (await store.case_page(EVERYTHING, 50, overdue=True, now=clock.now)).items] == [case.id]
    assert (await store.case_page(EVERYTHING, 50, overdue=False, now=clock.now)).items == []
    assert await flow.escalate_due() == []  # the same rung never twice
    clock.now = T0 + 4 * HOUR - dt.timedelta(seconds=1)
    assert await flow.escalate_due() == []
    clock.now = T0 + 4 * HOUR + dt.timedelta(seconds=1)
    [second] = await flow.escalate_due()
    assert second.escalation is Escalation.COMMITTEE
    clock.now = T0 + 6 * HOUR + dt.timedelta(seconds=1)
    [third] = await flow.escalate_due()
    assert third.escalation is Escalation.STREET
    clock.now = T0 + 100 * HOUR
    assert await flow.escalate_due() == []  # the top of the ladder
    notes = [step[3] for step in await history(store, case.id) if step[2] == "hub:escalation"]
    assert notes == ["逾期未签收，升级至物业管家", "逾期未签收，升级至业委会", "逾期未签收，升级至街道"]


async def test_a_late_resolution_escalates_and_a_late_sweep_goes_to_the_rung_due(flow: Workflow, store: Store, clock: Clock) -> None:
    late = await flow.open_case(report(HOUSE_1), actor="业主")
    clock.advance(HOUR)
    await flow.sign(late.id, actor="物业", scope=EVERYTHING)  # resolve by T0 + 25 h
    other = await flow.open_case(report(HOUSE_2), actor="业主")  # sign for by T0 + 3 h, never signed
    clock.now = T0 + 25 * HOUR + dt.timedelta(minutes=1)
    escalated = {case.id: case.escalation for case in await flow.escalate_due()}
    # `late`: 1 minute past its deadline; `other`: 22 h past a 2 h period: straight to the street
    assert escalated == {late.id: Escalation.STEWARD, other.id: Escalation.STREET}
    assert (await history(store, late.id))[-1][3] == "逾期未办结，升级至物业管家"
    assert [step[3] for step in await history(store, other.id) if step[2] == "hub:escalation"] == ["逾期未签收，升级至街道"]
    await flow.resolve(late.id, actor="物业", scope=EVERYTHING, note="修好了")
    clock.advance(100 * HOUR)
    assert await flow.escalate_due() == []  # resolved, and the other at the top


async def test_two_sweeps_at_once_escalate_a_rung_once(store: Store, clock: Clock) -> None:
    flow = Workflow(store, clock=clock)
    case = await flow.open_case(report(HOUSE_1), actor="业主")
    clock.now = T0 + 3 * HOUR
    results = await asyncio.gather(Workflow(store, clock=clock).escalate_due(), Workflow(store, clock=clock).escalate_due())
    assert sorted(len(result) for result in results) == [0, 1]
    assert [step[2] for step in await history(store, case.id)].count("hub:escalation") == 1


# -- metrics -------------------------------------------------------------------------------


async def _metrics_world(flow: Workflow, clock: Clock) -> dict[str, str]:
    """Six cases, now = T0 + 10 h (see test_metrics_match_hand_computed_figures)."""
    scope = EVERYTHING
    ids: dict[str, str] = {}
    # c6: reported a day early, signed in time, resolved at T0 + 9 h, never rated
    clock.now = T0 - 24 * HOUR
    ids["c6"] = (await flow.open_case(report(ESTATE_1, reported_at=clock.now, updated_at=clock.now), actor="o")).id
    clock.advance(HOUR)
    await flow.sign(ids["c6"], actor="f", scope=scope)
    clock.now = T0
    for name, place, category in (
        ("c1", HOUSE_1, CaseCategory.REPAIR),
        ("c2", ESTATE_1, CaseCategory.REPAIR),
        ("c3", ESTATE_1, CaseCategory.COMPLAINT),
        ("c4", ESTATE_3, CaseCategory.REPAIR),
        ("c5", ESTATE_2, CaseCategory.REPAIR),
    ):
        ids[name] = (await flow.open_case(report(place, category=category), actor="o")).id
    clock.now = T0 + HOUR // 2
    await flow.sign(ids["c4"], actor="f", scope=scope)
    clock.now = T0 + HOUR
    await flow.sign(ids["c1"], actor="f", scope=scope)
    await flow.resolve(ids["c4"], actor="f", scope=scope, note="ok")
    await flow.rate(ids["c4"], 4, actor="o", scope=scope)
    clock.now = T0 + 3 * HOUR
    await flow.sign(ids["c2"], actor="f", scope=scope)  # an hour late
    await flow.resolve(ids["c1"], actor="f", scope=scope, note="ok")
    await flow.rate(ids["c1"], 5, actor="o", scope=scope)
    clock.now = T0 + 5 * HOUR
    await flow.resolve(ids["c2"], actor="f", scope=scope, note="ok")
    await flow.rate(ids["c2"], 2, actor="o", scope=scope)  # reopened
    clock.now = T0 + 9 * HOUR
    await flow.resolve(ids["c6"], actor="f", scope=scope, note="ok")
    clock.now = T0 + 10 * HOUR
    return ids


async def test_metrics_match_hand_computed_figures(flow: Workflow, store: Store, clock: Clock) -> None:
    """Estate 1 holds c1 (signed in time, resolved after 3 h, rated 5), c2 (signed late,
    resolved, rated 2 and reopened), c3 (a complaint never signed: 6 h past sign_by, overdue)
    and c6 (reported a day early, signed in time, resolved after 33 h). Estate 3 (firm B) holds
    c4 (in time, resolved after 1 h, rated 4); estate 2 (no firm) holds c5, never dispatched."""
    await _metrics_world(flow, clock)
    now = clock.now
    rows = await Casework(store).case_metrics(COMMUNITY, Level.ESTATE, EVERYTHING, now=now)
    estate_1 = CaseMetrics(ESTATE_1, cases=4, due=4, signed_in_time=2, resolved=2, rated=2, satisfied=1, overdue=1,
                           median_resolve_seconds=(3 * 3600 + 33 * 3600) / 2)
    estate_2 = CaseMetrics(ESTATE_2, cases=1)
    estate_3 = CaseMetrics(ESTATE_3, cases=1, due=1, signed_in_time=1, resolved=1, rated=1, satisfied=1, median_resolve_seconds=3600.0)
    assert rows == [estate_1, estate_2, estate_3]
    assert (estate_1.response_rate, estate_1.resolution_rate, estate_1.satisfaction_rate) == (0.5, 0.5, 0.5)
    assert (estate_2.response_rate, estate_2.resolution_rate, estate_2.satisfaction_rate) == (None, 0.0, None)
    [community, house, unknown] = await Casework(store).place_case_metrics([COMMUNITY, HOUSE_1, "370202001001E099"], EVERYTHING, now=now)
    assert community == CaseMetrics(COMMUNITY, cases=6, due=5, signed_in_time=3, resolved=3, rated=3, satisfied=2, overdue=1,
                                    median_resolve_seconds=3 * 3600.0)
    assert house == CaseMetrics(HOUSE_1, cases=1, due=1, signed_in_time=1, resolved=1, rated=1, satisfied=1, median_resolve_seconds=3 * 3600.0)
    assert unknown is None
    # the period bounds the report time: c6 was reported before T0
    since = await Casework(store).case_metrics(COMMUNITY, Level.ESTATE, EVERYTHING, now=now, since=T0)
    assert since[0] == CaseMetrics(ESTATE_1, cases=3, due=3, signed_in_time=1, resolved=1, rated=2, satisfied=1, overdue=1,
                                   median_resolve_seconds=3 * 3600.0)
    assert (await Casework(store).case_metrics(COMMUNITY, Level.ESTATE, EVERYTHING, now=now, until=T0))[0].cases == 1
    firms = await Casework(store).firm_case_metrics([FIRM_A, FIRM_B, UNKNOWN_FIRM], EVERYTHING, now=now)
    assert firms == [dataclasses.replace(estate_1, key=FIRM_A), dataclasses.replace(estate_3, key=FIRM_B), CaseMetrics(UNKNOWN_FIRM)]
    # grouped by building: c1 at the house lies in building 1
    [building] = await Casework(store).case_metrics(ESTATE_1, Level.BUILDING, EVERYTHING, now=now)
    assert (building.key, building.cases, building.resolved) == (BUILDING_1, 1, 1)
    # a later `now` makes more cases overdue: c2's reopened deadline (T0 + 29 h) passes
    later = await Casework(store).case_metrics(COMMUNITY, Level.ESTATE, EVERYTHING, now=T0 + 30 * HOUR)
    assert later[0].overdue == 2


async def test_metrics_stay_in_scope(flow: Workflow, store: Store, clock: Clock) -> None:
    await _metrics_world(flow, clock)
    firm_a = Scope.of(ESTATE_1)  # a firm's scope: the estates it manages
    rows = await Casework(store).case_metrics(COMMUNITY, Level.ESTATE, firm_a, now=clock.now)
    assert [row.key for row in rows] == [ESTATE_1] and rows[0].cases == 4
    [community] = await Casework(store).place_case_metrics([COMMUNITY], firm_a, now=clock.now)
    assert community is None
    [mine, theirs] = await Casework(store).firm_case_metrics([FIRM_A, FIRM_B], firm_a, now=clock.now)
    assert (mine.cases, theirs.cases) == (4, 0)
    assert await Casework(store).case_metrics(COMMUNITY, Level.ESTATE, Scope.of("370203"), now=clock.now) == []


# -- events ----------------------------------------------------------------------------------


async def test_every_change_is_announced_on_the_bus(flow: Workflow, bus: EventBus, clock: Clock) -> None:
    listener = bus.subscribe(Topic.CASES)
    case = await flow.open_case(report(HOUSE_1), actor="业主")
    await flow.sign(case.id, actor="f", scope=EVERYTHING)
    await flow.resolve(case.id, actor="f", scope=EVERYTHING, note="ok")
    await flow.rate(case.id, 5, actor="o", scope=EVERYTHING)
    other = await flow.open_case(report(HOUSE_2), actor="业主")
    await flow.return_case(other.id, actor="f", scope=EVERYTHING, reason="非物业范围")
    await flow.move(other.id, CaseStatus.DISPATCHED, actor="街道", scope=EVERYTHING)
    clock.advance(3 * HOUR)
    await flow.escalate_due()
    seen = []
    while not listener._queue.empty():
        seen.append(await listener.get())
    assert [(event.id, event.kind) for event in seen] == [
        (case.id, "opened"), (case.id, "dispatched"), (case.id, "signed"), (case.id, "resolved"),
        (case.id, "rated"), (case.id, "archived"),
        (other.id, "opened"), (other.id, "dispatched"), (other.id, "returned"), (other.id, "moved"),
        (other.id, "escalated"),
    ]
    assert {(event.topic, event.place_code) for event in seen} == {(Topic.CASES, HOUSE_1), (Topic.CASES, HOUSE_2)}


async def test_a_sweep_pages_past_cases_waiting_for_their_next_rung(flow: Workflow, clock: Clock) -> None:
    waiting = await flow.open_case(report(HOUSE_1), actor="a")  # sign for by T0 + 2 h
    clock.now = T0 + 2 * HOUR + dt.timedelta(seconds=1)
    assert [case.id for case in await flow.escalate_due()] == [waiting.id]
    clock.now = T0 + HOUR
    behind = [(await flow.open_case(report(HOUSE_2), actor="a")).id for _ in range(2)]  # by T0 + 3 h
    clock.now = T0 + 3 * HOUR + dt.timedelta(seconds=1)
    # one candidate at a time: the waiting case (still due on rung 1) does not hold back the rest
    assert sorted(case.id for case in await flow.escalate_due(batch=1)) == sorted(behind)
