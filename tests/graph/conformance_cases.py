"""The conformance suite of the case part of the port (`graph.cases.CaseStore`), through the port
only: every member with its scope, order, paging, atomicity (a refused write changes nothing),
errors and, for the compare-and-set and the counter, concurrency.

Nothing here knows an adapter. A module that runs it imports the classes below
(`from tests.graph.conformance_cases import *`) beside `tests.graph.conformance`'s and provides
its `store` fixture (a fresh, empty store per test); `case_city` writes the fixture city into it.
The cases are written where the city has places and firms: 海韵花园 (E_A, 市南区 · 香港中路街道,
managed by FIRM_2 since 2020), 八大关花园 (E_B, 市南区 · 八大关街道) and 百分百%家园 (E_C, 市北区).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from dataclasses import replace
from collections.abc import Sequence
from typing import Any

import pytest

from graph.casework import Casework, merge_source_record
from graph.cases import (
    Case,
    CaseCategory,
    CaseEvent,
    CaseSource,
    CaseStatus,
    CaseTally,
    DuplicateCase,
    Escalation,
    OutboxDraft,
    Point,
)
from graph.cursors import encode_cursor
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Batch, Provenance
from graph.scope import Scope
from graph.store import Store
from tests.graph.conformance import (
    B_A1,
    CITY,
    E_A,
    E_B,
    E_C,
    FIRM_1,
    FIRM_2,
    ST_C,
    FIRM_3,
    FIRM_4,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    T_HOUSE,
    UNKNOWN_ESTATE,
    fixture_city,
)

__all__ = [
    "case_city",
    "TestInsertCase",
    "TestCaseAssignee",
    "TestCasesById",
    "TestCasePage",
    "TestCasesByExternal",
    "TestCaseEvents",
    "TestOverdueCases",
    "TestCaseTallies",
    "TestNextNumber",
    "TestUpdateCase",
    "TestOutboxMessages",
    "TestOutboxAcknowledgements",
    "TestCasesWritten",
    "TestCaseworkOverThePort",
]

EVERYTHING = Scope.everything()
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in China
CST = dt.timezone(dt.timedelta(hours=8))
MINUTE, HOUR = dt.timedelta(minutes=1), dt.timedelta(hours=1)
FIRM_UNKNOWN = "91350100M000100Y43"


@pytest.fixture
async def case_city(store: Store) -> Store:
    """A fresh store holding the fixture city (places, owners, firms), and no case yet."""
    await store.write(fixture_city())
    return store


def a_case(key: str, place: str | None = E_A, *, at: dt.datetime = T0, **changes: Any) -> Case:
    case = Case(
        id=key,
        source=CaseSource.PATROL,
        category=CaseCategory.REPAIR,
        status=CaseStatus.ACCEPTED,
        title=f"楼道灯不亮 {key}",
        reported_at=at,
        updated_at=at,
        description="3号楼2单元楼道声控灯坏了",
        place_code=place,
    )
    return dataclasses.replace(case, **changes)


def fed(number: int, status: CaseStatus = CaseStatus.DISPATCHED, *, at: dt.datetime = T0, **changes: Any) -> Case:
    """A case as the 12345 feed's connector writes it (pushed back to `cityops`)."""
    external = f"QD{number:06d}"
    base = a_case(
        f"cityops:{external}",
        at=at,
        source=CaseSource.HOTLINE,
        status=status,
        external_id=external,
        push_to="cityops",
        provenance=Provenance("cityops", external, at, "run-1"),
    )
    return dataclasses.replace(base, **changes)


def opened(case: Case, actor: str = "巡查员") -> CaseEvent:
    return CaseEvent(case.id, 1, None, case.status, case.reported_at, actor, "")


async def insert(store: Store, *cases: Case) -> list[Case]:
    return [await store.insert_case(case, opened(case)) for case in cases]


def step(case: Case, to: CaseStatus, at: dt.datetime, note: str = "", actor: str = "物业") -> CaseEvent:
    return CaseEvent(case.id, 0, case.status, to, at, actor, note)


async def history(store: Store, key: str) -> list[tuple[int, CaseStatus | None, CaseStatus, str]]:
    [events] = await store.case_events([key], EVERYTHING)
    return [(e.seq, e.from_status, e.to_status, e.note) for e in events]


async def everything_about(store: Store, keys: Sequence[str]) -> tuple[Any, ...]:
    """What the port can tell about these cases and the outbox: to check a refused write."""
    return (
        await store.cases(keys, EVERYTHING),
        await store.case_events(keys, EVERYTHING),
        await store.outbox_messages(None, limit=500),
        await store.outbox_messages(None, dead=True, limit=500),
        await store.outbox_pending(),
    )


async def ids_of_pages(store: Store, scope: Scope, first: int, **filters: Any) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(100):
        page = await store.case_page(scope, first, after, **filters)
        assert len(page.items) <= first
        seen += [case.id for case in page.items]
        if not page.has_next:
            assert page.end_cursor == (encode_cursor(page.items[-1].id) if page.items else None)
            return seen
        assert page.end_cursor == encode_cursor(page.items[-1].id)
        after = page.end_cursor
    raise AssertionError("the pages never ended")


# --------------------------------------------------------------------------------------------


