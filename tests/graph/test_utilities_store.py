"""Utility accounts, bills and outages on every backend (tests.backends): idempotent bulk writes, scoped reads,
arrears and the per-place arrears counts, over the conformance suite's handcrafted city."""

from __future__ import annotations

import datetime as dt
import doctest
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from graph.cursors import encode_cursor
from graph.errors import InvalidInput, StoreError
from graph.model import Batch, Provenance, WriteCounts
from graph.scope import Scope
from graph.store import Store
from graph import utilities
from graph.utilities import Arrears, Bill, Outage, Utility, UtilityAccount, outage_cursor, outage_position
from tests import backends
from tests.graph.conformance import (
    B_A1,
    B_A2,
    CITY,
    CM_A1,
    D_SHINAN,
    E_A,
    E_B,
    E_C,
    E_HOUSE,
    EN_A11,
    F_HOUSE,
    G_HOUSE,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    T_HOUSE,
    UNKNOWN_HOUSE,
    UNOWNED,
    fixture_city,
)

EVERYTHING = Scope.everything()
AS_OF = dt.date(2024, 6, 15)
W, P = Utility.WATER, Utility.POWER
T0 = dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.timezone.utc)


def _provenance(record: str, run: str = "run1") -> Provenance:
    return Provenance("water-co", record, T0, run)


ACCOUNTS = [
    UtilityAccount(W, "W-001", T_HOUSE, _provenance("W-001")),
    UtilityAccount(P, "P-001", T_HOUSE),
    UtilityAccount(W, "W-002", D_SHINAN),
    UtilityAccount(W, "W-003", E_HOUSE),
    UtilityAccount(W, "W-004", G_HOUSE),  # 市北区
    UtilityAccount(W, "W-005", UNOWNED),
]


def _bill(utility: Utility, account: str, period: str, amount_fen: int, paid_fen: int) -> Bill:
    year, month = map(int, period.split("-"))
    due = dt.date(year + month // 12, month % 12 + 1, 10)
    return Bill(utility, account, period, amount_fen, paid_fen, due)


BILLS = [
    _bill(W, "W-001", "2024-03", 3000, 0),  # 30.00 overdue since 04-10
    _bill(W, "W-001", "2024-04", 3250, 1000),  # 22.50 overdue since 05-10
    _bill(W, "W-001", "2024-05", 3100, 0),  # due 06-10: overdue on 06-15
    _bill(W, "W-001", "2024-06", 2900, 0),  # due 07-10: not yet
    _bill(P, "P-001", "2024-04", 12000, 12000),  # paid
    _bill(W, "W-002", "2024-02", 3999, 3999),  # paid in full, to the fen
    _bill(W, "W-003", "2024-01", 5000, 0),  # 八大关 street
    _bill(W, "W-004", "2024-01", 6000, 0),  # 市北区
    _bill(W, "W-005", "2024-05", 1000, 0),
]

OUTAGES = [
    Outage(W, "N-1", (E_A,), T0, T0 + dt.timedelta(hours=6), "管网维修", True),
    Outage(P, "N-2", (B_A1, E_B), T0 + dt.timedelta(days=1), None, "线路故障", False),
    Outage(W, "N-3", (E_C,), T0 + dt.timedelta(days=2), T0 + dt.timedelta(days=3), "水表更换"),
    Outage(W, "N-4", (ST_B,), T0 - dt.timedelta(days=30), T0 - dt.timedelta(days=29), "二次供水清洗"),
]


def batch() -> Batch:
    return Batch(accounts=list(ACCOUNTS), bills=list(BILLS), outages=list(OUTAGES))


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)  # session servers, outside any running event loop
    return str(request.param)


async def _opened(backend: str, request: pytest.FixtureRequest, directory: Path, *batches: Batch) -> Store:
    opened = await backends.open_fresh(backend, request, directory)
    try:
        for written in batches:
            await opened.write(written)
    except BaseException:
        await backends.discard(opened)
        raise
    return opened


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await _opened(backend, request, tmp_path, fixture_city())
    try:
        yield opened
    finally:
        await backends.discard(opened)


