"""`hub bench --only funds`: the owners' money books (维修资金) on SQLite, in this process, each
figure beside a baseline taken in the same run.

Two estates are written through the store's `write` (the places of hub.bench.votes' synthetic
estate: buildings of two entrances of 100 houses, areas 55.00–144.99 m²):

1. **The estate of 5,000 houses** (`houses`): every house's first deposit booked from a statement
   (one `FundLedger.book`), then twelve months of interest, one line per house a month, appended
   month by month with the month's head published at its end (`Funds.publish`, a clock set
   just after the month). Then:
   - **apportion and debit** a ¥1,000,000.00 repair (¥200.00 a house) over every house (`Funds.complete_project`:
     the apportionment by area, the balances read at the journal's size, one write of 5,000
     debits, the kept rows folded, the project completed), three projects, the median; exact to
     the fen is checked (the shares sum to the cost and each house's balance fell by its share).
     Baseline: reading the 5,000 balances from the journal alone (`FundLedger.balances`);
   - **appending**: `appends` statement lines booked as the custodian connector books them,
     500 lines of the estate per `FundLedger.book` (claimed once, appended, rows folded),
     entries/s; baseline the same number of entries appended to a Merkle log alone. And as many
     single-line bookings, 32 in flight (an operator typing entries in), entries/s;
   - **the period statement** of the last published month (`Funds.statement`, every figure of
     the 收支公示), p50/p99 of 20. Baseline: the estate's roll-up row alone (`fund_totals`);
   - **inclusion proofs** of each house's last entry (`Funds.entry_proof`, against the latest
     published head or one signed for it), p50/p99. Baseline: one entry read from the store.
2. **The long journal** (`entries`, default 1,000,000, over the same 5,000 houses: 200 interest
   lines each) appended in batches of 10,000 and folded into its rows; then `Funds.verify`:
   every leaf, node and head, every entry parsed and folded, every kept row compared. Baseline:
   reading every entry from the store alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.funds.books import fund_log
from graph.funds.journal import CST, EntryKind, FundEntry
from graph.funds.records import Authority
from graph.funds.service import Funds
from graph.levels import Level
from graph.model import Batch, Place
from graph.scope import Scope
from graph.store import Store
from hub.bench.http import Latency, p50_p99_ms
from hub.bench.votes import BATCH, ESTATE, plan_estate

APPORTION_TARGET = 1.0  # seconds, ¥1,000,000.00 over 5,000 houses
APPEND_TARGET = 2_000.0  # entries/s
VERIFY_TARGET = 60.0  # seconds for 1,000,000 entries
PROOF_TARGET_MS = 10.0
STATEMENT_TARGET_MS = 200.0
COST_PER_HOUSE_FEN = 20_000  # ¥200.00: ¥1,000,000.00 over 5,000 houses
LONG_ESTATE = ESTATE[:-3] + "002"
APPEND_BATCH = 10_000
IN_FLIGHT = 32
STATEMENT_LINES = 500
"""Lines per booking in the connector-shaped append figure: one estate's lines of a statement file."""


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@dataclass(frozen=True, slots=True)
class FundFigures:
    houses: int
    cost_fen: int
    journal_entries: int
    build_seconds: float
    apportion_seconds: float
    apportion_runs: tuple[float, ...]
    balances_seconds: float
    exact: bool
    appends: int
    append_per_second: float
    batch_per_second: float
    log_per_second: float
    statement: Latency
    totals_read: Latency
    statement_entries: int
    proof: Latency
    entry_read: Latency
    long_entries: int
    long_build_seconds: float
    verify_seconds: float
    verify_intact: bool
    read_seconds: float


def _long_places(places: Sequence[Place]) -> list[Place]:
    """A second estate beside the first with the same buildings under another estate and parcel."""
    parcel, long_parcel = ESTATE[:12] + "GB00001", ESTATE[:12] + "GB00002"
    copied = []
    for place in places:
        if place.level < Level.ESTATE:
            continue
        if place.level is Level.ESTATE:
            copied.append(Place(LONG_ESTATE, Level.ESTATE, "海景花园二期", place.parent_code, parcel_codes=(long_parcel,), provenance=place.provenance))
            continue
        code = long_parcel + place.code[len(parcel):]
        parent = LONG_ESTATE if place.level is Level.BUILDING else long_parcel + str(place.parent_code)[len(parcel):]
        copied.append(Place(code, place.level, place.name, parent, floors=place.floors, area_centi_m2=place.area_centi_m2, floor=place.floor, usage=place.usage, provenance=place.provenance))
    return copied


