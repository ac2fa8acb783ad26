"""Running a vote over the store: organise, open, cast, close, publish, prove and verify.

`Votes` is made once per hub (it keeps each open vote's Merkle log, whose frontier it caches, and
signs tree heads with the hub's SM2 key) and shared by the API, the background sweep and the
command line. Who may call what is the API's business (schema.votes); the rules of the vote are
here, once:

- organising: an estate, or a building or entrance of it; the committee organises for its own
  estate, the street office or community (as 筹备组 / 换届小组) for an estate under it; a first
  owners' meeting (首次业主大会) is for an estate with no committee in office, organised by the
  street or community, its notice at least 15 days before it opens (物业管理条例 Art. 14); the
  record date is on or before the opening day; items are checked (graph.votes.checks).
- opening: at `opens_at` (the sweep, or the first read or cast after it) the electorate is
  frozen from the ownership graph on the record date (graph.votes.electorate) and published.
- casting (`cast`): an owner, for a house of the electorate it held on the record date (or as a
  registered delegate), while open; one entry per item on the bulletin board; the last counts; a
  jointly held house is claimed by the first co-owner to cast it (or belongs to the designated
  one) and refused to the others. Each receipt carries a signed tree head covering it.
- closing (`close`): at or after `closes_at`; the count is redone from the board's entries
  (graph.votes.tally), published with the vote, and the final head signed; a passed election
  seats the committee, a passed firm choice changes who manages the estate from the day it names.
- verifying (`verify`): every entry's leaf and every stored node and head recomputed (a ballot
  changed in the store is named by its index), every entry re-read as a ballot of this vote's
  electorate, the count redone and compared with the published one, and the final head checked
  to extend every head handed out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from graph.ciphers.keyring import Keyring
from graph.clock import CHINA_STANDARD_TIME, utc_now
from graph.daily_ids import daily_id, day_prefix
from graph.errors import InvalidInput
from graph.events import Event, EventBus, Topic
from graph.levels import Level
from graph import merkle
from graph.logs import ClaimHeld, MerkleLog
from graph.logstore import NewEntry, SignedHead
from graph.model import Batch, Management
from graph.reach import Reach
from graph.scope import Scope
from graph.store import Store
from graph.votes import electorate as electorates
from graph.votes import tags
from graph.votes.checks import check_vote
from graph.votes.law import ItemClass
from graph.votes.records import (
    Committee,
    Elector,
    Item,
    ItemForm,
    MeetingStep,
    MeetingStepKind,
    Member,
    Proxy,
    Vote,
    VoteStatus,
)
from graph.votes.tally import BallotEntry, Choice, Result, check_choice, latest, parse_result, tally

VOTE_PREFIX = "TP"  # 投票
NOTICE_DAYS_FIRST_MEETING = 15
TERM_YEARS = 5  # 业主委员会 terms are at most five years (指导规则 Art. 33)
VOTE_PLACES = frozenset({Level.ESTATE, Level.BUILDING, Level.ENTRANCE})


def log_name(vote_id: str) -> str:
    return f"vote:{vote_id}"


def claim_key(vote_id: str, house_code: str) -> str:
    return f"vote:{vote_id}:house:{house_code}"


@dataclass(frozen=True, slots=True)
class ReceiptEntry:
    item: int
    index: int
    leaf_hash: bytes
    payload: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an owner keeps after casting: the entries it added and a signed head covering them."""

    vote_id: str
    house_code: str
    entries: tuple[ReceiptEntry, ...]
    head: SignedHead


@dataclass(frozen=True, slots=True)
class HouseInVote:
    """One of a caller's houses in a vote, as the caller sees it."""

    elector: Elector
    via_proxy: bool
    cast_by: str | None  # None, "you", "co-owner"
    can_cast: bool
    choices: Mapping[int, Choice]


@dataclass(frozen=True, slots=True)
class Turnout:
    item: int
    houses: int
    heads: Fraction
    area_centi_m2: int


@dataclass
class Verification:
    """What `verify` found: `problems` empty when everything fits."""

    vote_id: str
    entries: int = 0
    heads_checked: int = 0
    receipts_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


