"""graph.funds.revenue_book.RevenueBook on every backend of `tests.backends` (the journal is a
Merkle log through the LogStore port): the firm's entries appended in one write, the committee's
decision on an entry taken once (of two deciders at once one wins), an objection shown and then
settled by a reversal, everything said about an entry found by its key, and every refusal
leaving the journal as it was."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.ciphers.keyring import Keyring
from graph.errors import InvalidInput
from graph.funds.records import RevenueYear
from graph.funds.revenue import Disposition, EntryStatus, RevenueEntry, RevenueKind, Source, about_key
from graph.funds.revenue_book import RevenueBook, RevenueItem, decided_claim, log_name, reversed_claim
from graph.logs import LogAppend
from graph.logstore import NewEntry
from graph.store import Store
from tests import backends

ESTATE = "370202001001E001"
OTHER_ESTATE = "370202001001E002"
FIRM = "91370202MA3C5XKQ0D"
COMMITTEE = "YWH-370202001001E001-2025"
CST = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 7, 1, 10, 0, tzinfo=CST)
DECIDED_AT = dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.timezone.utc)
KEYS = Keyring.generate()


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, Path(sqlite_path).parent)
    try:
        yield opened
    finally:
        await backends.discard(opened)


def book(store: Store) -> RevenueBook:
    return RevenueBook(store, KEYS, clock=lambda: DECIDED_AT)


def first_half() -> list[RevenueEntry]:
    """The firm's entries for 2026's first half: lift advertising, parking, the electricity of the
    ad screens set against them, and half the owners' share into the maintenance fund."""
    return [
        RevenueEntry.income(ESTATE, FIRM, AT, Source.LIFT_AD, "HT-2026-003", dt.date(2026, 1, 1), dt.date(2026, 6, 30), 1_200_000),
        RevenueEntry.income(ESTATE, FIRM, AT, Source.PARKING, "TC-2026-01", dt.date(2026, 1, 1), dt.date(2026, 6, 30), 300_000),
        RevenueEntry.cost(ESTATE, FIRM, AT, "广告屏电费", 60_000),
        RevenueEntry.distribution(ESTATE, FIRM, AT, Disposition.FUND, 700_000, "上半年收益一半转入维修资金"),
    ]


async def test_the_firm_enters_in_one_write_and_entries_start_unconfirmed(store: Store) -> None:
    revenue = book(store)
    done = await revenue.enter(first_half())
    assert (done.first, done.size) == (0, 4)
    items = await revenue.entries(ESTATE)
    assert [(i.index, i.entry, i.status) for i in items] == [
        (index, entry, EntryStatus.UNCONFIRMED) for index, entry in enumerate(first_half())
    ]
    assert await revenue.years(ESTATE) == [
        RevenueYear(ESTATE, 2026, income_fen=1_500_000, confirmed_income_fen=0, cost_fen=60_000,
                    distributed_fen=700_000, entries=4, unconfirmed=4)
    ]
    stored = await store.log_entries(log_name(ESTATE), 0, 4)
    assert [s.key for s in stored] == ["income", "income", "cost", "distribution"]
    assert [s.payload for s in stored] == [e.payload() for e in first_half()]
    assert await revenue.entries(OTHER_ESTATE) == [] and await revenue.years(OTHER_ESTATE) == []
    assert (await revenue.log(ESTATE).verify()).intact