class TestInsertCase:
    async def test_a_case_is_stored_whole_at_version_one_with_its_first_event(self, case_city: Store) -> None:
        full = a_case(
            "GD20260302000001",
            T_HOUSE,
            at=dt.datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=CST),
            status=CaseStatus.DISPATCHED,
            point=Point(120.3871, 36.0562),
            address="海韵花园1号楼1单元101",
            external_id="P-1",
            firm_code=FIRM_2,
            severity="major",
            deadline=T0 + 24 * HOUR,
            push_to="patrolapp",
            provenance=Provenance("patrol", "P-1", T0, "run-9"),
            dispatched_at=T0 + MINUTE,
            sign_by=T0 + 2 * HOUR,
            escalation=Escalation.STEWARD,
            escalated_at=T0 + 3 * HOUR,
        )
        stored = await case_city.insert_case(full, opened(full, "巡查员 王五"))
        assert stored == dataclasses.replace(full, version=1)
        assert stored.reported_at.tzinfo is not None and stored.reported_at.utcoffset() == dt.timedelta(0)
        assert stored.reported_at == dt.datetime(2026, 3, 2, 1, 0, 0, 123456, tzinfo=dt.timezone.utc)
        assert await case_city.cases([full.id], EVERYTHING) == [stored]
        [[event]] = await case_city.case_events([full.id], EVERYTHING)
        assert event == CaseEvent(full.id, 1, None, CaseStatus.DISPATCHED, full.reported_at, "巡查员 王五", "")

    async def test_the_version_given_is_ignored(self, case_city: Store) -> None:
        [stored] = await insert(case_city, a_case("GD20260302000002", version=41))
        assert stored.version == 1

    async def test_a_taken_id_is_a_duplicate_and_changes_nothing(self, case_city: Store) -> None:
        [first] = await insert(case_city, a_case("GD20260302000001"))
        before = await everything_about(case_city, [first.id])
        with pytest.raises(DuplicateCase, match="GD20260302000001 already exists"):
            await insert(case_city, a_case("GD20260302000001", E_B, title="另一件事"))
        assert await everything_about(case_city, [first.id]) == before

    @pytest.mark.parametrize(
        "changes, error, message",
        [
            ({"place_code": UNKNOWN_ESTATE}, StoreError, f"place {UNKNOWN_ESTATE} is not in the store"),
            ({"firm_code": FIRM_UNKNOWN}, StoreError, f"firm {FIRM_UNKNOWN} is not in the store"),
            ({"title": "  "}, InvalidInput, "title"),
            ({"rating": 6}, InvalidInput, "rating"),
            ({"point": Point(200.0, 36.0)}, InvalidInput, "point"),
            ({"id": "x" * 60}, InvalidInput, "id"),
        ],
    )
    async def test_a_bad_case_is_refused_and_nothing_is_stored(
        self, case_city: Store, changes: dict[str, Any], error: type[Exception], message: str
    ) -> None:
        bad = a_case("GD20260302000003", **changes)
        with pytest.raises(error, match=message):
            await insert(case_city, bad)
        assert await case_city.cases([bad.id], EVERYTHING) == [None]
        assert await case_city.case_events([bad.id], EVERYTHING) == [[]]
        assert (await case_city.case_page(EVERYTHING, 10)).items == []

    async def test_a_source_id_held_by_another_case_is_refused(self, case_city: Store) -> None:
        await insert(case_city, a_case("patrol:P-1", external_id="P-1"))
        with pytest.raises(StoreError, match="patrol id P-1 is already case patrol:P-1"):
            await insert(case_city, a_case("patrol:P-1b", external_id="P-1"))
        assert await case_city.cases(["patrol:P-1b"], EVERYTHING) == [None]
        # the same external id from another source is another case
        [other] = await insert(case_city, a_case("hotline:P-1", source=CaseSource.HOTLINE, external_id="P-1"))
        assert other.version == 1


class TestCasesById:
    async def test_cases_come_in_key_order_none_where_missing_or_out_of_scope(self, case_city: Store) -> None:
        a, b, c = await insert(case_city, a_case("C-A", E_A), a_case("C-B", E_B), a_case("C-C", E_C))
        nowhere, = await insert(case_city, a_case("C-N", None, point=Point(120.38, 36.06)))
        assert await case_city.cases(["C-C", "C-X", "C-A", "C-N", "C-A"], EVERYTHING) == [c, None, a, nowhere, a]
        assert await case_city.cases([], EVERYTHING) == []
        assert await case_city.cases(["C-A", "C-B", "C-C", "C-N"], Scope.of(ST_A)) == [a, None, None, None]
        assert await case_city.cases(["C-A", "C-B", "C-C", "C-N"], Scope.of(SHINAN)) == [a, b, None, None]
        assert await case_city.cases(["C-A", "C-C"], Scope.of(E_C, ST_B)) == [None, c]
        assert await case_city.cases(["C-A", "C-N"], Scope.of_codes([])) == [None, None]

    async def test_a_case_with_no_place_is_the_whole_citys(self, case_city: Store) -> None:
        nowhere, = await insert(case_city, a_case("C-N", None, address="青岛市某处"))
        assert await case_city.cases(["C-N"], Scope.of(CITY)) == [nowhere]
        assert await case_city.cases(["C-N"], EVERYTHING) == [nowhere]
        assert await case_city.cases(["C-N"], Scope.of(SHINAN, SHIBEI)) == [None]