def _interest(estate: str, house: str, month: int, year: int, fen: int, line: str) -> FundEntry:
    at = dt.datetime(year, month, 21, 10, 0, tzinfo=CST)
    return FundEntry(estate, house, EntryKind.INTEREST, fen, at, f"statement:bench-centre:{line}", "利息")


async def _append(funds: Funds, estate: str, entries: Sequence[FundEntry]) -> None:
    log = funds.log(estate)
    for start in range(0, len(entries), APPEND_BATCH):
        await log.append([entry.to_new_entry() for entry in entries[start : start + APPEND_BATCH]])


async def _measure(folder: Path, houses: int, long_entries: int, appends: int) -> FundFigures:
    keys = Keyring.generate()
    store: Store = await open_store(f"sqlite:///{folder / 'funds.sqlite'}", sealer=keys.sealer())
    try:
        places, _, _, _ = plan_estate(houses, keys.sealer().owner_ids())
        house_codes = [p.code for p in places if p.level is Level.HOUSE]
        everything = places + _long_places(places)
        for start in range(0, len(everything), BATCH):
            await store.write(Batch(places=everything[start : start + BATCH]))
        clock = Clock(dt.datetime(2025, 12, 20, 10, tzinfo=CST))
        funds = Funds(store, keys, clock=clock)
        rng = random.Random(14)
        started = time.perf_counter()
        await funds.ledger.book(
            [
                FundEntry(ESTATE, house, EntryKind.DEPOSIT, 1_500_000 + rng.randrange(0, 500_000), clock.at, f"statement:bench-centre:d{n}", "首次缴存")
                for n, house in enumerate(house_codes)
            ]
        )
        for month in range(1, 13):
            await _append(funds, ESTATE, [_interest(ESTATE, house, month, 2026, 300 + n % 97, f"{month}:{n}") for n, house in enumerate(house_codes)])
            await funds.ledger.fold(ESTATE)
            end_month = dt.datetime(2026 + month // 12, month % 12 + 1, 1, 0, 10, tzinfo=CST)
            clock.at = end_month
            await funds.publish(ESTATE, f"2026-{month:02d}")
        build_seconds = time.perf_counter() - started
        journal_entries = await store.log_size(fund_log(ESTATE))

        # apportion and debit ¥1,000,000.00 over every house, three times
        runs = []
        exact = True
        cost_fen = COST_PER_HOUSE_FEN * len(house_codes)
        for number in range(3):
            project = f"BENCH-{number}"
            await funds.raise_project(
                project_id=project, part=ESTATE, title="全体外墙保温修复", budget_fen=cost_fen, authority=Authority.REFERENCE,
                authority_ref=f"2026年业主大会第{number + 1}号决议", raised_by="bench", scope=Scope.everything(),
            )
            before = await funds.ledger.balances(ESTATE, house_codes)
            began = time.perf_counter()
            _, debit = await funds.complete_project(project, cost_fen, Scope.everything())
            runs.append(time.perf_counter() - began)
            after = {a.house: a.balance_fen for a in await store.fund_accounts(house_codes, Scope.everything()) if a is not None}
            exact = exact and sum(debit.shares.values()) == cost_fen and all(
                before[house] - after[house] == debit.shares[house] for house in house_codes
            )
        began = time.perf_counter()
        await funds.ledger.balances(ESTATE, house_codes)
        balances_seconds = time.perf_counter() - began

        # appending: single-line bookings, IN_FLIGHT at once; baseline one booking of as many lines
        clock.at = dt.datetime(2027, 1, 10, 9, tzinfo=CST)
        lines = [
            FundEntry(ESTATE, house_codes[n % len(house_codes)], EntryKind.TOP_UP, 10_000, clock.at, f"statement:bench-top-up:s{n}", "续筹")
            for n in range(appends)
        ]
        queue = list(lines)

        async def booker() -> None:
            while queue:
                await funds.ledger.book([queue.pop()])

        began = time.perf_counter()
        await asyncio.gather(*(booker() for _ in range(IN_FLIGHT)))
        append_per_second = appends / (time.perf_counter() - began)
        # as the custodian connector books a statement file: one estate's lines per `book`
        statement_lines = [
            FundEntry(ESTATE, house_codes[n % len(house_codes)], EntryKind.TOP_UP, 10_000, clock.at, f"statement:bench-top-up:b{n}", "续筹")
            for n in range(appends)
        ]
        began = time.perf_counter()
        for start in range(0, appends, STATEMENT_LINES):
            await funds.ledger.book(statement_lines[start : start + STATEMENT_LINES])
        batch_per_second = appends / (time.perf_counter() - began)
        # baseline: the same number of entries appended to the Merkle log alone (no claims, no rows)
        bare = [
            FundEntry(ESTATE, house_codes[n % len(house_codes)], EntryKind.TOP_UP, 10_000, clock.at, f"statement:bench-bare:{n}", "续筹").to_new_entry()
            for n in range(appends)
        ]
        spare = funds.log(ESTATE[:-3] + "003")  # a log of its own: the estate's rows stay the journal's
        began = time.perf_counter()
        for start in range(0, appends, STATEMENT_LINES):
            await spare.append(bare[start : start + STATEMENT_LINES])
        log_per_second = appends / (time.perf_counter() - began)

        # the period statement of the last published month; baseline the roll-up row
        statement_times, totals_times = [], []
        statement_entries = 0
        for _ in range(20):
            began = time.perf_counter()
            statement = await funds.statement(ESTATE, "2026-12", Scope.everything())
            statement_times.append(time.perf_counter() - began)
            statement_entries = statement.entries
            began = time.perf_counter()
            await store.fund_totals([ESTATE], 2026, Scope.everything())
            totals_times.append(time.perf_counter() - began)

        # inclusion proofs of houses' last entries; baseline one entry read
        proof_times, read_times = [], []
        log = fund_log(ESTATE)
        size = await store.log_size(log)
        for house in rng.sample(house_codes, min(200, len(house_codes))):
            began = time.perf_counter()
            proof = await funds.entry_proof(house, None, Scope.everything())
            proof_times.append(time.perf_counter() - began)
            assert proof is not None
            index = rng.randrange(size)
            began = time.perf_counter()
            await store.log_entries(log, index, index + 1)
            read_times.append(time.perf_counter() - began)

        # the long journal, verified whole
        long_codes = [ESTATE[:12] + "GB00002" + code[19:] for code in house_codes]
        began = time.perf_counter()
        per_house = max(1, long_entries // len(long_codes))
        for round_ in range(per_house):
            month = round_ % 12 + 1
            year = 2000 + round_ // 12
            await _append(funds, LONG_ESTATE, [_interest(LONG_ESTATE, house, month, year, 100 + n % 50, f"L{round_}:{n}") for n, house in enumerate(long_codes)])
        await funds.ledger.fold(LONG_ESTATE)
        clock.at = dt.datetime(2027, 2, 1, 0, 10, tzinfo=CST)
        await funds.publish(LONG_ESTATE, "2027-01")
        long_build = time.perf_counter() - began
        long_size = await store.log_size(fund_log(LONG_ESTATE))
        began = time.perf_counter()
        for start in range(0, long_size, 20_000):
            await store.log_entries(fund_log(LONG_ESTATE), start, min(long_size, start + 20_000))
        read_seconds = time.perf_counter() - began
        began = time.perf_counter()
        report = await funds.verify(LONG_ESTATE)
        verify_seconds = time.perf_counter() - began
        return FundFigures(
            houses=len(house_codes), cost_fen=cost_fen, journal_entries=journal_entries, build_seconds=build_seconds,
            apportion_seconds=statistics.median(runs), apportion_runs=tuple(runs), balances_seconds=balances_seconds, exact=exact,
            appends=appends, append_per_second=append_per_second, batch_per_second=batch_per_second, log_per_second=log_per_second,
            statement=Latency("Funds.statement", len(statement_times), *p50_p99_ms(statement_times)),
            totals_read=Latency("fund_totals", len(totals_times), *p50_p99_ms(totals_times)),
            statement_entries=statement_entries,
            proof=Latency("Funds.entry_proof", len(proof_times), *p50_p99_ms(proof_times)),
            entry_read=Latency("one entry", len(read_times), *p50_p99_ms(read_times)),
            long_entries=long_size, long_build_seconds=long_build, verify_seconds=verify_seconds,
            verify_intact=report.intact, read_seconds=read_seconds,
        )
    finally:
        await store.close()


def measure_funds(houses: int = 5_000, entries: int = 1_000_000, appends: int = 4_000) -> FundFigures:
    """The figures of the module docstring."""
    from graph.errors import HubError

    if houses < 10:
        raise HubError(f"--funds-houses: {houses} is too few (at least 10)")
    with tempfile.TemporaryDirectory(prefix="hub-bench-funds-") as folder:
        return asyncio.run(_measure(Path(folder), houses, entries, appends))


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render_funds(figures: FundFigures) -> list[str]:
    f = figures
    runs = ", ".join(f"{run:.3f}" for run in f.apportion_runs)
    return [
        f"### The owners' money books: an estate of {f.houses:,} houses and a journal of {f.long_entries:,} entries, SQLite, in process",
        "",
        f"The estate's journal: {f.houses:,} first deposits and twelve months of interest, each month's head published at its end "
        f"({f.journal_entries:,} entries, written and folded in {f.build_seconds:.1f} s, not counted).",
        "",
        "| figure | measured | baseline, same run | target |",
        "|---|---:|---:|---|",
        f"| apportion ¥{f.cost_fen // 100:,}.{f.cost_fen % 100:02d} over {f.houses:,} houses by area and debit them (`Funds.complete_project`: one write, rows "
        f"folded), median of 3, s | {f.apportion_seconds:.3f} ({runs}) | reading the {f.houses:,} balances alone: "
        f"{f.balances_seconds:.3f} | < {APPORTION_TARGET:g} s and exact: {_verdict(f.apportion_seconds < APPORTION_TARGET and f.exact)} "
        f"(exact to the fen: {'yes' if f.exact else '**no**'}) |",
        f"| journal entries booked as the custodian connector books them ({STATEMENT_LINES} statement lines of one estate per "
        f"`FundLedger.book`: lines claimed once, appended, rows folded): entries/s | {f.batch_per_second:,.0f} ({f.appends:,}) | "
        f"the same entries appended to a Merkle log alone: {f.log_per_second:,.0f}/s | ≥ {APPEND_TARGET:,.0f}/s: "
        f"{_verdict(f.batch_per_second >= APPEND_TARGET)} |",
        f"| journal entries booked one line per `book`, {IN_FLIGHT} in flight (entries typed in one by one): entries/s | "
        f"{f.append_per_second:,.0f} ({f.appends:,}) | — | ≥ {APPEND_TARGET:,.0f}/s: {_verdict(f.append_per_second >= APPEND_TARGET)} |",
        f"| `hub ledger verify`'s check (`Funds.verify`) of {f.long_entries:,} entries, s | {f.verify_seconds:.1f} | reading the "
        f"entries alone: {f.read_seconds:.1f} | < {VERIFY_TARGET:g} s: {_verdict(f.verify_seconds < VERIFY_TARGET and f.verify_intact)} |",
        f"| inclusion proof of a house's last entry (`Funds.entry_proof`), p50 / p99 ms | {f.proof.p50_ms:.2f} / {f.proof.p99_ms:.2f} | "
        f"one entry read: {f.entry_read.p50_ms:.2f} / {f.entry_read.p99_ms:.2f} | < {PROOF_TARGET_MS:g} ms: "
        f"{_verdict(f.proof.p50_ms < PROOF_TARGET_MS)} |",
        f"| the statement of 2026-12 ({f.statement_entries:,} entries), p50 / p99 ms | {f.statement.p50_ms:.1f} / {f.statement.p99_ms:.1f} | "
        f"the estate's roll-up row: {f.totals_read.p50_ms:.2f} / {f.totals_read.p99_ms:.2f} | < {STATEMENT_TARGET_MS:g} ms: "
        f"{_verdict(f.statement.p50_ms < STATEMENT_TARGET_MS)} |",
        "",
        f"The long journal was appended in batches of {APPEND_BATCH:,} and folded in {f.long_build_seconds:.0f} s (not counted); "
        f"`verify` found it {'intact' if f.verify_intact else '**not intact**'}.",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m hub.bench.funds [houses [entries [appends]]]`: this benchmark alone."""
    import sys

    arguments = list(sys.argv[1:] if argv is None else argv)
    houses = int(arguments[0]) if arguments else 5_000
    entries = int(arguments[1]) if len(arguments) > 1 else 1_000_000
    appends = int(arguments[2]) if len(arguments) > 2 else 4_000
    print("\n".join(render_funds(measure_funds(houses, entries, appends))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