async def test_the_committee_confirms_and_objects_once_and_the_decision_is_found_by_key(store: Store) -> None:
    revenue = book(store)
    await revenue.enter(first_half())
    confirmed = await revenue.confirm(ESTATE, 0, COMMITTEE, memo="业委会第7次会议")
    objected = await revenue.object(ESTATE, 1, COMMITTEE, "停车收入与道闸记录不符")
    assert (confirmed.first, objected.first) == (4, 5)
    decisions = await store.log_entries_by_key(log_name(ESTATE), [about_key(0), about_key(1)])
    assert [(d.index, RevenueEntry.parse(d.payload)) for d in decisions] == [
        (4, RevenueEntry.confirmation(ESTATE, COMMITTEE, DECIDED_AT, 0, "业委会第7次会议")),
        (5, RevenueEntry.objection(ESTATE, COMMITTEE, DECIDED_AT, 1, "停车收入与道闸记录不符")),
    ]
    held = await store.claims([decided_claim(ESTATE, 0), decided_claim(ESTATE, 1), decided_claim(ESTATE, 2)])
    assert held[0] is not None and held[1] is not None and held[2] is None
    assert held[0] != held[1]  # each decision its own claimant: the same committee deciding twice is refused too
    assert await revenue.item(ESTATE, 0) == RevenueItem(0, first_half()[0], EntryStatus.CONFIRMED, 4, EntryStatus.CONFIRMED)
    assert await revenue.item(ESTATE, 1) == RevenueItem(1, first_half()[1], EntryStatus.OBJECTED, 5, EntryStatus.OBJECTED)
    assert await revenue.item(ESTATE, 2) == RevenueItem(2, first_half()[2], EntryStatus.UNCONFIRMED)
    assert await revenue.item(ESTATE, 4) == RevenueItem(4, RevenueEntry.confirmation(ESTATE, COMMITTEE, DECIDED_AT, 0, "业委会第7次会议"), None)
    assert await revenue.item(ESTATE, 6) is None
    with pytest.raises(InvalidInput, match=r"decided already \(confirmed by entry 4\)"):
        await revenue.confirm(ESTATE, 0, COMMITTEE)
    with pytest.raises(InvalidInput, match=r"decided already \(confirmed by entry 4\)"):
        await revenue.object(ESTATE, 0, COMMITTEE, "金额有误")
    with pytest.raises(InvalidInput, match=r"decided already \(objected by entry 5\)"):
        await revenue.confirm(ESTATE, 1, COMMITTEE)  # an objection is final; see the reversal below
    assert await store.log_size(log_name(ESTATE)) == 6
    assert [i.status for i in await revenue.entries(ESTATE)] == [
        EntryStatus.CONFIRMED, EntryStatus.OBJECTED, EntryStatus.UNCONFIRMED, EntryStatus.UNCONFIRMED, None, None
    ]
    assert (await revenue.years(ESTATE))[0].confirmed_income_fen == 1_200_000


async def test_an_objection_is_settled_by_a_reversal_and_a_fresh_entry(store: Store) -> None:
    revenue = book(store)
    await revenue.enter(first_half())
    await revenue.object(ESTATE, 1, COMMITTEE, "停车收入应为30万元以外另计3万元")
    parking = first_half()[1]
    corrected = RevenueEntry.income(
        ESTATE, FIRM, AT + dt.timedelta(days=20), Source.PARKING, "TC-2026-01", dt.date(2026, 1, 1), dt.date(2026, 6, 30), 330_000
    )
    done = await revenue.enter([parking.reversing(1, FIRM, AT + dt.timedelta(days=20), "按业委会异议冲正"), corrected])
    assert (done.first, done.size) == (5, 7)
    assert await store.claims([reversed_claim(ESTATE, 1)]) != [None]
    await revenue.confirm(ESTATE, 6, COMMITTEE)
    await revenue.confirm(ESTATE, 5, COMMITTEE)  # the reversal is the firm's entry too
    item = await revenue.item(ESTATE, 1)
    assert item == RevenueItem(1, parking, EntryStatus.REVERSED, 4, EntryStatus.OBJECTED, 5)
    assert await revenue.years(ESTATE) == [
        RevenueYear(ESTATE, 2026, income_fen=1_530_000, confirmed_income_fen=330_000, cost_fen=60_000,
                    distributed_fen=700_000, entries=6, unconfirmed=3)  # 0, 2 and 3 wait
    ]
    with pytest.raises(InvalidInput, match="reversed already") as refused:
        await revenue.enter([first_half()[2], parking.reversing(1, FIRM, AT)])
    assert refused.value.field == "entries[1] target"
    assert await store.log_size(log_name(ESTATE)) == 9


