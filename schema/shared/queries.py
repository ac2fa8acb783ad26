"""Shared queries in GraphQL: read them, run them in your own scope, publish and withdraw them,
and switch the safelist mode of a role.

| field                 | who                                                             |
|-----------------------|-----------------------------------------------------------------|
| sharedQuery(ies)      | everyone: what is shared with them (a query shared with nobody  |
|                       | else answers like an unknown name)                              |
| runSharedQuery        | everyone it is shared with; runs in the caller's scope          |
| publishSharedQuery    | admin, city, street, property_firm (graph.shared says with whom)|
| withdrawSharedQuery   | the publisher, admin, city                                      |
| setSafelist           | admin, city                                                     |
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from graph.codes import CreditCode
from graph.reach import Reach
from graph.security import AuditDraft, Role
from graph.shared import (
    OVERSEERS,
    Owner,
    SharedDraft,
    SharedQueryError,
    check_sharing,
    organisation,
    query_name,
    shares_text,
    version_number,
)
from schema.context import Info
from schema.errors import Forbidden, require_role
from schema.fields import field
from schema.limits import document_limits
from schema.quiet import hides_suggestions
from schema.shared.documents import checked_document, graphql_schema
from schema.shared.running import find, run_shared, shared_state, unknown
from schema.shared.types import PublishSharedQueryInput, SharedQuery, SharedQueryRun

MAX_DESCRIPTION = 2000


async def _versions(info: Info, name: str) -> list[int]:
    principal = info.context.principal
    return [query.version for query in await info.context.store.shared_versions(name) if query.visible_to(principal)]


async def _audit(info: Info, action: str, target: str, detail: dict[str, Any]) -> None:
    principal = info.context.principal
    await info.context.store.append_audit(
        [AuditDraft(principal.name, principal.role.value, action, target, {"token": principal.token_id, **detail}, info.context.reason)]
    )


@strawberry.type
class SharedQueryQueries:
    @field(description="A shared query shared with you: the version given, or the latest; null if none is.")
    async def shared_query(self, info: Info, name: str, version: int | None = None) -> SharedQuery | None:
        query_name(name)
        version_number(version)
        found = await find(info.context.store, info.context.principal, name, version)
        if found is None:
            return None
        return SharedQuery.of(found, await _versions(info, name), info.context.principal)

    @field(description="The shared queries shared with you (their latest versions), by name.")
    async def shared_queries(self, info: Info) -> list[SharedQuery]:
        principal = info.context.principal
        by_name: dict[str, list[Any]] = {}
        for query in await info.context.store.shared_latest():
            if query.visible_to(principal):
                by_name.setdefault(query.name, []).append(query)
        return [
            SharedQuery.of(versions[-1], [item.version for item in versions], principal) for _, versions in sorted(by_name.items())
        ]

    @field(
        description="Run a shared query in YOUR scope (never its publisher's): the version given or the latest, "
        "with `variables` as a JSON object. Answers within a short time with the same variables come from a cache."
    )
    async def run_shared_query(
        self, info: Info, name: str, version: int | None = None, variables: JSON | None = None
    ) -> SharedQueryRun:
        query_name(name)
        version_number(version)
        found = await find(info.context.store, info.context.principal, name, version)
        if found is None:
            raise unknown(name, version)
        result = await run_shared(info.schema, info.context, found, variables, via="graphql")
        return SharedQueryRun(
            name=found.name, version=found.version, data=result.data, errors=cast(JSON, result.errors) or None, cached=result.cached
        )


@strawberry.type
class SharedQueryMutations:
    @field(description="Publish a query to share (admin, city, street, property_firm); the next version of its name if it exists.")
    async def publish_shared_query(self, info: Info, input: PublishSharedQueryInput) -> SharedQuery:
        principal = info.context.principal
        name = query_name(input.name)
        if len(input.description) > MAX_DESCRIPTION:
            raise SharedQueryError("description", f"description: longer than {MAX_DESCRIPTION} characters")
        organisations = frozenset(organisation(item) for item in input.organisations)
        roles = frozenset(input.roles)
        check_sharing(principal, roles, organisations)
        # the places it is shared with, by the one rule of writes: places the publisher may read
        reach = Reach(info.context.store, info.context.scope)
        for code in sorted(organisations):
            if not CreditCode.is_valid(code):
                await reach.place(code, field="organisations")
        descriptions: dict[str, str] = {}
        defaults: dict[str, Any] = {}
        for item in input.variables:
            if item.name in descriptions:
                raise SharedQueryError(f"variables.{item.name}", f"variables: ${item.name} is described twice")
            descriptions[item.name] = item.description
            if item.default is not None:
                defaults[item.name] = item.default
        document, specs = checked_document(
            graphql_schema(info.schema),
            input.document,
            descriptions,
            defaults,
            input.csv_path,
            document_limits(info.schema),
            quiet=hides_suggestions(info.schema),
        )
        existing = await info.context.store.shared_versions(name)
        if existing and not any(query.manageable_by(principal) for query in existing):
            raise SharedQueryError("name", f"name: {name} is taken by another publisher; choose another name", name)
        draft = SharedDraft(
            name=name,
            description=input.description,
            document=document,
            variables=specs,
            owner=Owner(principal.name, principal.role, principal.scope),
            roles=roles,
            organisations=organisations,
            csv_path=input.csv_path,
        )
        published = await info.context.store.publish_shared(draft, dt.datetime.now(dt.timezone.utc))
        await _audit(
            info,
            "shared.publish",
            f"{published.name}@{published.version}",
            {"shared_with": shares_text(sorted(roles, key=lambda role: role.value), sorted(organisations))},
        )
        return SharedQuery.of(published, await _versions(info, name), principal)

    @field(description="Withdraw a version of a shared query (its publisher, admin, city): kept, no longer listed or runnable.")
    async def withdraw_shared_query(self, info: Info, name: str, version: int) -> SharedQuery:
        principal = info.context.principal
        query_name(name)
        version_number(version)
        found = await find(info.context.store, principal, name, version)
        if found is None:
            raise unknown(name, version)
        if not found.manageable_by(principal):
            raise Forbidden(f"forbidden: only the publisher of {name} or the city may withdraw it")
        withdrawn = await info.context.store.withdraw_shared(name, version, dt.datetime.now(dt.timezone.utc))
        assert withdrawn is not None
        await _audit(info, "shared.withdraw", f"{name}@{version}", {})
        versions = await _versions(info, name)
        return SharedQuery.of(withdrawn, versions, principal)

    @field(
        description="Switch the safelist mode of a role (admin, city): its principals may then run only shared "
        "queries. Answers the safelisted roles."
    )
    async def set_safelist(self, info: Info, role: Role, enabled: bool) -> list[Role]:
        principal = info.context.principal
        require_role(principal, OVERSEERS, "switch the safelist")
        if role in OVERSEERS:
            raise SharedQueryError("role", f"role: {role.value} cannot be safelisted (it switches the safelist itself)", role.value)
        store = info.context.store
        await store.set_safelist(role, enabled, principal.name, dt.datetime.now(dt.timezone.utc))
        shared_state(info.schema).safelist.forget()
        await _audit(info, "safelist.set", role.value, {"enabled": enabled})
        return sorted(await store.safelisted_roles(), key=lambda item: item.value)
