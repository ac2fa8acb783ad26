"""The vote service over every backend: the electorate from the ownership graph on the record
date, casting and each of its refusals (nothing recorded), changing a ballot, closing with the
count and its effects (a committee seated, a firm changed, the first meeting's steps), proofs,
and the verifier naming a ballot changed in the store."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from graph.ciphers.keyring import Keyring
from graph.errors import InvalidInput
from graph.levels import Level
from graph.merkle import verify_consistency, verify_head, verify_inclusion
from graph.model import Batch, Owner, OwnerKind, Ownership
from graph.scope import Scope
from graph.store import Store
from graph.votes.records import Candidate, Item, ItemForm, MeetingStepKind, Organiser, Vote, VoteStatus
from graph.votes.service import Votes, claim_key, log_name
from tests import backends
from tests.graph.conformance import (
    B_A1,
    D_SHINAN,
    E_A,
    F_HOUSE,
    FACTS,
    FIRM_2,
    FIRM_4,
    OWNER_B,
    OWNER_C,
    OWNER_D,
    OWNER_E,
    OWNER_F,
    OWNER_H,
    T_HOUSE,
    UNOWNED,
    fixture_city,
    resident_id,
)

EVERYTHING = Scope.everything()
UTC = dt.timezone.utc
NOTICE = dt.datetime(2026, 11, 1, 2, tzinfo=UTC)
OPENS = dt.datetime(2026, 11, 10, 1, tzinfo=UTC)
CLOSES = dt.datetime(2026, 11, 20, 10, tzinfo=UTC)
RECORD = dt.date(2026, 11, 9)
HOUSES_A = FACTS.level(Level.HOUSE, E_A)
SECOND_D = B_A1 + "0201"  # D's second house in 海韵花园: D is one head over two houses
SOLD = B_A1 + "0202"  # held by OWNER_I on the record date, sold to H the day after
OWNER_I, OWNER_J = "owner-i", "owner-j"
J_HOUSE = next(code for code in HOUSES_A if code not in {T_HOUSE, D_SHINAN, F_HOUSE, SECOND_D, SOLD, UNOWNED})
HELD = {T_HOUSE, D_SHINAN, F_HOUSE, SECOND_D, SOLD, J_HOUSE}
"""The houses of 海韵花园 held on the record date: the electorate."""


def _city() -> Batch:
    batch = fixture_city()
    extra_owners = [
        Owner(OWNER_I, OwnerKind.PERSON, "周敏", resident_id("37020219800101001"), None),
        Owner(OWNER_J, OwnerKind.PERSON, "吴刚", resident_id("37020219810202002"), None),
    ]
    day_after = RECORD + dt.timedelta(days=1)
    extra = [
        Ownership(SECOND_D, OWNER_D, 1.0, dt.date(2014, 5, 1)),
        Ownership(SOLD, OWNER_I, 1.0, dt.date(2013, 1, 1), day_after),
        Ownership(SOLD, OWNER_H, 1.0, day_after),
    ]
    extra.append(Ownership(J_HOUSE, OWNER_J, 1.0, dt.date(2011, 1, 1)))
    batch.owners.extend(extra_owners)
    batch.ownerships.extend(extra)
    return batch


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, tmp_path)
    try:
        await opened.write(_city())
        yield opened
    finally:
        await backends.discard(opened)


KEYS = Keyring.generate()


def _vote(**changes: object) -> Vote:
    vote = Vote(
        id="pending",
        place_code=E_A,
        estate_code=E_A,
        organiser=Organiser("street", "370202001", "香港中路街道办事处", "换届小组"),
        title="海韵花园业主大会",
        record_date=RECORD,
        notice_at=NOTICE,
        opens_at=OPENS,
        closes_at=CLOSES,
        items=(
            Item(1, 5, ItemForm.MOTION, "使用维修资金维修屋面"),
            Item(2, 3, ItemForm.ELECTION, "选举业委会", candidates=(Candidate("1", "刘洋", owner_id=OWNER_D), Candidate("2", "周敏", owner_id=OWNER_I)), seats=1),
            Item(3, 4, ItemForm.FIRM_CHOICE, "选聘物业", candidates=(Candidate("1", "八大关物业", firm_code=FIRM_2), Candidate("2", "未聘物业", firm_code=FIRM_4)), takes_effect=dt.date(2026, 12, 1)),
        ),
    )
    return replace(vote, **changes)  # type: ignore[arg-type]


async def _opened(store: Store, clock: Clock) -> tuple[Votes, Vote]:
    votes = Votes(store, KEYS, clock=clock)
    clock.at = NOTICE
    vote = await votes.organise(_vote(), EVERYTHING)
    clock.at = OPENS + dt.timedelta(minutes=1)
    current = await votes.vote(vote.id, EVERYTHING)
    assert current is not None and current.status is VoteStatus.OPEN
    return votes, current


async def test_the_electorate_is_frozen_from_the_record_date(store: Store) -> None:
    clock = Clock(NOTICE)
    votes, vote = await _opened(store, clock)
    assert vote.electorate is not None
    page = await store.elector_page(vote.id, 100)
    electors = {e.house_code: e for e in page.items}
    assert set(electors) == HELD
    assert UNOWNED not in electors
    assert electors[T_HOUSE].holders == (OWNER_B, OWNER_C) and electors[T_HOUSE].head == f"{OWNER_B}+{OWNER_C}"
    assert electors[SOLD].holders == (OWNER_I,)  # sold after the record date: the record-date owner votes
    assert electors[D_SHINAN].head == electors[SECOND_D].head == OWNER_D
    heads = {e.head for e in electors.values()}
    assert heads == {f"{OWNER_B}+{OWNER_C}", OWNER_D, OWNER_F, OWNER_I, OWNER_J}
    assert vote.electorate.heads == 5 and vote.electorate.houses == 6
    assert vote.electorate.area_centi_m2 == sum(FACTS.places[code].area_centi_m2 or 0 for code in electors)


async def test_casting_and_each_refusal_records_nothing(store: Store) -> None:
    clock = Clock(NOTICE)
    votes = Votes(store, KEYS, clock=clock)
    vote = await votes.organise(_vote(), EVERYTHING)
    log = log_name(vote.id)

    with pytest.raises(InvalidInput, match="opens at"):
        await votes.cast(vote, F_HOUSE, OWNER_F, {1: "for"})
    assert await store.log_size(log) == 0

    clock.at = OPENS + dt.timedelta(hours=1)
    receipt = await votes.cast(vote, D_SHINAN, OWNER_D, {1: "for", 2: ("1",), 3: "1"})
    assert [e.index for e in receipt.entries] == [0, 1, 2]
    assert receipt.head.size >= 3 and verify_head(KEYS.sm2_public, receipt.head)
    for entry in receipt.entries:
        path = await votes.log(vote.id).inclusion_proof(entry.index, receipt.head.size)
        assert verify_inclusion(entry.leaf_hash, entry.index, receipt.head.size, path, receipt.head.root)

    refusals = [
        # sold before the record date and never in the electorate: one refusal, which tells an
        # owner nothing about a house it has nothing to do with
        (SOLD, OWNER_H, {1: "for"}, "is not a house you may cast for"),
        (UNOWNED, OWNER_H, {1: "for"}, "is not a house you may cast for"),
        (F_HOUSE, OWNER_F, {4: "for"}, "is not an item"),
        (F_HOUSE, OWNER_F, {1: "yes"}, "must be for, against or abstain"),
        (F_HOUSE, OWNER_F, {2: ("1", "2")}, "2 candidates for 1 seats"),
        (F_HOUSE, OWNER_F, {}, "at least one item"),
    ]
    for house, owner, choices, message in refusals:
        with pytest.raises(InvalidInput, match=message):
            await votes.cast(vote, house, owner, choices)  # type: ignore[arg-type]
        assert await store.log_size(log) == 3, message

    await votes.cast(vote, T_HOUSE, OWNER_B, {1: "against"})
    with pytest.raises(InvalidInput, match="cast by a co-owner"):
        await votes.cast(vote, T_HOUSE, OWNER_C, {1: "for"})
    assert await store.log_size(log) == 4
    assert await store.claims([claim_key(vote.id, T_HOUSE)]) == [OWNER_B]
    await votes.cast(vote, T_HOUSE, OWNER_B, {1: "for"})  # the first caster changes its ballot
    mine = await votes.my_houses(vote, OWNER_C)
    assert [(h.elector.house_code, h.cast_by, h.can_cast, h.choices) for h in mine] == [(T_HOUSE, "co-owner", False, {})]
    [theirs] = await votes.my_houses(vote, OWNER_B)
    assert (theirs.cast_by, dict(theirs.choices)) == ("you", {1: "for"})

    clock.at = CLOSES
    with pytest.raises(InvalidInput, match="closed at"):
        await votes.cast(vote, F_HOUSE, OWNER_F, {1: "for"})
    assert await store.log_size(log) == 5


async def test_a_proxy_casts_for_the_house_and_its_grantor_cannot(store: Store) -> None:
    clock = Clock(NOTICE)
    votes, vote = await _opened(store, clock)
    await votes.register_proxy(vote, F_HOUSE, OWNER_H, "授权委托书 2026-001", "香港中路街道办事处")
    with pytest.raises(InvalidInput, match="registered proxy"):
        await votes.cast(vote, F_HOUSE, OWNER_F, {1: "for"})
    receipt = await votes.cast(vote, F_HOUSE, OWNER_H, {1: "for"})
    assert b'"proxy":true' in receipt.entries[0].payload
    with pytest.raises(InvalidInput, match="not in this vote's electorate"):
        await votes.register_proxy(vote, UNOWNED, OWNER_H, "x", "y")


async def test_a_delegate_who_holds_nothing_in_the_area_sees_the_vote_among_its_votes(store: Store) -> None:
    clock = Clock(NOTICE)
    votes, vote = await _opened(store, clock)
    # OWNER_E holds a house of 八大关花园 only; OWNER_D holds houses of 海韵花园 itself
    assert await votes.owner_votes(OWNER_E) == []
    assert not await votes.may_read(vote, OWNER_E)
    await votes.register_proxy(vote, F_HOUSE, OWNER_E, "授权委托书 2026-002", "香港中路街道办事处")
    await votes.register_proxy(vote, J_HOUSE, OWNER_E, "授权委托书 2026-003", "香港中路街道办事处")
    await votes.register_proxy(vote, SOLD, OWNER_D, "授权委托书 2026-004", "香港中路街道办事处")
    later = await votes.organise(
        _vote(record_date=CLOSES.date(), opens_at=CLOSES + dt.timedelta(days=1), closes_at=CLOSES + dt.timedelta(days=10)),
        EVERYTHING,
    )
    assert later.id > vote.id

    # two houses delegated to E in one vote: that vote once; the later vote of the area is not E's
    assert [(v.id, v.status) for v in await votes.owner_votes(OWNER_E)] == [(vote.id, VoteStatus.OPEN)]
    assert await votes.may_read(vote, OWNER_E)
    assert not await votes.may_read(later, OWNER_E)
    assert [h.elector.house_code for h in await votes.my_houses(vote, OWNER_E)] == sorted([F_HOUSE, J_HOUSE])
    # a holder who is also a delegate in the vote: once, newest first with its other vote
    assert [v.id for v in await votes.owner_votes(OWNER_D)] == [later.id, vote.id]
    # the statuses filter applies to delegated votes too
    assert [v.id for v in await votes.owner_votes(OWNER_E, [VoteStatus.OPEN])] == [vote.id]
    assert await votes.owner_votes(OWNER_E, [VoteStatus.NOTICED, VoteStatus.CLOSED]) == []

    # listing brings a delegated vote up to date: past its close, it is closed and published
    clock.at = CLOSES
    [closed] = await votes.owner_votes(OWNER_E)
    assert (closed.id, closed.status) == (vote.id, VoteStatus.CLOSED) and closed.result is not None
    assert [v.id for v in await votes.owner_votes(OWNER_E, [VoteStatus.CLOSED])] == [vote.id]


async def test_closing_counts_publishes_and_applies(store: Store) -> None:
    clock = Clock(NOTICE)
    votes, vote = await _opened(store, clock)
    electors = (await store.elector_page(vote.id, 100)).items
    clock.at = OPENS + dt.timedelta(hours=2)
    for elector in electors:
        await votes.cast(vote, elector.house_code, elector.holders[0], {1: "for", 2: ("1",), 3: "2"})
    with pytest.raises(InvalidInput, match="cannot be closed before"):
        await votes.close(vote)
    clock.at = CLOSES + dt.timedelta(seconds=1)
    closed = await votes.close(vote)
    assert closed.status is VoteStatus.CLOSED and closed.result is not None
    result = votes.result(closed)
    assert result is not None
    assert [item.passed for item in result.items] == [True, True, True]
    assert result.items[0].participation.heads == Fraction(vote.electorate.heads)  # type: ignore[union-attr]
    [committees] = await store.committees([E_A], None, EVERYTHING)
    assert [m.owner_id for c in committees for m in c.members] == [OWNER_D]
    [spans] = await store.managements([E_A], dt.date(2026, 12, 1), EVERYTHING)
    assert [s.firm_code for s in spans] == [FIRM_4]
    final = await votes.final_head(vote.id)
    assert final is not None and final.size == len(electors) * 3
    report = await votes.verify(vote.id)
    assert report.ok, report.problems
    assert report.entries == final.size
    with pytest.raises(InvalidInput, match="is closed, not open"):
        await votes.close(closed)


async def test_the_final_head_extends_every_receipt(store: Store) -> None:
    clock = Clock(NOTICE)
    votes, vote = await _opened(store, clock)
    clock.at = OPENS + dt.timedelta(hours=3)
    first = await votes.cast(vote, D_SHINAN, OWNER_D, {1: "for"})
    second = await votes.cast(vote, F_HOUSE, OWNER_F, {1: "against"})
    clock.at = CLOSES
    await votes.close(vote)
    final = await votes.final_head(vote.id)
    assert final is not None
    log = votes.log(vote.id)
    for receipt in (first, second):
        proof = await log.consistency_proof(receipt.head.size, final.size)
        assert verify_consistency(receipt.head.size, final.size, receipt.head.root, final.root, proof)


async def test_a_first_meeting_needs_fifteen_days_notice_and_no_committee(store: Store) -> None:
    clock = Clock(NOTICE)
    votes = Votes(store, KEYS, clock=clock)
    with pytest.raises(InvalidInput, match="at least 15 days"):
        await votes.organise(_vote(first_meeting=True, opens_at=NOTICE + dt.timedelta(days=14)), EVERYTHING)
    vote = await votes.organise(_vote(first_meeting=True, opens_at=NOTICE + dt.timedelta(days=15), closes_at=NOTICE + dt.timedelta(days=20)), EVERYTHING)
    [steps] = await store.meeting_steps([E_A], EVERYTHING)
    assert [s.kind for s in steps] == [MeetingStepKind.NOTICE_GIVEN]
    clock.at = vote.opens_at
    opened = await votes.vote(vote.id, EVERYTHING)
    assert opened is not None
    electors = (await store.elector_page(vote.id, 100)).items
    for elector in electors:
        await votes.cast(opened, elector.house_code, elector.holders[0], {2: ("2",)})
    clock.at = vote.closes_at
    await votes.close(opened)
    [steps] = await store.meeting_steps([E_A], EVERYTHING)
    assert [s.kind for s in steps] == [MeetingStepKind.NOTICE_GIVEN, MeetingStepKind.VOTE_HELD, MeetingStepKind.COMMITTEE_ELECTED]
    with pytest.raises(InvalidInput, match="has a committee in office"):
        await votes.organise(_vote(first_meeting=True, opens_at=vote.closes_at + dt.timedelta(days=16), closes_at=vote.closes_at + dt.timedelta(days=20)), EVERYTHING)


async def test_committee_tokens_follow_the_committee_in_office(store: Store) -> None:
    from graph.votes.records import Committee, Member
    from hub.auth.issuing import issue_token

    day = dt.timedelta(days=1)
    assert await issue_token(store, KEYS, "committee", E_A, "业委会", day)  # no committee recorded: the issuer's word
    today = dt.datetime.now(dt.timezone.utc).date()
    await store.save_committee(
        Committee("WY-old", E_A, (Member(OWNER_D, "主任"),), today - dt.timedelta(days=2000), today - dt.timedelta(days=10))
    )
    with pytest.raises(InvalidInput, match="no owners' committee in office"):
        await issue_token(store, KEYS, "committee", E_A, "业委会", day)
    await store.save_committee(Committee("WY-new", E_A, (Member(OWNER_F, "主任"),), today - dt.timedelta(days=9), today + dt.timedelta(days=1800)))
    assert await issue_token(store, KEYS, "committee", E_A, "业委会", day)


class _CountingVotesReads:
    """The real store, counting the reads the vote service's memory saves."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> object:
        member = getattr(self.store, name)
        if name not in ("votes", "elector_page", "electors", "electors_of", "log_heads"):
            return member

        async def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await member(*args, **kwargs)

        return counted


