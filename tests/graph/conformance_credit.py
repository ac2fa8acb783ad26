"""The credit part of the store conformance suite: every member of `graph.credit.records.CreditStore`,
tested through the port only, on the fixture city of `tests/graph/conformance.py`.

Scores: versions numbered per (firm, period) on every save, reads answering the latest, history
by period (and every version when asked), a refused save storing nothing, every field read back
as written (exact rates as fractions, times in UTC). The computation's grouped reads: spans
overlapping a period (the day a span ends is not one of its days), escalations and ratings per
firm, cases of a source and category per estate (at the estate or under it), votes closed in a
period — each checked against counts worked out here from what the test stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from fractions import Fraction

import pytest

from graph.cases import Case, CaseCategory, CaseSource, Escalation
from graph.credit.records import CreditPart, CreditScore, FirmCaseCounts
from graph.errors import InvalidInput
from graph.store import Store
from graph.votes.tally import tally
from tests.graph.conformance import (
    B_A1,
    E_A,
    E_B,
    E_C,
    FIRM_1,
    FIRM_2,
    FIRM_3,
    FIRM_4,
    FIRM_CHANGE,
    T_HOUSE,
    UNKNOWN_ESTATE,
    fixture_city,
)
from tests.graph.conformance_cases import a_case, insert
from tests.graph.conformance_votes import ELECTORATE, OPENED, electors, vote

__all__ = ["TestCreditScores", "TestCreditSaveRefused", "TestCreditInputs"]

UTC = dt.timezone.utc
CST = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 12, 1, 2, 0, 0, 123456, tzinfo=UTC)


def parts(points: int = 7550) -> tuple[CreditPart, ...]:
    return (
        CreditPart("response", (("due", 4), ("signedInTime", 3)), Fraction(3, 4), 12, points),
        CreditPart("maintenance", (("due", 0), ("onTime", 0)), None, 10, 0),
        CreditPart("dismissals", (("estates", 2), ("dismissals", 0)), Fraction(1), 6, 10000 - points),
    )


def a_score(firm: str = FIRM_2, period: str = "2026-11", total: int = 10000, **changes: object) -> CreditScore:
    made = CreditScore(firm, period, total, parts(7550 if total == 10000 else total), 2, 15, AT)
    if total != 10000:
        made = replace(made, parts=(CreditPart("response", (("due", 1), ("signedInTime", 1)), Fraction(1), 12, total),))
    return replace(made, **changes)  # type: ignore[arg-type]


async def city(store: Store) -> Store:
    await store.write(fixture_city())
    return store


class TestCreditScores:
    async def test_each_save_is_the_next_version_and_reads_answer_the_latest(self, store: Store) -> None:
        await city(store)
        first = await store.save_scores([a_score(), a_score(FIRM_3)])
        assert [(s.firm_code, s.version) for s in first] == [(FIRM_2, 1), (FIRM_3, 1)]
        again = await store.save_scores([a_score(total=8123)])
        assert again[0].version == 2
        found = await store.credit_scores([FIRM_3, FIRM_2, FIRM_1], "2026-11")
        assert found[0] == first[1]
        assert found[1] == again[0] and found[1] is not None and found[1].total_centi == 8123
        assert found[2] is None
        assert await store.credit_scores([FIRM_2], "2026-10") == [None]

    async def test_fields_read_back_exactly(self, store: Store) -> None:
        await city(store)
        [stored] = await store.save_scores([a_score(computed_at=AT.astimezone(CST))])
        [found] = await store.credit_scores([FIRM_2], "2026-11")
        assert found == stored and found is not None
        assert found.computed_at == AT and found.computed_at.utcoffset() == dt.timedelta(0)
        assert found.parts == parts()
        rate = found.parts[0].rate
        assert isinstance(rate, Fraction) and rate == Fraction(3, 4)
        assert found.parts[1].rate is None and not found.parts[1].has_data

    async def test_period_scores_and_history(self, store: Store) -> None:
        await city(store)
        await store.save_scores([a_score(FIRM_3), a_score(FIRM_2)])
        await store.save_scores([a_score(FIRM_2, total=5000)])
        await store.save_scores([a_score(FIRM_2, "2026-10", total=6000), a_score(FIRM_2, "2026", total=7000)])
        listed = await store.period_scores("2026-11")
        assert [(s.firm_code, s.version, s.total_centi) for s in listed] == [(FIRM_2, 2, 5000), (FIRM_3, 1, 10000)]
        assert await store.period_scores("2025-01") == []
        [history, none] = await store.credit_history([FIRM_2, FIRM_1])
        assert [(s.period, s.version) for s in history] == [("2026", 1), ("2026-10", 1), ("2026-11", 2)]
        assert none == []
        [every] = await store.credit_history([FIRM_2], versions=True)
        assert [(s.period, s.version) for s in every] == [("2026", 1), ("2026-10", 1), ("2026-11", 1), ("2026-11", 2)]
        monthly = await store.latest_scores([FIRM_2, FIRM_3, FIRM_1])
        assert [(s.period, s.version) if s else None for s in monthly] == [("2026-11", 2), ("2026-11", 1), None]
        [yearly] = await store.latest_scores([FIRM_2], monthly=False)
        assert yearly is not None and (yearly.period, yearly.total_centi) == ("2026", 7000)


class TestCreditSaveRefused:
    @pytest.mark.parametrize(
        "bad, field",
        [
            (a_score("91370202MA3C00999"), "firm"),
            (a_score(period="2026-13"), "period"),
            (a_score(period="26-11"), "period"),
            (a_score(total=10001), "total"),
            (replace(a_score(), total_centi=9999), "parts"),
            (replace(a_score(), computed_at=dt.datetime(2026, 12, 1)), "computed_at"),
        ],
    )
    async def test_refused_saves_store_nothing(self, store: Store, bad: CreditScore, field: str) -> None:
        await city(store)
        with pytest.raises(InvalidInput) as raised:
            await store.save_scores([a_score(FIRM_3), bad])
        assert field in raised.value.field
        assert await store.credit_scores([FIRM_3, FIRM_2], "2026-11") == [None, None]
        assert await store.credit_history([FIRM_3]) == [[]]

    async def test_a_pair_given_twice_is_refused(self, store: Store) -> None:
        await city(store)
        with pytest.raises(InvalidInput, match="twice"):
            await store.save_scores([a_score(), a_score(total=5000)])
        assert await store.period_scores("2026-11") == []


def at(day: int, hour: int = 10, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=CST)


NOV_START = dt.datetime(2026, 11, 1, tzinfo=CST)
DEC_START = dt.datetime(2026, 12, 1, tzinfo=CST)


class TestCreditInputs:
    async def test_spans_overlapping_a_period(self, store: Store) -> None:
        await city(store)
        june = await store.management_spans(dt.date(2020, 6, 1), dt.date(2020, 6, 30))
        assert [(m.firm_code, m.estate_code) for m in june] == [(FIRM_1, E_A), (FIRM_2, E_B), (FIRM_3, E_C)]
        july = await store.management_spans(dt.date(2020, 7, 1), dt.date(2020, 7, 31))
        assert sorted((m.firm_code, m.estate_code) for m in july) == [(FIRM_2, E_A), (FIRM_2, E_B), (FIRM_3, E_C)]
        assert all(m.firm_code != FIRM_1 for m in july)  # its span ended on 2020-07-01: not a day of July
        year = await store.management_spans(dt.date(2020, 1, 1), dt.date(2020, 12, 31))
        assert sorted((m.firm_code, m.estate_code, m.since, m.until) for m in year) == sorted(
            [
                (FIRM_1, E_A, dt.date(2015, 1, 1), FIRM_CHANGE),
                (FIRM_2, E_A, FIRM_CHANGE, None),
                (FIRM_2, E_B, dt.date(2016, 1, 1), None),
                (FIRM_3, E_C, dt.date(2017, 3, 1), None),
            ]
        )
        assert await store.management_spans(dt.date(2010, 1, 1), dt.date(2014, 12, 31)) == []

    async def test_firm_case_counts(self, store: Store) -> None:
        await city(store)
        cases: list[Case] = [
            a_case("c1", at=at(2), firm_code=FIRM_2, rating=5, escalation=Escalation.STEWARD, escalated_at=at(3)),
            a_case("c2", at=at(30, 23), firm_code=FIRM_2, rating=2),
            a_case("c3", at=at(5), firm_code=FIRM_2, escalation=Escalation.STREET, escalated_at=at(9)),
            a_case("c4", at=at(5), firm_code=FIRM_2),
            a_case("c5", at=dt.datetime(2026, 12, 1, 0, 0, tzinfo=CST), firm_code=FIRM_2, rating=1),  # December
            a_case("c6", at=dt.datetime(2026, 10, 31, 23, 59, tzinfo=CST), firm_code=FIRM_2, rating=1),  # October
            a_case("c7", E_C, at=at(7), firm_code=FIRM_3, rating=4),
            a_case("c8", at=at(7)),  # dispatched to no firm
        ]
        await insert(store, *cases)
        found = await store.firm_case_counts([FIRM_3, FIRM_2, FIRM_4], NOV_START, DEC_START)
        assert found == [
            FirmCaseCounts(FIRM_3, escalated=0, rated=1, rating_sum=4),
            FirmCaseCounts(FIRM_2, escalated=2, rated=2, rating_sum=7),
            FirmCaseCounts(FIRM_4),
        ]

    async def test_estate_case_counts(self, store: Store) -> None:
        await city(store)
        hotline = dict(source=CaseSource.HOTLINE, category=CaseCategory.COMPLAINT)
        await insert(
            store,
            a_case("h1", T_HOUSE, at=at(3), **hotline),  # under E_A
            a_case("h2", B_A1, at=at(4), **hotline),
            a_case("h3", E_A, at=at(5), **hotline),  # at the estate itself
            a_case("h4", E_B, at=at(5), **hotline),
            a_case("h5", E_A, at=at(5), source=CaseSource.HOTLINE, category=CaseCategory.REPAIR),
            a_case("h6", E_A, at=at(5), source=CaseSource.OWNER, category=CaseCategory.COMPLAINT),
            a_case("h7", E_A, at=dt.datetime(2026, 10, 31, 23, 0, tzinfo=CST), **hotline),
            a_case("h8", None, at=at(5), **hotline),  # no place: under no estate
        )
        codes = [E_C, E_A, E_B, UNKNOWN_ESTATE]
        found = await store.estate_case_counts(codes, NOV_START, DEC_START, source=CaseSource.HOTLINE, category=CaseCategory.COMPLAINT)
        assert found == [0, 3, 1, 0]
        assert await store.estate_case_counts([E_A], NOV_START, DEC_START) == [5]
        assert await store.estate_case_counts([E_A], NOV_START, DEC_START, source=CaseSource.HOTLINE) == [4]

    async def test_votes_closed_in_a_period(self, store: Store) -> None:
        await city(store)
        closing = dt.datetime(2026, 4, 15, 18, 0, tzinfo=CST)
        for vote_id in ("V1", "V2", "V3"):
            await store.save_vote(vote(vote_id))
        for vote_id in ("V1", "V2"):
            assert await store.open_vote(vote_id, electors(vote_id), ELECTORATE, OPENED)
        result = tally(vote("V1"), ELECTORATE, []).to_json()
        assert await store.close_vote("V1", result, closing)
        assert await store.close_vote("V2", result, dt.datetime(2026, 5, 1, 0, 0, tzinfo=CST))
        april = (dt.datetime(2026, 4, 1, tzinfo=CST), dt.datetime(2026, 5, 1, tzinfo=CST))
        assert await store.votes_closed(*april) == ["V1"]
        assert await store.votes_closed(april[0], dt.datetime(2026, 5, 2, tzinfo=CST)) == ["V1", "V2"]
        assert await store.cancel_vote("V3", closing)  # cancelled, not closed: never listed
        assert await store.votes_closed(dt.datetime(2026, 1, 1, tzinfo=CST), dt.datetime(2027, 1, 1, tzinfo=CST)) == ["V1", "V2"]
