"""The fund part of the store conformance suite: every member of `graph.funds.records.FundStore`,
tested through the port only, on the fixture city of `tests/graph/conformance.py` written with
the store's `write`.

Like the other parts, nothing here knows SQL or any adapter's insides:
`tests/graph/test_store_conformance.py` imports these classes and runs them on every backend
with its `store` fixture (a fresh, empty store per test) — except the backends named in
`PENDING`, whose fund adapter is not written yet: their runs are skipped, in that one place.

Each member is held to its contract: refused duplicates leaving the first, parts that must be
the estate or under it, scope (out of scope behaves as absent; an owner's house scope sees its
own account and nothing of the estate), ordering, keyset paging with opaque cursors, the
compare-and-set of finishing a project and of applying a journal (two at once: one wins),
refused rows leaving nothing written, roll-ups per place computed against a naive oracle
(`expected_totals`, plain Python over the rows applied), and every field read back as written
(Chinese text, enums, aware times in UTC).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest

from graph.cursors import encode_cursor
from graph.errors import InvalidInput, StoreError
from graph.funds.records import (
    Authority,
    Emergency,
    FundAccount,
    FundTotals,
    FundYear,
    ProjectStatus,
    RepairProject,
    RevenueYear,
)
from graph.model import Page
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from tests.graph.conformance import (
    B_A1,
    B_A2,
    B_B1,
    B_C1,
    CITY,
    CM_A1,
    CM_A2,
    CM_B1,
    CM_C1,
    D_SHIBEI,
    D_SHINAN,
    E_A,
    E_B,
    E_C,
    EN_A11,
    EN_A12,
    EN_A21,
    EN_B11,
    EN_C11,
    F_HOUSE,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    ST_C,
    T_HOUSE,
    UNKNOWN_ESTATE,
    UNKNOWN_HOUSE,
    UNKNOWN_STREET,
    CityFacts,
    fixture_city,
    garbage_cursors,
)

__all__ = [
    "TestFundSaveProject",
    "TestFundProjects",
    "TestFundProjectPage",
    "TestFundFinishProject",
    "TestFundApplied",
    "TestFundApply",
    "TestFundApplyRevenue",
    "TestFundAccounts",
    "TestFundAccountPage",
    "TestFundYears",
    "TestFundTotals",
]

PENDING: set[str] = set()
"""Backends whose adapter does not implement `FundStore` yet: every test here is skipped on them.
The one place to change when the Cypher adapter (graph/cypher/funds.py) lands: empty this set."""

EVERYTHING = Scope.everything()
UTC = dt.timezone.utc
CST = dt.timezone(dt.timedelta(hours=8))
STREET_A = Scope.of(ST_A)  # 香港中路街道: 海韵花园 (E_A)
STREET_B = Scope.of(ST_B)  # 八大关街道: E_B
NORTH = Scope.of(SHIBEI)  # 市北区: E_C
NOBODY = Scope.of_codes([])
OWNER_LIKE = Scope.of(T_HOUSE, D_SHINAN)  # an owner's token sees its houses, not their estate

RAISED = dt.datetime(2026, 5, 6, 9, 30, 0, 250000, tzinfo=CST)
FINISHED = dt.datetime(2026, 6, 30, 17, 45, 10, 5, tzinfo=CST)

ESTATE_OF = {B_A1: E_A, B_A2: E_A, B_B1: E_B, B_C1: E_C}
"""The estate of each building of the fixture city (a house's code starts with its building's)."""


class FundSuite:
    """Base of the classes here: skips the backends of `PENDING`."""

    @pytest.fixture(autouse=True)
    def _fund_adapter(self, backend: str) -> None:
        if backend in PENDING:
            pytest.skip(f"FundStore is not implemented on {backend} yet (tests/graph/conformance_funds.py PENDING)")


def project(project_id: str = "P1", part: str = E_A, estate: str = E_A, **changes: object) -> RepairProject:
    made = RepairProject(
        id=project_id,
        estate=estate,
        part=part,
        title="1号楼电梯更换（含井道照明）",
        budget_fen=38_000_000,
        authority=Authority.VOTE,
        authority_ref="V-2026-05",
        raised_by="海韵花园业主委员会",
        raised_at=RAISED,
        case_id="C-2026-0007",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def emergency(project_id: str = "P-E", part: str = B_A2) -> RepairProject:
    return project(
        project_id,
        part,
        authority=Authority.EMERGENCY,
        emergency=Emergency.WATER,
        authority_ref="2号楼地下室供水主管破裂，街道办现场确认",
        title="2号楼供水主管抢修",
        budget_fen=1_250_000,
        case_id=None,
    )


async def city(store: Store, *projects: RepairProject) -> None:
    await store.write(fixture_city())
    for each in projects:
        await store.save_project(each)


def utc_times(*moments: dt.datetime | None) -> None:
    for moment in moments:
        if moment is not None:
            assert moment.utcoffset() == dt.timedelta(0), moment


def completed(given: RepairProject, at: dt.datetime = FINISHED, *, cost: int = 37_654_321, first: int = 120, entries: int = 6) -> RepairProject:
    return replace(
        given,
        status=ProjectStatus.COMPLETED,
        cost_fen=cost,
        completed_at=at,
        first_index=first,
        debit_entries=entries,
        version=given.version + 1,
    )


# --------------------------------------------------------------------------------------------
# save_project, projects
# --------------------------------------------------------------------------------------------


class TestFundSaveProject(FundSuite):
    async def test_a_project_round_trips_every_field(self, store: Store) -> None:
        given = [project(), emergency(), project("P-R", EN_A11, authority=Authority.REFERENCE, authority_ref="2025年业主大会决议第3号", case_id=None)]
        await city(store, *given)
        found = await store.projects([p.id for p in given], EVERYTHING)
        assert found == given
        for each in found:
            assert each is not None
            utc_times(each.raised_at, each.completed_at)
            assert (each.status, each.version, each.cost_fen, each.completed_at, each.first_index, each.debit_entries) == (
                ProjectStatus.APPROVED, 1, None, None, None, None
            )
        assert found[1] is not None and found[1].emergency is Emergency.WATER and found[1].authority is Authority.EMERGENCY

    async def test_an_id_stored_is_refused_and_the_first_kept(self, store: Store) -> None:
        await city(store, project())
        with pytest.raises(StoreError, match="P1"):
            await store.save_project(project(title="另一项", part=B_A1))
        with pytest.raises(StoreError, match="P1"):
            await store.save_project(project(estate=E_B, part=E_B))
        assert await store.projects(["P1"], EVERYTHING) == [project()]

    @pytest.mark.parametrize(
        ("part", "estate"),
        [
            (UNKNOWN_ESTATE, UNKNOWN_ESTATE),  # an estate not stored
            (B_A1, UNKNOWN_ESTATE),
            (E_A, E_B),  # another estate
            (B_B1, E_A),  # another estate's building
            (EN_C11, E_A),  # another estate's entrance
            (T_HOUSE, E_A),  # a house
            (ST_A, E_A),  # a street above the estate
            (B_A1 + "09", E_A),  # an entrance not stored
            (B_A1, B_A1),  # the estate is not an estate
            (ST_A, ST_A),
        ],
    )
    async def test_a_part_not_the_estate_or_under_it_is_refused(self, store: Store, part: str, estate: str) -> None:
        await city(store)
        with pytest.raises(InvalidInput, match="project P1"):
            await store.save_project(project(part=part, estate=estate))
        assert await store.projects(["P1"], EVERYTHING) == [None]
        assert (await store.project_page(EVERYTHING, 10)).items == []

    async def test_a_project_that_is_not_new_or_has_a_naive_time_is_refused(self, store: Store) -> None:
        await city(store)
        for bad in (
            project(status=ProjectStatus.COMPLETED),
            project(status=ProjectStatus.CANCELLED),
            project(version=2),
            project(cost_fen=100),
            project(completed_at=FINISHED),
            project(first_index=3),
            project(debit_entries=1),
            project(raised_at=dt.datetime(2026, 5, 6, 9, 30)),
            project(budget_fen=-1),
            project(""),
            project("P 1"),
            project("P" * 65),
        ):
            with pytest.raises(InvalidInput, match="project"):
                await store.save_project(bad)
        assert (await store.project_page(EVERYTHING, 50)).items == []
        await store.save_project(project("P" * 64))  # the longest id
        assert await store.projects(["P" * 64], EVERYTHING) == [project("P" * 64)]


class TestFundProjects(FundSuite):
    async def test_projects_come_in_the_order_asked_none_where_missing(self, store: Store) -> None:
        await city(store, project("P1"), project("P2", E_B, E_B), project("P3", B_C1, E_C))
        found = await store.projects(["P3", "nope", "P1", "P2", "P1"], EVERYTHING)
        assert [p.id if p else None for p in found] == ["P3", None, "P1", "P2", "P1"]
        assert await store.projects([], EVERYTHING) == []

    async def test_a_project_is_in_scope_when_its_part_is(self, store: Store) -> None:
        await city(store, project("P1"), project("P2", E_B, E_B), project("P3", B_A1), project("P4", EN_A12))
        ids = ["P1", "P2", "P3", "P4"]

        async def seen(scope: Scope) -> list[str | None]:
            return [p.id if p else None for p in await store.projects(ids, scope)]

        assert await seen(STREET_A) == ["P1", None, "P3", "P4"]
        assert await seen(STREET_B) == [None, "P2", None, None]
        assert await seen(Scope.of(B_A1)) == [None, None, "P3", "P4"]
        assert await seen(Scope.of(EN_A11)) == [None, None, None, None]
        assert await seen(NORTH) == [None, None, None, None]
        assert await seen(NOBODY) == [None, None, None, None]
        assert await seen(OWNER_LIKE) == [None, None, None, None]  # what owners see is the service's decision
        assert await seen(Scope.of(CITY)) == ids
        assert await seen(Scope.of(B_A1, ST_B)) == [None, "P2", "P3", "P4"]


async def walk_projects(store: Store, scope: Scope, first: int, **filters: object) -> list[str]:
    walked: list[str] = []
    after: str | None = None
    for _ in range(100):
        page: Page[RepairProject] = await store.project_page(scope, first, after, **filters)  # type: ignore[arg-type]
        assert len(page.items) <= max(1, first)
        walked += [p.id for p in page.items]
        if page.items:
            assert page.start_cursor is not None and page.end_cursor is not None
        if not page.has_next:
            return walked
        after = page.end_cursor
    raise AssertionError("the project pages never ended")


class TestFundProjectPage(FundSuite):
    # id, part, raised hours after RAISED
    PROJECTS = [("P05", E_A, 0), ("P01", B_A1, 1), ("P03", EN_A11, 2), ("P02", E_B, 3), ("P04", E_C, 4), ("P06", B_A2, 5)]

    async def _city(self, store: Store) -> None:
        estates = {E_A: E_A, B_A1: E_A, EN_A11: E_A, B_A2: E_A, E_B: E_B, E_C: E_C}
        await city(
            store,
            *(project(key, part, estates[part], raised_at=RAISED + dt.timedelta(hours=hours)) for key, part, hours in self.PROJECTS),
        )

    async def test_pages_run_by_id_whatever_their_size(self, store: Store) -> None:
        await self._city(store)
        every = sorted(key for key, _, _ in self.PROJECTS)
        for first in (1, 2, 5, 6, 50):
            assert await walk_projects(store, EVERYTHING, first) == every
        page = await store.project_page(EVERYTHING, 2)
        assert [p.id for p in page.items] == ["P01", "P02"] and page.has_next
        assert page.items[0] == project("P01", B_A1, raised_at=RAISED + dt.timedelta(hours=1))

    async def test_within_and_scope(self, store: Store) -> None:
        await self._city(store)
        assert await walk_projects(store, EVERYTHING, 2, within=E_A) == ["P01", "P03", "P05", "P06"]
        assert await walk_projects(store, EVERYTHING, 2, within=B_A1) == ["P01", "P03"]
        assert await walk_projects(store, EVERYTHING, 2, within=EN_A11) == ["P03"]
        assert await walk_projects(store, EVERYTHING, 2, within=SHINAN) == ["P01", "P02", "P03", "P05", "P06"]
        assert await walk_projects(store, EVERYTHING, 2, within=CITY) == ["P01", "P02", "P03", "P04", "P05", "P06"]
        assert await walk_projects(store, EVERYTHING, 2, within=T_HOUSE) == []
        assert await walk_projects(store, EVERYTHING, 2, within=UNKNOWN_STREET) == []
        assert await walk_projects(store, STREET_A, 2) == ["P01", "P03", "P05", "P06"]
        assert await walk_projects(store, STREET_A, 2, within=SHIBEI) == []
        assert await walk_projects(store, STREET_A, 2, within=SHINAN) == ["P01", "P03", "P05", "P06"]
        assert await walk_projects(store, Scope.of(B_A1), 1) == ["P01", "P03"]
        assert await walk_projects(store, OWNER_LIKE, 2) == []
        assert await walk_projects(store, NOBODY, 2) == []

    async def test_raised_in_a_half_open_span(self, store: Store) -> None:
        await self._city(store)
        hour = dt.timedelta(hours=1)
        assert await walk_projects(store, EVERYTHING, 2, raised_from=RAISED + hour) == ["P01", "P02", "P03", "P04", "P06"]
        assert await walk_projects(store, EVERYTHING, 2, raised_until=RAISED + 2 * hour) == ["P01", "P05"]
        assert await walk_projects(store, EVERYTHING, 1, raised_from=RAISED + 2 * hour, raised_until=RAISED + 4 * hour) == ["P02", "P03"]
        # the same instants in UTC bound alike
        in_utc = (RAISED + 2 * hour).astimezone(UTC)
        assert await walk_projects(store, EVERYTHING, 1, raised_from=in_utc, raised_until=in_utc + hour) == ["P03"]
        assert await walk_projects(store, EVERYTHING, 1, raised_from=RAISED + hour + dt.timedelta(microseconds=1), raised_until=RAISED + 2 * hour) == []
        assert await walk_projects(store, EVERYTHING, 2, raised_from=RAISED + 9 * hour) == []
        assert await walk_projects(store, EVERYTHING, 2, raised_from=RAISED, raised_until=RAISED) == []
        assert await walk_projects(store, STREET_A, 2, raised_from=RAISED + hour, within=B_A1) == ["P01", "P03"]
        with pytest.raises(InvalidInput, match="raised_from"):
            await store.project_page(EVERYTHING, 2, raised_from=dt.datetime(2026, 5, 6))
        with pytest.raises(InvalidInput, match="raised_until"):
            await store.project_page(EVERYTHING, 2, raised_until=dt.datetime(2026, 5, 6))

    async def test_statuses(self, store: Store) -> None:
        await self._city(store)
        assert await store.finish_project("P03", 1, ProjectStatus.CANCELLED, FINISHED)
        assert await store.finish_project("P05", 1, ProjectStatus.COMPLETED, FINISHED, cost_fen=1, first_index=0, debit_entries=1)
        assert await walk_projects(store, EVERYTHING, 1, statuses=[ProjectStatus.CANCELLED]) == ["P03"]
        assert await walk_projects(store, EVERYTHING, 1, statuses=[ProjectStatus.CANCELLED, ProjectStatus.COMPLETED]) == ["P03", "P05"]
        assert await walk_projects(store, STREET_A, 1, statuses=[ProjectStatus.APPROVED]) == ["P01", "P06"]
        assert await walk_projects(store, EVERYTHING, 1, statuses=[]) == []

    async def test_first_is_clamped_and_foreign_cursors_refused(self, store: Store) -> None:
        await self._city(store)
        assert len((await store.project_page(EVERYTHING, 0)).items) == 1
        assert len((await store.project_page(EVERYTHING, -3)).items) == 1
        page = await store.project_page(EVERYTHING, MAX_PAGE * 10)
        assert len(page.items) == len(self.PROJECTS) and not page.has_next
        for bad in [*garbage_cursors(), encode_cursor("P99"), encode_cursor(E_A)]:
            with pytest.raises(InvalidInput, match="is not a cursor from this list"):
                await store.project_page(EVERYTHING, 2, bad)

    async def test_an_empty_store_lists_nothing(self, store: Store) -> None:
        await city(store)
        page = await store.project_page(EVERYTHING, 10)
        assert (list(page.items), page.has_next, page.end_cursor) == ([], False, None)


# --------------------------------------------------------------------------------------------
# finish_project
# --------------------------------------------------------------------------------------------


class TestFundFinishProject(FundSuite):
    async def test_an_approved_project_completes_once_with_its_figures(self, store: Store) -> None:
        await city(store, project())
        assert await store.finish_project("P1", 1, ProjectStatus.COMPLETED, FINISHED, cost_fen=37_654_321, first_index=120, debit_entries=6)
        [found] = await store.projects(["P1"], EVERYTHING)
        assert found == completed(project())
        assert found is not None
        utc_times(found.raised_at, found.completed_at)
        assert not await store.finish_project("P1", 2, ProjectStatus.COMPLETED, FINISHED, cost_fen=1, first_index=1, debit_entries=1)
        assert not await store.finish_project("P1", 2, ProjectStatus.CANCELLED, FINISHED)
        assert await store.projects(["P1"], EVERYTHING) == [completed(project())]

    async def test_an_approved_project_is_cancelled_with_no_figures(self, store: Store) -> None:
        await city(store, emergency())
        assert await store.finish_project("P-E", 1, ProjectStatus.CANCELLED, FINISHED)
        [found] = await store.projects(["P-E"], EVERYTHING)
        assert found == replace(emergency(), status=ProjectStatus.CANCELLED, completed_at=FINISHED, version=2)
        assert not await store.finish_project("P-E", 2, ProjectStatus.COMPLETED, FINISHED, cost_fen=0, first_index=0, debit_entries=0)

    async def test_another_version_or_an_unknown_project_changes_nothing(self, store: Store) -> None:
        await city(store, project())
        assert not await store.finish_project("P1", 2, ProjectStatus.CANCELLED, FINISHED)
        assert not await store.finish_project("P1", 0, ProjectStatus.CANCELLED, FINISHED)
        assert not await store.finish_project("nope", 1, ProjectStatus.CANCELLED, FINISHED)
        assert await store.projects(["P1"], EVERYTHING) == [project()]

    async def test_two_finishers_at_once_one_wins(self, store: Store) -> None:
        await city(store, project())
        results = await asyncio.gather(
            *(
                store.finish_project(
                    "P1", 1, ProjectStatus.COMPLETED, FINISHED + dt.timedelta(seconds=n), cost_fen=1000 + n, first_index=n, debit_entries=1
                )
                for n in range(3)
            )
        )
        assert sorted(results) == [False, False, True]
        winner = results.index(True)
        [found] = await store.projects(["P1"], EVERYTHING)
        assert found == completed(project(), FINISHED + dt.timedelta(seconds=winner), cost=1000 + winner, first=winner, entries=1)

    async def test_a_completer_and_a_canceller_at_once_one_wins(self, store: Store) -> None:
        await city(store, project())
        done, cancelled = await asyncio.gather(
            store.finish_project("P1", 1, ProjectStatus.COMPLETED, FINISHED, cost_fen=5, first_index=2, debit_entries=3),
            store.finish_project("P1", 1, ProjectStatus.CANCELLED, FINISHED),
        )
        assert done != cancelled
        [found] = await store.projects(["P1"], EVERYTHING)
        assert found is not None and found.version == 2
        assert found.status is (ProjectStatus.COMPLETED if done else ProjectStatus.CANCELLED)
        assert (found.cost_fen is not None) is done

    async def test_what_a_finish_may_not_say_is_refused(self, store: Store) -> None:
        await city(store, project())
        refused: list[tuple[ProjectStatus, dict[str, object], dt.datetime]] = [
            (ProjectStatus.APPROVED, {}, FINISHED),
            (ProjectStatus.COMPLETED, {}, FINISHED),
            (ProjectStatus.COMPLETED, {"cost_fen": 5, "first_index": 2}, FINISHED),
            (ProjectStatus.COMPLETED, {"cost_fen": 5, "debit_entries": 2}, FINISHED),
            (ProjectStatus.COMPLETED, {"first_index": 5, "debit_entries": 2}, FINISHED),
            (ProjectStatus.COMPLETED, {"cost_fen": -1, "first_index": 2, "debit_entries": 1}, FINISHED),
            (ProjectStatus.COMPLETED, {"cost_fen": 1, "first_index": -2, "debit_entries": 1}, FINISHED),
            (ProjectStatus.COMPLETED, {"cost_fen": 1, "first_index": 2, "debit_entries": -1}, FINISHED),
            (ProjectStatus.CANCELLED, {"cost_fen": 5}, FINISHED),
            (ProjectStatus.CANCELLED, {"first_index": 5}, FINISHED),
            (ProjectStatus.CANCELLED, {"debit_entries": 5}, FINISHED),
            (ProjectStatus.CANCELLED, {}, dt.datetime(2026, 6, 30, 17, 45)),
        ]
        for status, figures, at in refused:
            with pytest.raises(InvalidInput, match="project P1"):
                await store.finish_project("P1", 1, status, at, **figures)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="project nope"):  # refused whatever is stored
            await store.finish_project("nope", 1, ProjectStatus.APPROVED, FINISHED)
        assert await store.projects(["P1"], EVERYTHING) == [project()]


# --------------------------------------------------------------------------------------------
# The journals folded: fund_applied, apply_fund, apply_revenue
# --------------------------------------------------------------------------------------------

LAST_AT = dt.datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=CST)


def account(house: str, balance: int, first: int, entries: int = 3, last_index: int = 7, at: dt.datetime = LAST_AT) -> FundAccount:
    return FundAccount(house, ESTATE_OF[house[:24]], balance, first, entries, last_index, at)


def accounts_a() -> list[FundAccount]:
    """海韵花园's accounts: on, at and under the 30% line, no deposit, nothing left."""
    return [
        account(T_HOUSE, 800_000, 895_000, 4, 31),  # B_A1 0101
        account(B_A1 + "0201", 268_500, 895_000, 2, 12),  # exactly 30%: not low
        account(B_A1 + "0301", 360_749, 1_202_500, 5, 39),  # a fen under 30%: low
        account(B_A1 + "0102", 5_000, 0, 1, 2),  # no first deposit: not low
        account(F_HOUSE, 0, 1_500_000, 3, 20),  # B_A2 0101, spent: low
        account(D_SHINAN, 665_000, 665_000, 1, 0),  # B_A2 0201
    ]


