"""DataLoaders for property firms and who manages which estate on a date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.model import Management, PropertyFirm
from graph.scope import Scope
from graph.store import Store
from schema.batching import by_arguments

DatedKey = tuple[str, dt.date | None]
"""An estate or firm code with the date asked (None: the whole history)."""


@dataclass(frozen=True, slots=True)
class FirmLoaders:
    by_code: DataLoader[str, PropertyFirm | None]
    of_estate: DataLoader[DatedKey, list[Management]]
    of_firm: DataLoader[DatedKey, list[Management]]

    @classmethod
    def create(cls, store: Store, scope: Scope) -> FirmLoaders:
        async def load_firms(codes: list[str]) -> list[PropertyFirm | None]:
            return await store.firms(codes, scope)

        async def load_of_estate(keys: list[DatedKey]) -> list[list[Management] | Exception]:
            async def fetch(codes: list[str], as_of: dt.date | None) -> list[list[Management]]:
                return await store.managements(codes, as_of, scope)

            return await by_arguments(keys, fetch)

        async def load_of_firm(keys: list[DatedKey]) -> list[list[Management] | Exception]:
            async def fetch(codes: list[str], as_of: dt.date | None) -> list[list[Management]]:
                return await store.estates_of(codes, as_of, scope)

            return await by_arguments(keys, fetch)

        return cls(
            by_code=DataLoader(load_fn=load_firms),
            of_estate=DataLoader(load_fn=load_of_estate),
            of_firm=DataLoader(load_fn=load_of_firm),
        )
