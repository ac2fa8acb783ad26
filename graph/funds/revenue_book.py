"""Public revenue's books over the store (公共收益): the firm enters, the committee confirms or
disputes, each estate's journal folded into yearly rows and per-entry statuses.

Each estate's journal is the Merkle log `revenue:<estate code>` (graph.logs.MerkleLog, the module
the vote bulletin board and the maintenance fund use), its entries
`graph.funds.revenue.RevenueEntry` (the module docstring there gives the format, the keys and the
rules). Who may write as the firm or as the committee is the caller's to decide: the book is
told `by` and records it.

- `enter` appends the firm's entries of one estate in one write. A reversal must name an entry
  already in the journal, an income, cost or distribution whose amount it exactly negates, and
  takes the claim `revenue:<estate>:reversed:<index>`: an entry is reversed once, however many
  writers try at once, and a refused call writes nothing.
- `confirm` and `object` append the committee's decision on one firm entry, taking the claim
  `revenue:<estate>:decided:<index>` with the append (one atomic write): of two deciders at once,
  in any process, one wins and the other is refused naming the decision that stands; an index
  that is not in the journal, or is not the firm's, is refused before anything is written.
- `entries` and `years` read the whole journal and fold it (graph.funds.revenue.fold); `item`
  reads one entry and what was said about it by its key `entry:<index>`, without the journal.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from graph.ciphers.keyring import Keyring
from graph.clock import utc_now
from graph.errors import InvalidInput
from graph.funds.records import RevenueYear
from graph.funds.revenue import (
    ORIGINALS,
    EntryStatus,
    Party,
    RevenueEntry,
    RevenueFold,
    RevenueKind,
    about_key,
    check_entry,
    fold,
)
from graph.logs import ClaimHeld, LogAppend, LogDamaged, MerkleLog
from graph.logstore import LogEntry, LogStore

READ_BATCH = 1024
"""Entries read at a time when a whole journal is folded."""


def log_name(estate: str) -> str:
    """The estate's revenue journal: `revenue:<estate code>`."""
    return f"revenue:{estate}"


def decided_claim(estate: str, index: int) -> str:
    """The claim a decision (confirmation or objection) on entry `index` takes: decided once."""
    return f"revenue:{estate}:decided:{index}"


def reversed_claim(estate: str, index: int) -> str:
    """The claim a reversal of entry `index` takes: reversed once."""
    return f"revenue:{estate}:reversed:{index}"


@dataclass(frozen=True, slots=True)
class RevenueItem:
    """One entry of the journal with what became of it: `status` (None for the committee's own
    entries); the index of its decision (confirmation or objection) and how it was decided
    (CONFIRMED or OBJECTED, shown even when a reversal since made the status REVERSED); the
    index of its reversal."""

    index: int
    entry: RevenueEntry
    status: EntryStatus | None
    decision: int | None = None
    decided: EntryStatus | None = None
    reversal: int | None = None

    @classmethod
    def of(cls, index: int, entry: RevenueEntry, folded: RevenueFold) -> RevenueItem:
        """Entry `index` as `folded` (a fold that holds it) sees it."""
        return cls(
            index, entry, folded.status(index), folded.decisions.get(index), folded.decided.get(index), folded.reversals.get(index)
        )


