"""The fund custodian's statement files (kind `custodian`) on every backend of `tests.backends`,
with real files in a temp folder: the shared connector contract, then what only statements do —
every house's balance to the fen, lines booked once through a crash between the booking and the
checkpoint, a file read to its end never opened again, each kind of bad line set aside with its
reason while the rest is booked, the columns and amounts as banks write them."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Rejected, Source
from connectors.config import parse_connectors
from connectors.custodian.files import CustodianStatements
from connectors.custodian.reference import HEADER, FundHouse, FundRates, Statements, fund_houses, write_statements, yuan
from connectors.custodian.statements import booked_at, fen_of_yuan
from connectors.runner import sync
from graph.ciphers.keyring import Keyring
from graph.errors import InvalidInput, StoreError
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.ledger import FundLedger, log_name
from graph.ledger import Reason, RunStatus
from graph.levels import Level
from graph.model import Batch, Place, Usage
from graph.store import Store
from tests import backends
from tests.connectors.harness import BATCH, ConnectorContract
from tests.graph.conformance import E_A, E_B, E_C, F_HOUSE, T_HOUSE, UNKNOWN_HOUSE, fixture_places

YEAR = [(2025, month) for month in range(1, 13)]
NAME = "fund"


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, tmp_path)
    await opened.write(Batch(places=fixture_places()))
    try:
        yield opened
    finally:
        await backends.discard(opened)


def source_of(folder: Path, name: str = NAME, settle: int = 2) -> CustodianStatements:
    return CustodianStatements(name, CustodianStatements.config_schema.validate(name, {"folder": str(folder), "settle_seconds": settle}))


def sent(path: Path, on: dt.datetime) -> Path:
    """Date a file's modification time to when the custodian sent it."""
    os.utime(path, (on.timestamp(), on.timestamp()))
    return path


def statement(folder: Path, stem: str, rows: Sequence[Sequence[str]], on: dt.datetime, *, header: Sequence[str] = HEADER, bom: bool = True) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = folder / f"{stem}.csv"
    path.write_text(("\ufeff" if bom else "") + text.getvalue(), encoding="utf-8")
    return sent(path, on)


JANUARY = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)


class StatementsFixture:
    """A city of twenty houses in three estates and a year of its custodian's statements."""

    def __init__(self, store: Store, houses: list[FundHouse], folder: Path) -> None:
        self.store = store
        self.houses = houses
        self.folder = folder
        self.made: Statements = write_statements(houses, folder, YEAR, seed=5)
        self.total = self.made.lines
        self.balances = dict(self.made.balances)

    async def source(self) -> Source:
        return source_of(self.folder)

    async def down_source(self) -> Source:
        return source_of(self.folder / "not-mounted")

    async def change(self) -> int:
        """January's statement: a 续筹 of ¥100.00 for every house."""
        rows = [(f"J{number:05d}", house.code, "续筹", "100.00", "2026-01-15", house.estate, "续筹") for number, house in enumerate(self.houses, 1)]
        statement(self.folder, "2026-01", rows, JANUARY)
        for house in self.houses:
            self.balances[house.code] = self.balances.get(house.code, 0) + 10_000
        return len(rows)

    async def add_bad(self) -> dict[str, Reason]:
        """A statement with one line of each kind of fault (and one good line)."""
        b_house = next(house.code for house in self.houses if house.estate == E_B)
        rows = [
            ("B1", UNKNOWN_HOUSE, "利息", "1.00", "2026-01-21", "", ""),  # a house the hub does not hold
            ("B2", "370202001001GB00001F0001010", "利息", "1.00", "2026-01-21", "", ""),  # 27 characters
            ("B3", T_HOUSE, "利息", "12,34.5", "2026-01-21", "", ""),  # a misplaced separator
            ("B4", T_HOUSE, "利息", "-3.00", "2026-01-21", "", ""),  # a debit is no statement credit
            ("B5", T_HOUSE, "利息", "3.00", "2026-02-30", "", ""),  # no such day
            ("B6", b_house, "利息", "3.00", "2026-01-21", E_A, ""),  # the custodian puts it in another estate
            ("B7", T_HOUSE, "首次缴存", "5000.00", "2026-01-21", E_A, ""),  # a second first deposit
            ("B8", T_HOUSE, "利息", "0.50", "2026-01-21", E_A, "good"),
            ("B8", T_HOUSE, "利息", "0.50", "2026-01-21", E_A, "the same serial number again"),
            ("B9", T_HOUSE, "冲正", "0.50", "2026-01-21", E_A, ""),  # reversals are the hub's
        ]
        statement(self.folder, "bad", rows, JANUARY + dt.timedelta(days=1))
        self.total += 1  # B8, the good line
        self.balances[T_HOUSE] += 50
        return {
            "bad:B1": Reason.UNKNOWN_PLACE,
            "bad:B2": Reason.MALFORMED_CODE,
            "bad:B3": Reason.SCHEMA_MISMATCH,
            "bad:B4": Reason.SCHEMA_MISMATCH,
            "bad:B5": Reason.SCHEMA_MISMATCH,
            "bad:B6": Reason.CONFLICT,
            "bad:B7": Reason.DUPLICATE,
            "bad:B8@9": Reason.DUPLICATE,
            "bad:B9": Reason.SCHEMA_MISMATCH,
        }

    async def snapshot(self) -> Any:
        """Each estate's journal: its size and every house's balance."""
        ledger = FundLedger(self.store)
        found = {}
        for estate in (E_A, E_B, E_C):
            houses = [house.code for house in self.houses if house.estate == estate]
            found[estate] = (await self.store.log_size(log_name(estate)), await ledger.balances(estate, houses))
        return found