@pytest.fixture(scope="module")
async def loaded(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    opened = await _opened(backend, request, tmp_path_factory.mktemp(f"utilities-{backend}"), fixture_city(), batch())
    try:
        yield opened
    finally:
        await backends.discard(opened)


class TestWrites:
    async def test_a_batch_is_written_once_and_a_rerun_changes_nothing(self, store: Store) -> None:
        first = await store.write(batch())
        assert first == WriteCounts(inserted=len(ACCOUNTS) + len(BILLS) + len(OUTAGES))
        again = await store.write(batch())
        assert again == WriteCounts(unchanged=len(ACCOUNTS) + len(BILLS) + len(OUTAGES))

    async def test_provenance_alone_is_not_a_change_and_keeps_the_first(self, store: Store) -> None:
        await store.write(batch())
        later = Batch(accounts=[replace(ACCOUNTS[0], provenance=_provenance("W-001", run="run2"))])
        assert await store.write(later) == WriteCounts(unchanged=1)
        [accounts] = await store.utility_accounts([T_HOUSE], EVERYTHING)
        water = next(a for a in accounts if a.utility is W)
        assert water.provenance is not None and water.provenance.run_id == "run1"

    async def test_a_payment_updates_the_bill_and_clears_the_arrears(self, store: Store) -> None:
        await store.write(batch())
        paid = replace(BILLS[0], paid_fen=3000)
        assert await store.write(Batch(bills=[paid])) == WriteCounts(updated=1)
        [owed] = await store.arrears([T_HOUSE], AS_OF, EVERYTHING)
        assert [(a.amount_fen, a.bills, a.oldest_period) for a in owed] == [(5350, 2, "2024-04")]

    async def test_an_account_moving_to_another_house_is_an_update(self, store: Store) -> None:
        await store.write(batch())
        moved = replace(ACCOUNTS[5], house_code=F_HOUSE)
        assert await store.write(Batch(accounts=[moved])) == WriteCounts(updated=1)
        [before, after] = await store.utility_accounts([UNOWNED, F_HOUSE], EVERYTHING)
        assert before == [] and [a.account_no for a in after] == ["W-005"]

    async def test_the_last_record_of_a_key_wins_within_a_batch(self, store: Store) -> None:
        twice = Batch(accounts=[ACCOUNTS[0], replace(ACCOUNTS[0], house_code=E_HOUSE)])
        assert await store.write(twice) == WriteCounts(inserted=1, unchanged=1)
        [accounts] = await store.utility_accounts([E_HOUSE], EVERYTHING)
        assert [a.account_no for a in accounts] == ["W-001"]

    async def test_an_outage_naming_other_places_is_updated(self, store: Store) -> None:
        await store.write(batch())
        wider = replace(OUTAGES[0], place_codes=(E_A, E_B))
        assert await store.write(Batch(outages=[wider])) == WriteCounts(updated=1)
        narrower = replace(OUTAGES[0], place_codes=(E_B,), reason="管网抢修")
        assert await store.write(Batch(outages=[narrower])) == WriteCounts(updated=1)
        page = await store.outages(EVERYTHING, 10, utility=W)
        found = {o.notice_id: o for o in page.items}
        assert found["N-1"].place_codes == (E_B,) and found["N-1"].reason == "管网抢修"

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            (Batch(accounts=[UtilityAccount(W, "W-9", UNKNOWN_HOUSE)]), f"house {UNKNOWN_HOUSE} is not in the store"),
            (Batch(accounts=[UtilityAccount(W, "W-9", EN_A11)]), f"house {EN_A11} is not in the store"),
            (Batch(bills=[_bill(W, "NOPE", "2024-01", 100, 0)]), "account NOPE is not in the store"),
            (Batch(bills=[replace(BILLS[0], period="2024-13")]), "period must be YYYY-MM"),
            (Batch(bills=[replace(BILLS[0], amount_fen=-100)]), "must not be negative"),
            (Batch(bills=[replace(BILLS[0], paid_fen=12.5)]), "paid_fen must be whole fen"),  # type: ignore[arg-type]
            (Batch(outages=[replace(OUTAGES[0], place_codes=("370202001001E009",))]), "place 370202001001E009 is not in the store"),
            (Batch(outages=[replace(OUTAGES[0], ends_at=T0 - dt.timedelta(hours=1))]), "before it starts"),
            (Batch(outages=[replace(OUTAGES[0], place_codes=())]), "names no place"),
        ],
        ids=["unknown-house", "not-a-house", "unknown-account", "bad-period", "negative", "float-money", "unknown-place", "ends-early", "no-place"],
    )
    async def test_a_bad_record_fails_the_batch_and_loses_nothing(self, store: Store, bad: Batch, message: str) -> None:
        await store.write(batch())
        good = UtilityAccount(W, "W-NEW", F_HOUSE)
        with pytest.raises(StoreError, match=message):
            await store.write(Batch(accounts=[good, *bad.accounts], bills=bad.bills, outages=bad.outages))
        [accounts] = await store.utility_accounts([F_HOUSE], EVERYTHING)
        assert accounts == []
        assert await store.write(batch()) == WriteCounts(unchanged=len(ACCOUNTS) + len(BILLS) + len(OUTAGES))