def accounts_b() -> list[FundAccount]:
    return [
        account(B_B1 + "0101", 2_150_000, 2_100_000, 3, 8),
        account(B_B1 + "0501", 100_000, 600_000, 2, 5),  # low
    ]


YEAR = 2026
FUND_YEARS_A = [FundYear(E_A, 2025, 7_000_000, 1_000, 0), FundYear(E_A, YEAR, 5_000_000, 12_345, 1_234_567)]
FUND_YEARS_B = [FundYear(E_B, YEAR, 800_000, 0, 0)]
REVENUE_A = [RevenueYear(E_A, YEAR, 3_000_000, 2_500_000, 400_000, 1_000_000, 12, 2)]
REVENUE_C = [RevenueYear(E_C, 2025, 90_000, 90_000, 0, 0, 1, 0), RevenueYear(E_C, YEAR, 120_000, 0, 0, 0, 1, 1)]
"""E_C has public revenue but no fund journal applied: it is not counted in `estates`."""


async def folded(store: Store) -> None:
    """The fixture city with 海韵花园's and 八大关's fund journals and 海韵花园's and 百分百's
    revenue journals applied."""
    await store.write(fixture_city())
    assert await store.apply_fund(E_A, 0, 40, accounts_a(), FUND_YEARS_A)
    assert await store.apply_fund(E_B, 0, 9, accounts_b(), FUND_YEARS_B)
    assert await store.apply_revenue(E_A, 0, 14, REVENUE_A)
    assert await store.apply_revenue(E_C, 0, 3, REVENUE_C)


