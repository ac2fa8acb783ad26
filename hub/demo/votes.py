"""The demo city's owners' self-government: committees, a first owners' meeting under way, and a
finished vote with its result — made through the vote service, as users would make them.

- Two estates in three have an owners' committee recorded from paper (elected two years ago,
  filed with the street), the rest have none: the `governance` view shows both.
- `meeting`: an estate of the demo street with no committee is in the middle of its first owners'
  meeting (首次业主大会): the street formed the 筹备组 25 days ago, published the documents, gave
  notice 20 days ago; the vote (rules of procedure, 管理规约, electing a committee of three from
  five owners) opened three days ago, closes in four, and 40% of its houses have cast.
- `finished`: an estate with a committee held a vote that closed 15 days ago — using the
  maintenance fund for the lifts (class 5, carried) and letting the lift lobbies for advertising
  (class 8, three quarters needed, not reached) — its result published and its final head signed.

Every ballot goes through `Votes.cast` with the clock of its day, so the boards, receipts, heads
and results are exactly what a real vote would leave; `hub votes verify` passes on both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from graph.ciphers.keyring import Keyring
from graph.levels import Level
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.votes.records import (
    Candidate,
    Committee,
    Document,
    Item,
    ItemForm,
    MeetingStep,
    MeetingStepKind,
    Member,
    Organiser,
    Vote,
    VoteStatus,
)
from graph.votes.service import Votes, claim_key

EVERYTHING = Scope.everything()
CAST_AT_ONCE = 16
"""Ballots cast together, so that receipts share signed heads as they do under load."""


@dataclass(frozen=True, slots=True)
class DemoVotes:
    meeting_estate: str
    meeting_vote: str
    finished_estate: str
    finished_vote: str
    voters: tuple[str, ...]  # owner ids of the meeting estate who have not cast, for the README's tokens
    committees: int


async def _estates(store: Store, within: str | None) -> list[str]:
    codes: list[str] = []
    after = None
    while True:
        page = await store.subtree(Level.ESTATE, within, EVERYTHING, MAX_PAGE, after)
        codes.extend(place.code for place in page.items)
        if not page.has_next:
            return codes
        after = page.end_cursor


async def _holders(store: Store, estate: str, day: dt.date) -> list[tuple[str, str]]:
    """(house, owner) for every house of the estate held on `day` (the first holder)."""
    found: list[tuple[str, str]] = []
    after = None
    while True:
        page = await store.subtree(Level.HOUSE, estate, EVERYTHING, MAX_PAGE, after)
        spans = await store.ownerships([h.code for h in page.items], day, EVERYTHING, with_owners=False)
        for house, held in zip(page.items, spans):
            owners = sorted(span.owner_id for span in held if span.holds_on(day))
            if owners and house.area_centi_m2:
                found.append((house.code, owners[0]))
        if not page.has_next:
            return found
        after = page.end_cursor


def _at(now: dt.datetime, days: float, hour: int = 10) -> dt.datetime:
    moment = now + dt.timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


async def _cast_all(votes: Votes, vote: Vote, ballots: Sequence[tuple[str, str, dict[int, object]]]) -> None:
    for start in range(0, len(ballots), CAST_AT_ONCE):
        chunk = ballots[start : start + CAST_AT_ONCE]
        await asyncio.gather(*(votes.cast(vote, house, owner, choices) for house, owner, choices in chunk))  # type: ignore[arg-type]


async def _already_built(store: Store) -> DemoVotes | None:
    """What an earlier `hub demo` on this store built (a demo is built again over itself: the
    votes, committees and steps it made stay as they are); None when it built none."""
    listed = await store.vote_page(EVERYTHING, MAX_PAGE)
    meeting = next((vote for vote in listed.items if vote.first_meeting), None)
    finished = next((vote for vote in listed.items if vote.status is VoteStatus.CLOSED and not vote.first_meeting), None)
    if meeting is None or finished is None:
        return None
    electors = (await store.elector_page(meeting.id, MAX_PAGE)).items
    claimed = await store.claims([claim_key(meeting.id, e.house_code) for e in electors])
    voters = sorted({e.holders[0] for e, claimant in zip(electors, claimed) if claimant is None and len(e.holders) == 1})
    estates = await _estates(store, None)
    sitting = await store.committees(estates, None, EVERYTHING)
    return DemoVotes(meeting.estate_code, meeting.id, finished.estate_code, finished.id, tuple(voters[:2]), sum(1 for found in sitting if found))


async def build_demo_votes(store: Store, keys: Keyring, street: str, *, seed: int, now: dt.datetime | None = None) -> DemoVotes:
    """Committees across the city, a first meeting under way and a finished vote in `street`."""
    made = await _already_built(store)
    if made is not None:
        return made
    now = now or dt.datetime.now(dt.timezone.utc)
    rng = random.Random(seed * 7919 + 278)
    today = now.date()
    everything = await _estates(store, None)
    local = await _estates(store, street)
    if len(local) < 2:
        raise ValueError(f"street {street} has fewer than two estates; the vote demo needs two")
    finished_estate, meeting_estate = local[0], local[1]
    committees = 0
    for estate in everything:
        if estate == meeting_estate or (estate != finished_estate and rng.random() >= 2 / 3):
            continue
        people = sorted({owner for _, owner in await _holders(store, estate, today)})
        if len(people) < 5:
            continue
        members = tuple(Member(owner, post) for owner, post in zip(rng.sample(people, 5), ["主任", "副主任", "委员", "委员", "委员"]))
        start = today - dt.timedelta(days=730)
        await store.save_committee(
            Committee(f"WY-{estate}-1", estate, members, start, start.replace(year=start.year + 5) - dt.timedelta(days=1), None, start + dt.timedelta(days=20))
        )
        committees += 1

    # the first owners' meeting of `meeting_estate`, under way
    street_office = Organiser("street", street, "街道办事处 筹备组", "筹备组")
    for kind, days in ((MeetingStepKind.GROUP_FORMED, -25), (MeetingStepKind.DOCUMENTS_PUBLISHED, -21)):
        await store.add_meeting_step(
            MeetingStep(meeting_estate, kind, _at(now, days), street_office.name, "street", json.dumps({"by": "demo"}))
        )
    holders = await _holders(store, meeting_estate, today - dt.timedelta(days=4))
    picked = rng.sample(sorted({owner for _, owner in holders}), 5)
    owners = await store.owners(picked, EVERYTHING)
    candidates = tuple(
        Candidate(str(n), (owner.name if owner and owner.name else f"候选人{n}"), owner_id=holder)
        for n, (holder, owner) in enumerate(zip(picked, owners), start=1)
    )
    noticed = Votes(store, keys, clock=lambda: _at(now, -20))
    meeting = await noticed.organise(
        Vote(
            id="pending",
            place_code=meeting_estate,
            estate_code=meeting_estate,
            organiser=street_office,
            title="首次业主大会：议事规则、管理规约与选举业主委员会",
            record_date=(now - dt.timedelta(days=4)).date(),
            notice_at=_at(now, -20),
            opens_at=_at(now, -3, 9),
            closes_at=_at(now, 4, 18),
            items=(
                Item(1, 1, ItemForm.MOTION, "通过《业主大会议事规则》", "议事规则全文见文件一。"),
                Item(2, 2, ItemForm.MOTION, "通过《管理规约》", "管理规约全文见文件二。"),
                Item(3, 3, ItemForm.ELECTION, "选举第一届业主委员会委员（三名）", "从五名候选人中选出三名。", candidates, 3),
            ),
            documents=(
                Document("文件一 业主大会议事规则", "第一条 为规范业主大会的议事活动……", "yishi-guize.pdf"),
                Document("文件二 管理规约", "第一条 为加强物业管理区域内的物业管理……", "guanli-guiyue.pdf"),
            ),
            first_meeting=True,
        ),
        EVERYTHING,
    )
    opening = Votes(store, keys, clock=lambda: _at(now, -3, 9))
    await opening.open(meeting)
    [meeting] = [v for v in await store.votes([meeting.id], EVERYTHING) if v is not None]
    casting = Votes(store, keys, clock=lambda: _at(now, -2, 20))
    cast_now = holders[: int(len(holders) * 0.4)]
    order = [c.id for c in candidates]
    ballots = []
    for house, owner in cast_now:
        choices: dict[int, object] = {
            1: rng.choices(["for", "against", "abstain"], [85, 10, 5])[0],
            2: rng.choices(["for", "against", "abstain"], [80, 12, 8])[0],
            3: tuple(sorted(rng.sample(order[:4], 3) if rng.random() < 0.9 else order[2:5])),
        }
        ballots.append((house, owner, choices))
    await _cast_all(casting, meeting, ballots)
    not_cast = tuple(owner for _, owner in holders[len(cast_now) :] if owner not in {o for _, o in cast_now})

    # a finished vote of `finished_estate`, organised by its committee
    committee = Organiser("committee", finished_estate, "业主委员会", "业主委员会")
    organising = Votes(store, keys, clock=lambda: _at(now, -40))
    finished = await organising.organise(
        Vote(
            id="pending",
            place_code=finished_estate,
            estate_code=finished_estate,
            organiser=committee,
            title="使用专项维修资金更换电梯，及电梯厅广告位出租",
            record_date=(now - dt.timedelta(days=26)).date(),
            notice_at=_at(now, -40),
            opens_at=_at(now, -25, 9),
            closes_at=_at(now, -15, 18),
            items=(
                Item(1, 5, ItemForm.MOTION, "使用专项维修资金更换 1-3 号楼电梯", "预算 186 万元，按专有部分面积分摊。"),
                Item(2, 8, ItemForm.MOTION, "出租电梯厅墙面用于广告经营", "收益归全体业主，计入公共收益。"),
            ),
            documents=(Document("电梯更换方案与预算", "经检验，1-3 号楼电梯已到更新年限……", "dianti-fangan.pdf"),),
        ),
        EVERYTHING,
    )
    await Votes(store, keys, clock=lambda: _at(now, -25, 9)).open(finished)
    [finished] = [v for v in await store.votes([finished.id], EVERYTHING) if v is not None]
    past = await _holders(store, finished_estate, (now - dt.timedelta(days=26)).date())
    voters = past[: int(len(past) * 0.8)]
    ballots = [
        (house, owner, {1: rng.choices(["for", "against", "abstain"], [82, 12, 6])[0], 2: rng.choices(["for", "against", "abstain"], [66, 26, 8])[0]})
        for house, owner in voters
    ]
    await _cast_all(Votes(store, keys, clock=lambda: _at(now, -20, 19)), finished, ballots)
    closing = Votes(store, keys, clock=lambda: _at(now, -15, 18) + dt.timedelta(minutes=1))
    closed = await closing.close(finished)
    assert closed.status is VoteStatus.CLOSED
    return DemoVotes(meeting_estate, meeting.id, finished_estate, finished.id, not_cast[:2], committees)
