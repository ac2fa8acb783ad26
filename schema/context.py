"""The per-request context every resolver reads: the store, the caller's scope, fresh loaders.

The scope is decided by whoever builds the context (the app, from the request's principal);
resolvers never choose one, they pass `info.context.scope` into every read. Loaders are made
per request: their caches hold what this caller may see, and must not serve the next caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry

from connectors.config import ConnectorSet
from graph.clock import today
from graph.model import Owner
from graph.scope import Scope
from graph.security import Principal, Role
from graph.store import Store
from schema.firms.loaders import FirmLoaders
from schema.owners.loaders import OwnerLoaders
from schema.places.loaders import PlaceLoaders
from schema.stats.loaders import StatsLoaders
from schema.utilities.loaders import UtilityLoaders

OPERATOR = Principal(Role.ADMIN, "*", "operator", "-")
"""The principal of in-process callers with no token (tests of the schema alone, tools)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What one GraphQL request may read, who asks, and the loaders that read it."""

    store: Store
    scope: Scope
    places: PlaceLoaders
    owners: OwnerLoaders
    firms: FirmLoaders
    stats: StatsLoaders
    utilities: UtilityLoaders
    principal: Principal = OPERATOR
    reason: str | None = None
    """Why the caller reads personal data, from the X-Hub-Reason header; kept in the audit."""
    today: dt.date = field(default_factory=today)
    """Fixed for the request, so `owners` and `currentFirm` agree on what "now" is."""
    revelations: dict[str, set[str]] = field(default_factory=dict)
    """Owner id → personal fields shown whole in this request (audited when it ends)."""
    connectors: ConnectorSet | None = None
    """The configured connectors and how to start a run (None: this hub syncs nothing)."""

    @classmethod
    def create(
        cls,
        store: Store,
        scope: Scope,
        *,
        principal: Principal = OPERATOR,
        reason: str | None = None,
        on: dt.date | None = None,
        connectors: ConnectorSet | None = None,
    ) -> Context:
        places = PlaceLoaders.create(store, scope)
        return cls(
            store=store,
            scope=scope,
            places=places,
            owners=OwnerLoaders.create(store, scope),
            firms=FirmLoaders.create(store, scope),
            stats=StatsLoaders.create(store, scope),
            utilities=UtilityLoaders.create(store, scope),
            principal=principal,
            reason=reason,
            today=on or today(),
            connectors=connectors,
        )

    def may_see(self, owner: Owner) -> bool:
        """Whether this caller sees the owner's personal data whole: roles that serve residents
        do; an owner sees its own record only."""
        if self.principal.role is Role.OWNER:
            return owner.id == self.principal.scope
        return self.principal.sees_personal_data

    def revealed(self, owner_id: str, field_name: str) -> None:
        self.revelations.setdefault(owner_id, set()).add(field_name)


Info: TypeAlias = strawberry.Info[Context, None]
