"""Owners' votes in GraphQL (业主大会 · 电子投票): read, organise, cast, close, prove.

| field                              | roles                                                          |
|------------------------------------|----------------------------------------------------------------|
| votes, vote, bulletin, proofs      | readers (schema.votes.access): owners of the area, committee, administrations in scope |
| myVotes                            | owners                                                         |
| organiseVote                       | committee (its estate); street, community (an estate under it); admin |
| castBallot                         | owners only                                                    |
| registerProxy, closeVote, cancelVote | the vote's organiser; admin                                  |
| committees, firstMeeting           | administrations and committees in scope; owners of the estate  |
| recordMeetingStep                  | street, community, admin                                       |
| governance                         | administrations                                                |
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from fractions import Fraction
from typing import Annotated

import strawberry

from graph.clock import CHINA_STANDARD_TIME
from graph.errors import InvalidInput
from graph.levels import Level
from graph.merkle import leaf_hash
from graph.reach import Reach
from graph.model import Page
from graph.scope import Scope
from graph.security import Role
from graph.store import MAX_PAGE
from graph.votes import records
from graph.votes.records import ItemForm, MeetingStepKind, VoteStatus
from graph.votes.service import log_name
from graph.votes.tally import ABSTAIN, Choice
from schema.arguments import cursor_argument, level_under, page_argument, place_argument
from schema.context import Info
from schema.errors import Forbidden, require_role
from schema.fields import field
from schema.places.types import After, First
from schema.relay import Connection, connection, count_pages
from schema.votes.access import ADMINISTRATIONS, ORGANISERS, READERS, readable, require_organiser, votes_of
from schema.votes.types import (
    BallotReceipt,
    BulletinEntry,
    Committee,
    ConsistencyProof,
    GovernanceRow,
    InclusionProof,
    MeetingStep,
    Proxy,
    Vote,
)

VoteId = Annotated[strawberry.ID, strawberry.argument(description="The vote's id (TPyyyymmddNNNNNN).")]
HAND_STEPS = frozenset(
    {MeetingStepKind.GROUP_FORMED, MeetingStepKind.DOCUMENTS_PUBLISHED, MeetingStepKind.NOTICE_GIVEN, MeetingStepKind.FILED}
)
"""Steps of a first meeting a person records; the hub records the vote and the election itself."""


@strawberry.input(description="A document of a vote.")
class DocumentInput:
    title: str
    text: str = ""
    ref: str = ""


@strawberry.input(description="A candidate: an owner (ownerId) for an election, a firm (firmCode) for a firm choice.")
class CandidateInput:
    name: str
    owner_id: str | None = None
    firm_code: str | None = None


@strawberry.input(description="An item of a vote: its Civil Code Art. 278 class (1–9) and form.")
class ItemInput:
    klass: int = strawberry.field(description="1 议事规则 … 5 使用维修资金, 6 筹集维修资金, 7 改建重建, 8 共有部分, 9 其他.")
    form: ItemForm
    title: str
    text: str = ""
    candidates: list[CandidateInput] = strawberry.field(default_factory=list)
    seats: int = 0
    takes_effect: dt.date | None = None


@strawberry.input(description="A vote to announce now.")
class OrganiseVoteInput:
    place: str = strawberry.field(description="The estate, or a building or entrance of it.")
    title: str
    record_date: dt.date = strawberry.field(description="Owners on this day vote (on or before the opening day).")
    opens_at: dt.datetime
    closes_at: dt.datetime
    items: list[ItemInput]
    documents: list[DocumentInput] = strawberry.field(default_factory=list)
    capacity: str | None = strawberry.field(default=None, description="业主委员会 (committee), 筹备组 or 换届小组 (street, community).")
    first_meeting: bool = False


@strawberry.input(description="A choice for one item: a motion's for/against/abstain, a firm choice's candidate id or abstain, an election's candidate ids.")
class ChoiceInput:
    item: int
    choice: str | None = None
    candidates: list[str] | None = None


def _vote_id(value: strawberry.ID) -> str:
    text = str(value).strip()
    if not text or len(text) > 32:
        raise InvalidInput("vote", text[:40], "is not a vote id")
    return text


async def _vote(info: Info, value: strawberry.ID) -> records.Vote:
    found = await readable(info, _vote_id(value))
    if found is None:
        raise InvalidInput("vote", str(value), "is not a vote you can see")
    return found


def _items(inputs: list[ItemInput]) -> tuple[records.Item, ...]:
    items = []
    for number, given in enumerate(inputs, start=1):
        candidates = tuple(
            records.Candidate(str(position), c.name.strip(), c.owner_id, c.firm_code)
            for position, c in enumerate(given.candidates, start=1)
        )
        items.append(
            records.Item(
                number=number,
                klass=given.klass,
                form=given.form,
                title=given.title.strip(),
                text=given.text,
                candidates=candidates,
                seats=given.seats if given.form is ItemForm.ELECTION else (1 if given.form is ItemForm.FIRM_CHOICE else 0),
                takes_effect=given.takes_effect,
            )
        )
    return tuple(items)


def _choices(vote: records.Vote, inputs: list[ChoiceInput]) -> dict[int, Choice]:
    forms = {item.number: item.form for item in vote.items}
    choices: dict[int, Choice] = {}
    for given in inputs:
        if given.item in choices:
            raise InvalidInput("choices", str(given.item), "names an item twice")
        form = forms.get(given.item)
        if form is ItemForm.ELECTION:
            choices[given.item] = tuple(given.candidates or ())
        else:
            choices[given.item] = (given.choice or "").strip().lower() if form is ItemForm.MOTION else (given.choice or ABSTAIN).strip()
    return choices


@strawberry.type
class VoteQueries:
    @field(description="Votes at or under a place in your scope (or anywhere in it), by id (oldest first: ids carry the day), filtered by status.")
    async def votes(
        self,
        info: Info,
        scope: Annotated[str | None, strawberry.argument(description="A place code; omitted: your whole scope.")] = None,
        status: list[VoteStatus] | None = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Vote]:
        principal = info.context.principal
        if principal.role not in READERS or principal.role is Role.OWNER:
            raise Forbidden(f"forbidden: the {principal.role.value} role may not list votes (owners use myVotes)")
        within = None if scope is None else place_argument(scope, field="scope")[0]
        size, cursor = page_argument(first), cursor_argument(after)
        store = info.context.store
        page = await store.vote_page(info.context.scope, size, cursor, within=within, statuses=status)
        votes = votes_of(info)
        fresh = [await votes.current(vote) for vote in page.items]

        async def count() -> int:
            return await count_pages(
                lambda position: store.vote_page(info.context.scope, MAX_PAGE, position, within=within, statuses=status)
            )

        current = Page(fresh, page.has_next, page.end_cursor, page.start_cursor)
        return connection(current, key=lambda vote: vote.id, wrap=lambda vote: Vote(record=vote), counter=count, after=cursor)

    @field(
        description="Owner tokens: the votes whose area holds one of your houses, and those you are a "
        "registered delegate (委托代理人) in, newest first."
    )
    async def my_votes(self, info: Info, status: list[VoteStatus] | None = None) -> list[Vote]:
        principal = info.context.principal
        require_role(principal, frozenset({Role.OWNER}), "list an owner's votes")
        return [Vote(record=vote) for vote in await votes_of(info).owner_votes(principal.scope, status)]

    @field(description="The vote with this id; null if you may not see it.")
    async def vote(self, info: Info, id: VoteId) -> Vote | None:
        found = await readable(info, _vote_id(id))
        return None if found is None else Vote(record=found)

    @field(description="The vote's bulletin board: its entries in order (tags, weights, choices; no names).")
    async def bulletin(self, info: Info, vote: VoteId, first: First = None, after: After = None) -> list[BulletinEntry]:
        found = await _vote(info, vote)
        size = page_argument(first)
        start = 0 if after is None else _position(after)
        entries = await info.context.store.log_entries(log_name(found.id), start, start + size)
        return [BulletinEntry(index=e.index, payload=e.payload.decode(), leaf_hash=leaf_hash(e.payload).hex(), at=e.at) for e in entries]

    @field(description="An inclusion proof of entry `index` in the tree of `size` entries (default: the final head's, or the current size).")
    async def inclusion_proof(self, info: Info, vote: VoteId, index: int, size: int | None = None) -> InclusionProof:
        found = await _vote(info, vote)
        votes = votes_of(info)
        log = votes.log(found.id)
        total = await _size(info, found.id, size)
        if not 0 <= index < total:
            raise InvalidInput("index", str(index), f"must be an entry of the tree of size {total} (0 to {total - 1})")
        [entry] = await info.context.store.log_entries(log.log, index, index + 1)
        path, root = await log.inclusion_proof_and_root(index, total)
        return InclusionProof(index=index, size=total, leaf_hash=leaf_hash(entry.payload).hex(), path=[p.hex() for p in path], root=root.hex())

    @field(description="A consistency proof between two sizes of the vote's bulletin board (default `toSize`: the final or current size).")
    async def consistency_proof(self, info: Info, vote: VoteId, from_size: int, to_size: int | None = None) -> ConsistencyProof:
        found = await _vote(info, vote)
        log = votes_of(info).log(found.id)
        total = await _size(info, found.id, to_size)
        if not 0 < from_size <= total:
            raise InvalidInput("fromSize", str(from_size), f"must be 1 to {total}")
        path = await log.consistency_proof(from_size, total)
        return ConsistencyProof(
            from_size=from_size,
            to_size=total,
            path=[p.hex() for p in path],
            from_root=(await log.root(from_size)).hex(),
            to_root=(await log.root(total)).hex(),
        )

    @field(description="An estate's owners' committees: those in office today (current) or all of them.")
    async def committees(self, info: Info, estate: str, current: bool = True) -> list[Committee]:
        code = await _estate_readable(info, estate)
        if code is None:
            return []
        on = info.context.today if current else None
        [found] = await info.context.store.committees([code], on, Scope.everything())
        principal = info.context.principal
        owner = principal.scope if principal.role is Role.OWNER else None
        return [Committee.of(c, owner=owner) for c in found]

    @field(description="The steps of an estate's first owners' meeting, in order.")
    async def first_meeting(self, info: Info, estate: str) -> list[MeetingStep]:
        code = await _estate_readable(info, estate)
        if code is None:
            return []
        [steps] = await info.context.store.meeting_steps([code], Scope.everything())
        return [MeetingStep.of(step) for step in steps]

    @field(description="Owners' self-government per place of `groupBy` under `scope`: committees, votes, participation, days from 筹备组 to 备案.")
    async def governance(self, info: Info, scope: str, group_by: Level) -> list[GovernanceRow]:
        from schema.stats.queries import bounded_rows

        require_role(info.context.principal, ADMINISTRATIONS | {Role.CITY, Role.DISTRICT}, "read governance figures")
        code, level = place_argument(scope, field="scope")
        level_under(group_by, level, field="groupBy", top_field="scope")
        if group_by > Level.ESTATE:
            raise InvalidInput("groupBy", group_by.name, "must be ESTATE or above")
        await bounded_rows(info, group_by, code, field="groupBy")
        return await _governance(info, code, level, group_by)


def _position(after: str) -> int:
    try:
        position = int(after)
    except ValueError:
        raise InvalidInput("after", after, "must be the index of the last entry read") from None
    if position < 0:
        raise InvalidInput("after", after, "must not be negative")
    return position + 1


async def _size(info: Info, vote_id: str, size: int | None) -> int:
    votes = votes_of(info)
    final = await votes.final_head(vote_id)
    current = final.size if final is not None else await info.context.store.log_size(log_name(vote_id))
    if size is None:
        return current
    stored = await info.context.store.log_size(log_name(vote_id))
    if not 0 < size <= stored:
        raise InvalidInput("size", str(size), f"must be 1 to {stored}, the board's size")
    return size


async def _estate_readable(info: Info, estate: str) -> str | None:
    code, level = place_argument(estate, field="estate")
    if level is not Level.ESTATE:
        raise InvalidInput("estate", estate, "must be an estate code")
    principal = info.context.principal
    if principal.role is Role.PROPERTY_FIRM:
        return None
    if principal.role is Role.OWNER:
        [held] = await info.context.store.houses_of([principal.scope], info.context.today, Scope.everything())
        lines = await info.context.store.ancestors([span.house_code for span in held], Scope.everything())
        return code if any(place.code == code for line in lines for place in line) else None
    [place] = await info.context.store.places([code], info.context.scope)
    return None if place is None else code


async def _governance(info: Info, within: str, level: Level, group_by: Level) -> list[GovernanceRow]:
    store = info.context.store
    scope = info.context.scope
    if group_by is level:
        places = [p for p in await store.places([within], scope) if p is not None]
    else:
        places = []
        after = None
        while True:
            page = await store.subtree(group_by, within, scope, MAX_PAGE, after)
            places.extend(page.items)
            if not page.has_next:
                break
            after = page.end_cursor
    counts = await store.committee_counts([p.code for p in places], info.context.today, scope)
    rows = []
    for place, count in zip(places, counts):
        votes_open = votes_closed = 0
        area = electorate = 0
        position: str | None = None
        while True:
            listed = await store.vote_page(scope, MAX_PAGE, position, within=place.code, statuses=[VoteStatus.OPEN, VoteStatus.CLOSED])
            for vote in listed.items:
                if vote.status is VoteStatus.OPEN:
                    votes_open += 1
                    continue
                votes_closed += 1
                result = votes_of(info).result(vote)
                if result is not None and result.items:
                    area += result.items[0].participation.area
                    electorate += result.electorate.area_centi_m2
            if not listed.has_next:
                break
            position = listed.end_cursor
        meetings = await store.meetings_under(place.code, scope)
        days = []
        for steps in meetings:
            kinds = {step.kind: step.at for step in steps}
            if MeetingStepKind.GROUP_FORMED in kinds and MeetingStepKind.FILED in kinds:
                start = kinds[MeetingStepKind.GROUP_FORMED].astimezone(CHINA_STANDARD_TIME).date()
                end = kinds[MeetingStepKind.FILED].astimezone(CHINA_STANDARD_TIME).date()
                days.append((end - start).days)
        share = None if electorate == 0 else Fraction(area, electorate)
        estates = count.estates if count else 0
        with_committee = count.with_committee if count else 0
        rows.append(
            GovernanceRow(
                code=place.code,
                name=place.name,
                estates=estates,
                with_committee=with_committee,
                without_committee=estates - with_committee,
                votes_open=votes_open,
                votes_closed=votes_closed,
                participation=None if share is None else (str(share.numerator) if share.denominator == 1 else f"{share.numerator}/{share.denominator}"),
                first_meetings_filed=len(days),
                median_days_to_filing=float(statistics.median(days)) if days else None,
            )
        )
    return rows


@strawberry.type
class VoteMutations:
    @field(description="Announce a vote (公告) of an estate, building or entrance: items, documents, record date, opening and closing times.")
    async def organise_vote(self, info: Info, input: OrganiseVoteInput) -> Vote:
        principal = info.context.principal
        require_role(principal, ORGANISERS, "organise votes")
        code, _ = place_argument(input.place, field="place")
        default = {"committee": "业主委员会", "street": "筹备组" if input.first_meeting else "换届小组"}
        capacity = (input.capacity or default.get(principal.role.value, "筹备组")).strip()
        if principal.role is Role.COMMITTEE and capacity != "业主委员会":
            raise InvalidInput("capacity", capacity, "a committee organises as 业主委员会")
        if principal.role in (Role.STREET, Role.COMMUNITY) and capacity not in ("筹备组", "换届小组"):
            raise InvalidInput("capacity", capacity, "a street office or community organises as 筹备组 or 换届小组")
        vote = records.Vote(
            id="pending",
            place_code=code,
            estate_code=code,
            organiser=records.Organiser(principal.role.value, principal.scope, principal.name, capacity),
            title=input.title.strip(),
            record_date=input.record_date,
            notice_at=dt.datetime.now(dt.timezone.utc),
            opens_at=input.opens_at,
            closes_at=input.closes_at,
            items=_items(input.items),
            documents=tuple(records.Document(d.title.strip(), d.text, d.ref.strip()) for d in input.documents),
            first_meeting=input.first_meeting,
        )
        stored = await votes_of(info).organise(vote, info.context.scope)
        return Vote(record=stored)

    @field(description="Cast (or change, until the close) your ballot for one house: a choice per item. Owners only.")
    async def cast_ballot(self, info: Info, vote: VoteId, house: str, choices: list[ChoiceInput]) -> BallotReceipt:
        principal = info.context.principal
        if principal.role is not Role.OWNER:
            raise Forbidden(f"forbidden: the {principal.role.value} role may not cast ballots; only owners do")
        found = await _vote(info, vote)
        votes = votes_of(info)
        receipt = await votes.cast(found, house.strip(), principal.scope, _choices(found, choices))
        return BallotReceipt.of(receipt, votes.keys.sm2_public)

    @field(description="Register a proxy (委托): the delegate owner casts for the house, on the signed authorisation `reference`.")
    async def register_proxy(self, info: Info, vote: VoteId, house: str, delegate: str, reference: str) -> Proxy:
        found = await _vote(info, vote)
        require_organiser(info.context.principal, found, "register proxies")
        proxy = await votes_of(info).register_proxy(found, house.strip(), delegate.strip(), reference, info.context.principal.name)
        return Proxy(
            vote=strawberry.ID(proxy.vote_id),
            house_code=proxy.house_code,
            delegate=proxy.delegate,
            reference=proxy.reference,
            registered_by=proxy.registered_by,
            at=proxy.at,
        )

    @field(description="Close the vote at or after its closing time: count, publish the result, sign the final head.")
    async def close_vote(self, info: Info, id: VoteId) -> Vote:
        found = await _vote(info, id)
        require_organiser(info.context.principal, found, "close the vote")
        if found.status is VoteStatus.CLOSED:
            return Vote(record=found)
        return Vote(record=await votes_of(info).close(found))

    @field(description="Withdraw a vote that has not opened yet.")
    async def cancel_vote(self, info: Info, id: VoteId) -> Vote:
        found = await _vote(info, id)
        require_organiser(info.context.principal, found, "cancel the vote")
        return Vote(record=await votes_of(info).cancel(found))

    @field(description="Record a step of an estate's first owners' meeting (筹备组成立, 文件公示, 会议公告, 备案).")
    async def record_meeting_step(
        self,
        info: Info,
        estate: str,
        kind: MeetingStepKind,
        detail: Annotated[str | None, strawberry.argument(description="A JSON object: the group's members, the filing number …")] = None,
    ) -> MeetingStep:
        principal = info.context.principal
        require_role(principal, frozenset({Role.ADMIN, Role.STREET, Role.COMMUNITY}), "record first-meeting steps")
        if kind not in HAND_STEPS:
            raise InvalidInput("kind", kind.name, "is recorded by the hub itself when the vote closes")
        code, level = place_argument(estate, field="estate")
        if level is not Level.ESTATE:
            raise InvalidInput("estate", estate, "must be an estate code")
        await Reach(info.context.store, info.context.scope).place(code, field="estate")  # graph.reach: as every write
        text = detail if detail is not None else "{}"
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInput("detail", text[:40], f"is not JSON: {error}") from None
        if not isinstance(parsed, dict):
            raise InvalidInput("detail", text[:40], "must be a JSON object")
        step = records.MeetingStep(
            code, kind, dt.datetime.now(dt.timezone.utc), principal.name, principal.role.value, json.dumps(parsed, ensure_ascii=False, sort_keys=True)
        )
        if not await votes_of(info).record_step(step):
            raise InvalidInput("kind", kind.name, f"is already recorded for estate {code}")
        return MeetingStep.of(step)
