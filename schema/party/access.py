"""Who may read and act on party building.

Reading: the community, street, district and city offices (and the admin) read organisations,
their members and claims, and the figures, within their scope (an organisation where it sits,
a claim where its estate is). A property firm reads its own organisation(s) and their members
and claims — never another firm's, nor any community's or committee's — and no figures. Owners
and owners' committees read nothing of it: fields answer null, lists are empty, and no error
tells that anything exists.

Acting (founding, recording, members, claims and their outcomes): for a community's or an
owners' committee's organisation, the community office over it and the street, district, city
above it (in scope); for a firm's organisation, the firm itself and the street, district, city
(in scope: where the organisation sits); the admin. Owners and committees may not act.

Personal data: a member's name is masked (张*) unless the role sees personal data (street,
community, the firm for its own members, admin), each whole read audited like owners'
(`party-member:<id>` in the request's `pii.read` entry); the person link is shown only to the
same roles.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.errors import InvalidInput
from graph.party.records import CaseClaim, HostKind, PartyMember, PartyOrganisation
from graph.party.service import Party
from graph.scope import Scope
from graph.security import Role
from schema.context import Info
from schema.errors import Forbidden

EVERYTHING = Scope.everything()
OFFICES = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY})
ABOVE = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET})
ACTORS = OFFICES | {Role.PROPERTY_FIRM}


def party_of(info: Info) -> Party:
    """The party service for this request (staff links read the staff records through the store)."""
    return Party(info.context.store)


def actor_name(info: Info) -> str:
    principal = info.context.principal
    return f"{principal.role.value}:{principal.scope}"


def _own(info: Info, organisation: PartyOrganisation | None) -> PartyOrganisation | None:
    """The organisation if it is the calling firm's own."""
    principal = info.context.principal
    if organisation is not None and organisation.host_kind is HostKind.FIRM and organisation.host == principal.scope:
        return organisation
    return None


async def readable_organisations(info: Info, ids: Sequence[str]) -> list[PartyOrganisation | None]:
    role = info.context.principal.role
    store = info.context.store
    if role in OFFICES:
        return await store.party_organisations(ids, info.context.scope)
    if role is Role.PROPERTY_FIRM:
        return [_own(info, found) for found in await store.party_organisations(ids, EVERYTHING)]
    return [None] * len(ids)


async def readable_member(info: Info, member_id: str) -> PartyMember | None:
    if info.context.principal.role not in ACTORS:
        return None
    [member] = await info.context.store.party_members_by_id([member_id], EVERYTHING)
    if member is None:
        return None
    [organisation] = await readable_organisations(info, [member.organisation_id])
    return member if organisation is not None else None


async def readable_claims(info: Info, claims: Sequence[CaseClaim | None]) -> list[CaseClaim | None]:
    """The claims the caller may read: an office's in its scope (read so), a firm's of its own
    organisations' members."""
    role = info.context.principal.role
    if role in OFFICES:
        return list(claims)
    if role is Role.PROPERTY_FIRM:
        ids = sorted({claim.organisation_id for claim in claims if claim is not None})
        own = {org.id for org in await readable_organisations(info, ids) if org is not None}
        return [claim if claim is not None and claim.organisation_id in own else None for claim in claims]
    return [None] * len(claims)


def claim_scope(info: Info) -> Scope:
    """The scope claims are read in: the caller's own (a firm's: the estates it manages), the
    organisation then checked by `readable_claims`."""
    return info.context.scope


def require_actor(info: Info, doing: str) -> None:
    principal = info.context.principal
    if principal.role not in ACTORS:
        raise Forbidden(f"forbidden: the {principal.role.value} role may not {doing}")


def may_act(info: Info, organisation: PartyOrganisation) -> bool:
    """For an organisation the caller can read: whether it may act for it."""
    role = info.context.principal.role
    if role is Role.PROPERTY_FIRM:
        return _own(info, organisation) is not None
    if role is Role.COMMUNITY:
        return organisation.host_kind in (HostKind.COMMUNITY, HostKind.COMMITTEE)
    return role in ABOVE


async def acting_for(info: Info, organisation_id: str, doing: str) -> PartyOrganisation:
    """The organisation the caller acts for; one answer for unknown, unseen and not-yours."""
    require_actor(info, doing)
    [organisation] = await readable_organisations(info, [organisation_id])
    if organisation is None or not may_act(info, organisation):
        raise InvalidInput("organisation", organisation_id, "is not a party organisation you can act for")
    return organisation


async def acting_member(info: Info, member_id: str, doing: str) -> PartyMember:
    require_actor(info, doing)
    member = await readable_member(info, member_id)
    if member is not None:
        [organisation] = await readable_organisations(info, [member.organisation_id])
        if organisation is not None and may_act(info, organisation):
            return member
    raise InvalidInput("member", member_id, "is not a party member you can act for")


async def may_found(info: Info, host_kind: HostKind, host: str, place: str) -> None:
    """Refuse founding an organisation the caller may not: a firm founds its own only; a
    community office those of its community and of the committees under it; the offices above
    any whose place is in their scope."""
    require_actor(info, "found party organisations")
    principal = info.context.principal
    if principal.role is Role.PROPERTY_FIRM:
        if host_kind is not HostKind.FIRM or host != principal.scope:
            raise InvalidInput("host", host, "a property firm founds its own organisation only")
        return
    if principal.role is Role.COMMUNITY and host_kind is HostKind.FIRM:
        raise InvalidInput("hostKind", host_kind.value, "a firm's organisation is founded by the firm or the street above")
    [seen] = await info.context.store.places([place], info.context.scope)
    if seen is None:
        raise InvalidInput("place", place, "is not a place you can see")
