"""The credit engine (graph.credit): each part from real stored cases, complaints, ratings and
votes, the weights, the no-data rule, exact arithmetic, history by versions, and the two
plugged readers (facilities, certificates) fed with numbers the test works out from the store.

Runs on SQLite: the engine reads only through the port, which the conformance suite holds to the
same answers on every backend."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from fractions import Fraction
from math import floor
from pathlib import Path

import pytest

from graph.cases import CaseCategory, CaseSource, CaseStatus, Escalation
from graph.credit import service
from graph.credit.engine import CertificateStanding, FacilityCompliance, FirmFigures, score
from graph.credit.inputs import StoreInputs, dismissed
from graph.credit.periods import Period
from graph.credit.records import CreditScore, FirmCaseCounts
from graph.credit.weights import DEFAULT_WEIGHTS, PARTS, Weights
from graph.cases import CaseTally
from graph.errors import InvalidInput
from graph.model import Batch, Management
from graph.scope import Scope
from graph.store import Store
from graph.votes.law import ItemClass
from graph.votes.records import Candidate, Electorate, Item, ItemForm, Organiser, Vote
from graph.votes.tally import BallotEntry, tally
from tests import backends
from tests.graph.conformance import E_A, E_B, E_C, FIRM_1, FIRM_2, FIRM_3, FIRM_4, T_HOUSE, fixture_city
from tests.graph.conformance_cases import a_case, insert

CST = dt.timezone(dt.timedelta(hours=8))
NOV = Period(2026, 11)
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=CST)


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=CST)


@pytest.fixture
async def store(request: pytest.FixtureRequest, sqlite_path: str) -> AsyncIterator[Store]:
    backends.prepare("sqlite", request)
    opened = await backends.open_fresh("sqlite", request, Path(sqlite_path).parent)
    await opened.write(fixture_city())
    try:
        yield opened
    finally:
        await backends.discard(opened)


async def firm_2_cases(store: Store) -> None:
    """November's cases of 八大关物业 (FIRM_2: 海韵花园 E_A and 八大关花园 E_B, 15 houses):
    c1 signed in time, resolved, rated 5; c2 signed late, still in progress past its deadline
    and escalated; c3 resolved without a response deadline, rated 2; c4 dispatched, never
    signed, past sign_by. Plus three 12345 complaints at 海韵花园 and one case in October."""
    hotline = dict(source=CaseSource.HOTLINE, category=CaseCategory.COMPLAINT)
    await insert(
        store,
        a_case("c1", at=at(2), firm_code=FIRM_2, status=CaseStatus.FOLLOWED_UP, sign_by=at(2, 12), signed_at=at(2, 11),
               resolved_at=at(3), rating=5),
        a_case("c2", at=at(4), firm_code=FIRM_2, status=CaseStatus.IN_PROGRESS, sign_by=at(4, 12), signed_at=at(5),
               deadline=at(10), escalation=Escalation.STEWARD, escalated_at=at(11)),
        a_case("c3", E_B, at=at(6), firm_code=FIRM_2, status=CaseStatus.RESOLVED, resolved_at=at(7), rating=2),
        a_case("c4", at=at(8), firm_code=FIRM_2, status=CaseStatus.DISPATCHED, sign_by=at(8, 12)),
        a_case("h1", T_HOUSE, at=at(9), **hotline),
        a_case("h2", E_A, at=at(12), **hotline),
        a_case("h3", E_A, at=at(20), **hotline),
        a_case("old", at=dt.datetime(2026, 10, 30, tzinfo=CST), firm_code=FIRM_2, rating=1),
    )


async def closed_vote(store: Store, vote_id: str, estate: str, item: Item, choice: str, closes: dt.datetime) -> None:
    """A vote of `estate` with one item every elector voted `choice` on, closed at `closes`."""
    made = Vote(
        id=vote_id, place_code=estate, estate_code=estate,
        organiser=Organiser(role="committee", scope=estate, name="业主委员会", capacity="业主委员会"),
        title="业主大会", record_date=dt.date(2026, 10, 1),
        notice_at=dt.datetime(2026, 10, 1, 9, tzinfo=CST), opens_at=dt.datetime(2026, 10, 16, 9, tzinfo=CST),
        closes_at=closes, items=(item,),
    )
    await store.save_vote(made)
    electorate = Electorate(houses=4, heads=4, area_centi_m2=40_000)
    assert await store.open_vote(vote_id, [], electorate, made.opens_at)
    ballots = [BallotEntry(vote_id, 1, f"{n:064x}", f"{n + 16:064x}", 10_000, Fraction(1), choice, made.opens_at) for n in range(4)]
    result = tally(made, electorate, ballots)
    assert result.items[0].passed == (choice != "against")
    assert await store.close_vote(vote_id, result.to_json(), closes)


def choice_of_firm(chosen: str) -> Item:
    return Item(
        1, ItemClass.PROPERTY_SERVICE, ItemForm.FIRM_CHOICE, "选聘物业服务企业",
        candidates=(Candidate("1", "八大关物业", firm_code=FIRM_2), Candidate("2", "台东物业", firm_code=FIRM_3)),
        seats=1, takes_effect=dt.date(2027, 1, 1),
    )


def oracle(found: CreditScore, weights: Weights) -> int:
    """The total as the README states the rule, worked out again here from the parts' rates."""
    with_data = [part for part in found.parts if part.rate is not None]
    if weights.no_data == "redistribute":
        total = sum((Fraction(weights.of(p.name)) * p.rate for p in with_data if p.rate is not None), Fraction(0))
        whole = sum(weights.of(p.name) for p in with_data)
    else:
        total = sum((Fraction(weights.of(p.name)) * (p.rate if p.rate is not None else 1) for p in found.parts), Fraction(0))
        whole = sum(weights.of(name) for name in PARTS)
    return floor(total * 10000 / whole + Fraction(1, 2))


