"""DataLoaders for firms' credit: a list of firms asking for their scores reads once per period."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.credit import service
from graph.credit.periods import Period
from graph.credit.records import CreditScore
from graph.store import Store
from schema.batching import by_arguments

PeriodKey = tuple[str, str]
"""A firm's code and a period key ("2026-11", "2026")."""


@dataclass(frozen=True, slots=True)
class CreditLoaders:
    scores: DataLoader[PeriodKey, CreditScore | None]
    history: DataLoader[str, list[CreditScore]]
    latest: DataLoader[str, CreditScore | None]

    @classmethod
    def create(cls, store: Store, viewer: service.Viewer) -> CreditLoaders:
        async def load_scores(keys: list[PeriodKey]) -> list[CreditScore | None | Exception]:
            async def fetch(codes: list[str], period: str) -> list[CreditScore | None]:
                return await service.scores_for(store, codes, Period.parse(period), viewer)

            return await by_arguments(keys, fetch)

        async def load_history(codes: list[str]) -> list[list[CreditScore]]:
            return await service.history_for(store, codes, viewer)

        async def load_latest(codes: list[str]) -> list[CreditScore | None]:
            return await service.latest_for(store, codes, viewer)

        return cls(
            scores=DataLoader(load_fn=load_scores),
            history=DataLoader(load_fn=load_history),
            latest=DataLoader(load_fn=load_latest),
        )
