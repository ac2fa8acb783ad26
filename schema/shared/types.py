"""The GraphQL types of shared queries: the query, its variables, its publisher, a run's answer."""

from __future__ import annotations

import datetime as dt
import strawberry
from strawberry.scalars import JSON

from graph import shared as domain
from graph.security import Principal, Role

strawberry.enum(Role, name="Role", description="What a principal is: admin, city, district, street, community, property_firm, committee, owner.")


@strawberry.type(description="A variable a shared query takes.")
class SharedVariable:
    name: str
    type: str = strawberry.field(description="Its GraphQL type as the document declares it, e.g. String! or [DeviceStatus!].")
    required: bool = strawberry.field(description="True when a run must give it (no default).")
    default: JSON | None = strawberry.field(
        description="Used when a run does not give it; @area (the smallest place holding your scope), @today, @now, "
        "@now-7d, @now-24h are worked out when the query runs."
    )
    description: str


@strawberry.type(description="Who published a shared query.")
class SharedQueryOwner:
    name: str
    role: Role
    scope: str | None = strawberry.field(description="The publisher's scope code; shown to the publisher and the city only.")


@strawberry.type(description="A saved, versioned GraphQL query that those it is shared with run in their own scope.")
class SharedQuery:
    name: str
    version: int
    versions: list[int] = strawberry.field(description="Every version of this name shared with you, oldest first.")
    description: str
    document: str
    variables: list[SharedVariable]
    owner: SharedQueryOwner
    roles: list[Role] = strawberry.field(description="The roles it is shared with.")
    organisations: list[str] | None = strawberry.field(
        description="The organisations it is shared with by name; shown to the publisher and the city only."
    )
    csv_path: str | None = strawberry.field(description="The list a CSV export flattens; the first list when null.")
    published_at: dt.datetime

    @classmethod
    def of(cls, query: domain.SharedQuery, versions: list[int], principal: Principal) -> SharedQuery:
        inside = query.manageable_by(principal)
        return cls(
            name=query.name,
            version=query.version,
            versions=versions,
            description=query.description,
            document=query.document,
            variables=[
                SharedVariable(name=item.name, type=item.type, required=item.required, default=item.default, description=item.description)
                for item in query.variables
            ],
            owner=SharedQueryOwner(name=query.owner.name, role=query.owner.role, scope=query.owner.scope if inside else None),
            roles=sorted(query.roles, key=lambda role: role.value),
            organisations=sorted(query.organisations) if inside else None,
            csv_path=query.csv_path,
            published_at=query.published_at,
        )


@strawberry.type(description="What a run of a shared query answered, in your scope.")
class SharedQueryRun:
    name: str
    version: int
    data: JSON | None = strawberry.field(description="The `data` of the answer, as GraphQL gives it.")
    errors: JSON | None = strawberry.field(description="The `errors` of the answer (a list), or null.")
    cached: bool = strawberry.field(description="True when served from the short-lived cache of your scope's runs.")


@strawberry.input(description="A description or default for one variable of the document.")
class SharedVariableInput:
    name: str
    description: str = ""
    default: JSON | None = strawberry.field(default=None, description="A value, or @area, @today, @now, @now-7d, @now-24h.")


@strawberry.input(description="A query to share: the next version of `name` if it exists.")
class PublishSharedQueryInput:
    name: str = strawberry.field(description="3 to 64 characters of a-z, 0-9 and '-'.")
    document: str = strawberry.field(description="One GraphQL query (not a mutation or subscription).")
    description: str = ""
    variables: list[SharedVariableInput] = strawberry.field(default_factory=list)
    roles: list[Role] = strawberry.field(default_factory=list, description="Share with every principal of these roles.")
    organisations: list[str] = strawberry.field(
        default_factory=list, description="Share with these organisations: credit codes of firms, codes of places."
    )
    csv_path: str | None = strawberry.field(default=None, description="The list a CSV export flattens, e.g. cases.edges.")

