"""Who may read and act on a vote.

Readers (the published record: the vote, its turnout and result, its bulletin board, proofs and
heads): the owners of its area (an owner token whose owner holds, or held on the record date, a
house under the vote's place), its committee, and the community, street, district and city above
it, each within its scope; the admin. Property firms are not readers: the owners decide about
them. A vote a caller may not read answers exactly as an unknown id.

Acting: only owners cast; the organiser (its role and scope as when it organised) or the admin
registers proxies, closes and cancels.
"""

from __future__ import annotations

from graph.errors import HubError
from graph.scope import Scope
from graph.security import Principal, Role
from graph.votes.records import Vote
from graph.votes.service import Votes
from schema.context import Info
from schema.errors import Forbidden

READERS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.COMMITTEE, Role.OWNER})
ORGANISERS = frozenset({Role.ADMIN, Role.STREET, Role.COMMUNITY, Role.COMMITTEE})
ADMINISTRATIONS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY})


class VotesUnavailable(HubError):
    """This server was built without the vote service (no keys to sign with)."""


def votes_of(info: Info) -> Votes:
    votes = info.context.votes
    if votes is None:
        raise VotesUnavailable("votes are not available on this server")
    return votes


async def readable(info: Info, vote_id: str) -> Vote | None:
    """The vote, brought up to date, if the caller may read it; None otherwise."""
    principal = info.context.principal
    if principal.role not in READERS:
        return None
    votes = votes_of(info)
    if principal.role is Role.OWNER:
        found = await votes.vote(vote_id, Scope.everything())
        if found is None or not await votes.may_read(found, principal.scope):
            return None
        return found
    return await votes.vote(vote_id, info.context.scope)


def is_organiser(principal: Principal, vote: Vote) -> bool:
    return principal.role is Role.ADMIN or (
        principal.role.value == vote.organiser.role and principal.scope == vote.organiser.scope
    )


def require_organiser(principal: Principal, vote: Vote, doing: str) -> None:
    if not is_organiser(principal, vote):
        raise Forbidden(f"forbidden: only the vote's organiser ({vote.organiser.capacity}) may {doing}")
