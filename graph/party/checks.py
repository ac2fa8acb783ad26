"""The field checks of `graph.party.records.PartyStore` that need no stored data, shared by every
adapter so each refuses the same input naming the same field; and the shape of a staff id, the
one check of staff links the hub can make without the staff records (see `check_staff_id`)."""

from __future__ import annotations

import datetime as dt
import re

from graph.cursors import encode_cursor
from graph.errors import InvalidInput
from graph.levels import Level
from graph.model import Page
from graph.party.records import CaseClaim, HostKind, LinkKind, OrganisationKind, PartyMember, PartyOrganisation, PersonLink
from graph.votes.checks import check_day, check_time

ID_LIMIT = 64
NAME_LIMIT = 200
NOTE_LIMIT = 2000
POST_LIMIT = 40

HOST_LEVELS = {
    HostKind.COMMUNITY: (Level.COMMUNITY,),
    HostKind.COMMITTEE: (Level.ESTATE,),
    HostKind.FIRM: (Level.STREET, Level.COMMUNITY),
}
"""The levels of the place an organisation may sit in, by where it is set up."""

_STAFF_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:-]{0,63}")


def check_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= ID_LIMIT or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InvalidInput(field, value, f"must be 1 to {ID_LIMIT} printable characters without spaces")
    return value


def check_text(value: object, field: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        rule = f"must be {'1' if required else '0'} to {limit} characters" + (" (not blank)" if required else "")
        raise InvalidInput(field, value if not isinstance(value, str) else value[:40], rule)
    return value


def check_organisation(organisation: PartyOrganisation) -> None:
    """A new organisation's fields: its id, name, kind, host kind, founding day, version 1."""
    check_id(organisation.id, "organisation id")
    where = f"organisation {organisation.id}"
    check_text(organisation.name, f"{where} name", NAME_LIMIT, required=True)
    OrganisationKind(organisation.kind)
    HostKind(organisation.host_kind)
    check_id(organisation.host, f"{where} host")
    check_day(organisation.founded_on, f"{where} founded_on")
    if organisation.secretary is not None:
        check_id(organisation.secretary, f"{where} secretary")


def check_organisation_place(organisation: PartyOrganisation, level: Level | None) -> None:
    """Whether the organisation's place (of `level`; None: not stored) fits its host: a
    community's or committee's organisation sits in its host itself."""
    where = f"organisation {organisation.id} place"
    allowed = HOST_LEVELS[HostKind(organisation.host_kind)]
    if level is None or level not in allowed:
        names = " or ".join(item.name.lower() for item in allowed)
        raise InvalidInput(where, organisation.place_code, f"must be a stored {names} for a {organisation.host_kind.value} organisation")
    if organisation.host_kind is not HostKind.FIRM and organisation.place_code != organisation.host:
        raise InvalidInput(where, organisation.place_code, f"must be its host {organisation.host}")


def check_link(link: PersonLink, field: str) -> None:
    kind = LinkKind(link.kind)
    if kind is LinkKind.STAFF:
        check_staff_id(link.id, f"{field} id")
        return
    check_id(link.id, f"{field} id")
    if kind is LinkKind.COMMITTEE:
        estate, slash, owner = link.id.partition("/")
        if not slash or not estate or not owner:
            raise InvalidInput(f"{field} id", link.id, "must be <estate code>/<owner id> for a committee member")


def check_staff_id(value: object, field: str) -> str:
    """The shape of a staff link's id (letters, digits, `. _ : -`, 1–64): checked before the
    staff records are read (`graph.party.service.StaffLinks`: that the id names a member of
    staff, and the estates it works in)."""
    if not isinstance(value, str) or not _STAFF_ID.fullmatch(value):
        raise InvalidInput(field, value, "is not a staff id (1 to 64 letters, digits, . _ : -)")
    return value


def check_member(member: PartyMember) -> None:
    check_id(member.id, "member id")
    where = f"member {member.id}"
    check_id(member.organisation_id, f"{where} organisation")
    check_text(member.name, f"{where} name", NAME_LIMIT, required=True)
    check_text(member.post, f"{where} post", POST_LIMIT, required=False)
    check_day(member.joined_on, f"{where} joined_on")
    if member.left_on is not None:
        raise InvalidInput(f"{where} left_on", member.left_on, "must be empty for a new member (end_party_member sets it)")
    if member.link is not None:
        check_link(member.link, f"{where} link")


def check_left(member_id: str, joined_on: dt.date, on: object) -> dt.date:
    day = check_day(on, f"member {member_id} left_on")
    if day < joined_on:
        raise InvalidInput(f"member {member_id} left_on", day, f"is before the member joined ({joined_on})")
    return day


def check_claim(claim: CaseClaim) -> None:
    check_id(claim.id, "claim id")
    where = f"claim {claim.id}"
    for name in ("case_id", "member_id", "organisation_id"):
        check_id(getattr(claim, name), f"{where} {name}")
    check_time(claim.claimed_at, f"{where} claimed_at")
    check_text(claim.claimed_by, f"{where} claimed_by", NAME_LIMIT, required=True)
    check_text(claim.note, f"{where} note", NOTE_LIMIT, required=False)
    if claim.outcome is not None or claim.finished_at is not None or claim.finished_by is not None or claim.outcome_note:
        raise InvalidInput(f"{where} outcome", claim.outcome, "must be empty for a new claim (finish_case_claim records it)")


def check_finish(claim_id: str, note: object, at: object, by: object) -> None:
    where = f"claim {claim_id}"
    check_text(note, f"{where} outcome_note", NOTE_LIMIT, required=False)
    check_time(at, f"{where} finished_at")
    check_text(by, f"{where} finished_by", NAME_LIMIT, required=True)


def sealed_under(member_id: str) -> str:
    """Whose a member's sealed name is, for `Sealer.seal`'s context (never an owner's id: those
    hold no colon), so a member's name opens only as that member's."""
    return f"party-member:{member_id}"


def claim_lock(case_id: str, member_id: str) -> str:
    """The key only an active claim of this member on this case holds."""
    return f"{case_id}\n{member_id}"


def page_by_id(found: list[PartyOrganisation], first: int) -> Page[PartyOrganisation]:
    """A keyset page of organisations from the `first` + 1 an adapter read in id order."""
    shown = found[:first]
    return Page(
        items=shown,
        has_next=len(found) > first,
        end_cursor=encode_cursor(shown[-1].id) if shown else None,
        start_cursor=encode_cursor(shown[0].id) if shown else None,
    )
