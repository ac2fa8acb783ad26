"""Who may read and act on the owners' money.

Reading an estate's books (statements, projects, roll-ups): the committee of the estate, the
community, street, district and city above it and the managing firm, each within its scope; the
admin. An owner reads its own houses' accounts and the books (totals, statements, projects) of
the estates where it holds a house — never another house's account. The books carry no names,
so masked roles see everything they may read.

Acting: a repair project is raised, completed or cancelled by the estate's committee, its firm,
or the community or street above it (in scope), or the admin; a period is published by the
street, district or city (in scope) or the admin (the hub publishes monthly heads itself too).
"""

from __future__ import annotations

from graph.errors import HubError, InvalidInput
from graph.funds.service import Funds
from graph.levels import Level
from graph.scope import Scope
from graph.security import Role
from schema.context import Info
from schema.errors import Forbidden

BOOK_READERS = frozenset(
    {Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.COMMITTEE, Role.PROPERTY_FIRM, Role.OWNER}
)
PROJECT_ACTORS = frozenset({Role.ADMIN, Role.STREET, Role.COMMUNITY, Role.COMMITTEE, Role.PROPERTY_FIRM})
PUBLISHERS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET})


class FundsUnavailable(HubError):
    """This server was built without the fund books (no keys to sign with)."""


def funds_of(info: Info) -> Funds:
    funds = info.context.funds
    if funds is None:
        raise FundsUnavailable("the fund books are not available on this server")
    return funds


async def owner_estates(info: Info) -> set[str]:
    """The estates holding the caller's houses (an owner's scope is its houses)."""
    roots = info.context.scope.roots or frozenset()
    if not roots:
        return set()
    lines = await info.context.store.ancestors(sorted(roots), Scope.everything())
    return {place.code for line in lines for place in line if place.level is Level.ESTATE}


def require_reader(info: Info) -> None:
    principal = info.context.principal
    if principal.role not in BOOK_READERS:
        raise Forbidden(f"forbidden: the {principal.role.value} role may not read the owners' money books")


async def books_scope(info: Info, code: str) -> Scope:
    """The scope to read `code`'s books in: the caller's own; for an owner, its own scope for
    one of its houses and the whole tree for an estate it holds a house in — nothing else (a
    building's or a neighbour's totals would show other houses' accounts). A caller who may not
    read them: the place reads as unknown."""
    require_reader(info)
    principal = info.context.principal
    if principal.role is not Role.OWNER:
        return info.context.scope
    if code in (info.context.scope.roots or frozenset()):
        return info.context.scope  # its own house: what its account is
    if code in await owner_estates(info):
        return Scope.everything()  # the estate's books, never another house's or a building's
    raise InvalidInput("place", code, "is not a place you can see")


def require_actor(info: Info, doing: str) -> None:
    principal = info.context.principal
    if principal.role not in PROJECT_ACTORS:
        raise Forbidden(f"forbidden: the {principal.role.value} role may not {doing}")


def actor_name(info: Info) -> str:
    """Who acted, as the books record it: role and scope, never a person's name."""
    principal = info.context.principal
    return f"{principal.role.value}:{principal.scope}"
