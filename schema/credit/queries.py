"""`firmScores` (every score of a period you may see) and `computeCredit` (admin, city)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.credit import service
from graph.credit.periods import Period
from schema.arguments import place_argument
from schema.context import Info
from schema.credit.access import credit_of, require_computer, viewer_of
from schema.credit.types import CreditScore
from schema.fields import field

PeriodArgument = Annotated[str, strawberry.argument(description="A month YYYY-MM or a year YYYY (China Standard Time).")]
LastMonthByDefault = Annotated[
    str | None,
    strawberry.argument(description="A month YYYY-MM or a year YYYY (China Standard Time); the month before today when omitted."),
]
Within = Annotated[
    str | None,
    strawberry.argument(description="Only firms that manage or ever managed an estate at or under this place (a place code)."),
]


@strawberry.type
class CreditQueries:
    @field(
        description="Firms' credit scores (物业服务企业信用评价) of a period, by firm code: every firm you may see "
        "(a firm sees its own), the latest computation of each."
    )
    async def firm_scores(self, info: Info, period: LastMonthByDefault = None, within: Within = None) -> list[CreditScore]:
        asked = Period.parse(period) if period is not None else Period.month_of(info.context.today).previous()
        code = place_argument(within, field="within")[0] if within is not None else None
        viewer = viewer_of(info.context.principal, info.context.scope)
        found = await service.period_for(info.context.store, asked, viewer, code)
        return [CreditScore(record=record) for record in found]


@strawberry.type
class CreditMutations:
    @field(
        description="Compute every firm's credit for a period (admin, city) and store it as a new version; "
        "returns the scores stored."
    )
    async def compute_credit(self, info: Info, period: PeriodArgument) -> list[CreditScore]:
        require_computer(info)
        asked = Period.parse(period)
        stored = await credit_of(info).compute(asked)
        return [CreditScore(record=record) for record in stored]
