"""graph.funds.ledger.FundLedger on every backend of `tests.backends` (the journal is a Merkle
log through the LogStore port): statement lines booked once, balances folded from each house's
entries, a repair apportioned and debited exactly in one write, an underfunded repair refused
naming every house short with nothing written, a project debited once, and a debit decided on
balances that another writer changed is checked again."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.ciphers.keyring import Keyring
from graph.errors import InvalidInput
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.ledger import FundLedger, log_name
from graph.logs import LogMoved, MerkleLog
from graph.store import Store
from tests import backends
from tests.graph.conformance import fixture_city

ESTATE = "370202001001E001"
H1 = "370202001001GB00001F00010101"  # three houses of 海韵花园 in the conformance suite's city
H2 = "370202001001GB00001F00010201"
H3 = "370202001001GB00001F00010301"
AT = dt.datetime(2026, 4, 30, 2, 0, tzinfo=dt.timezone.utc)
KEYS = Keyring.generate()
AREAS = {H1: 8_950, H2: 12_000, H3: 10_050}  # centi-m²: 89.50, 120.00, 100.50 m²


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, Path(sqlite_path).parent)
    await opened.write(fixture_city())  # the journal's rows are kept for houses the store knows
    try:
        yield opened
    finally:
        await backends.discard(opened)


def deposit(house: str, fen: int, line: int) -> FundEntry:
    return FundEntry(ESTATE, house, EntryKind.DEPOSIT, fen, AT, f"statement:qd-fund-centre-2026-04.csv:{line}", "首次缴存")


async def test_statement_lines_are_booked_once_and_balances_fold_each_house(store: Store) -> None:
    ledger = FundLedger(store)
    done = await ledger.book([deposit(H1, 447_500, 1), deposit(H2, 600_000, 2)])
    assert (done.first, done.size) == (0, 2)
    await ledger.book([FundEntry(ESTATE, H1, EntryKind.INTEREST, 1_234, AT, "statement:qd-fund-centre-2026-06.csv:9")])
    assert await ledger.balances(ESTATE, [H2, H1, H3]) == {H1: 448_734, H2: 600_000, H3: 0}
    with pytest.raises(InvalidInput, match="booked already"):
        await ledger.book([deposit(H3, 502_500, 3), deposit(H1, 447_500, 1)])  # line 1 again
    with pytest.raises(InvalidInput, match="twice"):
        await ledger.book([deposit(H3, 502_500, 4), deposit(H3, 502_500, 4)])
    assert await store.log_size(log_name(ESTATE)) == 3  # neither refused call wrote anything
    assert await ledger.balances(ESTATE, [H3]) == {H3: 0}


async def test_a_repair_is_apportioned_by_area_and_debited_exactly_in_one_write(store: Store) -> None:
    ledger = FundLedger(store, KEYS, clock=lambda: AT + dt.timedelta(days=30))
    await ledger.book([deposit(H1, 447_500, 1), deposit(H2, 600_000, 2), deposit(H3, 502_500, 3)])
    debit = await ledger.debit_repair(ESTATE, "P-2026-007", 100_001, AREAS, memo="1号楼屋面防水")
    # 100,001 fen by 8,950 : 12,000 : 10,050 of 31,000: floors 28,871 / 38,710 / 32,419 leave
    # 1 fen, which goes to the largest remainder (H3: 21,050 of 31,000, against 7,950 and 2,000)
    assert debit.shares == {H1: 28_871, H2: 38_710, H3: 32_420}
    assert sum(debit.shares.values()) == 100_001
    assert (debit.appended.first, debit.appended.size) == (3, 6)
    assert await ledger.balances(ESTATE, list(AREAS)) == {H1: 447_500 - 28_871, H2: 600_000 - 38_710, H3: 502_500 - 32_420}
    stored = await store.log_entries(log_name(ESTATE), 3, 6)
    debits = [FundEntry.parse(entry.payload) for entry in stored]
    assert {(e.house, e.kind, e.amount_fen, e.ref) for e in debits} == {
        (house, EntryKind.REPAIR, -share, "project:P-2026-007") for house, share in debit.shares.items()
    }
    assert (await ledger.log(ESTATE).verify()).intact
    with pytest.raises(InvalidInput, match="debited already"):
        await ledger.debit_repair(ESTATE, "P-2026-007", 100, AREAS)
    assert await store.log_size(log_name(ESTATE)) == 6


async def test_an_underfunded_repair_names_every_house_short_and_debits_nothing(store: Store) -> None:
    ledger = FundLedger(store)
    await ledger.book([deposit(H1, 10_000, 1), deposit(H2, 600_000, 2)])  # H3 has nothing
    with pytest.raises(InvalidInput) as refused:
        await ledger.debit_repair(ESTATE, "P-2026-008", 1_550_000, AREAS)  # H2 owes exactly what it has
    message = str(refused.value)
    assert f"{H1} (has 10000 fen, owes 447500)" in message and f"{H3} (has 0 fen, owes 502500)" in message
    assert H2 not in message and "nothing was debited" in message
    assert await store.log_size(log_name(ESTATE)) == 2
    assert await ledger.balances(ESTATE, [H1, H2]) == {H1: 10_000, H2: 600_000}


async def test_a_debit_decided_on_balances_another_writer_changed_is_checked_again(store: Store) -> None:
    ledger = FundLedger(store)
    await ledger.book([deposit(H1, 50_000, 1), deposit(H2, 50_000, 2), deposit(H3, 50_000, 3)])
    other = FundLedger(store)  # another writer of the same journal: a second process, say
    read_at = ledger._kept

    async def read_then_other_writes(estate: str, houses: list[str]) -> tuple[dict[str, int], int]:
        held, size = await read_at(estate, houses)
        if size == 3:  # the first reading: a reversal of H3's deposit lands before the debit writes
            await other.book([FundEntry(ESTATE, H3, EntryKind.REVERSAL, -50_000, AT, "reverses:2", "错账冲正")])
        return held, size

    ledger._kept = read_then_other_writes  # type: ignore[method-assign]
    with pytest.raises(InvalidInput, match=f"{H3} \\(has 0 fen"):
        await ledger.debit_repair(ESTATE, "P-2026-009", 90_000, AREAS)
    assert await store.log_size(log_name(ESTATE)) == 4  # the reversal only


async def test_an_append_at_a_size_the_log_no_longer_has_is_refused(store: Store) -> None:
    log = MerkleLog(store, log_name(ESTATE))
    await log.append([deposit(H1, 1, 1).to_new_entry()])
    with pytest.raises(LogMoved):
        await log.append([deposit(H1, 2, 2).to_new_entry()], at_size=0)
    with pytest.raises(LogMoved):
        await log.append([deposit(H1, 2, 2).to_new_entry()], at_size=5)
    assert (await log.append([deposit(H1, 2, 2).to_new_entry()], at_size=1)).first == 1
    assert await store.log_size(log_name(ESTATE)) == 2

