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

from graph.clock import today
from graph.scope import Scope
from graph.store import Store
from schema.firms.loaders import FirmLoaders
from schema.owners.loaders import OwnerLoaders
from schema.places.loaders import PlaceLoaders
from schema.stats.loaders import StatsLoaders

@dataclass(frozen=True, slots=True)
class Context:
    """What one GraphQL request may read, and the loaders that read it."""

    store: Store
    scope: Scope
    places: PlaceLoaders
    owners: OwnerLoaders
    firms: FirmLoaders
    stats: StatsLoaders
    today: dt.date = field(default_factory=today)
    """Fixed for the request, so `owners` and `currentFirm` agree on what "now" is."""

    @classmethod
    def create(cls, store: Store, scope: Scope, *, on: dt.date | None = None) -> Context:
        places = PlaceLoaders.create(store, scope)
        return cls(
            store=store,
            scope=scope,
            places=places,
            owners=OwnerLoaders.create(store, scope),
            firms=FirmLoaders.create(store, scope),
            stats=StatsLoaders.create(store, scope, places),
            today=on or today(),
        )


Info: TypeAlias = strawberry.Info[Context, None]
