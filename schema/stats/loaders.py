"""The roll-up of each place, read for a whole batch of places in one store call; the case
metrics of places (on `stats` rows) and of firms, one store call per distinct period; and the
fund figures of places (维修资金 · 公共收益), one `fund_totals` call per distinct year."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.cases import CaseMetrics
from graph.casework import Casework
from graph.funds.records import FundTotals
from graph.model import Stats
from graph.scope import Scope
from graph.store import Store
from schema.batching import by_arguments

Period = tuple[dt.datetime | None, dt.datetime | None]
MetricsKey = tuple[str, Period]
"""A place or firm code with the period asked (since, until)."""
YearKey = tuple[str, int]
"""A place code with the calendar year (China Standard Time) its yearly fund figures are for."""


@dataclass(frozen=True, slots=True)
class StatsLoaders:
    of_place: DataLoader[str, Stats | None]
    case_metrics: DataLoader[MetricsKey, CaseMetrics | None]
    """A place's case metrics (None out of scope); overdue is counted at the time of the load."""
    firm_case_metrics: DataLoader[MetricsKey, CaseMetrics]
    funds: DataLoader[YearKey, FundTotals | None]
    """A place's fund and public-revenue totals for a year (graph.funds.records.FundStore.fund_totals);
    None for a place missing or out of scope."""

    @classmethod
    def create(cls, store: Store, scope: Scope) -> StatsLoaders:
        async def load(codes: list[str]) -> list[Stats | None]:
            return await store.place_stats(codes, scope)

        async def load_case_metrics(keys: list[MetricsKey]) -> list[CaseMetrics | None | Exception]:
            now = dt.datetime.now(dt.timezone.utc)

            async def fetch(codes: list[str], window: Period) -> list[CaseMetrics | None]:
                return await Casework(store).place_case_metrics(codes, scope, now=now, since=window[0], until=window[1])

            return await by_arguments(keys, fetch)

        async def load_firm_metrics(keys: list[MetricsKey]) -> list[CaseMetrics | Exception]:
            now = dt.datetime.now(dt.timezone.utc)

            async def fetch(codes: list[str], window: Period) -> list[CaseMetrics]:
                return await Casework(store).firm_case_metrics(codes, scope, now=now, since=window[0], until=window[1])

            return await by_arguments(keys, fetch)

        async def load_funds(keys: list[YearKey]) -> list[FundTotals | None | Exception]:
            async def fetch(codes: list[str], year: int) -> list[FundTotals | None]:
                return await store.fund_totals(codes, year, scope)

            return await by_arguments(keys, fetch)

        return cls(
            of_place=DataLoader(load_fn=load),
            case_metrics=DataLoader(load_fn=load_case_metrics),
            firm_case_metrics=DataLoader(load_fn=load_firm_metrics),
            funds=DataLoader(load_fn=load_funds),
        )