@pytest.fixture
async def fixture(store: Store, tmp_path: Path) -> StatementsFixture:
    return StatementsFixture(store, await fund_houses(store), tmp_path / "statements")


class TestContract(ConnectorContract):
    pass


async def test_every_house_holds_its_deposit_interest_and_top_ups_to_the_fen(fixture: StatementsFixture) -> None:
    assert fixture.total > 3 * BATCH and len(fixture.houses) == 20
    assert {path.suffix for path in fixture.made.files} == {".csv", ".json"}
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.counts.read, run.counts.written, run.counts.dead_lettered) == (fixture.total, fixture.total, 0)
    journals = await fixture.snapshot()
    assert sum(size for size, _ in journals.values()) == fixture.total
    held = {house: fen for _, balances in journals.values() for house, fen in balances.items()}
    assert held == fixture.balances and all(fen > 0 for fen in held.values())
    # the first deposit is the area × the city's rate for the house's kind (defaults: ¥60/m² for
    # a flat in a building without a lift, ¥100/m² for a shop)
    assert fixture.made.first_deposits[T_HOUSE] == 8_950 * 6_000 // 100  # 89.50 m², 1号楼 of 6 floors
    assert fixture.made.first_deposits[F_HOUSE] == 15_000 * 10_000 // 100  # the 150 m² shop
    # each entry says where it came from: the connector, the statement, its line, and the run
    ledger = FundLedger(fixture.store, Keyring.generate())
    entries = [FundEntry.parse(entry.payload) for entry in await fixture.store.log_entries_by_key(log_name(E_A), [T_HOUSE])]
    assert entries[0].kind is EntryKind.DEPOSIT and entries[0].amount_fen == 537_000
    assert [entry.kind for entry in entries[1:]] and {entry.kind for entry in entries[1:]} <= {EntryKind.INTEREST, EntryKind.TOP_UP}
    assert all(entry.ref.startswith(f"statement:{NAME}:2025-") and entry.memo.endswith(f"[run {run.id}]") for entry in entries)
    assert (await ledger.log(E_A).verify()).intact


