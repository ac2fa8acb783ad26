"""What the hub keeps of party building (党建), and the port that keeps it.

- **Organisations** (党组织): a 党支部, 联合党支部 or 党总支 in a property firm (by its credit
  code), in an estate's owners' committee (by the estate) or in a community (by its 12-digit
  code), with its name, founding day and secretary (one of its members). Each sits in a place:
  a community's organisation in the community, a committee's in the estate, a firm's in the
  street or community that oversees it where it is registered (属地管理).
- **Members** (党员): a name the organisation declared (personal data: sealed with SM4 under the
  member's id and found by blind index, exactly as owners' names), the day they joined (and
  left), a post, and — only where declared — a link to the person as the hub knows them: an
  owner (`owner`, its id), an owners' committee member (`committee`, `<estate>/<owner id>`) or
  a property firm's staff (`staff`, the staff record's id). A member without a declared link
  holds only what the organisation declared.
- **Claims** (党员认领): a member takes an open case in the estate of its link and answers for
  it; the claim ends with an outcome (resolved, or handed back with a note). One active claim
  per case per member. The claim and its outcome are also events in the case's history
  (graph.casework): these records are the party's side of them.

Scope: an organisation is in a caller's scope when its place is, a member when its organisation
is, a claim when its estate is. Out of scope behaves as absent. Who sees what beyond that (a
firm sees only its own organisation, owners and committees nothing) is the API's decision.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from graph.errors import StoreError
from graph.model import Page
from graph.scope import Scope


class OrganisationKind(enum.StrEnum):
    BRANCH = "branch"  # 党支部
    JOINT_BRANCH = "joint_branch"  # 联合党支部
    GENERAL_BRANCH = "general_branch"  # 党总支

    @property
    def label(self) -> str:
        return {"branch": "党支部", "joint_branch": "联合党支部", "general_branch": "党总支"}[self.value]


class HostKind(enum.StrEnum):
    """Where an organisation is set up."""

    FIRM = "firm"  # host: the firm's credit code; place: the street or community overseeing it
    COMMITTEE = "committee"  # host: the estate whose owners' committee it is in; place: the estate
    COMMUNITY = "community"  # host: the community's 12-digit code; place: the community


class LinkKind(enum.StrEnum):
    """Who a member is, when the organisation declared it."""

    OWNER = "owner"  # link id: the owner's id
    COMMITTEE = "committee"  # link id: `<estate code>/<owner id>`, a member of the estate's committee
    STAFF = "staff"  # link id: a property firm's staff record id


class ClaimOutcome(enum.StrEnum):
    RESOLVED = "resolved"  # 已办结: the member saw it through
    HANDED_BACK = "handed_back"  # 退回: handed back, the note says why

    @property
    def label(self) -> str:
        return "已办结" if self is ClaimOutcome.RESOLVED else "退回"


@dataclass(frozen=True, slots=True)
class PartyOrganisation:
    id: str
    name: str
    kind: OrganisationKind
    host_kind: HostKind
    host: str
    place_code: str
    founded_on: dt.date
    secretary: str | None = None  # a member's id
    version: int = 1


@dataclass(frozen=True, slots=True)
class PersonLink:
    kind: LinkKind
    id: str


@dataclass(frozen=True, slots=True)
class PartyMember:
    """`name` is the declared name, whole: the store seals it (never keeps it in the clear)."""

    id: str
    organisation_id: str
    name: str
    joined_on: dt.date
    post: str = ""
    link: PersonLink | None = None
    left_on: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        return self.joined_on <= day and (self.left_on is None or self.left_on > day)


@dataclass(frozen=True, slots=True)
class CaseClaim:
    id: str
    case_id: str
    member_id: str
    organisation_id: str
    estate_code: str
    claimed_at: dt.datetime
    claimed_by: str  # who recorded it (role:scope)
    note: str = ""
    outcome: ClaimOutcome | None = None
    outcome_note: str = ""
    finished_at: dt.datetime | None = None
    finished_by: str | None = None

    @property
    def active(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True, slots=True)
class ClaimTally:
    """Under one place, over a period: claims made (claimed in it) and handled (an outcome
    recorded in it), the handled ones by outcome."""

    code: str
    made: int = 0
    handled: int = 0
    resolved: int = 0
    handed_back: int = 0


class ClaimTaken(StoreError):
    """The member already holds an active claim on the case."""


class PartyStore(Protocol):
    """The party part of the store port: storage primitives only (graph.party.service decides
    who may do what, and what a claim may take). Every write is atomic: a refused write leaves
    nothing of itself. Field checks are graph.party.checks', shared by every adapter."""

    async def save_party_organisation(self, organisation: PartyOrganisation) -> None:
        """Store a new organisation (version 1). An id already stored is StoreError naming it,
        the first kept. Its place must be stored and fit its host (`check_organisation`): a
        community's organisation sits in that community, a committee's in that estate, a
        firm's in a street or community; InvalidInput naming `organisation <id> place`."""

    async def update_party_organisation(self, organisation: PartyOrganisation, expect: int) -> PartyOrganisation | None:
        """Compare-and-set: if the stored organisation is at version `expect`, replace its name,
        kind, founding day and secretary by the given ones (host and place never change) and
        make its version `expect` + 1; return it as stored. None (nothing changed) when it is
        missing or at another version."""

    async def party_organisations(self, ids: Sequence[str], scope: Scope) -> list[PartyOrganisation | None]:
        """The organisations with these ids, in order; None where missing or out of scope."""

    async def party_organisation_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        host: str | None = None,
    ) -> Page[PartyOrganisation]:
        """Organisations in scope whose place is `within` or under it (None: anywhere; a place
        not stored: none), hosted by `host` (None: any), by id, keyset-paged (first clamped to
        1..MAX_PAGE; a cursor naming no organisation is InvalidInput)."""

    async def hosted_organisations(self, hosts: Sequence[str]) -> list[list[PartyOrganisation]]:
        """For each host (a firm's credit code, an estate's or a community's code), the
        organisations set up in it, by id. Unscoped: the service asks which firms have one,
        never a caller."""

    async def save_party_member(self, member: PartyMember) -> None:
        """Store a new member (its name sealed, a blind index beside it). An id already stored
        is StoreError naming it; an organisation not stored, InvalidInput naming
        `member <id> organisation`; a member that is not new (left_on set) or a bad field,
        InvalidInput (`check_member`)."""

    async def end_party_member(self, member_id: str, on: dt.date) -> bool:
        """Record that the member left on `on`: True if this call recorded it; False when the
        member is unknown or had left already (the first day kept). A day before it joined is
        InvalidInput naming `member <id> left_on`."""

    async def party_members(self, organisation_ids: Sequence[str], scope: Scope) -> list[list[PartyMember]]:
        """For each organisation, its members past and present, by id; empty where missing or
        out of scope."""

    async def party_members_by_id(self, ids: Sequence[str], scope: Scope) -> list[PartyMember | None]:
        """The members with these ids, in order; None where missing or out of scope."""

    async def linked_party_members(self, links: Sequence[PersonLink]) -> list[list[PartyMember]]:
        """For each link, the members declared with it (any organisation, past and present), by
        id. Unscoped: the service asks who a person is in the party, never a caller."""

    async def save_case_claim(self, claim: CaseClaim) -> None:
        """Store a new, active claim. ClaimTaken when the member already holds an active claim
        on the case (the first kept, however many writers try at once); StoreError when the id
        is taken; InvalidInput when its member or estate is not stored, or a field is bad."""

    async def finish_case_claim(
        self, claim_id: str, outcome: ClaimOutcome, note: str, at: dt.datetime, by: str
    ) -> CaseClaim | None:
        """If the claim is active: record its outcome, note, time and who recorded it, and
        return it as stored. None (nothing changed) when it is unknown or finished already."""

    async def case_claims(self, ids: Sequence[str], scope: Scope) -> list[CaseClaim | None]:
        """The claims with these ids, in order; None where missing or out of scope."""

    async def claims_of_cases(self, case_ids: Sequence[str], scope: Scope) -> list[list[CaseClaim]]:
        """For each case id, its claims in scope, by claim time then id."""

    async def claims_of_members(self, member_ids: Sequence[str], scope: Scope) -> list[list[CaseClaim]]:
        """For each member id, its claims in scope, by claim time then id."""

    async def claim_tallies(
        self, codes: Sequence[str], scope: Scope, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[ClaimTally | None]:
        """For each place, the claims of the estates at or under it (a building's or house's
        tally is zero): `made` those claimed in [since, until), `handled` those finished in
        it, split into `resolved` and `handed_back`; None where the place is missing or out of
        scope. A naive bound is InvalidInput."""
