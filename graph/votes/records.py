"""What the hub keeps of owners' decisions (业主大会 · 电子投票), and the port that keeps it.

A vote (表决) belongs to a place — an estate, or one building or entrance of it for matters of that
part only — and is organised by a principal entitled to: the estate's owners' committee, or the
street office or community acting as 筹备组 / 换届小组. It has items (事项), each of one legal
class of Civil Code Art. 278 (`graph.votes.law.ItemClass`) and one form (a motion, an election,
a choice of property firm).

The electorate is frozen when the vote opens: one `Elector` row per house in the voting area held
on the record date, with its exclusive area, its holders and the head it counts as. Ballots are
entries of the vote's Merkle log (`graph.logstore`, log `vote:<id>`), not records of this port.

Also kept here: proxies (委托) registered by the organiser, owners' committees (业主委员会) with
their members and terms, and the steps of an estate's first owners' meeting (首次业主大会).

Scope: a vote, its electors and proxies are in a caller's scope when the vote's place is; a
committee and a meeting step when its estate is. Out of scope behaves as absent.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from graph.model import Page
from graph.scope import Scope


class VoteStatus(enum.Enum):
    NOTICED = "noticed"  # announced (公告): items and documents public, not open yet
    OPEN = "open"  # the electorate frozen, ballots accepted until the close
    CLOSED = "closed"  # closed, tallied and the result published
    CANCELLED = "cancelled"  # withdrawn by its organiser before it opened


class ItemForm(enum.Enum):
    MOTION = "motion"  # 同意 / 反对 / 弃权
    ELECTION = "election"  # candidates for a number of seats
    FIRM_CHOICE = "firm_choice"  # one property firm among several


@dataclass(frozen=True, slots=True)
class Document:
    """A document of a vote: its title, its text, and a reference to an attachment (a file name
    or URL the organiser keeps; may be empty)."""

    title: str
    text: str = ""
    ref: str = ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A candidate of an election (an owner, `owner_id` set) or of a firm choice (`firm_code`
    set); `id` is its number within the item ("1", "2", …), `name` is public (published with the
    notice)."""

    id: str
    name: str
    owner_id: str | None = None
    firm_code: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """An item (事项) of a vote: `number` from 1, `klass` the Art. 278 class (1–9), its form, and
    for elections the candidates and seats; for a firm choice the candidates (firms) and the day
    the chosen firm takes over (`takes_effect`)."""

    number: int
    klass: int
    form: ItemForm
    title: str
    text: str = ""
    candidates: tuple[Candidate, ...] = ()
    seats: int = 0
    takes_effect: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Organiser:
    """Who organises a vote: the role and scope code of its token (committee → the estate;
    street, community → their place), the token holder's name, and the capacity it acts in
    (业主委员会, 筹备组, 换届小组)."""

    role: str
    scope: str
    name: str
    capacity: str


@dataclass(frozen=True, slots=True)
class Electorate:
    """The electorate's totals, frozen at the open: houses, heads, exclusive area (centi-m²)."""

    houses: int
    heads: int
    area_centi_m2: int


@dataclass(frozen=True, slots=True)
class Vote:
    id: str
    place_code: str  # estate, building or entrance
    estate_code: str
    organiser: Organiser
    title: str
    record_date: dt.date
    notice_at: dt.datetime
    opens_at: dt.datetime
    closes_at: dt.datetime
    items: tuple[Item, ...]
    documents: tuple[Document, ...] = ()
    status: VoteStatus = VoteStatus.NOTICED
    created_at: dt.datetime | None = None
    first_meeting: bool = False  # the estate's first owners' meeting (首次业主大会)
    electorate: Electorate | None = None  # set by open_vote
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    result: str | None = None  # the published result, canonical JSON (graph.votes.tally)