class TestReads:
    async def test_accounts_of_houses_in_key_order(self, loaded: Store) -> None:
        found = await loaded.utility_accounts([T_HOUSE, UNKNOWN_HOUSE, G_HOUSE, T_HOUSE], EVERYTHING)
        assert [[(a.utility, a.account_no) for a in line] for line in found] == [
            [(P, "P-001"), (W, "W-001")],
            [],
            [(W, "W-004")],
            [(P, "P-001"), (W, "W-001")],
        ]
        assert found[0][1].provenance == _provenance("W-001")

    async def test_accounts_out_of_scope_are_absent(self, loaded: Store) -> None:
        street = Scope.of(ST_B)
        assert await loaded.utility_accounts([T_HOUSE, E_HOUSE], street) == [[], [UtilityAccount(W, "W-003", E_HOUSE)]]
        keys = [(W, "W-001"), (W, "W-003"), (P, "W-003"), (W, "nope")]
        assert [a and a.account_no for a in await loaded.accounts(keys, street)] == [None, "W-003", None, None]
        assert [a and a.house_code for a in await loaded.accounts(keys, EVERYTHING)] == [T_HOUSE, E_HOUSE, None, None]

    async def test_arrears_sum_what_is_overdue_on_the_day(self, loaded: Store) -> None:
        found = await loaded.arrears([T_HOUSE, D_SHINAN, E_HOUSE, UNKNOWN_HOUSE], AS_OF, EVERYTHING)
        assert found == [
            [Arrears(W, "W-001", T_HOUSE, 8350, 3, "2024-03")],
            [],  # paid in full
            [Arrears(W, "W-003", E_HOUSE, 5000, 1, "2024-01")],
            [],
        ]
        # the day a bill falls due it is not overdue yet (Bill.owed_on)
        [[early]] = await loaded.arrears([T_HOUSE], dt.date(2024, 6, 10), EVERYTHING)
        assert (early.amount_fen, early.bills) == (5250, 2)
        assert await loaded.arrears([T_HOUSE], dt.date(2024, 4, 10), EVERYTHING) == [[]]

    async def test_arrears_agree_with_the_records_own_rule(self, loaded: Store) -> None:
        for day in (dt.date(2024, 4, 11), dt.date(2024, 5, 11), AS_OF, dt.date(2024, 8, 1)):
            houses = {a.house_code for a in ACCOUNTS}
            owed: dict[str, int] = {}
            by_account = {(a.utility, a.account_no): a.house_code for a in ACCOUNTS}
            for bill in BILLS:
                if bill.owed_on(day) > 0:
                    house = by_account[(bill.utility, bill.account_no)]
                    owed[house] = owed.get(house, 0) + bill.owed_on(day)
            found = await loaded.arrears(sorted(houses), day, EVERYTHING)
            assert {code: sum(a.amount_fen for a in line) for code, line in zip(sorted(houses), found) if line} == owed

    async def test_arrears_out_of_scope_are_absent(self, loaded: Store) -> None:
        assert await loaded.arrears([T_HOUSE, G_HOUSE], AS_OF, Scope.of(SHIBEI)) == [[], [Arrears(W, "W-004", G_HOUSE, 6000, 1, "2024-01")]]
        assert await loaded.arrears([T_HOUSE], AS_OF, Scope.of_codes([])) == [[]]

    async def test_arrears_counts_per_place_of_any_level(self, loaded: Store) -> None:
        codes = [CITY, SHINAN, ST_A, ST_B, CM_A1, E_A, B_A1, B_A2, T_HOUSE, D_SHINAN, SHIBEI, "370202001001E009"]
        assert await loaded.arrears_counts(codes, AS_OF, EVERYTHING) == [4, 3, 2, 1, 2, 2, 2, 0, 1, 0, 1, None]
        # before any bill fell due nobody is in arrears
        assert await loaded.arrears_counts([CITY, T_HOUSE], dt.date(2024, 1, 1), EVERYTHING) == [0, 0]

    async def test_arrears_counts_out_of_scope_are_none(self, loaded: Store) -> None:
        assert await loaded.arrears_counts([CITY, SHINAN, ST_A, ST_B, T_HOUSE], AS_OF, Scope.of(ST_B)) == [None, None, None, 1, None]

    async def test_outages_newest_first_and_paged(self, loaded: Store) -> None:
        first = await loaded.outages(EVERYTHING, 2)
        assert [o.notice_id for o in first.items] == ["N-3", "N-2"] and first.has_next
        rest = await loaded.outages(EVERYTHING, 2, first.end_cursor)
        assert [o.notice_id for o in rest.items] == ["N-1", "N-4"] and not rest.has_next
        assert rest.items[0] == replace(OUTAGES[0], provenance=None)
        assert rest.items[0].starts_at == T0 and rest.items[0].ends_at == T0 + dt.timedelta(hours=6)

    async def test_outages_filtered_by_utility_time_and_place(self, loaded: Store) -> None:
        async def notices(**kwargs: object) -> list[str]:
            return [o.notice_id for o in (await loaded.outages(EVERYTHING, 50, **kwargs)).items]  # type: ignore[arg-type]

        assert await notices(utility=P) == ["N-2"]
        assert await notices(active_at=T0 + dt.timedelta(hours=1)) == ["N-1"]
        assert await notices(active_at=T0 + dt.timedelta(days=10)) == ["N-2"]  # no end yet
        assert await notices(within=SHIBEI) == ["N-3"]
        assert await notices(within=B_A2) == ["N-1"]  # the estate's outage reaches its buildings
        assert await notices(within=B_A1) == ["N-2", "N-1"]
        assert await notices(within=ST_B) == ["N-2", "N-4"]
        assert await notices(within="370202001001E009") == []

    async def test_outages_show_only_places_in_scope(self, loaded: Store) -> None:
        page = await loaded.outages(Scope.of(ST_B), 50)
        assert [(o.notice_id, o.place_codes) for o in page.items] == [("N-2", (E_B,)), ("N-4", (ST_B,))]
        page = await loaded.outages(Scope.of(E_A), 50)
        assert [(o.notice_id, o.place_codes) for o in page.items] == [("N-2", (B_A1,)), ("N-1", (E_A,))]
        assert (await loaded.outages(Scope.of_codes([]), 50)).items == []

    async def test_a_foreign_cursor_is_refused(self, loaded: Store) -> None:
        with pytest.raises(InvalidInput, match="after"):
            await loaded.outages(EVERYTHING, 2, encode_cursor("370202"))