def fund_log(estate: str) -> str:
    return f"fund:{estate}"


def revenue_log(estate: str) -> str:
    return f"revenue:{estate}"


class TestFundApplied(FundSuite):
    async def test_sizes_in_the_order_asked_zero_for_a_journal_never_applied(self, store: Store) -> None:
        await folded(store)
        logs = [revenue_log(E_C), fund_log(E_A), fund_log(E_C), revenue_log(E_B), fund_log(E_B), revenue_log(E_A), fund_log(UNKNOWN_ESTATE), "vote:V1", fund_log(E_A)]
        assert await store.fund_applied(logs) == [3, 40, 0, 0, 9, 14, 0, 0, 40]
        assert await store.fund_applied([]) == []

    async def test_an_empty_store_has_applied_nothing(self, store: Store) -> None:
        await store.write(fixture_city())
        assert await store.fund_applied([fund_log(E_A), revenue_log(E_A)]) == [0, 0]


class TestFundApply(FundSuite):
    async def test_rows_and_the_size_are_kept_and_read_back(self, store: Store) -> None:
        await folded(store)
        houses = [a.house for a in accounts_a()]
        found = await store.fund_accounts(houses, EVERYTHING)
        assert found == accounts_a()
        for each in found:
            assert each is not None
            utc_times(each.last_at)
        assert await store.fund_years([E_A], 2025, EVERYTHING) == [(FUND_YEARS_A[0], None)]
        assert await store.fund_years([E_A], YEAR, EVERYTHING) == [(FUND_YEARS_A[1], REVENUE_A[0])]

    async def test_only_at_the_size_applied_and_rows_replace_whole_state(self, store: Store) -> None:
        await folded(store)
        moved = account(T_HOUSE, 700_000, 895_000, 5, 41, LAST_AT + dt.timedelta(days=3))
        new = account(B_A2 + "0301", 665_000, 665_000, 1, 42)
        year = FundYear(E_A, YEAR, 5_665_000, 12_345, 1_334_567)
        assert not await store.apply_fund(E_A, 0, 43, [moved], [])  # applied to 40, not 0
        assert not await store.apply_fund(E_A, 39, 43, [moved], [])
        assert not await store.apply_fund(E_A, 41, 43, [moved], [])
        assert await store.fund_accounts([T_HOUSE], EVERYTHING) == [accounts_a()[0]]
        assert await store.apply_fund(E_A, 40, 43, [moved, new], [year])
        assert await store.fund_applied([fund_log(E_A)]) == [43]
        expected = {a.house: a for a in accounts_a()} | {moved.house: moved, new.house: new}
        assert await store.fund_accounts(list(expected), EVERYTHING) == list(expected.values())
        assert await store.fund_years([E_A], YEAR, EVERYTHING) == [(year, REVENUE_A[0])]
        assert await store.fund_years([E_A], 2025, EVERYTHING) == [(FUND_YEARS_A[0], None)]  # a year not given is kept
        assert not await store.apply_fund(E_A, 40, 44, [], [])
        assert await store.apply_fund(E_A, 43, 43, [], [])  # nothing new: the same size again
        assert await store.fund_applied([fund_log(E_A), fund_log(E_B)]) == [43, 9]

    async def test_two_appliers_from_the_same_size_one_wins(self, store: Store) -> None:
        await store.write(fixture_city())
        results = await asyncio.gather(
            *(
                store.apply_fund(E_A, 0, 10 + n, [account(T_HOUSE, 1000 * (n + 1), 5000, n + 1, 9 + n)], [FundYear(E_A, YEAR, n, 0, 0)])
                for n in range(3)
            )
        )
        assert sorted(results) == [False, False, True]
        n = results.index(True)
        assert await store.fund_applied([fund_log(E_A)]) == [10 + n]
        assert await store.fund_accounts([T_HOUSE], EVERYTHING) == [account(T_HOUSE, 1000 * (n + 1), 5000, n + 1, 9 + n)]
        assert await store.fund_years([E_A], YEAR, EVERYTHING) == [(FundYear(E_A, YEAR, n, 0, 0), None)]
        again = await asyncio.gather(*(store.apply_fund(E_A, 10 + n, 20 + k, [], []) for k in range(2)))
        assert sorted(again) == [False, True]
        assert await store.fund_applied([fund_log(E_A)]) == [20 + again.index(True)]

    @pytest.mark.parametrize(
        ("accounts", "years", "field"),
        [
            ([replace(account(B_B1 + "0101", 1, 1), estate=E_A)], [], "accounts[1].house"),  # another estate's house
            ([replace(account(T_HOUSE, 1, 1), estate=E_B)], [], "accounts[1].estate"),  # a row saying another estate
            ([replace(account(T_HOUSE, 1, 1), house=UNKNOWN_HOUSE)], [], "accounts[1].house"),  # not stored
            ([replace(account(T_HOUSE, 1, 1), house=EN_A11)], [], "accounts[1].house"),  # not a house
            ([replace(account(T_HOUSE, 1, 1), house=E_A)], [], "accounts[1].house"),  # the estate itself
            ([account(T_HOUSE, 1, 1), account(T_HOUSE, 2, 1)], [], "accounts[2].house"),  # a house twice
            ([replace(account(T_HOUSE, 1, 1), last_at=dt.datetime(2026, 6, 1))], [], "accounts[1].last_at"),
            ([], [FundYear(E_B, YEAR, 1, 0, 0)], "years[0].estate"),  # another estate's year
            ([], [FundYear(E_A, YEAR, 1, 0, 0), FundYear(E_A, YEAR, 2, 0, 0)], "years[1].year"),  # a year twice
            ([], [FundYear(E_A, 0, 1, 0, 0)], "years[0].year"),
            ([], [FundYear(E_A, 10_000, 1, 0, 0)], "years[0].year"),
        ],
    )
    async def test_rows_not_of_the_estate_are_refused_nothing_written(
        self, store: Store, accounts: list[FundAccount], years: list[FundYear], field: str
    ) -> None:
        await store.write(fixture_city())
        good = account(D_SHINAN, 1, 1)
        with pytest.raises(InvalidInput) as refused:
            await store.apply_fund(E_A, 0, 5, [good, *accounts], years)
        assert field in refused.value.field, (field, refused.value.field)
        assert await store.fund_applied([fund_log(E_A)]) == [0]
        assert await store.fund_accounts([good.house, T_HOUSE], EVERYTHING) == [None, None]
        assert await store.fund_years([E_A], YEAR, EVERYTHING) == [(None, None)]

    async def test_a_size_going_back_or_an_estate_not_stored_is_refused(self, store: Store) -> None:
        await folded(store)
        for estate, from_size, to_size, field in (
            (E_A, 40, 39, "to_size"),
            (E_A, -1, 39, "from_size"),
            (UNKNOWN_ESTATE, 0, 1, "estate"),
            (B_A1, 0, 1, "estate"),
            (ST_A, 0, 1, "estate"),
        ):
            with pytest.raises(InvalidInput) as refused:
                await store.apply_fund(estate, from_size, to_size, [], [])
            assert refused.value.field.endswith(field), (field, refused.value.field)
        stale = [replace(account(B_B1 + "0101", 1, 1), estate=E_A)]
        for from_size in (0, 39, 40):  # refused whether or not the size would have matched
            with pytest.raises(InvalidInput) as refused:
                await store.apply_fund(E_A, from_size, 41, stale, [])
            assert "accounts[0].house" in refused.value.field
        assert await store.fund_applied([fund_log(E_A), fund_log(UNKNOWN_ESTATE), fund_log(B_A1)]) == [40, 0, 0]
        assert await store.fund_accounts([T_HOUSE], EVERYTHING) == [accounts_a()[0]]


