"""The fund journals folded into the rows dashboards read (graph.funds.records: accounts, years).

The journal is what counts; the rows are worked out from it and only from it. `fold_up` reads
the entries after the size the rows were folded up to, folds them onto the kept rows of the
houses and years they touch (`graph.funds.journal.JournalFold`), and writes the new rows with
the new size, compare-and-set on the old one (`FundStore.apply_fund`): two folders at once write
one result (the loser reads again and finds nothing left to do, or goes on from the winner's
size), and a folder that died half way left the rows at a size they were right at.

`fold_journal` folds a whole journal from its first entry: what `hub ledger verify` compares
the kept rows with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from graph.funds.journal import Account, FundEntry, JournalFold, Year, year_of
from graph.funds.records import FundAccount, FundStore, FundYear
from graph.funds.revenue_book import RevenueBook
from graph.funds.revenue_book import log_name as revenue_log
from graph.errors import StoreError
from graph.logstore import LogEntry, LogStore
from graph.scope import Scope

FOLD_BATCH = 10_000
"""Entries folded and written per compare-and-set: bounded memory and transaction size."""
FOLD_ATTEMPTS = 8
"""How many times the revenue rows are folded again when other folders keep moving them."""


class FundBooks(LogStore, FundStore, Protocol):
    """What the books need of a store: its Merkle logs and its fund records."""


def fund_log(estate: str) -> str:
    """The estate's maintenance-fund journal: `fund:<estate code>`."""
    return f"fund:{estate}"


def parse_entries(log: str, entries: Sequence[LogEntry]) -> list[tuple[int, FundEntry]]:
    """(index, entry) of stored log entries, each parsed strictly (InvalidInput names the entry)."""
    return [(entry.index, FundEntry.parse(entry.payload, where=f"{log} entry {entry.index}")) for entry in entries]


async def fold_up(store: FundBooks, estate: str, *, at_least: int | None = None) -> int:
    """Bring the estate's kept rows up to its journal's size (or at least to `at_least`
    entries); the size they are folded to. Losing a compare-and-set means another folder moved
    them on: this one reads again and goes on from there, until they cover what it was asked for."""
    log = fund_log(estate)
    everything = Scope.everything()
    target = at_least if at_least is not None else await store.log_size(log)
    while True:
        [applied] = await store.fund_applied([log])
        if applied >= target:
            return applied
        end = min(target, applied + FOLD_BATCH)
        parsed = parse_entries(log, await store.log_entries(log, applied, end))
        if len(parsed) < end - applied:
            raise StoreError(f"{log}: entries {applied}..{end} are not all stored; the journal is damaged")
        fold = JournalFold()
        fold.last = applied - 1
        houses = sorted({entry.house for _, entry in parsed})
        for house, kept in zip(houses, await store.fund_accounts(houses, everything)):
            if kept is not None:
                fold.accounts[house] = Account(kept.balance_fen, kept.first_deposit_fen, kept.entries, kept.last_index, kept.last_at)
        years = sorted({year_of(entry.at) for _, entry in parsed})
        for year in years:
            [(kept_year, _)] = await store.fund_years([estate], year, everything)
            if kept_year is not None:
                fold.years[year] = Year(kept_year.credits_fen, kept_year.interest_fen, kept_year.repairs_fen)
        reversing = sorted({entry.house for _, entry in parsed if entry.reverses is not None and entry.reverses < applied})
        if reversing:
            await _know_earlier(store, log, fold, reversing, applied)
        fold.estate = estate
        for index, entry in parsed:
            fold.add(index, entry)
        accounts = [
            FundAccount(house, estate, a.balance_fen, a.first_deposit_fen, a.entries, a.last_index, _aware(a.last_at))
            for house in sorted(fold.touched_houses)
            for a in [fold.accounts[house]]
        ]
        year_rows = [
            FundYear(estate, year, y.credits_fen, y.interest_fen, y.repairs_fen)
            for year in sorted(fold.touched_years)
            for y in [fold.years[year]]
        ]
        await store.apply_fund(estate, applied, end, accounts, year_rows)  # False: another folder moved them on


async def _know_earlier(store: FundBooks, log: str, fold: JournalFold, houses: Sequence[str], before: int) -> None:
    """Make `fold` know the houses' entries before `before` (and which of them are reversed), so
    a reversal of one of them is checked like any other."""
    earlier = [(index, entry) for index, entry in parse_entries(log, await store.log_entries_by_key(log, list(houses))) if index < before]
    undone = {entry.reverses for _, entry in earlier if entry.reverses is not None}
    for index, entry in earlier:
        fold.known(index, entry, reversed_=index in undone)


async def fold_revenue_up(store: FundBooks, estate: str, book: RevenueBook) -> int:
    """Bring the estate's revenue rows up to its revenue journal. A committee's decision can
    change a row of an earlier year, so the whole journal is folded (a revenue journal holds a
    few entries a month) and every year's row written, compare-and-set on the size applied."""
    log = revenue_log(estate)
    for _ in range(FOLD_ATTEMPTS):
        [applied] = await store.fund_applied([log])
        size = await store.log_size(log)
        if applied >= size:
            return applied
        folded_size, folded = await book.folded(estate)  # the journal as it is now (it may have grown)
        if await store.apply_revenue(estate, applied, folded_size, list(folded.years)):
            return folded_size
    raise StoreError(f"the rows of {log} kept moving under {FOLD_ATTEMPTS} folders at once; fold again")


def fold_journal(parsed: Sequence[tuple[int, FundEntry]], fold: JournalFold | None = None) -> JournalFold:
    """Fold entries from the journal's start (or onto `fold`, batch after batch)."""
    fold = fold if fold is not None else JournalFold()
    for index, entry in parsed:
        fold.add(index, entry)
    return fold


def _aware(at: dt.datetime | None) -> dt.datetime:
    assert at is not None, "an account folded from at least one entry has a last time"
    return at.astimezone(dt.timezone.utc)
