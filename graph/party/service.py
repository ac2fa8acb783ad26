"""The rules of party building over the store port (`graph.party.records.PartyStore`).

- Founding: a firm's organisation names a firm the hub knows, a committee's an estate with an
  owners' committee in office; an organisation is founded with no
  secretary (it has no members yet) — `record` names one among its current members.
- Members: a declared link is checked against what the hub holds: an owner the hub knows; a
  member of the estate's owners' committee in office on the day of joining; a member of staff
  the hub holds (`StaffLinks`, over the staff records) — in a firm's organisation, one employed
  by that firm (a firm's staff outside it, and an unknown id, get the same answer); in a
  community's or a committee's organisation any member of staff (a mechanic may belong to the
  branch of the community it serves).
  A member leaves on a day (kept, with its claims); a secretary who leaves stops being secretary.
- Claims (党员认领): a current member with a declared link takes an open case (OPEN_STATUSES) at
  a place in an estate of its link — the estates of the houses an owner holds today, its
  committee's estate, the estates a member of staff works in (`StaffLinks.estates`). One
  active claim per case per member (the store holds it, writers at once included). The claim and its outcome
  (resolved, or handed back saying why) are events in the case's history, written through
  `graph.casework.Casework` (an event that keeps the status), never beside it.
- Figures per place: the estates at or under it; the members of owners' committees in office
  today and how many of them are current party members (declared as the owner or as the
  committee member); the firms managing those estates today and how many have an
  organisation; the claims made and handled in a period.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from graph.cases import OPEN_STATUSES
from graph.casework import Casework
from graph.clock import CHINA_STANDARD_TIME
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.party.checks import NOTE_LIMIT, check_link, check_text
from graph.party.records import (
    CaseClaim,
    ClaimOutcome,
    ClaimTaken,
    HostKind,
    LinkKind,
    OrganisationKind,
    PartyMember,
    PartyOrganisation,
    PersonLink,
)
from graph.scope import Scope
from graph.staff.records import StaffMember
from graph.store import MAX_PAGE, Store
from graph.workflow import Workflow

EVERYTHING = Scope.everything()
ATTEMPTS = 8


class StaffLinks:
    """What party building reads of the staff records (graph.staff.records.StaffStore), unscoped:
    the hub deciding, not the caller reading."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def member(self, staff_id: str) -> StaffMember | None:
        """The stored member of staff with this id, or None."""
        [found] = await self.store.staff([staff_id], EVERYTHING)
        return found

    async def estates(self, staff_id: str, on: dt.date) -> set[str]:
        """The estates the member of staff works in (its record keeps no dates: today's, whatever
        `on`); none for an id the hub no longer holds."""
        found = await self.member(staff_id)
        return set() if found is None else set(found.estates)


@dataclass(frozen=True, slots=True)
class PartyFigures:
    code: str
    estates: int = 0
    committee_members: int = 0
    committee_party_members: int = 0
    firms_managing: int = 0
    firms_with_organisation: int = 0
    claims_made: int = 0
    claims_handled: int = 0
    claims_resolved: int = 0
    claims_handed_back: int = 0


_UNSET = object()


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _unseen_member(member_id: str) -> InvalidInput:
    return InvalidInput("member", member_id, "is not a party member you can see")


