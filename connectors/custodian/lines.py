"""The custodian's statement lines as a stream: each linked to its house and estate, and booked
on the estate's fund journal once.

A line becomes one `graph.funds.journal.FundEntry`: its house, kind (首次缴存 deposit, 续筹
top_up, 利息 interest), amount in fen, time (the 记账日期, Beijing time), reference
`statement:<connector>:<statement id>:<流水号>` (the record's key: the runner's provenance
source and record id) and memo `<摘要> [run <run id>]` — the custodian's note and the run that
booked it, so that every entry says where it came from as the other connectors' facts do (the
run's ledger record has when it fetched). Lines are grouped per estate (the estate the hub
holds the house under) and booked with `FundLedger.book`, one write per estate and batch.

Set aside, each with its reason, the rest of the file going on:

- SCHEMA_MISMATCH: a file that is not a statement; a column missing or malformed (a 流水号 out
  of shape, an unknown 业务类型, an amount that is not yuan with at most 2 decimals or is not
  more than 0, a date that is not one);
- MALFORMED_CODE: a 不动产单元号 (or 小区代码) that is not a valid code of a house (an estate);
- UNKNOWN_PLACE: a house the hub does not hold (retried when places arrive);
- CONFLICT: the line's 小区代码 is not the estate the hub holds the house under, or the house
  is under no estate (retried);
- DUPLICATE: a 流水号 repeated in its file (only its first row is taken); a line whose reference is
  booked already with another house, kind, amount or date (a re-issued statement that changed
  a line: the custodian corrects with a new line, and a correction in the journal is a
  reversal); a 首次缴存 for a house that has one not reversed (a first deposit is made once).

Booked once: a reference booked already with the same house, kind, amount and date is the same
line read again (after a crash, by a full run, or in the same statement sent as .csv and .json)
and counts as unchanged, nothing written — the journal's claims (`fund:<estate>:<ref>`) make
sure of it even between two runs at once. What is not caught: the same 流水号 as a 续筹 or 利息
in two statements of different ids (they are two lines to the journal; a custodian's serial
numbers do not repeat across its statements).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from connectors.base import (
    ConnectorError,
    Facts,
    FieldSpec,
    RecordSchema,
    Rejected,
    SourceRecord,
    Verdict,
    json_record,
)
from connectors.custodian.statements import Line, line_of
from graph.codes import place_code
from graph.errors import CodeError, InvalidInput
from graph.funds.journal import REF_LIMIT, EntryKind, FundEntry, check_entry
from graph.funds.ledger import FundLedger, claim_of, log_name
from graph.ledger import Reason
from graph.levels import Level
from graph.model import Provenance, WriteCounts
from graph.scope import Scope
from graph.store import Store

EVERYTHING = Scope.everything()
STREAM = "lines"
BOOK_ATTEMPTS = 3
"""How often an estate's lines are sorted and booked again when another run booked one of them
between the reading of its claims and the write."""

SCHEMA = RecordSchema(
    (
        FieldSpec("statement", str),
        FieldSpec("file", str),
        FieldSpec("row", int),
        FieldSpec("line", str, required=False),
        FieldSpec("house", str, required=False),
        FieldSpec("kind", str, required=False),
        FieldSpec("amount", str, required=False),
        FieldSpec("date", str, required=False),
        FieldSpec("estate", str, required=False),
        FieldSpec("summary", str, required=False),
        FieldSpec("repeats", int, required=False),
        FieldSpec("problem", str, required=False),
    )
)
"""A record: the statement id, file and row it was read from, the line's columns as text
(`connectors.custodian.statements`); `repeats` the row that first had its 流水号, `problem` why a
whole file cannot be read. The columns are checked when linked, each with its own reason."""
_NAMES = {"line": "流水号", "house": "不动产单元号", "kind": "业务类型", "amount": "金额(元)", "date": "记账日期"}


class LineStream:
    """The `lines` stream of a custodian source named `source`, read by `reader`."""

    name = STREAM
    primary_key: tuple[str, ...] = ("statement", "line")
    cursor_field = "row"
    schema = SCHEMA

    def __init__(self, source: str, reader: Callable[[str | None], AsyncIterator[SourceRecord]]) -> None:
        self.source = source
        self._reader = reader
        self._estates: dict[str, str | None] = {}  # house → its estate (None: under none); fresh per sync
        self.writer = FundWriter()

    def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        return self._reader(after)

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        """A line holds no personal data (a payer's name is a column never read): kept whole."""
        return json_record(record.data)

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return dict(payload)

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        verdicts: list[Verdict | tuple[Line, str]] = [self._parse(record) for record in records]
        unknown = sorted({parsed[1] for parsed in verdicts if isinstance(parsed, tuple) and parsed[1] not in self._estates})
        if unknown:
            for house, ancestors in zip(unknown, await store.ancestors(unknown, EVERYTHING)):
                if ancestors:
                    self._estates[house] = next((place.code for place in ancestors if place.level == Level.ESTATE), None)
        return [self._linked(record, parsed) if isinstance(parsed, tuple) else parsed for record, parsed in zip(records, verdicts)]

    def _parse(self, record: SourceRecord) -> Verdict | tuple[Line, str]:
        """The line and its house's canonical code, or why the record is set aside."""
        data, key = record.data, record.key
        where = f"statement {data.get('statement')} ({data.get('file')}) row {data.get('row')}"
        if data.get("problem"):
            return Rejected(Reason.SCHEMA_MISMATCH, f"statement file {data.get('file')} {data['problem']}; nothing of it was booked")
        if data.get("repeats"):
            return Rejected(
                Reason.DUPLICATE,
                f"{where}: 流水号 {data.get('line')} repeats row {data['repeats']} of the same statement; "
                "a line is taken once, from its first row",
            )
        missing = [chinese for name, chinese in _NAMES.items() if not data.get(name)]
        if missing:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: {', '.join(missing)} is empty")
        try:
            line = line_of(data)
        except ValueError as error:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: {error}")
        try:
            house, level = _code(line.house, f"{where} 不动产单元号")
            if line.estate is not None:
                estate, estate_level = _code(line.estate, f"{where} 小区代码")
                if estate_level != Level.ESTATE:
                    return Rejected(Reason.MALFORMED_CODE, f"{where}: 小区代码 {line.estate!r} is a {estate_level.name.lower()} code, not an estate's")
                line = dataclasses.replace(line, estate=estate)
        except CodeError as error:
            return Rejected(Reason.MALFORMED_CODE, str(error))
        if level != Level.HOUSE:
            return Rejected(Reason.MALFORMED_CODE, f"{where}: 不动产单元号 {line.house!r} is a {level.name.lower()} code, not a house's")
        ref = f"statement:{self.source}:{key}"
        if len(ref) > REF_LIMIT:
            return Rejected(
                Reason.SCHEMA_MISMATCH,
                f"{where}: its reference {ref[:60]}… is {len(ref)} characters, over the journal's {REF_LIMIT}: "
                "use a shorter statement file name or connector name",
            )
        return line, house

    def _linked(self, record: SourceRecord, parsed: tuple[Line, str]) -> Verdict:
        line, house = parsed
        where = f"statement {record.data.get('statement')} row {record.data.get('row')}"
        if house not in self._estates:
            return Rejected(Reason.UNKNOWN_PLACE, f"{where}: house {house} is not in the hub")
        estate = self._estates[house]
        if estate is None:
            return Rejected(Reason.CONFLICT, f"{where}: house {house} is under no estate in the hub, so it has no fund journal")
        if line.estate is not None and line.estate != estate:
            return Rejected(
                Reason.CONFLICT, f"{where}: the statement puts house {house} in estate {line.estate}, the hub holds it under {estate}"
            )
        entry = FundEntry(estate, house, line.kind, line.amount_fen, line.at, f"statement:{self.source}:{record.key}", line.summary)
        try:
            check_entry(entry, where=where)
        except InvalidInput as error:
            return Rejected(Reason.SCHEMA_MISMATCH, str(error))
        return Facts(entries=(entry,), writer=self.writer)


@functools.lru_cache(maxsize=65_536)
def _known_code(text: str) -> tuple[str, Level]:
    return place_code(text)


def _code(text: str, field: str) -> tuple[str, Level]:
    """`place_code`, remembered (a statement names each house every month); CodeError naming
    `field` for a malformed code."""
    try:
        return _known_code(text)
    except CodeError as error:
        raise CodeError(field, text, error.rule) from None


def _same_line(booked: FundEntry, read: FundEntry) -> bool:
    """Whether a booked entry is this reading of its line: the memo (the note, the run) aside."""
    return (booked.house, booked.kind, booked.amount_fen, booked.at) == (read.house, read.kind, read.amount_fen, read.at)


def _shown(entry: FundEntry) -> str:
    return f"{entry.house} {entry.kind.label} {entry.amount_fen} fen on {entry.at.date().isoformat()}"


class FundWriter:
    """Books the accepted lines of a batch per estate (`connectors.base.Writer`)."""

    def __init__(self) -> None:
        self._ledgers: dict[int, FundLedger] = {}

    def _ledger(self, store: Store) -> FundLedger:
        found = self._ledgers.get(id(store))
        if found is None or found.store is not store:
            found = self._ledgers[id(store)] = FundLedger(store)
        return found

    async def write(self, items: Sequence[tuple[SourceRecord, Facts, Provenance]], store: Store) -> list[WriteCounts | Rejected]:
        outcomes: list[WriteCounts | Rejected] = [WriteCounts()] * len(items)
        estates: dict[str, list[tuple[int, FundEntry]]] = {}
        for position, (_, facts, provenance) in enumerate(items):
            for entry in facts.entries:
                memo = f"{entry.memo} [run {provenance.run_id}]"
                estates.setdefault(entry.estate, []).append((position, dataclasses.replace(entry, memo=memo)))
        keys = [claim_of(estate, entry.ref) for estate, entries in estates.items() for _, entry in entries]
        holders = dict(zip(keys, await store.claims(keys)))  # one reading for the batch; each estate reads again on a race
        # the estates' journals are independent: booked side by side (a store serialises what it must)
        booked = await asyncio.gather(*(self._book(store, estate, entries, holders) for estate, entries in estates.items()))
        for decided in booked:
            for position, outcome in decided.items():
                outcomes[position] = outcome
        return outcomes

    async def _book(
        self, store: Store, estate: str, entries: list[tuple[int, FundEntry]], holders: Mapping[str, str | None] | None
    ) -> dict[int, WriteCounts | Rejected]:
        """The estate's lines sorted (`_sort`) and those not booked yet booked in one write; sorted
        again, the claims read afresh, when another run booked one of them meanwhile."""
        for _ in range(BOOK_ATTEMPTS):
            decided, booking = await self._sort(store, estate, entries, holders)
            if booking:
                try:
                    await self._ledger(store).book([entry for _, entry in booking])
                except InvalidInput as error:
                    if error.field != "ref":
                        raise
                    holders = None  # booked meanwhile by another run: read the claims again
                    continue
                decided.update((position, WriteCounts(inserted=1)) for position, _ in booking)
            return decided
        raise ConnectorError(f"estate {estate}: its statement lines kept being booked by another run; try again")

    async def _sort(
        self, store: Store, estate: str, entries: list[tuple[int, FundEntry]], holders: Mapping[str, str | None] | None
    ) -> tuple[dict[int, WriteCounts | Rejected], list[tuple[int, FundEntry]]]:
        """Which lines are booked already (unchanged, or a duplicate unlike what was booked) and
        which to book, from the estate's claims (`holders`, claim → holder; None: read them)
        and the journal entries of the houses that matter (a held claim's, a first deposit's)."""
        keys = [claim_of(estate, entry.ref) for _, entry in entries]
        held = [holders[key] for key in keys] if holders is not None else await store.claims(keys)
        houses = sorted(
            {entry.house for (_, entry), holder in zip(entries, held) if holder is not None}
            | {entry.house for _, entry in entries if entry.kind is EntryKind.DEPOSIT}
        )
        by_ref: dict[str, tuple[int, FundEntry]] = {}
        deposits: dict[str, tuple[int, FundEntry]] = {}  # house → its first deposit not reversed
        if houses:
            log = log_name(estate)
            stored = [(item.index, FundEntry.parse(item.payload, where=f"{log} entry {item.index}")) for item in await store.log_entries_by_key(log, houses)]
            reversed_ = {entry.reverses for _, entry in stored if entry.reverses is not None}
            for index, entry in stored:
                by_ref[entry.ref] = (index, entry)
                if entry.kind is EntryKind.DEPOSIT and index not in reversed_:
                    deposits.setdefault(entry.house, (index, entry))
        decided: dict[int, WriteCounts | Rejected] = {}
        booking: list[tuple[int, FundEntry]] = []
        for (position, entry), holder in zip(entries, held):
            line = entry.ref.removeprefix("statement:")
            found = by_ref.get(entry.ref)
            if holder is not None or found is not None:  # found: booked after `holders` was read
                if found is not None and found[1].house == entry.house and _same_line(found[1], entry):
                    decided[position] = WriteCounts(unchanged=1)
                elif found is not None:
                    decided[position] = Rejected(
                        Reason.DUPLICATE,
                        f"line {line} is booked already as entry {found[0]} of {log_name(estate)} ({_shown(found[1])}); "
                        f"this reading says {_shown(entry)}: a statement line is booked once",
                    )
                else:
                    decided[position] = Rejected(
                        Reason.DUPLICATE, f"line {line} is booked already in {log_name(estate)} for another house; this reading says {_shown(entry)}"
                    )
                continue
            if entry.kind is EntryKind.DEPOSIT:
                first = deposits.get(entry.house)
                if first is not None:
                    where = f"entry {first[0]} of {log_name(estate)}" if first[0] >= 0 else "booked in this batch"
                    decided[position] = Rejected(
                        Reason.DUPLICATE,
                        f"line {line}: house {entry.house} has its first deposit (首次缴存) already ({where}, from "
                        f"{first[1].ref}); a first deposit is made once (a later one is a 续筹)",
                    )
                    continue
                deposits[entry.house] = (-1, entry)
            booking.append((position, entry))
        return decided, booking