class RevenueBook:
    """Public revenue's books over `store`; `keys` sign the journals' heads (see the module
    docstring); `clock` stamps the committee's decisions."""

    def __init__(self, store: LogStore, keys: Keyring | None = None, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.store = store
        self.keys = keys
        self.clock = clock
        self._logs: dict[str, MerkleLog] = {}

    def log(self, estate: str) -> MerkleLog:
        found = self._logs.get(estate)
        if found is None:
            found = self._logs[estate] = MerkleLog(self.store, log_name(estate), self.keys, clock=self.clock)
        return found

    # --- the firm ---------------------------------------------------------------------------

    async def enter(self, entries: Sequence[RevenueEntry]) -> LogAppend:
        """Append the firm's entries (income, cost, distribution, reversal) of one estate in one
        write. InvalidInput naming the entry (``entries[<i>] <field>``) for an entry that is
        malformed, of another estate, the committee's, or a reversal that does not fit (its target
        not in the journal, not an income, cost or distribution, reversed already — in the journal
        or twice in these entries — or not exactly negated); nothing written either way."""
        if not entries:
            raise InvalidInput("entries", "[]", "must hold at least one entry")
        estate = entries[0].estate
        targets: dict[int, int] = {}  # reversed entry → its position here
        for position, entry in enumerate(entries):
            where = f"entries[{position}]"
            check_entry(entry, where=where)
            if entry.kind.party is not Party.FIRM:
                raise InvalidInput(
                    f"{where} kind", entry.kind, f"is the committee's ({entry.kind.label}): RevenueBook.confirm or object records it"
                )
            if entry.estate != estate:
                raise InvalidInput(f"{where} estate", entry.estate, f"differs from the first entry's {estate}: one estate's journal at a time")
            if entry.target is not None:
                if entry.target in targets:
                    raise InvalidInput(f"{where} target", entry.target, f"is reversed by entries[{targets[entry.target]}] already")
                targets[entry.target] = position
        log = self.log(estate)
        for target, position in targets.items():
            await self._check_reversal(log, entries[position], f"entries[{position}]")
        booking = secrets.token_hex(8)  # this call's own claimant: the same reversal made again is another's
        claims = {reversed_claim(estate, target): booking for target in targets}
        try:
            return await log.append([entry.to_new_entry() for entry in entries], claims)
        except ClaimHeld as held:
            target = int(held.claim.rsplit(":", 1)[1])
            raise InvalidInput(
                f"entries[{targets[target]}] target", target, "is reversed already: an entry is reversed once; nothing was entered"
            ) from None

    async def _check_reversal(self, log: MerkleLog, reversal: RevenueEntry, where: str) -> None:
        target = reversal.target
        assert target is not None
        undone = await self._read(log, target)
        if undone is None:
            raise InvalidInput(f"{where} target", target, f"is not an entry of {log.log}")
        if undone.kind not in ORIGINALS:
            raise InvalidInput(
                f"{where} target", target,
                f"is a {undone.kind} ({undone.kind.label}): only an income, cost or distribution is reversed",
            )
        if reversal.amount_fen != -(undone.amount_fen or 0):
            raise InvalidInput(
                f"{where} amount_fen", reversal.amount_fen,
                f"must negate entry {target} exactly: {reversal.amount_fen} fen does not undo {undone.amount_fen} fen",
            )

    # --- the committee ----------------------------------------------------------------------

    async def confirm(self, estate: str, index: int, by: str, *, memo: str = "") -> LogAppend:
        """The committee `by` confirms the firm's entry `index` (确认); see `_decide`."""
        return await self._decide(estate, index, by, RevenueKind.CONFIRMATION, None, memo)

    async def object(self, estate: str, index: int, by: str, reason: str, *, memo: str = "") -> LogAppend:
        """The committee `by` disputes the firm's entry `index` for `reason` (异议); see `_decide`."""
        return await self._decide(estate, index, by, RevenueKind.OBJECTION, reason, memo)

    async def _decide(
        self, estate: str, index: int, by: str, kind: RevenueKind, reason: str | None, memo: str
    ) -> LogAppend:
        """Append one decision on entry `index`, taking its claim in the same write. InvalidInput
        naming `index` when it is not an entry of the journal, not the firm's, or decided already
        (saying how); naming `estate`, `by`, `reason` or `memo` when malformed. Nothing written."""
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InvalidInput("index", index, "must be an entry index, an integer 0 or more")
        decision = RevenueEntry(estate, kind, by, self.clock(), target=index, reason=reason, memo=memo)
        check_entry(decision, where="")
        log = self.log(estate)
        target = await self._read(log, index)
        if target is None:
            raise InvalidInput("index", index, f"is not an entry of {log.log}, which holds {await log.size()}")
        if target.kind.party is not Party.FIRM:
            raise InvalidInput(
                "index", index, f"is a {target.kind} ({target.kind.label}) of the committee: only the firm's entries are decided"
            )
        try:
            return await log.append([decision.to_new_entry()], {decided_claim(estate, index): secrets.token_hex(8)})
        except ClaimHeld:
            item = await self.item(estate, index)
            said = ""
            if item is not None and item.decided is not None:
                said = f" ({item.decided} by entry {item.decision})"
            raise InvalidInput(
                "index", index, f"is decided already{said}: an entry is confirmed or disputed once; nothing was written"
            ) from None

    # --- reading ----------------------------------------------------------------------------

    async def entries(self, estate: str) -> list[RevenueItem]:
        """Every entry of the estate's journal in index order, each with its status. A journal
        that does not fold is InvalidInput naming its first entry that does not fit; an entry
        missing below the journal's size is LogDamaged."""
        parsed, folded = await self._fold(estate)
        return [RevenueItem.of(index, entry, folded) for index, entry in parsed]

    async def years(self, estate: str) -> list[RevenueYear]:
        """The estate's rows per year (graph.funds.revenue.fold), in year order."""
        return list((await self._fold(estate))[1].years)

    async def item(self, estate: str, index: int) -> RevenueItem | None:
        """Entry `index` with its status, read by index and by its key `entry:<index>` (its
        decision and reversal) without reading the journal; None when the journal has no such
        entry, no status for a committee's entry. What was said about it that does not fit is InvalidInput naming that entry."""
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InvalidInput("index", index, "must be an entry index, an integer 0 or more")
        log = self.log(estate)
        entry = await self._read(log, index)
        if entry is None:
            return None
        if entry.kind.party is not Party.FIRM:
            return RevenueItem(index, entry, None)  # nothing is said about a decision: it has no status
        about = [(stored.index, self._parse(log, stored)) for stored in await self.store.log_entries_by_key(log.log, [about_key(index)])]
        return RevenueItem.of(index, entry, fold([(index, entry), *about]))

    async def folded(self, estate: str) -> tuple[int, RevenueFold]:
        """The journal folded whole, and how many entries that fold covers."""
        parsed, folded = await self._fold(estate)
        return len(parsed), folded

    async def _fold(self, estate: str) -> tuple[list[tuple[int, RevenueEntry]], RevenueFold]:
        log = self.log(estate)
        size = await log.size()
        parsed: list[tuple[int, RevenueEntry]] = []
        for start in range(0, size, READ_BATCH):
            for stored in await self.store.log_entries(log.log, start, min(size, start + READ_BATCH)):
                if stored.index != len(parsed):
                    break
                parsed.append((stored.index, self._parse(log, stored)))
            if len(parsed) < min(size, start + READ_BATCH):
                raise LogDamaged(f"{log.log}: entry {len(parsed)} of its {size} entries is missing")
        return parsed, fold(parsed)

    async def _read(self, log: MerkleLog, index: int) -> RevenueEntry | None:
        """Entry `index` of the log, parsed; None when the log holds no such entry."""
        stored = await self.store.log_entries(log.log, index, index + 1)
        return self._parse(log, stored[0]) if stored else None

    @staticmethod
    def _parse(log: MerkleLog, stored: LogEntry) -> RevenueEntry:
        """A stored entry parsed, its key checked against its payload (the key is not hashed into
        the leaf: a key changed in the store would hide a decision from `item`)."""
        where = f"{log.log} entry {stored.index}"
        entry = RevenueEntry.parse(stored.payload, where=where)
        if stored.key != entry.key:
            raise InvalidInput(f"{where} key", stored.key, f"must be {entry.key!r}, the key its payload gives")
        return entry