class TestCasePage:
    async def stock(self, store: Store) -> list[Case]:
        """Ten cases over three estates, reported a minute apart but for ties."""
        cases = []
        for index in range(10):
            place = (E_A, E_B, E_C)[index % 3]
            category = (CaseCategory.REPAIR, CaseCategory.COMPLAINT)[index % 2]
            at = T0 + (index // 2) * MINUTE  # pairs share a report time: ties go by id, descending
            cases.append(a_case(f"C-{index:02d}", place, at=at, category=category, updated_at=at + (10 - index) * MINUTE))
        return await insert(store, *cases)

    async def test_newest_report_first_ties_by_id_descending_each_once_over_pages(self, case_city: Store) -> None:
        cases = await self.stock(case_city)
        expected = [c.id for c in sorted(cases, key=lambda c: (c.reported_at, c.id), reverse=True)]
        for first in (1, 3, 4, 10, 50):
            assert await ids_of_pages(case_city, EVERYTHING, first) == expected
        page = await case_city.case_page(EVERYTHING, 3)
        assert page.start_cursor == encode_cursor(page.items[0].id) and page.has_next
        # a cursor is made from any case's id: paging after any edge goes on from it
        after_fifth = await case_city.case_page(EVERYTHING, 50, encode_cursor(expected[4]))
        assert [c.id for c in after_fifth.items] == expected[5:]

    async def test_first_is_clamped_and_a_foreign_cursor_is_refused(self, case_city: Store) -> None:
        await self.stock(case_city)
        assert len((await case_city.case_page(EVERYTHING, 0)).items) == 1
        assert len((await case_city.case_page(EVERYTHING, -5)).items) == 1
        with pytest.raises(InvalidInput, match="after"):
            await case_city.case_page(EVERYTHING, 3, encode_cursor("GD19990101000001"))

    async def test_scope_and_within(self, case_city: Store) -> None:
        cases = await self.stock(case_city)
        nowhere, = await insert(case_city, a_case("C-N", None, at=T0 - HOUR))
        ordered = sorted(cases, key=lambda c: (c.reported_at, c.id), reverse=True)
        by_place = {place: [c.id for c in ordered if c.place_code == place] for place in (E_A, E_B, E_C)}
        assert await ids_of_pages(case_city, Scope.of(ST_A), 2) == by_place[E_A]
        assert await ids_of_pages(case_city, EVERYTHING, 2, within=E_C) == by_place[E_C]
        assert await ids_of_pages(case_city, Scope.of(SHINAN), 50, within=E_C) == []
        assert await ids_of_pages(case_city, Scope.of(ST_A), 50, within=SHINAN) == by_place[E_A]
        assert await ids_of_pages(case_city, EVERYTHING, 50, within=UNKNOWN_ESTATE) == []
        # a case with no place is listed under the city, and seen by whole-city scopes only
        assert (await ids_of_pages(case_city, EVERYTHING, 50, within=CITY))[-1] == nowhere.id
        assert nowhere.id not in await ids_of_pages(case_city, EVERYTHING, 50, within=SHINAN)
        assert nowhere.id not in await ids_of_pages(case_city, Scope.of(SHINAN, SHIBEI), 50)
        assert (await ids_of_pages(case_city, Scope.of(CITY), 50))[-1] == nowhere.id
        assert await ids_of_pages(case_city, Scope.of_codes([]), 50) == []

    async def test_filters(self, case_city: Store) -> None:
        cases = await self.stock(case_city)
        ordered = sorted(cases, key=lambda c: (c.reported_at, c.id), reverse=True)

        def expect(keep: Any) -> list[str]:
            return [c.id for c in ordered if keep(c)]

        assert await ids_of_pages(case_city, EVERYTHING, 3, categories=[CaseCategory.COMPLAINT]) == expect(
            lambda c: c.category is CaseCategory.COMPLAINT
        )
        assert await ids_of_pages(case_city, EVERYTHING, 3, categories=[]) == []
        assert await ids_of_pages(case_city, EVERYTHING, 3, source=CaseSource.PATROL) == expect(lambda c: True)
        assert await ids_of_pages(case_city, EVERYTHING, 3, source=CaseSource.HOTLINE) == []
        assert await ids_of_pages(case_city, EVERYTHING, 3, statuses=[CaseStatus.ACCEPTED]) == expect(lambda c: True)
        assert await ids_of_pages(case_city, EVERYTHING, 3, statuses=[CaseStatus.SIGNED, CaseStatus.RESOLVED]) == []
        since, until = T0 + MINUTE, T0 + 3 * MINUTE
        assert await ids_of_pages(case_city, EVERYTHING, 2, since=since, until=until) == expect(
            lambda c: since <= c.reported_at < until
        )
        # by update: the window bounds the last update, the order stays by report
        assert await ids_of_pages(case_city, EVERYTHING, 2, since=since, until=until, by_update=True) == expect(
            lambda c: since <= c.updated_at < until
        )
        assert await ids_of_pages(case_city, EVERYTHING, 2, since=T0 + 4 * MINUTE, within=E_A, categories=[CaseCategory.REPAIR]) == expect(
            lambda c: c.reported_at >= T0 + 4 * MINUTE and c.place_code == E_A and c.category is CaseCategory.REPAIR
        )

    async def test_overdue_and_firm(self, case_city: Store) -> None:
        late_sign = a_case("O-1", status=CaseStatus.DISPATCHED, firm_code=FIRM_2, sign_by=T0 + HOUR)
        late_work = a_case("O-2", E_B, status=CaseStatus.IN_PROGRESS, firm_code=FIRM_2, deadline=T0 + HOUR)
        on_time = a_case("O-3", E_C, status=CaseStatus.SIGNED, firm_code=FIRM_3, sign_by=T0 + HOUR, deadline=T0 + 9 * HOUR)
        done = a_case("O-4", status=CaseStatus.RESOLVED, firm_code=FIRM_2, deadline=T0 + HOUR)
        plain = a_case("O-5")
        await insert(case_city, late_sign, late_work, on_time, done, plain)
        now = T0 + 2 * HOUR
        assert await ids_of_pages(case_city, EVERYTHING, 2, overdue=True, now=now) == ["O-2", "O-1"]
        assert await ids_of_pages(case_city, EVERYTHING, 2, overdue=False, now=now) == ["O-5", "O-4", "O-3"]
        assert await ids_of_pages(case_city, EVERYTHING, 2, overdue=True, now=T0 + HOUR) == []  # due at, not past
        assert await ids_of_pages(case_city, Scope.of(ST_A), 2, overdue=True, now=now) == ["O-1"]
        assert await ids_of_pages(case_city, EVERYTHING, 2, firm_code=FIRM_2) == ["O-4", "O-2", "O-1"]
        assert await ids_of_pages(case_city, EVERYTHING, 2, firm_code=FIRM_4) == []
        with pytest.raises(InvalidInput, match="now"):
            await case_city.case_page(EVERYTHING, 10, overdue=True)


class TestCasesByExternal:
    async def test_by_source_and_external_id_in_key_order_unscoped(self, case_city: Store) -> None:
        await case_city.write(Batch(cases=[fed(1), fed(2, place_code=E_C)]))
        await insert(case_city, a_case("patrol:QD000001", external_id="QD000001"))
        found = await case_city.cases_by_external(CaseSource.HOTLINE, ["QD000002", "QD000009", "QD000001"])
        assert [c.id if c else None for c in found] == ["cityops:QD000002", None, "cityops:QD000001"]
        assert found[0] == (await case_city.cases(["cityops:QD000002"], EVERYTHING))[0]
        [patrol] = await case_city.cases_by_external(CaseSource.PATROL, ["QD000001"])
        assert patrol is not None and patrol.id == "patrol:QD000001"
        assert await case_city.cases_by_external(CaseSource.OPEN311, ["QD000001"]) == [None]
        assert await case_city.cases_by_external(CaseSource.HOTLINE, []) == []


class TestCaseEvents:
    async def test_history_in_seq_order_empty_where_unseen(self, case_city: Store) -> None:
        a, c = await insert(case_city, a_case("H-A", E_A), a_case("H-C", E_C))
        moves = [step(a, CaseStatus.DISPATCHED, T0 + MINUTE, "派单")]
        moved = await case_city.update_case(dataclasses.replace(a, status=CaseStatus.DISPATCHED), expect=1, events=moves)
        assert moved is not None
        signed = dataclasses.replace(moved, status=CaseStatus.SIGNED)
        assert await case_city.update_case(
            signed, expect=2, events=[step(moved, CaseStatus.SIGNED, T0 + 2 * MINUTE, "签收"), step(signed, CaseStatus.SIGNED, T0 + 2 * MINUTE, "备注")]
        )
        [ha, missing, hc] = await case_city.case_events(["H-A", "H-X", "H-C"], EVERYTHING)
        assert [(e.seq, e.from_status, e.to_status, e.note) for e in ha] == [
            (1, None, CaseStatus.ACCEPTED, ""),
            (2, CaseStatus.ACCEPTED, CaseStatus.DISPATCHED, "派单"),
            (3, CaseStatus.DISPATCHED, CaseStatus.SIGNED, "签收"),
            (4, CaseStatus.SIGNED, CaseStatus.SIGNED, "备注"),
        ]
        assert {e.case_id for e in ha} == {"H-A"} and ha[1].at == T0 + MINUTE and ha[1].actor == "物业"
        assert missing == [] and [e.seq for e in hc] == [1]
        assert await case_city.case_events(["H-A", "H-C"], Scope.of(SHIBEI)) == [[], hc]
        assert await case_city.case_events([], EVERYTHING) == []


class TestOverdueCases:
    async def test_unscoped_overdue_below_a_rung_by_id_after_a_key(self, case_city: Store) -> None:
        now = T0 + 5 * HOUR
        await insert(
            case_city,
            a_case("E-5", status=CaseStatus.DISPATCHED, sign_by=T0 + HOUR),  # unsigned past sign_by
            a_case("E-1", None, status=CaseStatus.SIGNED, deadline=T0 + HOUR),  # open past deadline, no place
            a_case("E-3", E_C, status=CaseStatus.RETURNED, deadline=T0 + HOUR, escalation=Escalation.STEWARD),
            a_case("E-2", status=CaseStatus.IN_PROGRESS, deadline=T0 + HOUR, escalation=Escalation.STREET),
            a_case("E-4", status=CaseStatus.RESOLVED, deadline=T0 + HOUR),  # done: never overdue
            a_case("E-6", status=CaseStatus.SIGNED, sign_by=T0 + HOUR, deadline=now + HOUR),  # signed: sign_by no longer binds
            a_case("E-7", status=CaseStatus.ACCEPTED, deadline=now),  # due now, not past
        )
        found = await case_city.overdue_cases(now, Escalation.STREET)
        assert [c.id for c in found] == ["E-1", "E-3", "E-5"]
        assert found[0] == (await case_city.cases(["E-1"], EVERYTHING))[0]
        assert [c.id for c in await case_city.overdue_cases(now, Escalation.STEWARD)] == ["E-1", "E-5"]
        assert [c.id for c in await case_city.overdue_cases(now, Escalation.STREET, 2)] == ["E-1", "E-3"]
        assert [c.id for c in await case_city.overdue_cases(now, Escalation.STREET, 2, "E-3")] == ["E-5"]
        assert [c.id for c in await case_city.overdue_cases(now, Escalation.STREET, 0)] == ["E-1"]  # clamped to one
        assert await case_city.overdue_cases(T0, Escalation.STREET) == []


class TestCaseTallies:
    async def stock(self, store: Store) -> None:
        """Cases at 海韵花园 (E_A, T_HOUSE under it) and 百分百%家园 (E_C); FIRM_2 and FIRM_3."""
        now = T0 + 10 * HOUR
        await insert(
            store,
            # in time (signed 30 min before sign_by), resolved after 3 h, rated 5
            a_case("M-1", T_HOUSE, status=CaseStatus.ARCHIVED, firm_code=FIRM_2, sign_by=T0 + HOUR,
                   signed_at=T0 + 30 * MINUTE, resolved_at=T0 + 3 * HOUR, rating=5),
            # late signing, resolved after 1 h 0.000001 s, rated 2: resolved, not satisfied
            a_case("M-2", E_A, status=CaseStatus.RESOLVED, firm_code=FIRM_2, sign_by=T0 + HOUR,
                   signed_at=T0 + 2 * HOUR, resolved_at=T0 + HOUR + dt.timedelta(microseconds=1), rating=2),
            # dispatched, unsigned past sign_by: due, not in time, overdue
            a_case("M-3", B_A1, status=CaseStatus.DISPATCHED, firm_code=FIRM_2, sign_by=T0 + 2 * HOUR),
            # dispatched, sign_by still ahead: not due yet
            a_case("M-4", E_A, status=CaseStatus.DISPATCHED, firm_code=FIRM_2, sign_by=now + HOUR),
            # reported a day before: outside a window from T0
            a_case("M-5", E_A, at=T0 - 24 * HOUR, status=CaseStatus.ARCHIVED, resolved_at=T0, rating=4),
            # elsewhere
            a_case("M-6", E_C, status=CaseStatus.IN_PROGRESS, firm_code=FIRM_3, deadline=T0 + HOUR),
            a_case("M-7", None, status=CaseStatus.DISPATCHED, firm_code=FIRM_2, sign_by=T0 + HOUR),
        )

    async def test_place_tallies_count_each_subtree_in_scope(self, case_city: Store) -> None:
        await self.stock(case_city)
        now = T0 + 10 * HOUR
        e_a, e_c, house, city, unknown = await case_city.case_tallies([E_A, E_C, T_HOUSE, CITY, UNKNOWN_ESTATE], EVERYTHING, now=now)
        assert e_a is not None and dataclasses.replace(e_a, resolve_durations=()) == CaseTally(
            E_A, cases=5, due=3, signed_in_time=1, resolved=3, rated=3, satisfied=2, overdue=1
        )
        assert sorted(e_a.resolve_durations) == [HOUR + dt.timedelta(microseconds=1), 3 * HOUR, 24 * HOUR]
        assert e_c == CaseTally(E_C, cases=1, overdue=1)
        assert house == CaseTally(T_HOUSE, cases=1, due=1, signed_in_time=1, resolved=1, rated=1, satisfied=1,
                                  resolve_durations=(3 * HOUR,))
        assert city is not None and city.cases == 6  # a case with no place counts at no place
        assert unknown is None
        assert await case_city.case_tallies([], EVERYTHING, now=now) == []

    async def test_a_window_and_a_scope_bound_what_is_counted(self, case_city: Store) -> None:
        await self.stock(case_city)
        now = T0 + 10 * HOUR
        [e_a] = await case_city.case_tallies([E_A], EVERYTHING, now=now, since=T0)
        assert e_a is not None and (e_a.cases, e_a.resolved, e_a.rated) == (4, 2, 2)
        [before] = await case_city.case_tallies([E_A], EVERYTHING, now=now, until=T0)
        assert before is not None and (before.cases, before.resolve_durations) == (1, (24 * HOUR,))
        [empty] = await case_city.case_tallies([E_A], EVERYTHING, now=now, since=T0 + HOUR, until=T0 + HOUR)
        assert empty == CaseTally(E_A)
        # out of scope: absent; a place above the scope counts only what the scope holds
        assert await case_city.case_tallies([E_C, E_A], Scope.of(ST_A), now=now) == [
            None,
            (await case_city.case_tallies([E_A], EVERYTHING, now=now))[0],
        ]
        [shinan] = await case_city.case_tallies([SHINAN], Scope.of(SHINAN), now=now)
        [district] = await case_city.case_tallies([SHINAN], Scope.of(E_A), now=now)
        assert shinan is not None and shinan.cases == 5
        assert district is None

    async def test_firm_tallies_count_cases_dispatched_to_each_firm_in_scope(self, case_city: Store) -> None:
        await self.stock(case_city)
        now = T0 + 10 * HOUR
        two, three, four, unknown = await case_city.case_tallies([FIRM_2, FIRM_3, FIRM_4, FIRM_UNKNOWN], EVERYTHING, firms=True, now=now)
        assert two is not None and (two.key, two.cases, two.due, two.signed_in_time, two.overdue) == (FIRM_2, 5, 4, 1, 2)
        assert three == CaseTally(FIRM_3, cases=1, overdue=1)
        assert four == CaseTally(FIRM_4) and unknown == CaseTally(FIRM_UNKNOWN)
        [in_street] = await case_city.case_tallies([FIRM_2], Scope.of(ST_A), firms=True, now=now)
        assert in_street is not None and in_street.cases == 4  # the case with no place is the city's
        [in_city] = await case_city.case_tallies([FIRM_2], Scope.of(CITY), firms=True, now=now)
        assert in_city is not None and in_city.cases == 5
        [elsewhere] = await case_city.case_tallies([FIRM_2], Scope.of(SHIBEI), firms=True, now=now)
        assert elsewhere == CaseTally(FIRM_2)


class TestNextNumber:
    async def test_counters_count_from_one_each_on_its_own(self, store: Store) -> None:
        assert [await store.next_number("GD20260302") for _ in range(3)] == [1, 2, 3]
        assert await store.next_number("GD20260303") == 1
        assert await store.next_number("AL20260302") == 1
        assert await store.next_number("GD20260302") == 4

    async def test_writers_at_once_never_share_a_number(self, store: Store) -> None:
        numbers = await asyncio.gather(*(store.next_number("GD20260302") for _ in range(20)))
        assert sorted(numbers) == list(range(1, 21))

    @pytest.mark.parametrize("key", ["", "k" * 65])
    async def test_a_bad_key_is_refused(self, store: Store, key: str) -> None:
        with pytest.raises(InvalidInput, match="key"):
            await store.next_number(key)
        assert await store.next_number("k") == 1


class TestUpdateCase:
    async def test_a_write_over_the_expected_version_replaces_appends_and_queues(self, case_city: Store) -> None:
        await case_city.write(Batch(cases=[fed(1)]))
        [case] = await case_city.cases(["cityops:QD000001"], EVERYTHING)
        assert case is not None and case.version == 1
        at = T0 + HOUR
        signed = dataclasses.replace(
            case, status=CaseStatus.SIGNED, updated_at=at, signed_at=at, deadline=at + 24 * HOUR, firm_code=FIRM_2,
            title="楼道灯不亮（已核实）", place_code=T_HOUSE, escalation=Escalation.STEWARD, escalated_at=at,
        )
        message = OutboxDraft("cityops", {"status": "signed", "note": "已签收", "n": [1, 2]}, at)
        stored = await case_city.update_case(signed, expect=1, events=[step(case, CaseStatus.SIGNED, at, "已签收")], messages=[message])
        assert stored == dataclasses.replace(signed, version=2)
        assert await case_city.cases([case.id], EVERYTHING) == [stored]
        assert (await history(case_city, case.id))[-1] == (2, CaseStatus.DISPATCHED, CaseStatus.SIGNED, "已签收")
        [queued] = await case_city.outbox_messages("cityops")
        assert (queued.case_id, queued.external_id, queued.payload, queued.created_at, queued.next_attempt_at) == (
            case.id, "QD000001", message.payload, at, at
        )
        assert (queued.attempts, queued.sent_at, queued.last_error, queued.dead) == (0, None, None, False)

    async def test_the_id_source_external_id_and_report_time_stay(self, case_city: Store) -> None:
        [case] = await insert(case_city, a_case("U-1", external_id="P-1"))
        changed = dataclasses.replace(
            case, source=CaseSource.HOTLINE, external_id="P-2", reported_at=T0 - HOUR, description="补充说明"
        )
        stored = await case_city.update_case(changed, expect=1)
        assert stored == dataclasses.replace(case, description="补充说明", version=2)
        assert await history(case_city, case.id) == [(1, None, CaseStatus.ACCEPTED, "")]

    async def test_a_stale_or_unknown_version_changes_nothing(self, case_city: Store) -> None:
        await case_city.write(Batch(cases=[fed(1)]))
        [case] = await case_city.cases(["cityops:QD000001"], EVERYTHING)
        assert case is not None
        before = await everything_about(case_city, [case.id])
        moved = dataclasses.replace(case, status=CaseStatus.SIGNED)
        events, messages = [step(case, CaseStatus.SIGNED, T0)], [OutboxDraft("cityops", {"x": 1}, T0)]
        for expect in (0, 2, 7):
            assert await case_city.update_case(moved, expect=expect, events=events, messages=messages) is None
        assert await case_city.update_case(dataclasses.replace(moved, id="cityops:QD999999"), expect=1, events=events) is None
        assert await everything_about(case_city, [case.id, "cityops:QD999999"]) == (
            [*before[0], None], [*before[1], []], *before[2:]
        )

    @pytest.mark.parametrize(
        "changes, error, message",
        [
            ({"firm_code": FIRM_UNKNOWN}, StoreError, f"firm {FIRM_UNKNOWN} is not in the store"),
            ({"place_code": UNKNOWN_ESTATE}, StoreError, f"place {UNKNOWN_ESTATE} is not in the store"),
            ({"title": ""}, InvalidInput, "title"),
            ({"rating": 0}, InvalidInput, "rating"),
        ],
    )
    async def test_a_refused_write_changes_nothing(
        self, case_city: Store, changes: dict[str, Any], error: type[Exception], message: str
    ) -> None:
        await case_city.write(Batch(cases=[fed(1)]))
        [case] = await case_city.cases(["cityops:QD000001"], EVERYTHING)
        assert case is not None
        before = await everything_about(case_city, [case.id])
        bad = dataclasses.replace(case, status=CaseStatus.SIGNED, **changes)
        with pytest.raises(error, match=message):
            await case_city.update_case(
                bad, expect=1, events=[step(case, CaseStatus.SIGNED, T0)], messages=[OutboxDraft("cityops", {"x": 1}, T0)]
            )
        assert await everything_about(case_city, [case.id]) == before

    async def test_of_writers_over_one_version_exactly_one_wins(self, case_city: Store) -> None:
        await case_city.write(Batch(cases=[fed(1)]))
        [case] = await case_city.cases(["cityops:QD000001"], EVERYTHING)
        assert case is not None
        tries = [
            case_city.update_case(
                dataclasses.replace(case, status=to, updated_at=T0 + HOUR),
                expect=1,
                events=[step(case, to, T0 + HOUR, f"writer {index}")],
                messages=[OutboxDraft("cityops", {"writer": index}, T0 + HOUR)],
            )
            for index, to in enumerate([CaseStatus.SIGNED, CaseStatus.RETURNED] * 4)
        ]
        results = await asyncio.gather(*tries)
        winners = [(index, result) for index, result in enumerate(results) if result is not None]
        assert len(winners) == 1
        index, won = winners[0]
        assert won.version == 2 and await case_city.cases([case.id], EVERYTHING) == [won]
        assert await history(case_city, case.id) == [
            (1, None, CaseStatus.DISPATCHED, "read from cityops (record QD000001)"),
            (2, CaseStatus.DISPATCHED, won.status, f"writer {index}"),
        ]
        assert [m.payload for m in await case_city.outbox_messages("cityops")] == [{"writer": index}]


class TestOutboxMessages:
    async def queue(self, store: Store) -> list[int]:
        """Five messages: to cityops for cases 1 and 2 (in turns), and to open311 for case 3."""
        await store.write(Batch(cases=[fed(1), fed(2), fed(3, push_to="open311")]))
        plan = [(1, "a"), (2, "b"), (3, "c"), (1, "d"), (2, "e")]
        for number, note in plan:
            [case] = await store.cases([f"cityops:QD{number:06d}"], EVERYTHING)
            assert case is not None and case.push_to is not None
            at = T0 + len(note) * MINUTE
            moved = await store.update_case(
                dataclasses.replace(case, updated_at=at), expect=case.version, messages=[OutboxDraft(case.push_to, {"note": note}, at)]
            )
            assert moved is not None
        return [m.id for m in await store.outbox_messages(None)]

    async def test_oldest_first_per_target_or_all_limited(self, case_city: Store) -> None:
        ids = await self.queue(case_city)
        assert len(ids) == 5 and ids == sorted(ids)
        every = await case_city.outbox_messages(None)
        assert [m.payload["note"] for m in every] == ["a", "b", "c", "d", "e"]
        assert [m.payload["note"] for m in await case_city.outbox_messages("cityops")] == ["a", "b", "d", "e"]
        assert [(m.target, m.case_id) for m in await case_city.outbox_messages("open311")] == [("open311", "cityops:QD000003")]
        assert [m.payload["note"] for m in await case_city.outbox_messages("cityops", limit=2)] == ["a", "b"]
        assert [m.payload["note"] for m in await case_city.outbox_messages("cityops", limit=0)] == ["a"]
        assert await case_city.outbox_messages("elsewhere") == []
        assert await case_city.outbox_messages(None, dead=True) == []
        assert (await case_city.outbox_pending(), await case_city.outbox_pending("cityops"), await case_city.outbox_pending("x")) == (5, 4, 0)


class TestOutboxAcknowledgements:
    async def test_sent_messages_leave_the_queue_once(self, case_city: Store) -> None:
        ids = await TestOutboxMessages().queue(case_city)
        await case_city.outbox_sent([ids[0], ids[2]], T0 + HOUR)
        assert [m.id for m in await case_city.outbox_messages(None)] == [ids[1], ids[3], ids[4]]
        assert await case_city.outbox_pending() == 3
        before = await everything_about(case_city, [])
        await case_city.outbox_sent([ids[0], 10**9], T0 + 2 * HOUR)  # again, and unknown: nothing changes
        await case_city.outbox_sent([], T0)
        await case_city.outbox_failed(ids[0], "late failure", T0 + 3 * HOUR)  # sent: left as it is
        await case_city.outbox_failed(10**9, "unknown", None)
        assert await everything_about(case_city, []) == before

    async def test_a_failure_counts_and_reschedules_and_none_gives_up(self, case_city: Store) -> None:
        ids = await TestOutboxMessages().queue(case_city)
        retry = T0 + 2 * HOUR
        await case_city.outbox_failed(ids[0], "503 Service Unavailable", retry)
        await case_city.outbox_failed(ids[0], "x" * 2500, retry + MINUTE)
        [first, *_] = await case_city.outbox_messages("cityops")
        assert (first.id, first.attempts, first.last_error, first.next_attempt_at, first.dead) == (
            ids[0], 2, "x" * 2000, retry + MINUTE, False
        )
        await case_city.outbox_failed(ids[1], "409 illegal move", None)
        [dead] = await case_city.outbox_messages(None, dead=True)
        assert (dead.id, dead.dead, dead.attempts, dead.last_error, dead.sent_at, dead.payload) == (
            ids[1], True, 1, "409 illegal move", None, {"note": "b"}
        )
        assert await case_city.outbox_messages("open311", dead=True) == []
        assert [m.id for m in await case_city.outbox_messages("cityops", dead=True)] == [ids[1]]
        assert ids[1] not in [m.id for m in await case_city.outbox_messages(None)]
        assert (await case_city.outbox_pending(), await case_city.outbox_pending("cityops")) == (4, 3)


class TestCasesWritten:
    """`Store.write` of `Batch.cases`: the sources' path, with `merge_source_record`'s rule."""

    async def test_rewrites_are_idempotent_and_a_source_move_is_its_event(self, case_city: Store) -> None:
        counts = await case_city.write(Batch(cases=[fed(1), fed(2)]))
        assert (counts.inserted, counts.updated) == (2, 0)
        again = await case_city.write(Batch(cases=[fed(1), fed(2, provenance=Provenance("cityops", "QD000002", T0, "run-2"))]))
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
        assert [c.version for c in await case_city.cases(["cityops:QD000001", "cityops:QD000002"], EVERYTHING)] == [1, 1]  # type: ignore[union-attr]
        later = T0 + 2 * HOUR
        moved = await case_city.write(Batch(cases=[fed(1, CaseStatus.SIGNED, updated_at=later)]))
        assert moved.updated == 1
        [case] = await case_city.cases(["cityops:QD000001"], EVERYTHING)
        assert case is not None and (case.status, case.updated_at, case.version) == (CaseStatus.SIGNED, later, 2)
        [events] = await case_city.case_events([case.id], EVERYTHING)
        assert [(e.from_status, e.to_status, e.at, e.actor) for e in events][-1] == (CaseStatus.DISPATCHED, CaseStatus.SIGNED, later, "cityops")
        assert await case_city.outbox_pending() == 0  # read from the source: never sent back

    async def test_the_hubs_unpushed_change_and_workflow_fields_survive_a_rewrite(self, case_city: Store) -> None:
        await case_city.write(Batch(cases=[fed(1)]))
        [case] = await case_city.cases(["cityops:QD000001"], EVERYTHING)
        assert case is not None
        at = T0 + HOUR
        hub = dataclasses.replace(case, status=CaseStatus.SIGNED, updated_at=at, signed_at=at, sign_by=at, escalation=Escalation.STEWARD)
        signed = await case_city.update_case(hub, expect=1, messages=[OutboxDraft("cityops", {"status": "signed"}, at)])
        assert signed is not None
        incoming = fed(1, updated_at=at + 5 * MINUTE, title="楼道灯不亮（补充）")
        await case_city.write(Batch(cases=[incoming]))
        [kept] = await case_city.cases([case.id], EVERYTHING)
        assert kept == dataclasses.replace(merge_source_record(signed, incoming, waiting=True), version=3)
        assert (kept.status, kept.title, kept.updated_at, kept.signed_at, kept.escalation) == (
            CaseStatus.SIGNED, "楼道灯不亮（补充）", at, at, Escalation.STEWARD
        )
        [message] = await case_city.outbox_messages("cityops")
        await case_city.outbox_sent([message.id], at + 6 * MINUTE)
        await case_city.write(Batch(cases=[fed(1, updated_at=at - 5 * MINUTE, title="楼道灯不亮（补充）")]))  # older: not taken
        assert (await case_city.cases([case.id], EVERYTHING))[0] == kept
        await case_city.write(Batch(cases=[fed(1, CaseStatus.IN_PROGRESS, updated_at=at + HOUR, title="楼道灯不亮（补充）")]))
        [newer] = await case_city.cases([case.id], EVERYTHING)
        assert newer is not None and (newer.status, newer.signed_at, newer.version) == (CaseStatus.IN_PROGRESS, at, 4)

    async def test_a_bad_case_stops_its_batch(self, case_city: Store) -> None:
        await case_city.write(Batch(cases=[fed(1)]))
        before = await everything_about(case_city, ["cityops:QD000001", "cityops:QD000002"])
        for batch, error, message in [
            (Batch(cases=[fed(2), fed(1, place_code=UNKNOWN_ESTATE)]), StoreError, f"place {UNKNOWN_ESTATE} is not in the store"),
            (Batch(cases=[fed(2, firm_code=FIRM_UNKNOWN)]), StoreError, f"firm {FIRM_UNKNOWN} is not in the store"),
            (Batch(cases=[fed(2, rating=9)]), InvalidInput, "rating"),
            (Batch(cases=[fed(2), fed(1, id="other:QD000001")]), StoreError, "hotline id QD000001 is already case cityops:QD000001"),
        ]:
            with pytest.raises(error, match=message):
                await case_city.write(batch)
            assert await everything_about(case_city, ["cityops:QD000001", "cityops:QD000002"]) == before


class TestCaseworkOverThePort:
    """The rules of `graph.casework` hold on every backend: they run on the port alone."""

    async def test_the_hub_numbers_its_cases_by_day_in_china(self, case_city: Store) -> None:
        work = Casework(case_city)
        first = await work.open_case(a_case(""), actor="业主")
        second = await work.open_case(a_case(""), actor="业主")
        late = await work.open_case(a_case("", at=T0 + 15 * HOUR), actor="业主")  # 00:00 next day in China
        assert (first.id, second.id, late.id) == ("GD20260302000001", "GD20260302000002", "GD20260303000001")
        with pytest.raises(DuplicateCase, match="GD20260302000001 already exists"):
            await work.open_case(a_case("GD20260302000001"), actor="x")
        # an id taken by a source's write is skipped, not reused
        await case_city.write(Batch(cases=[a_case("GD20260302000003", external_id="X-3", source=CaseSource.HOTLINE)]))
        assert (await work.open_case(a_case(""), actor="业主")).id == "GD20260302000004"
        opened_at_once = await asyncio.gather(*(work.open_case(a_case("", at=T0 + 30 * HOUR), actor="a") for _ in range(6)))
        assert sorted(c.id for c in opened_at_once) == [f"GD20260303{n:06d}" for n in range(2, 8)]

    async def test_moves_are_checked_kept_and_queued_and_racing_moves_do_not_both_land(self, case_city: Store) -> None:
        await case_city.write(Batch(cases=[fed(1)]))
        work = Casework(case_city)
        at = T0 + HOUR
        with pytest.raises(InvalidInput, match=r"it may go to returned \(退单\), signed \(签收\) only"):
            await work.move_case("cityops:QD000001", CaseStatus.RESOLVED, actor="a", note="", at=at, scope=EVERYTHING)
        with pytest.raises(InvalidInput, match="is not a case you can see"):
            await work.move_case("cityops:QD000001", CaseStatus.SIGNED, actor="a", note="", at=at, scope=Scope.of(SHIBEI))
        results = await asyncio.gather(
            *(work.move_case("cityops:QD000001", CaseStatus.SIGNED, actor=f"物业{n}", note="", at=at, scope=EVERYTHING) for n in range(4)),
            return_exceptions=True,
        )
        landed = [r for r in results if isinstance(r, Case)]
        refused = [r for r in results if isinstance(r, InvalidInput)]
        assert len(landed) == 1 and len(refused) == 3, results
        assert "case cityops:QD000001 is signed" in str(refused[0])
        assert [(s, f, t) for s, f, t, _ in await history(case_city, "cityops:QD000001")] == [
            (1, None, CaseStatus.DISPATCHED), (2, CaseStatus.DISPATCHED, CaseStatus.SIGNED)
        ]
        [message] = await work.outbox_due("cityops", at)
        assert (message.payload["status"], message.payload["from"], message.payload["at"]) == ("signed", "dispatched", at.isoformat())
        assert await work.outbox_due("cityops", at - MINUTE) == []

    async def test_a_rung_is_reached_once_however_many_sweeps_race(self, case_city: Store) -> None:
        await insert(case_city, a_case("R-1", status=CaseStatus.DISPATCHED, sign_by=T0))
        work = Casework(case_city)
        at = T0 + HOUR
        raised = await asyncio.gather(
            *(work.escalate_case("R-1", Escalation.COMMITTEE, actor="hub:escalation", note="逾期", at=at) for _ in range(5))
        )
        assert len([r for r in raised if r is not None]) == 1
        assert await work.escalate_case("R-1", Escalation.STEWARD, actor="hub:escalation", note="", at=at) is None
        [case] = await case_city.cases(["R-1"], EVERYTHING)
        assert case is not None and (case.escalation, case.escalated_at, case.status) == (Escalation.COMMITTEE, at, CaseStatus.DISPATCHED)
        assert [t for _, _, t, _ in await history(case_city, "R-1")] == [CaseStatus.DISPATCHED, CaseStatus.DISPATCHED]
        assert [c.id for c in await work.escalation_candidates(at)] == ["R-1"]

    async def test_figures_per_place_and_firm(self, case_city: Store) -> None:
        await TestCaseTallies().stock(case_city)
        work = Casework(case_city)
        now = T0 + 10 * HOUR
        [e_a] = await work.case_metrics(ST_A, Level.ESTATE, EVERYTHING, now=now)
        assert (e_a.key, e_a.cases, e_a.resolution_rate, e_a.median_resolve_seconds) == (E_A, 5, 3 / 5, 3 * 3600.0)
        rows = await work.case_metrics(CITY, Level.ESTATE, EVERYTHING, now=now, since=T0)
        assert [(r.key, r.cases) for r in rows] == [(E_A, 4), (E_B, 0), (E_C, 1)]
        # two resolved in the window: the median is the mean of 3 h and 1 h 0.000001 s, to the millisecond
        assert rows[0].median_resolve_seconds == 7200.0
        assert await work.case_metrics(E_A, Level.COMMUNITY, EVERYTHING, now=now) == []
        [missing, house] = await work.place_case_metrics([UNKNOWN_ESTATE, T_HOUSE], EVERYTHING, now=now)
        assert missing is None and house is not None and house.satisfaction_rate == 1.0
        [firm] = await work.firm_case_metrics([FIRM_1], EVERYTHING, now=now)
        assert (firm.key, firm.cases, firm.response_rate) == (FIRM_1, 0, None)


# -- the person a case is assigned to (graph.staff.dispatch) and the on-site deadline ----------


def _assignable(key: str, **changes: object) -> Case:
    made = Case(key, CaseSource.PATROL, CaseCategory.EMERGENCY, CaseStatus.DISPATCHED, f"电梯困人 {key}", T0, T0, place_code=E_A)
    return replace(made, **changes)  # type: ignore[arg-type]


async def _stored(store: Store, case: Case) -> Case:
    return await store.insert_case(case, CaseEvent(case.id, 1, None, case.status, case.reported_at, "t"))


class TestCaseAssignee:
    async def test_assignee_and_arrival_read_back_and_change(self, case_city: Store) -> None:
        due = T0 + dt.timedelta(minutes=20)
        stored = await _stored(case_city, _assignable("C1", assignee="S1", arrive_by=due))
        assert (stored.assignee, stored.arrive_by, stored.arrived_at) == ("S1", due.astimezone(dt.timezone.utc), None)
        moved = await case_city.update_case(replace(stored, assignee=None, arrive_by=None, arrived_at=T0), expect=stored.version)
        assert moved is not None and (moved.assignee, moved.arrive_by, moved.arrived_at) == (None, None, T0.astimezone(dt.timezone.utc))

    async def test_a_page_of_one_assignee_and_loads_of_open_cases(self, case_city: Store) -> None:
        await _stored(case_city, _assignable("C1", assignee="S1"))
        await _stored(case_city, _assignable("C2", assignee="S1", reported_at=T0 + dt.timedelta(minutes=1)))
        await _stored(case_city, _assignable("C3", assignee="S1", status=CaseStatus.RESOLVED))
        await _stored(case_city, _assignable("C4", assignee="S2"))
        await _stored(case_city, _assignable("C5"))
        page = await case_city.case_page(EVERYTHING, 10, assignee="S1")
        assert [case.id for case in page.items] == ["C2", "C3", "C1"]  # newest first, ties by id descending
        assert [c.id for c in (await case_city.case_page(EVERYTHING, 10, assignee="S1", statuses=[CaseStatus.RESOLVED])).items] == ["C3"]
        assert (await case_city.case_page(Scope.of(ST_C), 10, assignee="S1")).items == []
        assert await case_city.assigned_loads(["S2", "S1", "nobody", "S1"]) == [1, 2, 0, 2]
        assert await case_city.assigned_loads([]) == []

    async def test_on_site_tallies(self, case_city: Store) -> None:
        due = T0 + dt.timedelta(minutes=20)
        now = T0 + dt.timedelta(hours=1)
        await _stored(case_city, _assignable("C1", firm_code=FIRM_2, arrive_by=due, arrived_at=T0 + dt.timedelta(minutes=12)))
        await _stored(case_city, _assignable("C2", firm_code=FIRM_2, arrive_by=due, arrived_at=T0 + dt.timedelta(minutes=25)))
        await _stored(case_city, _assignable("C3", firm_code=FIRM_2, arrive_by=due))  # past it, nobody came
        await _stored(case_city, _assignable("C4", firm_code=FIRM_2, arrive_by=now + dt.timedelta(minutes=5)))  # not yet due
        await _stored(case_city, _assignable("C5", firm_code=FIRM_2, category=CaseCategory.REPAIR))  # no on-site deadline
        [place] = await case_city.case_tallies([E_A], EVERYTHING, now=now)
        [firm] = await case_city.case_tallies([FIRM_2], EVERYTHING, firms=True, now=now)
        for tally in (place, firm):
            assert tally is not None and (tally.on_site_due, tally.on_site_in_time) == (3, 1)
