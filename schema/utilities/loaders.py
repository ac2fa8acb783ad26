"""DataLoaders for utility accounts, arrears and arrears counts, one set per request.

A page of 100 houses that each ask for `utilityAccounts` costs one `store.utility_accounts`
call; `arrears` one `store.arrears` call per distinct day asked; the `housesInArrears` of every
stats row or map feature one `store.arrears_counts` call. The caches hold what this caller may
see, so they are made per request (see `schema.context.Context.create`) and never shared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.scope import Scope
from graph.store import Store
from graph.utilities import Arrears, UtilityAccount
from schema.batching import by_arguments

DayKey = tuple[str, dt.date]
"""A place or house code and the day asked about."""


@dataclass(frozen=True, slots=True)
class UtilityLoaders:
    accounts: DataLoader[str, list[UtilityAccount]]
    """House code → its accounts (utility, number); none for a house out of scope."""
    arrears: DataLoader[DayKey, list[Arrears]]
    """(house code, day) → its accounts in arrears that day."""
    arrears_counts: DataLoader[DayKey, int | None]
    """(place code, day) → houses in arrears under it; None for a place missing or out of scope."""

    @classmethod
    def create(cls, store: Store, scope: Scope) -> UtilityLoaders:
        async def load_accounts(codes: list[str]) -> list[list[UtilityAccount]]:
            return await store.utility_accounts(codes, scope)

        async def load_arrears(keys: list[DayKey]) -> list[list[Arrears] | Exception]:
            async def fetch(codes: list[str], day: dt.date) -> list[list[Arrears]]:
                return await store.arrears(codes, day, scope)

            return await by_arguments(keys, fetch)

        async def load_counts(keys: list[DayKey]) -> list[int | None | Exception]:
            async def fetch(codes: list[str], day: dt.date) -> list[int | None]:
                return await store.arrears_counts(codes, day, scope)

            return await by_arguments(keys, fetch)

        return cls(
            accounts=DataLoader(load_fn=load_accounts),
            arrears=DataLoader(load_fn=load_arrears),
            arrears_counts=DataLoader(load_fn=load_counts),
        )