class TestFundApplyRevenue(FundSuite):
    async def test_only_at_the_size_applied_rows_replaced_whole(self, store: Store) -> None:
        await folded(store)
        assert await store.fund_years([E_C, E_A], YEAR, EVERYTHING) == [(None, REVENUE_C[1]), (FUND_YEARS_A[1], REVENUE_A[0])]
        confirmed = replace(REVENUE_C[1], confirmed_income_fen=120_000, unconfirmed=0, entries=2)
        assert not await store.apply_revenue(E_C, 0, 4, [confirmed])
        assert not await store.apply_revenue(E_C, 40, 41, [confirmed])  # the fund journal's size is not the revenue's
        assert await store.apply_revenue(E_C, 3, 4, [confirmed])
        assert await store.fund_applied([revenue_log(E_C), fund_log(E_C)]) == [4, 0]
        assert await store.fund_years([E_C], YEAR, EVERYTHING) == [(None, confirmed)]
        assert await store.fund_years([E_C], 2025, EVERYTHING) == [(None, REVENUE_C[0])]

    async def test_two_appliers_from_the_same_size_one_wins(self, store: Store) -> None:
        await store.write(fixture_city())
        results = await asyncio.gather(
            *(store.apply_revenue(E_B, 0, 5 + n, [RevenueYear(E_B, YEAR, 100 * n, 0, 0, 0, n, n)]) for n in range(3))
        )
        assert sorted(results) == [False, False, True]
        n = results.index(True)
        assert await store.fund_applied([revenue_log(E_B), fund_log(E_B)]) == [5 + n, 0]
        assert await store.fund_years([E_B], YEAR, EVERYTHING) == [(None, RevenueYear(E_B, YEAR, 100 * n, 0, 0, 0, n, n))]

    async def test_rows_of_another_estate_or_a_size_going_back_are_refused(self, store: Store) -> None:
        await folded(store)
        for estate, from_size, to_size, years, field in (
            (E_A, 14, 15, [RevenueYear(E_B, YEAR, 1, 0, 0, 0, 1, 1)], "years[0].estate"),
            (E_A, 14, 15, [REVENUE_A[0], REVENUE_A[0]], "years[1].year"),
            (E_A, 14, 13, [], "to_size"),
            (UNKNOWN_ESTATE, 0, 1, [], "estate"),
            (B_A1, 0, 1, [], "estate"),
        ):
            with pytest.raises(InvalidInput) as refused:
                await store.apply_revenue(estate, from_size, to_size, years)
            assert refused.value.field.endswith(field), (field, refused.value.field)
        assert await store.fund_applied([revenue_log(E_A)]) == [14]
        assert await store.fund_years([E_A], YEAR, EVERYTHING) == [(FUND_YEARS_A[1], REVENUE_A[0])]