async def test_of_two_confirmers_at_once_one_wins(store: Store) -> None:
    await book(store).enter(first_half())
    one, other = book(store), book(store)  # two sessions of the committee, say
    outcomes = await asyncio.gather(
        one.confirm(ESTATE, 2, COMMITTEE), other.confirm(ESTATE, 2, COMMITTEE),
        one.object(ESTATE, 3, COMMITTEE, "分配比例未经业主大会表决"), other.confirm(ESTATE, 3, COMMITTEE),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, LogAppend)]
    lost = [o for o in outcomes if isinstance(o, InvalidInput)]
    assert len(won) == 2 and len(lost) == 2, outcomes
    assert all("decided already" in str(error) for error in lost)
    assert await store.log_size(log_name(ESTATE)) == 6
    decided = await store.log_entries_by_key(log_name(ESTATE), [about_key(2), about_key(3)])
    assert sorted(RevenueEntry.parse(d.payload).target for d in decided) == [2, 3]  # type: ignore[type-var]
    objected, confirmed = outcomes[2:]
    assert isinstance(objected, LogAppend) != isinstance(confirmed, LogAppend)
    item = await book(store).item(ESTATE, 3)
    assert item is not None and item.status is (EntryStatus.OBJECTED if isinstance(objected, LogAppend) else EntryStatus.CONFIRMED)


