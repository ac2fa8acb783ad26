"""Dispatch to a person (graph.staff.dispatch) through the real workflow on a real SQLite store:
who is chosen and why, returns and re-dispatch, arrival checked against the case's place, the
on-site figures, and the certificates' standing per firm."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from graph import open_store
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.casework import Casework
from graph.ciphers.sealing import Sealer
from graph.errors import InvalidInput
from graph.scope import Scope
from graph.sql import SqlStore
from graph.staff.certificates import CertificateStanding, Standing, certificate_standing, standing_of
from graph.staff.dispatch import Assigner, AssignmentPolicy
from graph.staff.records import Certificate, CertificateKind, Post, StaffMember, WeeklyShift
from graph.staff.shifts import on_shift
from graph.clock import CHINA_STANDARD_TIME
from graph.workflow import Workflow
from tests.staff.world import BUILDING, ENTRANCE, ESTATE, FIRM, LIFT, OTHER_FIRM, city, crew, north_of

EVERYTHING = Scope.everything()
NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)  # a Monday, 10:00 in Beijing


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    await opened.write(city())
    await opened.save_staff(crew(NOW))
    try:
        yield opened
    finally:
        await opened.close()


def trapped(key: str = "", **changes: object) -> Case:
    case = Case(key, CaseSource.PATROL, CaseCategory.EMERGENCY, CaseStatus.ACCEPTED, "电梯困人：1号楼1单元", NOW, NOW, place_code=ENTRANCE, point=LIFT)
    return replace(case, **changes)  # type: ignore[arg-type]


async def test_the_nearest_certified_hand_on_shift_is_chosen_and_the_choice_explained(store: SqlStore) -> None:
    workflow = Workflow(store, clock=Clock())
    case = await workflow.open_case(trapped(), actor="巡查员")
    assert (case.status, case.firm_code, case.assignee) == (CaseStatus.DISPATCHED, FIRM, "S-HAND")
    assert case.arrive_by == NOW + dt.timedelta(minutes=20) and case.arrived_at is None
    [events] = await store.case_events([case.id], EVERYTHING)
    note = events[-1].note
    assert "指派给 S-HAND（电梯维修工）" in note and "距离 150 米（实时位置）" in note and "在办工单 0 件" in note
    assert "1 人不在班" in note and "2 人无有效电梯证书" in note and "2 人更远或更忙" in note


async def test_load_breaks_a_tie_and_returns_clear_the_assignee_until_the_next_dispatch(store: SqlStore) -> None:
    clock = Clock()
    workflow = Workflow(store, clock=clock)
    twin = replace(crew(NOW)[3], id="S-TWIN")  # as near as S-HAND, same certificate, same shift
    await store.save_staff([twin])
    first = await workflow.open_case(trapped(), actor="巡查员")
    assert first.assignee == "S-HAND"  # a tie in distance and load: by id
    second = await workflow.open_case(trapped(), actor="巡查员")
    assert second.assignee == "S-TWIN"  # S-HAND now carries one open case
    returned = await workflow.return_case(second.id, actor="物业", scope=EVERYTHING, reason="派错了")
    assert (returned.assignee, returned.arrive_by, returned.firm_code) == (None, None, None)
    clock.now = NOW + dt.timedelta(minutes=3)
    again = await workflow.dispatch(second.id, actor="街道", scope=EVERYTHING)
    assert again.assignee == "S-TWIN" and again.arrive_by == clock.now + dt.timedelta(minutes=20)


async def test_without_anyone_qualified_the_case_stays_with_the_firm_and_says_why(store: SqlStore) -> None:
    late = NOW + dt.timedelta(hours=6)  # every dated shift is over
    clock = Clock()
    clock.now = late
    case = await Workflow(store, clock=clock).open_case(trapped(reported_at=late, updated_at=late), actor="巡查员")
    assert (case.firm_code, case.assignee) == (FIRM, None)
    [events] = await store.case_events([case.id], EVERYTHING)
    assert "未能指派到人" in events[-1].note and "4 人不在班，2 人无有效电梯证书" in events[-1].note


async def test_skills_come_from_the_alarm_rule_or_the_words_of_the_case(store: SqlStore) -> None:
    assigner = Assigner(store)
    water = await assigner.skill_for(trapped(title="3号楼漏水", category=CaseCategory.REPAIR))
    power = await assigner.skill_for(trapped(title="楼道跳闸停电"))
    none = await assigner.skill_for(trapped(title="绿化修剪"))
    assert (water and water.name, power and power.name, none) == ("water", "electrical", None)
    clock = Clock()
    repair = await Workflow(store, clock=clock).open_case(trapped(title="楼道跳闸停电", category=CaseCategory.REPAIR), actor="巡查员")
    assert repair.assignee == "S-NOCERT" and repair.arrive_by is None  # the electrician; no on-site deadline for repairs


async def test_a_case_with_only_a_place_is_measured_from_its_place(store: SqlStore) -> None:
    case = await Workflow(store, clock=Clock()).open_case(trapped(point=None, place_code=BUILDING), actor="巡查员")
    assert case.assignee == "S-HAND"  # the estate's outline stands for the building


async def test_arrival_is_checked_against_the_case_and_counted_on_site(store: SqlStore) -> None:
    clock = Clock()
    workflow = Workflow(store, clock=clock, assigner=Assigner(store, AssignmentPolicy(arrive_within_m=100)))
    case = await workflow.open_case(trapped(), actor="巡查员")
    clock.now = NOW + dt.timedelta(minutes=2)
    await workflow.sign(case.id, actor="王师傅", scope=EVERYTHING, assignee="S-HAND")
    with pytest.raises(InvalidInput) as refused:
        await workflow.arrive(case.id, north_of(LIFT, 250), actor="王师傅", scope=EVERYTHING, assignee="S-HAND")
    assert refused.value.field == "position" and "250 m from case" in str(refused.value) and "at most 100 m" in str(refused.value)
    [unchanged] = await store.cases([case.id], EVERYTHING)
    assert unchanged is not None and unchanged.status is CaseStatus.SIGNED and unchanged.arrived_at is None
    with pytest.raises(InvalidInput):
        await workflow.arrive(case.id, LIFT, actor="别人", scope=EVERYTHING, assignee="S-FAR")
    clock.now = NOW + dt.timedelta(minutes=12)
    arrived = await workflow.arrive(case.id, north_of(LIFT, 30), actor="王师傅", scope=EVERYTHING, assignee="S-HAND")
    assert (arrived.status, arrived.arrived_at) == (CaseStatus.IN_PROGRESS, clock.now)
    late = await workflow.open_case(trapped(), actor="巡查员")
    clock.now = NOW + dt.timedelta(minutes=40)
    await workflow.sign(late.id, actor="王师傅", scope=EVERYTHING, assignee=late.assignee)
    await workflow.arrive(late.id, LIFT, actor="王师傅", scope=EVERYTHING, assignee=late.assignee)
    [firm] = await Casework(store).firm_case_metrics([FIRM], EVERYTHING, now=clock.now)
    [place] = await Casework(store).place_case_metrics([ESTATE], EVERYTHING, now=clock.now)
    for metrics in (firm, place):
        assert (metrics.on_site_due, metrics.on_site_in_time) == (2, 1)
        assert metrics.on_site_rate is not None and metrics.on_site_rate.numerator == 1 and metrics.on_site_rate.denominator == 2


async def test_certificate_standing_per_firm(store: SqlStore) -> None:
    day = NOW.date()
    standing = await certificate_standing(store, [FIRM, OTHER_FIRM, FIRM], day)
    # the crew: 4 valid elevator certificates, 1 expired, 1 electrician's expiring in 20 days (still held)
    assert standing == {FIRM: CertificateStanding(held=5, lapsed=1), OTHER_FIRM: CertificateStanding(0, 0)}
    assert standing[FIRM] == (5, 1)  # the (held, lapsed) pair graph.credit's plugged reader takes
    later = await certificate_standing(store, [FIRM], day + dt.timedelta(days=21))
    assert later[FIRM] == CertificateStanding(held=4, lapsed=2)
    expiring = [c for m in crew(NOW) for c in m.certificates if standing_of(c, day) is Standing.EXPIRING]
    assert [c.number for c in expiring] == ["D370200002"]


def test_certificates_and_shifts_on_their_edges() -> None:
    cert = Certificate(CertificateKind.LOW_VOLTAGE, "D1", dt.date(2020, 1, 1), dt.date(2026, 12, 31))
    assert standing_of(cert, dt.date(2026, 12, 1)) is Standing.VALID
    assert standing_of(cert, dt.date(2026, 12, 2)) is Standing.EXPIRING
    assert standing_of(cert, dt.date(2026, 12, 31)) is Standing.EXPIRING and cert.valid_on(dt.date(2026, 12, 31))
    assert standing_of(cert, dt.date(2027, 1, 1)) is Standing.EXPIRED
    assert standing_of(cert, dt.date(2019, 12, 31)) is Standing.NOT_YET_VALID
    assert standing_of(cert, dt.date(2026, 11, 1), dt.timedelta(days=61)) is Standing.EXPIRING
    sunday_night = WeeklyShift(7, dt.time(20), dt.time(8))
    monday = dt.datetime(2026, 12, 7, 7, 59, tzinfo=CHINA_STANDARD_TIME)
    assert on_shift([sunday_night], monday) and not on_shift([sunday_night], monday + dt.timedelta(minutes=1))
    assert on_shift([sunday_night], monday.astimezone(dt.timezone.utc))  # the zone of `at` does not matter
    member = StaffMember("S1", FIRM, Post.CLEANER, "张三", "370202199001011234")
    assert not on_shift(member.shifts, monday)


async def test_a_staff_token_names_a_member_the_store_holds(store: SqlStore) -> None:
    from graph.ciphers.keyring import Keyring
    from hub.auth.issuing import issue_token
    from hub.auth.principals import scope_of
    from hub.auth.tokens import decode
    from graph.security import Principal, Role

    keys = Keyring.generate()
    with pytest.raises(InvalidInput) as refused:
        await issue_token(store, keys, "staff", "S-NOBODY", "无名", dt.timedelta(hours=1))
    assert refused.value.field == "scope" and "is not a staff id in the store" in str(refused.value)
    token = await issue_token(store, keys, "staff", " S-HAND ", "王师傅", dt.timedelta(hours=1))
    claims = decode(keys.token_key, token, dt.datetime.now(dt.timezone.utc))
    assert (claims.role, claims.scope) == ("staff", "S-HAND")
    scope = await scope_of(store, Principal(Role.STAFF, claims.scope, claims.name, claims.token_id), NOW.date())
    assert scope.empty  # no place at all: its cases are read by assignee
    assert not Role.STAFF.sees_personal_data


async def test_the_credit_score_reads_certificate_standing_as_its_plugged_reader(store: SqlStore) -> None:
    from graph.credit import engine
    from graph.credit.inputs import StoreInputs
    from graph.credit.periods import Period

    inputs = StoreInputs(store, certificates=certificate_standing)
    period = Period.parse("2026-12")
    found = await inputs.certificate_standing([FIRM, OTHER_FIRM], period)
    expected = await certificate_standing(store, [FIRM, OTHER_FIRM], period.last_day)
    assert found == {FIRM: engine.CertificateStanding(*expected[FIRM]), OTHER_FIRM: engine.CertificateStanding(0, 0)}
