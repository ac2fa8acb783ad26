"""The per-request context every resolver reads: the store, the caller's scope, fresh loaders.

The scope is decided by whoever builds the context (the app, from the request's principal);
resolvers never choose one, they pass `info.context.scope` into every read. Loaders are made
per request: their caches hold what this caller may see, and must not serve the next caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any, TypeAlias

import strawberry

from connectors.config import ConnectorSet
from graph.clock import today
from graph.masking import mask
from graph.events import EventBus
from graph.model import Owner
from graph.scope import Scope
from graph.security import Principal, Role
from graph.store import Store
from graph.credit.service import Credit, Viewer
from graph.funds.service import Funds
from graph.votes.service import Votes
from schema.credit.loaders import CreditLoaders
from schema.devices.loaders import DeviceLoaders
from schema.facilities.loaders import FacilityLoaders
from schema.firms.loaders import FirmLoaders
from schema.owners.loaders import OwnerLoaders
from schema.party.loaders import PartyLoaders
from schema.places.loaders import PlaceLoaders
from schema.stats.loaders import StatsLoaders
from schema.utilities.loaders import UtilityLoaders

OPERATOR = Principal(Role.ADMIN, "*", "operator", "-")
"""The principal of in-process callers with no token (tests of the schema alone, tools)."""


@dataclass(slots=True)
class Context:
    """What one GraphQL request may read, who asks, and the loaders that read it.

    Resolvers treat it as read-only. Only a WebSocket connection changes it, once: it opens
    with nobody's scope and `authenticate` sets the caller from its `connection_init` payload
    (browsers cannot send an Authorization header with a WebSocket).
    """

    store: Store
    scope: Scope
    places: PlaceLoaders
    owners: OwnerLoaders
    firms: FirmLoaders
    stats: StatsLoaders
    utilities: UtilityLoaders
    devices: DeviceLoaders
    party: PartyLoaders
    facilities: FacilityLoaders
    credit_scores: CreditLoaders
    principal: Principal = OPERATOR
    reason: str | None = None
    """Why the caller reads personal data, from the X-Hub-Reason header; kept in the audit."""
    today: dt.date = field(default_factory=today)
    """Fixed for the request, so `owners` and `currentFirm` agree on what "now" is."""
    revelations: dict[str, set[str]] = field(default_factory=dict)
    """Owner id (or `staff/<id>`) → personal fields shown whole in this request (audited when it ends)."""
    connectors: ConnectorSet | None = None
    """The configured connectors and how to start a run (None: this hub syncs nothing)."""
    bus: EventBus | None = None
    """Where changes are announced and subscriptions listen (None: no live updates)."""
    connection_params: dict[str, Any] | None = None
    """A WebSocket's `connection_init` payload (strawberry sets it)."""
    votes: Votes | None = None
    """The vote service (None: this server runs no votes: it has no keys to sign with)."""
    funds: Funds | None = None
    """The owners' money books (None: this server keeps none: it has no keys to sign with)."""
    credit: Credit | None = None
    """Firms' credit with this server's weights and readers (None: the defaults, no plugged readers)."""

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
        bus: EventBus | None = None,
        votes: Votes | None = None,
        funds: Funds | None = None,
        credit: Credit | None = None,
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
            devices=DeviceLoaders.create(store, scope),
            party=PartyLoaders.create(store, scope),
            facilities=FacilityLoaders.create(store, scope),
            credit_scores=CreditLoaders.create(store, viewer_of(principal, scope)),
            principal=principal,
            reason=reason,
            today=on or today(),
            connectors=connectors,
            bus=bus,
            votes=votes,
            funds=funds,
            credit=credit,
        )

    def authenticate(self, principal: Principal, scope: Scope) -> None:
        """Set the caller of a WebSocket connection (once, at `connection_init`) with loaders
        made for its scope."""
        fresh = Context.create(
            self.store, scope, principal=principal, reason=self.reason, connectors=self.connectors, bus=self.bus, votes=self.votes,
            funds=self.funds, credit=self.credit,
        )
        for name in ("scope", "principal", "places", "owners", "firms", "stats", "utilities", "devices", "party", "facilities", "credit_scores"):
            setattr(self, name, getattr(fresh, name))

    def forget(self) -> None:
        """Empty every loader's cache: a subscription calls it before each event, so what it
        sends is read now, not remembered from an earlier event."""
        for group in (self.places, self.owners, self.firms, self.stats, self.utilities, self.devices, self.party, self.facilities, self.credit_scores):
            for item in fields(group):
                loader = getattr(group, item.name)
                if hasattr(loader, "clear_all"):
                    loader.clear_all()

    def may_see(self, owner: Owner) -> bool:
        """Whether this caller sees the owner's personal data whole: roles that serve residents
        do; an owner sees its own record only."""
        if self.principal.role is Role.OWNER:
            return owner.id == self.principal.scope
        return self.principal.sees_personal_data

    def revealed(self, owner_id: str, field_name: str) -> None:
        self.revelations.setdefault(owner_id, set()).add(field_name)

    def personal(self, holder: str, field_name: str, value: str | None, *, whole: bool) -> str | None:
        """A personal value as this caller is shown it: whole when `whole` (the read noted for
        the audit under `holder`: an owner's id, `staff/<id>` for staff), else masked
        (graph.masking). Owners' and staff's fields both go through here."""
        if value is None:
            return None
        if whole:
            self.revealed(holder, field_name)
            return value
        return mask(field_name, value)


def viewer_of(principal: Principal, scope: Scope) -> Viewer:
    """Who reads firms' credit: a firm its own score only (graph.credit.service)."""
    return Viewer(scope=scope, firm=principal.scope if principal.role is Role.PROPERTY_FIRM else None)


Info: TypeAlias = strawberry.Info[Context, None]
