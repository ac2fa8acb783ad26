"""The maintenance fund's books over the store (专项维修资金分户账): movements booked on each
estate's journal, balances read back from it, and repairs debited exactly and only when every
account can bear its share.

Each estate's journal is the Merkle log `fund:<estate code>` (graph.logs.MerkleLog, the module
the vote bulletin board uses), its entries `graph.funds.journal.FundEntry` keyed by house code:
a house's account is the entries under its key, and it stays with the house when the house is
sold (the account is the house's, not the owner's).

- `book` appends movements of one estate (deposits, top-ups, interest from the custodian's
  statements; reversals); a statement line is booked once: its `ref` is claimed in the log's
  claim space (`fund:<estate>:<ref>`), so the same line offered again is refused, nothing written.
- `balances` folds each house's entries (graph.funds.journal.balances).
- `debit_repair` apportions a repair's cost over the houses of the part it serves by exclusive
  area (graph.funds.apportion), reads their balances at the journal's current size (from the
  rows folded from the journal up to that size: graph.funds.books), refuses
  naming every house whose balance is short (nothing written), and otherwise appends one repair
  entry per house in one write made only at that size (`MerkleLog.append(at_size=…)`): another
  writer in between, in any process, and the check is made again. A project is debited once
  (its `project:<id>` is claimed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from graph.ciphers.keyring import Keyring
from graph.clock import utc_now
from graph.errors import InvalidInput
from graph.funds.apportion import apportion
from graph.funds.books import FundBooks, fold_up, fund_log, parse_entries
from graph.funds.journal import EntryKind, FundEntry, JournalFold, balances, check_entry
from graph.logs import ClaimHeld, LogAppend, LogMoved, MerkleLog
from graph.scope import Scope

DEBIT_ATTEMPTS = 5
SHORT_NAMED = 50
"""How many houses short a refused debit names in its message (then how many more)."""
"""How many times a debit reads the balances again after another writer appended meanwhile."""


log_name = fund_log


def claim_of(estate: str, ref: str) -> str:
    """The claim a booked reference takes: one statement line, one project, booked once."""
    return f"fund:{estate}:{ref}"


@dataclass(frozen=True, slots=True)
class Debit:
    """A repair debited: each house's share (fen, summing to the cost) and where they went."""

    project: str
    cost_fen: int
    shares: Mapping[str, int]
    appended: LogAppend