async def test_each_part_comes_from_the_stored_cases_complaints_and_votes(store: Store) -> None:
    await firm_2_cases(store)
    await closed_vote(store, "TP-1", E_A, choice_of_firm(FIRM_3), "2", dt.datetime(2026, 11, 28, 18, tzinfo=CST))
    scores = await service.compute(store, NOV, now=NOW)
    assert [s.firm_code for s in scores] == [FIRM_2, FIRM_3]  # FIRM_1 left 海韵花园 in 2020, FIRM_4 manages nothing
    firm2 = scores[0]
    assert (firm2.estates, firm2.houses, firm2.version) == (2, 15, 1)
    figures = {part.name: dict(part.figures) for part in firm2.parts}
    rates = {part.name: part.rate for part in firm2.parts}
    assert figures["response"] == {"due": 3, "signedInTime": 1} and rates["response"] == Fraction(1, 3)
    assert figures["resolution"] == {"cases": 4, "resolved": 2} and rates["resolution"] == Fraction(1, 2)
    assert figures["satisfaction"] == {"rated": 2, "satisfied": 1} and rates["satisfaction"] == Fraction(1, 2)
    assert figures["overdue"] == {"cases": 4, "overdue": 2} and rates["overdue"] == Fraction(1, 2)
    assert figures["escalated"] == {"cases": 4, "escalated": 1} and rates["escalated"] == Fraction(3, 4)
    assert figures["complaints"]["complaints"] == 3 and figures["complaints"]["houses"] == 15
    assert rates["complaints"] == 0  # 200 per 1,000 houses: far past 10
    assert figures["ratings"] == {"rated": 2, "ratingSum": 7} and rates["ratings"] == Fraction(7 - 2, 8)
    assert figures["dismissals"] == {"estates": 2, "dismissals": 1} and rates["dismissals"] == Fraction(1, 2)
    assert rates["maintenance"] is None and rates["inspection"] is None and rates["certificates"] is None
    for found in scores:
        assert found.total_centi == oracle(found, Weights())
        assert sum(part.points_centi for part in found.parts) == found.total_centi
        assert all(isinstance(part.rate, Fraction) or part.rate is None for part in found.parts)
        assert all(part.points_centi == 0 for part in found.parts if part.rate is None)
    firm3 = scores[1]  # no case: only complaints (none at E_C) and dismissals have data: full marks
    assert [p.name for p in firm3.parts if p.has_data] == ["complaints", "dismissals"]
    assert firm3.total_centi == 10000


