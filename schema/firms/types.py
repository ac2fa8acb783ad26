"""Property firms (物业服务企业) and their management of estates over time."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from graph import model
from graph.codes import CreditCode
from schema.cases.metrics import CaseMetrics, Since, Until, period
from schema.context import Info
from schema.fields import field
from schema.places.types import CODE_KEY, AsOf, Estate
from schema.relay import Node

if TYPE_CHECKING:
    from schema.credit.types import CreditScore
    from schema.questions.types import DistrictFootprint


@strawberry.type(description="A property services firm, keyed by its 统一社会信用代码.", directives=[CODE_KEY])
class PropertyFirm(Node):
    code: str = strawberry.field(description="Unified social credit code (GB 32100-2015).")
    name: str
    phone: str | None

    def node_key(self) -> str:
        return self.code

    @classmethod
    def of(cls, record: model.PropertyFirm) -> PropertyFirm:
        return cls(code=record.code, name=record.name, phone=record.phone)

    @classmethod
    async def resolve_reference(cls, info: Info, code: str) -> PropertyFirm | None:
        """The firm a federation gateway names; null when absent or not seen from the caller's scope."""
        found = await info.context.firms.by_code.load(str(CreditCode.parse(code, field="representations")))
        return None if found is None else cls.of(found)

    @field(description="The estates it manages on the day (today if omitted).")
    async def estates(self, info: Info, as_of: AsOf = None) -> list[Management]:
        records = await info.context.firms.of_firm.load((self.code, as_of or info.context.today))
        return [Management.of(record) for record in records]

    @field(description="Every estate it ever managed, with since and until.")
    async def estate_history(self, info: Info) -> list[Management]:
        records = await info.context.firms.of_firm.load((self.code, None))
        return [Management.of(record) for record in records]

    @field(
        description="Figures of the cases dispatched to it (响应率, 解决率, 满意率, overdue, median time "
        "to resolve) at places in your scope, over cases reported in the period."
    )
    async def case_metrics(self, info: Info, since: Since = None, until: Until = None) -> CaseMetrics:
        return CaseMetrics.of(await info.context.stats.firm_case_metrics.load((self.code, period(since, until))))

    @field(
        description="Its credit score (物业服务企业信用评价) for a month YYYY-MM or a year YYYY (China Standard "
        "Time), the latest computation; null when none was computed or you may not see it (a firm sees its own)."
    )
    async def credit(
        self, info: Info, period: str
    ) -> Annotated[CreditScore, strawberry.lazy("schema.credit.types")] | None:
        from graph.credit.periods import Period
        from schema.credit.types import CreditScore

        asked = Period.parse(period)
        found = await info.context.credit_scores.scores.load((self.code, asked.key))
        return None if found is None else CreditScore(record=found)

    @field(description="Its credit scores by period (months and years), the latest computation of each; empty if you may not see them.")
    async def credit_history(self, info: Info) -> list[Annotated[CreditScore, strawberry.lazy("schema.credit.types")]]:
        from schema.credit.types import CreditScore

        return [CreditScore(record=found) for found in await info.context.credit_scores.history.load(self.code)]

    @field(
        description="Where it works on the day (today if omitted), per district by code: the estates "
        "you may see that it manages, their houses, floor area, owners and open cases."
    )
    async def footprint(
        self, info: Info, as_of: AsOf = None
    ) -> list[Annotated[DistrictFootprint, strawberry.lazy("schema.questions.types")]]:
        from graph.questions import footprint
        from schema.questions.types import DistrictFootprint

        context = info.context
        rows = await footprint(context.store, self.code, context.scope, as_of=as_of or context.today)
        return [DistrictFootprint(row=row) for row in rows or []]


@strawberry.type(description="A firm managing an estate from `since` until `until`.")
class Management:
    firm_code: strawberry.Private[str]
    estate_code: strawberry.Private[str]
    since: dt.date
    until: dt.date | None = strawberry.field(description="The day it ended; null while managing.")

    @classmethod
    def of(cls, record: model.Management) -> Management:
        return cls(
            firm_code=record.firm_code,
            estate_code=record.estate_code,
            since=record.since,
            until=record.until,
        )

    @strawberry.field
    async def firm(self, info: Info) -> PropertyFirm:
        record = await info.context.firms.by_code.load(self.firm_code)
        if record is None:
            raise LookupError(f"management of {self.estate_code} names a missing firm")
        return PropertyFirm.of(record)

    @strawberry.field
    async def estate(self, info: Info) -> Estate:
        record = await info.context.places.by_code.load(self.estate_code)
        if record is None:
            raise LookupError(f"management names a missing estate {self.estate_code}")
        return Estate(record=record)
