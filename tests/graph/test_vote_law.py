"""Civil Code Art. 278's thresholds on every boundary: exactly the ratio, and one hundredth of a
square metre (or one head) either side — areas in centi-m², heads exact, no floats."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from graph.errors import InvalidInput
from graph.votes.law import HALF, THREE_QUARTERS, TWO_THIRDS, ItemClass, at_least, carried, more_than, quorum
from graph.votes.records import Candidate, Electorate, Item, ItemForm, Organiser, Vote
from graph.votes.tally import BallotEntry, check_choice, parse_result, tally

AT = dt.datetime(2026, 12, 1, 8, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(200_000, 300_000, True), (199_999, 300_000, False), (200_001, 300_000, True), (2, 3, True), (1, 3, False)],
)
def test_two_thirds_includes_the_boundary(part: int, whole: int, expected: bool) -> None:
    assert at_least(part, whole, TWO_THIRDS) is expected


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(75_000, 100_000, True), (74_999, 100_000, False), (75_001, 100_000, True), (Fraction(3, 1), 4, True), (Fraction(5, 2), 4, False)],
)
def test_three_quarters_includes_the_boundary(part: int, whole: int, expected: bool) -> None:
    assert at_least(part, whole, THREE_QUARTERS) is expected


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(50_000, 100_000, False), (49_999, 100_000, False), (50_001, 100_000, True), (Fraction(7, 2), 7, False), (Fraction(15, 4), 7, True)],
)
def test_half_excludes_the_boundary(part: int, whole: int, expected: bool) -> None:
    assert more_than(part, whole, HALF) is expected


def test_an_empty_whole_carries_nothing() -> None:
    assert not at_least(0, 0, TWO_THIRDS)
    assert not more_than(0, 0, HALF)
    assert not quorum(0, 0, 0, 0)


def test_quorum_needs_both_area_and_heads() -> None:
    assert quorum(200_000, 20, 300_000, 30)
    assert not quorum(199_999, 30, 300_000, 30)  # area one hundredth short
    assert not quorum(300_000, Fraction(59, 3), 300_000, 30)  # heads a third of a head short
    assert quorum(200_000, Fraction(60, 3), 300_000, 30)


@pytest.mark.parametrize("klass", [ItemClass.RAISE_FUND, ItemClass.REBUILD, ItemClass.COMMON_PARTS])
def test_classes_six_to_eight_need_three_quarters_of_both(klass: ItemClass) -> None:
    assert klass.special
    assert carried(klass, 75_000, 3, 100_000, 4)
    assert not carried(klass, 74_999, 4, 100_000, 4)
    assert not carried(klass, 100_000, Fraction(11, 4), 100_000, 4)


@pytest.mark.parametrize("klass", [k for k in ItemClass if k not in {ItemClass.RAISE_FUND, ItemClass.REBUILD, ItemClass.COMMON_PARTS}])
def test_other_classes_need_more_than_half_of_both(klass: ItemClass) -> None:
    assert not klass.special
    assert carried(klass, 50_001, 3, 100_000, 5)
    assert not carried(klass, 50_000, 5, 100_000, 5)  # exactly half the area: not more than half
    assert not carried(klass, 100_000, Fraction(5, 2), 100_000, 5)  # exactly half the heads


def test_a_class_outside_one_to_nine_is_named() -> None:
    with pytest.raises(InvalidInput, match="class.*1 to 9"):
        ItemClass.of(10)


def _vote(*items: Item) -> Vote:
    return Vote(
        id="TP20261201000001",
        place_code="370202001001001",
        estate_code="370202001001001",
        organiser=Organiser("committee", "370202001001001", "业委会", "业主委员会"),
        title="t",
        record_date=dt.date(2026, 11, 30),
        notice_at=AT,
        opens_at=AT,
        closes_at=AT + dt.timedelta(days=7),
        items=items,
    )


def _ballot(item: int, house: str, area: int, choice: object, *, share: Fraction = Fraction(1), voter: str | None = None) -> BallotEntry:
    return BallotEntry("TP20261201000001", item, house, voter or house, area, share, choice, AT)  # type: ignore[arg-type]


def test_a_motion_at_exactly_the_boundaries() -> None:
    """Three owners of 100.00 m² each in an electorate of 3: two take part (exactly 2/3 of area
    and heads), both for: carried; a third of a square metre less and the quorum fails."""
    vote = _vote(Item(1, 5, ItemForm.MOTION, "use the fund"))
    electorate = Electorate(houses=3, heads=3, area_centi_m2=30_000)
    result = tally(vote, electorate, [_ballot(1, "a", 10_000, "for"), _ballot(1, "b", 10_000, "for")])
    [item] = result.items
    assert item.quorum and item.passed
    assert item.participation.area == 20_000 and item.participation.heads == 2
    short = tally(vote, electorate, [_ballot(1, "a", 10_000, "for"), _ballot(1, "b", 9_999, "for")])
    assert not short.items[0].quorum and not short.items[0].passed


def test_the_last_ballot_of_a_house_counts() -> None:
    vote = _vote(Item(1, 9, ItemForm.MOTION, "x"))
    electorate = Electorate(houses=2, heads=2, area_centi_m2=20_000)
    entries = [_ballot(1, "a", 10_000, "for"), _ballot(1, "b", 10_000, "for"), _ballot(1, "a", 10_000, "against")]
    [item] = tally(vote, electorate, entries).items
    assert item.choices["for"].houses == 1 and item.choices["against"].houses == 1
    assert not item.passed  # exactly half for: not more than half


def test_an_owner_of_two_houses_is_one_head_split_by_ballot() -> None:
    vote = _vote(Item(1, 9, ItemForm.MOTION, "x"))
    electorate = Electorate(houses=3, heads=2, area_centi_m2=30_000)
    half = Fraction(1, 2)
    entries = [
        _ballot(1, "a", 10_000, "for", share=half, voter="p"),
        _ballot(1, "b", 10_000, "against", share=half, voter="p"),
        _ballot(1, "c", 10_000, "for", voter="q"),
    ]
    [item] = tally(vote, electorate, entries).items
    assert item.participation.heads == 2
    assert item.choices["for"].heads == Fraction(3, 2) and item.choices["for"].area == 20_000
    assert item.passed


def test_an_election_fills_seats_by_votes_and_reports_a_tie() -> None:
    candidates = tuple(Candidate(str(n), f"候选人{n}") for n in range(1, 5))
    vote = _vote(Item(1, 3, ItemForm.ELECTION, "选举业委会", candidates=candidates, seats=2))
    electorate = Electorate(houses=5, heads=5, area_centi_m2=50_000)
    entries = [
        _ballot(1, "a", 10_000, ("1", "2")),
        _ballot(1, "b", 10_000, ("1", "3")),
        _ballot(1, "c", 10_000, ("1", "2")),
        _ballot(1, "d", 10_000, ("1", "3")),
        _ballot(1, "e", 10_000, ("2", "3")),
    ]
    [item] = tally(vote, electorate, entries).items
    assert item.elected == ("1",)
    assert item.tied == ("2", "3")  # level at the second seat, both carried: reported, not broken
    assert item.open_seats == 1 and item.passed


def test_an_election_candidate_needs_the_majority() -> None:
    candidates = (Candidate("1", "甲"), Candidate("2", "乙"))
    vote = _vote(Item(1, 3, ItemForm.ELECTION, "补选", candidates=candidates, seats=2))
    electorate = Electorate(houses=3, heads=3, area_centi_m2=30_000)
    entries = [_ballot(1, "a", 10_000, ("1",)), _ballot(1, "b", 10_000, ("1", "2")), _ballot(1, "c", 10_000, ())]
    [item] = tally(vote, electorate, entries).items
    assert item.elected == ("1",)
    assert [c.carried for c in item.candidates] == [True, False]


def test_a_firm_choice_is_won_by_the_one_that_carried() -> None:
    firms = (Candidate("1", "甲物业", firm_code="91370200MA3C000001"), Candidate("2", "乙物业", firm_code="91370200MA3C000002"))
    vote = _vote(Item(1, 4, ItemForm.FIRM_CHOICE, "选聘物业", candidates=firms))
    electorate = Electorate(houses=3, heads=3, area_centi_m2=30_000)
    entries = [_ballot(1, "a", 10_000, "2"), _ballot(1, "b", 10_000, "2"), _ballot(1, "c", 10_000, "1")]
    [item] = tally(vote, electorate, entries).items
    assert item.elected == ("2",) and item.passed


def test_choices_are_checked_against_the_item() -> None:
    motion = Item(1, 9, ItemForm.MOTION, "x")
    election = Item(2, 3, ItemForm.ELECTION, "y", candidates=(Candidate("1", "甲"), Candidate("2", "乙")), seats=1)
    assert check_choice(motion, "for") == "for"
    with pytest.raises(InvalidInput, match="item 1 choice"):
        check_choice(motion, "yes")
    assert check_choice(election, ("1",)) == ("1",)
    with pytest.raises(InvalidInput, match="2 candidates for 1 seats"):
        check_choice(election, ("1", "2"))
    with pytest.raises(InvalidInput, match="not candidates"):
        check_choice(election, ("9",))


def test_entries_and_results_round_trip_canonically() -> None:
    entry = _ballot(1, "a" * 64, 12_345, ("1", "2"), share=Fraction(1, 3))
    assert BallotEntry.parse(entry.payload()) == entry
    with pytest.raises(InvalidInput, match="canonical"):
        BallotEntry.parse(entry.payload().replace(b'"area":12345', b'"area": 12345'))
    with pytest.raises(InvalidInput, match="entry 7"):
        BallotEntry.parse(b"{}", where="entry 7")
    vote = _vote(Item(1, 9, ItemForm.MOTION, "x"))
    result = tally(vote, Electorate(1, 1, 10_000), [_ballot(1, "a", 10_000, "for")])
    assert parse_result(result.to_json()) == result