async def test_weights_and_the_complaints_threshold_are_configuration(store: Store, tmp_path: Path) -> None:
    await firm_2_cases(store)
    path = tmp_path / "credit.toml"
    path.write_text("[credit]\ncomplaints_per_thousand = 1000\n[credit.weights]\nresponse = 40\nratings = 0\n", encoding="utf-8")
    weights = Weights.load(path)
    assert weights.of("response") == 40 and weights.of("ratings") == 0 and weights.of("resolution") == DEFAULT_WEIGHTS["resolution"]
    [firm2, _] = await service.compute(store, NOV, weights, now=NOW)
    complaints = firm2.part("complaints")
    assert complaints is not None and complaints.rate == 1 - Fraction(3 * 1000, 15 * 1000)
    ratings = firm2.part("ratings")
    assert ratings is not None and ratings.weight == 0 and ratings.points_centi == 0 and ratings.rate is not None
    assert firm2.total_centi == oracle(firm2, weights)
    [default, _] = await service.compute(store, NOV, now=NOW)
    assert default.total_centi != firm2.total_centi
    for bad, field in (
        ("[credit.weights]\nspeed = 3\n", "credit.weights.speed"),
        ("[credit.weights]\nresponse = 1.5\n", "credit.weights.response"),
        ("[credit]\nno_data = \"ignore\"\n", "credit.no_data"),
        ("[credit]\ncolour = 1\n", "credit"),
    ):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(InvalidInput) as raised:
            Weights.load(path)
        assert raised.value.field == field
    assert Weights.load(tmp_path / "absent.toml") == Weights()