class FundLedger:
    """The fund's books over `store`; `keys` sign the journals' heads (see the module docstring)."""

    def __init__(self, store: FundBooks, keys: Keyring | None = None, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.store = store
        self.keys = keys
        self.clock = clock
        self._logs: dict[str, MerkleLog] = {}
        self._folding: dict[str, asyncio.Future[int]] = {}

    async def fold(self, estate: str, size: int | None = None) -> int:
        """Fold the estate's journal into the kept rows up to at least `size` entries (None: its
        size now); the size they are folded to. One fold runs at a time per estate in this
        process and everyone waiting shares it (so bookers that waited together leave together,
        and their next appends go in one write); any number run across processes
        (graph.funds.books.fold_up)."""
        if size is None:
            size = await self.log(estate).size()
        while True:
            running = self._folding.get(estate)
            if running is None:
                running = self._folding[estate] = asyncio.ensure_future(fold_up(self.store, estate))
                running.add_done_callback(functools.partial(self._folded, estate))
            applied = await asyncio.shield(running)
            if applied >= size:
                return applied

    def _folded(self, estate: str, done: asyncio.Future[int]) -> None:
        if self._folding.get(estate) is done:
            del self._folding[estate]

    def log(self, estate: str) -> MerkleLog:
        found = self._logs.get(estate)
        if found is None:
            found = self._logs[estate] = MerkleLog(self.store, log_name(estate), self.keys, clock=self.clock)
        return found

    async def book(self, entries: Sequence[FundEntry]) -> LogAppend:
        """Append movements of one estate in one write, then fold the journal into the kept rows
        (graph.funds.books). A statement line (`statement:…` ref) already booked, or a reversal
        that does not fit the journal (names no earlier entry of its house, one reversed already,
        a reversal, or does not negate it exactly), is InvalidInput naming it, nothing written."""
        if not entries:
            raise InvalidInput("entries", "[]", "must hold at least one movement")
        estate = entries[0].estate
        for position, entry in enumerate(entries):
            check_entry(entry, where=f"entries[{position}]")
            if entry.estate != estate:
                raise InvalidInput(f"entries[{position}] estate", entry.estate, f"differs from the first movement's {estate}: one estate's journal at a time")
        booking = secrets.token_hex(8)  # this booking's own claimant: the same line offered again is another's
        claims = {claim_of(estate, entry.ref): booking for entry in entries if entry.ref.startswith("statement:")}
        if len(claims) < sum(1 for entry in entries if entry.ref.startswith("statement:")):
            raise InvalidInput("entries", estate, "name one statement line twice")
        reversing = sorted({entry.house for entry in entries if entry.reverses is not None})
        for _ in range(DEBIT_ATTEMPTS):
            size = None
            if reversing:
                size = await self.log(estate).size()
                await self._check_reversals(estate, entries, reversing, size)
            try:
                appended = await self.log(estate).append([entry.to_new_entry() for entry in entries], claims, at_size=size)
            except LogMoved:
                continue  # another writer appended between the check and the write: check again
            except ClaimHeld as held:
                line = held.claim.removeprefix(f"fund:{estate}:")
                raise InvalidInput("ref", line, "is booked already: a statement line is booked once") from None
            await self.fold(estate, appended.size)
            return appended
        raise InvalidInput("estate", estate, "its journal kept moving while the reversals were checked; try again")

    async def _check_reversals(self, estate: str, entries: Sequence[FundEntry], houses: Sequence[str], size: int) -> None:
        """Fold the houses' journal entries and then the new ones as if appended at `size`:
        InvalidInput (from the fold) for a reversal that does not fit."""
        log = self.log(estate).log
        fold = JournalFold()
        for index, entry in parse_entries(log, await self.store.log_entries_by_key(log, list(houses))):
            if index < size:
                fold.add(index, entry)
        for position, entry in enumerate(entries):
            if entry.house in houses:
                try:
                    fold.add(size + position, entry)
                except InvalidInput as refused:
                    raise InvalidInput(f"entries[{position}] ref", entry.ref, refused.rule) from None

    async def balances(self, estate: str, houses: Sequence[str]) -> dict[str, int]:
        """Each house's balance in fen (0 for a house with no movement yet), in house order."""
        return (await self._read(estate, houses))[0]

    async def _read(self, estate: str, houses: Sequence[str]) -> tuple[dict[str, int], int]:
        """The houses' balances at the journal's size, and that size."""
        log = self.log(estate)
        size = await log.size()
        stored = await self.store.log_entries_by_key(log.log, list(dict.fromkeys(houses)))
        folded = balances(
            (entry.index, FundEntry.parse(entry.payload, where=f"{log.log} entry {entry.index}"))
            for entry in stored
            if entry.index < size
        )
        return {house: folded.get(house, 0) for house in sorted(set(houses))}, size

    async def _kept(self, estate: str, houses: Sequence[str]) -> tuple[dict[str, int], int]:
        """The houses' balances from the kept rows, folded up to the journal's size first, and
        that size: the rows hold exactly its first `size` entries when read (rows moved on since
        mean the journal did too, and an append at `size` then finds it moved)."""
        size = await self.fold(estate)
        kept = await self.store.fund_accounts(list(houses), Scope.everything())
        return {house: row.balance_fen if row is not None else 0 for house, row in zip(houses, kept)}, size

    async def debit_repair(
        self, estate: str, project: str, cost_fen: int, areas: Mapping[str, int], *, memo: str = ""
    ) -> Debit:
        """Debit a repair's cost over `areas` (house code → exclusive area, centi-m²), see the
        module docstring. InvalidInput naming every house short (with its balance and share), or
        the project already debited; nothing written either way."""
        shares = apportion(cost_fen, areas)
        ref = f"project:{project}"
        for _ in range(DEBIT_ATTEMPTS):
            held, size = await self._kept(estate, list(shares))
            short = [f"{house} (has {held[house]} fen, owes {share})" for house, share in shares.items() if held[house] < share]
            if short:
                named = ", ".join(short[:SHORT_NAMED])
                more = f" and {len(short) - SHORT_NAMED:,} more houses" if len(short) > SHORT_NAMED else ""
                raise InvalidInput(
                    "houses", estate,
                    f"too little in the fund for project {project} in {len(short):,} of {len(shares):,} houses: {named}{more}; nothing was debited",
                )
            at = self.clock()
            entries = [
                FundEntry(estate=estate, house=house, kind=EntryKind.REPAIR, amount_fen=-share, at=at, ref=ref, memo=memo)
                for house, share in shares.items()
                if share
            ]
            if not entries:
                raise InvalidInput("cost_fen", cost_fen, "must be more than 0 fen to debit")
            try:
                appended = await self.log(estate).append(
                    [entry.to_new_entry() for entry in entries], {claim_of(estate, ref): secrets.token_hex(8)}, at_size=size
                )
            except LogMoved:
                continue  # someone booked meanwhile: read the balances again
            except ClaimHeld:
                raise InvalidInput("project", project, "is debited already: a project is debited once") from None
            await self.fold(estate, appended.size)
            return Debit(project, cost_fen, shares, appended)
        raise InvalidInput("estate", estate, f"its journal kept moving while project {project} was checked; try again")
