"""DataLoaders for owners and ownerships: who owns a house, what an owner owns, on a date.

The date is part of the key (None asks for the whole history), so one request may mix
`owners`, `owners(asOf:)` and `ownershipHistory` and still make one store call per date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.model import Owner, Ownership
from graph.scope import Scope
from graph.store import Store
from schema.batching import by_arguments

DatedKey = tuple[str, dt.date | None]
"""A house code or owner id with the date asked (None: the whole history)."""


@dataclass(frozen=True, slots=True)
class OwnerLoaders:
    by_id: DataLoader[str, Owner | None]
    of_house: DataLoader[DatedKey, list[Ownership]]
    of_owner: DataLoader[DatedKey, list[Ownership]]

    @classmethod
    def create(cls, store: Store, scope: Scope) -> OwnerLoaders:
        async def load_owners(ids: list[str]) -> list[Owner | None]:
            return await store.owners(ids, scope)

        by_id: DataLoader[str, Owner | None] = DataLoader(load_fn=load_owners)

        def seen(found: list[list[Ownership]]) -> list[list[Ownership]]:
            # an ownership of a house in scope makes its owner visible: no second read
            for ownerships in found:
                for ownership in ownerships:
                    if ownership.owner is not None:
                        by_id.prime(ownership.owner_id, ownership.owner)
            return found

        async def load_of_house(keys: list[DatedKey]) -> list[list[Ownership] | Exception]:
            async def fetch(codes: list[str], as_of: dt.date | None) -> list[list[Ownership]]:
                return seen(await store.ownerships(codes, as_of, scope))

            return await by_arguments(keys, fetch)

        async def load_of_owner(keys: list[DatedKey]) -> list[list[Ownership] | Exception]:
            async def fetch(ids: list[str], as_of: dt.date | None) -> list[list[Ownership]]:
                return seen(await store.houses_of(ids, as_of, scope))

            return await by_arguments(keys, fetch)

        return cls(
            by_id=by_id,
            of_house=DataLoader(load_fn=load_of_house),
            of_owner=DataLoader(load_fn=load_of_owner),
        )