def figures(**changes: object) -> FirmFigures:
    base = FirmFigures(
        firm_code=FIRM_2, estates=3, houses=700,
        tally=CaseTally(FIRM_2, cases=7, due=6, signed_in_time=5, resolved=6, rated=3, satisfied=2, overdue=1),
        counts=FirmCaseCounts(FIRM_2, escalated=1, rated=3, rating_sum=11), complaints=2, dismissals=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_no_data_is_redistributed_or_scored_full_by_the_configured_rule() -> None:
    quiet = figures(tally=CaseTally(FIRM_2), counts=FirmCaseCounts(FIRM_2))
    redistributed = score(quiet, Weights(), NOW, "2026-11")
    assert redistributed is not None
    case_parts = {"response", "resolution", "satisfaction", "overdue", "escalated", "ratings"}
    assert all(part.rate is None for part in redistributed.parts if part.name in case_parts)
    # only complaints (2 per 700 houses: 1 − 2000/7000 = 5/7) and dismissals (none: 1) have data
    assert redistributed.total_centi == floor((Fraction(12) * Fraction(5, 7) + 6) / 18 * 10000 + Fraction(1, 2))
    full = score(quiet, Weights(no_data="full"), NOW, "2026-11")
    assert full is not None and full.total_centi == oracle(full, Weights(no_data="full"))
    assert full.total_centi > redistributed.total_centi
    assert sum(p.points_centi for p in full.parts) == full.total_centi
    none_weighted = Weights(weights={**DEFAULT_WEIGHTS, "complaints": 0, "dismissals": 0})
    assert score(quiet, none_weighted, NOW, "2026-11") is None


def test_points_add_up_exactly_and_rates_stay_fractions() -> None:
    facility = FacilityCompliance(maintenance_due=9, maintenance_on_time=7, inspections_due=13, inspections_passed=12)
    certificates = CertificateStanding(held=11, lapsed=2)
    found = score(figures(facility=facility, certificates=certificates), Weights(), NOW, "2026-11")
    assert found is not None
    assert found.part("maintenance").rate == Fraction(7, 9)  # type: ignore[union-attr]
    assert found.part("inspection").rate == Fraction(12, 13)  # type: ignore[union-attr]
    assert found.part("certificates").rate == Fraction(11, 13)  # type: ignore[union-attr]
    assert all(part.has_data for part in found.parts)
    assert sum(part.points_centi for part in found.parts) == found.total_centi == oracle(found, Weights())
    for part in found.parts:  # none a hundredth or more from its exact share
        exact = Fraction(100 * 100 * part.weight) * (part.rate or 0) / sum(DEFAULT_WEIGHTS.values())
        assert abs(part.points_centi - exact) < 1
    assert 0 <= found.total_centi <= 10000 and isinstance(found.total_centi, int)


async def test_the_plugged_readers_feed_their_parts(store: Store) -> None:
    await firm_2_cases(store)

    async def facility(store_: Store, firms: Sequence[str], since: dt.datetime, until: dt.datetime) -> Mapping[str, object]:
        """Maintenance due = the firm's repair cases reported in the period, on time = those
        resolved; inspections = one per house managed at the period's end, passed = those of
        estates without a 12345 complaint (numbers from the store, as the facilities module would)."""
        answer: dict[str, object] = {}
        estates = await store_.estates_of(firms, (until - dt.timedelta(days=1)).astimezone(CST).date(), Scope.everything())
        for firm, managed in zip(firms, estates):
            page = await store_.case_page(Scope.everything(), 500, firm_code=firm, since=since, until=until, categories=[CaseCategory.REPAIR])
            codes = [m.estate_code for m in managed]
            houses = [row.houses if row else 0 for row in await store_.place_stats(codes, Scope.everything())]
            complaints = await store_.estate_case_counts(codes, since, until, source=CaseSource.HOTLINE, category=CaseCategory.COMPLAINT)
            answer[firm] = (
                len(page.items), sum(1 for c in page.items if c.status.closed),
                sum(houses), sum(h for h, n in zip(houses, complaints) if n == 0),
            )
        return answer

    async def certificates(store_: Store, firms: Sequence[str], day: dt.date) -> Mapping[str, object]:
        estates = await store_.estates_of(firms, day, Scope.everything())
        return {firm: (2 * len(managed), 1) for firm, managed in zip(firms, estates) if managed}

    inputs = StoreInputs(store, facility=facility, certificates=certificates)
    [firm2, firm3] = await service.compute(store, NOV, inputs=inputs, now=NOW)
    maintenance, inspection = firm2.part("maintenance"), firm2.part("inspection")
    assert maintenance is not None and dict(maintenance.figures) == {"due": 4, "onTime": 2}
    assert inspection is not None and dict(inspection.figures) == {"due": 15, "passedOnTime": 5}
    assert inspection.rate == Fraction(5, 15)
    certificates_part = firm3.part("certificates")
    assert certificates_part is not None and certificates_part.rate == Fraction(2, 3)
    assert firm2.total_centi == oracle(firm2, Weights())

    async def wrong(store_: Store, firms: Sequence[str], since: dt.datetime, until: dt.datetime) -> Mapping[str, object]:
        return {FIRM_2: (3, 4, 0, 0)}

    with pytest.raises(InvalidInput, match="more than what was due"):
        await service.compute(store, NOV, inputs=StoreInputs(store, facility=wrong), now=NOW)


async def test_dismissals_by_firm_choice_and_by_motion_with_the_span_ended(store: Store) -> None:
    closes = dt.datetime(2026, 11, 20, 18, tzinfo=CST)
    await closed_vote(store, "TP-KEEP", E_B, choice_of_firm(FIRM_2), "1", closes)  # re-chose the incumbent
    await closed_vote(store, "TP-RENEW", E_C, Item(1, 4, ItemForm.MOTION, "续聘台东物业"), "for", closes)
    spans = await store.management_spans(NOV.first_day, NOV.last_day)
    votes = [v for v in await store.votes(await store.votes_closed(NOV.start, NOV.end), Scope.everything()) if v]
    assert dismissed(spans, votes) == {}  # a renewal leaves the span open
    await store.write(Batch(managements=[Management(FIRM_3, E_C, dt.date(2017, 3, 1), dt.date(2026, 12, 31))]))
    await closed_vote(store, "TP-OUT", E_A, choice_of_firm(FIRM_3), "2", closes)
    await closed_vote(store, "TP-NO", E_A, Item(1, 4, ItemForm.MOTION, "解聘八大关物业"), "against", closes)
    await closed_vote(store, "TP-OTHER", E_A, Item(1, 5, ItemForm.MOTION, "使用维修资金"), "for", closes)
    spans = await store.management_spans(NOV.first_day, NOV.last_day)
    votes = [v for v in await store.votes(await store.votes_closed(NOV.start, NOV.end), Scope.everything()) if v]
    assert dismissed(spans, votes) == {FIRM_2: frozenset({E_A}), FIRM_3: frozenset({E_C})}
    scores = await service.compute(store, NOV, now=NOW)
    by_firm = {s.firm_code: dict(s.part("dismissals").figures) for s in scores}  # type: ignore[union-attr]
    assert by_firm == {FIRM_2: {"estates": 2, "dismissals": 1}, FIRM_3: {"estates": 1, "dismissals": 1}}
    # a vote closed in December dismisses nobody in November
    assert await service.compute(store, Period(2026, 10), now=NOW) != []
    october = {s.firm_code: s.part("dismissals").rate for s in await store.period_scores("2026-10")}  # type: ignore[union-attr]
    assert october == {FIRM_2: 1, FIRM_3: 1}


async def test_recomputing_adds_a_version_and_history_lists_periods(store: Store) -> None:
    await firm_2_cases(store)
    first = await service.compute(store, NOV, now=NOW)
    await insert(store, a_case("late", at=at(25), firm_code=FIRM_2, rating=1))
    again = await service.compute(store, NOV, now=NOW + dt.timedelta(days=1))
    assert [s.version for s in first] == [1, 1] and [s.version for s in again] == [2, 2]
    assert again[0].total_centi < first[0].total_centi  # a rating of 1 came in
    await service.compute(store, Period(2026, 10), now=NOW)
    await service.compute(store, Period(2026), now=NOW)
    viewer = service.Viewer(Scope.everything())
    [history] = await service.history_for(store, [FIRM_2], viewer)
    assert [(s.period, s.version) for s in history] == [("2026", 1), ("2026-10", 1), ("2026-11", 2)]
    [every] = await service.history_for(store, [FIRM_2], viewer, versions=True)
    assert [(s.period, s.version) for s in every if s.period == "2026-11"] == [("2026-11", 1), ("2026-11", 2)]
    year = (await service.scores_for(store, [FIRM_2], Period(2026), viewer))[0]
    assert year is not None and dict(year.part("complaints").figures)["months"] == 12  # type: ignore[union-attr]


async def test_who_sees_which_score(store: Store) -> None:
    await service.compute(store, NOV, now=NOW)
    codes = [FIRM_1, FIRM_2, FIRM_3, FIRM_4]

    async def seen(viewer: service.Viewer) -> list[str]:
        return [s.firm_code for s in await service.scores_for(store, codes, NOV, viewer) if s is not None]

    assert await seen(service.Viewer(Scope.everything())) == [FIRM_2, FIRM_3]
    assert await seen(service.Viewer(Scope.of("370203"))) == [FIRM_3]  # 市北区: 百分百%家园
    assert await seen(service.Viewer(Scope.of(E_B))) == [FIRM_2]  # 八大关花园's committee
    assert await seen(service.Viewer(Scope.of(E_A, E_B), firm=FIRM_2)) == [FIRM_2]
    assert await seen(service.Viewer(Scope.of(T_HOUSE))) == []  # an owner's houses hold no estate
    listed = await service.period_for(store, NOV, service.Viewer(Scope.of("370202")), within="370202002")
    assert [s.firm_code for s in listed] == [FIRM_2]
    assert await service.period_for(store, NOV, service.Viewer(Scope.of("370203")), within="370202002") == []


def test_periods_parse_and_refuse() -> None:
    assert Period.parse("2026-02").last_day == dt.date(2026, 2, 28)
    assert Period.parse("2026-12").end == dt.datetime(2027, 1, 1, tzinfo=CST)
    for bad in ("2026-13", "2026-1", "26", "2026/11", "", "1999"):
        with pytest.raises(InvalidInput):
            Period.parse(bad)


async def test_the_monthly_sweep_computes_the_month_just_ended_once(store: Store) -> None:
    await firm_2_cases(store)
    credit = service.Credit(store)
    first = await credit.compute_due(dt.date(2026, 12, 5))
    assert first and {s.period for s in first} == {"2026-11"} and {s.version for s in first} == {1}
    assert await credit.compute_due(dt.date(2026, 12, 20)) == []
    assert await service.Credit(store).compute_due(dt.date(2026, 12, 6)) == []  # another process: already stored
    january = await credit.compute_due(dt.date(2027, 1, 2))
    assert {s.period for s in january} == {"2026-12"}
    [history] = await store.credit_history([FIRM_2])
    assert [(s.period, s.version) for s in history] == [("2026-11", 1), ("2026-12", 1)]