class TestOutageCursors:
    def test_doctests(self) -> None:
        failures, tried = doctest.testmod(utilities)
        assert tried >= 2 and failures == 0

    def test_a_cursor_is_the_notices_natural_key(self) -> None:
        notice = replace(OUTAGES[0], starts_at=T0.replace(microsecond=250_000), notice_id="停水#2024-001")
        assert outage_position(outage_cursor(notice)) == (notice.starts_at, W, "停水#2024-001")
        naive = replace(notice, starts_at=notice.starts_at.replace(tzinfo=None))
        assert outage_cursor(naive) == outage_cursor(notice)  # naive is UTC, as stored
        assert outage_position(None) is None

    @pytest.mark.parametrize(
        "cursor",
        [encode_cursor("370202"), "!!!", "b3V0YWdlOjEyI3Nld2FnZSNO", "b3V0YWdlOjk5OTk5OTk5OTk5OTk5OTk5OTk5I3dhdGVyI04", "x" * 300],
        ids=["a-place-cursor", "not-base64", "unknown-utility", "out-of-range", "too-long"],
    )
    def test_anything_else_is_refused_naming_the_argument(self, cursor: str) -> None:
        with pytest.raises(InvalidInput, match="^after: .* is not a cursor from this list of outages"):
            outage_position(cursor)

    async def test_notices_starting_together_page_without_a_gap(self, store: Store) -> None:
        together = [
            Outage(utility, f"T-{number}", (E_A,), T0 + dt.timedelta(days=5), None, "同时停")
            for utility in (W, P)
            for number in (1, 2, 3)
        ]
        await store.write(Batch(outages=together))
        seen: list[tuple[Utility, str]] = []
        after: str | None = None
        while True:
            page = await store.outages(EVERYTHING, 2, after)
            seen += [(o.utility, o.notice_id) for o in page.items]
            assert page.end_cursor == outage_cursor(page.items[-1])
            if not page.has_next:
                break
            after = page.end_cursor
        assert seen[: len(together)] == sorted(((o.utility, o.notice_id) for o in together), key=lambda k: (k[0].value, k[1]), reverse=True)
        assert len(seen) == len(set(seen)) == len(together)
        # any notice's own cursor resumes right after it
        middle = together[4]
        rest = await store.outages(EVERYTHING, 50, outage_cursor(middle))
        assert [(o.utility, o.notice_id) for o in rest.items] == seen[seen.index((middle.utility, middle.notice_id)) + 1 :]