# --------------------------------------------------------------------------------------------
# Reading the folded rows: fund_accounts, fund_account_page, fund_years
# --------------------------------------------------------------------------------------------


class TestFundAccounts(FundSuite):
    async def test_accounts_in_the_order_asked_none_where_none_is_kept(self, store: Store) -> None:
        await folded(store)
        given = {a.house: a for a in accounts_a() + accounts_b()}
        asked = [D_SHINAN, UNKNOWN_HOUSE, B_B1 + "0501", D_SHIBEI, T_HOUSE, E_A, D_SHINAN]
        assert await store.fund_accounts(asked, EVERYTHING) == [given.get(code) for code in asked]
        assert await store.fund_accounts([], EVERYTHING) == []

    async def test_an_account_is_in_scope_when_its_house_is(self, store: Store) -> None:
        await folded(store)
        houses = [T_HOUSE, D_SHINAN, B_B1 + "0101", B_A1 + "0201"]

        async def seen(scope: Scope) -> list[str | None]:
            return [a.house if a else None for a in await store.fund_accounts(houses, scope)]

        assert await seen(OWNER_LIKE) == [T_HOUSE, D_SHINAN, None, None]  # an owner sees its own
        assert await seen(STREET_A) == [T_HOUSE, D_SHINAN, None, B_A1 + "0201"]
        assert await seen(STREET_B) == [None, None, B_B1 + "0101", None]
        assert await seen(Scope.of(EN_A11)) == [T_HOUSE, None, None, B_A1 + "0201"]
        assert await seen(NORTH) == [None, None, None, None]
        assert await seen(NOBODY) == [None, None, None, None]
        assert await seen(Scope.of(CITY)) == houses


