"""The roll-up of each place, read for a whole batch of places in one store call."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.model import Stats
from graph.scope import Scope
from graph.store import Store


@dataclass(frozen=True, slots=True)
class StatsLoaders:
    of_place: DataLoader[str, Stats | None]

    @classmethod
    def create(cls, store: Store, scope: Scope) -> StatsLoaders:
        async def load(codes: list[str]) -> list[Stats | None]:
            return await store.place_stats(codes, scope)

        return cls(of_place=DataLoader(load_fn=load))
