"""`me`: who the caller is and where its scope begins, so a page signed in with a token (the map)
knows which places to open with, without being told them separately.

The roots are read back through the store with the caller's own scope, so `me` shows nothing a
query could not: a street office gets its street, a property firm the estates it manages now,
an owner its houses, the city and admin roles the city (their scope has no roots of its own).
"""

from __future__ import annotations

import strawberry

from graph.levels import Level
from graph.scope import Scope
from graph.security import Role
from graph.store import MAX_PAGE
from schema.context import Info
from schema.fields import field
from schema.places.types import Place, place_type

ROLE_LABELS = {
    Role.ADMIN: "系统管理员",
    Role.CITY: "市级",
    Role.DISTRICT: "区级",
    Role.STREET: "街道办事处",
    Role.COMMUNITY: "社区居委会",
    Role.PROPERTY_FIRM: "物业服务企业",
    Role.COMMITTEE: "业主委员会",
    Role.OWNER: "业主",
    Role.STAFF: "物业从业人员",
}


async def _roots(info: Info) -> list[Place]:
    context = info.context
    scope: Scope = context.scope
    if scope.roots is None:
        tops = await context.store.subtree(Level.CITY, None, scope, MAX_PAGE)
        return [place_type(place) for place in tops.items]
    found = await context.store.places(sorted(scope.roots), scope)
    return [place_type(place) for place in found if place is not None]


@strawberry.type(description="The caller: its role, the name on its token, and the places its scope starts from.")
class Me:
    role_record: strawberry.Private[Role]
    name: str = strawberry.field(description="The holder named on the token (e.g. 香港中路街道办事处).")

    @field(description="The role, as the token says it: admin, city, district, street, community, property_firm, committee or owner.")
    def role(self) -> str:
        return self.role_record.value

    @field(description="The role in Chinese (街道办事处, 物业服务企业, …).")
    def role_label(self) -> str:
        return ROLE_LABELS[self.role_record]

    @field(
        description="The places the scope starts from, by code: the city for admin and city roles, "
        "the token's district, street, community or estate, a firm's managed estates, an owner's houses."
    )
    async def roots(self, info: Info) -> list[Place]:
        return await _roots(info)


@strawberry.type
class MeQueries:
    @field(description="Who you are, as your token says, and where your scope starts.")
    def me(self, info: Info) -> Me:
        principal = info.context.principal
        return Me(role_record=principal.role, name=principal.name)