async def walk_accounts(store: Store, estate: str, scope: Scope, first: int) -> list[str]:
    walked: list[str] = []
    after: str | None = None
    for _ in range(100):
        page: Page[FundAccount] = await store.fund_account_page(estate, scope, first, after)
        assert len(page.items) <= max(1, first)
        walked += [a.house for a in page.items]
        if page.items:
            assert page.start_cursor is not None and page.end_cursor is not None
        if not page.has_next:
            return walked
        after = page.end_cursor
    raise AssertionError("the account pages never ended")


class TestFundAccountPage(FundSuite):
    async def test_an_estates_accounts_by_house_code_whatever_the_page_size(self, store: Store) -> None:
        await folded(store)
        every = sorted(a.house for a in accounts_a())
        for first in (1, 2, 5, 6, 50):
            assert await walk_accounts(store, E_A, EVERYTHING, first) == every
        page = await store.fund_account_page(E_A, EVERYTHING, 2)
        given = {a.house: a for a in accounts_a()}
        assert list(page.items) == [given[code] for code in every[:2]] and page.has_next
        assert await walk_accounts(store, E_B, EVERYTHING, 1) == sorted(a.house for a in accounts_b())
        assert await walk_accounts(store, E_C, EVERYTHING, 3) == []
        assert await walk_accounts(store, UNKNOWN_ESTATE, EVERYTHING, 3) == []

    async def test_accounts_in_scope_only(self, store: Store) -> None:
        await folded(store)
        assert await walk_accounts(store, E_A, STREET_A, 2) == sorted(a.house for a in accounts_a())
        assert await walk_accounts(store, E_A, Scope.of(B_A2), 1) == sorted([F_HOUSE, D_SHINAN])
        assert await walk_accounts(store, E_A, OWNER_LIKE, 1) == sorted([T_HOUSE, D_SHINAN])
        assert await walk_accounts(store, E_A, STREET_B, 2) == []
        assert await walk_accounts(store, E_A, NOBODY, 2) == []

    async def test_first_is_clamped_and_foreign_cursors_refused(self, store: Store) -> None:
        await folded(store)
        assert len((await store.fund_account_page(E_A, EVERYTHING, 0)).items) == 1
        assert len((await store.fund_account_page(E_A, EVERYTHING, -3)).items) == 1
        page = await store.fund_account_page(E_A, EVERYTHING, MAX_PAGE * 10)
        assert len(page.items) == len(accounts_a()) and not page.has_next
        foreign = [*garbage_cursors(), encode_cursor(UNKNOWN_HOUSE), encode_cursor(B_B1 + "0101"), encode_cursor("P1")]
        for bad in foreign:
            with pytest.raises(InvalidInput, match="is not a cursor from this list"):
                await store.fund_account_page(E_A, EVERYTHING, 2, bad)


