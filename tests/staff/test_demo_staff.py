"""The demo's staff (hub.demo.staff) on a real SQLite store: every managed estate with an outline
gets its crew, someone holding a valid elevator certificate is on shift at any hour, some
certificates are expiring or expired, and a trapped passenger is assigned to a demo hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph import open_store
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
from graph.ciphers.sealing import Sealer
from graph.clock import CHINA_STANDARD_TIME
from graph.scope import Scope
from graph.sql import SqlStore
from graph.staff.certificates import Standing, standing_of
from graph.staff.records import CertificateKind, Post
from graph.staff.shifts import on_shift
from graph.workflow import Workflow
from hub.demo.staff import ROTA, build_demo_staff, estate_staff
from tests.staff.world import ENTRANCE, ESTATE, FIRM, LIFT, OTHER_ESTATE, OTHER_FIRM, city

NOW = dt.datetime(2026, 12, 5, 1, 30, tzinfo=dt.timezone.utc)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    await opened.write(city())
    try:
        yield opened
    finally:
        await opened.close()


async def test_every_estate_gets_its_crew_and_a_hand_is_on_shift(store: SqlStore) -> None:
    made = await build_demo_staff(store, seed=7, now=NOW)
    assert (made.estates, made.members) == (2, 2 * len(ROTA))
    assert made.elevator_hand is not None and made.elevator_hand.startswith("YG-")
    [crew, other] = await store.staff_of([FIRM, OTHER_FIRM], Scope.everything())
    assert {member.estates for member in other} == {(OTHER_ESTATE,)}  # the other estate's firm has its own crew
    assert {member.estates for member in crew} == {(ESTATE,)}
    assert {m.post for m in crew} == {post for post, _, _ in ROTA}
    again = estate_staff(ESTATE, FIRM, LIFT, 7, NOW)
    assert [m.id for m in again] == [m.id for m in crew] and [m.name for m in again] == [m.name for m in crew]
    case = Case("", CaseSource.PATROL, CaseCategory.EMERGENCY, CaseStatus.ACCEPTED, "电梯困人", NOW, NOW, place_code=ENTRANCE, point=LIFT)
    opened = await Workflow(store, clock=lambda: NOW).open_case(case, actor="巡查员")
    assigned = next(m for m in crew if m.id == opened.assignee)
    assert assigned.post in (Post.ELEVATOR_MECHANIC, Post.ELEVATOR_SAFETY_OFFICER)
    assert OTHER_ESTATE not in assigned.estates


def test_shifts_cover_every_hour_and_certificates_lapse_sometimes() -> None:
    estates = [f"370202001001E{n:03d}" for n in range(1, 121)]
    crews = [estate_staff(code, FIRM, LIFT, 2020, NOW) for code in estates]
    day = NOW.astimezone(CHINA_STANDARD_TIME).date()
    for hour in range(0, 24 * 7, 5):
        at = NOW + dt.timedelta(hours=hour)
        for crew in crews[:3]:
            assert any(
                on_shift(m.shifts, at) and any(c.kind is CertificateKind.ELEVATOR_REPAIR for c in m.certificates) for m in crew
            ), at
    standings = [standing_of(c, day) for crew in crews for m in crew for c in m.certificates]
    assert Standing.EXPIRED in standings and Standing.EXPIRING in standings
    assert standings.count(Standing.VALID) > len(standings) / 2
