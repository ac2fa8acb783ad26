"""The GraphQL types of party building: organisations, members, claims, figures."""

from __future__ import annotations

import datetime as dt

import strawberry

from graph.masking import mask
from graph.party import records
from graph.party.checks import sealed_under
from graph.party.records import ClaimOutcome, HostKind, LinkKind, OrganisationKind
from graph.party.service import PartyFigures as Figures
from schema.context import Info
from schema.fields import field
from schema.party.access import readable_claims

strawberry.enum(OrganisationKind, name="PartyOrganisationKind", description="党支部 branch, 联合党支部 joint_branch, 党总支 general_branch.")
strawberry.enum(HostKind, name="PartyHostKind", description="Where an organisation is set up: a property firm, an owners' committee (by estate), a community.")
strawberry.enum(LinkKind, name="PartyLinkKind", description="Who a member is, when declared: an owner, an owners' committee member, a firm's staff member.")
strawberry.enum(ClaimOutcome, name="ClaimOutcome", description="已办结 resolved, 退回 handed_back.")


@strawberry.type(description="A member's declared link to a person: an owner (its id), a committee member (`<estate>/<owner id>`), a staff member (its id).")
class PersonLink:
    kind: LinkKind
    id: str


@strawberry.type(description="A party member (党员). The name is personal data: masked unless your role may see it, each whole read audited.")
class PartyMember:
    record: strawberry.Private[records.PartyMember]

    @strawberry.field
    def id(self) -> str:
        return self.record.id

    @strawberry.field
    def organisation_id(self) -> str:
        return self.record.organisation_id

    @field(description="The name the organisation declared; masked (张*) unless your role may see personal data.")
    def name(self, info: Info) -> str:
        if info.context.principal.sees_personal_data:
            info.context.revealed(sealed_under(self.record.id), "name")
            return self.record.name
        return mask("name", self.record.name)

    @strawberry.field
    def post(self) -> str:
        return self.record.post

    @strawberry.field
    def joined_on(self) -> dt.date:
        return self.record.joined_on

    @strawberry.field
    def left_on(self) -> dt.date | None:
        return self.record.left_on

    @field(description="Whether a current member (today).")
    def active(self, info: Info) -> bool:
        return self.record.active_on(info.context.today)

    @field(description="The declared link to the person; null when none was declared, when your role may not see personal data, or when the person lies outside your scope.")
    async def link(self, info: Info) -> PersonLink | None:
        link = self.record.link
        if link is None or not info.context.principal.sees_personal_data:
            return None
        if link.kind is LinkKind.OWNER:
            if await info.context.owners.by_id.load(link.id) is None:
                return None
        elif link.kind is LinkKind.COMMITTEE and await info.context.places.by_code.load(link.id.partition("/")[0]) is None:
            return None
        info.context.revealed(sealed_under(self.record.id), "link")
        return PersonLink(kind=link.kind, id=link.id)

    @field(description="The member's claims of cases you can see, oldest first.")
    async def claims(self, info: Info) -> list[CaseClaim]:
        found = await info.context.party.claims_of_member.load(self.record.id)
        return [CaseClaim(record=claim) for claim in await readable_claims(info, found) if claim is not None]