class TestFundYears(FundSuite):
    async def test_each_estates_pair_in_order_none_where_none_is_kept(self, store: Store) -> None:
        await folded(store)
        asked = [E_C, E_B, E_A, UNKNOWN_ESTATE, B_A1, E_A]
        assert await store.fund_years(asked, YEAR, EVERYTHING) == [
            (None, REVENUE_C[1]),
            (FUND_YEARS_B[0], None),
            (FUND_YEARS_A[1], REVENUE_A[0]),
            (None, None),
            (None, None),
            (FUND_YEARS_A[1], REVENUE_A[0]),
        ]
        assert await store.fund_years([E_A, E_B, E_C], 2024, EVERYTHING) == [(None, None)] * 3
        assert await store.fund_years([], YEAR, EVERYTHING) == []

    async def test_an_estates_rows_are_in_scope_when_the_estate_is(self, store: Store) -> None:
        await folded(store)
        estates = [E_A, E_B, E_C]

        async def seen(scope: Scope) -> list[tuple[bool, bool]]:
            return [(f is not None, r is not None) for f, r in await store.fund_years(estates, YEAR, scope)]

        assert await seen(STREET_A) == [(True, True), (False, False), (False, False)]
        assert await seen(NORTH) == [(False, False), (False, False), (False, True)]
        assert await seen(Scope.of(B_A1)) == [(False, False)] * 3  # a building's scope sees no estate's rows
        assert await seen(OWNER_LIKE) == [(False, False)] * 3
        assert await seen(NOBODY) == [(False, False)] * 3
        assert await seen(Scope.of(CITY)) == [(True, True), (True, False), (False, True)]


# --------------------------------------------------------------------------------------------
# fund_totals
# --------------------------------------------------------------------------------------------

EVERY_PLACE = [
    CITY, SHINAN, SHIBEI, ST_A, ST_B, ST_C, CM_A1, CM_A2, CM_B1, CM_C1, E_A, E_B, E_C,
    B_A1, B_A2, B_B1, B_C1, EN_A11, EN_A12, EN_A21, EN_B11, EN_C11, T_HOUSE, F_HOUSE, D_SHIBEI,
]


