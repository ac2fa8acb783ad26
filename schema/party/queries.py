"""Party building (党建) in GraphQL.

| field                                        | roles (schema.party.access)                                    |
|----------------------------------------------|----------------------------------------------------------------|
| partyOrganisations, partyOrganisation        | community, street, district, city (in scope), admin; a firm its own |
| partyClaims                                  | the same (a firm: its own members' claims)                      |
| partyFigures, partyEstates                   | community, street, district, city (in scope), admin              |
| foundPartyOrganisation, recordPartyOrganisation, addPartyMember, removePartyMember, claimCase, recordClaimOutcome | community office (its community's and committees' organisations), street, district, city (in scope), admin; a firm for its own |

Owners and owners' committees read nothing: null, empty lists, no error saying anything exists.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from graph.errors import InvalidInput
from graph.funds.service import period_bounds
from graph.levels import Level
from graph.party.checks import check_organisation_place
from graph.party.records import ClaimOutcome, HostKind, LinkKind, OrganisationKind
from graph.party.records import PartyOrganisation as OrganisationRecord
from graph.party.records import PersonLink as LinkRecord
from graph.security import Role
from graph.store import MAX_PAGE
from schema.context import Info
from schema.fields import field
from schema.party.access import (
    EVERYTHING,
    OFFICES,
    acting_for,
    acting_member,
    actor_name,
    claim_scope,
    may_found,
    party_of,
    readable_claims,
    readable_organisations,
    require_actor,
)
from schema.party.types import CaseClaim, PartyFigures, PartyMember, PartyOrganisation, PartyOrganisationPage


@strawberry.input(description="A party organisation to found.")
class PartyOrganisationInput:
    id: str = strawberry.field(description="Its reference, e.g. DZB-370202001001 (letters, digits, . _ -; no spaces).")
    name: str
    kind: OrganisationKind
    host_kind: HostKind
    host: str | None = strawberry.field(default=None, description="The firm's credit code (a firm: its own, may be left out), the committee's estate, or the community's code.")
    place: str | None = strawberry.field(default=None, description="A firm's organisation: the street or community overseeing it (属地). Others sit in their host.")
    founded_on: dt.date


@strawberry.input(description="A member's declared link to a person.")
class PersonLinkInput:
    kind: LinkKind
    id: str = strawberry.field(description="An owner's id; `<estate>/<owner id>` for a committee member; a staff id.")


@strawberry.input(description="A member to add, as the organisation declares it.")
class PartyMemberInput:
    name: str
    joined_on: dt.date
    post: str = ""
    link: PersonLinkInput | None = None


def _period(period: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    if period is None:
        return None, None
    return period_bounds(period)


@strawberry.type
class PartyQueries:
    @field(description="Party organisations at or under a place (anywhere when not given), by id; a firm sees its own only.")
    async def party_organisations(
        self, info: Info, within: str | None = None, first: int = 100, after: str | None = None
    ) -> PartyOrganisationPage:
        if not 1 <= first <= MAX_PAGE:
            raise InvalidInput("first", first, f"must be between 1 and {MAX_PAGE}")
        principal = info.context.principal
        store = info.context.store
        if principal.role in OFFICES:
            page = await store.party_organisation_page(info.context.scope, first, after, within=within)
        elif principal.role is Role.PROPERTY_FIRM:
            page = await store.party_organisation_page(
                EVERYTHING, first, after, within=within, host=principal.scope
            )
            page = type(page)(
                items=[org for org in page.items if org.host_kind is HostKind.FIRM], has_next=page.has_next, end_cursor=page.end_cursor
            )
        else:
            return PartyOrganisationPage(items=[], has_next=False, end_cursor=None)
        return PartyOrganisationPage(items=[PartyOrganisation(record=org) for org in page.items], has_next=page.has_next, end_cursor=page.end_cursor)

    @field(description="A party organisation; null if you may not see it.")
    async def party_organisation(self, info: Info, id: str) -> PartyOrganisation | None:
        [found] = await readable_organisations(info, [id])
        return PartyOrganisation(record=found) if found is not None else None

    @field(description="The party members' claims of a case you can see, oldest first.")
    async def party_claims(self, info: Info, case: str) -> list[CaseClaim]:
        [found] = await info.context.store.claims_of_cases([case], claim_scope(info))
        return [CaseClaim(record=claim) for claim in await readable_claims(info, found) if claim is not None]

    @field(description="Party building figures of a place (any level) over a period (2026-11, 2026-Q4, 2026-H2, 2026-Y; all time when not given); null if you may not see them.")
    async def party_figures(self, info: Info, place: str, period: str | None = None) -> PartyFigures | None:
        if info.context.principal.role not in OFFICES:
            return None
        since, until = _period(period)
        [found] = await party_of(info).figures([place], info.context.scope, since=since, until=until)
        return PartyFigures(record=found, period=period) if found is not None else None

    @field(description="The party building figures of each estate at or under a place in your scope, by code.")
    async def party_estates(
        self, info: Info, within: str, period: str | None = None, first: int = 50, after: str | None = None
    ) -> list[PartyFigures]:
        if info.context.principal.role not in OFFICES:
            return []
        if not 1 <= first <= 100:
            raise InvalidInput("first", first, "must be between 1 and 100")
        since, until = _period(period)
        page = await info.context.store.subtree(Level.ESTATE, within, info.context.scope, first, after)
        estates = list(page.items)
        figures = await party_of(info).figures([e.code for e in estates], info.context.scope, since=since, until=until)
        return [PartyFigures(record=f, period=period, name=e.name) for e, f in zip(estates, figures) if f is not None]


@strawberry.type
class PartyMutations:
    @field(description="Found a party organisation: a community's (community office, street above), a committee's (the same), a firm's (the firm itself, street above).")
    async def found_party_organisation(self, info: Info, organisation: PartyOrganisationInput) -> PartyOrganisation:
        require_actor(info, "found party organisations")
        principal = info.context.principal
        host = organisation.host
        if host is None and principal.role is Role.PROPERTY_FIRM and organisation.host_kind is HostKind.FIRM:
            host = principal.scope
        if host is None:
            raise InvalidInput("host", None, "is needed: the firm's credit code, the committee's estate or the community's code")
        host = host.strip().upper() if organisation.host_kind is HostKind.FIRM else host.strip()
        if organisation.host_kind is HostKind.FIRM:
            if organisation.place is None:
                raise InvalidInput("place", None, "is needed for a firm's organisation: the street or community overseeing it")
            place = organisation.place.strip()
        else:
            place = host
        await may_found(info, organisation.host_kind, host, place)
        record = OrganisationRecord(
            id=organisation.id.strip(), name=organisation.name.strip(), kind=organisation.kind, host_kind=organisation.host_kind,
            host=host, place_code=place, founded_on=organisation.founded_on,
        )
        if principal.role is Role.PROPERTY_FIRM and not _oversees(info.context.scope.roots or frozenset(), place):
            # a firm's organisation sits in a street or community over one of the firm's own
            # estates; any other answers as a place that does not exist
            check_organisation_place(record, None)
        return PartyOrganisation(record=await party_of(info).found(record))

    @field(description="Change what is recorded of an organisation: its name, kind, founding day, secretary (a current member; clearSecretary names none).")
    async def record_party_organisation(
        self, info: Info, id: str, name: str | None = None, kind: OrganisationKind | None = None,
        founded_on: dt.date | None = None, secretary: str | None = None, clear_secretary: bool = False,
    ) -> PartyOrganisation:
        organisation = await acting_for(info, id, "record party organisations")
        if secretary is not None and clear_secretary:
            raise InvalidInput("clearSecretary", True, "cannot go with a secretary named")
        changes: dict[str, object] = {}
        if secretary is not None:
            changes["secretary"] = secretary
        elif clear_secretary:
            changes["secretary"] = None
        recorded = await party_of(info).record(
            organisation, name=name.strip() if name is not None else None, kind=kind, founded_on=founded_on, **changes
        )
        return PartyOrganisation(record=recorded)

    @field(description="Add a member as the organisation declares it; the link to the person only where declared.")
    async def add_party_member(self, info: Info, organisation: str, member: PartyMemberInput) -> PartyMember:
        found = await acting_for(info, organisation, "add party members")
        link = None if member.link is None else LinkRecord(member.link.kind, member.link.id.strip())
        added = await party_of(info).add_member(found, member.name, member.joined_on, post=member.post, link=link)
        return PartyMember(record=added)

    @field(description="Record that a member left on a day (today when not given); kept, with its claims.")
    async def remove_party_member(self, info: Info, id: str, on: dt.date | None = None) -> PartyMember:
        member = await acting_member(info, id, "remove party members")
        return PartyMember(record=await party_of(info).remove_member(member, on or info.context.today))

    @field(description="党员认领: a member claims an open case you can see in an estate of its declared link; the claim goes on the case's history.")
    async def claim_case(self, info: Info, member: str, case: str, note: str = "") -> CaseClaim:
        found = await acting_member(info, member, "record claims")
        claim = await party_of(info).claim(found, case, scope=info.context.scope, actor=actor_name(info), note=note)
        return CaseClaim(record=claim)

    @field(description="Record a claim's outcome (resolved, or handed back saying why); it goes on the case's history.")
    async def record_claim_outcome(self, info: Info, claim: str, outcome: ClaimOutcome, note: str = "") -> CaseClaim:
        require_actor(info, "record claims")
        [stored] = await info.context.store.case_claims([claim], claim_scope(info))
        [visible] = await readable_claims(info, [stored])
        if visible is None:
            raise InvalidInput("claim", claim, "is not a claim you can act for")
        await acting_member(info, visible.member_id, "record claims")
        return CaseClaim(record=await party_of(info).finish(visible, outcome, actor=actor_name(info), note=note))


def _oversees(roots: frozenset[str], place: str) -> bool:
    """Whether `place` is one of the roots or lies above one (place codes extend their parent's)."""
    return any(root.startswith(place) for root in roots)