async def test_a_crash_between_booking_and_checkpoint_books_nothing_twice(fixture: StatementsFixture) -> None:
    store = fixture.store
    saved = store.save_states
    calls = 0

    async def dies_at_the_third_checkpoint(states: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # the third batch is booked; the process dies before its checkpoint
            raise StoreError("the process died (test)")
        await saved(states)

    store.save_states = dies_at_the_third_checkpoint  # type: ignore[method-assign]
    crashed = await sync(store, await fixture.source(), batch_size=BATCH)
    store.save_states = saved  # type: ignore[method-assign]
    assert crashed.status is RunStatus.FAILED and "died" in (crashed.error or "")
    assert crashed.counts.written == 3 * BATCH
    resumed = await sync(store, await fixture.source(), batch_size=BATCH)
    assert resumed.status is RunStatus.SUCCEEDED, resumed.error
    # the third batch is read again: found booked, unchanged; the rest is booked once
    assert resumed.counts.read == fixture.total - 2 * BATCH
    assert (resumed.counts.unchanged, resumed.counts.written) == (BATCH, fixture.total - 3 * BATCH)
    assert resumed.counts.dead_lettered == 0
    journals = await fixture.snapshot()
    assert sum(size for size, _ in journals.values()) == fixture.total
    assert {house: fen for _, balances in journals.values() for house, fen in balances.items()} == fixture.balances


async def test_a_file_read_to_its_end_is_not_opened_again(fixture: StatementsFixture) -> None:
    source = await fixture.source()
    await sync(fixture.store, source, batch_size=BATCH)
    last = fixture.made.files[-1]
    stamp = last.stat().st_mtime_ns
    last.write_bytes(b"\xff\xfe not a statement any more")  # were it opened, it would be set aside
    os.utime(last, ns=(stamp, stamp))
    again = await sync(fixture.store, source, batch_size=BATCH)
    assert again.status is RunStatus.SUCCEEDED and again.counts.read == 0 and again.counts.dead_lettered == 0


async def test_a_statement_still_being_written_waits_for_the_next_run(fixture: StatementsFixture) -> None:
    source = await fixture.source()
    await sync(fixture.store, source, batch_size=BATCH)
    rows = [("W1", T_HOUSE, "续筹", "10", "2026-03-01", E_A, "")]
    growing = statement(fixture.folder, "2026-03", rows, dt.datetime.now(dt.timezone.utc))
    waiting = await sync(fixture.store, source, batch_size=BATCH)
    assert waiting.status is RunStatus.SUCCEEDED and waiting.counts.read == 0
    sent(growing, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=10))
    taken = await sync(fixture.store, source, batch_size=BATCH)
    assert (taken.counts.read, taken.counts.written) == (1, 1)


async def test_columns_in_any_order_without_a_bom_and_json_numbers_are_read_exactly(fixture: StatementsFixture) -> None:
    store = fixture.store
    for path in fixture.made.files:
        path.unlink()
    deposit = f"{T_HOUSE.lower()}"  # a house code in lower case is the same house
    header = ("记账日期", "户名", "金额（元）", "业务类型", "不动产单元号", "流水号")
    rows = [("2025/01/05", "张三", "1,234.50", "首次缴存", deposit, "A-1"), ("2025/01/06", "李四", "一百", "续筹", deposit, "A-2")]
    statement(fixture.folder, "2025-01", rows, JANUARY, header=header, bom=False)
    body = {"lines": [{"流水号": 2, "不动产单元号": T_HOUSE, "业务类型": "interest", "金额(元)": 0.07, "记账日期": "20250221"}]}
    json_path = fixture.folder / "2025-02.json"
    json_path.write_text(json.dumps(body), encoding="utf-8")
    sent(json_path, JANUARY + dt.timedelta(days=1))
    run = await sync(store, await fixture.source(), batch_size=BATCH)
    assert (run.status, run.counts.written, run.counts.dead_lettered) == (RunStatus.SUCCEEDED, 2, 1), run.error
    assert await FundLedger(store).balances(E_A, [T_HOUSE]) == {T_HOUSE: 123_457}
    [first, interest] = [FundEntry.parse(e.payload) for e in await store.log_entries_by_key(log_name(E_A), [T_HOUSE])]
    assert (first.kind, first.at) == (EntryKind.DEPOSIT, dt.datetime(2025, 1, 4, 16, tzinfo=dt.timezone.utc))
    assert first.ref == f"statement:{NAME}:2025-01:A-1" and first.memo.startswith("首次缴存 [run ")
    assert (interest.kind, interest.ref) == (EntryKind.INTEREST, f"statement:{NAME}:2025-02:2")
    [letter] = (await store.dead_letters(NAME, 10)).items  # the amount in words: set aside, the name not kept
    assert (letter.reason, letter.record_key) == (Reason.SCHEMA_MISMATCH, "2025-01:A-2") and "金额(元) '一百'" in letter.detail
    assert letter.payload["amount"] == "一百" and "李四" not in json.dumps(letter.payload, ensure_ascii=False)


