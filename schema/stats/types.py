"""Roll-ups of the place tree: what a city dashboard colours its districts and streets by.

The counts come from the store's roll-ups, which every write keeps current; `housesInArrears` is read live (utility bills change
daily) for every row of a request in one `arrears_counts` call, as of the request's today; and
`cases` (case metrics) is read live too, for every row in one store call per period asked;
`devices` (by state, with active alarms) is read live for the rows of a request together; and
`funds` (维修资金 and 公共收益, folded from the estates' journals) for every row in one
`fund_totals` call per year asked; `facilities` (due this week, overdue, inspection pass rate,
repairs per elevator) for the rows of a request together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from graph import model
from schema.cases.metrics import CaseMetrics, Since, Until, period
from schema.context import Info
from schema.devices.types import DeviceSummary
from schema.fields import field
from schema.funds.access import require_reader
from schema.funds.types import FundTotals, FundYear, fund_year
from schema.places.types import Place, place_type

if TYPE_CHECKING:
    from schema.facilities.types import FacilityFigures


@strawberry.type(description="The roll-up of a place's subtree, kept current by every write.")
class Stats:
    record: strawberry.Private[model.Place]
    houses: int
    floor_area_centi_m2: strawberry.Private[int]
    owners: int = strawberry.field(description="Distinct owners holding a house today.")
    estates: int
    buildings: int

    @field(
        description="Total floor area in m² (建筑面积), for display: the exact sum of whole hundredths of a m² "
        "over 100 (it reads exactly, like 12345.67); `floorAreaText` is the exact decimal."
    )
    def floor_area(self) -> float:
        return self.floor_area_centi_m2 / 100

    @field(description="Total floor area in m² as exact decimal text with two decimals (\"12345.67\"), summed in integers.")
    def floor_area_text(self) -> str:
        return model.m2_text(self.floor_area_centi_m2)

    @classmethod
    def of(cls, row: model.Stats) -> Stats:
        return cls(
            record=row.place,
            houses=row.houses,
            floor_area_centi_m2=row.floor_area_centi_m2,
            owners=row.owners,
            estates=row.estates,
            buildings=row.buildings,
        )

    @field(
        description="Houses with a utility bill overdue and not paid in full today (欠费户数); "
        "null for a place outside your scope."
    )
    async def houses_in_arrears(self, info: Info) -> int | None:
        return await info.context.utilities.arrears_counts.load((self.record.code, info.context.today))

    @field(description="Devices of the subtree by state, and their active alarms, now; null for a place outside your scope.")
    async def devices(self, info: Info) -> DeviceSummary | None:
        found = await info.context.devices.summaries.load(self.record.code)
        return None if found is None else DeviceSummary.of(found)

    @field(
        description="Facilities of the subtree (设施设备): due this week, overdue, inspection pass rate, repairs per "
        "elevator this year; null for a place outside your scope."
    )
    async def facilities(self, info: Info) -> Annotated[FacilityFigures, strawberry.lazy("schema.facilities.types")] | None:
        from schema.facilities.types import FacilityFigures

        found = await info.context.facilities.figures.load(self.record.code)
        return None if found is None else FacilityFigures(figures=found)

    @field(
        description="Case figures of the subtree (响应率, 解决率, 满意率, overdue, median time to resolve) "
        "over cases reported in the period; null for a place outside your scope."
    )
    async def cases(self, info: Info, since: Since = None, until: Until = None) -> CaseMetrics | None:
        found = await info.context.stats.case_metrics.load((self.record.code, period(since, until)))
        return None if found is None else CaseMetrics.of(found)

    @field(
        description="The maintenance fund (维修资金) and public revenue (公共收益) of the subtree: balance, "
        "balance per account, accounts under 30% of their first deposit, and the year's credits, repair "
        "spending, revenue and its confirmed share; null for a place outside your scope."
    )
    async def funds(self, info: Info, year: FundYear = None) -> FundTotals | None:
        require_reader(info)
        chosen = fund_year(year, info.context.today)
        found = await info.context.stats.funds.load((self.record.code, chosen))
        return None if found is None else FundTotals(record=found, year=chosen)


@strawberry.type(description="One row of `stats`: a place and its roll-up.")
class StatsRow(Stats):
    @classmethod
    def of_row(cls, row: model.Stats) -> StatsRow:
        return cls(
            record=row.place,
            houses=row.houses,
            floor_area_centi_m2=row.floor_area_centi_m2,
            owners=row.owners,
            estates=row.estates,
            buildings=row.buildings,
        )

    @strawberry.field
    def place(self) -> Place:
        return place_type(self.record)