class Party:
    """Party building over a store; cheap to build (one per request is fine)."""

    def __init__(self, store: Store, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or _real_now
        self.staff = StaffLinks(store)

    def now(self) -> dt.datetime:
        return self.clock().astimezone(dt.timezone.utc)

    def today(self) -> dt.date:
        return self.clock().astimezone(CHINA_STANDARD_TIME).date()

    # -- organisations ---------------------------------------------------------------------

    async def found(self, organisation: PartyOrganisation) -> PartyOrganisation:
        """Store a new organisation (no secretary yet); a firm's must name a known firm."""
        if organisation.secretary is not None:
            raise InvalidInput("secretary", organisation.secretary, "is named once the organisation has members (recordPartyOrganisation)")
        if organisation.host_kind is HostKind.FIRM:
            [firm] = await self.store.firms([organisation.host], EVERYTHING)
            if firm is None:
                raise InvalidInput("host", organisation.host, "is not a property firm the hub knows")
        elif organisation.host_kind is HostKind.COMMITTEE:
            [committees] = await self.store.committees([organisation.host], self.today(), EVERYTHING)
            if not committees:
                raise InvalidInput("host", organisation.host, "has no owners' committee in office today")
        organisation = replace(organisation, version=1)
        await self.store.save_party_organisation(organisation)
        return organisation

    async def record(
        self,
        organisation: PartyOrganisation,
        *,
        name: str | None = None,
        kind: OrganisationKind | None = None,
        founded_on: dt.date | None = None,
        secretary: object = _UNSET,
    ) -> PartyOrganisation:
        """Change what is recorded of an organisation the caller has read (its name, kind,
        founding day, secretary: a current member of it, or None to name none)."""
        if isinstance(secretary, str):
            [members] = await self.store.party_members([organisation.id], EVERYTHING)
            if not any(m.id == secretary and m.active_on(self.today()) for m in members):
                raise InvalidInput("secretary", secretary, f"is not a current member of {organisation.id}")
        current = organisation
        for _ in range(ATTEMPTS):
            wanted = replace(
                current,
                name=current.name if name is None else name,
                kind=current.kind if kind is None else OrganisationKind(kind),
                founded_on=current.founded_on if founded_on is None else founded_on,
                secretary=current.secretary if secretary is _UNSET else secretary,  # type: ignore[arg-type]
            )
            stored = await self.store.update_party_organisation(wanted, current.version)
            if stored is not None:
                return stored
            [fresh] = await self.store.party_organisations([organisation.id], EVERYTHING)
            if fresh is None:
                break
            current = fresh
        raise StoreError(f"party organisation {organisation.id} kept changing under this change: try again")

    # -- members ---------------------------------------------------------------------------

    async def check_link(self, link: PersonLink, on: dt.date, organisation: PartyOrganisation | None = None) -> None:
        """Refuse a link naming nobody the hub holds (InvalidInput naming `link`); in a firm's
        `organisation`, a staff link naming anyone but that firm's staff."""
        check_link(link, "link")
        kind = LinkKind(link.kind)
        if kind is LinkKind.OWNER:
            [known] = await self.store.owners_known([link.id])
            if not known:
                raise InvalidInput("link", link.id, "is not an owner the hub knows")
        elif kind is LinkKind.COMMITTEE:
            estate, _, owner = link.id.partition("/")
            if owner not in await self._committee_owners(estate, on):
                raise InvalidInput("link", link.id, f"is not a member of {estate}'s owners' committee in office on {on}")
        elif organisation is not None and organisation.host_kind is HostKind.FIRM:
            staff = await self.staff.member(link.id)
            if staff is None or staff.employer != organisation.host:
                raise InvalidInput("link", link.id, f"is not a member of {organisation.host}'s staff the hub knows")
        elif await self.staff.member(link.id) is None:
            raise InvalidInput("link", link.id, "is not a staff member the hub knows")

    async def _committee_owners(self, estate: str, on: dt.date) -> set[str]:
        [committees] = await self.store.committees([estate], on, EVERYTHING)
        return {member.owner_id for committee in committees for member in committee.members}

    async def add_member(
        self, organisation: PartyOrganisation, name: str, joined_on: dt.date, *, post: str = "", link: PersonLink | None = None
    ) -> PartyMember:
        """Add a member to an organisation the caller has read; the id is the hub's (PM…)."""
        if joined_on > self.today():
            raise InvalidInput("joinedOn", joined_on, "is after today")
        if link is not None:
            await self.check_link(link, self.today(), organisation)
        member = PartyMember(
            id="PM" + secrets.token_hex(6).upper(), organisation_id=organisation.id, name=name.strip(), joined_on=joined_on,
            post=post.strip(), link=link,
        )
        await self.store.save_party_member(member)
        return member

    async def remove_member(self, member: PartyMember, on: dt.date) -> PartyMember:
        """Record that a member the caller has read left on `on` (kept, with its claims); a
        secretary who leaves stops being secretary."""
        if member.left_on is not None:
            raise InvalidInput("member", member.id, f"left on {member.left_on} already")
        if on > self.today():
            raise InvalidInput("on", on, "is after today")
        if not await self.store.end_party_member(member.id, on):
            raise InvalidInput("member", member.id, "left already")
        [organisation] = await self.store.party_organisations([member.organisation_id], EVERYTHING)
        if organisation is not None and organisation.secretary == member.id:
            await self.record(organisation, secretary=None)
        [stored] = await self.store.party_members_by_id([member.id], EVERYTHING)
        assert stored is not None
        return stored

    async def estates_of(self, member: PartyMember, on: dt.date) -> set[str]:
        """The estates a member may claim in on `on`: its link's (none without a link)."""
        link = member.link
        if link is None:
            return set()
        if link.kind is LinkKind.OWNER:
            [held] = await self.store.houses_of([link.id], on, EVERYTHING)
            houses = sorted({item.house_code for item in held})
            lines = await self.store.ancestors(houses, EVERYTHING) if houses else []
            return {place.code for line in lines for place in line if place.level is Level.ESTATE}
        if link.kind is LinkKind.COMMITTEE:
            estate, _, owner = link.id.partition("/")
            return {estate} if owner in await self._committee_owners(estate, on) else set()
        return set(await self.staff.estates(link.id, on))

    # -- claims ----------------------------------------------------------------------------

    async def claim(self, member: PartyMember, case_id: str, *, scope: Scope, actor: str, note: str = "") -> CaseClaim:
        """The member (read by the caller) claims an open case the caller can see in an estate
        of its link; recorded as a claim and as an event in the case's history."""
        check_text(note, "note", NOTE_LIMIT, required=False)
        today = self.today()
        if not member.active_on(today):
            raise InvalidInput("member", member.id, "is not a current party member")
        [case] = await self.store.cases([case_id], scope)
        if case is None:
            raise InvalidInput("case", case_id, "is not a case you can see")
        if case.status not in OPEN_STATUSES:
            raise InvalidInput("case", case_id, f"is {case.status.value} ({case.status.label}): only an open case may be claimed")
        if member.link is None:
            raise InvalidInput("member", member.id, "has no declared link to a person, so no estate to claim in")
        estate = await Workflow(self.store).estate_of(case)
        estates = await self.estates_of(member, today)
        if estate is None or estate not in estates:
            raise InvalidInput("case", case_id, f"is not in an estate of member {member.id} ({member.link.kind.value} link)")
        made = CaseClaim(
            id="RL" + secrets.token_hex(6).upper(), case_id=case.id, member_id=member.id, organisation_id=member.organisation_id,
            estate_code=estate, claimed_at=self.now(), claimed_by=actor, note=note,
        )
        try:
            await self.store.save_case_claim(made)
        except ClaimTaken:
            raise InvalidInput("case", case_id, f"is claimed by member {member.id} already (one active claim per case and member)") from None
        event = f"党员认领 {made.id}（党员 {member.id}）" + (f"：{note}" if note else "")
        await Casework(self.store).advance_case(case.id, [], actor=actor, note=event, at=made.claimed_at, scope=EVERYTHING)
        return made

    async def finish(self, claim: CaseClaim, outcome: ClaimOutcome, *, actor: str, note: str = "") -> CaseClaim:
        """Record the outcome of an active claim the caller has read (handed back needs a note
        saying why); also an event in the case's history."""
        check_text(note, "note", NOTE_LIMIT, required=False)
        chosen = ClaimOutcome(outcome)
        if chosen is ClaimOutcome.HANDED_BACK and not note.strip():
            raise InvalidInput("note", note, "must say why the claim is handed back")
        if not claim.active:
            raise InvalidInput("claim", claim.id, f"has its outcome already ({claim.outcome.value if claim.outcome else ''})")
        at = self.now()
        finished = await self.store.finish_case_claim(claim.id, chosen, note, at, actor)
        if finished is None:
            raise InvalidInput("claim", claim.id, "has its outcome already")
        event = f"党员认领 {claim.id} {chosen.label}" + (f"：{note}" if note else "")
        await Casework(self.store).advance_case(claim.case_id, [], actor=actor, note=event, at=at, scope=EVERYTHING)
        return finished

    # -- figures ---------------------------------------------------------------------------

    async def figures(
        self, codes: Sequence[str], scope: Scope, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[PartyFigures | None]:
        """Each place's figures (see the module docstring); None where missing or out of scope.
        The estates under all the places are read once and each estate's committee, firms and
        party members in batches, however many places are asked (a page of estates included)."""
        tallies = await self.store.claim_tallies(codes, scope, since=since, until=until)
        places = await self.store.places(codes, scope)
        under: dict[str, list[str]] = {}
        for code, place, tally in zip(codes, places, tallies):
            if tally is None or place is None or code in under:
                continue
            if place.level is Level.ESTATE:
                under[code] = [code]
            elif place.level < Level.ESTATE:
                under[code] = await self._estates_under(code, scope)
            else:
                under[code] = []  # a building, entrance or house: no estate of its own
        estates = sorted({estate for found in under.values() for estate in found})
        seats, firms, organised = await self._estate_people(estates, scope)
        answers: list[PartyFigures | None] = []
        for code, tally in zip(codes, tallies):
            if tally is None or code not in under:
                answers.append(None)
                continue
            mine = under[code]
            managing = {firm for estate in mine for firm in firms.get(estate, ())}
            answers.append(
                PartyFigures(
                    code,
                    estates=len(mine),
                    committee_members=sum(len(seats.get(estate, {})) for estate in mine),
                    committee_party_members=sum(sum(seats.get(estate, {}).values()) for estate in mine),
                    firms_managing=len(managing),
                    firms_with_organisation=len(managing & organised),
                    claims_made=tally.made,
                    claims_handled=tally.handled,
                    claims_resolved=tally.resolved,
                    claims_handed_back=tally.handed_back,
                )
            )
        return answers

    async def _estates_under(self, code: str, scope: Scope) -> list[str]:
        estates: list[str] = []
        after: str | None = None
        while True:
            page = await self.store.subtree(Level.ESTATE, code, scope, MAX_PAGE, after)
            estates += [place.code for place in page.items]
            if not page.has_next:
                return estates
            after = page.end_cursor

    async def _estate_people(
        self, estates: list[str], scope: Scope
    ) -> tuple[dict[str, dict[str, bool]], dict[str, set[str]], set[str]]:
        """Per estate: its committee members in office today (owner id → whether a current
        party member, as the owner or as the committee member) and the firms managing it today;
        and which of those firms have an organisation."""
        today = self.today()
        seats: dict[str, dict[str, bool]] = {}
        firms: dict[str, set[str]] = {}
        for start in range(0, len(estates), MAX_PAGE):
            chunk = estates[start : start + MAX_PAGE]
            for estate, committees in zip(chunk, await self.store.committees(chunk, today, scope)):
                if committees:
                    seats[estate] = {member.owner_id: False for committee in committees for member in committee.members}
            for estate, spans in zip(chunk, await self.store.managements(chunk, today, scope)):
                if spans:
                    firms[estate] = {span.firm_code for span in spans}
        pairs = [(estate, owner) for estate, owners in seats.items() for owner in owners]
        links = [PersonLink(LinkKind.OWNER, owner) for _, owner in pairs] + [
            PersonLink(LinkKind.COMMITTEE, f"{estate}/{owner}") for estate, owner in pairs
        ]
        found = await self.store.linked_party_members(links) if links else []
        for n, (estate, owner) in enumerate(pairs):
            declared = found[n] + found[len(pairs) + n]
            seats[estate][owner] = any(member.active_on(today) for member in declared)
        managing = sorted({firm for codes in firms.values() for firm in codes})
        hosted = await self.store.hosted_organisations(managing) if managing else []
        organised = {firm for firm, orgs in zip(managing, hosted) if any(org.host_kind is HostKind.FIRM for org in orgs)}
        return seats, firms, organised
