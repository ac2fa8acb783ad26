"""The vote part of the store conformance suite: every member of `graph.votes.records.VoteStore`,
tested through the port only, on the fixture city of `tests/graph/conformance.py` written with
the store's `write`.

Like the other parts, nothing here knows SQL or any adapter's insides:
`tests/graph/test_store_conformance.py` imports these classes and runs them on every backend
with its `store` fixture (a fresh, empty store per test).

Each member is held to its contract: scope (out of scope behaves as absent; a scope of houses,
as an owner's token has, sees no estate's vote — letting owners see their estate's votes is the
service's job), ordering, paging with cursors, the compare-and-set of opening, closing and
cancelling (two closers: one publishes), refused duplicates leaving the first, `as_of` on
committees, counts of estates with a committee, first-kept meeting steps in kind order, and
every field read back as written (Chinese text, dates, aware times in UTC).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest

from graph.cursors import encode_cursor
from graph.errors import InvalidInput, StoreError
from graph.model import Page
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.votes.records import (
    Candidate,
    Committee,
    CommitteeCount,
    Document,
    Elector,
    Electorate,
    Item,
    ItemForm,
    MeetingStep,
    MeetingStepKind,
    Member,
    Organiser,
    Proxy,
    Vote,
    VoteStatus,
)
from tests.graph.conformance import (
    B_A1,
    B_A2,
    CITY,
    CM_A2,
    D_SHINAN,
    E_A,
    E_B,
    E_C,
    EN_A11,
    F_HOUSE,
    FIRM_1,
    FIRM_2,
    OWNER_B,
    OWNER_C,
    OWNER_D,
    OWNER_F,
    SHIBEI,
    SHINAN,
    ST_A,
    ST_B,
    T_HOUSE,
    UNKNOWN_ESTATE,
    UNKNOWN_STREET,
    UNOWNED,
    fixture_city,
    garbage_cursors,
)

__all__ = [
    "TestSaveVote",
    "TestVoteChecks",
    "TestVotes",
    "TestVotesAt",
    "TestVotePage",
    "TestOpenVote",
    "TestCloseAndCancelVote",
    "TestElectors",
    "TestProxies",
    "TestCommittees",
    "TestCommitteeCounts",
    "TestMeetingSteps",
]

EVERYTHING = Scope.everything()
UTC = dt.timezone.utc
CST = dt.timezone(dt.timedelta(hours=8))
NOTICE = dt.datetime(2026, 3, 1, 9, 0, tzinfo=CST)
OPENS = dt.datetime(2026, 3, 16, 9, 0, tzinfo=CST)
CLOSES = dt.datetime(2026, 4, 15, 18, 0, 0, 123456, tzinfo=CST)
STREET_A = Scope.of(ST_A)  # 香港中路街道: 海韵花园 (E_A)
STREET_B = Scope.of(ST_B)  # 八大关街道: E_B
NORTH = Scope.of(SHIBEI)  # 市北区: E_C
NOBODY = Scope.of_codes([])
OWNER_LIKE = Scope.of(T_HOUSE, D_SHINAN)  # an owner's token sees its houses, not their estate


ORGANISER = Organiser(role="committee", scope=E_A, name="海韵花园业主委员会", capacity="业主委员会")


def items() -> tuple[Item, ...]:
    return (
        Item(1, 1, ItemForm.MOTION, "制定和修改业主大会议事规则", "议事规则全文见附件一。\n第一条 ……"),
        Item(
            2,
            3,  # graph.votes.law.ItemClass.COMMITTEE
            ItemForm.ELECTION,
            "选举业主委员会委员",
            "应选五名中选三名",
            candidates=(
                Candidate("1", "李娜", owner_id=OWNER_B),
                Candidate("2", "王芳", owner_id=OWNER_C),
                Candidate("3", "刘洋", owner_id=OWNER_D),
            ),
            seats=2,
        ),
        Item(
            3,
            4,  # graph.votes.law.ItemClass.PROPERTY_SERVICE
            ItemForm.FIRM_CHOICE,
            "选聘物业服务企业",
            candidates=(Candidate("1", "青岛海韵物业服务有限公司", firm_code=FIRM_1), Candidate("2", "青岛八大关物业管理有限公司", firm_code=FIRM_2)),
            seats=1,
            takes_effect=dt.date(2026, 7, 1),
        ),
    )


def vote(vote_id: str = "V1", place: str = E_A, estate: str = E_A, **changes: object) -> Vote:
    made = Vote(
        id=vote_id,
        place_code=place,
        estate_code=estate,
        organiser=ORGANISER,
        title="海韵花园2026年第一次业主大会",
        record_date=dt.date(2026, 3, 10),
        notice_at=NOTICE,
        opens_at=OPENS,
        closes_at=CLOSES,
        items=items(),
        documents=(Document("议事规则（草案）", "全体业主……", "rules-2026.pdf"), Document("候选人名单")),
        created_at=dt.datetime(2026, 2, 28, 20, 15, 30, tzinfo=CST),
        first_meeting=True,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def elector(house: str, *holders: str, vote_id: str = "V1", area: int = 8950, designated: str | None = None) -> Elector:
    ordered = tuple(sorted(holders))
    return Elector(vote_id, house, area, ordered, "+".join(ordered), designated)


def electors(vote_id: str = "V1") -> list[Elector]:
    """The electorate of 海韵花园 as a service would freeze it: B and C hold T_HOUSE jointly."""
    return [
        elector(D_SHINAN, OWNER_D, vote_id=vote_id, area=6650),
        elector(T_HOUSE, OWNER_B, OWNER_C, vote_id=vote_id, designated=OWNER_C),
        elector(F_HOUSE, OWNER_F, vote_id=vote_id, area=15000),
        elector(B_A1 + "0201", OWNER_D, vote_id=vote_id, area=8950),
    ]


ELECTORATE = Electorate(houses=4, heads=3, area_centi_m2=6650 + 8950 + 15000 + 8950)
OPENED = dt.datetime(2026, 3, 16, 1, 0, 0, 500, tzinfo=UTC)


async def city(store: Store, *votes: Vote) -> None:
    await store.write(fixture_city())
    for each in votes:
        await store.save_vote(each)


async def opened(store: Store, vote_id: str = "V1") -> None:
    await city(store, vote(vote_id))
    assert await store.open_vote(vote_id, electors(vote_id), ELECTORATE, OPENED)


def as_stored(given: Vote, **changes: object) -> Vote:
    return replace(given, **changes)  # type: ignore[arg-type]


def utc_times(found: Vote) -> None:
    for moment in (found.notice_at, found.opens_at, found.closes_at, found.created_at, found.opened_at, found.closed_at):
        if moment is not None:
            assert moment.utcoffset() == dt.timedelta(0)


# --------------------------------------------------------------------------------------------
# save_vote, votes
# --------------------------------------------------------------------------------------------


class TestSaveVote:
    async def test_a_vote_round_trips_every_field(self, store: Store) -> None:
        given = vote()
        await city(store, given)
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found == given
        assert found is not None
        utc_times(found)
        assert found.items[2].takes_effect == dt.date(2026, 7, 1) and found.record_date == dt.date(2026, 3, 10)
        assert (found.status, found.electorate, found.opened_at, found.closed_at, found.result) == (VoteStatus.NOTICED, None, None, None, None)

    async def test_a_vote_of_a_building_or_an_entrance(self, store: Store) -> None:
        await city(store, vote("V-B", B_A1, first_meeting=False, documents=()), vote("V-E", EN_A11))
        found = await store.votes(["V-B", "V-E"], EVERYTHING)
        assert [v.place_code if v else None for v in found] == [B_A1, EN_A11]
        assert found[0] is not None and found[0].documents == () and not found[0].first_meeting

    async def test_created_at_defaults_to_now(self, store: Store) -> None:
        before = dt.datetime.now(UTC)
        await city(store, vote(created_at=None))
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found is not None and found.created_at is not None
        assert before - dt.timedelta(seconds=1) <= found.created_at <= dt.datetime.now(UTC) + dt.timedelta(seconds=1)

    async def test_an_id_stored_is_refused_and_the_first_kept(self, store: Store) -> None:
        await city(store, vote())
        with pytest.raises(StoreError, match="V1"):
            await store.save_vote(vote(title="另一次", place=E_A))
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found == vote()

    @pytest.mark.parametrize(
        ("place", "estate", "field"),
        [
            ("370202001001E008", "370202001001E008", "place_code"),  # not stored
            (T_HOUSE, E_A, "place_code"),  # a house
            (ST_A, E_A, "place_code"),  # a street
            (B_A1, E_B, "estate_code"),  # another estate's building
            (B_A1, B_A1, "estate_code"),  # not an estate
            (E_A, UNKNOWN_ESTATE, "estate_code"),
        ],
    )
    async def test_a_place_not_stored_or_an_estate_not_holding_it_is_refused(
        self, store: Store, place: str, estate: str, field: str
    ) -> None:
        await city(store)
        with pytest.raises(InvalidInput, match=f"vote V1 {field}"):
            await store.save_vote(vote(place=place, estate=estate))
        assert await store.votes(["V1"], EVERYTHING) == [None]
        assert (await store.vote_page(EVERYTHING, 10)).items == []


def _bad_votes() -> list[tuple[str, Vote]]:
    motion, election, firms = items()
    naive = dt.datetime(2026, 3, 16, 9, 0)
    return [
        ("vote id", vote("bad id with spaces")),
        ("vote id", vote("")),
        ("items", vote(items=())),
        ("items[1].number", vote(items=(replace(motion, number=2),))),
        ("items[2].number", vote(items=(motion, replace(election, number=3), replace(firms, number=2)))),
        ("items[1].klass", vote(items=(replace(motion, klass=0),))),
        ("items[1].klass", vote(items=(replace(motion, klass=10),))),
        ("items[1].candidates", vote(items=(replace(motion, candidates=election.candidates),))),
        ("items[2].candidates", vote(items=(motion, replace(election, candidates=(), seats=0)))),
        ("items[2].seats", vote(items=(motion, replace(election, seats=4)))),
        ("items[2].seats", vote(items=(motion, replace(election, seats=0)))),
        ("items[2].candidates[0].owner_id", vote(items=(motion, replace(election, candidates=firms.candidates, seats=1)))),
        ("items[3].candidates[0].firm_code", vote(items=(motion, election, replace(firms, candidates=election.candidates)))),
        ("items[2].candidates[1].id", vote(items=(motion, replace(election, candidates=(election.candidates[0],) * 2, seats=1)))),
        ("items[1].title", vote(items=(replace(motion, title="  "),))),
        ("title", vote(title="议" * 201)),
        ("closes_at", vote(closes_at=OPENS)),
        ("notice_at", vote(notice_at=OPENS + dt.timedelta(seconds=1))),
        ("opens_at", vote(opens_at=naive)),
        ("organiser.name", vote(organiser=replace(ORGANISER, name=""))),
        ("documents[0].title", vote(documents=(Document(""),))),
        ("status", vote(status=VoteStatus.OPEN)),
        ("electorate", vote(electorate=ELECTORATE)),
        ("result", vote(result="{}")),
    ]


class TestVoteChecks:
    async def test_what_the_checks_refuse_is_not_written(self, store: Store) -> None:
        await city(store)
        for field, bad in _bad_votes():
            with pytest.raises(InvalidInput) as refused:
                await store.save_vote(bad)
            assert field in refused.value.field, (field, refused.value.field)
        assert (await store.vote_page(EVERYTHING, 50)).items == []

    async def test_a_motion_alone_and_the_limits_themselves_are_accepted(self, store: Store) -> None:
        motion = items()[0]
        await city(store, vote(items=(motion,), title="议" * 200, notice_at=OPENS))
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found is not None and found.items == (motion,) and found.notice_at == OPENS


class TestVotes:
    async def test_votes_come_in_key_order_none_where_missing(self, store: Store) -> None:
        await city(store, vote("V1"), vote("V2", E_B, E_B), vote("V3", E_C, E_C))
        found = await store.votes(["V3", "nope", "V1", "V2", "V1"], EVERYTHING)
        assert [v.id if v else None for v in found] == ["V3", None, "V1", "V2", "V1"]
        assert await store.votes([], EVERYTHING) == []

    async def test_out_of_scope_is_absent(self, store: Store) -> None:
        await city(store, vote("V1"), vote("V2", E_B, E_B), vote("V3", B_A1))
        ids = ["V1", "V2", "V3"]

        async def seen(scope: Scope) -> list[str | None]:
            return [v.id if v else None for v in await store.votes(ids, scope)]

        assert await seen(STREET_A) == ["V1", None, "V3"]
        assert await seen(STREET_B) == [None, "V2", None]
        assert await seen(Scope.of(B_A1)) == [None, None, "V3"]
        assert await seen(NORTH) == [None, None, None]
        assert await seen(NOBODY) == [None, None, None]
        assert await seen(OWNER_LIKE) == [None, None, None]  # owners see their estate's votes through the service
        assert await seen(Scope.of(CITY)) == ids


class TestVotesAt:
    async def test_votes_at_their_place_exactly_by_id(self, store: Store) -> None:
        await city(store, vote("V9"), vote("V1"), vote("V3", B_A1), vote("V2", E_B, E_B))
        assert [v.id for v in await store.votes_at([E_A], EVERYTHING)] == ["V1", "V9"]
        assert [v.id for v in await store.votes_at([B_A1, E_B, E_A], EVERYTHING)] == ["V1", "V2", "V3", "V9"]
        assert await store.votes_at([ST_A, B_A2, UNKNOWN_ESTATE], EVERYTHING) == []
        assert await store.votes_at([], EVERYTHING) == []

    async def test_statuses_and_scope(self, store: Store) -> None:
        await city(store, vote("V1"), vote("V2"), vote("V3"), vote("V4", E_B, E_B))
        assert await store.open_vote("V2", electors("V2"), ELECTORATE, OPENED)
        assert await store.cancel_vote("V3", OPENED)
        codes = [E_A, E_B]
        assert [v.id for v in await store.votes_at(codes, EVERYTHING, [VoteStatus.NOTICED])] == ["V1", "V4"]
        assert [v.id for v in await store.votes_at(codes, EVERYTHING, [VoteStatus.OPEN, VoteStatus.CANCELLED])] == ["V2", "V3"]
        assert await store.votes_at(codes, EVERYTHING, []) == []
        assert [v.id for v in await store.votes_at(codes, STREET_B)] == ["V4"]
        assert await store.votes_at(codes, OWNER_LIKE) == []


async def walk_votes(store: Store, scope: Scope, first: int, **filters: object) -> list[str]:
    walked: list[str] = []
    after: str | None = None
    for _ in range(100):
        page: Page[Vote] = await store.vote_page(scope, first, after, **filters)  # type: ignore[arg-type]
        assert len(page.items) <= max(1, first)
        walked += [v.id for v in page.items]
        if page.items:
            assert page.start_cursor is not None and page.end_cursor is not None
        if not page.has_next:
            return walked
        after = page.end_cursor
    raise AssertionError("the vote pages never ended")


class TestVotePage:
    VOTES = [("V05", E_A), ("V01", B_A1), ("V03", EN_A11), ("V02", E_B), ("V04", E_C), ("V06", B_A2)]

    async def _city(self, store: Store) -> None:
        estates = {E_A: E_A, B_A1: E_A, EN_A11: E_A, B_A2: E_A, E_B: E_B, E_C: E_C}
        await city(store, *(vote(key, place, estates[place]) for key, place in self.VOTES))

    async def test_pages_run_by_id_whatever_their_size(self, store: Store) -> None:
        await self._city(store)
        every = sorted(key for key, _ in self.VOTES)
        for first in (1, 2, 5, 6, 50):
            assert await walk_votes(store, EVERYTHING, first) == every

    async def test_within_scope_and_statuses(self, store: Store) -> None:
        await self._city(store)
        assert await walk_votes(store, EVERYTHING, 2, within=E_A) == ["V01", "V03", "V05", "V06"]
        assert await walk_votes(store, EVERYTHING, 2, within=B_A1) == ["V01", "V03"]
        assert await walk_votes(store, EVERYTHING, 2, within=EN_A11) == ["V03"]
        assert await walk_votes(store, EVERYTHING, 2, within=SHINAN) == ["V01", "V02", "V03", "V05", "V06"]
        assert await walk_votes(store, EVERYTHING, 2, within=T_HOUSE) == []
        assert await walk_votes(store, EVERYTHING, 2, within=UNKNOWN_STREET) == []
        assert await walk_votes(store, STREET_A, 2) == ["V01", "V03", "V05", "V06"]
        assert await walk_votes(store, STREET_A, 2, within=SHIBEI) == []
        assert await walk_votes(store, OWNER_LIKE, 2) == []
        assert await walk_votes(store, NOBODY, 2) == []
        assert await store.cancel_vote("V03", OPENED)
        assert await walk_votes(store, EVERYTHING, 1, statuses=[VoteStatus.CANCELLED]) == ["V03"]
        assert await walk_votes(store, STREET_A, 1, statuses=[VoteStatus.NOTICED]) == ["V01", "V05", "V06"]
        assert await walk_votes(store, EVERYTHING, 1, statuses=[]) == []

    async def test_first_is_clamped_and_foreign_cursors_refused(self, store: Store) -> None:
        await self._city(store)
        assert len((await store.vote_page(EVERYTHING, 0)).items) == 1
        assert len((await store.vote_page(EVERYTHING, -3)).items) == 1
        page = await store.vote_page(EVERYTHING, MAX_PAGE * 10)
        assert len(page.items) == len(self.VOTES) and not page.has_next
        for bad in [*garbage_cursors(), encode_cursor("V99"), encode_cursor(E_A)]:
            with pytest.raises(InvalidInput, match="is not a cursor from this list"):
                await store.vote_page(EVERYTHING, 2, bad)

    async def test_an_empty_store_lists_nothing(self, store: Store) -> None:
        await city(store)
        page = await store.vote_page(EVERYTHING, 10)
        assert (list(page.items), page.has_next, page.end_cursor) == ([], False, None)


# --------------------------------------------------------------------------------------------
# open_vote, close_vote, cancel_vote
# --------------------------------------------------------------------------------------------


class TestOpenVote:
    async def test_opening_freezes_the_electorate_and_the_totals(self, store: Store) -> None:
        await opened(store)
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found == as_stored(vote(), status=VoteStatus.OPEN, electorate=ELECTORATE, opened_at=OPENED)
        assert found is not None
        utc_times(found)
        codes = [e.house_code for e in electors()]
        assert await store.electors("V1", codes) == electors()

    async def test_only_a_noticed_vote_opens_and_only_once(self, store: Store) -> None:
        await opened(store)
        later = OPENED + dt.timedelta(hours=1)
        assert not await store.open_vote("V1", electors()[:1], Electorate(1, 1, 6650), later)
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found is not None and (found.opened_at, found.electorate) == (OPENED, ELECTORATE)
        assert len((await store.elector_page("V1", 50)).items) == 4
        assert not await store.open_vote("nope", electors("nope"), ELECTORATE, later)
        await store.save_vote(vote("V2"))
        assert await store.cancel_vote("V2", later)
        assert not await store.open_vote("V2", electors("V2"), ELECTORATE, later)
        assert (await store.elector_page("V2", 50)).items == []

    async def test_concurrent_openers_open_once(self, store: Store) -> None:
        await city(store, vote())
        results = await asyncio.gather(
            *(store.open_vote("V1", electors(), ELECTORATE, OPENED + dt.timedelta(seconds=n)) for n in range(4))
        )
        assert sorted(results) == [False, False, False, True]
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found is not None and found.opened_at == OPENED + dt.timedelta(seconds=results.index(True))
        assert [e.house_code for e in (await store.elector_page("V1", 50)).items] == sorted(e.house_code for e in electors())

    async def test_an_empty_electorate_opens(self, store: Store) -> None:
        await city(store, vote())
        assert await store.open_vote("V1", [], Electorate(0, 0, 0), OPENED)
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found is not None and found.status is VoteStatus.OPEN and found.electorate == Electorate(0, 0, 0)

    async def test_electors_of_another_vote_are_refused_and_nothing_changes(self, store: Store) -> None:
        await city(store, vote())
        for bad in (
            [*electors(), elector(UNOWNED, OWNER_B, vote_id="V2")],
            [*electors(), electors()[0]],  # a house twice
            [replace(electors()[1], holders=(OWNER_C, OWNER_B))],  # holders not sorted
            [replace(electors()[1], designated=OWNER_D)],  # not a holder
        ):
            with pytest.raises(InvalidInput, match="vote V1"):
                await store.open_vote("V1", bad, ELECTORATE, OPENED)
        with pytest.raises(InvalidInput, match="opened_at"):
            await store.open_vote("V1", electors(), ELECTORATE, dt.datetime(2026, 3, 16))
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found == vote()
        assert (await store.elector_page("V1", 50)).items == []


class TestCloseAndCancelVote:
    async def test_an_open_vote_closes_once_with_its_result(self, store: Store) -> None:
        await opened(store)
        at = dt.datetime(2026, 4, 15, 18, 0, 1, tzinfo=CST)
        result = '{"items":[{"number":1,"passed":true}],"通过":1}'
        assert await store.close_vote("V1", result, at)
        assert not await store.close_vote("V1", '{"again":true}', at + dt.timedelta(hours=1))
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found == as_stored(vote(), status=VoteStatus.CLOSED, electorate=ELECTORATE, opened_at=OPENED, closed_at=at, result=result)
        assert found is not None
        utc_times(found)
        assert not await store.cancel_vote("V1", at)

    async def test_two_closers_publish_one_result(self, store: Store) -> None:
        await opened(store)
        at = dt.datetime(2026, 4, 16, tzinfo=UTC)
        results = await asyncio.gather(*(store.close_vote("V1", f'{{"closer":{n}}}', at + dt.timedelta(seconds=n)) for n in range(2)))
        assert sorted(results) == [False, True]
        winner = results.index(True)
        [found] = await store.votes(["V1"], EVERYTHING)
        assert found is not None and (found.result, found.closed_at) == (f'{{"closer":{winner}}}', at + dt.timedelta(seconds=winner))

    async def test_a_noticed_or_unknown_vote_does_not_close(self, store: Store) -> None:
        await city(store, vote())
        assert not await store.close_vote("V1", "{}", OPENED)
        assert not await store.close_vote("nope", "{}", OPENED)
        assert await store.votes(["V1"], EVERYTHING) == [vote()]

    async def test_only_a_noticed_vote_is_cancelled(self, store: Store) -> None:
        await city(store, vote("V1"), vote("V2"))
        at = dt.datetime(2026, 3, 5, 12, 0, tzinfo=CST)
        assert await store.cancel_vote("V1", at)
        assert not await store.cancel_vote("V1", at + dt.timedelta(days=1))
        assert not await store.open_vote("V1", electors(), ELECTORATE, OPENED)
        assert not await store.cancel_vote("nope", at)
        assert await store.open_vote("V2", electors("V2"), ELECTORATE, OPENED)
        assert not await store.cancel_vote("V2", at)
        found = await store.votes(["V1", "V2"], EVERYTHING)
        assert found[0] == as_stored(vote("V1"), status=VoteStatus.CANCELLED, closed_at=at)
        assert found[1] is not None and found[1].status is VoteStatus.OPEN and found[1].closed_at is None


# --------------------------------------------------------------------------------------------
# electors
# --------------------------------------------------------------------------------------------


class TestElectors:
    async def test_electors_in_key_order_none_where_not_in_the_electorate(self, store: Store) -> None:
        await opened(store)
        given = {e.house_code: e for e in electors()}
        found = await store.electors("V1", [T_HOUSE, UNOWNED, D_SHINAN, T_HOUSE, "x"])
        assert found == [given[T_HOUSE], None, given[D_SHINAN], given[T_HOUSE], None]
        assert await store.electors("nope", [T_HOUSE]) == [None]
        assert await store.electors("V1", []) == []

    async def test_electors_are_of_their_vote(self, store: Store) -> None:
        await opened(store)
        await store.save_vote(vote("V2"))
        assert await store.open_vote("V2", [elector(T_HOUSE, OWNER_B, vote_id="V2", area=1)], Electorate(1, 1, 1), OPENED)
        assert await store.electors("V2", [T_HOUSE, D_SHINAN]) == [elector(T_HOUSE, OWNER_B, vote_id="V2", area=1), None]
        assert await store.electors_of("V2", [OWNER_C, OWNER_B]) == [[], [elector(T_HOUSE, OWNER_B, vote_id="V2", area=1)]]

    async def test_electors_of_an_owner_by_house_code(self, store: Store) -> None:
        await opened(store)
        given = {e.house_code: e for e in electors()}
        found = await store.electors_of("V1", [OWNER_D, OWNER_B, "owner-z", OWNER_C, OWNER_D])
        assert found == [
            [given[B_A1 + "0201"], given[D_SHINAN]],
            [given[T_HOUSE]],
            [],
            [given[T_HOUSE]],
            [given[B_A1 + "0201"], given[D_SHINAN]],
        ]
        assert await store.electors_of("nope", [OWNER_D]) == [[]]
        assert await store.electors_of("V1", []) == []

    async def test_the_electorate_pages_by_house_code(self, store: Store) -> None:
        await opened(store)
        every = sorted(e.house_code for e in electors())
        for first in (1, 2, 3, 4, 10):
            walked: list[str] = []
            after = None
            while True:
                page = await store.elector_page("V1", first, after)
                assert len(page.items) <= first
                walked += [e.house_code for e in page.items]
                if not page.has_next:
                    break
                after = page.end_cursor
            assert walked == every
        page = await store.elector_page("V1", 0)
        assert len(page.items) == 1 and page.has_next
        assert (await store.elector_page("nope", 5)).items == []
        for bad in [*garbage_cursors(), encode_cursor(UNOWNED)]:
            with pytest.raises(InvalidInput, match="is not a cursor from this list"):
                await store.elector_page("V1", 2, bad)


# --------------------------------------------------------------------------------------------
# proxies
# --------------------------------------------------------------------------------------------


def proxy(house: str, grantor: str, delegate: str, vote_id: str = "V1", **changes: object) -> Proxy:
    made = Proxy(vote_id, house, grantor, delegate, f"委托书-{house[-4:]}", "海韵花园业主委员会 张伟", dt.datetime(2026, 3, 20, 10, 0, tzinfo=CST))
    return replace(made, **changes)  # type: ignore[arg-type]


class TestProxies:
    async def test_proxies_round_trip_in_key_order(self, store: Store) -> None:
        await opened(store)
        given = [proxy(T_HOUSE, OWNER_B, OWNER_D), proxy(F_HOUSE, OWNER_F, OWNER_D), proxy(D_SHINAN, OWNER_D, OWNER_C)]
        for each in given:
            await store.save_proxy(each)
        found = await store.proxies("V1", [F_HOUSE, UNOWNED, T_HOUSE, D_SHINAN])
        assert found == [given[1], None, given[0], given[2]]
        assert found[0] is not None and found[0].at.utcoffset() == dt.timedelta(0)
        assert await store.proxies_for("V1", [OWNER_D, OWNER_B, OWNER_C]) == [
            sorted(given[:2], key=lambda p: p.house_code),
            [],
            [given[2]],
        ]
        assert await store.proxies("nope", [T_HOUSE]) == [None]
        assert await store.proxies_for("nope", [OWNER_D]) == [[]]

    async def test_a_second_proxy_for_a_house_is_refused_and_the_first_kept(self, store: Store) -> None:
        await opened(store)
        first = proxy(T_HOUSE, OWNER_B, OWNER_D)
        await store.save_proxy(first)
        with pytest.raises(StoreError, match=T_HOUSE):
            await store.save_proxy(proxy(T_HOUSE, OWNER_C, OWNER_F))
        assert await store.proxies("V1", [T_HOUSE]) == [first]
        assert await store.proxies_for("V1", [OWNER_F]) == [[]]

    async def test_a_house_or_vote_not_in_the_electorate_is_refused(self, store: Store) -> None:
        await opened(store)
        await store.save_vote(vote("V2"))
        for bad, field in (
            (proxy(UNOWNED, OWNER_B, OWNER_D), "house_code"),
            (proxy(T_HOUSE, OWNER_B, OWNER_D, vote_id="nope"), "vote_id"),
            (proxy(T_HOUSE, OWNER_B, OWNER_D, vote_id="V2"), "house_code"),  # not open: no electorate
            (proxy(T_HOUSE, OWNER_B, OWNER_B), "delegate"),
            (proxy(T_HOUSE, OWNER_B, OWNER_D, at=dt.datetime(2026, 3, 20)), "at"),
            (proxy(T_HOUSE, OWNER_B, OWNER_D, reference=""), "reference"),
        ):
            with pytest.raises(InvalidInput, match=field):
                await store.save_proxy(bad)
        assert await store.proxies("V1", [UNOWNED, T_HOUSE]) == [None, None]
        assert await store.proxies("V2", [T_HOUSE]) == [None]

    async def test_delegations_are_empty_for_an_owner_named_by_no_proxy(self, store: Store) -> None:
        assert await store.delegations(OWNER_D) == []  # nothing stored yet
        await opened(store)
        assert await store.delegations(OWNER_D) == []  # a vote, no proxies
        await store.save_proxy(proxy(T_HOUSE, OWNER_B, OWNER_D))
        assert await store.delegations("no-such-owner") == []
        assert await store.delegations(OWNER_B) == []  # the grantor is not a delegate
        assert await store.delegations("") == []

    async def test_delegations_name_each_vote_once_in_id_order(self, store: Store) -> None:
        await city(store, vote("V3"), vote("V1"), vote("V2"))
        for vote_id in ("V3", "V1", "V2"):
            assert await store.open_vote(vote_id, electors(vote_id), ELECTORATE, OPENED)
        for each in (
            proxy(T_HOUSE, OWNER_B, OWNER_D, vote_id="V3"),  # three houses of V3 to one delegate
            proxy(F_HOUSE, OWNER_F, OWNER_D, vote_id="V3"),
            proxy(B_A1 + "0201", OWNER_B, OWNER_D, vote_id="V3"),
            proxy(D_SHINAN, OWNER_D, OWNER_C, vote_id="V3"),
            proxy(T_HOUSE, OWNER_C, OWNER_F, vote_id="V2"),
            proxy(F_HOUSE, OWNER_F, OWNER_D, vote_id="V1"),
            proxy(D_SHINAN, OWNER_D, OWNER_C, vote_id="V1"),
        ):
            await store.save_proxy(each)
        assert await store.delegations(OWNER_D) == ["V1", "V3"]
        assert await store.delegations(OWNER_C) == ["V1", "V3"]
        assert await store.delegations(OWNER_F) == ["V2"]
        assert await store.delegations(OWNER_B) == []
        with pytest.raises(StoreError, match=T_HOUSE):  # a refused proxy adds no vote
            await store.save_proxy(proxy(T_HOUSE, OWNER_B, OWNER_C, vote_id="V2"))
        assert await store.delegations(OWNER_C) == ["V1", "V3"]


# --------------------------------------------------------------------------------------------
# committees
# --------------------------------------------------------------------------------------------


def committee(key: str, estate: str, start: dt.date, end: dt.date, **changes: object) -> Committee:
    made = Committee(
        id=key,
        estate_code=estate,
        members=(Member(OWNER_B, "主任"), Member(OWNER_D, "副主任"), Member(OWNER_F, "委员")),
        term_start=start,
        term_end=end,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


OLD = committee("C-A-2018", E_A, dt.date(2018, 5, 1), dt.date(2023, 4, 30), filed_on=dt.date(2018, 5, 20))
NEW = committee("C-A-2023", E_A, dt.date(2023, 5, 1), dt.date(2028, 4, 30), elected_by="V1")
EARLY = committee("C-A-0000", E_A, dt.date(2023, 5, 1), dt.date(2023, 5, 1))  # one day, same start as NEW
B_NOW = committee("C-B-2024", E_B, dt.date(2024, 1, 1), dt.date(2028, 12, 31))
C_PAST = committee("C-C-2015", E_C, dt.date(2015, 1, 1), dt.date(2019, 12, 31))


class TestCommittees:
    async def test_committees_round_trip_by_term_start_then_id(self, store: Store) -> None:
        await city(store)
        for each in (NEW, B_NOW, OLD, EARLY, C_PAST):
            await store.save_committee(each)
        found = await store.committees([E_A, E_B, E_C, UNKNOWN_ESTATE, B_A1], None, EVERYTHING)
        assert found == [[OLD, EARLY, NEW], [B_NOW], [C_PAST], [], []]

    async def test_as_of_keeps_the_committees_in_office_that_day(self, store: Store) -> None:
        await city(store)
        for each in (NEW, OLD, EARLY, B_NOW, C_PAST):
            await store.save_committee(each)

        async def on(day: dt.date) -> list[list[str]]:
            return [[c.id for c in found] for found in await store.committees([E_A, E_B, E_C], day, EVERYTHING)]

        assert await on(dt.date(2018, 4, 30)) == [[], [], ["C-C-2015"]]
        assert await on(dt.date(2018, 5, 1)) == [["C-A-2018"], [], ["C-C-2015"]]
        assert await on(dt.date(2023, 4, 30)) == [["C-A-2018"], [], []]
        assert await on(dt.date(2023, 5, 1)) == [["C-A-0000", "C-A-2023"], [], []]
        assert await on(dt.date(2023, 5, 2)) == [["C-A-2023"], [], []]
        assert await on(dt.date(2028, 4, 30)) == [["C-A-2023"], ["C-B-2024"], []]
        assert await on(dt.date(2029, 1, 1)) == [[], [], []]

    async def test_out_of_scope_is_empty(self, store: Store) -> None:
        await city(store)
        for each in (NEW, B_NOW):
            await store.save_committee(each)
        codes = [E_A, E_B]
        assert await store.committees(codes, None, STREET_B) == [[], [B_NOW]]
        assert await store.committees(codes, None, NOBODY) == [[], []]
        assert await store.committees(codes, None, OWNER_LIKE) == [[], []]
        assert await store.committees(codes, None, Scope.of(E_A)) == [[NEW], []]

    async def test_refusals_write_nothing(self, store: Store) -> None:
        await city(store)
        await store.save_committee(NEW)
        with pytest.raises(StoreError, match="C-A-2023"):
            await store.save_committee(replace(NEW, estate_code=E_B, members=(Member(OWNER_D, "主任"),)))
        for bad, field in (
            (replace(B_NOW, estate_code=UNKNOWN_ESTATE), "estate_code"),
            (replace(B_NOW, estate_code=B_A1), "estate_code"),
            (replace(B_NOW, term_end=dt.date(2023, 12, 31)), "term_end"),
            (replace(B_NOW, members=()), "members"),
            (replace(B_NOW, members=(Member(OWNER_D, "主任"), Member(OWNER_D, "委员"))), "owner_id"),
            (replace(B_NOW, id="C B"), "committee id"),
        ):
            with pytest.raises(InvalidInput, match=field):
                await store.save_committee(bad)
        assert await store.committees([E_A, E_B], None, EVERYTHING) == [[NEW], []]

    async def test_filing_is_recorded_once_the_first_day_kept(self, store: Store) -> None:
        await city(store)
        await store.save_committee(NEW)
        await store.save_committee(OLD)
        assert await store.file_committee("C-A-2023", dt.date(2023, 5, 20))
        assert not await store.file_committee("C-A-2023", dt.date(2023, 6, 1))
        assert not await store.file_committee("C-A-2018", dt.date(2023, 6, 1))  # filed when it was saved
        assert not await store.file_committee("nope", dt.date(2023, 6, 1))
        assert await store.committees([E_A], None, EVERYTHING) == [[OLD, replace(NEW, filed_on=dt.date(2023, 5, 20))]]


class TestCommitteeCounts:
    async def test_estates_with_a_committee_in_office_under_each_place(self, store: Store) -> None:
        await city(store)
        for each in (NEW, OLD, EARLY, B_NOW, C_PAST):
            await store.save_committee(each)
        codes = [CITY, SHINAN, SHIBEI, ST_A, CM_A2, E_A, B_A1, UNKNOWN_STREET]
        assert await store.committee_counts(codes, dt.date(2023, 5, 1), EVERYTHING) == [
            CommitteeCount(CITY, 3, 1),  # 海韵花园 counted once with two in office
            CommitteeCount(SHINAN, 2, 1),
            CommitteeCount(SHIBEI, 1, 0),
            CommitteeCount(ST_A, 1, 1),
            CommitteeCount(CM_A2, 0, 0),
            CommitteeCount(E_A, 1, 1),
            CommitteeCount(B_A1, 0, 0),
            None,
        ]
        assert await store.committee_counts([CITY, SHIBEI], dt.date(2018, 1, 1), EVERYTHING) == [
            CommitteeCount(CITY, 3, 1),
            CommitteeCount(SHIBEI, 1, 1),
        ]
        assert await store.committee_counts([CITY], dt.date(2026, 1, 1), EVERYTHING) == [CommitteeCount(CITY, 3, 2)]

    async def test_out_of_scope_is_none(self, store: Store) -> None:
        await city(store)
        await store.save_committee(B_NOW)
        day = dt.date(2026, 1, 1)
        assert await store.committee_counts([CITY, SHINAN, ST_B, E_B, ST_A], day, STREET_B) == [
            None, None, CommitteeCount(ST_B, 1, 1), CommitteeCount(E_B, 1, 1), None
        ]
        assert await store.committee_counts([E_B], day, OWNER_LIKE) == [None]
        assert await store.committee_counts([E_B], day, NOBODY) == [None]


# --------------------------------------------------------------------------------------------
# meeting steps
# --------------------------------------------------------------------------------------------

STEP_AT = dt.datetime(2025, 11, 3, 10, 30, tzinfo=CST)


def step(kind: MeetingStepKind, estate: str = E_A, days: int = 0, **changes: object) -> MeetingStep:
    made = MeetingStep(
        estate_code=estate,
        kind=kind,
        at=STEP_AT + dt.timedelta(days=days),
        actor="香港中路街道办事处 王强",
        role="street",
        detail='{"members":["张伟","李娜"],"说明":"筹备组七人"}',
    )
    return replace(made, **changes)  # type: ignore[arg-type]


class TestMeetingSteps:
    async def test_steps_are_listed_in_kind_order_the_first_kept(self, store: Store) -> None:
        await city(store)
        notice = step(MeetingStepKind.NOTICE_GIVEN, days=30, detail="{}")
        group = step(MeetingStepKind.GROUP_FORMED)
        held = step(MeetingStepKind.VOTE_HELD, days=50, detail='{"vote":"V1"}')
        published = step(MeetingStepKind.DOCUMENTS_PUBLISHED, days=10)
        for each in (notice, held, group, published):
            assert await store.add_meeting_step(each)
        assert not await store.add_meeting_step(replace(group, at=STEP_AT + dt.timedelta(days=99), actor="别人"))
        [found, none] = await store.meeting_steps([E_A, E_B], EVERYTHING)
        assert found == [group, published, notice, held] and none == []
        assert all(s.at.utcoffset() == dt.timedelta(0) for s in found)

    async def test_refusals_write_nothing(self, store: Store) -> None:
        await city(store)
        for bad, field in (
            (step(MeetingStepKind.GROUP_FORMED, UNKNOWN_ESTATE), "estate_code"),
            (step(MeetingStepKind.GROUP_FORMED, B_A1), "estate_code"),
            (step(MeetingStepKind.GROUP_FORMED, detail="[1,2]"), "detail"),
            (step(MeetingStepKind.GROUP_FORMED, detail="not json"), "detail"),
            (step(MeetingStepKind.GROUP_FORMED, at=dt.datetime(2025, 11, 3)), "at"),
            (step(MeetingStepKind.GROUP_FORMED, actor=""), "actor"),
        ):
            with pytest.raises(InvalidInput, match=field):
                await store.add_meeting_step(bad)
        assert await store.meeting_steps([E_A, UNKNOWN_ESTATE, B_A1], EVERYTHING) == [[], [], []]
        assert await store.meetings_under(CITY, EVERYTHING) == []

    async def test_scope_and_estates_under_a_place(self, store: Store) -> None:
        await city(store)
        a = [step(MeetingStepKind.FILED, days=90), step(MeetingStepKind.GROUP_FORMED)]
        b = [step(MeetingStepKind.COMMITTEE_ELECTED, E_B, days=60)]
        c = [step(MeetingStepKind.GROUP_FORMED, E_C, days=1)]
        for each in (*a, *b, *c):
            assert await store.add_meeting_step(each)
        a.reverse()
        assert await store.meeting_steps([E_B, E_A], STREET_B) == [b, []]
        assert await store.meeting_steps([E_A], OWNER_LIKE) == [[]]
        assert await store.meetings_under(CITY, EVERYTHING) == [a, b, c]
        assert await store.meetings_under(SHINAN, EVERYTHING) == [a, b]
        assert await store.meetings_under(E_B, EVERYTHING) == [b]
        assert await store.meetings_under(B_A1, EVERYTHING) == []
        assert await store.meetings_under(CITY, STREET_A) == [a]
        assert await store.meetings_under(CITY, NORTH) == [c]
        assert await store.meetings_under(CITY, OWNER_LIKE) == []
        assert await store.meetings_under(UNKNOWN_STREET, EVERYTHING) == []
