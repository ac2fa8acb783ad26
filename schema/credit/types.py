"""The GraphQL types of firms' credit: a score per firm and period with every part shown.

Points are integer hundredths (`…Centi`, exact) with a text beside them for reading
("87.55"); rates are exact fractions as text ("3/4") with a percentage text for reading. No
float stands for a score anywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from graph.credit import records
from graph.credit.weights import LABELS
from schema.context import Info
from schema.fields import field

if TYPE_CHECKING:
    from schema.firms.types import PropertyFirm


def centi_text(value: int) -> str:
    """Hundredths of a point as text: 8755 → "87.55"."""
    return f"{value // 100}.{value % 100:02d}"


@strawberry.type(description="One raw figure of a part (a count).")
class CreditFigure:
    name: str
    value: int


@strawberry.type(description="One part of a firm's credit score: its raw figures, exact rate, weight and points.")
class CreditPart:
    name: str = strawberry.field(description="response, resolution, satisfaction, overdue, escalated, complaints, maintenance, inspection, ratings, dismissals, certificates.")
    label: str = strawberry.field(description="The part's Chinese name (响应率, 解决率, 满意率, …).")
    figures: list[CreditFigure]
    has_data: bool = strawberry.field(description="False: no data (no cases, nothing due…); its weight went to the other parts (or, by configuration, it earned its whole weight).")
    rate: str | None = strawberry.field(description="The part's quality from 0 to 1, exact: p/q in lowest terms; null without data.")
    rate_percent: str | None = strawberry.field(description="The rate for reading, a percentage to two decimals (rounded half up).")
    weight: int = strawberry.field(description="The configured weight (points out of the weights' sum).")
    points_centi: int = strawberry.field(description="The points earned, in hundredths of a point (exact).")
    points: str = strawberry.field(description="The points for reading: 9.25.")

    @classmethod
    def of(cls, part: records.CreditPart) -> CreditPart:
        percent = None
        if part.rate is not None:
            hundredths = (part.rate * 10000 * 2 + 1) // 2
            percent = centi_text(int(hundredths))
        return cls(
            name=part.name,
            label=LABELS.get(part.name, part.name),
            figures=[CreditFigure(name=name, value=value) for name, value in part.figures],
            has_data=part.has_data,
            rate=None if part.rate is None else f"{part.rate.numerator}/{part.rate.denominator}",
            rate_percent=percent,
            weight=part.weight,
            points_centi=part.points_centi,
            points=centi_text(part.points_centi),
        )


@strawberry.type(description="A property firm's credit score (物业服务企业信用评价) for a month or a year (China Standard Time).")
class CreditScore:
    record: strawberry.Private[records.CreditScore]

    @field(description="The firm's 统一社会信用代码.")
    def firm_code(self) -> str:
        return self.record.firm_code

    @field(description="The firm scored; null if you may not see it.")
    async def firm(self, info: Info) -> Annotated[PropertyFirm, strawberry.lazy("schema.firms.types")] | None:
        from schema.firms.types import PropertyFirm

        found = await info.context.firms.by_code.load(self.record.firm_code)
        return None if found is None else PropertyFirm.of(found)

    @field(description="YYYY-MM (a month) or YYYY (a year).")
    def period(self) -> str:
        return self.record.period

    @field(description="1 for the period's first computation, one more at each recomputation.")
    def version(self) -> int:
        return self.record.version

    @field(description="The score from 0 to 100 in hundredths of a point (0..10000), the sum of the parts' points.")
    def total_centi(self) -> int:
        return self.record.total_centi

    @field(description="The score for reading: 87.55.")
    def total(self) -> str:
        return centi_text(self.record.total_centi)

    @field(description="Estates it managed on at least one day of the period.")
    def estates(self) -> int:
        return self.record.estates

    @field(description="Houses of those estates.")
    def houses(self) -> int:
        return self.record.houses

    @field(description="How parts without data were scored: redistribute (their weight to the others) or full.")
    def no_data(self) -> str:
        return self.record.no_data

    @field(description="When it was computed (UTC).")
    def computed_at(self) -> dt.datetime:
        return self.record.computed_at

    @field(description="One part by its name (response, resolution, …); null for a name that is not a part.")
    def part(self, name: str) -> CreditPart | None:
        found = self.record.part(name)
        return None if found is None else CreditPart.of(found)

    @field(description="Every part, in a fixed order, with or without data.")
    def parts(self) -> list[CreditPart]:
        return [CreditPart.of(part) for part in self.record.parts]