@strawberry.type(description="A party organisation (党组织) in a property firm, an owners' committee or a community.")
class PartyOrganisation:
    record: strawberry.Private[records.PartyOrganisation]

    @strawberry.field
    def id(self) -> str:
        return self.record.id

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def kind(self) -> OrganisationKind:
        return self.record.kind

    @strawberry.field
    def kind_label(self) -> str:
        return self.record.kind.label

    @strawberry.field
    def host_kind(self) -> HostKind:
        return self.record.host_kind

    @field(description="The firm's credit code, the committee's estate, or the community's code; null when outside your scope.")
    async def host(self, info: Info) -> str | None:
        record = self.record
        if record.host_kind is HostKind.FIRM:
            if info.context.principal.scope == record.host:
                return record.host
            return record.host if await info.context.firms.by_code.load(record.host) is not None else None
        return record.host if await info.context.places.by_code.load(record.host) is not None else None

    @field(description="The place it sits in: the community, the estate, or the street or community overseeing a firm's (属地); null when outside your scope.")
    async def place(self, info: Info) -> str | None:
        return self.record.place_code if await info.context.places.by_code.load(self.record.place_code) is not None else None

    @strawberry.field
    def founded_on(self) -> dt.date:
        return self.record.founded_on

    @strawberry.field
    def version(self) -> int:
        return self.record.version

    @field(description="Its secretary (书记), a current member; null when none is named.")
    async def secretary(self, info: Info) -> PartyMember | None:
        if self.record.secretary is None:
            return None
        found = await info.context.party.member.load(self.record.secretary)
        return PartyMember(record=found) if found is not None and found.organisation_id == self.record.id else None

    @field(description="Its members by id: current ones, or with includeLeft those who left too.")
    async def members(self, info: Info, include_left: bool = False) -> list[PartyMember]:
        found = await info.context.party.members_of.load(self.record.id)  # this organisation was read in the caller's view
        return [PartyMember(record=m) for m in found if include_left or m.active_on(info.context.today)]


@strawberry.type(description="One page of party organisations, by id.")
class PartyOrganisationPage:
    items: list[PartyOrganisation]
    has_next: bool
    end_cursor: str | None


@strawberry.type(description="A party member's claim (党员认领) of a case, and its outcome once recorded; also events in the case's history.")
class CaseClaim:
    record: strawberry.Private[records.CaseClaim]

    @strawberry.field
    def id(self) -> str:
        return self.record.id

    @strawberry.field
    def case_id(self) -> str:
        return self.record.case_id

    @strawberry.field
    def member_id(self) -> str:
        return self.record.member_id

    @strawberry.field
    def organisation_id(self) -> str:
        return self.record.organisation_id

    @strawberry.field
    def estate(self) -> str:
        return self.record.estate_code

    @strawberry.field
    def claimed_at(self) -> dt.datetime:
        return self.record.claimed_at

    @strawberry.field
    def claimed_by(self) -> str:
        return self.record.claimed_by

    @strawberry.field
    def note(self) -> str:
        return self.record.note

    @strawberry.field
    def active(self) -> bool:
        return self.record.active

    @strawberry.field
    def outcome(self) -> ClaimOutcome | None:
        return self.record.outcome

    @strawberry.field
    def outcome_note(self) -> str:
        return self.record.outcome_note

    @strawberry.field
    def finished_at(self) -> dt.datetime | None:
        return self.record.finished_at

    @strawberry.field
    def finished_by(self) -> str | None:
        return self.record.finished_by


@strawberry.type(description="Party building figures of a place's subtree: committee members who are party members, firms managing its estates now with a party organisation, claims made and handled in the period.")
class PartyFigures:
    record: strawberry.Private[Figures]
    period: str | None
    name: str | None = None

    @strawberry.field
    def place(self) -> str:
        return self.record.code

    @strawberry.field
    def estates(self) -> int:
        return self.record.estates

    @field(description="Members of owners' committees in office today.")
    def committee_members(self) -> int:
        return self.record.committee_members

    @field(description="Of them, current party members (declared as the owner or as the committee member).")
    def committee_party_members(self) -> int:
        return self.record.committee_party_members

    @field(description="Firms managing its estates today.")
    def firms_managing(self) -> int:
        return self.record.firms_managing

    @field(description="Of them, firms with a party organisation.")
    def firms_with_organisation(self) -> int:
        return self.record.firms_with_organisation

    @field(description="Claims made in the period.")
    def claims_made(self) -> int:
        return self.record.claims_made

    @field(description="Claims whose outcome was recorded in the period.")
    def claims_handled(self) -> int:
        return self.record.claims_handled

    @strawberry.field
    def claims_resolved(self) -> int:
        return self.record.claims_resolved

    @strawberry.field
    def claims_handed_back(self) -> int:
        return self.record.claims_handed_back
