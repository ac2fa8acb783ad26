"""Running a shared query: with the CALLER's context and scope, never the author's.

Both faces run through here — `runSharedQuery` in GraphQL and `GET /q/NAME` (hub.shared) — so
both validate variables, fill defaults, use the cache and write the audit the same way. The
document runs through the same schema as any request, with `SHARED_RUN` as its root value: the
safelist guard (schema.shared.safelist) lets exactly those executions through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strawberry.schema.base import BaseSchema

from graph.audit import canonical_json
from graph.levels import Level
from graph.scope import Scope
from graph.security import AuditDraft, Principal
from graph.shared import Generation, LocalGeneration, ResultCache, Safelist, SharedQuery, SharedQueryError, resolve_relative
from graph.store import Store
from schema.context import Context
from schema.quiet import hides_suggestions
from schema.shared.documents import checked_variables, graphql_schema

SHARED_RUN = object()
"""The root value of a shared query's execution: how the safelist guard tells it from a
document the caller sent itself (a request cannot set a root value)."""
EVERYTHING = Scope.everything()


@dataclass(slots=True)
class SharedState:
    """What the shared queries of one schema keep between requests: the result cache, the
    store's write generation its answers are checked against (hub.app sets the hub's) and the
    safelisted roles."""

    cache: ResultCache = field(default_factory=ResultCache)
    safelist: Safelist = field(default_factory=Safelist)
    generation: Generation = field(default_factory=LocalGeneration)


def shared_state(schema: BaseSchema) -> SharedState:
    """The state of `schema`'s shared queries (made on first use; hub.app sets the cache's TTL)."""
    state: SharedState | None = getattr(schema, "_hub_shared", None)
    if state is None:
        state = SharedState()
        setattr(schema, "_hub_shared", state)
    return state


@dataclass(frozen=True, slots=True)
class RunResult:
    query: SharedQuery
    data: Any
    errors: list[dict[str, Any]]
    cached: bool


def unknown(name: str, version: int | None) -> SharedQueryError:
    """The one answer for a name that does not exist and one not shared with the caller."""
    which = f"{name} v{version}" if version is not None else name
    return SharedQueryError("name", f"no shared query {which} is shared with you", name)


async def find(store: Store, principal: Principal, name: str, version: int | None) -> SharedQuery | None:
    """The version (the latest when None) of `name` that `principal` sees, or None."""
    visible = [query for query in await store.shared_versions(name) if query.visible_to(principal)]
    if version is None:
        return visible[-1] if visible else None
    return next((query for query in visible if query.version == version), None)


async def area_of(store: Store, principal: Principal, scope: Scope) -> str | None:
    """The smallest place holding the caller's whole scope (what `@area` stands for): its own
    place for place-scoped roles, the city for an unlimited scope, the lowest common ancestor of
    a firm's estates or an owner's houses. The ancestors are read unscoped only to choose this
    argument; every read the query then does applies the caller's scope, and the code is never
    shown to the caller."""
    if principal.role.place_level is not None:
        return principal.scope
    if scope.unlimited:
        page = await store.subtree(Level.CITY, None, scope, 1)
        return page.items[0].code if page.items else None
    roots = sorted(scope.roots or ())
    if not roots:
        return None
    chains = await store.ancestors(roots, EVERYTHING)
    lines = [[place.code for place in chain if place.code != root] + [root] for root, chain in zip(roots, chains)]
    common: str | None = None
    for codes in zip(*lines):
        if len(set(codes)) != 1:
            break
        common = codes[0]
    return common


async def fill_defaults(store: Store, context: Context, query: SharedQuery, given: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    values = dict(given)
    area: str | None = None
    for spec in query.variables:
        if spec.name in values or spec.default is None:
            continue
        if spec.default == "@area":
            area = area or await area_of(store, context.principal, context.scope)
            if area is None:
                raise SharedQueryError(f"variables.{spec.name}", f"${spec.name}: your scope holds no place; pass it", None)
        values[spec.name] = resolve_relative(spec.default, area=area, now=now)
    return values


async def run_shared(
    schema: BaseSchema,
    context: Context,
    query: SharedQuery,
    given: Any,
    *,
    via: str,
) -> RunResult:
    """Run `query` as the caller of `context`; a second run with the same variables and scope
    within the cache's TTL is answered from the cache. Every run is audited (`shared.run`)."""
    if given is not None and not isinstance(given, Mapping):
        raise SharedQueryError("variables", "variables: must be a JSON object of variable names to values", given)
    principal = context.principal
    now = dt.datetime.now(dt.timezone.utc)
    values = await fill_defaults(context.store, context, query, given or {}, now)
    checked_variables(
        graphql_schema(schema), query.document, values, f"{query.name} v{query.version}", quiet=hides_suggestions(schema)
    )
    state = shared_state(schema)
    roots = None if context.scope.roots is None else tuple(sorted(context.scope.roots))
    key = (query.name, query.version, canonical_json(values), principal.role.value, principal.scope, roots)
    generation = await state.generation.current()  # read before the answer is: see graph.shared
    cached = state.cache.get(key, generation=generation)
    if cached is not None:
        data, errors = cached
    else:
        inner = Context.create(
            context.store,
            context.scope,
            principal=principal,
            reason=context.reason,
            connectors=context.connectors,
            bus=context.bus,
            votes=context.votes,
            funds=context.funds,
        )
        result = await schema.execute(query.document, variable_values=values, context_value=inner, root_value=SHARED_RUN)
        data = result.data
        errors = [error.formatted for error in result.errors or []]
        # answers that showed personal data are not kept: each such read is audited as it happens
        if not errors and not inner.revelations:
            state.cache.put(key, (data, errors), generation=generation)
    await context.store.append_audit(
        [
            AuditDraft(
                actor=principal.name,
                role=principal.role.value,
                action="shared.run",
                target=f"{query.name}@{query.version}",
                detail={
                    "token": principal.token_id,
                    "query": query.name,
                    "version": query.version,
                    "variables": values,
                    "cached": cached is not None,
                    "via": via,
                    "errors": len(errors),
                },
                reason=context.reason,
            )
        ]
    )
    return RunResult(query, data, errors, cached is not None)