VOTE_CACHE_SECONDS = 1.0
"""How long an open vote's record is answered from this process's memory: an open vote does not
change until it closes (its closing time is checked on every cast, whatever the cache holds),
so only a vote closed early by another process is seen up to this late."""

ROLLS_KEPT = 16
"""Frozen electorates kept in memory (the votes most recently cast in or read)."""


@dataclass(frozen=True, slots=True)
class Roll:
    """A vote's frozen electorate as casting and reading ask it, read once per process: the
    elector of each house, how many houses each head casts for, every owner holding one."""

    electors: Mapping[str, Elector]
    houses_per_head: Mapping[str, int]
    holders: frozenset[str]


class Votes:
    """The vote service (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        keys: Keyring,
        *,
        bus: EventBus | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.store = store
        self.keys = keys
        self.bus = bus
        self.clock = clock
        self._logs: dict[str, MerkleLog] = {}
        self._opening = asyncio.Lock()
        self._known_votes: dict[str, tuple[float, Vote]] = {}
        self._final_heads: dict[str, SignedHead] = {}
        self._rereading: set[str] = set()
        self._rolls: OrderedDict[str, Roll] = OrderedDict()
        self._rolling = asyncio.Lock()

    # -- logs and tags -------------------------------------------------------------------------

    def log(self, vote_id: str) -> MerkleLog:
        name = log_name(vote_id)
        found = self._logs.get(name)
        if found is None:
            found = self._logs[name] = MerkleLog(self.store, name, self.keys, clock=self.clock)
        return found

    def _key(self, vote_id: str) -> bytes:
        return tags.vote_key(self.keys.blind_index_key, vote_id)

    def house_tag(self, vote_id: str, house_code: str) -> str:
        return tags.house_tag(self._key(vote_id), house_code)

    # -- reading -------------------------------------------------------------------------------

    async def vote(self, vote_id: str, scope: Scope) -> Vote | None:
        """The vote, brought up to date (opened or closed if its time has come). Asked for
        unscoped, an open vote comes from memory for up to VOTE_CACHE_SECONDS, a closed one
        (it never changes again) for as long as it is kept."""
        if not scope.unlimited:
            return await self._read_vote(vote_id, scope)
        cached = self._known_votes.get(vote_id)
        if cached is not None and (
            cached[1].status is VoteStatus.CLOSED
            or (
                self.clock() < cached[1].closes_at
                and (time.monotonic() - cached[0] < VOTE_CACHE_SECONDS or vote_id in self._rereading)
            )
        ):
            return cached[1]  # while one caller rereads an open vote, the others use what is kept
        self._rereading.add(vote_id)
        try:
            return await self._read_vote(vote_id, scope)
        finally:
            self._rereading.discard(vote_id)

    async def _read_vote(self, vote_id: str, scope: Scope) -> Vote | None:
        unscoped = scope.unlimited
        [found] = await self.store.votes([vote_id], scope)
        if found is None:
            return None
        found = await self.current(found)
        if unscoped and found.status in (VoteStatus.OPEN, VoteStatus.CLOSED):
            if len(self._known_votes) > 1_000:
                self._known_votes.clear()
            self._known_votes[vote_id] = (time.monotonic(), found)
        return found

    async def roll(self, vote: Vote) -> Roll:
        """The frozen electorate of an open or closed vote (read once, then kept: it never
        changes). InvalidInput for a vote whose electorate is not frozen yet."""
        if vote.status not in (VoteStatus.OPEN, VoteStatus.CLOSED):
            raise InvalidInput("vote", vote.id, f"is {vote.status.value}: its electorate is frozen when it opens")
        async with self._rolling:  # one reading per vote, however many casts ask at once
            found = self._rolls.get(vote.id)
            if found is None:
                electors: dict[str, Elector] = {}
                after = None
                while True:
                    page = await self.store.elector_page(vote.id, 500, after)
                    electors.update((elector.house_code, elector) for elector in page.items)
                    if not page.has_next:
                        break
                    after = page.end_cursor
                found = Roll(
                    electors,
                    Counter(elector.head for elector in electors.values()),
                    frozenset(holder for elector in electors.values() for holder in elector.holders),
                )
                self._rolls[vote.id] = found
                while len(self._rolls) > ROLLS_KEPT:
                    self._rolls.popitem(last=False)
            self._rolls.move_to_end(vote.id)
            return found

    async def current(self, vote: Vote) -> Vote:
        """`vote` opened or closed if its time has come, as stored afterwards."""
        now = self.clock()
        if vote.status is VoteStatus.NOTICED and now >= vote.opens_at:
            await self.open(vote)
        elif vote.status is VoteStatus.OPEN and now >= vote.closes_at:
            await self.close(vote)
        else:
            return vote
        [fresh] = await self.store.votes([vote.id], Scope.everything())
        assert fresh is not None
        return fresh

    async def owner_votes(self, owner_id: str, statuses: Sequence[VoteStatus] | None = None) -> list[Vote]:
        """The votes whose area holds a house the owner holds today or held on their record
        date, and the votes in which it is the registered delegate (委托代理人) of a house, who
        need hold nothing in the area; each once, brought up to date (`current`: opened or
        closed if its time has come), of `statuses` (None: any), newest first. An owner who sold
        every house of a vote's area before its record date is not among its readers, whatever
        it held there once, unless it is a delegate in that vote."""
        everything = Scope.everything()
        [held] = await self.store.houses_of([owner_id], None, everything)
        codes = sorted({span.house_code for span in held})
        lines = await self.store.ancestors(codes, everything)
        above = {code: {place.code for place in line if place.level in VOTE_PLACES} for code, line in zip(codes, lines)}
        places = sorted(set().union(*above.values())) if above else []
        found = await self.store.votes_at(places, everything, None) if places else []
        today = self.clock().astimezone(CHINA_STANDARD_TIME).date()
        readable: dict[str, Vote] = {}
        for vote in found:
            spans = [span for span in held if vote.place_code in above[span.house_code]]
            if any(span.holds_on(today) or span.holds_on(vote.record_date) for span in spans):
                readable[vote.id] = vote
        delegated = [vote_id for vote_id in await self.store.delegations(owner_id) if vote_id not in readable]
        for stored in await self.store.votes(delegated, everything) if delegated else []:
            if stored is not None:
                readable[stored.id] = stored
        result = []
        for vote in readable.values():
            vote = await self.current(vote)
            if statuses is None or vote.status in statuses:
                result.append(vote)
        return sorted(result, key=lambda vote: vote.id, reverse=True)

    async def may_read(self, vote: Vote, owner_id: str) -> bool:
        """Whether an owner may read a vote: one of its houses lies in the vote's area (held
        today or on the record date, as `owner_votes` says), or it is the registered delegate
        (委托代理人) of one of its houses, who need hold nothing there."""
        if vote.status in (VoteStatus.OPEN, VoteStatus.CLOSED) and owner_id in (await self.roll(vote)).holders:
            return True  # held a house of the electorate on the record date
        if vote.id in {found.id for found in await self.owner_votes(owner_id)}:
            return True
        [delegated] = await self.store.proxies_for(vote.id, [owner_id])
        return bool(delegated)

    async def entries(self, vote_id: str, size: int | None = None) -> list[BallotEntry]:
        log = self.log(vote_id)
        end = await self.store.log_size(log.log) if size is None else size
        stored = await self.store.log_entries(log.log, 0, end)
        return [BallotEntry.parse(entry.payload, where=f"entry {entry.index}") for entry in stored]

    async def turnout(self, vote: Vote) -> list[Turnout]:
        """Per item, the houses, heads and area that have cast so far (their last ballots)."""
        counted = latest(await self.entries(vote.id))
        rows = []
        for item in vote.items:
            ballots = [entry for (number, _), entry in counted.items() if number == item.number]
            rows.append(
                Turnout(
                    item.number,
                    len(ballots),
                    sum((b.share for b in ballots), Fraction(0)),
                    sum(b.area_centi_m2 for b in ballots),
                )
            )
        return rows

    def result(self, vote: Vote) -> Result | None:
        return None if vote.result is None else parse_result(vote.result)

    async def my_houses(self, vote: Vote, owner_id: str) -> list[HouseInVote]:
        """The caller's houses in the vote's electorate (held on the record date, or delegated
        to it), with what it may do and what counts now."""
        vote = await self.current(vote)
        if vote.status not in (VoteStatus.OPEN, VoteStatus.CLOSED):
            return []
        [held] = await self.store.electors_of(vote.id, [owner_id])
        [delegated] = await self.store.proxies_for(vote.id, [owner_id])
        delegated_codes = {proxy.house_code for proxy in delegated}
        extra = [code for code in sorted(delegated_codes) if code not in {e.house_code for e in held}]
        electors = list(held) + [e for e in await self.store.electors(vote.id, extra) if e is not None]
        codes = [elector.house_code for elector in electors]
        proxies = await self.store.proxies(vote.id, codes)
        claims = await self.store.claims([claim_key(vote.id, code) for code in codes])
        history = await self.store.log_entries_by_key(log_name(vote.id), [self.house_tag(vote.id, code) for code in codes])
        counted = latest(BallotEntry.parse(entry.payload, where=f"entry {entry.index}") for entry in history)
        open_now = vote.status is VoteStatus.OPEN and vote.opens_at <= self.clock() < vote.closes_at
        houses = []
        for elector, proxy, claimant in zip(electors, proxies, claims):
            tag = self.house_tag(vote.id, elector.house_code)
            via_proxy = proxy is not None and proxy.delegate == owner_id
            delegated_away = proxy is not None and proxy.delegate != owner_id
            if claimant is None or not any(house == tag for _, house in counted):
                cast_by = None  # a registered proxy holds the claim before its delegate casts
            elif claimant == owner_id:
                cast_by = "you"
            else:
                cast_by = "proxy" if proxy is not None and claimant == proxy.delegate else "co-owner"
            houses.append(
                HouseInVote(
                    elector=elector,
                    via_proxy=via_proxy,
                    cast_by=cast_by,
                    can_cast=open_now and not delegated_away and cast_by != "co-owner",
                    # a ballot is secret from every owner but the one who cast it: a co-owner or
                    # a grantor whose delegate cast the house sees it cast, not what was chosen
                    choices={number: entry.choice for (number, house), entry in counted.items() if house == tag}
                    if claimant == owner_id
                    else {},
                )
            )
        return houses

    # -- organising ----------------------------------------------------------------------------

    async def organise(self, vote: Vote, scope: Scope) -> Vote:
        """Store a new vote noticed now, numbered TPyyyymmddNNNNNN; `vote.organiser` says who.
        InvalidInput naming what is wrong, nothing stored."""
        now = self.clock()
        # the one rule of every write naming a place (graph.reach): outside the scope and nowhere
        # are refused word for word alike
        place = await Reach(self.store, scope).place(vote.place_code, field="place")
        if place.level not in VOTE_PLACES:
            raise InvalidInput("place", vote.place_code, "must be an estate, or a building or entrance of one")
        [line] = await self.store.ancestors([place.code], Scope.everything())
        estate = next((p.code for p in [*line, place] if p.level is Level.ESTATE), None)
        if estate is None:
            raise InvalidInput("place", vote.place_code, "lies in no estate")
        if vote.organiser.role == "committee" and vote.organiser.scope != estate:
            raise InvalidInput("place", vote.place_code, "is not in your committee's estate")
        if vote.record_date > vote.opens_at.astimezone(CHINA_STANDARD_TIME).date():
            raise InvalidInput("recordDate", vote.record_date.isoformat(), "must be on or before the day the vote opens")
        if vote.opens_at < now - dt.timedelta(minutes=5):
            raise InvalidInput("opensAt", vote.opens_at.isoformat(), "is in the past")
        if vote.first_meeting:
            if vote.organiser.role not in ("street", "community", "admin"):
                raise InvalidInput("firstMeeting", "true", "is organised by the street office or community (筹备组)")
            [sitting] = await self.store.committees([estate], now.astimezone(CHINA_STANDARD_TIME).date(), Scope.everything())
            if sitting:
                raise InvalidInput("firstMeeting", "true", f"estate {estate} has a committee in office")
            if vote.opens_at - now < dt.timedelta(days=NOTICE_DAYS_FIRST_MEETING):
                raise InvalidInput(
                    "opensAt", vote.opens_at.isoformat(), f"must be at least {NOTICE_DAYS_FIRST_MEETING} days after the notice (物业管理条例)"
                )
        number = await self.store.next_number(day_prefix(VOTE_PREFIX, now))
        stored = replace(
            vote,
            id=daily_id(day_prefix(VOTE_PREFIX, now), number, what="votes organised"),
            opens_at=max(vote.opens_at, now),  # "now", as the organiser's clock said it a moment ago
            estate_code=estate,
            notice_at=now,
            status=VoteStatus.NOTICED,
            created_at=now,
        )
        check_vote(stored)
        await self.store.save_vote(stored)
        if vote.first_meeting:
            await self.record_step(
                MeetingStep(estate, MeetingStepKind.NOTICE_GIVEN, now, vote.organiser.name, vote.organiser.role, json.dumps({"vote": stored.id}))
            )
        self._announce(stored, "noticed")
        return stored

    async def cancel(self, vote: Vote) -> Vote:
        if not await self.store.cancel_vote(vote.id, self.clock()):
            raise InvalidInput("vote", vote.id, f"is {vote.status.value}; only a vote not yet open can be cancelled")
        self._announce(vote, "cancelled")
        return await self._reread(vote.id)

    async def register_proxy(self, vote: Vote, house_code: str, delegate: str, reference: str, registered_by: str) -> Proxy:
        """Let `delegate` (an owner) cast for a house of the electorate; the vote must be open
        (the electorate is frozen) and the house not cast yet by anyone else."""
        vote = await self.current(vote)
        if vote.status is not VoteStatus.OPEN:
            raise InvalidInput("vote", vote.id, f"is {vote.status.value}; proxies are registered while it is open")
        if not reference.strip():
            raise InvalidInput("reference", reference, "must name the signed authorisation")
        [elector] = await self.store.electors(vote.id, [house_code])
        if elector is None:
            raise InvalidInput("house", house_code, "is not in this vote's electorate")
        [known] = await self.store.owners_known([delegate])
        if not known:
            raise InvalidInput("delegate", delegate, "is not an owner the hub knows")
        # the proxy takes the house's claim for its delegate, atomically: from now on an append by
        # anyone else for the house is refused by the store itself, so casting reads no proxies
        if await self.store.take_claims({claim_key(vote.id, house_code): delegate}) is not None:
            raise InvalidInput("house", house_code, "has been cast already; a proxy cannot take it over")
        proxy = Proxy(vote.id, house_code, "+".join(elector.holders), delegate, reference.strip(), registered_by, self.clock())
        await self.store.save_proxy(proxy)
        return proxy

    # -- opening and closing -------------------------------------------------------------------

    async def open(self, vote: Vote) -> bool:
        """Freeze the electorate and open the vote (once; False if it was not NOTICED)."""
        async with self._opening:
            frozen = await electorates.freeze(self.store, vote.id, vote.place_code, vote.record_date)
            opened = await self.store.open_vote(vote.id, frozen.electors, frozen.totals, self.clock())
        if opened:
            self._announce(vote, "opened")
        return opened

    async def close(self, vote: Vote, *, early: bool = False) -> Vote:
        """Close the vote at or after its closing time, count, publish and apply the result."""
        now = self.clock()
        if vote.status is not VoteStatus.OPEN:
            raise InvalidInput("vote", vote.id, f"is {vote.status.value}, not open")
        if now < vote.closes_at and not early:
            raise InvalidInput("vote", vote.id, f"closes at {vote.closes_at.isoformat()}; it cannot be closed before")
        self._known_votes.pop(vote.id, None)  # casts from now on read the vote again
        log = self.log(vote.id)
        size = await self.store.log_size(log.log)
        entries = await self.entries(vote.id, size)
        assert vote.electorate is not None
        result = tally(vote, vote.electorate, entries)
        if not await self.store.close_vote(vote.id, result.to_json(), now):
            return await self._reread(vote.id)
        await log.sign("final", size=size)
        await self._apply(vote, result, now)
        self._announce(vote, "closed")
        return await self._reread(vote.id)

    async def sweep(self) -> int:
        """Open and close every vote whose time has come; how many moved."""
        moved = 0
        for status in (VoteStatus.NOTICED, VoteStatus.OPEN):
            after = None
            while True:
                page = await self.store.vote_page(Scope.everything(), 500, after, statuses=[status])
                for vote in page.items:
                    fresh = await self.current(vote)
                    moved += fresh.status is not vote.status
                if not page.has_next:
                    break
                after = page.end_cursor
        return moved

    async def _apply(self, vote: Vote, result: Result, now: dt.datetime) -> None:
        day = now.astimezone(CHINA_STANDARD_TIME).date()
        items = {item.number: item for item in vote.items}
        for outcome in result.items:
            item = items[outcome.number]
            if not outcome.passed:
                continue
            if item.form is ItemForm.ELECTION and ItemClass(item.klass) is ItemClass.COMMITTEE and outcome.elected:
                await self._seat_committee(vote, item, outcome.elected, day)
            if item.form is ItemForm.FIRM_CHOICE and outcome.elected:
                await self._change_firm(vote, item, outcome.elected[0], day)
        if vote.first_meeting:
            await self.record_step(
                MeetingStep(vote.estate_code, MeetingStepKind.VOTE_HELD, now, "hub", "hub", json.dumps({"vote": vote.id}))
            )

    async def _seat_committee(self, vote: Vote, item: Item, elected: Sequence[str], day: dt.date) -> None:
        by_id = {candidate.id: candidate for candidate in item.candidates}
        members = tuple(Member(by_id[c].owner_id or "", "委员") for c in elected if by_id[c].owner_id)
        if not members:
            return
        everything = Scope.everything()
        [sitting] = await self.store.committees([vote.estate_code], None, everything)
        start = day
        committee = Committee(
            id=f"{vote.id}-{item.number}",
            estate_code=vote.estate_code,
            members=members,
            term_start=start,
            term_end=start.replace(year=start.year + TERM_YEARS) - dt.timedelta(days=1),
            elected_by=vote.id,
        )
        if any(found.id == committee.id for found in sitting):
            return
        await self.store.save_committee(committee)
        if vote.first_meeting:
            await self.record_step(
                MeetingStep(
                    vote.estate_code,
                    MeetingStepKind.COMMITTEE_ELECTED,
                    dt.datetime.combine(day, dt.time(), CHINA_STANDARD_TIME),
                    "hub",
                    "hub",
                    json.dumps({"vote": vote.id, "committee": committee.id}),
                )
            )

    async def _change_firm(self, vote: Vote, item: Item, chosen: str, day: dt.date) -> None:
        """The chosen firm manages the estate from `takes_effect` (or the day after the close);
        the firm managing it until then stops the day before."""
        by_id = {candidate.id: candidate for candidate in item.candidates}
        firm = by_id[chosen].firm_code
        if firm is None:
            return
        start = item.takes_effect or day + dt.timedelta(days=1)
        [spans] = await self.store.managements([vote.estate_code], None, Scope.everything())

        def runs_on(span: Management) -> bool:
            return span.since <= start and (span.until is None or span.until > start)

        if any(span.firm_code == firm and runs_on(span) for span in spans):
            return
        ended = [replace(span, until=start) for span in spans if span.since < start and (span.until is None or span.until > start)]
        await self.store.write(Batch(managements=[*ended, Management(firm, vote.estate_code, start)]))

    async def record_step(self, step: MeetingStep) -> bool:
        recorded = await self.store.add_meeting_step(step)
        if recorded and step.kind is MeetingStepKind.FILED:
            [sitting] = await self.store.committees([step.estate_code], None, Scope.everything())
            for committee in sitting:
                if committee.filed_on is None:
                    await self.store.file_committee(committee.id, step.at.astimezone(CHINA_STANDARD_TIME).date())
        return recorded

    # -- casting -------------------------------------------------------------------------------

    async def cast(self, vote: Vote, house_code: str, owner_id: str, choices: Mapping[int, Choice]) -> Receipt:
        """Cast `choices` (item number → choice) for one house as `owner_id`; refused with
        InvalidInput naming what is wrong and nothing recorded (see the module docstring)."""
        vote = await self.current(vote)
        now = self.clock()
        if vote.status is VoteStatus.NOTICED or now < vote.opens_at:
            raise InvalidInput("vote", vote.id, f"opens at {vote.opens_at.isoformat()}; no ballot is taken before")
        if vote.status is not VoteStatus.OPEN or now >= vote.closes_at:
            raise InvalidInput("vote", vote.id, f"closed at {vote.closes_at.isoformat()}; no ballot is taken after")
        if not choices:
            raise InvalidInput("choices", "[]", "must give a choice for at least one item")
        items = {item.number: item for item in vote.items}
        checked: dict[int, Choice] = {}
        for number, choice in choices.items():
            item = items.get(number)
            if item is None:
                raise InvalidInput("item", str(number), f"is not an item of vote {vote.id} (1 to {len(items)})")
            checked[number] = check_choice(item, choice)
        elector = (await self.roll(vote)).electors.get(house_code)
        # one refusal for every house the caller has nothing to do with, whether it is outside
        # the electorate, held by others or delegated by others: what an owner may not cast for
        # tells it nothing about who held the house or whether anyone delegated it
        refused = InvalidInput(
            "house", house_code,
            f"is not a house you may cast for in vote {vote.id}: you neither held it on the record date "
            f"{vote.record_date.isoformat()} nor are its registered proxy",
        )
        if elector is None:
            raise refused
        proxy = None  # the proxy the caller casts as, if it does
        if owner_id not in elector.holders or len(elector.holders) > 1:
            [registered] = await self.store.proxies(vote.id, [house_code])
            if registered is not None and registered.delegate == owner_id:
                proxy = registered  # a delegate, or the co-owner the others designated
            elif owner_id not in elector.holders:
                raise refused
        # the sole holder of a house reads no proxies: a registered proxy holds the house's claim
        # for its delegate, so the append below refuses a holder who delegated the house
        k = (await self.roll(vote)).houses_per_head[elector.head]
        key = self._key(vote.id)
        entries = [
            BallotEntry(
                vote_id=vote.id,
                item=number,
                house=tags.house_tag(key, house_code),
                voter=tags.voter_tag(key, elector.head),
                area_centi_m2=elector.area_centi_m2,
                share=Fraction(1, max(k, 1)),
                choice=checked[number],
                at=now,
                proxy=proxy is not None,
            )
            for number in sorted(checked)
        ]
        log = self.log(vote.id)
        try:
            appended = await log.append(
                [NewEntry(entry.house, entry.payload(), now) for entry in entries], claims={claim_key(vote.id, house_code): owner_id}
            )
        except ClaimHeld as held:
            [registered] = await self.store.proxies(vote.id, [house_code]) if proxy is None else [proxy]
            if registered is not None and registered.delegate == held.claimant:
                raise InvalidInput("house", house_code, "is cast by its registered proxy: you have delegated it") from None
            raise InvalidInput("house", house_code, "has been cast by a co-owner; a jointly held house votes once") from None
        head = await log.head_covering(appended.size, "receipt")
        receipt_entries = tuple(
            ReceiptEntry(entry.item, appended.first + offset, merkle.leaf_hash(entry.payload()), entry.payload())
            for offset, entry in enumerate(entries)
        )
        self._announce(vote, "participation")
        return Receipt(vote.id, house_code, receipt_entries, head)

    # -- proofs and verification ---------------------------------------------------------------

    async def final_head(self, vote_id: str) -> SignedHead | None:
        """The head signed at the close (kept in memory once found: it is signed once)."""
        found = self._final_heads.get(vote_id)
        if found is None:
            heads = await self.store.log_heads(log_name(vote_id), ["final"])
            if not heads:
                return None
            found = heads[-1]
            if len(self._final_heads) > 1_000:
                self._final_heads.clear()
            self._final_heads[vote_id] = found
        return found

    async def verify(self, vote_id: str) -> Verification:
        """Recompute everything a vote's published record rests on (see the module docstring)."""
        report = Verification(vote_id)
        [vote] = await self.store.votes([vote_id], Scope.everything())
        if vote is None:
            report.problems.append(f"vote {vote_id} is not in the store")
            return report
        log = self.log(vote_id)
        checked = await log.verify()
        report.entries = checked.entries_checked
        report.heads_checked = checked.heads_checked
        if checked.first_bad_entry is not None:
            where = "" if checked.bad_node is None else f" (its stored {'leaf' if checked.bad_node[0] == 0 else 'node'} {checked.bad_node} does not fit)"
            report.problems.append(f"entry {checked.first_bad_entry} is not what was appended{where}: the board was changed after the fact")
        for damaged in checked.head_problems:
            head = damaged.head
            report.problems.append(f"the {head.kind} head of size {head.size} signed at {head.at.isoformat()}: {damaged.problem}")
        final = await self.final_head(vote_id)
        end = final.size if final is not None else await self.store.log_size(log.log)
        stored = await self.store.log_entries(log.log, 0, await self.store.log_size(log.log))
        key = self._key(vote_id)
        electors: dict[str, Elector] = {}
        after = None
        while True:
            page = await self.store.elector_page(vote_id, 500, after)
            electors.update({tags.house_tag(key, e.house_code): e for e in page.items})
            if not page.has_next:
                break
            after = page.end_cursor
        shares = electorates.shares(list(electors.values()))
        entries: list[BallotEntry] = []
        items = {item.number: item for item in vote.items}
        for entry in stored[:end]:
            try:
                ballot = BallotEntry.parse(entry.payload, where=f"entry {entry.index}")
            except InvalidInput as error:
                report.problems.append(str(error))
                continue
            elector = electors.get(ballot.house)
            problem = None
            if ballot.vote_id != vote_id:
                problem = f"belongs to vote {ballot.vote_id}"
            elif elector is None:
                problem = "is for a house not in the electorate"
            elif ballot.voter != tags.voter_tag(key, elector.head):
                problem = "carries a voter tag that is not its house's head"
            elif ballot.area_centi_m2 != elector.area_centi_m2 or ballot.share != shares[elector.house_code]:
                problem = "carries a weight that is not its house's"
            elif ballot.item not in items:
                problem = f"is for item {ballot.item}, which the vote does not have"
            elif ballot.at < vote.opens_at or ballot.at >= vote.closes_at:
                problem = "was cast outside the vote's opening hours"
            elif entry.key != ballot.house:
                problem = "is filed under another house's key"
            if problem is not None:
                report.problems.append(f"entry {entry.index} {problem}")
                continue
            try:
                check_choice(items[ballot.item], ballot.choice)
            except InvalidInput as error:
                report.problems.append(f"entry {entry.index}: {error}")
                continue
            entries.append(ballot)
        for entry in stored[end:]:
            report.problems.append(f"entry {entry.index} was appended after the final head (size {end})")
        if vote.status is VoteStatus.CLOSED and vote.electorate is not None:
            recount = tally(vote, vote.electorate, entries)
            if vote.result is None or parse_result(vote.result) != recount:
                report.problems.append("the published result is not the count of the board's entries")
        if vote.status is VoteStatus.CLOSED and final is None:
            report.problems.append("the vote is closed but its final head was never signed")
        if final is not None:
            receipts = await self.store.log_heads(log.log, ["receipt"])
            final_confirmed = checked.roots.get(final.size) == final.root
            for head in receipts:
                if head.size > final.size:
                    report.problems.append(f"a receipt's head of size {head.size} is larger than the final head")
                    continue
                if final_confirmed and checked.roots.get(head.size) == head.root:
                    report.receipts_checked += 1  # both roots are the entries': the final extends it
                    continue
                proof = await log.consistency_proof(head.size, final.size) if head.size else []
                if head.size and not merkle.verify_consistency(head.size, final.size, head.root, final.root, proof):
                    report.problems.append(f"the final head does not extend the receipt head of size {head.size} signed at {head.at.isoformat()}")
                report.receipts_checked += 1
        return report

    # -- internals -----------------------------------------------------------------------------

    async def _reread(self, vote_id: str) -> Vote:
        [fresh] = await self.store.votes([vote_id], Scope.everything())
        assert fresh is not None
        return fresh

    def _announce(self, vote: Vote, kind: str) -> None:
        if self.bus is not None:
            self.bus.publish(Event(Topic.VOTES, vote.id, kind, vote.place_code))