@dataclass(frozen=True, slots=True)
class Elector:
    """A house of the frozen electorate: its exclusive area, the owners holding it on the record
    date (ids, sorted), the co-owner they designated to cast (None: the first to cast), and the
    head it counts as (`head`: the owner's id for a house held alone, the sorted ids joined by
    "+" for one held jointly — graph.votes.electorate says why)."""

    vote_id: str
    house_code: str
    area_centi_m2: int
    holders: tuple[str, ...]
    head: str
    designated: str | None = None


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy (委托): the owner `grantor` lets the owner `delegate` cast for `house_code` in
    `vote_id`, on the signed authorisation `reference`, registered by the organiser."""

    vote_id: str
    house_code: str
    grantor: str
    delegate: str
    reference: str
    registered_by: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Member:
    """A committee member: an owner (by id) and the post held (主任, 副主任, 委员)."""

    owner_id: str
    post: str


@dataclass(frozen=True, slots=True)
class Committee:
    """An owners' committee (业主委员会) of an estate for a term; `elected_by` the vote that
    elected it (None: recorded from paper), `filed_on` the day its 备案 with the street was
    recorded (None: not yet)."""

    id: str
    estate_code: str
    members: tuple[Member, ...]
    term_start: dt.date
    term_end: dt.date
    elected_by: str | None = None
    filed_on: dt.date | None = None


class MeetingStepKind(enum.Enum):
    """The steps of an estate's first owners' meeting, in their order."""

    GROUP_FORMED = "group_formed"  # 筹备组成立 (by the street, members named)
    DOCUMENTS_PUBLISHED = "documents_published"  # 文件公示
    NOTICE_GIVEN = "notice_given"  # 会议公告, at least 15 days before the vote
    VOTE_HELD = "vote_held"  # 表决 (the vote's id in `detail`)
    COMMITTEE_ELECTED = "committee_elected"  # 选举产生业主委员会
    FILED = "filed"  # 备案


@dataclass(frozen=True, slots=True)
class MeetingStep:
    """One step of an estate's first owners' meeting: when, who did it (name and role), and its
    particulars (`detail`: JSON object text, e.g. the group's members, the vote id)."""

    estate_code: str
    kind: MeetingStepKind
    at: dt.datetime
    actor: str
    role: str
    detail: str = "{}"


@dataclass(frozen=True, slots=True)
class CommitteeCount:
    """Under one place: its estates, and how many have a committee in office on the day asked."""

    code: str
    estates: int
    with_committee: int


class VoteStore(Protocol):
    """The vote part of the store port: storage primitives only (graph.votes.service decides what
    is valid and when). Every write is atomic: a refused write leaves nothing of itself."""

    async def save_vote(self, vote: Vote) -> None:
        """Store a new vote with its items and documents (status NOTICED, no electorate). An id
        already stored is StoreError naming it, the first kept; a place not stored, or an
        estate_code that is not the estate holding the place, InvalidInput naming the vote."""

    async def votes(self, ids: Sequence[str], scope: Scope) -> list[Vote | None]:
        """The votes with these ids, in order; None where missing or out of scope."""

    async def votes_at(
        self, place_codes: Sequence[str], scope: Scope, statuses: Sequence[VoteStatus] | None = None
    ) -> list[Vote]:
        """The votes whose place is one of `place_codes` (exactly: not under), in scope, of
        `statuses` (None: any), ordered by id."""

    async def vote_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        statuses: Sequence[VoteStatus] | None = None,
    ) -> Page[Vote]:
        """Votes in scope whose place is `within` or under it (None: anywhere), of `statuses`,
        ordered by id, keyset-paged like every list (first clamped to 1..MAX_PAGE, opaque
        cursors; a cursor the store did not make is InvalidInput)."""

    async def open_vote(
        self, vote_id: str, electors: Sequence[Elector], electorate: Electorate, at: dt.datetime
    ) -> bool:
        """If the vote is NOTICED: store its electors and totals, status OPEN, opened_at `at`,
        all at once, and return True. Otherwise (unknown, already open, closed, cancelled)
        change nothing and return False. Electors of another vote id are InvalidInput."""

    async def close_vote(self, vote_id: str, result: str, at: dt.datetime) -> bool:
        """If the vote is OPEN: status CLOSED, closed_at `at`, result `result`; True. Otherwise
        change nothing and return False (so two closers publish one result)."""

    async def cancel_vote(self, vote_id: str, at: dt.datetime) -> bool:
        """If the vote is NOTICED: status CANCELLED, closed_at `at`; True. Otherwise False."""

    async def electors(self, vote_id: str, house_codes: Sequence[str]) -> list[Elector | None]:
        """The electorate's rows for these houses, in order; None where the house is not in it.
        Unscoped (the service checks the vote's scope first)."""

    async def electors_of(self, vote_id: str, owner_ids: Sequence[str]) -> list[list[Elector]]:
        """For each owner, the electorate's houses it holds (is among the holders of), by house
        code. Unscoped."""

    async def elector_page(self, vote_id: str, first: int, after: str | None = None) -> Page[Elector]:
        """The electorate, by house code, keyset-paged (first clamped to 1..MAX_PAGE). Unscoped."""

    async def save_proxy(self, proxy: Proxy) -> None:
        """Register a proxy. A house with a proxy already in that vote is StoreError naming the
        house, the first kept; a vote or house not in the vote's electorate is InvalidInput."""

    async def proxies(self, vote_id: str, house_codes: Sequence[str]) -> list[Proxy | None]:
        """The proxy registered for each house, in order; None where there is none. Unscoped."""

    async def proxies_for(self, vote_id: str, delegates: Sequence[str]) -> list[list[Proxy]]:
        """For each delegate owner id, the proxies naming it, by house code. Unscoped."""

    async def delegations(self, delegate: str) -> list[str]:
        """The ids of the votes in which the owner `delegate` is the delegate of at least one
        registered proxy, each once, sorted; empty for an owner named by none. Unscoped (the
        caller decides what a delegate may see of each vote)."""

    async def save_committee(self, committee: Committee) -> None:
        """Store a committee. An id already stored is StoreError naming it; an estate not
        stored, or a term ending before it starts, InvalidInput."""

    async def file_committee(self, committee_id: str, on: dt.date) -> bool:
        """Record the committee's 备案 on `on` if not recorded yet; True if this call recorded it,
        False if it was recorded before (the first day kept) or the committee is unknown."""

    async def committees(
        self, estate_codes: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Committee]]:
        """For each estate, its committees in office on `as_of` (term_start <= as_of <=
        term_end; None: all, past and present), by term_start then id; empty when out of
        scope."""

    async def committee_counts(
        self, codes: Sequence[str], as_of: dt.date, scope: Scope
    ) -> list[CommitteeCount | None]:
        """For each place, the estates at or under it in scope and how many of them have a
        committee in office on `as_of`; None where the place is missing or out of scope."""

    async def add_meeting_step(self, step: MeetingStep) -> bool:
        """Record a step of an estate's first owners' meeting; True if recorded, False if a step
        of that kind is already recorded for the estate (the first kept). An estate not stored,
        or a detail that is not a JSON object, InvalidInput."""

    async def meeting_steps(self, estate_codes: Sequence[str], scope: Scope) -> list[list[MeetingStep]]:
        """For each estate, its recorded steps in the order of `MeetingStepKind`; empty when
        out of scope or none."""

    async def meetings_under(self, within: str, scope: Scope) -> list[list[MeetingStep]]:
        """The steps of every estate at or under `within` in scope that has at least one, one
        list per estate (steps in kind order), estates by code."""