async def test_of_two_reversals_of_one_entry_at_once_one_wins(store: Store) -> None:
    await book(store).enter(first_half())
    cost = first_half()[2]
    outcomes = await asyncio.gather(
        book(store).enter([cost.reversing(2, FIRM, AT)]), book(store).enter([cost.reversing(2, FIRM, AT)]), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidInput", "LogAppend"], outcomes
    assert await store.log_size(log_name(ESTATE)) == 5
    assert (await book(store).years(ESTATE))[0].cost_fen == 0


async def test_refusals_name_the_field_and_leave_the_journal_unchanged(store: Store) -> None:
    revenue = book(store)
    await revenue.enter(first_half())
    await revenue.confirm(ESTATE, 0, COMMITTEE)
    income, _, cost, _ = first_half()
    before = await store.log_size(log_name(ESTATE))
    root = await revenue.log(ESTATE).root()
    calls = [
        (revenue.enter([]), "entries"),
        (revenue.enter([cost, RevenueEntry.confirmation(ESTATE, COMMITTEE, AT, 2)]), "entries[1] kind"),
        (revenue.enter([cost, RevenueEntry.cost(OTHER_ESTATE, FIRM, AT, "电费", 1)]), "entries[1] estate"),
        (revenue.enter([cost, RevenueEntry.cost(ESTATE, COMMITTEE, AT, "电费", 1)]), "entries[1] by"),
        (revenue.enter([cost, RevenueEntry.cost(ESTATE, FIRM, AT, "电费", 0)]), "entries[1] amount_fen"),
        (revenue.enter([cost, cost.reversing(9, FIRM, AT)]), "entries[1] target"),  # not in the journal
        (revenue.enter([cost, cost.reversing(4, FIRM, AT)]), "entries[1] target"),  # the committee's entry
        (revenue.enter([cost, income.reversing(2, FIRM, AT)]), "entries[1] amount_fen"),  # not cost's negation
        (revenue.enter([cost.reversing(2, FIRM, AT), cost.reversing(2, FIRM, AT)]), "entries[1] target"),
        (revenue.confirm(ESTATE, 5, COMMITTEE), "index"),  # not in the journal
        (revenue.confirm(ESTATE, 4, COMMITTEE), "index"),  # the committee's own entry
        (revenue.confirm(ESTATE, -1, COMMITTEE), "index"),
        (revenue.confirm(ESTATE, True, COMMITTEE), "index"),
        (revenue.confirm(ESTATE, 0, COMMITTEE), "index"),  # decided already
        (revenue.confirm(ESTATE, 1, "业委会"), "by"),
        (revenue.confirm(ESTATE, 1, COMMITTEE, memo="a\nb"), "memo"),
        (revenue.confirm("370202001001e001", 1, COMMITTEE), "estate"),
        (revenue.object(ESTATE, 1, COMMITTEE, "  "), "reason"),
        (revenue.object(ESTATE, 1, COMMITTEE, "理" * 501), "reason"),
        (revenue.item(ESTATE, -3), "index"),
    ]
    for call, field in calls:
        with pytest.raises(InvalidInput) as refused:
            await call
        assert refused.value.field == field, str(refused.value)
    assert await store.log_size(log_name(ESTATE)) == before == 5
    assert await revenue.log(ESTATE).root() == root
    assert await store.claims([reversed_claim(ESTATE, 2), decided_claim(ESTATE, 1)]) == [None, None]


async def test_a_reversal_of_a_reversal_or_of_an_entry_not_yet_written_is_refused(store: Store) -> None:
    revenue = book(store)
    await revenue.enter(first_half())
    cost = first_half()[2]
    undo = cost.reversing(2, FIRM, AT)
    await revenue.enter([undo])
    with pytest.raises(InvalidInput, match="is a reversal") as refused:
        await revenue.enter([RevenueEntry(ESTATE, RevenueKind.REVERSAL, FIRM, AT, amount_fen=-60_000, target=4)])
    assert refused.value.field == "entries[0] target"
    with pytest.raises(InvalidInput, match="must be -1 to") as refused:  # restoring the amount is no reversal
        await revenue.enter([RevenueEntry(ESTATE, RevenueKind.REVERSAL, FIRM, AT, amount_fen=60_000, target=4)])
    assert refused.value.field == "entries[0] amount_fen"
    # a reversal's target must already be in the journal: entry 5 is the one entered with it
    with pytest.raises(InvalidInput, match="not an entry of revenue:") as refused:
        await revenue.enter([cost, cost.reversing(5, FIRM, AT)])
    assert await store.log_size(log_name(ESTATE)) == 5


async def test_signed_heads_and_proofs_cover_the_revenue_journal(store: Store) -> None:
    revenue = book(store)
    await revenue.enter(first_half())
    await revenue.confirm(ESTATE, 0, COMMITTEE)
    log = revenue.log(ESTATE)
    head = await log.sign("period")
    assert head.size == 5 and head.log == "revenue:370202001001E001"
    report = await log.verify()
    assert report.intact and report.entries_checked == 5


async def test_entries_written_around_the_book_are_named_when_read(store: Store) -> None:
    """What a writer bypassing the book could append (the log takes any bytes): the book's reads
    name the first entry that does not fit, the index a verifier reports."""
    revenue = book(store)
    await revenue.enter(first_half())
    log = revenue.log(ESTATE)
    cost = first_half()[2]
    short = RevenueEntry(ESTATE, RevenueKind.REVERSAL, FIRM, AT, amount_fen=-6_000, target=2)  # not -60,000
    await log.append([short.to_new_entry()])
    with pytest.raises(InvalidInput) as refused:
        await revenue.entries(ESTATE)
    assert refused.value.field == "entry 4 amount_fen"
    with pytest.raises(InvalidInput) as refused:
        await revenue.item(ESTATE, 2)  # found by its key too
    assert refused.value.field == "entry 4 amount_fen"
    elsewhere = dataclasses.replace(cost, estate=OTHER_ESTATE)
    hidden = RevenueEntry.confirmation(OTHER_ESTATE, COMMITTEE, AT, 0)
    await revenue.enter([elsewhere])
    await revenue.log(OTHER_ESTATE).append([NewEntry("cost", hidden.payload(), DECIDED_AT)])  # kept from its key
    with pytest.raises(InvalidInput) as refused:
        await revenue.years(OTHER_ESTATE)
    assert refused.value.field == "revenue:370202001001E002 entry 1 key"