def expected_totals(code: str, year: int) -> FundTotals:
    """The oracle: plain Python sums over the rows `folded` applied, at or under `code`."""
    facts = CityFacts(fixture_city())
    subtree = set(facts.under(code))
    accounts = [a for a in accounts_a() + accounts_b() if a.house in subtree]
    funds = [y for y in FUND_YEARS_A + FUND_YEARS_B if y.estate in subtree and y.year == year]
    revenue = [r for r in REVENUE_A + REVENUE_C if r.estate in subtree and r.year == year]
    return FundTotals(
        code=code,
        accounts=len(accounts),
        balance_fen=sum(a.balance_fen for a in accounts),
        first_deposit_fen=sum(a.first_deposit_fen for a in accounts),
        low_accounts=sum(1 for a in accounts if a.low),
        estates=len({E_A, E_B} & subtree),  # the estates whose fund journal `folded` applied
        credits_fen=sum(y.credits_fen for y in funds),
        repairs_fen=sum(y.repairs_fen for y in funds),
        revenue_fen=sum(r.income_fen for r in revenue),
        confirmed_revenue_fen=sum(r.confirmed_income_fen for r in revenue),
        unconfirmed_entries=sum(r.unconfirmed for r in revenue),
    )


def zero(code: str) -> FundTotals:
    return FundTotals(code, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


class TestFundTotals(FundSuite):
    async def test_every_place_sums_what_is_at_or_under_it(self, store: Store) -> None:
        await folded(store)
        found = await store.fund_totals(EVERY_PLACE, YEAR, EVERYTHING)
        assert found == [expected_totals(code, YEAR) for code in EVERY_PLACE]
        by_code = {t.code: t for t in found if t is not None}
        # checked by hand: eight accounts, three of them low (the one at exactly 30% is not)
        assert (by_code[CITY].accounts, by_code[CITY].low_accounts, by_code[CITY].estates) == (8, 3, 2)
        assert by_code[CITY].balance_fen == 800_000 + 268_500 + 360_749 + 5_000 + 0 + 665_000 + 2_150_000 + 100_000
        assert (by_code[CITY].credits_fen, by_code[CITY].revenue_fen, by_code[CITY].unconfirmed_entries) == (5_800_000, 3_120_000, 3)
        # a building's accounts add up; yearly figures are an estate's, so below one they are 0
        assert (by_code[B_A1].accounts, by_code[B_A1].low_accounts, by_code[B_A1].credits_fen, by_code[B_A1].estates) == (4, 1, 0, 0)
        assert by_code[CM_A2] == zero(CM_A2)
        assert by_code[E_C] == replace(zero(E_C), revenue_fen=120_000, unconfirmed_entries=1)  # revenue, no fund journal
        assert by_code[D_SHIBEI] == zero(D_SHIBEI)  # a house with no account

    async def test_another_years_figures(self, store: Store) -> None:
        await folded(store)
        for year in (2025, 2024):
            found = await store.fund_totals([CITY, E_A, E_C, B_A1], year, EVERYTHING)
            assert found == [expected_totals(code, year) for code in (CITY, E_A, E_C, B_A1)]
        [city_2025] = await store.fund_totals([CITY], 2025, EVERYTHING)
        assert city_2025 is not None and (city_2025.credits_fen, city_2025.revenue_fen, city_2025.accounts) == (7_000_000, 90_000, 8)

    async def test_missing_or_out_of_scope_places_are_none_in_order(self, store: Store) -> None:
        await folded(store)
        asked = [CITY, ST_A, UNKNOWN_STREET, E_A, B_A1, T_HOUSE, E_B, UNKNOWN_HOUSE, ST_A]
        assert await store.fund_totals(asked, YEAR, STREET_A) == [
            None, expected_totals(ST_A, YEAR), None, expected_totals(E_A, YEAR), expected_totals(B_A1, YEAR),
            expected_totals(T_HOUSE, YEAR), None, None, expected_totals(ST_A, YEAR),
        ]
        owner = await store.fund_totals([T_HOUSE, D_SHINAN, E_A, B_A1], YEAR, OWNER_LIKE)
        assert owner == [expected_totals(T_HOUSE, YEAR), expected_totals(D_SHINAN, YEAR), None, None]
        assert await store.fund_totals([CITY, E_A], YEAR, NOBODY) == [None, None]
        assert await store.fund_totals([], YEAR, EVERYTHING) == []

    async def test_an_empty_store_sums_to_zero(self, store: Store) -> None:
        await store.write(fixture_city())
        assert await store.fund_totals([CITY, E_A, T_HOUSE], YEAR, EVERYTHING) == [zero(CITY), zero(E_A), zero(T_HOUSE)]

    async def test_estates_count_every_fund_journal_applied(self, store: Store) -> None:
        await folded(store)
        assert not await store.apply_fund(E_C, 5, 6, [], [])  # refused: not applied
        [city_total, north] = await store.fund_totals([CITY, E_C], YEAR, EVERYTHING)
        assert city_total is not None and north is not None and (city_total.estates, north.estates) == (2, 0)
        assert await store.apply_fund(E_C, 0, 0, [], [])  # applied, if only to nothing yet
        [city_total, north] = await store.fund_totals([CITY, E_C], YEAR, EVERYTHING)
        assert city_total is not None and north is not None and (city_total.estates, north.estates) == (3, 1)
        assert await store.fund_applied([fund_log(E_C)]) == [0]

    async def test_applying_again_moves_the_sums(self, store: Store) -> None:
        await folded(store)
        spent = account(T_HOUSE, 100_000, 895_000, 5, 41)  # now under 30%
        assert await store.apply_fund(E_A, 40, 42, [spent], [replace(FUND_YEARS_A[1], repairs_fen=1_934_567)])
        [city_total, building] = await store.fund_totals([CITY, B_A1], YEAR, EVERYTHING)
        assert city_total is not None and building is not None
        before = expected_totals(CITY, YEAR)
        assert (city_total.balance_fen, city_total.low_accounts, city_total.repairs_fen) == (
            before.balance_fen - 700_000, before.low_accounts + 1, before.repairs_fen + 700_000
        )
        assert (building.accounts, building.low_accounts) == (4, 2)