async def test_a_file_that_is_no_statement_is_one_dead_letter_and_the_next_is_read(fixture: StatementsFixture) -> None:
    for path in fixture.made.files[1:]:
        path.unlink()
    broken = statement(fixture.folder, "2024-12", [("X1", T_HOUSE, "利息")], JANUARY - dt.timedelta(days=400), header=("流水号", "不动产单元号", "业务类型"))
    assert broken.stat().st_mtime < fixture.made.files[0].stat().st_mtime
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    january = len(fixture.made.files[0].read_text(encoding="utf-8-sig").splitlines()) - 1  # its header aside
    assert january > 0
    assert (run.status, run.counts.read, run.counts.written, run.counts.dead_lettered) == (RunStatus.SUCCEEDED, january + 1, january, 1)
    [letter] = (await fixture.store.dead_letters(NAME, 10)).items
    assert letter.reason is Reason.SCHEMA_MISMATCH and letter.record_key == "2024-12.csv"
    assert "金额(元)" in letter.detail and "记账日期" in letter.detail


async def test_a_line_booked_already_with_other_values_is_a_duplicate(fixture: StatementsFixture) -> None:
    for path in fixture.made.files[1:]:
        path.unlink()
    source = await fixture.source()
    await sync(fixture.store, source, batch_size=BATCH)
    first = fixture.made.files[0]
    text = first.read_text(encoding="utf-8-sig").splitlines()
    serial, house, kind, amount, *rest = next(csv.reader([text[1]]))
    changed = statement(fixture.folder, "2025-01", [(serial, house, kind, yuan(fen_of_yuan(amount) + 1), *rest)], JANUARY)  # re-issued, one fen more
    assert changed == first
    again = await sync(fixture.store, source, batch_size=BATCH)
    assert (again.counts.read, again.counts.written, again.counts.dead_lettered) == (1, 0, 1)
    [letter] = (await fixture.store.dead_letters(NAME, 10)).items
    assert letter.reason is Reason.DUPLICATE and "booked already as entry" in letter.detail and "booked once" in letter.detail


# --- what does not need a store --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [("4475", 447_500), ("4475.5", 447_550), ("4475.50", 447_550), ("0.01", 1), ("1,234.50", 123_450), ("12,345,678", 1_234_567_800)],
)
def test_yuan_are_read_to_exact_fen(text: str, fen: int) -> None:
    assert fen_of_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("12.345", "at most 2 decimals"), ("12,34.5", "thousands separators"), ("1e3", "not an amount"), ("¥12", "currency"),
        ("-1.00", "negative"), ("0.00", "zero"), ("", "not an amount"), ("1.2.3", "not an amount"), ("99999999999999999", "more than"),
    ],
)
def test_what_is_not_yuan_is_refused_saying_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        fen_of_yuan(text)


def test_dates_are_beijing_days() -> None:
    assert booked_at("2026-01-05") == booked_at("20260105") == booked_at("2026/01/05") == dt.datetime(2026, 1, 4, 16, tzinfo=dt.timezone.utc)
    for wrong in ("2026-13-01", "05/01/2026", "2026-1-5"):
        with pytest.raises(ValueError, match="date"):
            booked_at(wrong)


def test_the_rates_are_configuration_with_defaults() -> None:
    rates = FundRates()
    assert (rates.rate(Usage.RESIDENTIAL, False), rates.rate(Usage.RESIDENTIAL, True), rates.rate(Usage.PARKING, True)) == (6_000, 9_000, 10_000)
    mine = FundRates.parse("住宅有电梯=120.5, 利率=1.5, 结息=季")
    assert (mine.residential_lift, mine.residential_no_lift, mine.interest_bp, mine.interest_months) == (12_050, 6_000, 150, 3)
    for wrong, field in (("住宅=60", "is not a rate"), ("非住宅=1.234", "decimals"), ("住宅有电梯", "NAME=VALUE"), ("结息=周", "月, 季 or 年")):
        with pytest.raises(InvalidInput, match=field):
            FundRates.parse(wrong)


def test_a_custodian_is_configured_like_the_other_kinds(tmp_path: Path) -> None:
    [spec] = parse_connectors(f'[connectors.fund]\nkind = "custodian"\nevery = "1d"\nfolder = "{tmp_path}"\n')
    assert (spec.kind, spec.every, spec.config["folder"], spec.config["settle_seconds"]) == ("custodian", 86_400, str(tmp_path), 5)
    with pytest.raises(InvalidInput, match="folder"):
        parse_connectors('[connectors.fund]\nkind = "custodian"\n')


