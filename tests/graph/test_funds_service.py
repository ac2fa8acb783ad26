"""graph.funds.service.Funds on every backend of `tests.backends`, over the conformance suite's
city (海韵花园: 1号楼 with six houses, 2号楼 with four): repairs refused without authority and
with nothing recorded, a repair apportioned over the houses of its part from the store's areas
and debited exactly, an underfunded one refused naming the houses short with nothing debited,
an account read with an inclusion proof that verifies against a signed head, periods published
and their statements adding up, consistency between published heads, and `verify` finding the
journal intact and naming a kept row that differs from the journal."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import pytest

from graph import merkle
from graph.ciphers.keyring import Keyring
from graph.errors import InvalidInput, StoreError
from graph.funds.books import fold_up, fund_log
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.records import Authority, Emergency, FundAccount, ProjectStatus
from graph.funds.service import Funds, period_bounds
from graph.scope import Scope
from graph.store import Store
from graph.votes.law import ItemClass
from graph.votes.records import Electorate, Item, ItemForm, Organiser, Vote
from graph.votes.tally import BallotEntry, tally
from tests import backends
from tests.graph.conformance import B_A1, B_A2, E_A, E_B, EN_A11, fixture_city

CST = dt.timezone(dt.timedelta(hours=8))
KEYS = Keyring.generate()
ENTRANCE_1 = [EN_A11[:24] + n for n in ("0101", "0201", "0301")]  # 89.50, 89.50, 120.25 m²
BUILDING_1 = ENTRANCE_1 + [B_A1 + n for n in ("0102", "0202", "0302")]  # + 76, 76, 98.75 m²
BUILDING_2 = [B_A2 + n for n in ("0101", "0201", "0301", "0401")]  # 150, 66.5, 66.5, 132 m²
NOV = dt.datetime(2026, 11, 10, 9, 0, tzinfo=CST)


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, Path(sqlite_path).parent)
    await opened.write(fixture_city())
    try:
        yield opened
    finally:
        await backends.discard(opened)


def deposit(house: str, fen: int, line: str, at: dt.datetime = NOV) -> FundEntry:
    return FundEntry(E_A, house, EntryKind.DEPOSIT, fen, at, f"statement:qd-fund-centre:{line}", "首次缴存")


async def funded(store: Store, clock: Clock, fen: int = 500_000) -> Funds:
    funds = Funds(store, KEYS, clock=clock)
    await funds.ledger.book([deposit(house, fen, f"2026-11:{n}") for n, house in enumerate(BUILDING_1 + BUILDING_2)])
    return funds


async def closed_vote(store: Store, vote_id: str, klass: int, place: str = E_A) -> None:
    """A closed vote of 海韵花园 whose one item (of `klass`) every elector voted for."""
    item = Item(1, klass, ItemForm.MOTION, "使用维修资金更换1号楼电梯")
    made = Vote(
        id=vote_id, place_code=place, estate_code=E_A,
        organiser=Organiser(role="committee", scope=E_A, name="海韵花园业主委员会", capacity="业主委员会"),
        title="2026年第二次业主大会", record_date=dt.date(2026, 10, 1),
        notice_at=dt.datetime(2026, 10, 1, 9, tzinfo=CST), opens_at=dt.datetime(2026, 10, 16, 9, tzinfo=CST),
        closes_at=dt.datetime(2026, 10, 30, 18, tzinfo=CST), items=(item,),
    )
    await store.save_vote(made)
    electorate = Electorate(houses=4, heads=4, area_centi_m2=40_000)
    assert await store.open_vote(vote_id, [], electorate, made.opens_at)
    ballots = [
        BallotEntry(vote_id, 1, f"{n:064x}", f"{n + 16:064x}", 10_000, Fraction(1), "for", made.opens_at)
        for n in range(4)
    ]
    result = tally(made, electorate, ballots)
    assert result.items[0].passed
    assert await store.close_vote(vote_id, result.to_json(), made.closes_at)


async def test_a_repair_without_authority_is_refused_and_nothing_is_recorded(store: Store) -> None:
    funds = await funded(store, Clock(NOV))
    everything = Scope.everything()

    async def refused(match: str, **changes: object) -> None:
        arguments: dict[str, object] = dict(
            project_id="WX-1", part=B_A1, title="1号楼电梯更换", budget_fen=10_000_000,
            authority=Authority.VOTE, authority_ref="TP-NONE", raised_by="committee:" + E_A, scope=everything,
        )
        arguments.update(changes)
        with pytest.raises(InvalidInput, match=match):
            await funds.raise_project(**arguments)  # type: ignore[arg-type]
        assert await funds.project(str(arguments["project_id"]), everything) is None

    await refused("names no vote")
    await closed_vote(store, "TP-RULES", ItemClass.RULES_OF_PROCEDURE)
    await refused("passed no item of class 5", authority_ref="TP-RULES")
    await refused("must name the kind of emergency use", authority=Authority.EMERGENCY, authority_ref="电梯困人，曳引机损坏")
    await refused("only for an emergency use", authority=Authority.REFERENCE, authority_ref="2026-业主大会-3号决议", emergency=Emergency.LIFT)
    await refused("must be an estate, a building or an entrance", part=BUILDING_1[0], authority=Authority.REFERENCE, authority_ref="决议")
    await refused("must be a positive integer", budget_fen=0, authority=Authority.REFERENCE, authority_ref="决议")
    await refused("must be a positive integer", budget_fen=12.5, authority=Authority.REFERENCE, authority_ref="决议")
    await refused("is not a place you can see", scope=Scope.of(E_B), authority=Authority.REFERENCE, authority_ref="决议")
    await closed_vote(store, "TP-OTHER-BUILDING", ItemClass.USE_FUND, place=B_A2)
    await refused("does not hold", authority_ref="TP-OTHER-BUILDING")


async def test_a_voted_repair_is_apportioned_over_its_part_and_debited_exactly(store: Store) -> None:
    clock = Clock(NOV)
    funds = await funded(store, clock)
    await closed_vote(store, "TP-LIFT", ItemClass.USE_FUND)
    project = await funds.raise_project(
        project_id="WX-2026-007", part=B_A1, title="1号楼电梯更换", budget_fen=1_000_000,
        authority=Authority.VOTE, authority_ref="TP-LIFT", raised_by="committee:" + E_A, scope=Scope.of(E_A),
    )
    assert (project.status, project.estate, project.version) == (ProjectStatus.APPROVED, E_A, 1)
    with pytest.raises(InvalidInput, match="exceeds the authorised budget"):
        await funds.complete_project("WX-2026-007", 1_000_001, Scope.of(E_A))
    completed, debit = await funds.complete_project("WX-2026-007", 999_999, Scope.of(E_A))
    # 999,999 fen over 1号楼's 550.00 m² (8950, 8950, 12025, 7600, 7600, 9875 centi-m²)
    assert sorted(debit.shares) == sorted(BUILDING_1)
    assert sum(debit.shares.values()) == 999_999
    areas = {house: area for house, area in zip(BUILDING_1, (8950, 8950, 12025, 7600, 7600, 9875))}
    for house, share in debit.shares.items():
        assert abs(Fraction(share) - Fraction(999_999 * areas[house], 55_000)) < 1
    assert (completed.status, completed.cost_fen, completed.debit_entries, completed.version) == (ProjectStatus.COMPLETED, 999_999, 6, 2)
    accounts = await store.fund_accounts(BUILDING_1 + BUILDING_2, Scope.everything())
    assert [a.balance_fen for a in accounts if a is not None] == [500_000 - debit.shares[h] for h in BUILDING_1] + [500_000] * 4
    shares = await funds.shares(completed)
    assert {s.house: s.share_fen for s in shares} == dict(debit.shares)
    with pytest.raises(InvalidInput, match="not open for completion"):
        await funds.complete_project("WX-2026-007", 10, Scope.of(E_A))


async def test_an_underfunded_repair_names_every_house_short_and_debits_nothing(store: Store) -> None:
    funds = await funded(store, Clock(NOV), fen=100_000)
    await funds.raise_project(
        project_id="WX-ROOF", part=B_A2, title="2号楼屋面渗漏", budget_fen=900_000,
        authority=Authority.EMERGENCY, authority_ref="顶层住户漏水", emergency=Emergency.ROOF,
        raised_by="property_firm:x", scope=Scope.everything(),
    )
    size = await store.log_size(fund_log(E_A))
    with pytest.raises(InvalidInput, match="too little in the fund") as refused:
        await funds.complete_project("WX-ROOF", 500_000, Scope.everything())
    # shares by area 150 : 66.5 : 66.5 : 132 of 415 m²: 180,723 / 80,121 / 80,120 / 159,036 — all over 100,000 but two
    assert BUILDING_2[0] in str(refused.value) and BUILDING_2[3] in str(refused.value)
    assert BUILDING_2[1] not in str(refused.value)
    assert await store.log_size(fund_log(E_A)) == size
    project = await funds.project("WX-ROOF", Scope.everything())
    assert project is not None and project.status is ProjectStatus.APPROVED and project.emergency is Emergency.ROOF
    accounts = await store.fund_accounts(BUILDING_2, Scope.everything())
    assert [a.balance_fen for a in accounts if a is not None] == [100_000] * 4


async def test_an_owner_reads_the_account_and_a_proof_that_verifies(store: Store) -> None:
    clock = Clock(NOV)
    funds = await funded(store, clock)
    house = BUILDING_1[0]
    await funds.ledger.book([FundEntry(E_A, house, EntryKind.INTEREST, 1_875, NOV, "statement:qd-fund-centre:2026-11:i1", "利息")])
    owner = Scope.of(house)
    account = await funds.account(house, owner)
    assert isinstance(account, FundAccount)
    assert (account.balance_fen, account.first_deposit_fen, account.entries, account.low) == (501_875, 500_000, 2, False)
    assert await funds.account(BUILDING_1[1], owner) is None  # another house: as if it did not exist
    history = await funds.history(house, owner)
    assert [entry.kind for _, entry in history] == [EntryKind.DEPOSIT, EntryKind.INTEREST]
    proof = await funds.entry_proof(house, None, owner)
    assert proof is not None and proof.index == history[-1][0]
    assert merkle.verify_inclusion(merkle.leaf_hash(proof.payload), proof.index, proof.head.size, proof.path, proof.head.root)
    assert merkle.verify_head(KEYS.sm2_public, proof.head)
    with pytest.raises(InvalidInput, match="is not an entry of house"):
        await funds.entry_proof(house, 1, owner)  # entry 1 is another house's deposit


async def test_periods_are_published_and_statements_add_up(store: Store) -> None:
    clock = Clock(NOV)
    funds = await funded(store, clock)  # ten deposits of 5,000.00 in November
    with pytest.raises(InvalidInput, match="is not over"):
        await funds.publish(E_A, "2026-11")
    clock.at = dt.datetime(2026, 12, 1, 0, 5, tzinfo=CST)
    november = await funds.publish(E_A, "2026-11")
    assert november.size == 10 and merkle.verify_head(KEYS.sm2_public, november)
    assert await funds.publish(E_A, "2026-11") == november  # once per period
    clock.at = dt.datetime(2026, 12, 5, tzinfo=CST)
    await funds.raise_project(
        project_id="WX-FIRE", part=E_A, title="消防水泵更换", budget_fen=200_000, authority=Authority.EMERGENCY,
        authority_ref="消防泵烧毁", emergency=Emergency.FIRE, raised_by="street:x", scope=Scope.everything(),
    )
    await funds.complete_project("WX-FIRE", 200_000, Scope.everything())
    first = (await funds.history(BUILDING_1[0], Scope.everything()))[0][1]
    await funds.ledger.book([first.reversing(0, clock.at, "误记冲正")])
    december = await funds.statement(E_A, "2026-12", Scope.everything())
    assert not december.published and december.previous == november
    assert (december.from_size, december.to_size, december.entries) == (10, 21, 11)
    assert december.opening_fen == 5_000_000 and december.repairs_fen == 200_000
    assert december.credits_fen["deposit"] == -500_000 and december.reversals == 1
    assert december.closing_fen == 5_000_000 - 200_000 - 500_000
    assert [p.id for p in december.projects] == ["WX-FIRE"]
    statement = await funds.statement(E_A, "2026-11", Scope.everything())
    assert statement.published and (statement.opening_fen, statement.closing_fen) == (0, 5_000_000)
    assert statement.credits_fen["deposit"] == 5_000_000 and statement.projects == []
    clock.at = dt.datetime(2027, 1, 1, 0, 1, tzinfo=CST)
    assert await funds.publish_due() == 1  # December's head, signed by the hub itself
    assert await funds.publish_due() == 0
    heads = await funds.published(E_A)
    assert [h.kind for h in heads] == ["period:2026-11", "period:2026-12"]
    path = await funds.consistency(E_A, heads[0].size, heads[1].size)
    assert merkle.verify_consistency(heads[0].size, heads[1].size, heads[0].root, heads[1].root, path)
    assert period_bounds("2026-Q4") == (dt.datetime(2026, 10, 1, tzinfo=CST), dt.datetime(2027, 1, 1, tzinfo=CST))
    with pytest.raises(InvalidInput, match="must be a month"):
        period_bounds("2026-13")


async def test_verify_finds_the_journal_intact_and_names_a_kept_row_that_differs(store: Store) -> None:
    clock = Clock(dt.datetime(2026, 12, 1, 1, tzinfo=CST))
    funds = await funded(store, clock)
    await funds.publish(E_A, "2026-11")
    report = await funds.verify(E_A)
    assert report.intact and report.entries == 10 and report.log.heads_checked == 1
    [account] = await store.fund_accounts([BUILDING_2[0]], Scope.everything())
    assert account is not None
    wrong = FundAccount(account.house, E_A, account.balance_fen + 1, account.first_deposit_fen, account.entries, account.last_index, account.last_at)
    assert await store.apply_fund(E_A, 10, 10, [wrong], [])
    report = await funds.verify(E_A)
    assert not report.intact and report.first_bad is None
    assert any(BUILDING_2[0] in row for row in report.rows_wrong)


async def test_two_folders_at_once_write_one_result(store: Store) -> None:
    funds = Funds(store, KEYS, clock=Clock(NOV))
    log = funds.log(E_A)
    entries = [deposit(house, 100_000 + n, f"x:{n}") for n, house in enumerate(BUILDING_1)]
    await log.append([entry.to_new_entry() for entry in entries])  # appended without folding
    sizes = await asyncio.gather(fold_up(store, E_A), fold_up(store, E_A), return_exceptions=True)
    assert all(size == 6 or isinstance(size, StoreError) for size in sizes) and 6 in sizes
    accounts = await store.fund_accounts(BUILDING_1, Scope.everything())
    assert [a.balance_fen for a in accounts if a is not None] == [100_000 + n for n in range(6)]
    [(year, _)] = await store.fund_years([E_A], 2026, Scope.everything())
    assert year is not None and year.credits_fen == sum(100_000 + n for n in range(6))