async def test_an_open_vote_and_its_electorate_are_read_once_and_an_early_close_is_seen_at_once(store: Store) -> None:
    clock = Clock(NOTICE)
    counting = _CountingVotesReads(store)
    votes = Votes(counting, KEYS, clock=clock)  # type: ignore[arg-type]
    organised = await votes.organise(_vote(), EVERYTHING)
    clock.at = OPENS + dt.timedelta(minutes=1)
    vote = await votes.vote(organised.id, EVERYTHING)
    assert vote is not None and vote.status is VoteStatus.OPEN
    counting.calls.clear()
    for house, owner in ((D_SHINAN, OWNER_D), (SECOND_D, OWNER_D), (F_HOUSE, OWNER_F), (T_HOUSE, OWNER_B)):
        found = await votes.vote(vote.id, EVERYTHING)
        assert found is not None
        await votes.cast(found, house, owner, {1: "for"})
        assert await votes.may_read(found, owner)
    assert counting.calls.get("votes", 0) == 0  # the open vote came from memory
    assert counting.calls["elector_page"] == 1  # the electorate was read once, whole
    assert "electors" not in counting.calls and "electors_of" not in counting.calls
    # the weights still come from the whole electorate: D is one head over two houses
    entries = await votes.entries(vote.id)
    [second] = await store.electors(vote.id, [SECOND_D])
    assert second is not None
    assert {(e.area_centi_m2, e.share) for e in entries if e.house == votes.house_tag(vote.id, SECOND_D)} == {
        (second.area_centi_m2, Fraction(1, 2))
    }
    closed = await votes.close(vote, early=True)
    assert closed.status is VoteStatus.CLOSED
    with pytest.raises(InvalidInput, match="closed|not open"):
        again = await votes.vote(vote.id, EVERYTHING)
        assert again is not None
        await votes.cast(again, J_HOUSE, OWNER_J, {1: "for"})
    counting.calls.clear()
    for _ in range(3):
        assert await votes.final_head(vote.id) is not None
        assert (await votes.vote(vote.id, EVERYTHING)) == closed
    assert counting.calls.get("votes", 0) == 0 and counting.calls.get("log_heads", 0) <= 1