async def test_a_line_of_a_house_not_yet_in_the_hub_is_booked_when_the_house_arrives(fixture: StatementsFixture) -> None:
    for path in fixture.made.files:
        path.unlink()
    statement(fixture.folder, "2026-01", [("N1", UNKNOWN_HOUSE, "首次缴存", "6000.00", "2026-01-05", E_A, "")], JANUARY)
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=BATCH)
    [letter] = (await fixture.store.dead_letters(NAME, 10)).items
    assert (run.counts.dead_lettered, letter.reason, letter.retryable) == (1, Reason.UNKNOWN_PLACE, True)
    building = UNKNOWN_HOUSE[:24]
    await fixture.store.write(
        Batch(
            places=[
                Place(building, Level.BUILDING, "9号楼", E_A, floors=3),
                Place(building + "01", Level.ENTRANCE, "1单元", building),
                Place(UNKNOWN_HOUSE, Level.HOUSE, "9号楼1单元901室", building + "01", area_centi_m2=10_000, floor=9, usage=Usage.RESIDENTIAL),
            ]
        )
    )
    retried = await sync(fixture.store, source, batch_size=BATCH, retry=True)
    assert (retried.counts.read, retried.counts.retried, retried.counts.written, retried.counts.resolved) == (0, 1, 1, 1)
    assert await FundLedger(fixture.store).balances(E_A, [UNKNOWN_HOUSE]) == {UNKNOWN_HOUSE: 600_000}
    assert (await fixture.store.dead_letters(NAME, 10)).items == []


async def test_two_runs_booking_the_same_lines_at_once_book_them_once(fixture: StatementsFixture) -> None:
    """Both read the lines' claims as free; the journal's claims let one book them, and the other,
    refused, reads the claims again and finds them booked as it would have booked them."""
    from connectors.base import Facts
    from connectors.custodian.lines import FundWriter, LineStream
    from connectors.custodian.statements import rows
    from connectors.base import SourceRecord
    from graph.model import Provenance

    january = fixture.made.files[0]
    stream = LineStream(NAME, source_of(fixture.folder).read)
    records = [
        SourceRecord("lines", f"{january.stem}:{row['line']}", str(number), {"statement": january.stem, "file": january.name, "row": number, **row})
        for number, row in enumerate(rows(january.read_text(encoding="utf-8-sig"), ".csv"), 1)
    ]
    verdicts = await stream.link(records, fixture.store)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    items = [(record, verdict, Provenance(NAME, record.key, at, "race")) for record, verdict in zip(records, verdicts) if isinstance(verdict, Facts)]
    assert len(items) == len(records) > 1
    entries = [(position, item[1].entries[0]) for position, item in enumerate(items)]
    estate = entries[0][1].estate
    free = {claim: None for claim in [f"fund:{estate}:{entry.ref}" for _, entry in entries]}
    one, other = await asyncio.gather(
        FundWriter()._book(fixture.store, estate, entries, free), FundWriter()._book(fixture.store, estate, entries, free)
    )
    outcomes = [(one[position], other[position]) for position, _ in entries]
    counted = [pair for pair in outcomes if not any(isinstance(outcome, Rejected) for outcome in pair)]
    assert counted == outcomes, outcomes[:2]  # nothing set aside: the line is the one booked
    assert {(first.inserted + second.inserted, first.unchanged + second.unchanged) for first, second in counted} == {(1, 1)}  # type: ignore[union-attr]
    assert await fixture.store.log_size(log_name(estate)) == len(entries)


def test_interest_is_the_balance_times_the_rate_for_the_months_credited(tmp_path: Path) -> None:
    house = FundHouse(T_HOUSE, E_A, 10_000, Usage.RESIDENTIAL, False)  # 100 m² at ¥60: 600,000 fen
    months = [(2025, month) for month in range(1, 8)]
    # 1.20% a year on 600,000 fen: monthly 600, 601 (on 600,600), 601, 602, 602, 603 fen; quarterly
    # 1,800 then 1,805 (601,800 × 1.20% × 3/12 = 1,805.4, rounded half up)
    for every, lines, balance in ((1, ["首次缴存"] + ["利息"] * 6, 603_609), (3, ["首次缴存", "利息", "利息"], 603_605)):
        made = write_statements([house], tmp_path / str(every), months, rates=FundRates(interest_bp=120, interest_months=every), top_up_share=0, json_every=0)
        kinds = [row[2] for path in made.files for row in list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))[1:]]
        assert (kinds, made.balances[T_HOUSE]) == (lines, balance)
