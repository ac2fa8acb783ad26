"""The DataLoader of places' facility figures, one per request: a page of estates asking for
`facilities` costs one store call."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.facilities.service import Facilities, FacilityFigures
from graph.scope import Scope
from graph.store import Store


@dataclass(frozen=True, slots=True)
class FacilityLoaders:
    figures: DataLoader[str, FacilityFigures | None]
    """Place code → its facility figures this week and year; None when missing or out of scope."""

    @classmethod
    def create(cls, store: Store, scope: Scope) -> FacilityLoaders:
        async def load(codes: list[str]) -> list[FacilityFigures | None]:
            return await Facilities(store).figures(codes, scope)

        return cls(figures=DataLoader(load_fn=load))
