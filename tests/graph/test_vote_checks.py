"""The pure side of the vote records: the field checks every adapter runs before writing
(graph.votes.checks) and the JSON texts both adapters keep (graph.votes.texts). The stores
themselves are held to the port by tests/graph/conformance_votes.py."""

from __future__ import annotations

import datetime as dt
import doctest
from dataclasses import replace

import pytest

import graph.votes.texts
from graph.errors import InvalidInput
from graph.votes import checks
from graph.votes.records import Committee, Member, MeetingStep, MeetingStepKind, Vote, VoteStatus
from graph.votes.texts import documents_json, documents_of, items_json, items_of, members_json, members_of
from tests.graph.conformance_votes import ELECTORATE, OPENED, electors, vote


def test_doctests() -> None:
    failures, tried = doctest.testmod(graph.votes.texts)
    assert tried and not failures


def test_the_texts_give_back_what_they_keep() -> None:
    given = vote()
    assert items_of(items_json(given.items)) == given.items
    assert documents_of(documents_json(given.documents)) == given.documents
    members = (Member("owner-a", "主任"), Member("owner-b", "委员"))
    assert members_of(members_json(members)) == members
    assert "选举业主委员会委员" in items_json(given.items)  # kept readable, not escaped


def test_a_good_vote_passes_and_a_saved_one_must_be_only_announced() -> None:
    checks.check_new_vote(vote())
    opened = replace(vote(), status=VoteStatus.OPEN, electorate=ELECTORATE, opened_at=OPENED)
    checks.check_vote(opened)
    with pytest.raises(InvalidInput, match="vote V1 status"):
        checks.check_new_vote(opened)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "x" * (checks.MAX_ID + 1)}, "vote id"),
        ({"record_date": dt.datetime(2026, 3, 10, tzinfo=dt.timezone.utc)}, "record_date"),
        ({"first_meeting": 1}, "first_meeting"),
        ({"created_at": dt.datetime(2026, 3, 1)}, "created_at"),
    ],
)
def test_what_a_vote_may_not_be(changes: dict[str, object], field: str) -> None:
    bad: Vote = replace(vote(), **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as refused:
        checks.check_vote(bad)
    assert field in refused.value.field


def test_electors_committees_and_steps_name_what_is_wrong() -> None:
    checks.check_electors("V1", electors(), ELECTORATE)
    with pytest.raises(InvalidInput, match="area_centi_m2"):
        checks.check_electors("V1", [replace(electors()[0], area_centi_m2=-1)], ELECTORATE)
    with pytest.raises(InvalidInput, match="electorate.heads"):
        checks.check_electors("V1", [], replace(ELECTORATE, heads=-1))
    committee = Committee("C1", "370202001001E001", (Member("owner-a", "主任"),), dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    checks.check_committee(committee)  # a term of one day
    with pytest.raises(InvalidInput, match="committee C1 elected_by"):
        checks.check_committee(replace(committee, elected_by="bad id"))
    step = MeetingStep("370202001001E001", MeetingStepKind.FILED, OPENED, "王强", "street", '{"a": [1]}')
    checks.check_step(step)
    with pytest.raises(InvalidInput, match="meeting step filed of 370202001001E001 detail"):
        checks.check_step(replace(step, detail='"text"'))
    assert [checks.STEP_ORDER[kind] for kind in MeetingStepKind] == list(range(len(MeetingStepKind)))
